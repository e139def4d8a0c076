# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""A small on-disk cache of API answers that lives as long as one ansible-playbook run.

Why on disk: Ansible templates each task in a freshly forked worker process (and task names in the
main process), so anything kept in memory by a lookup is gone when its task ends. The run's local
temporary directory (``ansible.constants.DEFAULT_LOCAL_TMP``) is created once by the main process,
inherited by every worker, and removed when the run ends - the right lifetime for this cache.

What it stores: the decoded JSON of GET answers, one file per key. A key is the client's
``(sha256 of the token, absolute URL)``; the file name is a sha256 of that, and the file holds only
the time it was stored and the value - never the token. Files are written to a temporary name and
renamed (workers run in parallel), the directory is 0700 and files are 0600.

A cache that cannot be used (unwritable, foreign or symlinked directory, corrupt file) behaves as
empty: it costs requests, never correctness. No Ansible imports at module level.
"""

import hashlib
import json
import os
import stat
import threading
import time

from ansible_collections.divio.cloud.plugins.module_utils.files import read_regular_file, write_atomically

CACHE_DIR_NAME = "divio.cloud-lookup-cache"
DEFAULT_TTL = 300
DEFAULT_MAX_ENTRIES = 512
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_SUFFIX = ".json"
_TMP_PREFIX = ".tmp-"


def run_cache_dir():
    """The cache directory of this ansible-playbook run (not created here)."""
    from ansible import constants as C  # imported late: the unit tests use the class without a run

    return os.path.join(C.DEFAULT_LOCAL_TMP, CACHE_DIR_NAME)


class LookupCache:
    """``get(key)`` -> value or None, ``set(key, value)``; the interface ``DivioClient`` expects.

    ``ttl``: seconds an entry stays valid (0 or less: the cache is off). ``max_entries`` and
    ``max_bytes`` bound the directory; the oldest entries go first.
    """

    def __init__(self, directory, ttl=DEFAULT_TTL, max_entries=DEFAULT_MAX_ENTRIES, max_bytes=DEFAULT_MAX_BYTES,
                 clock=time.time):
        self.directory = directory
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self.hits = 0
        self.misses = 0
        self._usable = None  # decided on first use
        # The client may fetch pages from several threads; files need no lock, this object's state does.
        self._lock = threading.Lock()

    @property
    def enabled(self):
        return bool(self.ttl and self.ttl > 0)

    @staticmethod
    def filename(key):
        """File name for a key: a hash, so neither the token hash nor the URL shows in a listing."""
        token_hash, url = key
        digest = hashlib.sha256(("%s\n%s" % (token_hash, url)).encode("utf-8")).hexdigest()
        return digest + _SUFFIX

    def _path(self, key):
        return os.path.join(self.directory, self.filename(key))

    def _ready(self):
        """Create the directory (0700) or accept an existing one only if it is ours and private."""
        with self._lock:
            if self._usable is None:
                self._usable = self._check_directory()
            return self._usable

    def _count(self, hit):
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def _check_directory(self):
        try:
            os.mkdir(self.directory, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return False
        try:
            info = os.lstat(self.directory)
        except OSError:
            return False
        # Another user's or a group/world-accessible directory could feed us answers: do not use it.
        return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077

    def get(self, key):
        if not self.enabled or not self._ready():
            return None
        value = self._read(self._path(key))
        self._count(value is not None)
        return value

    def _read(self, path):
        try:
            record = json.loads(read_regular_file(path, self.max_bytes))
            stored = float(record["stored_at"])
            value = record["value"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, RecursionError):  # RecursionError: absurdly nested JSON
            self._discard(path)
            return None
        age = self.clock() - stored
        if not 0 <= age < self.ttl:  # expired, or stored "in the future" after a clock change
            self._discard(path)
            return None
        return value

    def set(self, key, value):
        if not self.enabled or not self._ready():
            return
        try:
            data = json.dumps({"stored_at": self.clock(), "value": value}, separators=(",", ":"))
        except (TypeError, ValueError):
            return  # not JSON (cannot happen for decoded API answers): just do not cache it
        if len(data) > self.max_bytes:
            return
        try:
            # 0600, and no fsync: a cache entry lost in a crash costs a request, never correctness.
            write_atomically(self._path(key), data, 0o600, fsync=False, prefix=_TMP_PREFIX, suffix="")
        except OSError:
            return  # an unusable cache behaves as empty
        self._prune()

    def _discard(self, path):
        try:
            os.unlink(path)
        except OSError:
            pass

    def _prune(self):
        """Drop the oldest entries beyond ``max_entries`` / ``max_bytes``; others may prune at once."""
        entries = []
        try:
            with os.scandir(self.directory) as listing:
                for item in listing:
                    if not item.name.endswith(_SUFFIX) or item.name.startswith(_TMP_PREFIX):
                        continue
                    try:
                        info = item.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    entries.append((info.st_mtime, info.st_size, item.path))
        except OSError:
            return
        total = sum(entry[1] for entry in entries)
        entries.sort()
        while entries and (len(entries) > self.max_entries or total > self.max_bytes):
            dummy, size, path = entries.pop(0)
            total -= size
            self._discard(path)
