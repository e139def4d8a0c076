"""The four reports of a backup check (plugin_utils/backup_reports.py), held against a golden copy.

tests/unit/golden/reports/<case>/ holds what the Jinja templates of playbooks/templates/ wrote for the inputs in
tests/unit/golden/reports/inputs.json, captured at commit 7069ca3 before the templates were replaced by these
renderers (the templates rendered by ansible.builtin.template on ansible-core 2.19). JSON, Markdown and
Prometheus must be the same byte for byte; JUnit XML the same document as a parser reads it (tags, attributes in
order, text), since the serializer may escape differently.
"""

import json
import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.divio.cloud.plugins.plugin_utils import backup_reports as br

GOLDEN = Path(__file__).parent / "golden" / "reports"
INPUTS = json.loads((GOLDEN / "inputs.json").read_text())
GOLDEN_FILES = sorted((case, name) for case in INPUTS for name in br.REPORT_FILES if (GOLDEN / case / name).exists())


def parsed(text):
    def tree(element):
        return element.tag, list(element.attrib.items()), (element.text or "").strip() or None, [tree(c) for c in element]
    return tree(ET.fromstring(text.encode("utf-8")))


def test_every_case_has_every_report():
    assert len(GOLDEN_FILES) == 4 * len(INPUTS) - 3  # the unfinished marker is backups.json only
    assert {case for case, _unused in GOLDEN_FILES} == set(INPUTS)


@pytest.mark.parametrize("case,name", GOLDEN_FILES)
def test_report_is_what_the_templates_wrote(case, name):
    golden = (GOLDEN / case / name).read_text(encoding="utf-8")
    rendered = br.RENDERERS[name](INPUTS[case])
    if name == "backups.xml":
        assert rendered.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
        assert parsed(rendered) == parsed(golden)
    else:
        assert rendered == golden


def test_unfinished_report_says_when_the_run_started():
    rules = {"services": ["DATABASE"], "max_age": "24h", "min_retention": "24h"}
    report = br.unfinished_report(1795538554, rules)
    assert json.loads(br.render_json(report)) == {
        "generated_at": "2026-11-24T16:42:34Z", "error": "the check started at 2026-11-24T16:42:34Z and did not finish",
        "summary": {"result": "failed", "total": 0, "fresh": 0, "stale": 0, "missing": 0, "error": 0, "ok": False},
        "rules": rules, "stats": None, "records": []}


def test_metrics_parse_as_the_exposition_format():
    """prometheus_client's parser reads every family back: gauges, one series per (application, environment),
    label values with quote, backslash and line feed unchanged."""
    report = INPUTS["mixed"]
    families = {f.name: f for f in text_string_to_metric_families(br.render_prometheus(report))}
    assert all(f.type == "gauge" and f.documentation for f in families.values())
    fresh = {(s.labels["application"], s.labels["environment"]): s.value for s in families["divio_backup_fresh"].samples}
    weird = report["records"][0]["application_slug"]
    assert fresh[(weird, "")] == 0 and fresh[("shop", "live")] == 1
    assert len(fresh) == len({(r["application_slug"], r["environment_slug"]) for r in report["records"]})


def _verified_report():
    """The "all_fresh" case checked with verify: read - shop/live read back, blog/live failed verification (its backup
    is fresh), crm/live could not be verified (error)."""
    base = INPUTS["all_fresh"]
    fresh = base["records"][0]
    part = dict(part="pppppppppppppppppppppppppp", service_type="DATABASE", prefix="DEFAULT", format="pg_custom", size=35724)
    good = dict(fresh, verified=True, verified_at="2026-11-18T16:50:01Z", verified_age_seconds=fresh["age_seconds"],
                verification=[dict(part, verified=True, verification=dict(checks=["pg_restore read every data block"]))])
    bad = dict(fresh, application_slug="blog", status="unverified", verified=False, verified_at=None,
               problems=["blog/live: backup b failed verification: DATABASE:DEFAULT: pg_restore could not read it"],
               verification=[dict(part, verified=False, verification=dict(reason="pg_restore could not read it"))])
    unchecked = dict(part, verified=None, verification=dict(reason="pg_restore was not found", status="could_not_check"))
    error = dict(fresh, application_slug="crm", status="error", verified=None, verified_at=None, verification=[unchecked],
                 error="backup c could not be verified: timed out",
                 problems=["crm/live: error: backup c could not be verified: timed out"])
    summary = dict(base["summary"], fresh=1, unverified=1, error=1, total=3, ok=False, result="failed")
    return dict(base, summary=summary, rules=dict(base["rules"], verify="read"), records=[error, bad, good])


def test_a_verified_check_reports_the_unverified_status_everywhere():
    report = _verified_report()
    suite = ET.fromstring(br.render_junit(report).encode()).find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    [failed] = [case for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failed.get("name") == "blog/live" and failed.find("failure").get("type") == "unverified"
    assert "part pppppppppppppppppppppppppp (pg_custom, 35724 bytes): FAILED - pg_restore could not read it" in \
        failed.find("system-out").text
    [erred] = [case for case in suite.iter("testcase") if case.find("error") is not None]
    assert "NOT CHECKED - pg_restore was not found" in erred.find("system-out").text  # no verdict on the backup
    assert "FAILED" not in erred.find("system-out").text
    markdown = br.render_markdown(report)
    assert "3 checked: 1 fresh, 0 stale, 0 missing, 1 error, 1 unverified. Rule: a successful DATABASE backup at " \
           "most 24h old. Verified (DATABASE dumps read back in full): 1 of 3." in markdown
    assert "| Latest backup (taken_at) | Verified | Details |" in markdown
    rows = dict((line.split(" | ")[1], line.split(" | ")) for line in markdown.splitlines() if line.startswith("| "))
    assert rows["shop"][6] == "2026-11-18T16:50:01Z" and rows["blog"][6] == "failed" and rows["crm"][6] == "\u2014"
    assert rows["blog"][0] == "| \U0001f6ab unverified"
    families = {f.name: f for f in text_string_to_metric_families(br.render_prometheus(report))}

    def by_app(name):
        return dict((s.labels["application"], s.value) for s in families[name].samples)

    assert by_app("divio_backup_verified") == {"shop": 1, "blog": 0}  # nothing verified for crm: no sample
    # About age only: crm's backup is fresh, only its verification could not run.
    assert by_app("divio_backup_fresh") == {"shop": 1, "blog": 1, "crm": 1}
    status = dict(((s.labels["application"], s.labels["status"]), s.value) for s in families["divio_backup_status"].samples)
    assert status[("blog", "unverified")] == 1 and status[("shop", "unverified")] == 0 and status[("blog", "fresh")] == 0
    assert json.loads(br.render_json(report))["summary"]["unverified"] == 1


def test_a_check_without_verification_shows_no_unverified_status():
    """The golden cases hold the whole files; here, the point: nothing about verification unless it was asked for."""
    report = dict(_verified_report(), rules=INPUTS["all_fresh"]["rules"])
    text = br.render_markdown(report) + br.render_prometheus(report)
    assert "unverified" not in text.replace("\U0001f6ab unverified", "") and "Verified" not in text
    assert "divio_backup_verified" not in text


def test_a_verified_check_that_could_not_run_counts_unverified_too():
    failed = br.failed_report(1795538554, {"services": ["DATABASE"], "max_age": "24h", "verify": "read"}, "no token")
    assert failed["summary"]["unverified"] == 0
    assert "unverified" not in br.failed_report(1795538554, {"services": ["DATABASE"], "max_age": "24h"}, "x")["summary"]


def test_reports_are_renamed_into_place_backups_json_last(tmp_path, monkeypatch):
    tmp_path = tmp_path / "reports"
    tmp_path.mkdir()
    replaced = []
    real_replace = os.replace

    def replace(source, target):
        assert Path(source).parent == tmp_path and Path(source).name.startswith(".") and Path(source).exists()
        replaced.append(Path(target).name)
        real_replace(source, target)

    monkeypatch.setattr(br.os, "replace", replace)
    br.write_reports(str(tmp_path), INPUTS["stale"])
    assert replaced == ["backups.prom", "backups.md", "backups.xml", "backups.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(br.REPORT_FILES)  # no temporary file left
    for name in br.REPORT_FILES:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644
        assert (tmp_path / name).read_text(encoding="utf-8") == br.RENDERERS[name](INPUTS["stale"])


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    tmp_path = tmp_path / "reports"
    tmp_path.mkdir()
    (tmp_path / "backups.json").write_text("old")

    def broken(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(br.os, "replace", broken)
    with pytest.raises(OSError):
        br.write_report(str(tmp_path), "backups.json", "new")
    assert [p.name for p in tmp_path.iterdir()] == ["backups.json"]
    assert (tmp_path / "backups.json").read_text() == "old"


def test_start_run_marks_unfinished_and_removes_the_earlier_run(tmp_path):
    directory = tmp_path / "new" / "reports"
    br.start_run(str(directory), 1795538554, {"services": ["DATABASE"], "max_age": "24h", "min_retention": "24h"})
    assert [p.name for p in directory.iterdir()] == ["backups.json"]
    for name in br.REPORT_FILES:
        (directory / name).write_text("earlier")
    br.start_run(str(directory), 1795538554, {"services": ["DATABASE"], "max_age": "24h", "min_retention": "24h"})
    assert sorted(p.name for p in directory.iterdir()) == ["backups.json", "backups.prom"]
    assert "did not finish" in (directory / "backups.json").read_text()
    assert (directory / "backups.prom").read_text() == "earlier"
