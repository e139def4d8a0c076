# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Disk space held for a file about to be written: a download (fetch.py) or a scratch server (scratch.py).
Ground floor: no sibling but errors. No Ansible imports."""

import os
import shutil
import threading

from ansible_collections.divio.cloud.plugins.module_utils.errors import DownloadError

# Room left on the file system after a download, for the manifest and whatever else runs there.
FREE_SPACE_MARGIN = 64 * 1024 * 1024


def check_free_space(directory, needed, what, held=0):
    """``DownloadError`` when ``directory`` has less than ``needed`` bytes (plus a margin, plus ``held``: what
    other downloads in progress there still need) free."""
    free = shutil.disk_usage(directory).free
    if needed is not None and free < needed + held + FREE_SPACE_MARGIN:
        raise DownloadError("%s: %s has %d bytes free; the file needs %d bytes plus a margin of %d%s. Nothing was "
                            "downloaded; free space or choose another dest."
                            % (what, directory, free, needed, FREE_SPACE_MARGIN,
                               ", and other downloads in progress there hold %d" % held if held else ""))


class SpaceReservation:
    """The disk space a download needs, held from its start to its end, so downloads running at once (the backup
    check verifies several backups concurrently) cannot each see the same free space and together fill the disk.

    Held per file system in this process; counted whole until the download ends (a file half written is counted
    twice, which errs on the side of refusing)."""

    _held = {}  # device -> bytes
    _lock = threading.Lock()

    def __init__(self, directory, what):
        self.directory, self.what = directory, what
        self.device = os.stat(directory).st_dev
        self.size = 0

    def hold(self, needed):
        """Check that ``needed`` more bytes fit beside what every download in progress holds, and hold them."""
        if needed is None:
            return
        with self._lock:
            check_free_space(self.directory, needed, self.what, held=self._held.get(self.device, 0))
            self._held[self.device] = self._held.get(self.device, 0) + needed
            self.size += needed

    def release(self):
        with self._lock:
            left = self._held.get(self.device, 0) - self.size
            if left > 0:
                self._held[self.device] = left
            else:
                self._held.pop(self.device, None)
            self.size = 0
