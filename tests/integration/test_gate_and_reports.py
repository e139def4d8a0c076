"""The backup_gate role and the check_backups playbook, run for real by ansible-playbook against the simulator
(gate_deployment.yml: test_deployment_gate.py). Expected statuses and ages come from the brute-force ground truth."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import golden
import ground_truth
import pytest
from prometheus_client.parser import text_string_to_metric_families

from testlib import TOKEN, gate_play, private_simulator

REJECTED = "rejected-Secr3t-2b8d4f"

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks"
DAY = 86400
SEVERITY = ["error", "missing", "stale", "fresh"]


def now():
    return datetime.now(timezone.utc)


def duration(seconds):
    """Ages as the problem lines show them (31h, 4d19h, 45m), written out independently of module_utils."""
    seconds = int(seconds)
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm" % (seconds // 60)
    if seconds < 3 * DAY:
        return "%dh" % (seconds // 3600)
    days, hours = divmod(seconds // 3600, 24)
    return "%dd%dh" % (days, hours) if hours else "%dd" % days


def env_uuid(dataset, app_slug, env_slug):
    [uuid] = [u for a, e, u in ground_truth.environments(dataset) if (a, e) == (app_slug, env_slug)]
    return uuid


class Expected:
    """Ground truth for one environment and the DATABASE rule, between two instants that bracket a run."""

    def __init__(self, dataset, uuid, before, after, limit=DAY):
        self.uuid, taken = ground_truth.latest(dataset, uuid, ["DATABASE"])
        self.taken = taken
        if taken is None:
            self.statuses, self.ages = {"missing"}, (None, None)
        else:
            self.ages = (int((before - taken).total_seconds()), int((after - taken).total_seconds()) + 1)
            # A backup that crosses the limit while the playbook runs may be judged either way.
            self.statuses = {"fresh" if age <= limit else "stale" for age in self.ages}

    def check(self, record):
        assert record["status"] in self.statuses, record
        assert record["uuid"] == self.uuid, record
        if self.taken is None:
            assert record["taken_at"] is None and record["age_seconds"] is None
        else:
            assert ground_truth.ts(record["taken_at"]) == self.taken
            assert self.ages[0] <= record["age_seconds"] <= self.ages[1]


def where(record):
    """"app/env", or "app" for an application whose environments could not be read."""
    return record["application_slug"] + ("/" + record["environment_slug"] if record["environment_slug"] else "")


def failed_msg(output):
    """The ``msg`` of the last ``fatal: [...]: FAILED! => {...}`` line."""
    found = re.findall(r"^fatal: \[[^\]]+\]: FAILED! => (\{.*\})$", output, re.M)
    assert found, output
    return json.loads(found[-1])["msg"]


# -- the role ---------------------------------------------------------------------------------------


GATE_WITH_RESCUE = gate_play("""\
            backup_gate_application: blog
            backup_gate_environments: [test, live]""")


def test_gate_fails_on_blog_with_one_line_per_problem(run_playbook, sim_env, dataset):
    live = env_uuid(dataset, "blog", "live")
    before = now()
    run = run_playbook(GATE_WITH_RESCUE, env=sim_env)
    after = now()
    assert run.rc == 0, run
    golden.check("backup_gate_result.json", "blog", {"msg": run.result["msg"], "backup_gate_result": run.result["result"]})
    expected = Expected(dataset, live, before, after)
    assert expected.statuses == {"stale"}  # blog/live: backups stopped 4 days ago
    msg = run.result["msg"]
    assert msg.splitlines()[:2] == ["Backup gate for blog failed (not fresh: 2 of 2 environments):",
                                    "blog/test: no successful DATABASE backup"]
    ages = {duration(age) for age in expected.ages}
    assert msg.splitlines()[2:] in [["blog/live: newest DATABASE backup is %s old (limit 24h)" % age] for age in ages]
    # The role's own failure is printed with the same message.
    assert failed_msg(run.output) == msg
    result = run.result["result"]
    assert result["summary"] == {"total": 2, "fresh": 0, "stale": 1, "missing": 1, "error": 0, "ok": False, "result": "stale"}
    assert result["problems"] == msg.splitlines()[1:]
    test_record, live_record = result["checks"]
    assert (test_record["environment_slug"], test_record["status"]) == ("test", "missing")
    Expected(dataset, env_uuid(dataset, "blog", "test"), before, after).check(test_record)
    expected.check(live_record)


def _case(name, role_vars):
    return {
        "name": name,
        "block": [{"ansible.builtin.include_role": {"name": "divio.cloud.backup_gate"}, "vars": role_vars}],
        "rescue": [{"ansible.builtin.set_fact": {"errors": "{{ errors + [ansible_failed_result.msg] }}"}}],
    }


BAD_VARIABLES = [
    ({"backup_gate_environments": "live"},
     'backup_gate_environments must be a list of environment slugs such as [live], not the string "live"'),
    ({"backup_gate_max_age": [1]}, "backup_gate_max_age must be a number of seconds or a string such as 24h, not [1]"),
    ({"backup_gate_services": "DATABASE"}, "backup_gate_services must be a list of service types"),
    ({"backup_gate_max_age": True}, "backup_gate_max_age must be a number of seconds or a string such as 24h, not true"),
    # ansible-core 2.16 writes "of type <class 'dict'>", 2.19 "of type dict".
    ({"backup_gate_environments": {"live": 1}}, "argument 'backup_gate_environments' is of type"),
    ({"backup_gate_services": ["DATABASE", "REDIS"]}, "backup_gate_services"),
    ({"backup_gate_validate_certs": "maybe"}, "backup_gate_validate_certs"),
]


def test_gate_rejects_bad_variables_before_any_request(run_playbook, sim_env, sim):
    """argument_specs (and the type check after it) reject wrong types without calling the API."""
    cases = [_case("bad %d" % i, dict({"backup_gate_application": "blog"}, **bad))
             for i, (bad, _unused) in enumerate(BAD_VARIABLES)]
    cases.append(_case("no application", {}))
    play = [{"hosts": "localhost", "gather_facts": False, "vars": {"errors": []}, "tasks": cases + [
        {"ansible.builtin.copy": {"content": "{{ errors | to_json }}", "dest": "{{ result_file }}", "mode": "0600"}}]}]
    run = run_playbook(json.dumps(play), env=sim_env)
    assert run.rc == 0, run
    errors = run.result
    assert len(errors) == len(BAD_VARIABLES) + 1, errors
    for (bad, message), error in zip(BAD_VARIABLES, errors):
        assert message in error, (bad, error)
    assert "missing required arguments: backup_gate_application" in errors[-1]
    assert "Validation of arguments failed" in errors[4] and "Validation of arguments failed" in errors[-1]
    assert sim.stats()["requests"] == 0


# -- the check_backups playbook ---------------------------------------------------------------------


REPORTS = ["backups.json", "backups.md", "backups.prom", "backups.xml"]


def read_reports(directory):
    """The four reports, and nothing else in the folder (no temporary files left behind)."""
    assert sorted(p.name for p in directory.iterdir()) == REPORTS
    report = json.loads((directory / "backups.json").read_text())
    junit = ET.parse(str(directory / "backups.xml")).getroot()
    markdown = (directory / "backups.md").read_text()
    metrics = parse_metrics((directory / "backups.prom").read_text())
    return report, junit, markdown, metrics


CHECK_FAMILIES = ["divio_backup_check_success", "divio_backup_check_timestamp_seconds", "divio_backup_check_errors"]
RECORD_FAMILIES = ["divio_backup_fresh", "divio_backup_age_seconds", "divio_backup_status"]


def parse_metrics(text):
    """``{family name: [(labels, value)]}`` as prometheus_client's parser reads the file; every family is a gauge
    with HELP and TYPE lines, no series is there twice, and no sample carries a timestamp (the textfile
    collector refuses them)."""
    assert text.endswith("\n") and "\n\n" not in text
    families = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge" and family.documentation, family
        assert family.name not in families, family.name
        samples = [(sample.labels, sample.value) for sample in family.samples]
        assert all(sample.timestamp is None for sample in family.samples)
        assert len({tuple(sorted(labels.items())) for labels, _unused in samples}) == len(samples), family.name
        families[family.name] = samples
    for name in families:
        assert "# HELP %s " % name in text and "# TYPE %s gauge" % name in text
    return families


def check_metrics(metrics, report, before, after):
    """The metrics say what backups.json says: one series per (application, environment) and family."""
    assert [name for name in metrics if name in CHECK_FAMILIES] == CHECK_FAMILIES
    assert metrics["divio_backup_check_success"] == [({}, 1.0 if report["records"] else 0.0)]
    [(labels, timestamp)] = metrics["divio_backup_check_timestamp_seconds"]
    assert int(before.timestamp()) <= timestamp <= after.timestamp()
    assert metrics["divio_backup_check_errors"] == [({}, report["summary"]["error"])]
    if not report["records"]:
        assert sorted(metrics) == sorted(CHECK_FAMILIES)
        return
    assert sorted(metrics) == sorted(CHECK_FAMILIES + RECORD_FAMILIES)
    records = {}
    for record in report["records"]:  # the first (worst) record of an (application, environment) counts
        records.setdefault((record["application_slug"], record["environment_slug"] or ""), record)
    assert {(labels["application"], labels["environment"]): value for labels, value in metrics["divio_backup_fresh"]} \
        == {key: float(r["status"] == "fresh") for key, r in records.items()}
    assert {(labels["application"], labels["environment"]): value for labels, value in metrics["divio_backup_age_seconds"]} \
        == {key: r["age_seconds"] for key, r in records.items() if r["age_seconds"] is not None}
    assert {(labels["application"], labels["environment"], labels["status"]): value
            for labels, value in metrics["divio_backup_status"]} \
        == {key + (status,): float(r["status"] == status) for key, r in records.items() for status in SEVERITY}


def markdown_rows(markdown):
    lines = markdown.splitlines()
    header = lines.index("| Status | Application | Environment | Age | Limit | Latest backup (taken_at) | Details |")
    assert lines[header + 1] == "|---|---|---|---|---|---|---|"
    rows = []
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def check_junit(junit, records):
    suites = [junit] if junit.tag == "testsuite" else junit.findall("testsuite")
    assert [s.get("name") for s in suites] == ["divio backups"]
    suite = suites[0]
    counts = {status: sum(r["status"] == status for r in records) for status in SEVERITY}
    assert int(suite.get("tests")) == len(records)
    assert int(suite.get("failures")) == counts["stale"] + counts["missing"]
    assert int(suite.get("errors")) == counts["error"]
    cases = suite.findall("testcase")
    assert len(cases) == len(records)
    for case, record in zip(cases, records):
        name = record["application_slug"] + ("/" + record["environment_slug"] if record["environment_slug"] else "")
        assert case.get("name") == name
        failure, error = case.find("failure"), case.find("error")
        if record["status"] == "fresh":
            assert failure is None and error is None, name
        elif record["status"] == "error":
            assert failure is None and error.get("message") == "; ".join(record["problems"]), name
        else:
            assert error is None and failure.get("type") == record["status"], name
            assert failure.text.splitlines() == record["problems"]


def check_markdown(markdown, records):
    assert markdown.startswith("# Divio backups: ")
    rows = markdown_rows(markdown)
    assert len(rows) == len(records)
    for row, record in zip(rows, records):
        assert row[0].split()[-1] == record["status"]
        assert row[1:3] == [record["application_slug"], record["environment_slug"] or "\u2014"]
        assert row[3] == (duration(record["age_seconds"]) if record["age_seconds"] is not None else "\u2014")
        assert row[4] == record["max_age"]
        assert row[6] == "; ".join(record["problems"])
    ranks = [SEVERITY.index(row[0].split()[-1]) for row in rows]
    assert ranks == sorted(ranks)


def test_check_backups_reports_match_ground_truth(run_playbook, sim_env, sim, dataset, tmp_path):
    """The FQCN playbook on the demo data: result stale and exit code 2, reports in ./reports, every record right,
    a start line and an end line with what the run cost."""
    before = now()
    run = run_playbook(None, playbook_path="divio.cloud.check_backups", env=sim_env)
    after = now()
    assert run.rc == 2, run
    report, junit, markdown, metrics = read_reports(tmp_path / "reports")
    records = report["records"]
    expected = {(a, e): Expected(dataset, u, before, after) for a, e, u in ground_truth.environments(dataset)}
    assert sorted((r["application_slug"], r["environment_slug"]) for r in records) == sorted(expected)
    for record in records:
        assert record["max_age_seconds"] == DAY and record["error"] is None
        expected[record["application_slug"], record["environment_slug"]].check(record)
        assert record["age"] == (duration(record["age_seconds"]) if record["age_seconds"] is not None else None)
    assert [SEVERITY.index(r["status"]) for r in records] == sorted(SEVERITY.index(r["status"]) for r in records)
    summary = report["summary"]
    assert summary == dict({s: sum(r["status"] == s for r in records) for s in SEVERITY}, total=len(records), ok=False,
                           result="stale")
    assert report["error"] is None
    assert report["rules"] == {"max_age": "24h", "max_age_seconds": DAY, "services": ["DATABASE"], "min_retention_seconds": DAY}
    assert report["stats"]["requests"] == sim.stats()["requests"] and report["stats"]["retries"] == 0
    assert before.replace(microsecond=0) <= ground_truth.ts(report["generated_at"]) <= after
    check_junit(junit, records)
    check_markdown(markdown, records)
    check_metrics(metrics, report, before, after)
    assert "| \u274c missing | blog | test | \u2014 | 24h | \u2014 | blog/test: no successful DATABASE backup |" in markdown
    # A start line naming what will be checked; at the end the counts, what the run cost and where the reports are.
    assert "Checking the backups of every application the token can see, environments all, services DATABASE, " \
           "max_age 24h; reports to %s" % (tmp_path / "reports") in run.output
    assert "Backups: %d checked - %d fresh, %d stale, %d missing, 0 error (limit 24h, DATABASE) - result stale" % (
        summary["total"], summary["fresh"], summary["stale"], summary["missing"]) in run.output
    assert "API: %d requests, 0 retries, " % report["stats"]["requests"] in run.output
    # The failure names every problem and where the reports are.
    msg = failed_msg(run.output).splitlines()
    assert msg[1:-1] == [line for r in records for line in r["problems"]]
    assert msg[-1].startswith("Reports: %s (summary.result stale)" % (tmp_path / "reports"))


def test_check_backups_filters_and_rules(run_playbook, sim_env, dataset, tmp_path):
    """applications (a comma-separated string), environments, max_age and an absolute report_dir."""
    before = now()
    run = run_playbook(None, playbook_path=PLAYBOOKS / "check_backups.yml", env=sim_env, extra_vars={
        "applications": "blog,wiki", "environments": ["live", "stage"], "max_age": "6d",
        "report_dir": str(tmp_path / "out")})
    after = now()
    assert run.rc == 2, run
    report, junit, markdown, metrics = read_reports(tmp_path / "out")
    records = report["records"]
    assert [(r["application_slug"], r["environment_slug"], r["status"]) for r in records] == [
        ("blog", "stage", "missing"), ("wiki", "stage", "missing"), ("blog", "live", "fresh"), ("wiki", "live", "fresh")]
    assert records[0]["problems"] == ["blog/stage: no such environment"]
    for record in records[2:]:
        Expected(dataset, env_uuid(dataset, record["application_slug"], "live"), before, after, 6 * DAY).check(record)
        assert record["max_age"] == "6d"
    assert report["summary"]["result"] == "stale"
    assert report["rules"] == {"max_age": "6d", "max_age_seconds": 6 * DAY, "services": ["DATABASE"], "min_retention_seconds": DAY}
    check_junit(junit, records)
    check_markdown(markdown, records)
    check_metrics(metrics, report, before, after)
    assert "Checking the backups of applications blog,wiki, environments live,stage, services DATABASE, max_age 6d" \
        in run.output
    assert not (tmp_path / "reports").exists()


def test_failing_application_is_failed_even_with_report_only(run_playbook, sim_env, sim, dataset, tmp_path):
    """Every call about crm answers 500: crm is reported as error, the rest of the fleet as usual, and the result is
    failed - which report_only does not turn into exit code 0."""
    sim.configure(fail_applications=["crm"])
    try:
        before = now()
        run = run_playbook(None, playbook_path=PLAYBOOKS / "check_backups.yml", env=sim_env,
                           extra_vars={"report_only": True})
        after = now()
    finally:
        sim.configure(fail_applications=[])
    assert run.rc == 2, run
    assert any(status == 500 for _unused, _unused, status in sim.requests)
    report, junit, markdown, metrics = read_reports(tmp_path / "reports")
    records = report["records"]
    crm = [r for r in records if r["application_slug"] == "crm"]
    assert crm and all(r["status"] == "error" for r in crm)
    assert all("HTTP 500" in r["error"] and r["problems"] == ["%s: error: %s" % (where(r), r["error"])] for r in crm)
    assert records[:len(crm)] == crm  # worst first
    others = [r for r in records if r["application_slug"] != "crm"]
    expected = {(a, e): Expected(dataset, u, before, after) for a, e, u in ground_truth.environments(dataset) if a != "crm"}
    assert sorted((r["application_slug"], r["environment_slug"]) for r in others) == sorted(expected)
    for record in others:
        expected[record["application_slug"], record["environment_slug"]].check(record)
    assert report["summary"]["error"] == len(crm) and report["summary"]["ok"] is False
    assert report["summary"]["result"] == "failed" and report["error"] is None
    check_junit(junit, records)
    check_markdown(markdown, records)
    check_metrics(metrics, report, before, after)
    assert metrics["divio_backup_check_success"] == [({}, 1.0)]
    assert "\u26d4 error | crm |" in markdown
    msg = failed_msg(run.output)
    assert all(line in msg for r in crm for line in r["problems"])
    assert "(summary.result failed)" in msg and "report_only" not in msg


def test_label_values_are_escaped_and_series_unique(run_playbook, sim_env, tmp_path):
    """An application reference with a quote, a backslash and a line break (reported as not found) comes back
    from the metrics unchanged; an application asked for twice is one series."""
    weird = 'we"ird\\app\nname'
    before = now()
    run = run_playbook(None, playbook_path=PLAYBOOKS / "check_backups.yml", env=sim_env,
                       extra_vars={"applications": ["wiki", weird, "wiki"], "environments": ["live"]})
    after = now()
    assert run.rc == 2, run
    report, junit, markdown, metrics = read_reports(tmp_path / "reports")
    # Asked for twice, checked once: one record, one series.
    assert [(r["application_slug"], r["status"]) for r in report["records"]] == [(weird, "error"), ("wiki", "fresh")]
    check_metrics(metrics, report, before, after)
    assert ({"application": weird, "environment": ""}, 0.0) in metrics["divio_backup_fresh"]
    assert len(metrics["divio_backup_fresh"]) == 2


# -- runs that cannot check -------------------------------------------------------------------------


def closed_port():
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def earlier_reports(directory):
    """What an earlier, all-fresh run left behind."""
    directory.mkdir()
    (directory / "backups.json").write_text(json.dumps({"summary": {"result": "fresh", "ok": True}, "records": []}))
    (directory / "backups.prom").write_text("divio_backup_check_success 1\n")
    (directory / "backups.md").write_text("# Divio backups: all fresh\n")
    (directory / "backups.xml").write_text("<testsuites/>")


# (extra vars, environment: None drops the variable, expected part of the error, API requests made)
CANNOT_CHECK = {
    "bad variable": ({"max_age": "bogus"}, {}, "max_age 'bogus' is not valid", False),
    "no token": ({}, {"DIVIO_API_TOKEN": None}, "DIVIO_API_TOKEN", False),
    "rejected token": ({}, {"DIVIO_API_TOKEN": REJECTED}, "(401)", True),
    "API down": ({}, {"DIVIO_API_URL": "http://127.0.0.1:%d" % closed_port(), "DIVIO_RETRIES": "2"},
                 "could not connect to 127.0.0.1", False),
    "nothing matched": ({"organisation": "9b2f6a52-7d0e-4c1e-9a44-6f0c3e1d2b7a"}, {},
                        "nothing was checked: no application matched", True),
}


@pytest.mark.parametrize("case", sorted(CANNOT_CHECK))
def test_a_check_that_cannot_run_writes_failed_reports(case, run_playbook, ansible_env, sim_env, sim, tmp_path):
    """Every way a check can fail to run: exit code 2 even with report_only, result failed with the error in
    backups.json, one erroring JUnit case, a Markdown note, only check metrics with success 0 - and nothing of the
    earlier run's all-fresh reports left (nor the token)."""
    extra_vars, env_changes, error, asks_api = CANNOT_CHECK[case]
    reports = tmp_path / "reports"
    earlier_reports(reports)
    env = dict(ansible_env, **sim_env)
    env.update(env_changes)
    env = {key: value for key, value in env.items() if value is not None}
    before = now()
    proc = subprocess.run(["ansible-playbook", "-i", str(PLAYBOOKS / "inventory"), str(PLAYBOOKS / "check_backups.yml"),
                           "-e", json.dumps(dict(extra_vars, report_only=True))],
                          env=env, capture_output=True, text=True, timeout=300, cwd=str(tmp_path), check=False)
    after = now()
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    report, junit, markdown, metrics = read_reports(reports)
    assert report["summary"] == {"result": "failed", "total": 0, "fresh": 0, "stale": 0, "missing": 0, "error": 0,
                                 "ok": False}
    assert error in report["error"] and report["records"] == []
    assert before.replace(microsecond=0) <= ground_truth.ts(report["generated_at"]) <= after
    check_metrics(metrics, report, before, after)
    [case_] = junit.iter("testcase")
    assert error in case_.find("error").get("message")
    assert markdown.startswith("# Divio backups: check failed") and error in markdown
    assert "The backup check failed (reports in %s, summary.result failed): " % reports in failed_msg(output)
    assert error in failed_msg(output)
    assert (sim.stats()["requests"] > 0) == asks_api
    for text in [output] + [(reports / name).read_text() for name in REPORTS]:
        assert TOKEN not in text and REJECTED not in text


def test_a_killed_run_leaves_no_earlier_report(ansible_env, tmp_path):
    """As soon as a run starts, backups.json says failed ("did not finish") and the earlier JUnit and Markdown
    reports are gone, so a run killed mid-check leaves nothing that passes as its own; backups.prom keeps the last
    finished run's metrics (with their timestamp) until a run finishes."""
    reports = tmp_path / "reports"
    earlier_reports(reports)
    # The check takes several seconds: time to kill it mid-way. A simulator of its own, because the killed run's
    # requests are still being answered after the kill (they would count as the next test's on the shared one).
    with private_simulator(latency_ms=2000) as server:
        _kill_a_check_mid_way(ansible_env, {"DIVIO_API_URL": server.url, "DIVIO_API_TOKEN": TOKEN}, tmp_path, reports)
    assert sorted(p.name for p in reports.iterdir()) == ["backups.json", "backups.prom"]
    report = json.loads((reports / "backups.json").read_text())
    assert report["summary"]["result"] == "failed" and report["records"] == []
    assert re.fullmatch(r"the check started at \S+Z and did not finish", report["error"]), report["error"]
    assert (reports / "backups.prom").read_text() == "divio_backup_check_success 1\n"


def _kill_a_check_mid_way(ansible_env, env, tmp_path, reports):
    proc = subprocess.Popen(["ansible-playbook", "-i", str(PLAYBOOKS / "inventory"), str(PLAYBOOKS / "check_backups.yml")],
                            env=dict(ansible_env, **env), cwd=str(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "did not finish" not in (reports / "backups.json").read_text() or (reports / "backups.md").exists() \
                or (reports / "backups.xml").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# -- the simulator wrapper and the shipped inventory --------------------------------------------------


def test_wrapper_works_from_a_plain_shell(tmp_path):
    """README's `hacking/with-simulator.sh ansible-playbook playbooks/check_backups.yml` with nothing set but a
    minimal PATH (no ansible on it) and HOME: the wrapper finds the venv `make` created, the collection, a Python
    for the modules and the shipped inventory - so no warnings either."""
    venv = Path(sys.prefix)
    if not (venv / "collections" / "ansible_collections" / "divio" / "cloud").exists():
        pytest.skip("%s was not created by make (no collections/ link in it)" % venv)
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "VENV": str(venv), "SIMULATOR_ARGS": "--size tiny"}
    proc = subprocess.run([str(REPO / "hacking" / "with-simulator.sh"), "ansible-playbook",
                           str(PLAYBOOKS / "check_backups.yml")], env=env, cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    report = json.loads((tmp_path / "reports" / "backups.json").read_text())
    assert report["summary"]["result"] in ("fresh", "stale"), output
    assert proc.returncode == (0 if report["summary"]["result"] == "fresh" else 2), output
    assert "[WARNING]" not in output and "Divio API simulator running at http://127.0.0.1:" in output
    assert "DeprecationWarning" not in output  # cryptography's, on every ansible-core run: silenced in the wrapper


def test_shipped_inventory_without_interpreter_setting(ansible_env, sim_env, tmp_path):
    """playbooks/inventory/, no ANSIBLE_PYTHON_INTERPRETER and no warning switched off: the modules run under
    ansible-playbook's own Python (which has requests) and Ansible has nothing to warn about."""
    env = {key: value for key, value in ansible_env.items()
           if key not in ("ANSIBLE_PYTHON_INTERPRETER", "ANSIBLE_LOCALHOST_WARNING", "ANSIBLE_INVENTORY_UNPARSED_WARNING")}
    env.update(sim_env)
    proc = subprocess.run(["ansible-playbook", "-i", str(PLAYBOOKS / "inventory"), str(PLAYBOOKS / "check_backups.yml"),
                           "-e", "report_only=true", "-v"], env=env, cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "[WARNING]" not in output and "[DEPRECATION WARNING]" not in output, output
    assert json.loads((tmp_path / "reports" / "backups.json").read_text())["summary"]["result"] == "stale"


# -- the backup_report action on its own --------------------------------------------------------------


def test_report_dir_that_cannot_be_written_fails_before_any_request(run_playbook, tmp_path):
    """report_dir is a file: one clear line naming it, and not a single API request (counted on a simulator of
    its own, which no other test's leftover requests reach)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with private_simulator() as server:
        run = run_playbook(None, playbook_path=PLAYBOOKS / "check_backups.yml",
                           env={"DIVIO_API_URL": server.url, "DIVIO_API_TOKEN": TOKEN},
                           extra_vars={"report_dir": str(blocker)})
        requests = server.stats()["requests"]
    assert run.rc == 2, run
    assert failed_msg(run.output) == "The backup reports could not be written to %s: File exists" % blocker
    assert requests == 0


def test_backup_report_task_with_an_unknown_option_writes_failed_reports(run_playbook, sim_env, sim, tmp_path):
    """The action's own options are checked too, and the bad one is reported the way a failed check is."""
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"divio.cloud.backup_report": {"report_dir": str(tmp_path / "out"), "enviroments": ["live"]}}]}]
    run = run_playbook(json.dumps(play), env=sim_env)
    assert run.rc == 2, run
    report, junit, markdown, metrics = read_reports(tmp_path / "out")
    assert report["summary"]["result"] == "failed" and report["error"].startswith("unsupported option(s) enviroments;")
    assert "summary.result failed): unsupported option(s) enviroments" in failed_msg(run.output)
    assert metrics["divio_backup_check_success"] == [({}, 0.0)]
    assert sim.stats()["requests"] == 0
