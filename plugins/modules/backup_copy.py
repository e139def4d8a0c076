#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: backup_copy
short_description: Copy a proven backup of one Divio environment into another (refresh test from live)
version_added: 0.2.0
description:
  - Copies the parts of one backup of the source environment into a target environment - of the same application or
    of another one - in one task. The API has no copy call, so this is divio-cli's pull and push with a proof in
    between.
  - "The order, and what each refusal leaves untouched: (1) every option is checked and source and target resolved; the
    target equal to the source, a wrong O(confirm), a target named C(live) without O(allow_live), a part with no
    matching target service instance or one of another engine (a MySQL dump into PostgreSQL) fail before any POST.
    (2) The source parts are downloaded and verified as M(divio.cloud.backup_download) does; a part that fails, or
    could not be verified, stops the copy before anything is uploaded, backed up or restored. (3) A safety backup of
    the target's affected services. (4) C(POST /apps/v3/backups/upload/); from here the upload handler is known, and a
    missing optional library fails now, before any byte goes. (5) Upload, finish, wait, restore into the target."
  - Parts map by type and prefix (C(DATABASE:DEFAULT) to C(DATABASE:DEFAULT)); across applications whose prefixes
    differ, O(prefix_map) says which goes where.
  - The result names the source backup, the safety backup (to undo with), the uploaded backup, the restore, and per
    part the bytes and sha256 copied - the sha256 of the bytes uploaded, which must equal that of the bytes
    downloaded. A failure after the safety backup says which steps happened.
  - Uploads use the handler the platform names - C(exo-presigned-v1), C(s3-sts-v1) (needs boto3) or C(az-sas-v1)
    (needs azure-storage-blob) - as M(divio.cloud.backup_upload) does, with no API token or cookie sent to storage.
author:
  - divio.cloud contributors (@divio)
options:
  environment:
    description:
      - The source environment's slug, for example V(live).
      - An environment the application does not have fails the task, naming the ones it has.
    type: str
    required: true
  backup:
    description:
      - A backup id of the source environment, or V(latest) - the latest good backup by the rules of
        M(divio.cloud.backup_info), O(min_retention) included.
    type: str
    default: latest
  services:
    description: Which parts to copy - V(DATABASE), V(STORAGE), or V(TYPE:PREFIX) such as V(DATABASE:DEFAULT).
    type: list
    elements: str
    default: [DATABASE]
  target_application:
    description: The target's application, by slug or id. Omitted, the source's application.
    type: str
  target_environment:
    description: The target environment's slug, for example V(test).
    type: str
    required: true
  confirm:
    description:
      - The safety catch - C(<target application slug>/<target environment slug>), for example V(shop/test). Any other
        value fails the task before anything is sent.
    type: str
    required: true
  allow_live:
    description: A target whose slug is V(live) is refused unless this is V(true).
    type: bool
    default: false
  safety_backup:
    description: Take a backup of the target's affected services first; the upload starts only when it succeeded.
    type: bool
    default: true
  verify:
    description:
      - How the source is proven before anything is sent - V(read) (every byte with the format's own reader) or
        V(restore) (a PostgreSQL dump restored into a throwaway server), as in M(divio.cloud.backup_download).
    type: str
    choices: [read, restore]
    default: read
  prefix_map:
    description:
      - Source prefix to target prefix, for copies between applications whose service prefixes differ, for example
        C(DEFAULT) to C(MAIN). A prefix not in the map goes to the same prefix.
    type: dict
  work_dir:
    description:
      - A directory for the downloaded files. The copy works in a private directory made in it (mode C(0700), files
        C(0600)) and removes it afterwards. Omitted, the system's temporary directory.
    type: path
  download_timeout:
    description: Seconds one file's download may take.
    type: float
    default: 3600
  max_download_bytes:
    description: The most bytes one file may have.
    type: int
    default: 214748364800
  restore_timeout:
    description: Seconds the verification of one file may take.
    type: float
    default: 3600
  upload_timeout:
    description: Seconds one file's upload may take.
    type: float
    default: 3600
  wait_timeout:
    description: Seconds each wait on the platform may take - preparing a download, the safety backup, processing the
      upload, the restore.
    type: float
    default: 3600
  poll_interval:
    description: Seconds between two looks at something the platform works on.
    type: float
    default: 2
  min_retention:
    description:
      - With O(backup=latest), a backup due for deletion sooner than this from now does not count. V(0) turns the rule
        off. Seconds, or a string with units V(s), V(m), V(h), V(d), V(w), such as V(24h).
    type: raw
    default: 24h
extends_documentation_fragment:
  - divio.cloud.environment
  - divio.cloud.connection
  - divio.cloud.attributes.module_host
attributes:
  check_mode:
    support: full
    description: Resolves and checks everything and says what would be copied where; POSTs nothing, uploads nothing.
  diff_mode:
    support: none
    description: There is nothing to diff.
requirements:
  - boto3 (only when the platform hands out the C(s3-sts-v1) handler)
  - azure-storage-blob (only when the platform hands out the C(az-sas-v1) handler)
notes:
  - A copy always reports C(changed=true). The PostgreSQL client (C(pg_restore)) is needed to verify PostgreSQL dumps.
"""

EXAMPLES = r"""
- name: Refresh test from live's latest database backup
  divio.cloud.backup_copy:
    application: shop
    environment: live
    target_environment: test
    confirm: shop/test
  delegate_to: localhost
  register: copied

- name: Migrate a database into another application
  divio.cloud.backup_copy:
    application: shop
    environment: live
    target_application: shop-next
    target_environment: test
    confirm: shop-next/test
    prefix_map: {DEFAULT: MAIN}
  delegate_to: localhost
"""

RETURN = r"""
msg:
  description: What was copied (or in check mode would be) from where to where.
  returned: success
  type: str
source:
  description: C(application), C(environment) and C(backup) (C(uuid), C(taken_at), C(dated_by)) of the source.
  returned: success
  type: dict
target:
  description: C(application) and C(environment) of the target.
  returned: success
  type: dict
safety_backup:
  description: The target's backup taken first (C(uuid), C(taken_at), C(state), C(success)); V(null) without it.
  returned: success
  type: dict
uploaded_backup:
  description: The backup uploaded into the target (C(uuid), C(state), C(success), C(scheduled_for_deletion_at),
    C(service_instance_backups)); V(null) in check mode.
  returned: success
  type: dict
restore:
  description: The restore into the target as the API last showed it; V(null) in check mode.
  returned: success
  type: dict
parts:
  description: Per part - C(service), C(source_part), C(target_service), C(target_service_instance), C(bytes), and once
    copied C(sha256) (of the bytes uploaded, equal to the bytes downloaded), C(handler), C(format), C(verification).
  returned: success
  type: list
  elements: dict
"""

from ansible_collections.divio.cloud.plugins.module_utils.copies import CopyOptions, copy_backup
from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule


class BackupCopy(DivioModule):
    changes_something = True
    argument_spec = dict(
        application=dict(type="str", required=True),
        environment=dict(type="str", required=True),
        **CopyOptions.ARGUMENT_SPEC
    )

    def run(self, client):
        p = self.params
        options = CopyOptions.from_params(p)
        return copy_backup(client, p["application"], p["environment"], options, check_mode=self.module.check_mode)


def main():
    BackupCopy().execute()


if __name__ == "__main__":
    main()
