"""playbooks/refresh_environment.yml run for real by ansible-playbook against a private simulator: each outcome,
its exit code, its last line and refresh_result.json; the token in none of it."""

import json
from pathlib import Path

import pytest

from testlib import TOKEN, private_simulator

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "refresh_environment.yml"
FAST = dict(restores={"duration_seconds": 0.05}, backup_duration_seconds=0.05, downloads={"duration_seconds": 0.05})
# The playbook's module tasks poll at the module's default interval; the simulator's jobs end within it.


@pytest.fixture
def refresh(run_playbook, tmp_path):
    def run(extra_vars, *args, configure=None):
        with private_simulator(**FAST) as sim:
            if configure:
                sim.configure(**configure)
            env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
            result = run_playbook(None, playbook_path=PLAYBOOK, extra_vars=extra_vars, args=list(args), env=env)
            posts = [path for method, path, _status in sim.requests if method == "POST"]
        report = json.loads((tmp_path / "reports" / "refresh_result.json").read_text())
        assert TOKEN not in result.output and TOKEN not in json.dumps(report)
        last = [line for line in result.output.splitlines() if '"msg": ' in line][-1]
        assert report["line"] in last
        return result, report, posts

    return run


REFRESH = {"application": "blog", "from": "live", "to": "test", "confirm": "blog/test"}


def test_refreshed(refresh):
    run, report, posts = refresh(REFRESH)
    assert run.rc == 0, run
    assert report["result"] == "refreshed" and report["line"].startswith("refreshed: blog/test from blog/live - copied backup ")
    assert "undo with safety backup %s" % report["safety_backup"]["uuid"] in report["line"]
    assert report["restore"]["success"] == "SUCCESS" and report["source_backup"]["uuid"] and report["parts"][0]["sha256"]
    assert posts[-1] == "/apps/v3/backup-restores/" and report["finished"] >= report["started"]


def test_would_refresh_in_check_mode(refresh):
    run, report, posts = refresh(dict(REFRESH, services="DATABASE,STORAGE"), "--check")
    assert run.rc == 0, run
    assert report["result"] == "would_refresh" and report["check_mode"] is True and posts == []
    assert report["services"] == ["DATABASE", "STORAGE"] and "would copy backup " in report["line"]


@pytest.mark.parametrize("extra_vars, words", [
    (dict(REFRESH, confirm="blog/live"), "confirm 'blog/live' does not name the environment to copy into"),
    (dict(REFRESH, to="live", confirm="blog/live"), "is the source environment"),
    ({"application": "blog", "from": "test", "to": "live", "confirm": "blog/live"}, "blog/live is a live environment"),
    ({"application": "blog", "from": "live"}, "to is required, as a slug (-e to=test), not null; confirm is required"),
])
def test_refused_before_any_post(refresh, extra_vars, words):
    run, report, posts = refresh(extra_vars)
    assert run.rc == 2, run
    assert report["result"] == "refused" and words in report["line"] and posts == []


def test_a_corrupt_source_is_refused(refresh):
    run, report, posts = refresh(REFRESH, configure={"downloads": {"duration_seconds": 0.05, "fault": "truncated"}})
    assert run.rc == 2 and report["result"] == "refused" and "Nothing was uploaded, backed up or restored" in report["line"]
    assert posts == ["/apps/v3/backup-downloads/"]


def test_failed(refresh):
    run, report, posts = refresh(REFRESH, configure={"restores": {"duration_seconds": 0, "outcome": "FAILURE"}})
    assert run.rc == 2 and report["result"] == "failed" and "ended FAILURE" in report["line"]
    assert "Done before it: safety backup " in report["line"] and report["safety_backup"] is None
