#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: environment_variable_info
short_description: Read the environment variables of a Divio environment, holding back sensitive values
version_added: 0.2.0
description:
  - Lists the environment variables of one environment of a Divio application, as C(divio app env-vars list)
    does, or the one named O(name) (C(divio app env-vars get)).
  - The API returns sensitive values too. This module returns a sensitive variable's name and C(is_sensitive=true)
    with C(value=null), unless O(reveal_sensitive=true). Held back, a sensitive value appears nowhere - not in the
    result, a message, or Ansible's output at C(-vvvv).
author:
  - divio.cloud contributors (@divio)
options:
  name:
    description:
      - Only the variable with exactly this name. An environment without it returns an empty list.
    type: str
  # reveal_sensitive is described in the divio.cloud.reveal_sensitive fragment.
extends_documentation_fragment:
  - divio.cloud.environment
  - divio.cloud.reveal_sensitive
  - divio.cloud.connection
  - divio.cloud.attributes.info_module
  - divio.cloud.attributes.module_host
notes:
  - The lookup P(divio.cloud.divio#lookup) answers the same with the term V(environment_variables), under the same rules.
seealso:
  - module: divio.cloud.deployment_info
  - plugin: divio.cloud.divio
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Every variable of shop/live; sensitive ones without their value
  divio.cloud.environment_variable_info:
    application: shop
    environment: live
  delegate_to: localhost
  register: settings

- name: Refuse to deploy with DEBUG on in live
  ansible.builtin.assert:
    that: settings.environment_variables | selectattr('name', 'equalto', 'DEBUG') | map(attribute='value') | first == 'False'
    fail_msg: "shop/live would run with DEBUG on"

- name: One secret, for a task that needs it - never printed
  divio.cloud.environment_variable_info:
    application: shop
    environment: live
    name: SECRET_KEY
    reveal_sensitive: true
  delegate_to: localhost
  no_log: true
  register: secret_key
"""

RETURN = r"""
environment_variables:
  description:
    - The environment's variables, sorted by name; with O(name), that one (or none).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The variable's name.
      type: str
      sample: DEBUG
    value:
      description:
        - Its value; V(null) for a sensitive variable (or one of unknown sensitivity) unless O(reveal_sensitive=true).
      type: str
      sample: "False"
    is_sensitive:
      description:
        - Whether the variable is marked sensitive; V(null) when the API did not say (its value is then held back too).
      type: bool
      sample: false
"""

from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule
from ansible_collections.divio.cloud.plugins.module_utils.variables import environment_variables


class EnvironmentVariableInfo(DivioModule):
    argument_spec = dict(
        application=dict(type="str", required=True),
        environment=dict(type="str", required=True),
        name=dict(type="str"),
        reveal_sensitive=dict(type="bool", default=False),
    )

    def run(self, client):
        p = self.params
        return {"environment_variables": environment_variables(client, p["application"], p["environment"], name=p["name"],
                                                               reveal_sensitive=p["reveal_sensitive"])}


def main():
    EnvironmentVariableInfo().execute()


if __name__ == "__main__":
    main()
