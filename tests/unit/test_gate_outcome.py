"""The gate_deployment outcome (plugin_utils/gate_outcome.py) and the backup_gate role's type checks
(action/backup_gate_variables.py), decided in Python from what the playbook's tasks returned.
The playbook itself runs for real in tests/integration/test_deployment_gate.py, against a golden copy."""

import json

import pytest

from ansible_collections.divio.cloud.plugins.action.backup_gate_variables import problems as variable_problems
from ansible_collections.divio.cloud.plugins.action.backup_gate_variables import verify_level
from ansible_collections.divio.cloud.plugins.plugin_utils import gate_outcome

FIELDS = ["application", "attached", "backups_taken", "check_mode", "deployment", "environment", "error", "finished",
          "gate", "line", "log_tail", "refresh", "result", "started"]


def run(check_mode=False, refresh="false", application="shop", build_mode="auto"):
    return gate_outcome.Run(application, "live", build_mode, refresh, check_mode)


def gate(status="stale", error=0, environment="e" * 26, taken=()):
    return {"checks": [{"environment": environment, "status": status}],
            "summary": {"error": error, "fresh": int(status == "fresh"), "ok": status == "fresh", "total": 1},
            "problems": [] if status == "fresh" else ["shop/live: newest DATABASE backup is 31h old (limit 24h)"],
            "backups_taken": list(taken)}


VERDICT = {"failed": True, "msg": "Backup gate for shop failed (not fresh: 1 of 1 environments):\n..."}


def test_variables_are_checked_before_anything_else():
    bad = gate_outcome.Run(None, " ", "fast", "maybe", False)
    assert bad.problems() == [
        "application is required: the Divio application to deploy, by slug or id (-e application=shop)",
        'env must be an environment slug such as live, not " "',
        'build_mode must be AUTO, ADOPT or FORCE, not "fast"',
        'refresh_if_stale must be true or false, not "maybe"']
    assert bad.could_not_check("x")["line"] == "could not check: ?/  not deployed - x"
    assert run().problems() == [] and run(refresh=True).refresh() is True and run(refresh="YES").refresh() is True


@pytest.mark.parametrize("variables, message", [
    ({"backup_gate_environments": "live"},
     'backup_gate_environments must be a list of environment slugs such as [live], not the string "live"'),
    ({"backup_gate_services": "DATABASE"},
     'backup_gate_services must be a list of service types such as [DATABASE], not the string "DATABASE"'),
    ({"backup_gate_max_age": [1]}, "backup_gate_max_age must be a number of seconds or a string such as 24h, not [1]"),
    ({"backup_gate_max_age": True}, "backup_gate_max_age must be a number of seconds or a string such as 24h, not true"),
    ({"backup_gate_min_retention": {"h": 1}},
     'backup_gate_min_retention must be a number of seconds or a string such as 24h, not {"h": 1}'),
])
def test_role_variables_of_the_wrong_type_are_rejected(variables, message):
    assert variable_problems(variables) == [message]


def test_role_variables_of_the_right_type_pass():
    assert variable_problems({"backup_gate_environments": ["live"], "backup_gate_services": ["DATABASE"],
                              "backup_gate_max_age": "24h", "backup_gate_min_retention": 0}) == []
    assert variable_problems({"backup_gate_max_age": 86400.5}) == []


def test_stale_backups_refuse():
    outcome = run().judge_gate_failure("ansible.builtin.fail", VERDICT, gate())
    assert outcome == {"result": "refused", "refresh": False, "error": None, "deploy": False,
                       "line": "refused (stale): shop/live not deployed - shop/live: newest DATABASE backup is 31h old "
                               "(limit 24h)"}


def test_unreadable_backups_could_not_check():
    for unreadable in (gate(status="error", error=1), gate(status="missing", environment=None)):
        outcome = run().judge_gate_failure("ansible.builtin.fail", VERDICT, unreadable)
        assert outcome["result"] == "could_not_check" and outcome["error"] == VERDICT["msg"]
        assert outcome["line"] == "could not check: shop/live not deployed - " + "; ".join(unreadable["problems"])


def test_a_failed_refresh_refuses_with_the_backup_modules_message():
    loop = {"failed": True, "msg": "One or more items failed",
            "results": [{"failed": True, "msg": "backup abc of shop/live failed"}, {"failed": False}]}
    outcome = run(refresh=True).judge_gate_failure("divio.cloud.backup", loop, None)
    assert outcome["result"] == "refused" and outcome["error"] == "backup abc of shop/live failed"
    assert outcome["line"] == "refused (stale): shop/live not deployed - taking a fresh backup failed: backup abc of " \
                              "shop/live failed"


def test_anything_else_could_not_check():
    outcome = run().judge_gate_failure("divio.cloud.backup_check", {"failed": True, "msg": "rejected token (401)"}, None)
    assert (outcome["result"], outcome["line"]) == ("could_not_check", "could not check: shop/live not deployed - "
                                                                       "rejected token (401)")


def test_check_mode_with_refresh_goes_on_to_the_deployment():
    outcome = run(check_mode=True, refresh="true").judge_gate_failure("fail", VERDICT, gate())
    assert outcome["deploy"] is True and outcome["result"] == "would_deploy" and outcome["refresh"] is True
    deployed = run(check_mode=True, refresh="true").deployed({"changed": True, "deployment": None, "attached": None},
                                                             gate(), refresh=True)
    assert deployed["line"] == ("check mode: would take a backup of shop/live, then deploy shop/live (build mode AUTO) - "
                                "stale backups would be refreshed first: shop/live: newest DATABASE backup is 31h old "
                                "(limit 24h)")


def test_deployed_lines():
    result = {"deployment": {"uuid": "d" * 26}, "attached": {"uuid": "a" * 26}}
    outcome = run().deployed(result, gate("fresh", taken=[{"uuid": "b" * 26}]), refresh=False)
    assert outcome["result"] == "deployed"
    assert outcome["line"] == "deployed: shop/live - deployment %s succeeded (after waiting for %s), 1 stale backup(s) " \
                              "refreshed" % ("d" * 26, "a" * 26)
    failed = run().deployed({"failed": True, "msg": "deployment x failed", "log_tail": ["Deployment failed"],
                             "deployment": {"uuid": "x"}}, gate("fresh"), refresh=False)
    assert (failed["result"], failed["line"], failed["log_tail"]) == ("deployment_failed", "deployment failed: "
                                                                      "deployment x failed", ["Deployment failed"])


def test_gate_result_json_has_every_field_sorted():
    document = run().document(dict(gate_outcome.unfinished(1700000000), changed=False, failed=False), None,
                              1700000000, None)
    assert sorted(document) == FIELDS
    text = gate_outcome.render(document)
    assert list(json.loads(text)) == FIELDS and text.endswith("}\n")
    assert json.loads(text)["line"] == "could not check: the run started at 1700000000 did not finish"
    full = run().document(run().judge_gate_failure("fail", VERDICT, gate(taken=[{"uuid": "b" * 26}, None])),
                          gate(taken=[{"uuid": "b" * 26}, None]), 1, 2)
    assert full["backups_taken"] == ["b" * 26] and sorted(full["gate"]) == ["problems", "summary"]


# -- verify (issue 25, part 5) -------------------------------------------------------------------------

UNVERIFIED = "shop/live: backup %s failed verification: pg_restore 15.18 could not read the whole dump" % ("b" * 26)


def verified_gate(status="unverified", verified=False, error=0, problems=(UNVERIFIED,)):
    return {"checks": [{"environment": "e" * 26, "status": status, "verified": verified}],
            "summary": {"error": error, "fresh": int(status == "fresh"), "unverified": int(status == "unverified"),
                        "ok": status == "fresh", "total": 1},
            "problems": list(problems), "backups_taken": []}


def verifying(check_mode=False, refresh="false", verify="true"):
    return gate_outcome.Run("shop", "live", "auto", refresh, check_mode, verify)


def test_verify_is_checked_with_the_other_variables():
    assert gate_outcome.Run("shop", "live", "auto", "false", False, "maybe").problems() == [
        'verify must be true or false, not "maybe"']
    assert verifying(verify="YES").verify() is True and verifying(verify=False).verify() is False
    assert run().verify() is False  # not given: no verification


def test_a_backup_that_failed_verification_is_refused_as_unverified():
    outcome = verifying().judge_gate_failure("ansible.builtin.fail", VERDICT, verified_gate())
    assert outcome == {"result": "refused", "refresh": False, "error": None, "deploy": False,
                       "line": "refused (unverified): shop/live not deployed - " + UNVERIFIED}


def test_stale_and_unverified_environments_say_both():
    both = verified_gate(problems=(UNVERIFIED, "shop/test: newest DATABASE backup is 31h old (limit 24h)"))
    both["checks"].append({"environment": "f" * 26, "status": "stale", "verified": True})
    outcome = verifying().judge_gate_failure("ansible.builtin.fail", VERDICT, both)
    assert outcome["result"] == "refused" and outcome["line"].startswith("refused (unverified, stale): shop/live ")


def test_an_unverified_backup_is_not_refreshed_in_check_mode_either():
    outcome = verifying(check_mode=True, refresh="true").judge_gate_failure("fail", VERDICT, verified_gate())
    assert outcome["deploy"] is False and outcome["result"] == "refused"
    assert outcome["line"].startswith("refused (unverified): ")


def test_a_verification_that_could_not_run_could_not_check():
    problem = "shop/live: error: backup %s could not be verified: pg_restore was not found" % ("b" * 26)
    outcome = verifying().judge_gate_failure("ansible.builtin.fail", VERDICT,
                                             verified_gate("error", None, error=1, problems=(problem,)))
    assert outcome["result"] == "could_not_check" and outcome["deploy"] is False
    assert outcome["line"] == "could not check: shop/live not deployed - " + problem


def test_deployed_lines_say_what_was_verified():
    result = {"deployment": {"uuid": "d" * 26}, "attached": None}
    line = verifying().deployed(result, verified_gate("fresh", True, problems=()), refresh=False)["line"]
    assert line == "deployed: shop/live - deployment %s succeeded, backups fresh, database dumps read-verified" % ("d" * 26)
    # STORAGE only: nothing to read-verify, and the line must not claim otherwise.
    line = verifying().deployed(result, verified_gate("fresh", None, problems=()), refresh=False)["line"]
    assert line.endswith(", backups fresh, nothing verified (no DATABASE part)")
    line = verifying(check_mode=True).deployed({"changed": True, "deployment": None, "attached": None},
                                               verified_gate("fresh", None, problems=()), refresh=False)["line"]
    assert line == ("check mode: would deploy shop/live (build mode AUTO) - backups fresh, not verified (check mode "
                    "creates no download links)")
    assert run().deployed(result, verified_gate("fresh", None, problems=()), refresh=False)["line"].endswith(
        "succeeded, backups fresh")


@pytest.mark.parametrize("value, level", [(True, "read"), ("yes", "read"), ("1", "read"), (False, "none"),
                                          ("false", "none"), (None, None), ("maybe", None)])
def test_role_verify_becomes_a_backup_check_level(value, level):
    found = variable_problems({"backup_gate_verify": value})
    if level is None:
        assert found == ["backup_gate_verify must be true or false, not %s" % json.dumps(value)]
    else:
        assert found == [] and verify_level({"backup_gate_verify": value}) == level
    assert verify_level({}) == "none"
