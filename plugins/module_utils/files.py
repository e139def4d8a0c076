# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Putting a file in place whole: the one atomic writer (reports, the download manifest, the lookup cache) and the
rename that commits a streamed download. Ground floor: imports nothing of the house. No Ansible imports.

A rename within one folder is atomic, so readers (CI jobs, node_exporter, parallel workers, the next run) see the
old file or the new one, never half of one.
"""

import os
import stat
import tempfile


def read_regular_file(path, max_bytes):
    """The bytes of the regular file ``path``, for a file others may have planted or edited (a manifest in ``dest``,
    a cache entry): a symlink is not followed and a FIFO or device is refused (``OSError``), never waited on or read
    without end; a file over ``max_bytes`` is refused (``ValueError``) after reading at most one byte more."""
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(handle, "rb") as source:
        if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
            raise OSError("not a regular file")
        data = source.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError("larger than %d bytes" % max_bytes)
    return data


def remove_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def commit_file(temporary, path, mode):
    """Give a finished temporary file its ``mode`` and rename it over ``path`` (same folder)."""
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def write_atomically(path, text, mode, fsync=True, prefix=None, suffix=".tmp"):
    """Write ``text`` to a temporary file beside ``path`` (``prefix`` defaults to ``.<name>.``), optionally fsync
    it, then commit it with ``mode``. On any failure the temporary file is removed and the error raised."""
    directory, name = os.path.split(path)
    handle, temporary = tempfile.mkstemp(prefix=".%s." % name if prefix is None else prefix, suffix=suffix,
                                         dir=directory or ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            if fsync:
                stream.flush()
                os.fsync(stream.fileno())
        commit_file(temporary, path, mode)
    except BaseException:
        remove_quietly(temporary)
        raise
