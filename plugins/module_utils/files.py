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
import tempfile


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
