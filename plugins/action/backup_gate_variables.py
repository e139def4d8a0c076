# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""divio.cloud.backup_gate_variables: reject the backup_gate role's variables of the wrong type, before any request.

The role's meta/argument_specs.yml has been applied already, but Ansible's type checks convert rather than
reject: the string ``live`` becomes the list ``[live]`` and a list becomes a string. The role's first task
passes its variables here, as given, so such values fail with one line each naming the variable and the value.
It also returns ``verify``, the backup_check level that backup_gate_verify means (``read`` or ``none``), so the
role passes a value on instead of deciding in Jinja.
Used by the role only; its options are the role's variables, by their names.
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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        super().run(tmp, task_vars)
        unknown = sorted(set(self._task.args) - set(LISTS) - set(DURATIONS) - set(BOOLEANS))
        if unknown:
            return dict(failed=True, msg="unsupported option(s): %s" % ", ".join(unknown))
        found = problems(self._task.args)
        if found:
            return dict(failed=True, msg="\n".join(found))
        return dict(changed=False, verify=verify_level(self._task.args))
