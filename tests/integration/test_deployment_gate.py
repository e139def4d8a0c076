"""playbooks/gate_deployment.yml run for real by ansible-playbook against a private simulator: each outcome
(deployed, refused, could not check, deployment failed, and check mode's would_deploy) in the last line of the
output and in report_dir/gate_result.json, with the API requests it made (or did not make)."""

import itertools
import json
import re
from pathlib import Path

import golden
import pytest

from testlib import TOKEN, private_simulator

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "gate_deployment.yml"
FAST = {"deploy_poll_interval": 0.1, "backup_gate_backup_poll_interval": 0.1}


@pytest.fixture
def gsim():
    with private_simulator(backup_duration_seconds=0.3, deployments={"duration_seconds": 0.6}) as server:
        yield server


@pytest.fixture
def gate(run_playbook, gsim, tmp_path, request):
    """Run the playbook: ``gate(args, environ, **extra_vars)`` -> (run, gate_result.json, POSTed paths).

    Each run's exit code, POSTs and gate_result.json (every field, in order) are also held against the golden
    copy the Jinja version of the playbook wrote for the same test (golden.py)."""
    runs = itertools.count()

    def run(args=(), environ=None, **extra_vars):
        gsim.reset_stats()
        result = run_playbook(None, playbook_path=PLAYBOOK, extra_vars=dict(FAST, **extra_vars), args=list(args),
                              env=dict({"DIVIO_API_URL": gsim.url, "DIVIO_API_TOKEN": TOKEN}, **(environ or {})))
        report = tmp_path / "reports" / "gate_result.json"
        assert report.exists(), result
        assert TOKEN not in result.output and TOKEN not in report.read_text()
        posted = [path for method, path, _status in gsim.requests if method == "POST"]
        written = json.loads(report.read_text())
        golden.check("gate_results.json", "%s-%d" % (request.node.name, next(runs)),
                     {"rc": result.rc, "posted": posted, "result": written})
        return result, written, posted

    return run


def last_line(run):
    """The outcome line: the last task's message (debug msg or failure msg)."""
    messages = re.findall(r'"msg": "((?:[^"\\]|\\.)*)"', run.output)
    assert messages, run
    return json.loads('"%s"' % messages[-1])


def test_fresh_backups_deploy(gate):
    run, result, posted = gate(application="wiki")
    assert run.rc == 0, run
    deployment = result["deployment"]
    assert (result["result"], result["application"], result["environment"], result["check_mode"]) == ("deployed", "wiki", "live", False)
    assert deployment["success"] is True and deployment["environment_slug"] == "live"
    assert result["line"] == "deployed: wiki/live - deployment %s succeeded, backups fresh" % deployment["uuid"]
    assert last_line(run) == result["line"]
    assert result["gate"]["summary"]["ok"] is True and result["error"] is None
    assert posted == ["/apps/v3/deployments/"]
    assert isinstance(result["started"], int) and result["started"] <= result["finished"]
    assert result["attached"] is None and result["refresh"] is False and result["backups_taken"] == []


def test_stale_backups_refuse_before_any_post(gate):
    run, result, posted = gate(application="blog")  # blog/live: backups stopped 4 days ago
    assert run.rc == 2, run
    assert result["result"] == "refused" and result["deployment"] is None
    assert re.match(r"^refused \(stale\): blog/live not deployed - blog/live: newest DATABASE backup is \S+ old "
                    r"\(limit 24h\)$", result["line"]), result["line"]
    assert last_line(run) == result["line"]
    assert result["gate"]["problems"] == [result["line"].split(" - ", 1)[1]]
    assert posted == []


def test_refresh_takes_a_backup_then_deploys(gate):
    run, result, posted = gate(application="blog", refresh_if_stale="true")  # a string, as -e gives it
    assert run.rc == 0, run
    assert result["result"] == "deployed" and len(result["backups_taken"]) == 1
    assert result["line"].endswith("succeeded, 1 stale backup(s) refreshed")
    assert posted == ["/apps/v3/backups/", "/apps/v3/deployments/"]  # the backup first


def test_check_mode_says_what_it_would_do(gate, gsim):
    # shop/live: a deployment is running (made to last, so that it still runs when the check reaches it).
    gsim.configure(deployments={"duration_seconds": 120})
    run, result, posted = gate(["--check"], application="shop", build_mode="force")
    assert run.rc == 0 and posted == [], run
    attached = result["attached"]["uuid"]
    assert (result["result"], result["refresh"], result["check_mode"], result["deployment"]) == ("would_deploy", False, True, None)
    assert result["line"] == ("check mode: would deploy shop/live (build mode FORCE), after the running deployment %s "
                              "ends - backups fresh" % attached)
    assert last_line(run) == result["line"]
    run, result, posted = gate(["--check"], application="blog", refresh_if_stale=True)
    assert run.rc == 0 and posted == [], run
    assert (result["result"], result["refresh"], result["deployment"]) == ("would_deploy", True, None)
    assert result["line"].startswith("check mode: would take a backup of blog/live, then deploy blog/live (build mode AUTO) - "
                                     "stale backups would be refreshed first: blog/live: newest DATABASE backup is ")
    # Stale without refresh: no run could deploy, so check mode fails too.
    run, result, posted = gate(["--check"], application="blog")
    assert run.rc == 2 and result["result"] == "refused" and result["check_mode"] is True, run
    assert posted == []


def test_could_not_check(gate, gsim):
    gsim.configure(fail_applications=["wiki"])  # every call about wiki answers 500
    try:
        run, result, posted = gate(application="wiki")
    finally:
        gsim.configure(fail_applications=[])
    assert run.rc == 2, run
    assert result["result"] == "could_not_check" and "HTTP 500" in result["error"]
    assert result["line"].startswith("could not check: wiki/live not deployed - ") and last_line(run) == result["line"]
    assert posted == []
    run, result, posted = gate(application="wiki", env="stage")
    assert run.rc == 2 and result["result"] == "could_not_check", run
    assert result["line"] == "could not check: wiki/stage not deployed - wiki/stage: no such environment"
    assert posted == []


def test_bad_token_could_not_check(gate):
    run, result, posted = gate(application="wiki", environ={"DIVIO_API_TOKEN": "wrong-token"})
    assert run.rc == 2 and result["result"] == "could_not_check", run
    assert "401" in result["error"] and posted == []


def test_missing_application_fails_before_any_api_call(gate, gsim):
    run, result, _posted = gate(build_mode="fast")
    assert run.rc == 2, run
    assert result["result"] == "could_not_check" and result["application"] is None
    assert result["line"] == ("could not check: ?/live not deployed - application is required: the Divio application to "
                              "deploy, by slug or id (-e application=shop); build_mode must be AUTO, ADOPT or FORCE, not \"fast\"")
    assert gsim.stats()["requests"] == 0


def test_failed_deployment(gate, gsim):
    """portal/live: fresh backups, every deployment fails; its log holds the token too (the fixture checks that
    neither the output at -vvvv nor gate_result.json shows it)."""
    gsim.configure(deployments={"duration_seconds": 0.6, "log_extra": ["Using API token " + TOKEN]})
    run, result, posted = gate(["-vvvv"], application="portal")
    assert run.rc == 2, run
    uuid = result["deployment"]["uuid"]
    assert result["result"] == "deployment_failed" and result["deployment"]["success"] is False
    assert result["line"].startswith("deployment failed: deployment %s of portal/live failed" % uuid)
    assert last_line(run) == result["line"]
    assert result["log_tail"][-1] == "Deployment failed" and "  SECRET_KEY='********'" in result["log_tail"]
    assert "Using API token ********" in result["log_tail"]
    variables = gsim.deployment_jobs.environment_variables(gsim.dataset.by_uuid["deployments"][uuid])
    assert variables["SECRET_KEY"] not in json.dumps(result) and variables["SECRET_KEY"] not in run.output
    assert posted == ["/apps/v3/deployments/"]


def test_min_retention_reaches_the_gate(gate):
    """crm/test's newest backup is a temporary one divio-cli's pull made minutes ago (deleted an hour later):
    it keeps a 1h max_age only when min_retention lets it count."""
    run, result, posted = gate(application="crm", env="test", max_age="1h")  # min_retention: the role's 24h
    assert run.rc == 2 and result["result"] == "refused", run
    assert posted == []
    run, result, posted = gate(application="crm", env="test", max_age="1h", min_retention=0)
    assert run.rc == 0 and result["result"] == "deployed", run
    assert posted == ["/apps/v3/deployments/"]
