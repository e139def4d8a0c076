# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Downloading a backup's files and proving them: what the ``backup_download`` module does.

The flow is divio-cli's (``app pull db`` / ``pull media``), one download per part: the backup and its parts are
chosen and each part's ``download_url`` obtained from the platform (resolution.py), the file fetched (fetch.py).
Then the file is verified (verify.py) while it still has its temporary name, and only a file that passed (or
was not to be verified) is renamed into place: ``<application>-<environment>-<backup>-<TYPE>-<PREFIX>.<ext>``.
A part that did not pass is a ``PartProblem`` in the result. The options: download_options.py.

``dest`` holds a manifest, ``.divio-downloads.json``: per part its file, size, sha256 and verification. A part
whose file is there, unchanged (size and sha256) and verified at the level asked for is not downloaded
again. ``keep`` prunes older downloads of the same environment and service, only after a run whose every part
arrived and passed: a failed run never costs the last good copy. A run first removes the temporary files of runs
that were killed (fetch.remove_leftover_parts). No Ansible imports.
"""

import datetime
import errno
import hashlib
import json
import os
import re
import threading
import time

from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    DownloadError,
    VerificationFailed,
    VerificationUnavailable,
    excerpt,
)
from ansible_collections.divio.cloud.plugins.module_utils.fetch import fetch_file, remove_leftover_parts
from ansible_collections.divio.cloud.plugins.module_utils.files import commit_file, remove_quietly, write_atomically
from ansible_collections.divio.cloud.plugins.module_utils.resolution import current_size, prepare_download, resolve_backup
from ansible_collections.divio.cloud.plugins.module_utils.verify import EXTENSIONS, LEVELS, sniff, verify_file

MANIFEST = ".divio-downloads.json"
MANIFEST_VERSION = 1
_UTC = datetime.timezone.utc
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


# -- the manifest --------------------------------------------------------------------------------

class Manifest:
    """``dest``'s record of what it holds, by part id; written atomically with mode 0600."""

    def __init__(self, directory):
        self.path = os.path.join(directory, MANIFEST)
        self.directory = directory
        self.parts = {}
        self.warning = None
        self._lock = threading.Lock()
        try:
            with open(self.path) as handle:
                data = json.load(handle)
            if not isinstance(data, dict) or not isinstance(data.get("parts"), dict):
                raise ValueError("no parts")
            self.parts = data["parts"]
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            self.warning = "%s could not be read (%s); it is written anew and every part downloaded again." % (
                self.path, excerpt(str(exc), 100))

    def save(self):
        with self._lock:  # calls for several backups may share one manifest
            self._save(dict(self.parts))

    def _save(self, parts):
        write_atomically(self.path, json.dumps({"version": MANIFEST_VERSION, "parts": parts}, indent=1, sort_keys=True),
                         0o600, prefix=".divio-manifest-", suffix="")

    def file_path(self, record):
        """The record's file in ``dest``; None for a name that is not a plain file name there (a manifest edited by
        hand never makes this module read or delete a file elsewhere)."""
        name = record.get("file")
        if not isinstance(name, str) or not name or os.path.basename(name) != name or name.startswith("."):
            return None
        return os.path.join(self.directory, name)


def file_name(app, env, backup_uuid, part, fmt):
    pieces = [app.get("slug") or app["uuid"], env.get("slug") or env["uuid"], backup_uuid,
              part.get("service_type") or "UNKNOWN", part.get("prefix") or "DEFAULT"]
    return "-".join(_UNSAFE.sub("_", str(piece)) for piece in pieces) + "." + EXTENSIONS.get(fmt, "bin")


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def reached(record, wanted):
    """Whether a manifest record's verification satisfies ``wanted`` (a level of ``LEVELS``)."""
    if wanted == "none":
        return True
    verification = record.get("verification") or {}
    if record.get("verified") is not True:
        return False
    level = verification.get("level", "none")
    best = verification.get("best_level", level)  # what the format allows at most (media: read)
    return LEVELS.index(level) >= LEVELS.index(wanted) or level == best


def _verdict_reached(record, wanted):
    """A passed or failed verdict at ``wanted`` or above (a check that could not run is no verdict)."""
    if record.get("verified") is True:
        return reached(record, wanted)
    level = (record.get("verification") or {}).get("level", "none")
    return record.get("verified") is False and LEVELS.index(level) >= LEVELS.index(wanted)


def still_there(manifest, record):
    """The record's file is present, with the size and sha256 recorded."""
    path = manifest.file_path(record)
    if path is None or not os.path.isfile(path):
        return False
    return os.path.getsize(path) == record.get("size") and sha256_of(path) == record.get("sha256")


# -- verdicts ------------------------------------------------------------------------------------

class PartProblem:
    """A part that did not pass, as ``download_backup`` reports it: the class says how, ``message`` says why (it starts
    with the part's ``TYPE:PREFIX``); ``error`` is the exception a task that got it fails with. It unpacks as
    ``(kind, message)``, ``kind`` the outcome's name (``verification_failed``, ...)."""

    kind = error = None

    def __init__(self, part, reason):
        self.message = "%s:%s: %s" % (part.get("service_type"), part.get("prefix"), reason)

    def __iter__(self):
        return iter((self.kind, self.message))

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.message)


class FailedVerification(PartProblem):
    """The file was found broken: a verdict on the backup (and one the manifest holds stands)."""

    kind, error = "verification_failed", VerificationFailed


class UncheckedVerification(PartProblem):
    """The file could not be verified here (a bound reached, a program missing): no verdict."""

    kind, error = "verification_unavailable", VerificationUnavailable


class FailedDownload(PartProblem):
    """The file did not arrive (the platform, the object storage, the disk)."""

    kind, error = "download_failed", DownloadError


PROBLEMS = (FailedVerification, UncheckedVerification, FailedDownload)  # worst first


def failure(problems):
    """The exception a task that got ``problems`` (not empty) fails with: the worst problem's."""
    return next(kind.error for kind in PROBLEMS if any(isinstance(problem, kind) for problem in problems))


def describe_problems(entry_uuid, name, problems):
    """One message for the parts that failed, verdicts first."""
    return "backup %s of %s: %s" % (entry_uuid, name, " | ".join(problem.message for problem in problems))


# -- the task -------------------------------------------------------------------------------------

def download_backup(client, application, environment, options, check_mode=False, sleep=time.sleep, clock=time.monotonic,
                    manifest=None, keep_files=True, chosen=None):
    """Download (and verify) the parts of one backup into ``options.dest``.

    Returns ``{"changed", "backup", "files", "newest_good", "removed_leftovers", "warnings", "problems"}``: ``files``
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
                                   not keep_files and _verdict_reached(record, options.verify)):
            _add_recorded(manifest, part, record, files, problems)
            continue
        changed = True
        if check_mode:
            files.append({"service_type": part.get("service_type"), "prefix": part.get("prefix"), "part": part["uuid"],
                          "path": None, "size": part.get("size"), "sha256": None, "format": None, "verified": None,
                          "verification": None, "changed": True})
            continue
        record = _try_part(client, chosen, part, manifest, options, sleep, clock, problems)
        if record is not None:
            if not keep_files and record.get("file"):
                remove_quietly(manifest.file_path(record))
                record["file"] = None
            files.append(_file_result(manifest, record, changed=True))
    changed = changed if check_mode else _finish(manifest, chosen, options, problems, changed)
    backup = dict((key, chosen.backup.get(key)) for key in ("uuid", "taken_at", "dated_by", "created_at", "started_at",
                                                            "ended_at", "trigger", "notes", "scheduled_for_deletion_at"))
    return {"changed": changed, "backup": backup, "files": files, "warnings": warnings, "problems": problems,
            "newest_good": newest_good(manifest, chosen.environment, chosen.parts, options.verify),
            "removed_leftovers": removed_leftovers, "application": chosen.application, "environment": chosen.environment}


def _try_part(client, chosen, part, manifest, options, sleep, clock, problems):
    """The part downloaded and verified: its record. A part that did not pass adds its ``PartProblem`` to
    ``problems``; its record, if it has one, is returned all the same."""
    try:
        return _download_part(client, chosen, part, manifest, options, sleep, clock)
    except (VerificationFailed, VerificationUnavailable, DownloadError) as exc:
        problems.append(next(kind for kind in PROBLEMS if isinstance(exc, kind.error))(part, exc))
        return exc.details.get("record")


def _finish(manifest, chosen, options, problems, changed):
    """Prune and save; whether anything changed. Only a run whose every part is here and passed may prune: a failed
    one keeps every older copy."""
    parts = chosen.parts
    if options.keep is not None and not problems and all_good(manifest, parts, options.verify) and \
            _prune(manifest, chosen.environment, [p["uuid"] for p in parts], options.keep):
        changed = True
    if changed:
        manifest.save()
    return changed


def _download_part(client, chosen, part, manifest, options, sleep, clock):
    app, env, entry = chosen.application, chosen.environment, chosen.backup
    name = "%s/%s" % (app.get("slug"), env.get("slug"))
    what = "backup %s of %s, %s:%s part" % (entry["uuid"], name, part.get("service_type"), part.get("prefix"))
    base = {"application": app.get("slug"), "environment": env.get("slug"), "environment_uuid": env["uuid"],
            "backup": entry["uuid"], "taken_at": entry.get("taken_at"), "part": part["uuid"],
            "service_type": part.get("service_type"), "prefix": part.get("prefix")}
    try:
        url = prepare_download(client, entry["uuid"], part, options.wait_timeout, options.poll_interval, sleep, clock)
        size = current_size(client, part)
        fetched = fetch_file(url, options.dest, size, options.download_timeout, options.max_download_bytes,
                             client.settings.validate_certs, client.settings.allow_plain_http, what)
    except DownloadError as exc:
        exc.details["record"] = dict(base, file=None, size=None, sha256=None, format=None, verified=None,
                                     verification={"level": "none", "reason": str(exc), "status": "download_failed"})
        raise
    fmt = sniff(fetched.temp_path)
    record = dict(base, file=None, size=fetched.size, sha256=fetched.sha256, format=fmt,
                  downloaded_at=_now(), content_encoding=fetched.content_encoding)
    try:
        verification = verify_file(fetched.temp_path, fmt, part, options.verify, options.restore_timeout,
                                   options.read_limits, options.scratch_dir, options.max_restore_bytes)
    except (VerificationFailed, VerificationUnavailable) as exc:
        fetched.discard()  # never under the final name unverified; nor left behind
        failed = isinstance(exc, VerificationFailed)
        record.update(verified=False if failed else None, verified_at=_now(),
                      verification={"level": options.verify, "reason": str(exc), "checks": [],
                                    "status": "failed" if failed else "could_not_check"})
        manifest.parts[part["uuid"]] = record
        exc.details["record"] = record
        raise
    except BaseException:
        fetched.discard()
        raise
    final = file_name(app, env, entry["uuid"], part, fmt)
    try:
        commit_file(fetched.temp_path, os.path.join(options.dest, final), 0o600)
    except OSError as exc:
        fetched.discard()
        raise DownloadError("%s: the file could not be put in place: %s" % (what, os.strerror(exc.errno or errno.EIO))) from None
    record.update(file=final, verified=None if options.verify == "none" else True,
                  verified_at=_now() if options.verify != "none" else None, verification=verification)
    manifest.parts[part["uuid"]] = record
    return record


def _add_recorded(manifest, part, record, files, problems):
    """Report a part as the manifest holds it: its file entry, and a failed verdict (which stands) as a problem."""
    if record.get("verified") is False:
        problems.append(FailedVerification(part, "%s (verified %s)" % (
            (record.get("verification") or {}).get("reason"), record.get("verified_at"))))
    files.append(_file_result(manifest, record, changed=False))


def recorded_verdicts(manifest, backup_uuid, parts, level):
    """What ``download_backup(..., keep_files=False)`` returns for ``parts`` (the backup's parts to verify) when
    the manifest holds a verdict at ``level`` for each of them - without a request; else None."""
    records = [manifest.parts.get(part["uuid"]) for part in parts]
    if not parts or not all(record is not None and _verdict_reached(record, level) for record in records):
        return None
    files, problems = [], []
    for part, record in zip(parts, records):
        _add_recorded(manifest, part, record, files, problems)
    return {"changed": False, "backup": {"uuid": backup_uuid}, "files": files, "warnings": [], "problems": problems}


def _file_result(manifest, record, changed):
    return {"service_type": record.get("service_type"), "prefix": record.get("prefix"), "part": record.get("part"),
            "path": manifest.file_path(record), "size": record.get("size"), "sha256": record.get("sha256"),
            "format": record.get("format"), "verified": record.get("verified"),
            "verification": record.get("verification"), "verified_at": record.get("verified_at"), "changed": changed}


def _good_copy(manifest, record, level):
    """The record's file is in ``dest`` with its recorded size, and it passed at ``level`` (or, for ``level`` none,
    was not found broken). The sha256 is not read again here: that is for the run that uses the file."""
    path = manifest.file_path(record)
    if path is None or not os.path.isfile(path) or os.path.getsize(path) != record.get("size"):
        return False
    return record.get("verified") is True or (level == "none" and record.get("verified") is not False)


def all_good(manifest, parts, level):
    """Every part of this run is in ``dest`` and verified at ``level``: the condition for pruning."""
    records = [manifest.parts.get(part["uuid"]) for part in parts]
    return bool(parts) and all(r is not None and reached(r, level) and _good_copy(manifest, r, level) for r in records)


def _taken(item):
    return str(item[1].get("taken_at") or "")


def newest_good(manifest, env, parts, level):
    """Per service of ``parts`` (in their order): the newest good copy of this environment's backups in ``dest`` -
    the one to fall back on when this run failed - or one with ``path`` None when there is none."""
    found = []
    for key in dict.fromkeys((part.get("service_type"), part.get("prefix")) for part in parts):
        copies = [(uuid, record) for uuid, record in manifest.parts.items()
                  if record.get("environment_uuid") == env["uuid"] and (record.get("service_type"), record.get("prefix")) == key
                  and _good_copy(manifest, record, level)]
        best = max(copies, key=_taken)[1] if copies else {}
        found.append({"service_type": key[0], "prefix": key[1], "backup": best.get("backup"), "part": best.get("part"),
                      "taken_at": best.get("taken_at"), "path": manifest.file_path(best) if best else None,
                      "verified": best.get("verified"), "level": (best.get("verification") or {}).get("level"),
                      "verified_at": best.get("verified_at")})
    return found


def _prune(manifest, env, current, keep):
    """Keep the ``keep`` newest copies (by snapshot, this run's first) per service of this environment; remove the
    other copies and the records that hold no copy (failed or gone files). Runs only after a good run."""
    groups, removed = {}, 0
    for part_uuid, record in manifest.parts.items():
        if record.get("environment_uuid") == env["uuid"]:
            groups.setdefault((record.get("service_type"), record.get("prefix")), []).append((part_uuid, record))
    for records in groups.values():
        copies = sorted((item for item in records if _good_copy(manifest, item[1], "none")),
                        key=lambda item: (item[0] in current, _taken(item)), reverse=True)
        kept = set(part_uuid for part_uuid, _record in copies[:keep])
        for part_uuid, record in records:
            if part_uuid in kept:
                continue
            path = manifest.file_path(record)
            if path is not None:
                remove_quietly(path)
            del manifest.parts[part_uuid]
            removed += 1
    return removed


def _now():
    return datetime.datetime.now(_UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
