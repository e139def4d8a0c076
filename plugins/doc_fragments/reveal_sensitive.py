# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # reveal_sensitive of the modules that return environment variables (environment_variable_info, deployment_info
    # with variables), as variables.py applies it. The lookup says the same in a lookup's terms.
    DOCUMENTATION = r"""
options:
  reveal_sensitive:
    description:
      - Also return the values of sensitive variables (and of any whose sensitivity the API did not say).
      - Set C(no_log=true) on the task - see the notes for why the collection cannot mask them for you.
    type: bool
    default: false
notes:
  - With O(reveal_sensitive=true) the secret values are part of the task's result, so Ansible prints them where it
    prints results (C(-v), callbacks, a registered variable passed to C(debug)). Ansible masks a value only by
    replacing it everywhere in the result (C(no_log_values)), which would also replace the value this option exists
    to return; so the module cannot mask it. Set C(no_log=true) on the task - it hides the whole result from output
    while the registered variable still holds it - and keep it out of later output yourself.
"""
