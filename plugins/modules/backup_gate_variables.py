#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: divio.cloud.backup_gate_variables is an action plugin (plugins/action/backup_gate_variables.py).

DOCUMENTATION = r"""
module: backup_gate_variables
short_description: Reject the backup_gate role's variables of the wrong type
version_added: 0.2.0
description:
  - The first task of the C(divio.cloud.backup_gate) role. Its C(meta/argument_specs.yml) has been applied already,
    but Ansible's type checks convert rather than reject - the string V(live) becomes the list V([live]) - so the
    role passes its variables here as given, and a value of the wrong type fails the task with one line per
    variable, naming it and the value, before any API request.
  - Returns RV(verify), the M(divio.cloud.backup_check) verification level that O(backup_gate_verify) asks for, which
    the role's checks use.
author:
  - divio.cloud contributors (@divio)
options:
  backup_gate_environments:
    description: Must be a list, not a string.
    type: raw
  backup_gate_services:
    description: Must be a list, not a string.
    type: raw
  backup_gate_max_age:
    description: Must be a number of seconds or a string such as V(24h).
    type: raw
  backup_gate_min_retention:
    description: Must be a number of seconds or a string such as V(24h).
    type: raw
  backup_gate_verify:
    description: Must be a boolean (V(true), V(false), or their text such as V("yes") from C(-e)).
    type: raw
attributes:
  action:
    support: full
    description: An action plugin, run on the controller; it makes no API request.
  check_mode:
    support: full
    description: Checks the same in check mode.
  diff_mode:
    support: none
    description: Nothing to diff.
"""

EXAMPLES = r"""
- name: Reject variables of the wrong type
  divio.cloud.backup_gate_variables:
    backup_gate_environments: "{{ backup_gate_environments }}"
    backup_gate_services: "{{ backup_gate_services }}"
    backup_gate_max_age: "{{ backup_gate_max_age }}"
    backup_gate_min_retention: "{{ backup_gate_min_retention }}"
    backup_gate_verify: "{{ backup_gate_verify }}"
  register: variables
"""

RETURN = r"""
verify:
  description: The M(divio.cloud.backup_check) O(divio.cloud.backup_check#module:verify) level for O(backup_gate_verify) -
    V(read) when it is true, V(none) when it is false or not given.
  returned: success
  type: str
  sample: read
msg:
  description: When a variable has the wrong type, one line per variable.
  returned: failure
  type: str
  sample: backup_gate_environments must be a list of environment slugs such as [live], not the string "live"
"""
