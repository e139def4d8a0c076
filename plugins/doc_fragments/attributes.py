# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # Attributes of the read-only modules (with MODULE_HOST, which every module lists).
    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Reads only; there is nothing to diff.
"""

    # Every module: where it runs (the task's host, normally the controller) and the action group whose
    # module_defaults set its connection options.
    MODULE_HOST = r"""
attributes:
  action_group:
    support: full
    membership:
      - divio.cloud.divio
    description: Use C(group/divio.cloud.divio) in C(module_defaults) to set the connection options once.
notes:
  - Runs where the task runs; delegate it to C(localhost) (or set the play's C(connection) to C(local)), which needs
    network access to the Divio API and the Python library C(requests).
"""
