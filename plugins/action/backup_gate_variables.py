# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""divio.cloud.backup_gate_variables: the backup_gate role's decisions, in Python; its tasks only pass values on.

Three steps, one task each in the role:

- ``variables`` (the first task): the role's meta/argument_specs.yml has been applied already, but Ansible's type
  checks convert rather than reject: the string ``live`` becomes the list ``[live]`` and a list becomes a string.
  The role passes its variables here, as given, so such values fail with one line each naming the variable and
  the value, before any request. Returns ``verify``, the backup_check level that backup_gate_verify means.
- ``stale``: from the check's result, the environments to back up (stale or missing ones that exist, and only
  with backup_gate_take_backup_if_stale).
- ``result``: the role's ``backup_gate_result`` (the check, or the check after taking backups, and the backups
  taken) and the one message the gate fails with.

Used by the role only; its variable options are the role's variables, by their names.
"""

import json

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

# variable -> what it must be, in the words of the message
LISTS = {
    "backup_gate_environments": "a list of environment slugs such as [live]",
    "backup_gate_services": "a list of service types such as [DATABASE]",
}
DURATIONS = ("backup_gate_max_age", "backup_gate_min_retention")
BOOLEANS = ("backup_gate_verify",)
# step -> the options it takes besides ``step``
STEPS = {
    "variables": tuple(LISTS) + DURATIONS + BOOLEANS,
    "stale": ("check", "backup_gate_take_backup_if_stale"),
    "result": ("check", "recheck", "taken", "backup_gate_application"),
}
# the statuses a new backup can make fresh (not "unverified": a new backup would hide the broken one)
REFRESHABLE = ("stale", "missing")


def flag(value):
    """A boolean variable as Ansible reads one (true, "yes", "0", ...); None for anything else."""
    try:
        return boolean(value, strict=True)
    except TypeError:
        return None


def verify_level(variables):
    """The backup_check ``verify`` option for backup_gate_verify (false when not given)."""
    return "read" if flag(variables.get("backup_gate_verify", False)) else "none"


def problems(variables):
    """One line per variable of the wrong type; ``variables`` maps the role's variable names to their values."""
    lines = []
    for name, expected in LISTS.items():
        if isinstance(variables.get(name), str):
            lines.append("%s must be %s, not the string %s" % (name, expected, json.dumps(variables[name])))
    for name in DURATIONS:
        value = variables.get(name)
        if name in variables and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
            lines.append("%s must be a number of seconds or a string such as 24h, not %s" % (name, json.dumps(value)))
    for name in BOOLEANS:
        if name in variables and flag(variables[name]) is None:
            lines.append("%s must be true or false, not %s" % (name, json.dumps(variables[name])))
    return lines


def stale(check, take):
    """The check's records of existing environments whose backups are stale or missing, when ``take`` is true and
    the check did not pass: the environments the role backs up."""
    if not take or check["summary"]["ok"]:
        return []
    return [record for record in check["checks"]
            if record["status"] in REFRESHABLE and record.get("environment", "") is not None]


def gate_result(check, recheck, taken):
    """``backup_gate_result``: the check after taking backups when it ran, else the first one, with the backups
    taken (``taken``: the backup loop's results; the ``backup`` of each that changed)."""
    final = recheck if recheck and not recheck.get("skipped") else check
    taken = [item.get("backup") for item in taken or [] if item.get("changed")]
    return dict(checks=final["checks"], summary=final["summary"], problems=final["problems"], backups_taken=taken)


def failure(application, result):
    """The one message of a gate that did not pass: a heading, then the check's problem lines."""
    summary = result["summary"]
    heading = "Backup gate for %s failed (not fresh: %s of %s environments):" % (
        application, summary["total"] - summary["fresh"], summary["total"])
    return "\n".join([heading] + list(result["problems"]))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        super().run(tmp, task_vars)
        args = dict(self._task.args)
        step = args.pop("step", "variables")
        if step not in STEPS:
            return dict(failed=True, msg="step must be one of %s, not %s" % (", ".join(STEPS), json.dumps(step)))
        unknown = sorted(set(args) - set(STEPS[step]))
        if unknown:
            return dict(failed=True, msg="unsupported option(s): %s" % ", ".join(unknown))
        if step != "variables" and not isinstance(args.get("check"), dict):
            return dict(failed=True, msg="check must be the registered result of divio.cloud.backup_check, not %s"
                        % json.dumps(args.get("check"), default=str))
        if step == "stale":
            take = bool(flag(args.get("backup_gate_take_backup_if_stale")))
            return dict(changed=False, take=take, stale=stale(args["check"], take))
        if step == "result":
            result = gate_result(args["check"], args.get("recheck"), args.get("taken"))
            return dict(changed=False, result=result, failure=failure(args.get("backup_gate_application"), result))
        found = problems(args)
        if found:
            return dict(failed=True, msg="\n".join(found))
        return dict(changed=False, verify=verify_level(args))
