# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""What a run leaves behind when it is killed, and whether that run is gone: the rules for removing it.

A leftover carries its run in its name (``run_token()``: the owner's pid, that process's start time and the boot it
ran in, so a pid reused by another process later does not keep it alive). It may be removed only when it is ours - a
regular file (never followed through a symbolic link) owned by the account running this task - and its run is gone.
Linux gives the start time and boot (``/proc``); elsewhere only the pid is checked. Ground floor: no imports from
this collection, no Ansible.
"""

import os
import stat

_BOOT_ID = "/proc/sys/kernel/random/boot_id"
UNKNOWN = "0"  # a start time or boot this system does not tell
GONE = "it is gone"  # what ``not_ours`` says of a path removed meanwhile


def _boot():
    try:
        with open(_BOOT_ID) as handle:
            return handle.read().strip().replace("-", "")[:12] or UNKNOWN
    except OSError:
        return UNKNOWN


def _stat_fields(pid):
    """``/proc/<pid>/stat`` from field 3 (the state) on, or None; the name before it may hold spaces and ')'."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rpartition(")")[2].split()
    except (OSError, ValueError):
        return None


def _started(pid):
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 and fields[19].isdigit() else UNKNOWN  # field 22, starttime


def run_token(pid=None):
    """``<pid>-<start time>-<boot>``: names this process (or ``pid``) so that ``process_gone`` can tell later."""
    pid = os.getpid() if pid is None else pid
    return "%d-%s-%s" % (pid, _started(pid), _boot())


def process_gone(pid, started=UNKNOWN, boot=UNKNOWN):
    """Whether the process ``pid`` (started at ``started``, in ``boot``, as ``run_token`` wrote them) has ended.

    False whenever that cannot be told for sure: a leftover is kept rather than taken from a run still going."""
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2 ** 31:
        return False  # 0 and negatives mean process groups to kill(); nothing to judge
    if boot != UNKNOWN and _boot() not in (UNKNOWN, boot):
        return True  # a run of an earlier boot
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another account's
    except OSError:
        return False
    fields = _stat_fields(pid)
    if fields and fields[0] in ("Z", "X"):
        return True  # ended, not yet reaped by its parent
    return started != UNKNOWN and _started(pid) not in (UNKNOWN, started)  # the pid now names another process


def not_ours(path):
    """Why ``path`` is not a file this account may remove as its own (``lstat``: a link is never followed), or None."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return GONE
    except OSError as exc:
        return "it cannot be examined (%s)" % (exc.strerror or exc)
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file"
    if info.st_uid != os.geteuid():
        return "it belongs to uid %d, not to the account running the task (uid %d)" % (info.st_uid, os.geteuid())
    return None
