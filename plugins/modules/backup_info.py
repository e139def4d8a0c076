#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

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
  environment:
    description:
      - Environment slug, for example V(live), or id. Omitted, every environment of the application is reported.
      - A slug that several environments of the application have is a warning naming every match; the first is used.
      - An environment the application does not have fails the task, naming the ones it has.
    required: false
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
      - V(true), only finished good backups qualify - C(state=COMPLETED) and C(success=SUCCESS) with every
        service-instance backup usable, or with O(services) the per-service rule below. A service-instance backup
        is usable when it reports no errors and has ended (its C(ended_at), or its backup ended C(SUCCESS)).
      - V(false), any backup qualifies, also running and failed ones.
    type: bool
    default: true
  services:
    description:
      - What the backup must hold, for example V([DATABASE]) or V([DATABASE, STORAGE]). Each entry is a service type
        or V(TYPE:PREFIX), such as V(DATABASE:DEFAULT), for one service instance.
      - A type needs a usable service-instance backup of every provisioned instance of that type in the environment
        (an instance with C(service_status=NEW) holds nothing yet and is not needed) and at least one usable one of the
        type. V(TYPE:PREFIX) needs a usable one of that instance. So a PARTIAL backup whose database part succeeded
        counts for V([DATABASE]), and with two databases V([DATABASE]) needs both in the same backup.
      - A service-instance backup without C(service_type) has the type of the service instance it names.
      - Known types are V(DATABASE) and V(STORAGE) (case does not matter).
    type: list
    elements: str
  max_age:
    description:
      - Adds RV(backups[].fresh) to each entry - whether its snapshot is at most this old.
      - Seconds as a number, or a string with units V(s), V(m), V(h), V(d), V(w), such as V(90m), V(36h), V(2d), V(1w) or V(1d12h).
    type: raw
  # min_retention is described in the divio.cloud.min_retention fragment.
extends_documentation_fragment:
  - divio.cloud.min_retention
  - divio.cloud.environment
  - divio.cloud.connection
  - divio.cloud.attributes.module_host
  - divio.cloud.attributes.info_module
notes:
  - Newest means the latest snapshot time (RV(backups[].taken_at)), not the latest creation time.
  - A service-instance backup is dated by its C(taken_at), else its C(started_at), else its C(ended_at), else its
    backup's C(started_at), else C(ended_at) - never later than its data was captured; RV(backups[].dated_by) says
    which field it was.
  - A backup with an event time (C(created_at), C(queued_at), C(started_at), C(ended_at), C(taken_at)) more than
    5 minutes (the clock-skew allowance) in the future, with a time that is no date, or that cannot be dated at all,
    is skipped with a warning naming it, and the next older backup is judged. Ages are never negative. Only a
    backup that could have been the answer is screened so - one that ended before the newest kept candidates of
    its environment cannot be, and a bad time on it is not reported.
  - Ids are opaque strings, returned as the API writes them.
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

- name: Latest backup of the DEFAULT database of live, temporary ones (divio app pull) included
  divio.cloud.backup_info:
    application: shop
    environment: live
    services: ["DATABASE:DEFAULT"]
    min_retention: 0
  delegate_to: localhost
  register: default_database

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
      description: When the platform will delete the backup, if scheduled (see O(min_retention)).
      type: str
      returned: always
    taken_at:
      description:
        - Snapshot time, ISO 8601 UTC - the oldest among the service-instance backups that count (those of
          O(services) when given, else all), each dated as the notes say.
      type: str
      returned: always
      sample: "2026-11-23T02:11:22Z"
    dated_by:
      description:
        - The field RV(backups[].taken_at) came from - V(taken_at), V(started_at) or V(ended_at) of that
          service-instance backup, or V(backup.started_at) / V(backup.ended_at); V(null) without a snapshot.
      type: str
      returned: always
      sample: taken_at
    warnings:
      description:
        - Backups of this environment skipped as unusable (dated in the future, not dated at all, a time that is no
          date), and O(services) entries that name no instance. The task shows them as warnings too - also those of
          an environment that, with O(latest=false), has no entry.
      type: list
      elements: str
      returned: always
      sample: ["shop/live: skipped backup vyn5jrwaenga7kzevilxs66hd4: ended_at '2099-01-01T00:00:00Z' of backup
        vyn5jrwaenga7kzevilxs66hd4 is in the future (more than the 5 min clock-skew allowance); the next older backup
        was judged."]
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
      description: Sum of the sizes of the service-instance backups, in bytes; V(null) when one of them does not say its size.
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
          description: V(DATABASE) or V(STORAGE) - as sent, or else the type of its service instance.
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
          description: Snapshot time of the part, as sent (may be V(null)).
          type: str
        size:
          description: Size in bytes, as sent (may be V(null)).
          type: int
        errors:
          description: Errors reported for the part; empty on success.
          type: list
          elements: str
"""

from ansible_collections.divio.cloud.plugins.module_utils.backups import FindOptions, find_backups_with
from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule


class BackupInfo(DivioModule):
    argument_spec = dict(
        application=dict(type="str", required=True),
        **FindOptions.ARGUMENT_SPEC
    )

    def run(self, client):
        # Collected apart from the entries: with latest=false an environment may end with none to carry them.
        warnings = []
        backups = find_backups_with(client, self.params["application"], FindOptions.from_params(self.params),
                                    warnings=warnings)
        for warning in warnings:
            self.module.warn(warning)
        return {"backups": backups}


def main():
    BackupInfo().execute()


if __name__ == "__main__":
    main()
