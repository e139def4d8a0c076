"""The refresh_environment outcome (plugin_utils/refresh_outcome.py), decided in Python from the playbook's variables
and the copy task's result. The playbook itself runs for real in tests/integration/test_refresh_environment.py."""

from ansible_collections.divio.cloud.plugins.plugin_utils import refresh_outcome

GOOD = {"application": "shop", "from": "live", "to": "test", "confirm": "shop/test"}


def test_variables_are_checked_before_anything_else():
    bad = refresh_outcome.Run({"application": " ", "to": "test", "allow_live": "maybe", "services": []}, False)
    assert bad.problems() == [
        'application is required, as a slug (-e application=shop), not " "',
        "from is required, as a slug (-e from=live), not null",
        "confirm is required: the target as <application slug>/<environment slug> (-e confirm=shop/test)",
        'allow_live must be true or false, not "maybe"',
        "services must be a list such as [DATABASE, STORAGE], not []"]
    run = refresh_outcome.Run(dict(GOOD, services="DATABASE, STORAGE", allow_live="yes"), False)
    assert run.problems() == [] and run.services() == ["DATABASE", "STORAGE"] and run.allow_live() is True


def test_outcomes():
    run = refresh_outcome.Run(GOOD, False)
    copied = {"msg": "copied backup b of shop/live into shop/test (DATABASE:DEFAULT -> DATABASE:DEFAULT)",
              "safety_backup": {"uuid": "s1"}}
    assert run.decide(copied) == {"result": "refreshed", "line": "refreshed: shop/test from shop/live - " + copied["msg"] +
                                  "; undo with safety backup s1"}
    refused = run.decide({"failed": True, "error": "InputError", "msg": "confirm 'x' does not name ..."})
    assert refused["result"] == "refused" and refused["line"] == "refused: shop/test from shop/live not refreshed - confirm 'x' does not name ..."
    assert run.decide({"failed": True, "error": "VerificationFailed", "msg": "broken"})["result"] == "refused"
    for failure in ({"failed": True, "error": "RestoreFailed", "msg": "x"}, {"failed": True, "msg": "x"},
                    {"failed": True, "error": "VerificationUnavailable", "msg": "no pg_restore"}):
        assert run.decide(failure)["result"] == "failed"
    assert run.decide(None)["result"] == "failed" and run.decide({"skipped": True})["result"] == "failed"
    would = refresh_outcome.Run(GOOD, True).decide({"msg": "would copy backup b"})
    assert would == {"result": "would_refresh", "line": "would refresh: shop/test from shop/live - would copy backup b"}
    assert set(refresh_outcome.PASSED) == {"refreshed", "would_refresh"}


def test_document_has_every_field_and_keeps_a_failed_copy_out():
    run = refresh_outcome.Run(dict(GOOD, target_application="shop2"), False)
    document = run.document(run.decide({"failed": True, "msg": "x", "safety_backup": {"uuid": "s"}}),
                            {"failed": True, "msg": "x"}, 1, 2)
    assert sorted(document) == ["application", "check_mode", "error", "finished", "line", "parts", "restore", "result",
                                "safety_backup", "services", "source", "source_backup", "started", "target",
                                "target_application", "uploaded_backup"]
    assert document["target_application"] == "shop2" and document["safety_backup"] is None and document["error"] == "x"
    assert refresh_outcome.unfinished(5)["line"] == "failed: the run started at 5 did not finish"
