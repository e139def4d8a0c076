"""The backup check's verify step (issue 25, part 5, module side): ``check_backups(verify="read")`` and
``backup_check`` download and read-verify each judged backup's DATABASE parts, against a private simulator."""

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.divio.cloud.plugins.module_utils import scratch
from ansible_collections.divio.cloud.plugins.module_utils.checks import FleetCheck, check_backups, verify_records
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError
from ansible_collections.divio.cloud.plugins.module_utils.manifest import MANIFEST
from ansible_collections.divio.cloud.plugins.module_utils.resources import fleet

from divio_simulator import SIZES, generate_dataset, run_simulator
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


def posted_downloads(sim):
    """Every download the simulator made (request bodies are not logged): which backups were asked for."""
    return list(sim.download_jobs.downloads.values())


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
    # The next run repeats no verification: the manifest's verdicts stand, at no request beyond the check's own.
    vsim.reset_stats()
    check_backups(client, applications=["wiki"])
    unverified_requests = vsim.stats()["requests"]
    vsim.reset_stats()
    again, _summary = check_backups(client, applications=["wiki"], verify="read", verify_dir=str(tmp_path))
    assert posts(vsim) == [] and all(r["verified"] is True for r in again)
    assert vsim.stats()["requests"] == unverified_requests
    assert [r["verification"] for r in again] == [r["verification"] for r in records]


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
    again, _summary = check_backups(client, applications=["wiki"], environments=["live"], verify="read",
                                    verify_dir=str(tmp_path))
    assert again[0]["status"] == "unverified" and posts(vsim) == []  # the verdict, by backup and part, stands
    # ... and says what it said: the same part (DATABASE:DEFAULT, not DATABASE:None), with when it was made.
    [problem], [kept] = record["problems"], again[0]["problems"]
    assert ": DATABASE:DEFAULT: pg_restore" in problem and kept.startswith(problem + " (verified ")


def test_a_verification_that_cannot_run_is_an_error(client, vsim, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(scratch, "POSTGRES_BIN_GLOBS", (str(tmp_path / "nowhere" / "*"),))
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


# -- the check_backups playbook (the backup_report action) with verify=read -----------------------------------

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "check_backups.yml"


def reports(directory):
    report = json.loads((directory / "backups.json").read_text())
    junit = ET.parse(str(directory / "backups.xml")).getroot()
    markdown = (directory / "backups.md").read_text()
    metrics = dict((family.name, dict((sample.labels.get("status", sample.labels.get("environment")), sample.value)
                                      for sample in family.samples))
                   for family in text_string_to_metric_families((directory / "backups.prom").read_text()))
    return report, junit, markdown, metrics


def test_check_backups_playbook_reports_an_unverified_backup(run_playbook, tmp_path):
    """A dump cut short at the source: the playbook fails (exit 2, summary.result stale), and each report says
    unverified with the reason, while divio_backup_fresh stays about age."""
    out = tmp_path / "reports"
    with private_simulator(downloads={"duration_seconds": 0, "fault": "truncated"}) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        run = run_playbook(None, playbook_path=PLAYBOOK, env=env, extra_vars={
            "applications": ["wiki"], "environments": ["live"], "verify": "read", "report_dir": str(out)})
    assert run.rc == 2, run
    assert "verify read" in run.output and "0 error, 1 unverified (limit 24h, DATABASE, 0 verified) - result stale" in run.output
    assert "(0 stale, 0 missing, 0 error, 1 unverified):" in run.output and TOKEN not in run.output
    report, junit, markdown, metrics = reports(out)
    assert report["summary"]["result"] == "stale" and report["summary"]["unverified"] == 1
    assert report["rules"]["verify"] == "read" and report["records"][0]["verified"] is False
    failure = junit.find("testsuite/testcase/failure")
    assert failure.get("type") == "unverified" and "could not read the whole dump" in failure.get("message")
    assert "FAILED - pg_restore" in junit.find("testsuite/testcase/system-out").text
    [row] = [line for line in markdown.splitlines() if line.startswith("| \U0001f6ab unverified | wiki | live |")]
    assert " | failed | wiki/live: backup " in row and "failed verification" in row
    assert metrics["divio_backup_status"]["unverified"] == 1 and metrics["divio_backup_verified"] == {"live": 0}
    assert metrics["divio_backup_fresh"] == {"live": 1}


def test_check_backups_playbook_verifies_a_good_backup(run_playbook, tmp_path):
    out, keep = tmp_path / "reports", tmp_path / "verified"
    keep.mkdir()
    with private_simulator(downloads={"duration_seconds": 0}) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        variables = {"applications": "wiki", "verify": "read", "verify_dir": str(keep), "report_dir": str(out)}
        run = run_playbook(None, playbook_path=PLAYBOOK, env=env, extra_vars=variables)
        first = posts(sim)
        again = run_playbook(None, playbook_path=PLAYBOOK, env=env, extra_vars=variables)
    assert run.rc == 0 and again.rc == 0, (run, again)
    assert first == ["/apps/v3/backup-downloads/"] * 2 and posts(sim) == first  # the second run repeated none
    report, junit, markdown, metrics = reports(out)
    assert report["summary"] == dict(report["summary"], result="fresh", fresh=2, unverified=0, total=2)
    assert junit.find("testsuite/testcase/failure") is None
    assert "2 checked: 2 fresh, 0 stale, 0 missing, 0 error, 0 unverified." in markdown
    assert "| Verified | Details |" in markdown
    assert metrics["divio_backup_verified"] == {"live": 1, "test": 1}
    assert os.listdir(keep) == [MANIFEST]


def test_check_backups_playbook_without_verify_downloads_nothing(run_playbook, tmp_path):
    out = tmp_path / "reports"
    with private_simulator(downloads={"duration_seconds": 0}) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        run = run_playbook(None, playbook_path=PLAYBOOK, env=env,
                           extra_vars={"applications": "wiki", "report_dir": str(out)})
        checked = run_playbook(None, playbook_path=PLAYBOOK, env=env, args=["--check"], extra_vars={
            "applications": "wiki", "verify": "read", "report_dir": str(tmp_path / "unused")})
        assert posts(sim) == []
    assert run.rc == 0 and checked.rc == 0, (run, checked)
    assert "verify: read is not done in check mode" in checked.output
    report, _junit, markdown, metrics = reports(out)
    assert "unverified" not in report["summary"] and "verify" not in report["rules"]
    assert "unverified" not in markdown and "divio_backup_verified" not in metrics


def test_check_backups_playbook_rejects_a_bad_verify_level(run_playbook, sim_env, sim, tmp_path):
    out = tmp_path / "reports"
    run = run_playbook(None, playbook_path=PLAYBOOK, env=sim_env, extra_vars={"verify": "restore", "report_dir": str(out)})
    assert run.rc == 2, run
    report, _junit, _markdown, _metrics = reports(out)
    assert report["summary"]["result"] == "failed" and report["summary"]["unverified"] == 0
    assert "value of verify must be one of: none, read, got: restore" in report["error"]


def _dataset_whose_newest_wiki_live_backup_lost_its_database_part():
    """The demo data, with wiki/live's newest backup PARTIAL: its DATABASE part failed, its STORAGE part did not."""
    dataset = generate_dataset(seed=1, **SIZES["demo"])
    [app] = [a for a in dataset.by_uuid["applications"].values() if a["slug"] == "wiki"]
    [env] = [e for e in dataset.by_uuid["environments"].values() if e["application"] == app["uuid"] and e["slug"] == "live"]
    newest = max((b for b in dataset.by_uuid["backups"].values() if b["environment"] == env["uuid"]),
                 key=lambda b: str(b.get("started_at")))
    for part_uuid in newest["service_instance_backups"]:
        part = dataset.by_uuid["service_instance_backups"][part_uuid]
        if dataset.by_uuid["service_instances"][part["service_instance"]]["type"] == "DATABASE":
            part["errors"] = ["Database dump failed"]
            newest["success"] = "PARTIAL"
    return dataset, newest["uuid"]


def test_only_the_backups_database_rules_judged_are_read(tmp_path):
    """A backup judged only for STORAGE is not read: verify never turns a fresh or stale environment into an error
    because a backup's DATABASE part failed where no DATABASE rule looked."""
    dataset, partial = _dataset_whose_newest_wiki_live_backup_lost_its_database_part()
    with run_simulator(dataset=dataset, token=TOKEN, downloads={"duration_seconds": 0.05}) as sim:
        with DivioClient.from_options({"api_url": sim.url, "api_token": TOKEN}, environ={}) as client:
            [plain], _summary = check_backups(client, applications=["wiki"], environments=["live"],
                                              services=["DATABASE", "STORAGE"])
            sim.reset_stats()
            [record], summary = check_backups(client, applications=["wiki"], environments=["live"],
                                              services=["DATABASE", "STORAGE"], verify="read")
            database, storage = record["services"]
            assert storage["uuid"] == partial and database["uuid"] != partial  # DATABASE was judged on an older one
            assert record["status"] == plain["status"] == "stale" and record["verified"] is True, record
            assert [download["backup"] for download in posted_downloads(sim)] == [database["uuid"]]
            [record], summary = check_backups(client, applications=["wiki"], environments=["live"],
                                              services=["STORAGE"], verify="read")
            assert record["status"] == "fresh" and record["verified"] is None and record["verification"] == []
            assert len(posted_downloads(sim)) == 1 and summary["unverified"] == 0  # no new download


def test_storage_only_with_verify_says_nothing_was_verified(run_playbook, tmp_path):
    out = tmp_path / "reports"
    with private_simulator(downloads={"duration_seconds": 0}) as sim:
        run = run_playbook(None, playbook_path=PLAYBOOK, env={"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN},
                           extra_vars={"applications": "wiki", "services": ["STORAGE"], "verify": "read",
                                       "report_dir": str(out)})
        assert posts(sim) == []
    assert run.rc == 0, run
    output = " ".join(run.output.split())  # ansible-core 2.16 wraps warnings
    assert "services STORAGE has none: nothing is verified" in output
    assert "(limit 24h, STORAGE, 0 verified) - result fresh" in output
    _report, _junit, markdown, metrics = reports(out)
    assert "Verified (DATABASE dumps read back in full): 0 of 2." in markdown and "divio_backup_verified" not in metrics


def test_a_verify_dir_that_cannot_be_written_fails_the_check_naming_it(client, vsim, tmp_path):
    (tmp_path / MANIFEST).mkdir()  # the manifest's place is taken: it can be neither read nor replaced
    with pytest.raises(InputError, match=r"could not be verified in verify_dir '%s': Is a directory: %s/" % (
            tmp_path, tmp_path)):
        check_backups(client, applications=["wiki"], environments=["live"], verify="read", verify_dir=str(tmp_path))


def test_a_judged_backup_whose_parts_are_not_known_is_read_by_id(client, vsim):
    """The verify step's fallback, when the check holds none of a judged backup's parts: the backup is resolved by its
    id with the services that judged it (backup_download's way), and the same part is read - once more requests."""
    check = FleetCheck(services=["DATABASE:DEFAULT"], verify="read")
    [record], _summary = check.judge(client, fleet(client, applications=["wiki"], environments=["live"]))
    judged = [(part["part"], part["verified"]) for part in record["verification"]]
    assert judged and record["verified"] is True and len(posted_downloads(vsim)) == 1
    vsim.reset_stats()
    verify_records(client, [record], check.download, now=check.now, database_parts={})
    assert record["verified"] is True and [(part["part"], part["verified"]) for part in record["verification"]] == judged
    assert [download["backup"] for download in posted_downloads(vsim)] == [record["uuid"]] * 2
    assert vsim.stats()["by_path"]["/apps/v3/backups/%s/" % record["uuid"]] == 1  # looked up by its id
