# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Copying a backup of one environment into another: what the ``backup_copy`` module does.

The API has no copy call; divio-cli's path is a pull and a push, and so is this, with a proof in between:

1. every option is checked, source and target resolved; the target equal to the source, a ``confirm`` that does not
   name the target, a ``live`` target without ``allow_live``, a part whose target instance is missing or of another
   engine (a MySQL dump into PostgreSQL): refused before any POST;
2. the source parts are downloaded into a private directory (0700, files 0600, removed afterwards) and verified
   (downloads.py); a part that fails or cannot be verified stops the copy before anything is uploaded;
3. a safety backup of the target's affected services (taking.py);
4. ``POST backups/upload/``, upload, finish, wait; restore of the uploaded parts into the target (uploads.py).

Parts map by type and prefix; across applications whose prefixes differ, ``prefix_map`` says which goes where.
No Ansible imports.
"""

import shutil
import tempfile
import time

from ansible_collections.divio.cloud.plugins.module_utils.download_options import (
    DEFAULT_DOWNLOAD_TIMEOUT,
    DEFAULT_MAX_DOWNLOAD_BYTES,
    DEFAULT_RESTORE_TIMEOUT,
    DownloadOptions,
)
from ansible_collections.divio.cloud.plugins.module_utils.downloads import download_backup
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    DivioError,
    InputError,
    UploadError,
)
from ansible_collections.divio.cloud.plugins.module_utils.part_download import describe_problems, failure
from ansible_collections.divio.cloud.plugins.module_utils.resolution import resolve_backup
from ansible_collections.divio.cloud.plugins.module_utils.resources import require_text
from ansible_collections.divio.cloud.plugins.module_utils.uploads import (
    DEFAULT_UPLOAD_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT,
    Environment,
    Steps,
    UploadOptions,
    guard_target,
    label,
    restore_uploaded,
    take_safety_backup,
    upload_parts,
)
from ansible_collections.divio.cloud.plugins.module_utils.values import (
    DEFAULT_MIN_RETENTION,
    DEFAULT_SERVICES,
    TaskOptions,
    writable_directory,
)

VERIFY_LEVELS = ("read", "restore")


class CopyOptions(TaskOptions):
    """Every option of a copy, checked before the first request (``InputError`` naming the value)."""

    ARGUMENT_SPEC = dict(
        target_application=dict(type="str"),
        target_environment=dict(type="str", required=True),
        confirm=dict(type="str", required=True),
        allow_live=dict(type="bool", default=False),
        safety_backup=dict(type="bool", default=True),
        verify=dict(type="str", choices=list(VERIFY_LEVELS), default="read"),
        prefix_map=dict(type="dict"),
        work_dir=dict(type="path"),
        upload_timeout=dict(type="float", default=DEFAULT_UPLOAD_TIMEOUT),
        wait_timeout=dict(type="float", default=DEFAULT_WAIT_TIMEOUT),
        poll_interval=dict(type="float", default=2),
        # the download's own options, as a download declares them
        **dict((name, DownloadOptions.ARGUMENT_SPEC[name]) for name in (
            "backup", "services", "download_timeout", "max_download_bytes", "restore_timeout", "min_retention")),
    )

    def __init__(self, target_environment, confirm, backup="latest", services=DEFAULT_SERVICES, target_application=None,
                 allow_live=False, safety_backup=True, verify="read", work_dir=None, prefix_map=None,
                 download_timeout=DEFAULT_DOWNLOAD_TIMEOUT, max_download_bytes=DEFAULT_MAX_DOWNLOAD_BYTES,
                 restore_timeout=DEFAULT_RESTORE_TIMEOUT, upload_timeout=DEFAULT_UPLOAD_TIMEOUT,
                 wait_timeout=DEFAULT_WAIT_TIMEOUT, poll_interval=2, min_retention=DEFAULT_MIN_RETENTION):
        self.target_environment = require_text("target_environment", target_environment, allow_none=False)
        self.target_application = require_text("target_application", target_application)
        self.confirm = confirm  # checked against the target once it is known (guard_target)
        for name, value in (("allow_live", allow_live), ("safety_backup", safety_backup)):
            if not isinstance(value, bool):
                raise InputError("%s %r is not valid: expected true or false." % (name, value))
        self.allow_live, self.safety_backup = allow_live, safety_backup
        if verify not in VERIFY_LEVELS:
            raise InputError("verify %r is not valid: expected read or restore (a copy always proves its source)."
                             % (verify,))
        self.work_dir = self._work_dir(work_dir)
        self.prefix_map = self._prefix_map(prefix_map)
        # The download's own checks (backup, services, timeouts, sizes, min_retention, wait_timeout, poll_interval),
        # against the work directory; the run downloads into a private directory it makes there (with_dest).
        self.download = DownloadOptions(self.work_dir, backup=backup, services=services, verify=verify,
                                        download_timeout=download_timeout, max_download_bytes=max_download_bytes,
                                        restore_timeout=restore_timeout, wait_timeout=wait_timeout,
                                        poll_interval=poll_interval, min_retention=min_retention)
        # The waits, checked above, are handed on as checked.
        self.upload = UploadOptions(upload_timeout=upload_timeout, wait_timeout=self.download.wait_timeout,
                                    poll_interval=self.download.poll_interval)

    @staticmethod
    def _work_dir(work_dir):
        if work_dir is None:
            return tempfile.gettempdir()
        return writable_directory("work_dir", work_dir, "is not a directory the task's user can write to")

    @staticmethod
    def _prefix_map(prefix_map):
        if prefix_map is None:
            return {}
        if not isinstance(prefix_map, dict) or not all(isinstance(k, str) and k.strip() and isinstance(v, str) and
                                                       v.strip() for k, v in prefix_map.items()):
            raise InputError("prefix_map %r is not valid: expected a mapping of source prefix to target prefix, such as "
                             "{DEFAULT: MAIN}." % (prefix_map,))
        return dict((k.strip().upper(), v.strip().upper()) for k, v in prefix_map.items())


def engine(instance):
    """``postgres`` for ``postgres-15``: what a dump can be restored into (the version is not compared)."""
    service = str(instance.get("service") or "")
    head, _sep, tail = service.rpartition("-")
    return head if head and tail.replace(".", "").isdigit() else service or None


def map_parts(source, target, parts, prefix_map):
    """``[(source part, target instance)]``: by type and prefix (``prefix_map`` applied); ``InputError`` for a part
    with no target instance, two parts onto one, or another engine."""
    pairs = []
    for part in parts:
        kind, prefix = part.get("service_type"), str(part.get("prefix") or "DEFAULT")
        wanted = "%s:%s" % (kind, prefix_map.get(prefix.upper(), prefix))
        instance = target.instance(wanted)
        mine = source.instances.get(part.get("service_instance")) or {}
        theirs, ours = engine(mine), engine(instance)
        if theirs and ours and theirs != ours:
            raise InputError("%s's %s:%s is %s, %s's %s is %s: a %s dump cannot be restored into %s; refused. Nothing was "
                             "sent." % (source.name, kind, prefix, mine.get("service"), target.name, wanted,
                                        instance.get("service"), theirs, ours))
        if any(instance["uuid"] == other["uuid"] for _part, other in pairs):
            raise InputError("two parts of the source map onto %s's %s; check prefix_map." % (target.name, wanted))
        pairs.append((part, instance))
    return pairs


def resolve_copy(client, application, environment, options):
    """``(source, target, backup entry, [(part, target instance)])``, every refusal before any POST."""
    source = Environment(client, application, environment)
    target = Environment(client, options.target_application or source.app.get("slug") or source.app["uuid"],
                         options.target_environment)
    if target.env["uuid"] == source.env["uuid"]:
        raise InputError("the target %s is the source environment; a copy needs another environment. Nothing was sent."
                         % target.name)
    guard_target(target, options.confirm, options.allow_live, what="copy")
    source.chosen = resolve_backup(client, source.app["uuid"], source.env["slug"], options.download.backup,
                                   options.download.services, options.download.min_retention)
    return source, target, source.chosen.backup, map_parts(source, target, source.chosen.parts, options.prefix_map)


def download_source(client, source, options, work, sleep, clock):
    """The source parts, downloaded into ``work`` and verified: ``{part uuid: file entry}``; raises when any part
    failed, before anything was uploaded."""
    result = download_backup(client, source.app["uuid"], source.env["slug"], options.download.with_dest(work),
                             sleep=sleep, clock=clock, chosen=source.chosen)
    if result["problems"]:
        raise failure(result["problems"])("%s. Nothing was uploaded, backed up or restored." % describe_problems(
            result["backup"]["uuid"], source.name, result["problems"]))
    return dict((item["part"], item) for item in result["files"])


def copy_backup(client, application, environment, options, check_mode=False, sleep=time.sleep, clock=time.monotonic):
    """The ``backup_copy`` task; returns ``{"changed", "msg", "source", "target", "safety_backup", "uploaded_backup",
    "restore", "parts"}``."""
    source, target, entry, pairs = resolve_copy(client, application, environment, options)
    result = {"changed": True, "source": {"application": source.app.get("slug"), "environment": source.env.get("slug"),
                                          "backup": dict((k, entry.get(k)) for k in ("uuid", "taken_at", "dated_by"))},
              "target": {"application": target.app.get("slug"), "environment": target.env.get("slug")},
              "safety_backup": None, "uploaded_backup": None, "restore": None,
              "parts": [{"service": "%s:%s" % (part.get("service_type"), part.get("prefix")), "source_part": part["uuid"],
                         "target_service": label(instance), "target_service_instance": instance["uuid"],
                         "bytes": part.get("size"), "sha256": None} for part, instance in pairs]}
    services = ", ".join("%s -> %s" % (p["service"], p["target_service"]) for p in result["parts"])
    result["msg"] = "%s backup %s of %s into %s (%s)" % ("would copy" if check_mode else "copied", entry["uuid"],
                                                         source.name, target.name, services)
    if check_mode:
        return result
    work = tempfile.mkdtemp(prefix=".divio-copy-", dir=options.work_dir)  # mode 0700
    try:
        _copy(client, source, target, entry, pairs, options, work, result, sleep, clock)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _copy(client, source, target, entry, pairs, options, work, result, sleep, clock):
    downloaded = download_source(client, source, options, work, sleep, clock)
    files = [{"instance": instance, "path": downloaded[part["uuid"]]["path"], "size": downloaded[part["uuid"]]["size"]}
             for part, instance in pairs]
    why = "copying backup %s of %s into %s (divio.cloud.backup_copy)" % (entry["uuid"], source.name, target.name)
    steps = Steps()
    try:
        if options.safety_backup:
            result["safety_backup"] = take_safety_backup(client, target, [label(i) for _p, i in pairs], why,
                                                         options.upload, sleep, clock)
            safety = result["safety_backup"]["uuid"]
            steps.add("safety backup %s of %s was taken (restore it to undo)" % (safety, target.name))
        result["uploaded_backup"], sent = upload_parts(client, target, files, options.upload, steps, sleep, clock)
        for (part, _instance), item, shown in zip(pairs, sent, result["parts"]):
            if item["sha256"] != downloaded[part["uuid"]]["sha256"]:
                raise UploadError("%s: the bytes uploaded (sha256 %s) are not those downloaded (sha256 %s); not restored."
                                  % (shown["service"], item["sha256"], downloaded[part["uuid"]]["sha256"]))
            shown.update(bytes=item["bytes"], sha256=item["sha256"], handler=item["handler"],
                         format=downloaded[part["uuid"]]["format"], verification=downloaded[part["uuid"]]["verification"])
        result["restore"] = restore_uploaded(client, target, result["uploaded_backup"]["uuid"], sent, why, options.upload,
                                             sleep, clock)
    except DivioError as exc:
        raise steps.failed(exc, "the copy of backup %s of %s into %s" % (entry["uuid"], source.name, target.name)) from None
