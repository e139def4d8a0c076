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


def test_junit_counts_come_from_the_status_table(monkeypatch):
    """A new status is one row of STATUSES: it gets its marker, its JUnit element and its metric series."""
    monkeypatch.setitem(br.STATUSES, "unverified", br.Status("? unverified", "failure"))
    summary = dict(INPUTS["all_fresh"]["summary"], fresh=0, unverified=1, ok=False, result="stale")
    report = dict(INPUTS["all_fresh"], summary=summary)
    report["records"] = [dict(report["records"][0], status="unverified", problems=["shop/live: not verified"])]
    suite = ET.fromstring(br.render_junit(report).encode()).find("testsuite")
    assert (suite.get("failures"), suite.find("testcase/failure").get("type")) == ("1", "unverified")
    assert "| ? unverified | shop |" in br.render_markdown(report)
    assert "1 unverified." in br.render_markdown(report)
    assert 'divio_backup_status{application="shop",environment="live",status="unverified"} 1' in br.render_prometheus(report)


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
        br.write_atomically(str(tmp_path), "backups.json", "new")
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
