# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""divio.cloud.backup_report: the check of divio.cloud.backup_check and its four reports, on the controller.

An action plugin rather than a module because the reports must be written even when the check cannot start:
a module whose arguments are bad never runs, and one that runs on a remote host cannot write the controller's
files. The check runs in this process (module_utils/checks.py's run_fleet_check, with the module's argument
spec): the same results as the module, without a module process and its result's round trip. The rendering is
in plugin_utils/backup_reports.py; the outcome (the lines to show, whether the run passes) is decided here, so
the check_backups playbook only passes variables on.
"""

import os
import time

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.divio.cloud.plugins.module_utils.checks import CHECK_ARGUMENT_SPEC, plan_fleet_check, run_fleet_check
from ansible_collections.divio.cloud.plugins.module_utils.client import HAS_REQUESTS
from ansible_collections.divio.cloud.plugins.module_utils.connection import CONNECTION_ARGUMENT_SPEC, CONNECTION_OPTION_NAMES
from ansible_collections.divio.cloud.plugins.module_utils.errors import DivioError
from ansible_collections.divio.cloud.plugins.module_utils.session import failure_of, run_with_client
from ansible_collections.divio.cloud.plugins.plugin_utils import backup_reports

display = Display()

CHECK_SPEC = dict(CONNECTION_ARGUMENT_SPEC, **CHECK_ARGUMENT_SPEC)
# Options handed to backup_check unchanged (it validates them); an empty one of these is as if omitted (a filter:
# "all"), so a playbook can pass its empty defaults on.
OMITTED_WHEN_EMPTY = ("organisation", "applications", "environments", "verify_dir")
# The check's rules as given (the report of a check that could not run shows them), defaults from the check's spec.
RULES = dict((name, CHECK_ARGUMENT_SPEC[name]["default"]) for name in ("services", "max_age", "min_retention", "verify"))
OPTIONS = frozenset(OMITTED_WHEN_EMPTY + tuple(RULES) + CONNECTION_OPTION_NAMES
                    + ("report_dir", "report_only", "verify_timeout"))


def _joined(value):
    """A list, or a comma-separated string, as the start line writes it."""
    return value if isinstance(value, str) else ",".join(str(item) for item in value or [])


def start_line(args, report_dir):
    apps = args.get("applications")
    return "Checking the backups of %s%s, environments %s, services %s, max_age %s%s; reports to %s" % (
        "applications %s" % _joined(apps) if apps else "every application the token can see",
        " in organisation %s" % args["organisation"] if args.get("organisation") else "",
        _joined(args.get("environments")) or "all", _joined(args["services"]), args["max_age"],
        ", verify %s" % args["verify"] if args["verify"] != "none" else "", report_dir)


def outcome(report, report_dir, report_only):
    """``(lines, failure)``: what to show at the end of a run that checked something, and the failure message
    (None when the run passes: everything fresh, or only stale and missing with ``report_only``)."""
    s, rules, stats = report["summary"], report["rules"], report["stats"]
    problems = [line for record in report["records"] for line in record["problems"]]
    lines = [
        "Backups: %d checked - %s (limit %s, %s%s) - result %s" % (
            s["total"], backup_reports.counts(report), rules["max_age"], ", ".join(rules["services"]),
            ", %d verified" % backup_reports.verified_count(report["records"]) if rules.get("verify") else "",
            s["result"]),
        "API: %s requests, %s retries, %s s" % (stats["requests"], stats["retries"], stats["seconds"]),
        "Reports: %s/backups.{json,xml,md,prom}" % report_dir,
    ] + (problems if report_only else [])
    if s["result"] == "fresh" or (s["result"] == "stale" and report_only):
        return lines, None
    failure = ["%d of %d environments have no fresh backup (%s):" % (
        s["total"] - s["fresh"], s["total"], backup_reports.counts(report, without=("fresh",)))] + problems + [
        "Reports: %s (summary.result %s)%s" % (report_dir, s["result"], ". Pass -e report_only=true to report stale "
                                               "backups without failing." if s["result"] == "stale" else "")]
    return lines, "\n".join(failure)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False  # the check and the files are on the controller

    def run(self, tmp=None, task_vars=None):
        super().run(tmp, task_vars)
        args = dict(RULES, **self._task.args)
        started = int(time.time())
        report_dir = args.get("report_dir", "reports")
        if not isinstance(report_dir, str) or not report_dir.strip():
            return dict(failed=True, msg="report_dir must be a folder path such as reports, not %r" % (report_dir,))
        # Relative to the directory ansible-playbook was started from (this process's), not to a playbook.
        report_dir = os.path.realpath(os.path.expanduser(report_dir))
        rules = dict(services=args["services"], max_age=str(args["max_age"]), min_retention=str(args["min_retention"]))
        if args["verify"] != "none":
            rules["verify"] = str(args["verify"])
        writes = not self._task.check_mode
        display.display(start_line(args, report_dir))
        try:
            if writes:
                backup_reports.start_run(report_dir, started, rules)
            report, result = self._check(args, started, rules, self._task.check_mode)
            if writes:
                backup_reports.write_reports(report_dir, report)
        except OSError as exc:
            return dict(failed=True, result="failed", report_dir=report_dir,
                        msg="The backup reports could not be written to %s: %s" % (report_dir, exc.strerror or exc))
        if not report["records"]:
            result.update(failed=True, changed=writes, result="failed", report_dir=report_dir,
                          msg="The backup check failed (reports in %s, summary.result failed): %s" % (report_dir, report["error"]))
            return result
        lines, failure = outcome(report, report_dir, boolean(args.get("report_only", False), strict=False))
        result.update(changed=writes, result=report["summary"]["result"], report_dir=report_dir, lines=lines,
                      passed=failure is None, failure=failure)
        return result

    def _check(self, args, started, rules, check_mode):
        """``(report, result)``: the report to write, and what the task returns (the module's results and warnings)."""
        unknown = sorted(set(args) - OPTIONS)
        error = "unsupported option(s) %s; supported: %s" % (", ".join(unknown), ", ".join(sorted(OPTIONS))) if unknown else None
        try:
            boolean(args.get("report_only", False))
        except TypeError:
            error = error or "report_only must be true or false, not %r" % (args["report_only"],)
        if error:
            return backup_reports.failed_report(started, rules, error), {}
        check_args = dict((name, value) for name, value in args.items()
                          if name in CHECK_SPEC and (value or name not in OMITTED_WHEN_EMPTY))
        checked, error = self._run_check(check_args, check_mode)
        if error:
            return backup_reports.failed_report(started, rules, error), {}
        result, warnings = checked
        kept = dict(result, warnings=warnings) if warnings else dict(result)
        report = dict(started=started, summary=result["summary"], rules=result["rules"], stats=result["stats"],
                      records=result["checks"],
                      error="" if result["summary"]["total"] else "nothing was checked: no application matched")
        return report, kept

    @staticmethod
    def _run_check(check_args, check_mode):
        """``((result, warnings), None)``, or ``(None, error)``: what the backup_check module would return or
        fail with, validated by its argument spec (so a bad type reads as the module's message would)."""
        if not HAS_REQUESTS:
            return None, missing_required_lib("requests")
        validated = ArgumentSpecValidator(CHECK_SPEC).validate(check_args)
        if validated.error_messages:
            return None, validated.errors.msg
        params = validated.validated_parameters
        try:  # the check's rules, parsed once here: the check runs by them and the report states them
            planned = plan_fleet_check(params, check_mode)
        except DivioError as exc:
            return None, failure_of(exc)[0]
        named = []  # a slug that named several applications
        checked, failure = run_with_client(params, lambda client: run_fleet_check(client, params, check_mode, planned),
                                           named.append)
        if failure is not None:
            return None, failure[0]
        result, warnings = checked
        return (result, warnings + named), None
