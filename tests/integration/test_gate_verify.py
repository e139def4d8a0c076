"""The gate with verification (issue 25, part 5): playbooks/gate_deployment.yml with ``verify`` and the backup_gate
role with ``backup_gate_verify``, run for real by ansible-playbook against a private simulator whose download
origin serves good or broken dumps. What is checked: the outcome in gate_result.json and the last line, and the
requests made - a deployment POST only when the dump read back, a backup-downloads POST only with verification."""

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.manifest import MANIFEST

from testlib import TOKEN, gate_play, private_simulator

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "gate_deployment.yml"
FAST = {"deploy_poll_interval": 0.1, "backup_gate_backup_poll_interval": 0.1}
DEPLOYMENTS = "/apps/v3/deployments/"
DOWNLOADS = "/apps/v3/backup-downloads/"
BACKUPS = "/apps/v3/backups/"

needs_pg_restore = pytest.mark.skipif(not shutil.which("pg_restore"),
                                      reason="pg_restore (PostgreSQL client) is not installed")


@pytest.fixture
def vsim():
    with private_simulator(backup_duration_seconds=0.3, deployments={"duration_seconds": 0.3},
                           downloads={"duration_seconds": 0.05}) as server:
        yield server


@pytest.fixture
def gate(run_playbook, vsim, tmp_path):
    """Run gate_deployment.yml: ``gate(args, **extra_vars)`` -> (run, gate_result.json, POSTed paths)."""

    def run(args=(), **extra_vars):
        vsim.reset_stats()
        result = run_playbook(None, playbook_path=PLAYBOOK, extra_vars=dict(FAST, **extra_vars), args=list(args),
                              env={"DIVIO_API_URL": vsim.url, "DIVIO_API_TOKEN": TOKEN})
        report = tmp_path / "reports" / "gate_result.json"
        assert report.exists(), result.output
        assert TOKEN not in result.output and TOKEN not in report.read_text()
        posted = [path for method, path, _status in vsim.requests if method == "POST"]
        return result, json.loads(report.read_text()), posted

    return run


def last_line(run):
    messages = re.findall(r'"msg": "((?:[^"\\]|\\.)*)"', run.output)
    assert messages, run
    return json.loads('"%s"' % messages[-1])


def faulty(vsim, fault):
    vsim.configure(downloads={"duration_seconds": 0.05, "fault": fault})


@needs_pg_restore
def test_a_good_dump_is_verified_then_deployed(gate):
    run, result, posted = gate(application="wiki", verify=True)
    assert run.rc == 0, run
    assert result["result"] == "deployed" and last_line(run) == result["line"]
    assert result["line"].endswith(", backups fresh, database dumps read-verified"), result["line"]
    assert result["gate"]["summary"]["ok"] is True
    assert posted == [DOWNLOADS, DEPLOYMENTS]  # verified before the deployment


@needs_pg_restore
def test_verify_dir_keeps_the_verdict_between_gate_runs(gate, tmp_path):
    """With verify_dir (the role's backup_gate_verify_dir), the second gate run before a deployment downloads
    nothing: the verdict kept there stands."""
    kept = tmp_path / "verdicts"
    kept.mkdir()
    first, result, posted = gate(application="wiki", verify=True, verify_dir=str(kept))
    assert first.rc == 0 and result["result"] == "deployed" and posted == [DOWNLOADS, DEPLOYMENTS], first
    second, result, posted = gate(application="wiki", verify=True, verify_dir=str(kept))
    assert second.rc == 0 and result["result"] == "deployed", second
    assert result["line"].endswith(", database dumps read-verified") and posted == [DEPLOYMENTS]
    assert os.listdir(kept) == [MANIFEST]


@needs_pg_restore
def test_a_corrupt_dump_is_refused_as_unverified(gate, vsim):
    faulty(vsim, "truncated")  # cut at 70 % at the source, with a matching size: only reading it finds it
    # verify as a string, as -e gives it; at -vvvv, where the module's arguments and results are shown (the
    # fixture checks that the token is in neither the output nor gate_result.json).
    run, result, posted = gate(["-vvvv"], application="wiki", verify="true")
    assert run.rc == 2, run
    assert (result["result"], result["deployment"], result["error"]) == ("refused", None, None)
    assert re.match(r"^refused \(unverified\): wiki/live not deployed - wiki/live: backup [a-z2-7]{26} failed "
                    r"verification: .*could not read the whole dump", result["line"]), result["line"]
    assert "(stale)" not in result["line"] and last_line(run) == result["line"]
    assert result["gate"]["summary"]["unverified"] == 1
    assert posted == [DOWNLOADS]  # no deployment


@needs_pg_restore
def test_an_unverified_backup_is_not_refreshed(gate, vsim):
    faulty(vsim, "truncated")
    run, result, posted = gate(application="wiki", verify=True, refresh_if_stale=True)
    assert run.rc == 2 and result["result"] == "refused", run
    assert result["line"].startswith("refused (unverified): wiki/live not deployed - ")
    assert result["backups_taken"] == [] and posted == [DOWNLOADS]  # no new backup hides the broken one


@needs_pg_restore
def test_a_stale_backup_is_refreshed_and_the_new_one_verified(gate):
    run, result, posted = gate(application="blog", verify=True, refresh_if_stale=True)  # blog/live: 4 days old
    assert run.rc == 0, run
    assert result["result"] == "deployed" and len(result["backups_taken"]) == 1
    assert result["line"].endswith("1 stale backup(s) refreshed, database dumps read-verified"), result["line"]
    # The stale backup is read first (a broken one would be refused), then the new one, then the deployment.
    assert posted == [DOWNLOADS, BACKUPS, DOWNLOADS, DEPLOYMENTS]


@pytest.mark.parametrize("fault, said", [
    ("part-errors", "Could not copy the backup to the download bucket"),  # the platform could not make the file
    ("newer-postgres", "pg_restore"),  # PostgreSQL 16's archive format: pg_restore 15 cannot read it
])
@needs_pg_restore
def test_a_verification_that_cannot_run_could_not_check(gate, vsim, fault, said):
    faulty(vsim, fault)
    run, result, posted = gate(application="wiki", verify=True)
    assert run.rc == 2, run
    assert result["result"] == "could_not_check" and result["deployment"] is None
    assert result["line"].startswith("could not check: wiki/live not deployed - wiki/live: error: backup ")
    assert "could not be verified" in result["line"] and said in result["line"], result["line"]
    assert last_line(run) == result["line"]
    assert posted == [DOWNLOADS]


def test_without_verify_no_download_link_is_made(gate, vsim):
    faulty(vsim, "truncated")  # would fail verification, were it read
    run, result, posted = gate(application="wiki")
    assert run.rc == 0 and result["result"] == "deployed", run
    assert result["line"].endswith("succeeded, backups fresh") and "unverified" not in result["gate"]["summary"]
    assert posted == [DEPLOYMENTS]


def test_check_mode_verifies_nothing_and_says_so(gate, vsim):
    faulty(vsim, "truncated")
    run, result, posted = gate(["--check"], application="wiki", verify=True)
    assert run.rc == 0 and result["result"] == "would_deploy", run
    assert result["line"].endswith(" - backups fresh, not verified (check mode creates no download links)")
    assert posted == []


def test_a_bad_verify_value_could_not_check_before_any_request(gate, vsim):
    run, result, _posted = gate(application="wiki", verify="maybe")
    assert run.rc == 2 and result["result"] == "could_not_check", run
    assert result["line"] == 'could not check: wiki/live not deployed - verify must be true or false, not "maybe"'
    assert vsim.stats()["requests"] == 0


# rolespec_validate off, so that the role's own check of backup_gate_verify is the one that answers.
ROLE = gate_play("            backup_gate_application: wiki\n"
                 "            backup_gate_verify: \"{{ verify }}\"", rolespec_validate=False)


@needs_pg_restore
def test_the_role_alone(run_playbook, vsim):
    env = {"DIVIO_API_URL": vsim.url, "DIVIO_API_TOKEN": TOKEN}
    faulty(vsim, "truncated")
    run = run_playbook(ROLE, extra_vars={"verify": "yes"}, env=env)
    assert run.rc == 0 and TOKEN not in run.output, run
    msg, gate = run.result["msg"], run.result["result"]
    assert msg.startswith("Backup gate for wiki failed (not fresh: 1 of 1 environments):\nwiki/live: backup ")
    assert "failed verification" in msg
    [check] = gate["checks"]
    assert check["status"] == "unverified" and check["verified"] is False and gate["summary"]["unverified"] == 1
    vsim.reset_stats()
    run = run_playbook(ROLE, extra_vars={"verify": "maybe"}, env=env)
    assert run.rc == 0, run
    assert run.result["msg"] == 'backup_gate_verify must be true or false, not "maybe"'
    assert vsim.stats()["requests"] == 0
