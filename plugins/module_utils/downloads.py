# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Downloading a backup's files and proving them: what the ``backup_download`` module does.

The flow is divio-cli's (``app pull db`` / ``pull media``), one download per part:
``POST backup-downloads/`` -> ``GET backup-download-service-instances/?backup=<download>`` -> poll that
download part until ``ended_at`` (``errors`` fail it) -> fetch its ``download_url`` (fetch.py). Then the file
is verified (verify.py, scratch.py) while it still has its temporary name, and only a file that passed (or
was not to be verified) is renamed into place: ``<application>-<environment>-<backup>-<TYPE>-<PREFIX>.<ext>``.

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
from urllib.parse import quote

from ansible_collections.divio.cloud.plugins.module_utils.backups import (
    BACKUPS,
    SERVICE_INSTANCE_BACKUPS,
    Pick,
    ServiceInstances,
    backup_entry,
    date_backup,
    fetch_parts,
    find_backups,
)
from ansible_collections.divio.cloud.plugins.module_utils.client import APPS
from ansible_collections.divio.cloud.plugins.module_utils.deadline import Deadline
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    DownloadError,
    InputError,
    InvalidResponseError,
    NotFoundError,
    VerificationFailed,
    VerificationUnavailable,
    WaitTimeout,
    excerpt,
)
from ansible_collections.divio.cloud.plugins.module_utils.fetch import fetch_file, remove_leftover_parts
from ansible_collections.divio.cloud.plugins.module_utils.files import commit_file, remove_quietly, write_atomically
from ansible_collections.divio.cloud.plugins.module_utils.resources import get_application, get_by_id, get_environment
from ansible_collections.divio.cloud.plugins.module_utils.scratch import MIN_RESTORE_BYTES, RESTORE_BYTES_PER_DUMP_BYTE, show_bytes
from ansible_collections.divio.cloud.plugins.module_utils.values import (
    DEFAULT_MIN_RETENTION,
    RuleOptions,
    parse_count,
    split_service,
)
from ansible_collections.divio.cloud.plugins.module_utils.verify import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_VERIFY_TIMEOUT,
    EXTENSIONS,
    LEVELS,
    ReadLimits,
    sniff,
    verify_read,
)
from ansible_collections.divio.cloud.plugins.module_utils.waiting import check_seconds, poll_object

DOWNLOADS = APPS + "backup-downloads/"
DOWNLOAD_PARTS = APPS + "backup-download-service-instances/"
MANIFEST = ".divio-downloads.json"
MANIFEST_VERSION = 1
DEFAULT_SERVICES = ("DATABASE",)
DEFAULT_DOWNLOAD_TIMEOUT = 3600
MAX_DOWNLOAD_TIMEOUT = 7 * 86400
DEFAULT_MAX_DOWNLOAD_BYTES = 200 * 1024 ** 3
DEFAULT_RESTORE_TIMEOUT = 3600
_UTC = datetime.timezone.utc
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


# -- options ------------------------------------------------------------------------------------

class DownloadOptions:
    """Every option of a download task, checked before the first request (``InputError`` naming the value)."""

    def __init__(self, dest, backup="latest", services=DEFAULT_SERVICES, verify="read", keep=None,
                 download_timeout=DEFAULT_DOWNLOAD_TIMEOUT, max_download_bytes=DEFAULT_MAX_DOWNLOAD_BYTES,
                 restore_timeout=DEFAULT_RESTORE_TIMEOUT, wait_timeout=1800, poll_interval=2,
                 min_retention=DEFAULT_MIN_RETENTION, verify_timeout=DEFAULT_VERIFY_TIMEOUT, max_expanded_bytes=None,
                 max_members=DEFAULT_MAX_MEMBERS, max_restore_bytes=None, scratch_dir=None):
        if not isinstance(dest, str) or not dest.strip():
            raise InputError("dest %r is not valid: expected the path of a directory." % (dest,))
        self.dest = os.path.abspath(os.path.expanduser(dest))
        if not os.path.isdir(self.dest):
            raise InputError("dest %r is not a directory (create it first, e.g. with ansible.builtin.file)." % dest)
        if not os.access(self.dest, os.W_OK | os.X_OK):
            raise InputError("dest %r is not writable by the user running the task." % dest)
        if not isinstance(backup, str) or not backup.strip():
            raise InputError("backup %r is not valid: expected a backup id or 'latest'." % (backup,))
        self.backup = backup.strip()
        # services and min_retention parsed once, here; the typed values travel to the backup's resolution.
        rules = RuleOptions(services=list(services) if services is not None else list(DEFAULT_SERVICES),
                            min_retention=min_retention)
        self.services, self.min_retention = rules.services, rules.min_retention
        if verify not in LEVELS:
            raise InputError("verify %r is not valid: expected one of %s." % (verify, ", ".join(LEVELS)))
        self.verify = verify
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
            raise InputError("keep %r is not valid: expected a whole number of at least 1 (or no keep)." % (keep,))
        self.keep = keep
        self.download_timeout = check_seconds("download_timeout", download_timeout, MAX_DOWNLOAD_TIMEOUT)
        self.max_download_bytes = parse_count("max_download_bytes", max_download_bytes, "bytes")
        self.restore_timeout = check_seconds("restore_timeout", restore_timeout, MAX_DOWNLOAD_TIMEOUT)
        self.read_limits = ReadLimits(verify_timeout, max_expanded_bytes, max_members)
        self.wait_timeout = check_seconds("wait_timeout", wait_timeout, MAX_DOWNLOAD_TIMEOUT)
        self.poll_interval = check_seconds("poll_interval", poll_interval, 3600)
        self.max_restore_bytes, self.scratch_dir = _restore_bounds(max_restore_bytes, scratch_dir)


def _restore_bounds(max_restore_bytes, scratch_dir):
    """``verify: restore``'s ``(max_restore_bytes or None, scratch_dir or None)``, checked."""
    if max_restore_bytes is not None and (isinstance(max_restore_bytes, bool) or not isinstance(max_restore_bytes, int)
                                          or max_restore_bytes < 1):
        raise InputError("max_restore_bytes %r is not valid: expected a whole number of bytes of at least 1 (or none: %d "
                         "times the dump's size, at least %s)." % (max_restore_bytes, RESTORE_BYTES_PER_DUMP_BYTE,
                                                                   show_bytes(MIN_RESTORE_BYTES)))
    if scratch_dir is None:
        return max_restore_bytes, None
    if not isinstance(scratch_dir, str) or not scratch_dir.strip():
        raise InputError("scratch_dir %r is not valid: expected the path of a directory." % (scratch_dir,))
    path = os.path.abspath(os.path.expanduser(scratch_dir))
    if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
        raise InputError("scratch_dir %r is not a directory the user running the task can write to." % scratch_dir)
    return max_restore_bytes, path


# -- which backup, which parts -------------------------------------------------------------------

def resolve_backup(client, application, environment, backup, services, min_retention):
    """``(application, environment, backup entry, [part entries])``: the backup (``latest`` by backup_info's
    rules, or an id that must belong to this environment) and its parts that ``services`` selects."""
    app = get_application(client, application)
    env = get_environment(client, app, environment)
    name = "%s/%s" % (app.get("slug"), env.get("slug"))
    if backup == "latest":
        entry = find_backups(client, app["uuid"], environment=env["slug"], services=services or None,
                             min_retention=min_retention)[0]
        if entry["uuid"] is None:
            raise NotFoundError("%s has no qualifying backup%s (as divio.cloud.backup_info judges it, min_retention %s)."
                                % (name, " holding " + ", ".join(services) if services else "", min_retention))
    else:
        found = get_by_id(client, BACKUPS, backup)
        if not isinstance(found, dict) or found.get("uuid") != backup:
            raise NotFoundError("backup %r not found (%s%s/)." % (backup, BACKUPS, quote(backup, safe="")))
        if found.get("environment") != env["uuid"]:
            raise InputError("backup %s belongs to another environment (%s), not to %s (%s); refused." % (
                backup, found.get("environment"), name, env["uuid"]))
        parts = fetch_parts(client, found)
        instances = ServiceInstances(client, env["uuid"])
        taken_at, dated_by, _undated = date_backup(found, parts)
        now = datetime.datetime.now(_UTC)
        entry = backup_entry(app, env, Pick(found, parts, parts, taken_at, dated_by), instances, now, None)
    return app, env, entry, select_parts(entry, services, name)


def select_parts(entry, services, name):
    """The parts of a backup entry that ``services`` names, each usable; ``InputError`` otherwise."""
    chosen = []
    parts = entry["service_instance_backups"]
    for service in services:
        kind, prefix = split_service(service)
        matches = [p for p in parts if p.get("service_type") == kind and
                   (prefix is None or str(p.get("prefix") or "").upper() == prefix.upper())]
        if not matches:
            held = ", ".join("%s:%s" % (p.get("service_type"), p.get("prefix")) for p in parts) or "nothing"
            raise InputError("backup %s of %s holds no %s part; it holds: %s." % (entry["uuid"], name, service, held))
        for part in matches:
            if part.get("errors") or not part.get("ended_at"):
                problem = "; ".join(str(e) for e in part.get("errors") or []) or "it has not ended"
                raise InputError("backup %s of %s: its %s:%s part cannot be downloaded: %s." % (
                    entry["uuid"], name, part.get("service_type"), part.get("prefix"), excerpt(problem, 300)))
            if not any(p["uuid"] == part["uuid"] for p in chosen):
                chosen.append(part)
    return chosen


# -- the API side of one download ----------------------------------------------------------------

def prepare_download(client, backup_uuid, part, wait_timeout, poll_interval, sleep=time.sleep, clock=time.monotonic):
    """The download URL of one part: POST the download, find its part, poll it until ``ended_at``."""
    what = "download of part %s of backup %s" % (part["uuid"], backup_uuid)
    created = client.post(DOWNLOADS, {"backup": backup_uuid, "service_instance_backups": [part["uuid"]], "trigger": "PULL"})
    if not isinstance(created, dict) or not isinstance(created.get("uuid"), str):
        raise InvalidResponseError("POST %s did not answer with the new download." % DOWNLOADS, path=DOWNLOADS)
    page = client.get(DOWNLOAD_PARTS, {"backup": created["uuid"], "page_size": 10})
    results = page.get("results") if isinstance(page, dict) else None
    if not isinstance(results, list):
        raise InvalidResponseError("GET %s?backup=%s did not answer with a list." % (DOWNLOAD_PARTS, created["uuid"]),
                                   path=DOWNLOAD_PARTS)
    # The filter is re-checked where the items say what they belong to (a server may ignore it).
    items = [item for item in results if isinstance(item, dict) and isinstance(item.get("uuid"), str)
             and item.get("backup", created["uuid"]) == created["uuid"]]
    if len(items) != 1:
        raise InvalidResponseError("%s: download %s has %d download parts, expected one." % (
            what, created["uuid"], len(items)), path=DOWNLOAD_PARTS)
    path = "%s%s/" % (DOWNLOAD_PARTS, quote(items[0]["uuid"], safe=""))
    try:
        item = poll_object(client, path, lambda item: bool(item.get("ended_at")), wait_timeout, poll_interval, what,
                           "download part", sleep=sleep, clock=clock)
    except WaitTimeout as exc:
        raise DownloadError("%s; the platform never made the file ready (download %s)." % (exc, created["uuid"])) from None
    if item.get("errors"):
        raise DownloadError("%s failed on the platform: %s" % (what, excerpt("; ".join(str(e) for e in item["errors"]), 400)))
    url = item.get("download_url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise InvalidResponseError("%s ended without a download_url." % what, path=DOWNLOAD_PARTS)
    return url


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


# -- verifying -----------------------------------------------------------------------------------

def verify_file(path, fmt, part, level, timeout, limits=None, scratch_dir=None, max_restore_bytes=None):
    """A ``verification`` dict for one file, or raises ``VerificationFailed`` / ``VerificationUnavailable``.
    ``timeout``: restore_timeout (the whole of ``restore``); ``limits``: the read's ``ReadLimits``; ``scratch_dir``,
    ``max_restore_bytes``: where ``verify: restore``'s scratch server lives, and the most disk it may take (None: the
    temp directory; scratch.default_max_bytes)."""
    started = time.monotonic()
    if level == "none":
        return {"level": "none", "best_level": "none", "checks": [], "reason": None}
    deadline = Deadline(timeout)
    checks, details = verify_read(path, fmt, part, limits)
    best = "read"
    restorable = fmt == "pg_custom" or (fmt == "sql" and "pg_dump" in " ".join(checks))
    if level == "restore" and restorable:
        from ansible_collections.divio.cloud.plugins.module_utils.scratch import restore_into_scratch

        left = deadline.remaining()
        if left <= 0:
            raise VerificationUnavailable("verify: restore: restore_timeout (%g s) passed while the dump was read; no "
                                          "verdict." % timeout)
        restored = restore_into_scratch(path, fmt, left, base=scratch_dir, max_bytes=max_restore_bytes)
        checks.append(restored.pop("check"))
        details.update(restored)
        best = "restore"
    elif level == "restore":
        details["note"] = "a %s part cannot be restored into PostgreSQL; it was verified by reading it" % fmt
    verification = {"level": best, "best_level": "restore" if restorable else "read", "checks": checks, "reason": None}
    verification.update(details)
    verification["seconds"] = round(time.monotonic() - started, 3)
    return verification


# -- the task -------------------------------------------------------------------------------------

def download_backup(client, application, environment, options, check_mode=False, sleep=time.sleep, clock=time.monotonic,
                    manifest=None, keep_files=True, resolved=None):
    """Download (and verify) the parts of one backup into ``options.dest``.

    Returns ``{"changed", "backup", "files", "newest_good", "removed_leftovers", "warnings", "problems"}``: ``files``
    one entry per part, ``newest_good`` per service the newest good copy ``dest`` holds (see the module's RETURN),
    ``problems`` one ``(kind, message)`` per part that failed - ``verification_failed``, ``verification_unavailable``
    or ``download_failed`` - for the caller to fail the task with. Errors before any download (bad input, no backup,
    API errors) are raised.

    ``manifest``: a ``Manifest`` shared by concurrent calls (default: ``dest``'s, read now). ``keep_files=False``
    (the backup check's verify step): each file is removed once verified, and a verdict the manifest holds for a
    part - passed or failed - is not made again. ``resolved``: ``(application, environment, backup entry, parts)``
    as ``resolve_backup`` returns them, when the caller holds them already (the backup check judged the backup), so
    they are not read again."""
    app, env, entry, parts = resolved or resolve_backup(client, application, environment, options.backup,
                                                        options.services, options.min_retention)
    manifest = manifest or Manifest(options.dest)
    warnings = [manifest.warning] if manifest.warning else []
    removed_leftovers = []
    if not check_mode:
        removed_leftovers, swept = remove_leftover_parts(options.dest)
        warnings.extend(swept)
    backup = dict((key, entry.get(key)) for key in ("uuid", "taken_at", "dated_by", "created_at", "started_at",
                                                    "ended_at", "trigger", "notes", "scheduled_for_deletion_at"))
    files, problems, changed = [], [], bool(removed_leftovers)
    for part in parts:
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
        try:
            record = _download_part(client, app, env, entry, part, manifest, options, sleep, clock)
        except VerificationFailed as exc:
            problems.append(("verification_failed", "%s:%s: %s" % (part.get("service_type"), part.get("prefix"), exc)))
            record = exc.details.get("record")
        except (VerificationUnavailable, DownloadError) as exc:
            kind = "verification_unavailable" if isinstance(exc, VerificationUnavailable) else "download_failed"
            problems.append((kind, "%s:%s: %s" % (part.get("service_type"), part.get("prefix"), exc)))
            record = exc.details.get("record")
        if record is not None:
            if not keep_files and record.get("file"):
                remove_quietly(manifest.file_path(record))
                record["file"] = None
            files.append(_file_result(manifest, record, changed=True))
    if not check_mode:
        # Only a run whose every part is here and passed may prune: a failed one keeps every older copy.
        if options.keep is not None and not problems and all_good(manifest, parts, options.verify) and \
                _prune(manifest, env, [p["uuid"] for p in parts], options.keep):
            changed = True
        if changed:
            manifest.save()
    return {"changed": changed, "backup": backup, "files": files, "warnings": warnings, "problems": problems,
            "newest_good": newest_good(manifest, env, parts, options.verify), "removed_leftovers": removed_leftovers,
            "application": app, "environment": env}


def _download_part(client, app, env, entry, part, manifest, options, sleep, clock):
    name = "%s/%s" % (app.get("slug"), env.get("slug"))
    what = "backup %s of %s, %s:%s part" % (entry["uuid"], name, part.get("service_type"), part.get("prefix"))
    base = {"application": app.get("slug"), "environment": env.get("slug"), "environment_uuid": env["uuid"],
            "backup": entry["uuid"], "taken_at": entry.get("taken_at"), "part": part["uuid"],
            "service_type": part.get("service_type"), "prefix": part.get("prefix")}
    try:
        url = prepare_download(client, entry["uuid"], part, options.wait_timeout, options.poll_interval, sleep, clock)
        # The size to check against is the one the API gives now that the file is ready (the part may have been
        # listed before it was final).
        current = client.get("%s%s/" % (SERVICE_INSTANCE_BACKUPS, quote(part["uuid"], safe="")))
        size = current.get("size") if isinstance(current, dict) else None
        size = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
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
        problems.append(("verification_failed", "%s:%s: %s (verified %s)" % (
            part.get("service_type"), part.get("prefix"), (record.get("verification") or {}).get("reason"),
            record.get("verified_at"))))
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


def describe_problems(entry_uuid, name, problems):
    """One message for the parts that failed, verdicts first."""
    return "backup %s of %s: %s" % (entry_uuid, name, " | ".join(message for _kind, message in problems))
