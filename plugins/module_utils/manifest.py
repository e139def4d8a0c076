# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""``dest``'s record of its downloads, ``.divio-downloads.json``: per part its file, size, sha256 and verification.

``Manifest`` reads and writes it (atomically, mode 0600, through files.py) and removes the files it names, only
plain file names inside ``dest``. The functions below read records: whether a part's file is still there unchanged
(``still_there``), whether its verification reached a level (``reached``, ``verdict_reached``), the newest good
copy per service (``newest_good``) and the pruning of older ones (``prune``). No Ansible imports.
"""

import hashlib
import json
import os
import threading

from ansible_collections.divio.cloud.plugins.module_utils.errors import excerpt
from ansible_collections.divio.cloud.plugins.module_utils.files import read_regular_file, remove_quietly, write_atomically
from ansible_collections.divio.cloud.plugins.module_utils.values import LEVELS

MANIFEST = ".divio-downloads.json"
MANIFEST_VERSION = 1
MAX_MANIFEST_BYTES = 64 * 1024 * 1024  # a record is about 600 bytes: room for 100,000 parts


class Manifest:
    """``dest``'s record of what it holds, by part id; written atomically with mode 0600."""

    def __init__(self, directory):
        self.path = os.path.join(directory, MANIFEST)
        self.directory = directory
        self.parts = {}
        self.warning = None
        self._lock = threading.Lock()
        try:
            data = json.loads(read_regular_file(self.path, MAX_MANIFEST_BYTES))
            if not isinstance(data, dict) or not isinstance(data.get("parts"), dict):
                raise ValueError("no parts")
            self.parts = data["parts"]
        except FileNotFoundError:
            pass
        except (OSError, ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
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

    def remove_file(self, record):
        """Remove the record's file from ``dest``, if it names one there."""
        path = self.file_path(record)
        if path is not None:
            remove_quietly(path)

    def drop_file(self, record):
        """Remove the record's file and keep the record without one: the verdict stays, the copy goes."""
        if record.get("file"):
            self.remove_file(record)
            record["file"] = None


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


def verdict_reached(record, wanted):
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


def file_result(manifest, record, changed):
    """A part's entry in a download's ``files``, as its record says."""
    return {"service_type": record.get("service_type"), "prefix": record.get("prefix"), "part": record.get("part"),
            "path": manifest.file_path(record), "size": record.get("size"), "sha256": record.get("sha256"),
            "format": record.get("format"), "verified": record.get("verified"),
            "verification": record.get("verification"), "verified_at": record.get("verified_at"), "changed": changed}


def _good_copy(manifest, record, level):
    """The record's file is in ``dest`` with its recorded size, and it passed verification (at whatever level it was
    made: ``reached`` judges the level) or, for ``level`` none, was not found broken. The sha256 is not read again
    here: that is for the run that uses the file."""
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


def prune(manifest, env, current, keep):
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
            manifest.remove_file(record)
            del manifest.parts[part_uuid]
            removed += 1
    return removed
