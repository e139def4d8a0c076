# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The download of a backup, part by part: the loop of what the ``backup_download`` module does.

The flow is divio-cli's (``app pull db`` / ``pull media``), one download per part. The backup and its parts are
chosen (resolution.py), unless the caller holds them already. A run first removes the temporary files of runs
that were killed (fetch.remove_leftover_parts). Then, per part: a part whose file ``dest``'s manifest
(manifest.py) holds, unchanged (size and sha256) and verified at the level asked for, is not downloaded again;
any other is downloaded, verified and put in place by part_download.py, whose ``PartProblem`` for a part that
did not pass goes into the result. ``keep`` prunes older downloads of the same environment and service, only
after a run whose every part arrived and passed: a failed run never costs the last good copy. The manifest is
saved when anything changed. The options: download_options.py. No Ansible imports.
"""

import time

from ansible_collections.divio.cloud.plugins.module_utils.fetch import remove_leftover_parts
from ansible_collections.divio.cloud.plugins.module_utils.manifest import (
    Manifest,
    all_good,
    file_result,
    newest_good,
    prune,
    reached,
    still_there,
    verdict_reached,
)
from ansible_collections.divio.cloud.plugins.module_utils.part_download import FailedVerification, try_part
from ansible_collections.divio.cloud.plugins.module_utils.resolution import resolve_backup


def download_backup(client, application, environment, options, check_mode=False, sleep=time.sleep, clock=time.monotonic,
                    manifest=None, keep_files=True, chosen=None):
    """Download (and verify) the parts of one backup into ``options.dest``.

    Returns ``{"changed", "backup", "files", "newest_good", "removed_leftovers", "warnings", "problems",
    "application", "environment"}`` (the last two: the API's objects, for the caller's messages): ``files``
    one entry per part, ``newest_good`` per service the newest good copy ``dest`` holds (see the module's RETURN),
    ``problems`` one ``PartProblem`` per part that failed (``FailedVerification``, ``UncheckedVerification``,
    ``FailedDownload``) for the caller to fail the task with (``failure``). Errors before any download (bad input, no
    backup, API errors) are raised.

    ``manifest``: a ``Manifest`` shared by concurrent calls (default: ``dest``'s, read now). ``keep_files=False``
    (the backup check's verify step): each file is removed once verified, and a verdict the manifest holds for a
    part - passed or failed - is not made again. ``chosen``: the ``ChosenBackup`` (resolution.py) and its parts when
    the caller holds them already (the backup check judged the backup), so they are not read again."""
    chosen = chosen or resolve_backup(client, application, environment, options.backup, options.services,
                                      options.min_retention)
    manifest = manifest or Manifest(options.dest)
    warnings = [manifest.warning] if manifest.warning else []
    removed_leftovers = []
    if not check_mode:
        removed_leftovers, swept = remove_leftover_parts(options.dest)
        warnings.extend(swept)
    files, problems, changed = [], [], bool(removed_leftovers)
    for part in chosen.parts:
        record = manifest.parts.get(part["uuid"])
        if record is not None and (still_there(manifest, record) and reached(record, options.verify) or
                                   not keep_files and verdict_reached(record, options.verify)):
            _add_recorded(manifest, part, record, files, problems)
            continue
        changed = True
        if check_mode:
            files.append({"service_type": part.get("service_type"), "prefix": part.get("prefix"), "part": part["uuid"],
                          "path": None, "size": part.get("size"), "sha256": None, "format": None, "verified": None,
                          "verification": None, "changed": True})
            continue
        record = try_part(client, chosen, part, manifest, options, sleep, clock, problems)
        if record is not None:
            if not keep_files:
                manifest.drop_file(record)
            files.append(file_result(manifest, record, changed=True))
    changed = changed if check_mode else _finish(manifest, chosen, options, problems, changed)
    backup = dict((key, chosen.backup.get(key)) for key in ("uuid", "taken_at", "dated_by", "created_at", "started_at",
                                                            "ended_at", "trigger", "notes", "scheduled_for_deletion_at"))
    return {"changed": changed, "backup": backup, "files": files, "warnings": warnings, "problems": problems,
            "newest_good": newest_good(manifest, chosen.environment, chosen.parts, options.verify),
            "removed_leftovers": removed_leftovers, "application": chosen.application, "environment": chosen.environment}


def _finish(manifest, chosen, options, problems, changed):
    """Prune and save; whether anything changed. Only a run whose every part is here and passed may prune: a failed
    one keeps every older copy."""
    parts = chosen.parts
    if options.keep is not None and not problems and all_good(manifest, parts, options.verify) and \
            prune(manifest, chosen.environment, [p["uuid"] for p in parts], options.keep):
        changed = True
    if changed:
        manifest.save()
    return changed


def _add_recorded(manifest, part, record, files, problems):
    """Report a part as the manifest holds it: its file entry, and a failed verdict (which stands) as a problem."""
    if record.get("verified") is False:
        problems.append(FailedVerification(part, "%s (verified %s)" % (
            (record.get("verification") or {}).get("reason"), record.get("verified_at"))))
    files.append(file_result(manifest, record, changed=False))


def recorded_verdicts(manifest, backup_uuid, parts, level):
    """What ``download_backup(..., keep_files=False)`` returns for ``parts`` (the backup's parts to verify) when
    the manifest holds a verdict at ``level`` for each of them - without a request; else None."""
    records = [manifest.parts.get(part["uuid"]) for part in parts]
    if not parts or not all(record is not None and verdict_reached(record, level) for record in records):
        return None
    files, problems = [], []
    for part, record in zip(parts, records):
        _add_recorded(manifest, part, record, files, problems)
    return {"changed": False, "backup": {"uuid": backup_uuid}, "files": files, "warnings": [], "problems": problems}
