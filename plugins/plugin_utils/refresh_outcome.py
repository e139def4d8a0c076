# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The outcome of the refresh_environment playbook, decided from what its copy task returned; no Ansible imports.

refreshed      the target now holds the source's backup (safety backup, upload and restore succeeded)
refused        a bad or missing variable, or the copy refused before changing anything: a wrong confirm, a live
               target without allow_live, the target equal to the source, another engine, a source backup that
               failed verification
failed         anything else: no or a rejected token, the API unreachable, no such application or environment or
               backup, a verification that could not run, an upload or a restore that failed (the line names the
               safety backup to undo with when one was taken)
would_refresh  check mode: a real run would copy (what, from where, to where)

Each outcome comes with one line (the playbook's last line) and is written to refresh_result.json.
"""

import json

PASSED = ("refreshed", "would_refresh")
#: the module's error types that mean "refused before anything changed"
REFUSALS = ("InputError", "VerificationFailed")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class Run:
    """The playbook's variables as given, and whether this is check mode."""

    def __init__(self, variables, check_mode):
        self.variables = dict(variables or {})
        self.check_mode = check_mode

    def _text(self, name):
        value = self.variables.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    def problems(self):
        """What is wrong with the variables, one phrase each, before any API call."""
        problems = []
        for name, example in (("application", "shop"), ("from", "live"), ("to", "test")):
            if self._text(name) is None:
                problems.append("%s is required, as a slug (-e %s=%s), not %s" % (
                    name, name, example, json.dumps(self.variables.get(name))))
        if self._text("confirm") is None:
            problems.append("confirm is required: the target as <application slug>/<environment slug> (-e confirm=%s/%s)"
                            % (self._text("target_application") or self._text("application") or "shop",
                               self._text("to") or "test"))
        if self.allow_live() is None:
            problems.append("allow_live must be true or false, not %s" % json.dumps(self.variables.get("allow_live")))
        services = self.services()
        if services is None:
            problems.append("services must be a list such as [DATABASE, STORAGE], not %s"
                            % json.dumps(self.variables.get("services")))
        return problems

    def allow_live(self):
        value = self.variables.get("allow_live", False)
        return value if isinstance(value, bool) else _BOOLEANS.get(str(value).lower())

    def services(self):
        """The services as a list (``-e services=DATABASE,STORAGE`` gives text); None when it is neither."""
        value = self.variables.get("services", ["DATABASE"])
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
            return None
        return value

    @property
    def where(self):
        source = "%s/%s" % (self._text("application") or "?", self._text("from") or "?")
        target = "%s/%s" % (self._text("target_application") or self._text("application") or "?", self._text("to") or "?")
        return "%s from %s" % (target, source)

    def refused(self, error):
        return dict(result="refused", error=error, line="refused: %s not refreshed - %s" % (self.where, error))

    def decide(self, copy):
        """The outcome from the copy task's registered result."""
        if not isinstance(copy, dict) or copy.get("skipped"):
            return dict(result="failed", error="the copy did not run",
                        line="failed: %s not refreshed - the copy did not run" % self.where)
        if copy.get("failed"):
            error = str(copy.get("msg") or "the copy failed without a message")
            if copy.get("error") in REFUSALS:
                return self.refused(error)
            return dict(result="failed", error=error, line="failed: %s - %s" % (self.where, error))
        if self.check_mode:
            return dict(result="would_refresh", line="would refresh: %s - %s" % (self.where, copy.get("msg")))
        safety = copy.get("safety_backup") or {}
        return dict(result="refreshed", line="refreshed: %s - %s%s" % (
            self.where, copy.get("msg"), "; undo with safety backup %s" % safety["uuid"] if safety.get("uuid") else ""))

    def document(self, outcome, copy, started, finished):
        """refresh_result.json: every field, null where this run has nothing to say."""
        copy = copy if isinstance(copy, dict) and not copy.get("failed") else {}
        document = dict(application=self._text("application"), source=self._text("from"), target=self._text("to"),
                        target_application=self._text("target_application") or self._text("application"),
                        services=self.services(), check_mode=self.check_mode, error=None, started=started,
                        finished=finished)
        for key in ("safety_backup", "uploaded_backup", "restore", "parts"):
            document[key] = copy.get(key)
        document["source_backup"] = (copy.get("source") or {}).get("backup")
        document.update((key, outcome.get(key)) for key in ("result", "line", "error") if key in outcome)
        return document


def unfinished(started):
    """What refresh_result.json says while a run is under way (and after, if it is killed)."""
    return dict(result="failed", line="failed: the run started at %s did not finish" % started,
                error="the run did not finish")


def render(document):
    return json.dumps(document, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"
