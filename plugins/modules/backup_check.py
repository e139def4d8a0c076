#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: backup_check
short_description: Check that Divio environments have recent backups, for one application or a whole fleet
version_added: 0.1.0
description:
  - For every (application, environment) asked for, finds the newest successful backup of each listed service
    type and judges it V(fresh) (at most O(max_age) old), V(stale), V(missing) (none at all, or no such
    environment) or V(error) (the API failed for that application).
  - Stale, missing and erroring environments are data, not task failures - the task fails only when nothing
    can be checked (bad input, a rejected token, an unreadable application list). Use RV(summary.ok) to gate,
    as the C(divio.cloud.backup_gate) role and the C(divio.cloud.check_backups) playbook do.
  - When the server ignores the C(backups/?environment=) filter, one pass over all backups serves every
    environment of every application.
author:
  - divio.cloud contributors (@divio)
options:
  applications:
    description:
      - Applications to check, by slug or id (each looked up as a slug first). Omitted, every application the token can see
        (narrowed by O(organisation)).
      - An application that cannot be found or read is reported with status V(error); the others are still checked.
    type: list
    elements: str
  organisation:
    description: Only applications of the organisation with this id, for example V(bagztldeadfdhlilnmpzx3twly).
    type: str
  environments:
    description:
      - Environment slugs to check in each application, for example V([live]). Omitted, every environment.
      - A listed slug that an application does not have is reported as V(missing).
    type: list
    elements: str
  services:
    description:
      - Service types that must each have a recent successful backup. Each type is judged on its own -
        the newest backup holding a service-instance backup of that type that ended without errors.
      - Known types are V(DATABASE) and V(STORAGE).
    type: list
    elements: str
    default: [DATABASE]
  max_age:
    description:
      - The oldest a backup may be and still count as fresh.
      - Seconds as a number, or a string with units V(s), V(m), V(h), V(d), V(w), such as V(36h) or V(2d).
    type: raw
    default: 24h
extends_documentation_fragment:
  - divio.cloud.connection
  - divio.cloud.attributes.module_host
  - divio.cloud.attributes.info_module
seealso:
  - module: divio.cloud.backup_info
"""

EXAMPLES = r"""
- name: Check every application's live database backups
  divio.cloud.backup_check:
    environments: [live]
    max_age: 24h
  delegate_to: localhost
  register: fleet

- name: Fail with one line per problem
  ansible.builtin.fail:
    msg: "{{ fleet.problems | join('\n') }}"
  when: not fleet.summary.ok

- name: Database and media storage of two applications, at most 36 hours old
  divio.cloud.backup_check:
    applications: [shop, blog]
    services: [DATABASE, STORAGE]
    max_age: 36h
  delegate_to: localhost
  register: two_apps
"""

RETURN = r"""
checks:
  description: One record per (application, environment), worst first (error, missing, stale, fresh).
  returned: success
  type: list
  elements: dict
  contains:
    application:
      description: Application id; V(null) if the application could not be found.
      type: str
    application_slug:
      description: Application slug (or the reference given, if it could not be found).
      type: str
    environment:
      description: Environment id; V(null) if it does not exist or could not be read.
      type: str
    environment_slug:
      description: Environment slug; V(null) when the application's environments could not be read.
      type: str
    status:
      description: V(fresh), V(stale), V(missing) or V(error) - the worst of the services.
      type: str
      sample: stale
    problems:
      description: One line per problem, empty when fresh.
      type: list
      elements: str
      sample: ["shop/live: newest DATABASE backup is 31h old (limit 24h)"]
    error:
      description: The error message when RV(checks[].status=error), else V(null).
      type: str
    uuid:
      description: Id of the stalest service's newest backup; V(null) when missing or error.
      type: str
    taken_at:
      description: Snapshot time of that backup.
      type: str
    age_seconds:
      description: Age of that backup's snapshot in seconds.
      type: int
    max_age_seconds:
      description: The limit in seconds.
      type: int
      sample: 86400
    max_age:
      description: The limit as given.
      type: str
      sample: 24h
    services:
      description: The judgement of each service type.
      type: list
      elements: dict
      contains:
        service:
          description: Service type.
          type: str
        status:
          description: V(fresh), V(stale) or V(missing).
          type: str
        uuid:
          description: Id of the newest backup holding a good part of this type.
          type: str
        taken_at:
          description: Snapshot time of that part.
          type: str
        age_seconds:
          description: Its age in seconds.
          type: int
        fresh:
          description: Whether it is at most O(max_age) old.
          type: bool
  sample:
    - application_slug: blog
      environment_slug: live
      status: stale
      problems: ["blog/live: newest DATABASE backup is 4d2h old (limit 24h)"]
summary:
  description: Counts by status, the total, and whether everything is fresh.
  returned: success
  type: dict
  sample: {total: 12, fresh: 8, stale: 1, missing: 2, error: 1, ok: false}
  contains:
    ok:
      description: True only when there are records and every one is fresh.
      type: bool
    total:
      description: Number of records.
      type: int
    fresh:
      description: Records with status V(fresh).
      type: int
    stale:
      description: Records with status V(stale).
      type: int
    missing:
      description: Records with status V(missing).
      type: int
    error:
      description: Records with status V(error).
      type: int
problems:
  description: Every record's problem lines, worst first.
  returned: success
  type: list
  elements: str
"""

from ansible_collections.divio.cloud.plugins.module_utils.checks import DEFAULT_MAX_AGE, DEFAULT_SERVICES, check_backups
from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule


class BackupCheck(DivioModule):
    argument_spec = dict(
        applications=dict(type="list", elements="str"),
        organisation=dict(type="str"),
        environments=dict(type="list", elements="str"),
        services=dict(type="list", elements="str", default=list(DEFAULT_SERVICES)),
        max_age=dict(type="raw", default=DEFAULT_MAX_AGE),
    )

    def run(self, client):
        p = self.params
        records, summary = check_backups(client, applications=p["applications"], organisation=p["organisation"],
                                         environments=p["environments"], services=p["services"], max_age=p["max_age"])
        return dict(checks=records, summary=summary, problems=[line for record in records for line in record["problems"]])


def main():
    BackupCheck().execute()


if __name__ == "__main__":
    main()
