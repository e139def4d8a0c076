"""The backup check's verify step (issue 25, part 5, module side): ``check_backups(verify="read")`` and
``backup_check`` download and read-verify each judged backup's DATABASE parts, against a private simulator."""

import os
import shutil

import pytest

from ansible_collections.divio.cloud.plugins.module_utils import verify
from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.downloads import MANIFEST
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError

from testlib import TOKEN, play, private_simulator

pytestmark = pytest.mark.skipif(not shutil.which("pg_restore"), reason="pg_restore (PostgreSQL client) is not installed")


@pytest.fixture
def vsim():
    with private_simulator(downloads={"duration_seconds": 0.05}) as server:
        yield server


@pytest.fixture
def client(vsim):
    with DivioClient.from_options({"api_url": vsim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


def posts(sim):
    return [path for method, path, _status in sim.requests if method == "POST"]


def by_env(records):
    return dict((r["environment_slug"], r) for r in records)


def test_verify_read_verifies_each_judged_backup(client, vsim, tmp_path):
    records, summary = check_backups(client, applications=["wiki"], verify="read", verify_dir=str(tmp_path))
    assert summary["unverified"] == 0 and summary["fresh"] == 2
    for record in records:
        assert record["verified"] is True and record["verified_at"] and record["verified_age_seconds"] == record["age_seconds"]
        [part] = record["verification"]
        assert part["format"] in ("pg_custom", "sql") and part["verified"] is True
    assert posts(vsim) == ["/apps/v3/backup-downloads/"] * 2
    assert os.listdir(tmp_path) == [MANIFEST]  # files removed once verified
    # The next run repeats no verification.
    vsim.reset_stats()
    again, _summary = check_backups(client, applications=["wiki"], verify="read", verify_dir=str(tmp_path))
    assert posts(vsim) == [] and all(r["verified"] is True for r in again)


def test_a_broken_backup_is_unverified_and_the_verdict_is_kept(client, vsim, tmp_path):
    vsim.configure(downloads={"duration_seconds": 0, "fault": "truncated"})
    records, summary = check_backups(client, applications=["wiki"], environments=["live"], verify="read",
                                     verify_dir=str(tmp_path))
    [record] = records
    assert record["status"] == "unverified" and record["verified"] is False and summary["unverified"] == 1
    assert "failed verification" in record["problems"][0] and "could not read the whole dump" in record["problems"][0]
    assert summary["ok"] is False
    vsim.configure(downloads={"duration_seconds": 0, "fault": None})
    vsim.reset_stats()
    records, _summary = check_backups(client, applications=["wiki"], environments=["live"], verify="read",
                                      verify_dir=str(tmp_path))
    assert records[0]["status"] == "unverified" and posts(vsim) == []  # the verdict, by backup and part, stands


def test_a_verification_that_cannot_run_is_an_error(client, vsim, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(verify, "POSTGRES_BIN_GLOBS", (str(tmp_path / "nowhere" / "*"),))
    records, summary = check_backups(client, applications=["wiki"], environments=["live"], verify="read")
    [record] = records
    assert record["status"] == "error" and "pg_restore was not found" in record["error"] and summary["error"] == 1
    assert record["verified"] is None


def test_verify_none_keeps_the_summary_as_it_was(client, vsim):
    _records, summary = check_backups(client, applications=["wiki"])
    assert "unverified" not in summary and posts(vsim) == []
    with pytest.raises(InputError, match="verify 'restore' is not valid"):
        check_backups(client, applications=["wiki"], verify="restore")


def test_module_verify_read(run_playbook, tmp_path):
    with private_simulator(downloads={"duration_seconds": 0, "fault": "truncated"}) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        tasks = """
    - name: Check in check mode (no verification)
      divio.cloud.backup_check: {applications: [wiki], environments: [live], verify: read}
      check_mode: true
      register: checked
    - name: Check and verify
      divio.cloud.backup_check: {applications: [wiki], environments: [live], verify: read, verify_dir: "%s"}
      register: verified
    - ansible.builtin.set_fact:
        out: {checked: "{{ checked }}", verified: "{{ verified }}"}
""" % tmp_path
        run = run_playbook(play(tasks), env=env)
        assert run.rc == 0, run
        out = run.result
        assert out["checked"]["summary"]["result"] == "fresh" and "verified" not in out["checked"]["checks"][0]
        assert out["verified"]["changed"] is False
        assert out["verified"]["summary"]["result"] == "stale" and out["verified"]["summary"]["unverified"] == 1
        assert out["verified"]["checks"][0]["status"] == "unverified"
        assert posts(sim) == ["/apps/v3/backup-downloads/"] and TOKEN not in run.output
