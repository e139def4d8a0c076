#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: backup_download
short_description: Download a Divio backup's files and prove they can be read or restored
version_added: 0.2.0
description:
  - Downloads the parts of one backup of an environment into a directory, the way C(divio app pull db) and
    C(divio app pull media) do (C(POST /apps/v3/backup-downloads/), then the download part is polled until the
    platform has prepared the file), and verifies each file.
  - The file comes from object storage, another host than the API. No C(Authorization) header and no cookie is ever
    sent there, on at most 5 redirects either. It is streamed as served (C(Content-Encoding) is not decoded) to a
    temporary file in O(dest) with bounded memory, its sha256 computed on the way. The body may not be longer than the
    size the API gives for the part (the size of the object as stored, which is what is kept) - the download stops at
    the first byte past it, so a storage host that sends more never fills the disk. Only a complete, verified file is
    renamed into place, with mode C(0600) (dumps hold production data). A partial or unverified file is never left
    under the final name, nor a temporary file behind.
  - A run killed during a download cannot remove its temporary file (C(.divio-download-<pid>-...part)). The next run
    into O(dest) removes those whose run is gone - only a regular file (never a symbolic link) owned by the account
    running the task, whose name says which process made it, when that process has ended. One named like it that
    fails a rule is left alone with a warning; one of a run still going is left alone.
  - File names say what they hold - C(<application>-<environment>-<backup id>-<TYPE>-<PREFIX>.<ext>), with C(.dump)
    for a PostgreSQL custom-format dump, C(.sql), C(.tar.gz) or C(.tar).
  - Idempotent. O(dest) keeps a manifest, C(.divio-downloads.json), of each part's file, sha256 and verification. A part
    whose file is there unchanged and verified at the level asked for is not downloaded again (C(changed=false)).
  - A file that fails verification fails the task (its RV(files[].verified) is V(false), with the reason); so does a
    verification that cannot run here (RV(files[].verified) V(null), the reason says what is missing) - that is no
    verdict on the backup. Other parts are still downloaded and reported.
  - The proof levels and what they cost are explained in the collection's "Restore proof" guide.
author:
  - divio.cloud contributors (@divio)
options:
  services:
    description:
      - Which parts to download - V(DATABASE) (every database part), V(STORAGE) (media), or V(TYPE:PREFIX) such as
        V(DATABASE:DEFAULT).
      - With O(backup=latest) the latest backup holding all of them is chosen.
    type: list
    elements: str
    default: [DATABASE]
  backup:
    description:
      - A backup id, or V(latest) - the latest good backup of the environment by the rules of
        M(divio.cloud.backup_info), O(min_retention) included.
      - A backup id of another environment is refused.
    type: str
    default: latest
  dest:
    description:
      - An existing directory to download into. It needs room for the files (checked before each download).
    type: path
    required: true
  verify:
    description:
      - V(none) downloads only (size and sha256 are still checked).
      - V(read) reads every byte with the format's own reader - C(pg_restore -f /dev/null) for a PostgreSQL
        custom-format dump, whose creation time must also lie within the part's own start and end, give or take 10
        minutes; pg_dump's or mysqldump's header and closing line of a plain SQL dump; the whole gzip stream and every
        tar member header, to the end-of-archive blocks, of a media archive. Needs C(pg_restore) for PostgreSQL dumps.
      - The part's type decides what its file must be - a C(DATABASE) part a database dump, a C(STORAGE) part a media
        archive; any other file fails verification, naming what it is. The read is bounded by O(verify_timeout),
        O(max_expanded_bytes) and O(max_members).
      - V(restore) restores a PostgreSQL dump into a throwaway PostgreSQL server started for the task (C(initdb),
        C(postgres) from C(PATH) or C(/usr/lib/postgresql/*/bin)), reports the tables and rows restored, and removes
        it again; other parts are read as with V(read).
    type: str
    choices: [none, read, restore]
    default: read
  keep:
    description:
      - Keep only this many downloads per service of this environment in O(dest) (the newest by snapshot time, the one
        just downloaded always among them); older files and their manifest entries are removed.
      - Pruning happens only after a run whose every part arrived and passed verification at the level of O(verify).
        A run that failed removes nothing, so the last good copy stays; RV(newest_good) names it.
      - Omitted, nothing is removed.
    type: int
  download_timeout:
    description:
      - Seconds one file's download may take, from connecting to the last byte (the API options O(timeout) and
        O(deadline) bound API answers, not files).
    type: float
    default: 3600
  max_download_bytes:
    description:
      - The most bytes one file may have; a larger one is not downloaded (or stopped as soon as it passes).
      - It is the ceiling only when the API gives no size for a part; otherwise the download stops at the size the API
        gives, and a part the API says is larger than this is refused before it is fetched.
      - The default, 200 GiB, lies above the largest database or media backup a Divio environment is expected to hold,
        so it never refuses a real backup; it is there to stop a storage host that never ends its answer. Set it near
        the size of your backups to bound what such a host can write; the free space in O(dest) is checked against the
        promised size before each download either way.
    type: int
    default: 214748364800
  restore_timeout:
    description:
      - Seconds the whole of O(verify=restore) of one file may take, its read included. Then the verification stops,
        the scratch server is removed, and the task fails without a verdict.
    type: float
    default: 3600
  max_restore_bytes:
    description:
      - With O(verify=restore), the most disk the scratch PostgreSQL server may take for one restore - its whole
        directory (data, WAL, temporary files, logs), watched during the restore; it is also the server's
        C(temp_file_limit). A restore that needs more is stopped and the task fails without a verdict ("could not
        verify"), never with a full disk.
      - The scratch directory's file system must have this much free (beside what other downloads and restores there
        hold at the same time), or the restore does not start.
      - Omitted, 20 times the dump's size, and at least 256 MiB (an empty scratch cluster takes about 40 MB).
    type: int
  scratch_dir:
    description:
      - With O(verify=restore), the directory the scratch PostgreSQL server is made in (a fresh C(divio-scratch-pg-*)
        directory, mode C(0700), removed afterwards). Omitted, the system's temp directory - which may be in memory
        (tmpfs) - then point this to a disk with room for O(max_restore_bytes).
      - When the task runs as root, the server's account (C(postgres), else C(nobody)) must be able to enter it.
    type: path
  verify_timeout:
    description:
      - Seconds the read of one file (O(verify=read), and the read before a restore) may take - C(pg_restore)'s read of
        a dump, or the read of a media archive. Then the read stops and the task fails without a verdict ("could not
        verify").
      - The reader decompresses about 300 MB/s on one core, so ten minutes read well over 100 GB of media, while a
        file that never ends (a gzip bomb) still fails the task in minutes.
    type: float
    default: 600
  max_expanded_bytes:
    description:
      - The most bytes a media archive may hold uncompressed; a larger one is not read further, and the task fails
        without a verdict ("could not verify").
      - Omitted, 100 times the file's size, and at least 1 GiB. Media (images, documents) is compressed already and
        grows little when gzip is undone; only a crafted file (a gzip bomb) grows 100-fold.
    type: int
  max_members:
    description:
      - The most members (files, directories, links) a media archive may hold; beyond it the task fails without a
        verdict ("could not verify"). Memory does not grow with the members; the bound stops an archive of millions of
        empty members early.
    type: int
    default: 10000000
  min_retention:
    description:
      - With O(backup=latest), a backup due for deletion (C(scheduled_for_deletion_at)) sooner than this from now does not
        count - the temporary backups C(divio app pull db) makes, deleted an hour later, are no restore point.
      - V(0) turns the rule off. Seconds as a number, or a string with units V(s), V(m), V(h), V(d), V(w), such as V(24h).
    type: raw
    default: 24h
  wait_timeout:
    description: Seconds to wait for the platform to prepare one file for download.
    type: float
    default: 1800
  poll_interval:
    description: Seconds between two looks at a download being prepared.
    type: float
    default: 2
extends_documentation_fragment:
  - divio.cloud.environment
  - divio.cloud.connection
  - divio.cloud.attributes.module_host
attributes:
  check_mode:
    support: full
    description: Resolves the backup and reads the manifest, and reports what would be downloaded; sends no POST.
  diff_mode:
    support: none
    description: There is nothing to diff.
notes:
  - Creating a download link is a write on the platform (it creates a download object); it changes no backup.
  - The PostgreSQL client (C(pg_restore)) is needed for O(verify=read) of PostgreSQL dumps, and the server programs for
    O(verify=restore). When the task runs as root the scratch server and its client programs run as the C(postgres)
    user (else C(nobody)).
  - A backup is untrusted data. O(verify=restore) runs the dump's SQL as a role without superuser rights, and plain SQL
    dumps through C(psql)'s restricted mode (psql 15.14 or later), so a dump that tries to run a program or touch a
    server file fails verification and nothing runs; see the threat model in the "Restore proof" guide.
  - A dump's header records its creation time in the dump host's time zone; it is read as UTC, which Divio's hosts use.
"""

EXAMPLES = r"""
- name: Download last night's database backup and prove it restores
  divio.cloud.backup_download:
    application: shop
    environment: live
    dest: /srv/backups/shop
    verify: restore
    keep: 7
  delegate_to: localhost
  register: proof

- name: Show what was proven
  ansible.builtin.debug:
    msg: "{{ proof.files[0].path }}: {{ proof.files[0].verification.tables }} tables, {{ proof.files[0].verification.rows }} rows"

- name: Media files of a given backup, read to the end of the gzip stream
  divio.cloud.backup_download:
    application: shop
    environment: live
    backup: vyn5jrwaenga7kzevilxs66hd4
    services: [STORAGE]
    dest: /srv/backups/shop
  delegate_to: localhost
"""

RETURN = r"""
backup:
  description: The backup the files come from.
  returned: success
  type: dict
  contains:
    uuid:
      description: Backup id.
      type: str
    taken_at:
      description: Snapshot time, as M(divio.cloud.backup_info) dates it.
      type: str
    dated_by:
      description: The field RV(backup.taken_at) came from.
      type: str
files:
  description: One entry per part downloaded (or, in check mode, that would be).
  returned: always
  type: list
  elements: dict
  contains:
    service_type:
      description: V(DATABASE) or V(STORAGE).
      type: str
    prefix:
      description: The service instance's prefix, e.g. V(DEFAULT).
      type: str
    part:
      description: The id of the service-instance backup.
      type: str
    path:
      description: The file; V(null) when it was not kept (it failed) or in check mode.
      type: str
    size:
      description: Bytes, as stored by the platform.
      type: int
    sha256:
      description: SHA-256 of the file as served.
      type: str
    format:
      description: V(pg_custom), V(sql), V(tar_gzip), V(tar) or V(unknown).
      type: str
    verified:
      description: V(true) when verified, V(false) when the file is broken, V(null) with O(verify=none) or when the
        verification could not run.
      type: bool
    verification:
      description:
        - What was checked - C(level) (V(none), V(read), V(restore)), C(checks) (sentences), C(reason) (why it failed),
          C(status) (V(failed), V(could_not_check) or V(download_failed) when it did not pass), C(archive_created_at)
          for PostgreSQL dumps, C(members) for archives, and for V(restore) C(tables) and C(rows) restored,
          C(max_restore_bytes) (the disk bound it ran under) and C(warnings) (leftover scratch directories that were not
          provably this collection's, left alone).
      type: dict
    changed:
      description: Whether this part was downloaded or verified by this run.
      type: bool
newest_good:
  description:
    - Per service of this run, the newest good copy of this environment's backups that O(dest) now holds - after a
      failed run, the copy to fall back on (a failed run never prunes it).
    - Good means its file is in O(dest) with the size recorded and it passed verification (at any level; with
      O(verify=none) an unverified download counts too). RV(newest_good[].path) is V(null) when there is none.
  returned: always
  type: list
  elements: dict
  contains:
    service_type:
      description: V(DATABASE) or V(STORAGE).
      type: str
    prefix:
      description: The service instance's prefix, e.g. V(DEFAULT).
      type: str
    backup:
      description: The id of the backup the copy comes from.
      type: str
    part:
      description: The id of its service-instance backup.
      type: str
    taken_at:
      description: Snapshot time of that backup.
      type: str
    path:
      description: The file; V(null) when O(dest) holds no good copy of this service.
      type: str
    verified:
      description: V(true) when it passed verification; V(null) for a download with O(verify=none).
      type: bool
    level:
      description: The level it was verified at - V(none), V(read) or V(restore).
      type: str
    verified_at:
      description: When it was verified.
      type: str
removed_leftovers:
  description: Temporary files of downloads killed in earlier runs that this run removed from O(dest).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.divio.cloud.plugins.module_utils.download_options import DownloadOptions
from ansible_collections.divio.cloud.plugins.module_utils.downloads import download_backup
from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule
from ansible_collections.divio.cloud.plugins.module_utils.part_download import describe_problems, failure


class BackupDownload(DivioModule):
    argument_spec = dict(
        application=dict(type="str", required=True),
        environment=dict(type="str", required=True),
        **DownloadOptions.ARGUMENT_SPEC
    )

    def run(self, client):
        p = self.params
        options = DownloadOptions.from_params(p)
        result = download_backup(client, p["application"], p["environment"], options, check_mode=self.module.check_mode)
        for warning in result.pop("warnings"):
            self.module.warn(warning)
        app, env = result.pop("application"), result.pop("environment")
        problems = result.pop("problems")
        if problems:
            self.module.fail_json(msg=describe_problems(result["backup"]["uuid"], "%s/%s" % (app.get("slug"), env.get("slug")),
                                                        problems), error=failure(problems).__name__, **result)
        return result


def main():
    BackupDownload().execute()


if __name__ == "__main__":
    main()
