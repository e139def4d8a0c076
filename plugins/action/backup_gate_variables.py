# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""divio.cloud.backup_gate_variables: reject the backup_gate role's variables of the wrong type, before any request.

The role's meta/argument_specs.yml has been applied already, but Ansible's type checks convert rather than
reject: the string ``live`` becomes the list ``[live]`` and a list becomes a string. The role's first task
passes its variables here, as given, so such values fail with one line each naming the variable and the value.
Used by the role only; its options are the role's variables, by their names.
"""

import json

from ansible.plugins.action import ActionBase

# variable -> what it must be, in the words of the message
LISTS = {
    "backup_gate_environments": "a list of environment slugs such as [live]",
    "backup_gate_services": "a list of service types such as [DATABASE]",
}
DURATIONS = ("backup_gate_max_age", "backup_gate_min_retention")


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
    return lines


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        super().run(tmp, task_vars)
        unknown = sorted(set(self._task.args) - set(LISTS) - set(DURATIONS))
        if unknown:
            return dict(failed=True, msg="unsupported option(s): %s" % ", ".join(unknown))
        found = problems(self._task.args)
        if found:
            return dict(failed=True, msg="\n".join(found))
        return dict(changed=False)
