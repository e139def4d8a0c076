"""The backup_gate role and the check_backups / gate_deployment playbooks, run for real by ansible-playbook
against the simulator. Expected statuses and ages come from the brute-force ground truth."""

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import ground_truth

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
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


def failed_msg(output):
    """The ``msg`` of the last ``fatal: [...]: FAILED! => {...}`` line."""
    found = re.findall(r"^fatal: \[[^\]]+\]: FAILED! => (\{.*\})$", output, re.M)
    assert found, output
    return json.loads(found[-1])["msg"]


# -- the role ---------------------------------------------------------------------------------------


def test_gate_passes_on_a_healthy_application(run_playbook, sim_env, sim):
    """The shipped example: the gate passes silently and the deploy step reads the fact it set."""
    run = run_playbook(None, playbook_path=PLAYBOOKS / "gate_deployment.yml", env=sim_env,
                       extra_vars={"application": "wiki", "backup_gate_environments": ["test", "live"]})
    assert run.rc == 0, run
    assert "Backups of wiki are fresh (live, test); deploying." in run.output
    assert "FAILED" not in run.output
    assert sim.stats()["requests"] > 0


GATE_WITH_RESCUE = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Gate
      block:
        - ansible.builtin.include_role:
            name: divio.cloud.backup_gate
          vars:
            backup_gate_application: blog
            backup_gate_environments: [test, live]
        - ansible.builtin.set_fact:
            gate_msg: passed
      rescue:
        - ansible.builtin.set_fact:
            gate_msg: "{{ ansible_failed_result.msg }}"
    - ansible.builtin.copy:
        content: "{{ {'msg': gate_msg, 'result': backup_gate_result} | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


def test_gate_fails_on_blog_with_one_line_per_problem(run_playbook, sim_env, dataset):
    live = env_uuid(dataset, "blog", "live")
    before = now()
    run = run_playbook(GATE_WITH_RESCUE, env=sim_env)
    after = now()
    assert run.rc == 0, run
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
    assert result["summary"] == {"total": 2, "fresh": 0, "stale": 1, "missing": 1, "error": 0, "ok": False}
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
    ({"backup_gate_environments": {"live": 1}}, "argument 'backup_gate_environments' is of type dict"),
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


def read_reports(directory):
    report = json.loads((directory / "backups.json").read_text())
    junit = ET.parse(str(directory / "backups.xml")).getroot()
    markdown = (directory / "backups.md").read_text()
    return report, junit, markdown


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
        assert row[4] == record["max_age"]
        assert row[6] == "; ".join(record["problems"])
    ranks = [SEVERITY.index(row[0].split()[-1]) for row in rows]
    assert ranks == sorted(ranks)


def test_check_backups_reports_match_ground_truth(run_playbook, sim_env, dataset, tmp_path):
    """The FQCN playbook on the demo data: exit code 2, reports in ./reports, every record right."""
    before = now()
    run = run_playbook(None, playbook_path="divio.cloud.check_backups", env=sim_env)
    after = now()
    assert run.rc == 2, run
    report, junit, markdown = read_reports(tmp_path / "reports")
    records = report["records"]
    expected = {(a, e): Expected(dataset, u, before, after) for a, e, u in ground_truth.environments(dataset)}
    assert sorted((r["application_slug"], r["environment_slug"]) for r in records) == sorted(expected)
    for record in records:
        assert record["max_age_seconds"] == DAY and record["error"] is None
        expected[record["application_slug"], record["environment_slug"]].check(record)
    assert [SEVERITY.index(r["status"]) for r in records] == sorted(SEVERITY.index(r["status"]) for r in records)
    summary = report["summary"]
    assert summary == dict({s: sum(r["status"] == s for r in records) for s in SEVERITY}, total=len(records), ok=False)
    assert report["rules"] == {"max_age": "24h", "services": ["DATABASE"]}
    check_junit(junit, records)
    check_markdown(markdown, records)
    assert "| \u274c missing | blog | test | \u2014 | 24h | \u2014 | blog/test: no successful DATABASE backup |" in markdown
    # A short summary, then a failure naming every problem and where the reports are.
    assert "Backups: %d checked - %d fresh, %d stale, %d missing, 0 error" % (
        summary["total"], summary["fresh"], summary["stale"], summary["missing"]) in run.output
    msg = failed_msg(run.output).splitlines()
    assert msg[1:-1] == [line for r in records for line in r["problems"]]
    assert msg[-1].startswith("Reports: %s" % (tmp_path / "reports"))


def test_check_backups_filters_and_rules(run_playbook, sim_env, dataset, tmp_path):
    """applications (a comma-separated string), environments, max_age and an absolute report_dir."""
    before = now()
    run = run_playbook(None, playbook_path=PLAYBOOKS / "check_backups.yml", env=sim_env, extra_vars={
        "applications": "blog,wiki", "environments": ["live", "stage"], "max_age": "6d",
        "report_dir": str(tmp_path / "out")})
    after = now()
    assert run.rc == 2, run
    report, junit, markdown = read_reports(tmp_path / "out")
    records = report["records"]
    assert [(r["application_slug"], r["environment_slug"], r["status"]) for r in records] == [
        ("blog", "stage", "missing"), ("wiki", "stage", "missing"), ("blog", "live", "fresh"), ("wiki", "live", "fresh")]
    assert records[0]["problems"] == ["blog/stage: no such environment"]
    for record in records[2:]:
        Expected(dataset, env_uuid(dataset, record["application_slug"], "live"), before, after, 6 * DAY).check(record)
        assert record["max_age"] == "6d"
    check_junit(junit, records)
    check_markdown(markdown, records)
    assert not (tmp_path / "reports").exists()


def test_failing_application_is_an_error_and_report_only_exits_0(run_playbook, sim_env, sim, dataset, tmp_path):
    """Every call about crm answers 500: crm is reported as error, the rest of the fleet as usual."""
    sim.configure(fail_applications=["crm"])
    try:
        before = now()
        run = run_playbook(None, playbook_path=PLAYBOOKS / "check_backups.yml", env=sim_env,
                           extra_vars={"report_only": True})
        after = now()
    finally:
        sim.configure(fail_applications=[])
    assert run.rc == 0, run
    assert any(status == 500 for _unused, _unused, status in sim.requests)
    report, junit, markdown = read_reports(tmp_path / "reports")
    records = report["records"]
    crm = [r for r in records if r["application_slug"] == "crm"]
    assert crm and all(r["status"] == "error" for r in crm)
    assert all("HTTP 500" in r["error"] and r["problems"] == ["crm: error: " + r["error"]] for r in crm)
    assert records[:len(crm)] == crm  # worst first
    others = [r for r in records if r["application_slug"] != "crm"]
    expected = {(a, e): Expected(dataset, u, before, after) for a, e, u in ground_truth.environments(dataset) if a != "crm"}
    assert sorted((r["application_slug"], r["environment_slug"]) for r in others) == sorted(expected)
    for record in others:
        expected[record["application_slug"], record["environment_slug"]].check(record)
    assert report["summary"]["error"] == len(crm) and report["summary"]["ok"] is False
    check_junit(junit, records)
    check_markdown(markdown, records)
    assert "\u26d4 error | crm |" in markdown
    assert "FAILED" not in run.output
