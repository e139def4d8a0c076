#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: backup_upload
short_description: Push local backup files into a Divio environment, and optionally restore them
version_added: 0.2.0
description:
  - Puts local files into an environment as a new backup, the way C(divio app push db) and C(divio app push media) do
    (C(POST /apps/v3/backups/upload/), the upload by the handler the platform names, C(POST) of its C(finish_url)), waits
    until the platform has processed it, and with O(restore=true) restores it into the environment.
  - Each file is checked first, read whole with the same reader as M(divio.cloud.backup_download) (O(verify=read)); a
    database part must be a PostgreSQL custom-format dump or an SQL dump, a media part a tar archive. A file that fails
    fails the task before anything is sent.
  - All three upload handlers - C(exo-presigned-v1) (a streamed PUT, with requests), C(s3-sts-v1) (boto3, multipart
    with temporary credentials; C(AWS_ENDPOINT_URL_S3) / C(AWS_ENDPOINT_URL) are honoured as boto3 does) and
    C(az-sas-v1) (azure-storage-blob with a SAS URL). boto3 and azure-storage-blob are needed only when the platform
    names their handler; a missing one fails the task with the C(pip install) line before any byte is sent, and an
    unknown handler fails naming it.
  - Neither the API token nor a cookie goes to object storage or to C(finish_url). A C(finish_url) that does not
    answer or answers 5xx is tried 4 times. Memory stays flat - every file is streamed, read once.
  - The uploaded backup is temporary, as divio-cli's is (C(scheduled_for_deletion_at) outlasts the task's own
    timeouts by an hour), so it never counts as the environment's latest backup.
  - B(With O(restore=true) the environment's data is overwritten.) It then needs O(confirm), a target named C(live)
    needs O(allow_live), and a safety backup of the same services is taken first (O(safety_backup)).
author:
  - divio.cloud contributors (@divio)
options:
  files:
    description: The files to upload, one per service instance.
    type: list
    elements: dict
    required: true
    suboptions:
      service:
        description:
          - V(DATABASE), V(STORAGE) (the environment's one provisioned instance of that type), or V(TYPE:PREFIX) such as
            V(DATABASE:DEFAULT).
        type: str
        required: true
      path:
        description: The local file - a database dump, or a media tar archive with its entries at the root.
        type: path
        required: true
  verify:
    description:
      - V(read) reads each file whole with its format's own reader before anything is sent (C(pg_restore -f /dev/null)
        for a PostgreSQL custom-format dump). V(none) only checks that the file's format fits its service.
    type: str
    choices: [read, none]
    default: read
  restore:
    description: Restore the uploaded backup into the environment once the platform has processed it.
    type: bool
    default: false
  confirm:
    description:
      - With O(restore=true), required - C(<application slug>/<environment slug>) of the environment, for example
        V(shop/test). Any other value fails the task before anything is sent.
    type: str
  safety_backup:
    description: With O(restore=true), take a backup of the same services first; the upload starts only when it succeeded.
    type: bool
    default: true
  allow_live:
    description: With O(restore=true), an environment whose slug is V(live) is refused unless this is V(true).
    type: bool
    default: false
  notes:
    description: Notes stored with the uploaded backup.
    type: str
    default: ""
  upload_timeout:
    description: Seconds one file's verification, and then its upload, may take.
    type: float
    default: 3600
  wait_timeout:
    description: Seconds the platform may take to process the upload, and each of the safety backup and the restore.
    type: float
    default: 3600
  poll_interval:
    description: Seconds between two looks at a backup or restore the platform works on.
    type: float
    default: 2
extends_documentation_fragment:
  - divio.cloud.environment
  - divio.cloud.connection
  - divio.cloud.attributes.module_host
attributes:
  check_mode:
    support: full
    description: Resolves the environment and checks the files; sends nothing.
  diff_mode:
    support: none
    description: There is nothing to diff.
requirements:
  - boto3 (only when the platform hands out the C(s3-sts-v1) handler)
  - azure-storage-blob (only when the platform hands out the C(az-sas-v1) handler)
notes:
  - An upload always reports C(changed=true).
"""

EXAMPLES = r"""
- name: Push a database dump into test and restore it
  divio.cloud.backup_upload:
    application: shop
    environment: test
    files:
      - service: DATABASE
        path: /srv/dumps/shop.dump
    restore: true
    confirm: shop/test
  delegate_to: localhost
  register: pushed

- name: The safety backup to undo with
  ansible.builtin.debug:
    msg: "Undo with backup {{ pushed.safety_backup.uuid }}"
"""

RETURN = r"""
backup:
  description: The uploaded backup (C(uuid), C(state), C(success), C(scheduled_for_deletion_at),
    C(service_instance_backups)); V(null) in check mode.
  returned: success
  type: dict
parts:
  description: One entry per file - C(service) (C(TYPE:PREFIX)), C(service_instance), C(path), C(bytes), C(format),
    C(verification), and once sent C(handler) and C(sha256) (of the bytes sent).
  returned: success
  type: list
  elements: dict
safety_backup:
  description: The backup taken before the restore (C(uuid), C(taken_at), C(state), C(success)); V(null) without it.
  returned: success
  type: dict
restore:
  description: The restore as the API last showed it (C(uuid), C(finished), C(success), C(errors)); V(null) without
    O(restore).
  returned: success
  type: dict
"""

from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule
from ansible_collections.divio.cloud.plugins.module_utils.uploads import PushOptions, push_with


class BackupUpload(DivioModule):
    changes_something = True
    argument_spec = PushOptions.ARGUMENT_SPEC

    def run(self, client):
        return push_with(client, PushOptions.from_params(self.params, check_mode=self.module.check_mode))


def main():
    BackupUpload().execute()


if __name__ == "__main__":
    main()
