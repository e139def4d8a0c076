#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: backup_info
short_description: Find the latest good backup of Divio environments
version_added: 0.1.0
description:
  - Answers "what is the latest good backup of this environment, what does it contain, and how old is it?"
    for one environment or every environment of a Divio application.
  - The server's undocumented C(backups/?environment=) filter is used when it works and every backup is
    checked again either way, so the answer is the same whether the server honours it or ignores it.
  - Only the backups that can still be the newest have their service-instance backups fetched (by id).
author:
  - divio.cloud contributors (@divio)
options:
  application:
    description: The application, by slug or by id. It is looked up as a slug first and read by id only when no application has that slug.
    type: str
    required: true
  environment:
    description:
      - Environment slug, for example V(live). Omitted, every environment of the application is reported.
      - An environment the application does not have fails the task, naming the ones it has.
    type: str
  latest:
    description:
      - V(true), one entry per environment - its newest qualifying backup. An environment without one still
        gets an entry, with RV(backups[].uuid=null), RV(backups[].age_seconds=null) and RV(backups[].fresh=false).
      - V(false), every qualifying backup of those environments, newest first, at most O(limit) per environment.
    type: bool
    default: true
  limit:
    description: With O(latest=false), the most backups returned per environment.
    type: int
    default: 100
  successful_only:
    description:
      - V(true), only finished good backups qualify - C(state=COMPLETED) and C(success=SUCCESS), or with
        O(services) the per-service rule below.
      - V(false), any backup qualifies, also running and failed ones.
    type: bool
    default: true
  services:
    description:
      - Service types the backup must hold, for example V([DATABASE]) or V([DATABASE, STORAGE]).
      - A backup then qualifies when, for every listed type, it holds a service-instance backup of that type
        that ended without errors - so a PARTIAL backup whose database part succeeded counts for V([DATABASE]).
      - Known types are V(DATABASE) and V(STORAGE) (case does not matter).
    type: list
    elements: str
  max_age:
    description:
      - Adds RV(backups[].fresh) to each entry - whether its snapshot is at most this old.
      - Seconds as a number, or a string with units V(s), V(m), V(h), V(d), V(w), such as V(90m), V(36h), V(2d), V(1w) or V(1d12h).
    type: raw
extends_documentation_fragment:
  - divio.cloud.connection
  - divio.cloud.attributes.module_host
  - divio.cloud.attributes.info_module
notes:
  - Newest means the latest snapshot time (RV(backups[].taken_at)), not the latest creation time.
"""

EXAMPLES = r"""
- name: Latest successful database backup of live
  divio.cloud.backup_info:
    application: shop
    environment: live
    services: [DATABASE]
    max_age: 24h
  delegate_to: localhost
  register: backup

- name: Fail unless it is fresh
  ansible.builtin.assert:
    that: backup.backups[0].fresh
    fail_msg: "shop/live: newest database backup is {{ backup.backups[0].age_seconds }} s old"

- name: The last ten backups of every environment, failed ones included
  divio.cloud.backup_info:
    application: shop
    latest: false
    successful_only: false
    limit: 10
  delegate_to: localhost
  register: history

- name: Set the connection once for every divio.cloud module
  module_defaults:
    group/divio.cloud.divio:
      api_url: http://127.0.0.1:8000
  block:
    - name: Latest backup of each environment of blog
      divio.cloud.backup_info:
        application: blog
      delegate_to: localhost
      register: blog_backups
"""

RETURN = r"""
backups:
  description:
    - One entry per environment (O(latest=true)) or per qualifying backup (O(latest=false)), environments by slug.
  returned: success
  type: list
  elements: dict
  contains:
    application:
      description: Application id.
      type: str
      returned: always
    application_slug:
      description: Application slug.
      type: str
      returned: always
      sample: shop
    environment:
      description: Environment id.
      type: str
      returned: always
    environment_slug:
      description: Environment slug.
      type: str
      returned: always
      sample: live
    uuid:
      description: Backup id; V(null) when the environment has no qualifying backup.
      type: str
      returned: always
    state:
      description: Backup state, V(COMPLETED) when finished.
      type: str
      returned: always
    success:
      description: V(SUCCESS), V(FAILURE), V(PARTIAL), or V(null) while running.
      type: str
      returned: always
    trigger:
      description: What started the backup, for example V(MANUAL) or V(SCHEDULED).
      type: str
      returned: always
    notes:
      description: Notes attached to the backup.
      type: str
      returned: always
    created_at:
      description: When the backup was created (as the API sends it).
      type: str
      returned: always
    started_at:
      description: When the backup started.
      type: str
      returned: always
    ended_at:
      description: When the backup ended.
      type: str
      returned: always
    scheduled_for_deletion_at:
      description: When the backup will be deleted, if scheduled.
      type: str
      returned: always
    taken_at:
      description:
        - Snapshot time, ISO 8601 UTC - the oldest C(taken_at) among the service-instance backups that count
          (those of O(services) when given, else all).
      type: str
      returned: always
      sample: "2026-11-23T02:11:22Z"
    age_seconds:
      description: Seconds between RV(backups[].taken_at) and now; V(null) without a snapshot.
      type: int
      returned: always
      sample: 35112
    fresh:
      description: Whether RV(backups[].age_seconds) is at most O(max_age). Always V(false) for an environment without a qualifying backup.
      type: bool
      returned: when O(max_age) is given, and for environments without a qualifying backup
    size:
      description: Sum of the sizes of the service-instance backups, in bytes.
      type: int
      returned: always
    services:
      description: Service types of the parts that made the backup qualify.
      type: list
      elements: str
      returned: always
      sample: [DATABASE, STORAGE]
    service_instance_backups:
      description: The backup's parts, one per service instance.
      type: list
      elements: dict
      returned: always
      contains:
        uuid:
          description: Service-instance backup id.
          type: str
        service_instance:
          description: Service instance id.
          type: str
        service_type:
          description: V(DATABASE) or V(STORAGE).
          type: str
        prefix:
          description: Service instance prefix, for example V(DEFAULT).
          type: str
        queued_at:
          description: When the part was queued.
          type: str
        started_at:
          description: When the part started.
          type: str
        ended_at:
          description: When the part ended; V(null) if it did not.
          type: str
        taken_at:
          description: Snapshot time of the part.
          type: str
        size:
          description: Size in bytes.
          type: int
        errors:
          description: Errors reported for the part; empty on success.
          type: list
          elements: str
"""

from ansible_collections.divio.cloud.plugins.module_utils.backups import find_backups
from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule


class BackupInfo(DivioModule):
    argument_spec = dict(
        application=dict(type="str", required=True),
        environment=dict(type="str"),
        latest=dict(type="bool", default=True),
        limit=dict(type="int", default=100),
        successful_only=dict(type="bool", default=True),
        services=dict(type="list", elements="str"),
        max_age=dict(type="raw"),
    )

    def run(self, client):
        p = self.params
        return {"backups": find_backups(client, p["application"], environment=p["environment"], latest=p["latest"],
                                        successful_only=p["successful_only"], services=p["services"],
                                        max_age=p["max_age"], limit=p["limit"])}


def main():
    BackupInfo().execute()


if __name__ == "__main__":
    main()
