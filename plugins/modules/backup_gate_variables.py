#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: divio.cloud.backup_gate_variables is an action plugin (plugins/action/backup_gate_variables.py).

DOCUMENTATION = r"""
module: backup_gate_variables
short_description: The backup_gate role's decisions - its variables, the environments to back up, its result
version_added: 0.2.0
description:
  - The C(divio.cloud.backup_gate) role's decisions, in Python; the role's tasks only pass values on. One O(step) per
    task of the role.
  - O(step=variables) (the role's first task) - its C(meta/argument_specs.yml) has been applied already, but
    Ansible's type checks convert rather than reject - the string V(live) becomes the list V([live]) - so the
    role passes its variables here as given, and a value of the wrong type fails the task with one line per
    variable, naming it and the value, before any API request. Returns RV(verify), the M(divio.cloud.backup_check)
    verification level that O(backup_gate_verify) asks for, which the role's checks use.
  - O(step=stale) - from the check's result, RV(stale), the environments to back up - with
    O(backup_gate_take_backup_if_stale), those that exist and whose backups are stale or missing (not unverified
    ones - a new backup would hide a backup that failed verification).
  - O(step=result) - RV(result), the role's C(backup_gate_result) fact, and RV(failure), the one message the gate
    fails with when not every backup is fresh.
author:
  - divio.cloud contributors (@divio)
options:
  step:
    description: What to decide.
    type: str
    choices: [variables, stale, result]
    default: variables
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
  check:
    description:
      - With O(step=stale) and O(step=result) (required) - the registered result of the role's
        M(divio.cloud.backup_check) task.
    type: dict
  backup_gate_take_backup_if_stale:
    description: With O(step=stale) - whether stale or missing environments are backed up (a boolean or its text).
    type: raw
  recheck:
    description: With O(step=result) - the registered result of the check after taking backups (skipped or not).
    type: dict
  taken:
    description: With O(step=result) - the C(results) of the role's M(divio.cloud.backup) loop.
    type: list
    elements: dict
  backup_gate_application:
    description: With O(step=result) - the application, as the failure message names it.
    type: str
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

- name: Choose the environments to back up
  divio.cloud.backup_gate_variables:
    step: stale
    check: "{{ check }}"
    backup_gate_take_backup_if_stale: true
  register: stale
"""

RETURN = r"""
verify:
  description: The M(divio.cloud.backup_check) O(divio.cloud.backup_check#module:verify) level for O(backup_gate_verify) -
    V(read) when it is true, V(none) when it is false or not given.
  returned: success, with O(step=variables)
  type: str
  sample: read
take:
  description: Whether stale or missing environments are backed up (O(backup_gate_take_backup_if_stale) as a boolean).
  returned: success, with O(step=stale)
  type: bool
stale:
  description: The check's records (RV(divio.cloud.backup_check#module:checks) entries) of the environments to back up;
    empty unless O(backup_gate_take_backup_if_stale) and the check did not pass.
  returned: success, with O(step=stale)
  type: list
  elements: dict
result:
  description: The role's C(backup_gate_result) - C(checks), C(summary) and C(problems) of the check after taking
    backups when it ran (else of the first check), and C(backups_taken), the backups taken.
  returned: success, with O(step=result)
  type: dict
failure:
  description: The message the gate fails with - a heading, then one line per problem.
  returned: success, with O(step=result)
  type: str
  sample: "Backup gate for blog failed (not fresh: 1 of 1 environments):\nblog/live: no successful DATABASE backup"
msg:
  description: When a variable has the wrong type, one line per variable (or what is wrong with the options).
  returned: failure
  type: str
  sample: backup_gate_environments must be a list of environment slugs such as [live], not the string "live"
"""
