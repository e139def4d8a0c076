# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The outcome of the gate_deployment playbook, decided from what its tasks returned; no Ansible imports.

deployed           backups fresh (or refreshed), and with verify read-verified; the deployment succeeded
refused            backups stale or missing (no refresh, or the refresh failed), or with verify a backup that
                   failed verification (``unverified``, never refreshed): nothing was deployed
could_not_check    a bad variable, no or a rejected token, the API unreachable, no such application or
                   environment, a verification that could not run: nothing was deployed
deployment_failed  the gate passed; the deployment failed or its wait timed out
would_deploy       check mode: a real run would deploy (``refresh``: after taking a backup)

Each outcome comes with one line (the playbook's last line) and is written to gate_result.json.
"""

import json

PASSED = ("deployed", "would_deploy")
# The fields of gate_result.json an outcome sets; the others come from the run and the gate.
OUTCOME_FIELDS = ("result", "line", "refresh", "error", "deployment", "attached", "log_tail")
BUILD_MODES = ("AUTO", "ADOPT", "FORCE")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
# The actions whose failure inside the backup_gate role means what it says (the role's verdict, a failed backup).
_VERDICT_ACTIONS = ("ansible.builtin.fail", "fail")
_BACKUP_ACTIONS = ("divio.cloud.backup", "backup")


class Run:
    """The playbook's variables as given: ``application`` (None when unset), ``environment``, ``build_mode``,
    ``refresh_if_stale``, whether this is check mode, and ``verify`` (read-verify the backups)."""

    def __init__(self, application, environment, build_mode, refresh_if_stale, check_mode, verify=False):
        self.application, self.environment = application, environment
        self.build_mode, self.refresh_if_stale, self.check_mode = build_mode, refresh_if_stale, check_mode
        self.verify_backups = verify

    def problems(self):
        """What is wrong with the variables, one phrase each, before any API call."""
        problems = []
        if not isinstance(self.application, str) or not self.application.strip():
            problems.append("application is required: the Divio application to deploy, by slug or id (-e application=shop)")
        if not isinstance(self.environment, str) or not self.environment.strip():
            problems.append("env must be an environment slug such as live, not %s" % json.dumps(self.environment))
        if not isinstance(self.build_mode, str) or self.build_mode.upper() not in BUILD_MODES:
            problems.append("build_mode must be AUTO, ADOPT or FORCE, not %s" % json.dumps(self.build_mode))
        if self.refresh() is None:
            problems.append("refresh_if_stale must be true or false, not %s" % json.dumps(self.refresh_if_stale))
        if self.verify() is None:
            problems.append("verify must be true or false, not %s" % json.dumps(self.verify_backups))
        return problems

    def refresh(self):
        """refresh_if_stale as a bool (``-e`` gives text); None when it is neither."""
        return _boolean(self.refresh_if_stale)

    def verify(self):
        """verify as a bool (``-e`` gives text); None when it is neither."""
        return _boolean(self.verify_backups)

    @property
    def where(self):
        return "%s/%s" % (self.application if self.application is not None else "?", self.environment)

    def could_not_check(self, error):
        return dict(result="could_not_check", refresh=False, error=error,
                    line="could not check: %s not deployed - %s" % (self.where, error))

    def judge_gate_failure(self, failed_action, failure, gate):
        """The outcome when the backup_gate role failed: ``failed_action`` and ``failure`` are the failed task's
        action and result, ``gate`` the backup_gate_result fact (None if the role failed before setting it).
        ``deploy`` says whether to go on to the deployment (check mode only: a refresh would make the gate pass)."""
        error = _message(failure)
        judged = gate is not None and failed_action in _VERDICT_ACTIONS
        unreadable = judged and (gate["summary"]["error"] > 0 or any(c["environment"] is None for c in gate["checks"]))
        problems = "; ".join(gate["problems"]) if gate is not None else ""
        # A backup that failed verification is refused as such: taking another would not make it readable.
        reasons = _refusal_reasons(gate["checks"]) if judged else []
        if judged and not unreadable and self.check_mode and self.refresh() and reasons == ["stale"]:
            return dict(result="would_deploy", refresh=True, error=None, line="", deploy=True)
        if judged and not unreadable:
            outcome = dict(result="refused", refresh=False, error=None,
                           line="refused (%s): %s not deployed - %s" % (", ".join(reasons) or "stale", self.where, problems))
        elif failed_action in _BACKUP_ACTIONS:
            outcome = dict(result="refused", refresh=False, error=error,
                           line="refused (stale): %s not deployed - taking a fresh backup failed: %s" % (self.where, error))
        else:
            outcome = self.could_not_check(error)
            if judged:
                outcome["line"] = "could not check: %s not deployed - %s" % (self.where, problems)
        return dict(outcome, deploy=False)

    def deployed(self, deployment, gate, refresh):
        """The outcome of the deployment task's result (``deployment``), after the gate passed (or, in check mode,
        would pass after a refresh)."""
        if deployment.get("failed"):
            error = _message(deployment)
            return dict(result="deployment_failed", refresh=False, error=error, line="deployment failed: %s" % error,
                        deployment=deployment.get("deployment"), attached=deployment.get("attached"),
                        log_tail=deployment.get("log_tail") or [])
        attached = deployment.get("attached")
        taken = (gate or {}).get("backups_taken") or []
        if refresh:
            reason = "stale backups would be refreshed first: %s" % "; ".join(gate["problems"])
        elif taken:
            reason = "%d stale backup(s) refreshed" % len(taken)
        else:
            reason = "backups fresh"
        if self.verify() and self.check_mode:
            reason += ", not verified (check mode creates no download links)"
        elif self.verify():
            checks = (gate or {}).get("checks") or []
            verified = bool(checks) and all(check.get("verified") is True for check in checks)
            reason += ", database dumps read-verified" if verified else ", nothing verified (no DATABASE part)"
        if self.check_mode:
            line = "check mode: would %sdeploy %s (build mode %s)%s - %s" % (
                "take a backup of %s, then " % self.where if refresh else "", self.where, self.build_mode.upper(),
                ", after the running deployment %s ends" % attached["uuid"] if attached else "", reason)
        else:
            line = "deployed: %s - deployment %s succeeded%s, %s" % (
                self.where, deployment["deployment"]["uuid"],
                " (after waiting for %s)" % attached["uuid"] if attached else "", reason)
        return dict(result="would_deploy" if self.check_mode else "deployed", refresh=refresh, error=None, line=line,
                    deployment=deployment.get("deployment"), attached=attached)

    def document(self, outcome, gate, started, finished):
        """gate_result.json: every field, null or empty where this run has nothing to say."""
        document = dict(application=self.application, environment=self.environment, check_mode=self.check_mode,
                        refresh=False, backups_taken=[], deployment=None, attached=None, log_tail=[], gate=None,
                        error=None, started=started, finished=finished)
        document.update((key, value) for key, value in outcome.items() if key in OUTCOME_FIELDS)
        if gate is not None:
            document["backups_taken"] = [backup["uuid"] for backup in gate.get("backups_taken") or [] if backup]
            document["gate"] = dict(summary=gate["summary"], problems=gate["problems"])
        return document


def unfinished(started):
    """What gate_result.json says while a run is under way (and after, if it is killed)."""
    return dict(result="could_not_check", line="could not check: the run started at %s did not finish" % started)


def render(document):
    return json.dumps(document, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"


def _boolean(value):
    if isinstance(value, bool):
        return value
    return _BOOLEANS.get(str(value).lower())


def _refusal_reasons(checks):
    """Why the judged environments were refused, in words for the line: ``stale`` (or missing) and/or
    ``unverified``."""
    reasons = ["unverified" if check["status"] == "unverified" else "stale"
               for check in checks if check["status"] != "fresh"]
    return sorted(set(reasons), key=reasons.index)


def _message(result):
    """A failed task's message; for a loop (the role's backups), the failed items' messages."""
    if not result:
        return "the task failed"
    failed = [item.get("msg") for item in result.get("results") or [] if item.get("failed") and item.get("msg")]
    return "; ".join(failed) if failed else result.get("msg") or "the task failed"
