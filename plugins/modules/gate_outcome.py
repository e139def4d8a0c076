#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: divio.cloud.gate_outcome is an action plugin (plugins/action/gate_outcome.py).

DOCUMENTATION = r"""
module: gate_outcome
short_description: Decide the outcome of a deployment behind the backup gate and write gate_result.json
version_added: 0.2.0
description:
  - The decisions of the C(divio.cloud.gate_deployment) playbook, on the controller. The playbook calls it three
    times and passes on what its other tasks returned; it makes no API request.
  - O(step=start) checks the playbook's variables and replaces C(gate_result.json) in O(report_dir) by a
    C(could_not_check) "did not finish" result. A bad variable ends the run there - the result is written and the
    task fails with the line.
  - O(step=gate_failed), in the rescue of the C(divio.cloud.backup_gate) role, says why the gate did not pass -
    V(refused) (backups stale or missing, taking a fresh one failed, or with O(verify) a backup that failed
    verification), V(could_not_check) (anything else, a verification that could not run included) - and,
    in check mode with O(refresh_if_stale), that a real run would take a backup and deploy (RV(deploy)).
  - O(step=finish) decides the outcome - V(deployed), V(refused), V(could_not_check), V(deployment_failed) or
    V(would_deploy) - and its one line, and writes C(gate_result.json) through a temporary file and a rename.
author:
  - divio.cloud contributors (@divio)
options:
  step:
    description: Which decision to make.
    type: str
    required: true
    choices: [start, gate_failed, finish]
  report_dir:
    description: The folder C(gate_result.json) goes to; a relative path is relative to where ansible-playbook was started.
    type: path
    default: reports
  application:
    description: The playbook's C(application) variable, as given (omitted when it is not set).
    type: raw
  environment:
    description: The playbook's C(env) variable, as given.
    type: raw
  build_mode:
    description: The playbook's C(build_mode) variable, as given (V(AUTO), V(ADOPT) or V(FORCE), any case).
    type: raw
  refresh_if_stale:
    description: The playbook's C(refresh_if_stale) variable, as given (a boolean, or its text from C(-e)).
    type: raw
  verify:
    description:
      - The playbook's C(verify) variable, as given (a boolean, or its text from C(-e)); the role read-verifies the
        backups it judges when it is true.
      - Decides the words of the outcome line - whether the backups were read-verified, and that check mode
        verifies nothing.
    type: raw
    default: false
  started:
    description: With O(step=finish), RV(started) of the start step.
    type: int
  failed_action:
    description: With O(step=gate_failed), the action of the task that failed in the role (C(ansible_failed_task.action)).
    type: str
  failure:
    description: With O(step=gate_failed), that task's result (C(ansible_failed_result)).
    type: dict
  gate:
    description: The C(backup_gate_result) fact, when the role set it.
    type: dict
  verdict:
    description: With O(step=finish), the registered result of the O(step=gate_failed) task, when it ran.
    type: dict
  deployment:
    description: With O(step=finish), the registered result of the M(divio.cloud.deployment) task, when it ran.
    type: dict
attributes:
  action:
    support: full
    description: An action plugin, run on the controller.
  check_mode:
    support: full
    description: Decides as a real run would, with the outcome V(would_deploy) where a real run would deploy;
      C(gate_result.json) is written in check mode too.
  diff_mode:
    support: none
    description: Nothing to diff.
seealso:
  - module: divio.cloud.deployment
"""

EXAMPLES = r"""
# playbooks/gate_deployment.yml is the example: start, the backup_gate role with gate_failed in its rescue,
# the deployment, then finish.
- name: Check the variables and mark gate_result.json unfinished
  divio.cloud.gate_outcome:
    step: start
    application: shop
    environment: live
    build_mode: AUTO
    refresh_if_stale: false
  register: run
"""

RETURN = r"""
started:
  description: With O(step=start), when the run started (Unix seconds).
  returned: success
  type: int
report_dir:
  description: With O(step=start), the absolute path of the folder C(gate_result.json) is in.
  returned: success
  type: str
build_mode:
  description: With O(step=start), O(build_mode) in upper case.
  returned: success
  type: str
refresh:
  description: With O(step=start), O(refresh_if_stale) as a boolean; with O(step=gate_failed), whether a backup would be taken first.
  returned: success
  type: bool
verify:
  description: With O(step=start), O(verify) as a boolean.
  returned: success
  type: bool
deploy:
  description: With O(step=gate_failed), whether to go on to the deployment (check mode, when a refresh would make the gate pass).
  returned: success
  type: bool
result:
  description: The outcome, as in C(gate_result.json).
  returned: success
  type: str
  sample: refused
line:
  description: The outcome in one line, as in C(gate_result.json).
  returned: success
  type: str
  sample: "refused (stale): blog/live not deployed - blog/live: newest DATABASE backup is 4d19h old (limit 24h)"
passed:
  description: With O(step=finish), whether the run passes (V(deployed) or V(would_deploy)).
  returned: success
  type: bool
"""
