#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: environment_info
short_description: List the environments of a Divio application
version_added: 0.1.0
description:
  - Lists the environments (C(test), C(live), custom ones) of one Divio application.
author:
  - divio.cloud contributors (@divio)
options:
  application:
    description:
      - The application, by slug or by id. It is looked up as a slug first and read by id only when no application has that slug.
      - An application that does not exist fails the task with C(application 'X' not found).
      - A slug that several applications have is a warning naming every match; the first the API lists is used.
    type: str
    required: true
  slug:
    description: Only the environment with this slug, for example V(live). No match returns an empty list.
    type: str
  uuid:
    description: Only the environment with this id.
    type: str
extends_documentation_fragment:
  - divio.cloud.connection
  - divio.cloud.attributes.module_host
  - divio.cloud.attributes.info_module
"""

EXAMPLES = r"""
- name: All environments of the shop application
  divio.cloud.environment_info:
    application: shop
  delegate_to: localhost
  register: envs

- name: The live environment only
  divio.cloud.environment_info:
    application: shop
    slug: live
  delegate_to: localhost
  register: live

- name: Print the branch each environment deploys
  ansible.builtin.debug:
    msg: "{{ item.slug }} deploys {{ item.branch }}"
  loop: "{{ envs.environments }}"
"""

RETURN = r"""
environments:
  description:
    - The environments as the Divio API returns them, each with the application's slug added.
  returned: success
  type: list
  elements: dict
  contains:
    uuid:
      description: Environment id (an opaque string).
      type: str
      returned: always
    slug:
      description: Environment slug, for example V(live).
      type: str
      returned: always
      sample: live
    application:
      description: Id of the application.
      type: str
      returned: always
    application_slug:
      description: Slug of the application (added by this module).
      type: str
      returned: always
      sample: shop
    branch:
      description: Git branch the environment deploys.
      type: str
      returned: when the API provides it
"""

from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule
from ansible_collections.divio.cloud.plugins.module_utils.resources import get_application, list_environments


class EnvironmentInfo(DivioModule):
    argument_spec = dict(
        application=dict(type="str", required=True),
        slug=dict(type="str"),
        uuid=dict(type="str"),
    )

    def run(self, client):
        application = get_application(client, self.params["application"])
        environments = list_environments(client, application, slug=self.params["slug"], uuid=self.params["uuid"])
        return {"environments": environments}


def main():
    EnvironmentInfo().execute()


if __name__ == "__main__":
    main()
