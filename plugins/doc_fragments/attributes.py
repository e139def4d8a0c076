# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Attributes of the read-only modules, all members of the divio action group.
    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Reads only; there is nothing to diff.
  action_group:
    support: full
    membership:
      - divio.cloud.divio
    description: Use C(group/divio.cloud.divio) in C(module_defaults) to set the connection options once.
"""

    # Where modules run: the task's host, normally the controller.
    MODULE_HOST = r"""
options: {}
notes:
  - Runs where the task runs; delegate it to C(localhost) (or set the play's C(connection) to C(local)), which needs
    network access to the Divio API and the Python library C(requests).
"""
