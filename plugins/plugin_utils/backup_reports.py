# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The four reports of a backup check, rendered from one ``report`` dict, and written so no reader sees half a file.

``report`` holds ``started`` (Unix seconds), ``error`` (text; empty or None when the check ran), ``summary`` and
``rules`` (as the backup_check module returns them, or what a check that could not run was asked for), ``stats``
(None when the check could not run) and ``records`` (the module's ``checks``; empty when it could not run).

The ``unverified`` status, its count, the Markdown "Verified" column and the ``divio_backup_verified`` metric
appear only in the reports of a check that verified backups (``rules.verify`` is ``read``): a check without
verification writes exactly what it wrote before verification existed.

Each renderer is a function of that dict alone, so the unit tests hold their output byte for byte
(tests/unit/golden/reports). No Ansible imports: the backup_report action plugin does the Ansible side.
"""

import json
import os
import re
import time
import xml.etree.ElementTree as ET
from collections import namedtuple

from ansible_collections.divio.cloud.plugins.module_utils.checks import record_name
from ansible_collections.divio.cloud.plugins.module_utils.files import write_atomically

# The order the reports are renamed into place in is the reverse: backups.json, the one CI jobs read for the
# outcome, is written last, so when it is new, so are the others.
REPORT_FILES = ("backups.json", "backups.xml", "backups.md", "backups.prom")
# Removed when a run starts (backups.json is replaced by an "unfinished" report; backups.prom keeps the last
# finished run's metrics, with their timestamp, so monitoring does not see a gap during every run).
REMOVED_AT_START = ("backups.xml", "backups.md")

# How each status shows in the reports, in the order the metrics list them. A new status is one more row.
Status = namedtuple("Status", "marker junit")  # Markdown cell; JUnit element ("failure", "error") or None: passed
STATUSES = {
    "fresh": Status("\u2705 fresh", None),
    "stale": Status("\u26a0\ufe0f stale", "failure"),
    "missing": Status("\u274c missing", "failure"),
    "error": Status("\u26d4 error", "error"),
    "unverified": Status("\U0001f6ab unverified", "failure"),  # only with verification (see _statuses)
}
VERIFIED_ONLY = ("unverified",)

# The summary of a run that could not check anything.
NO_SUMMARY = dict(result="failed", total=0, fresh=0, stale=0, missing=0, error=0, ok=False)
DASH = "\u2014"


def verifies(rules):
    """Whether the check read its backups back (``verify: read``)."""
    return (rules or {}).get("verify", "none") not in ("none", None)


def _statuses(report):
    """The statuses this report shows: all of STATUSES with verification, else those a check without it has."""
    verified = verifies(report.get("rules"))
    return [status for status in STATUSES if verified or status not in VERIFIED_ONLY]


def counts(report, without=()):
    """``9 fresh, 2 stale, 1 missing, 0 error`` (and ``, 0 unverified`` with verification), leaving out ``without``."""
    return ", ".join("%d %s" % (report["summary"].get(status, 0), status) for status in _statuses(report)
                     if status not in without)


def generated_at(report):
    """When the check started, in UTC: ``2026-11-18T16:42:34Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(report["started"])))


def unfinished_report(started, rules):
    """What backups.json says while a run is under way (and after, if it is killed)."""
    return dict(started=started, summary=_no_summary(rules), rules=rules,
                error="the check started at %s and did not finish" % generated_at(dict(started=started)))


def failed_report(started, rules, error):
    """The report of a check that could not run: no records, no stats, ``error`` says why."""
    return dict(started=started, summary=_no_summary(rules), rules=rules, error=error, stats=None, records=[])


def _no_summary(rules):
    return dict(NO_SUMMARY, unverified=0) if verifies(rules) else dict(NO_SUMMARY)


def _when(timestamp):
    """``2026-11-18T16:42:34.294420Z`` -> ``2026-11-18T16:42:34Z``."""
    return re.sub(r"[.][0-9]+", "", timestamp) if timestamp else ""


def _count(summary, kind):
    """Records whose status shows as ``kind`` in JUnit (``failure`` or ``error``)."""
    return sum(summary.get(status, 0) for status, style in STATUSES.items() if style.junit == kind)


# -- backups.json -------------------------------------------------------------------------------------


def render_json(report):
    document = dict(generated_at=generated_at(report), summary=report["summary"], error=report.get("error") or None,
                    rules=report["rules"], stats=report.get("stats"), records=report.get("records", []))
    return json.dumps(document, indent=2, separators=(",", ": ")) + "\n"


# -- backups.md ---------------------------------------------------------------------------------------


def _cell(text):
    """Table-cell-safe text: no line breaks, pipes escaped, no raw HTML."""
    return re.sub(r"\s+", " ", str(text)).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(report):
    records = report.get("records") or []
    if not records:
        return "# Divio backups: check failed\n\n\u26d4 The backup check failed. Generated %s.\n\n%s\n" % (
            generated_at(report), _cell(report.get("error")))
    s, rules = report["summary"], report["rules"]
    title = "all fresh" if s["ok"] else "%d of %d not fresh" % (s["total"] - s["fresh"], s["total"])
    verified = verifies(rules)
    columns = ["Status", "Application", "Environment", "Age", "Limit", "Latest backup (taken_at)"] + (
        ["Verified"] if verified else []) + ["Details"]
    lines = [
        "# Divio backups: %s" % title,
        "",
        "%d checked: %s. Rule: a successful %s backup at most %s old.%s Generated %s." % (
            s["total"], counts(report), " and ".join(rules["services"]), _cell(rules["max_age"]),
            " Verified (DATABASE dumps read back in full): %d of %d." % (verified_count(records), len(records))
            if verified else "", generated_at(report)),
        "",
        "| %s |" % " | ".join(columns),
        "|%s" % ("---|" * len(columns)),
    ]
    for r in records:
        status = STATUSES.get(r["status"])
        lines.append("| %s |" % " | ".join([
            status.marker if status else r["status"],
            _cell(r["application_slug"]),
            _cell(r["environment_slug"] if r["environment_slug"] is not None else DASH),
            r["age"] or DASH,
            _cell(r["max_age"]),
            _when(r["taken_at"]) or DASH,
        ] + ([_verified_cell(r)] if verified else []) + [
            _cell("; ".join(r["problems"])),
        ]))
    return "\n".join(lines) + "\n"


def verified_count(records):
    """Records whose judged backups' DATABASE dumps were all read back in full."""
    return sum(1 for record in records if record.get("verified") is True)


def _verified_cell(record):
    """When the judged backup was read back, "failed", or a dash (nothing to verify, or it could not run)."""
    if record.get("verified") is True:
        return _when(record.get("verified_at")) or "yes"
    return "failed" if record.get("verified") is False else DASH


# -- backups.prom -------------------------------------------------------------------------------------
# The Prometheus text exposition format, for node_exporter's textfile collector: HELP and TYPE lines, one
# family per name, no sample timestamps (the collector refuses them; divio_backup_check_timestamp_seconds says
# when the check ran). Written here rather than with prometheus_client, which is a test dependency only: its
# writer prints every value as a float (1.0) and would change the file the golden test holds, for 30 lines.

_CHECK_FAMILIES = (
    ("divio_backup_check_success", "Whether the last backup check ran: 1, or 0 when it could not run or matched nothing "
     "(then only these check metrics are here; backups.json says why)."),
    ("divio_backup_check_timestamp_seconds", "When the last backup check started, in seconds since the Unix epoch."),
    ("divio_backup_check_errors", "Applications and environments the last check could not read (status error); "
     "0 when the whole check failed."),
)
_HELP = {
    "divio_backup_fresh": "Whether the environment has a fresh backup of every checked service: 1 yes, 0 no "
                          "(stale, missing or error).",
    "divio_backup_verified": "Whether the environment's judged backup was read back in full (verify: read): 1 yes, "
                             "0 it failed; absent when nothing could be verified.",
    "divio_backup_age_seconds": "Age of the environment's newest counted backup (of the stalest checked service), "
                                "in seconds; absent when there is none.",
    "divio_backup_status": "The environment's backup status: 1 for the current one of %s; 0 for the others.",
}
_HELP.update(_CHECK_FAMILIES)


def _label(value):
    """A label value, with backslash, double quote and line feed escaped as the format requires."""
    return ("" if value is None else str(value)).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(record):
    return 'application="%s",environment="%s"' % (_label(record["application_slug"]), _label(record["environment_slug"]))


def render_prometheus(report):
    # One series per (application, environment): the first record (the worst: records come worst first) wins
    # when an application was asked for twice, e.g. by slug and by id.
    series = {}
    for record in report.get("records") or []:
        series.setdefault(_labels(record), record)
    lines = []

    statuses = _statuses(report)

    def family(name, samples):
        text = _HELP[name] % ", ".join(statuses) if name == "divio_backup_status" else _HELP[name]
        if name == "divio_backup_fresh" and verifies(report["rules"]):
            text += (" About age only: a fresh backup whose verification failed or could not run is 1 here (see "
                     "divio_backup_verified and divio_backup_status).")
        lines.extend(["# HELP %s %s" % (name, text), "# TYPE %s gauge" % name])
        lines.extend("%s%s %s" % (name, "{%s}" % labels if labels else "", value) for labels, value in samples)

    family("divio_backup_check_success", [("", 1 if series else 0)])
    family("divio_backup_check_timestamp_seconds", [("", int(report["started"]))])
    family("divio_backup_check_errors", [("", report["summary"]["error"])])
    if series:
        # About age only: every checked service has a fresh backup, whatever its verification says.
        family("divio_backup_fresh", [(key, 1 if r["services"] and all(c["fresh"] for c in r["services"]) else 0)
                                      for key, r in series.items()])
        family("divio_backup_age_seconds", [(key, r["age_seconds"]) for key, r in series.items()
                                            if r["age_seconds"] is not None])
        family("divio_backup_status", [('%s,status="%s"' % (key, status), 1 if r["status"] == status else 0)
                                       for key, r in series.items() for status in statuses])
        verdicts = [(key, int(r["verified"])) for key, r in series.items() if r.get("verified") is not None]
        if verifies(report["rules"]) and verdicts:  # no family without a sample (a STORAGE-only check)
            family("divio_backup_verified", verdicts)
    return "\n".join(lines) + "\n"


# -- backups.xml --------------------------------------------------------------------------------------
# JUnit XML as Jenkins, GitLab, GitHub test reporters and Azure read it: <testsuites>, one <testsuite>, one
# <testcase> per (application, environment); stale, missing and unverified are <failure>s, error an <error>.

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters XML 1.0 cannot hold


def _text(value):
    return _NOT_XML.sub("", str(value))


def _attribute(value):
    # A reader replaces a line break in an attribute with a space; do it here, so every reader sees the same.
    return re.sub(r"[\t\n\r]", " ", _text(value))


def _element(parent, tag, text=None, **attributes):
    element = ET.SubElement(parent, tag, dict((key.rstrip("_"), _attribute(value)) for key, value in attributes.items()))
    if text is not None:
        element.text = _text(text)
    return element


def _service_line(record, service):
    """``DATABASE: fresh, backup <id> taken at <time> (3h old, limit 24h)``."""
    line = "%s: %s" % (service["service"], service["status"])
    if service["uuid"]:
        line += ", backup %s taken at %s (%s old, limit %s)" % (service["uuid"], _when(service["taken_at"]),
                                                                service["age"], record["max_age"])
    return line


def _verification_line(part):
    """``DATABASE:DEFAULT part <id> (pg_custom, 35724 bytes): verified - <what was checked>``, or why it failed."""
    verification = part.get("verification") or {}
    if part.get("verified"):
        outcome = "verified - %s" % "; ".join(verification.get("checks") or [])
    elif part.get("verified") is False:
        outcome = "FAILED - %s" % (verification.get("reason") or "not verified")
    else:  # the check could not run here: no verdict on the backup
        outcome = "NOT CHECKED - %s" % (verification.get("reason") or "not verified")
    return "%s:%s part %s (%s, %s bytes): %s" % (part.get("service_type"), part.get("prefix"), part.get("part"),
                                                 part.get("format"), part.get("size"), outcome)


def render_junit(report):
    records = report.get("records") or []
    s = report["summary"]
    timestamp = generated_at(report).rstrip("Z")
    if records:
        counts = dict(tests=s["total"], failures=_count(s, "failure"), errors=_count(s, "error"))
    else:  # the check could not run: one test case that errors, so CI shows it instead of an earlier report
        counts = dict(tests=1, failures=0, errors=1)
    counts = [("name", "divio backups")] + [(key, str(value)) for key, value in counts.items()]
    root = ET.Element("testsuites", dict(counts))
    suite = ET.SubElement(root, "testsuite", dict(counts + [("skipped", "0"), ("timestamp", timestamp)]))
    if not records:
        case = _element(suite, "testcase", classname="divio", name="backup check", time="0")
        _element(case, "error", report.get("error"), type="failed", message=report.get("error"))
    else:
        properties = _element(suite, "properties")
        _element(properties, "property", name="max_age", value=report["rules"]["max_age"])
        _element(properties, "property", name="services", value=",".join(report["rules"]["services"]))
    for r in records:
        case = _element(suite, "testcase", classname="divio.%s" % r["application_slug"], name=record_name(r), time="0")
        kind = STATUSES[r["status"]].junit if r["status"] in STATUSES else None
        if kind:
            _element(case, kind, "\n".join(r["problems"]), type=r["status"], message="; ".join(r["problems"]))
        if r["services"]:
            _element(case, "system-out", "\n".join([_service_line(r, service) for service in r["services"]]
                                                   + [_verification_line(part) for part in r.get("verification") or []]))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


RENDERERS = {
    "backups.json": render_json,
    "backups.xml": render_junit,
    "backups.md": render_markdown,
    "backups.prom": render_prometheus,
}


# -- writing ------------------------------------------------------------------------------------------


def write_report(directory, name, text):
    """Put report ``name`` in ``directory`` whole (0644, fsynced): readers (CI jobs, node_exporter) see the old
    file or the new one, never half of one."""
    write_atomically(os.path.join(directory, name), text, 0o644)


def start_run(directory, started, rules):
    """Mark the run unfinished: backups.json says so, and the earlier run's other reports go, so a run that is
    killed never leaves an earlier run's report looking like its own."""
    os.makedirs(directory, mode=0o755, exist_ok=True)
    write_report(directory, "backups.json", render_json(unfinished_report(started, rules)))
    for name in REMOVED_AT_START:
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass


def write_reports(directory, report):
    """Render all four reports (so a renderer's failure writes nothing), then rename them into place,
    backups.json last."""
    texts = [(name, RENDERERS[name](report)) for name in REPORT_FILES]
    for name, text in reversed(texts):
        write_report(directory, name, text)
