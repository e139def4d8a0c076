#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: backup
short_description: Take a backup of a Divio environment and wait for it
version_added: 0.1.0
description:
  - Creates a backup of an environment's service instances (C(POST /apps/v3/backups/), as C(divio app backup) does)
    and by default waits until it has completed.
  - With O(only_if_older_than), a backup is created only when the latest qualifying backup is older than that,
    so repeated runs are idempotent.
  - A backup that ends with C(FAILURE) or C(PARTIAL) fails the task with the errors of its service-instance
    backups; a wait that times out fails with the backup's id, so it can be followed up.
  - Every option is checked before anything is sent, so a bad value never leaves a backup behind. Whatever fails
    after the backup was created (the wait, a lost connection, its outcome) fails the task with a message naming
    the created backup's id.
author:
  - divio.cloud contributors (@divio)
options:
  services:
    description:
      - What to back up, for example V([DATABASE]) - every provisioned service instance of that type in the
        environment - or V([DATABASE:DEFAULT]) (V(TYPE:PREFIX)) for one instance. Such a backup satisfies the same
        O(divio.cloud.backup_info#module:services) rule of M(divio.cloud.backup_info) and M(divio.cloud.backup_check).
      - Omitted, every provisioned service instance of the environment (a C(NEW) one has nothing to back up).
    type: list
    elements: str
  notes:
    description: Notes stored with the backup, as C(divio app backup) and the Control Panel show them.
    type: str
    default: ""
  retention:
    description:
      - How long the platform keeps the backup - sent as its C(scheduled_for_deletion_at) (now plus this).
        Omitted, the platform's own retention applies.
      - The checks count a backup only while its deletion is more than their O(min_retention) (default 24 hours)
        away, so a retention of a day or less suits a throw-away copy, not a restore point.
      - Seconds as a number, or a string with units V(s), V(m), V(h), V(d), V(w), such as V(90m) or V(30d).
    type: raw
  min_retention:
    description:
      - With O(only_if_older_than), backups due for deletion sooner than this from now are left out of the latest
        backup it judges, as in M(divio.cloud.backup_info). V(0) turns the rule off.
    type: raw
    default: 24h
  # wait, wait_timeout and poll_interval are described in the divio.cloud.wait fragment.
  wait_timeout:
    type: int
    default: 1800
  poll_interval:
    default: 2
  only_if_older_than:
    description:
      - Create a backup only when the latest qualifying backup (of O(services), when given) is older than this,
        or there is none. Otherwise report C(changed=false) and return that backup.
      - Seconds as a number, or a string with units V(s), V(m), V(h), V(d), V(w), such as V(24h).
    type: raw
    aliases: [min_age]
notes:
  - O(wait_timeout) is at most 604800 (a week), O(poll_interval) at most 3600.
extends_documentation_fragment:
  - divio.cloud.environment
  - divio.cloud.wait
  - divio.cloud.connection
  - divio.cloud.attributes.module_host
attributes:
  check_mode:
    support: full
    description: Reports whether a backup would be created (C(changed)), and creates nothing.
  diff_mode:
    support: none
    description: There is nothing to diff.
"""

EXAMPLES = r"""
- name: Back up the live database before deploying, unless there is one from the last hour
  divio.cloud.backup:
    application: shop
    environment: live
    services: [DATABASE]
    notes: before deploy {{ lookup('ansible.builtin.pipe', 'git rev-parse --short HEAD') }}
    only_if_older_than: 1h
  delegate_to: localhost
  register: pre_deploy_backup

- name: A database copy for a migration rehearsal, deleted by the platform after two days
  divio.cloud.backup:
    application: shop
    environment: live
    services: ["DATABASE:DEFAULT"]
    notes: migration rehearsal
    retention: 2d
  delegate_to: localhost

- name: Start a full backup and do not wait for it
  divio.cloud.backup:
    application: shop
    environment: test
    wait: false
  delegate_to: localhost
"""

RETURN = r"""
backup:
  description:
    - The backup, shaped like one entry of M(divio.cloud.backup_info) - RV(backup.uuid), RV(backup.state),
      RV(backup.success), RV(backup.taken_at), RV(backup.age_seconds), RV(backup.size),
      RV(backup.service_instance_backups) and the rest.
    - With O(only_if_older_than) and a recent enough backup, that backup. In check mode, when a backup would be
      created, V(null).
  returned: success
  type: dict
  contains:
    uuid:
      description: Backup id.
      type: str
    state:
      description: Backup state; V(COMPLETED) once done.
      type: str
    success:
      description: V(SUCCESS) once done successfully.
      type: str
    taken_at:
      description: Snapshot time (the oldest of its parts), dated as M(divio.cloud.backup_info) dates it.
      type: str
    dated_by:
      description: The field RV(backup.taken_at) came from.
      type: str
    scheduled_for_deletion_at:
      description: When the platform will delete the backup (see O(retention)).
      type: str
    age_seconds:
      description: Seconds since the snapshot.
      type: int
    size:
      description: Sum of the parts' sizes in bytes; V(null) when a part does not say its size.
      type: int
    service_instance_backups:
      description: The parts, as in M(divio.cloud.backup_info).
      type: list
      elements: dict
"""

from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule
from ansible_collections.divio.cloud.plugins.module_utils.taking import TakeOptions, take_backup_with


class Backup(DivioModule):
    changes_something = True
    argument_spec = TakeOptions.ARGUMENT_SPEC

    def run(self, client):
        changed, backup = take_backup_with(client, TakeOptions.from_params(self.params, check_mode=self.module.check_mode))
        return {"changed": changed, "backup": backup}


def main():
    Backup().execute()


if __name__ == "__main__":
    main()
