#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: application_info
short_description: List Divio applications
version_added: 0.1.0
description:
  - Lists the Divio applications the API token can see, optionally narrowed by slug, id,
    organisation or exact name.
author:
  - divio.cloud contributors (@divio)
options:
  slug:
    description: Only the application with this slug.
    type: str
  uuid:
    description: Only the application with this id (ids are opaque strings, compared exactly as the API writes them).
    type: str
  organisation:
    description: Only applications of the organisation with this id, for example V(bagztldeadfdhlilnmpzx3twly).
    type: str
  name:
    description: Only applications whose name is exactly this.
    type: str
extends_documentation_fragment:
  - divio.cloud.connection
  - divio.cloud.attributes.module_host
  - divio.cloud.attributes.info_module
"""

EXAMPLES = r"""
- name: List every application the token can see
  divio.cloud.application_info:
  delegate_to: localhost
  register: apps

- name: Find one application by slug, against the bundled simulator
  divio.cloud.application_info:
    slug: shop
    api_url: http://127.0.0.1:8000
  delegate_to: localhost
  register: shop

- name: Applications of one organisation
  divio.cloud.application_info:
    organisation: bagztldeadfdhlilnmpzx3twly
  delegate_to: localhost
  register: org_apps
"""

RETURN = r"""
applications:
  description:
    - The matching applications as the Divio API returns them. Empty when nothing matches.
  returned: success
  type: list
  elements: dict
  contains:
    uuid:
      description: Application id (an opaque string).
      type: str
      returned: always
      sample: 0b5e3d6c-6a4e-4c39-9f0e-8a1d2c3b4a59
    slug:
      description: Application slug.
      type: str
      returned: always
      sample: shop
    name:
      description: Application name.
      type: str
      returned: always
      sample: Shop
    organisation:
      description: Id of the owning organisation.
      type: str
      returned: always
"""

from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule
from ansible_collections.divio.cloud.plugins.module_utils.resources import list_applications


class ApplicationInfo(DivioModule):
    argument_spec = dict(
        slug=dict(type="str"),
        uuid=dict(type="str"),
        organisation=dict(type="str"),
        name=dict(type="str"),
    )

    def run(self, client):
        p = self.params
        applications = list_applications(client, slug=p["slug"], uuid=p["uuid"], organisation=p["organisation"], name=p["name"])
        return {"applications": applications}


def main():
    ApplicationInfo().execute()


if __name__ == "__main__":
    main()
