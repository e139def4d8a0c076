#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: divio.cloud.refresh_outcome is an action plugin (plugins/action/refresh_outcome.py).

DOCUMENTATION = r"""
module: refresh_outcome
short_description: Decide the outcome of an environment refresh and write refresh_result.json
version_added: 0.2.0
description:
  - The decisions of the C(divio.cloud.refresh_environment) playbook, on the controller. The playbook calls it twice
    and passes on its variables and what the M(divio.cloud.backup_copy) task returned; it makes no API request.
  - O(step=start) checks the playbook's variables and replaces C(refresh_result.json) in O(report_dir) by a
    "did not finish" result. A bad or missing variable ends the run there - the result (V(refused)) is written and the
    task fails with the line.
  - O(step=finish) decides the outcome - V(refreshed), V(refused) (the copy refused before changing anything),
    V(failed) or V(would_refresh) (check mode) - and its one line, and writes C(refresh_result.json) through a
    temporary file and a rename.
author:
  - divio.cloud contributors (@divio)
options:
  step:
    description: Which decision to make.
    type: str
    required: true
    choices: [start, finish]
  report_dir:
    description: The folder C(refresh_result.json) goes to; a relative path is relative to where ansible-playbook was
      started.
    type: path
    default: reports
  variables:
    description: The playbook's variables as given - C(application), C(from), C(to), C(confirm), C(target_application),
      C(services), C(allow_live) (text from C(-e) is accepted where a list or a boolean is meant).
    type: dict
    required: true
  started:
    description: With O(step=finish), RV(started) of the start step.
    type: int
  copy:
    description: With O(step=finish), the registered result of the M(divio.cloud.backup_copy) task (or its failure).
    type: dict
attributes:
  action:
    support: full
    description: An action plugin, run on the controller.
  check_mode:
    support: full
    description: Decides as a real run would, with the outcome V(would_refresh) where a real run would copy.
  diff_mode:
    support: none
    description: There is nothing to diff.
"""

EXAMPLES = r"""
- name: Decide the outcome and write refresh_result.json
  divio.cloud.refresh_outcome:
    step: finish
    report_dir: reports
    started: "{{ refresh_run.started }}"
    variables: {application: shop, from: live, to: test, confirm: shop/test}
    copy: "{{ refresh_copy }}"
  register: refresh_outcome
"""

RETURN = r"""
result:
  description: V(refreshed), V(refused), V(failed) or V(would_refresh) (O(step=finish)).
  returned: success
  type: str
line:
  description: The outcome in one line.
  returned: success
  type: str
passed:
  description: Whether the outcome is V(refreshed) or V(would_refresh).
  returned: success
  type: bool
started:
  description: With O(step=start), the run's start (seconds since the epoch).
  returned: success
  type: int
services:
  description: With O(step=start), the services as a list.
  returned: success
  type: list
  elements: str
allow_live:
  description: With O(step=start), allow_live as a boolean.
  returned: success
  type: bool
"""
