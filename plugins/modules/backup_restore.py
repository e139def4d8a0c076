#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: backup_restore
short_description: Restore a Divio backup into the environment it was taken from
version_added: 0.2.0
description:
  - Restores parts of a backup (C(POST /apps/v3/backup-restores/), as C(divio app push db) does after its upload) and
    waits until the platform says the restore has C(finished); success is C(success == SUCCESS).
  - The API restores each part into the service instance it was taken from, so only a backup of the environment named
    here can be restored; a backup of another environment is refused. (Copying live into test is a download from live
    and an upload to test, which this module does not do.)
  - B(A restore overwrites the environment's database or media.) It needs O(confirm) set to
    C(<application slug>/<environment slug>) of that environment, and by default takes a safety backup of the same
    services first, which must succeed; its id is returned, so the restore can be undone.
  - Every option and the backup are checked before anything is sent. A failure names the restore, the backup, the
    environment and the API's errors.
author:
  - divio.cloud contributors (@divio)
options:
  backup:
    description:
      - The backup to restore - an id, or V(latest) for the latest good backup of the environment by the rules of
        M(divio.cloud.backup_info) (O(min_retention) and O(services) included), chosen before the safety backup is taken.
    type: str
    required: true
  services:
    description:
      - Which parts to restore, for example V([DATABASE]) or V([DATABASE:DEFAULT]). Omitted, every part of the backup.
    type: list
    elements: str
  confirm:
    description:
      - The safety catch - C(<application slug>/<environment slug>) of the environment to restore into, for example
        V(shop/test). Any other value fails the task before anything is sent.
    type: str
    required: true
  safety_backup:
    description: Take a backup of the same services first, wait for it, and restore only when it succeeded.
    type: bool
    default: true
  notes:
    description: Notes stored with the restore.
    type: str
    default: ""
  min_retention:
    description:
      - With O(backup=latest), a backup due for deletion (C(scheduled_for_deletion_at)) sooner than this from now does not
        count - the temporary backups C(divio app pull db) makes, deleted an hour later, are no restore point.
      - V(0) turns the rule off. Seconds as a number, or a string with units V(s), V(m), V(h), V(d), V(w), such as V(24h).
    type: raw
    default: 24h
  wait_timeout:
    description: Seconds the safety backup and the restore may take together.
    type: float
    default: 3600
  poll_interval:
    description: Seconds between two looks at the safety backup or the restore.
    type: float
    default: 2
extends_documentation_fragment:
  - divio.cloud.environment
  - divio.cloud.connection
  - divio.cloud.attributes.module_host
attributes:
  check_mode:
    support: full
    description: Resolves and checks the backup and O(confirm), reports what would be restored, and sends nothing.
  diff_mode:
    support: none
    description: There is nothing to diff.
notes:
  - A restore always reports C(changed=true); it is not idempotent (the data may have changed since).
"""

EXAMPLES = r"""
- name: Put last night's database back into the test environment
  divio.cloud.backup_restore:
    application: shop
    environment: test
    backup: latest
    services: [DATABASE]
    confirm: shop/test
  delegate_to: localhost
  register: restored

- name: The safety backup taken before it
  ansible.builtin.debug:
    msg: "Undo with backup {{ restored.safety_backup.uuid }}"
"""

RETURN = r"""
backup:
  description: The backup restored (C(uuid), C(taken_at), C(dated_by), C(trigger), C(notes)).
  returned: success
  type: dict
parts:
  description: The parts restored (or, in check mode, that would be) - C(uuid), C(service_type), C(prefix).
  returned: success
  type: list
  elements: dict
restore:
  description: The restore as the API last showed it - C(uuid), C(started_at), C(finished), C(success), C(errors).
    V(null) in check mode.
  returned: success
  type: dict
safety_backup:
  description: The backup taken before the restore (C(uuid), C(taken_at), C(state), C(success)); V(null) with
    O(safety_backup=false) or in check mode.
  returned: success
  type: dict
"""

from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule
from ansible_collections.divio.cloud.plugins.module_utils.restores import RestoreOptions, restore


class BackupRestore(DivioModule):
    changes_something = True
    argument_spec = dict(
        application=dict(type="str", required=True),
        environment=dict(type="str", required=True),
        **RestoreOptions.ARGUMENT_SPEC
    )

    def run(self, client):
        p = self.params
        return restore(client, p["application"], p["environment"], RestoreOptions.from_params(p),
                       check_mode=self.module.check_mode)


def main():
    BackupRestore().execute()


if __name__ == "__main__":
    main()
