# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The options of a download task (``backup_download``; ``backup_copy`` and the fleet check's verify step build one
too), checked where the task starts, before the first request: ``DownloadOptions``. No Ansible imports."""

import copy

from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError
from ansible_collections.divio.cloud.plugins.module_utils.taking import MAX_POLL_INTERVAL, MAX_WAIT_TIMEOUT
from ansible_collections.divio.cloud.plugins.module_utils.values import (
    DEFAULT_MIN_RETENTION,
    DEFAULT_SERVICES,
    LEVELS,
    RuleOptions,
    Services,
    TaskOptions,
    check_seconds,
    parse_count,
    writable_directory,
)
from ansible_collections.divio.cloud.plugins.module_utils.verify import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_VERIFY_TIMEOUT,
    ReadLimits,
    restore_bounds,
)

DEFAULT_DOWNLOAD_TIMEOUT = 3600
MAX_DOWNLOAD_TIMEOUT = 7 * 86400
DEFAULT_MAX_DOWNLOAD_BYTES = 200 * 1024 ** 3
DEFAULT_RESTORE_TIMEOUT = 3600
DEFAULT_WAIT_TIMEOUT = 1800
DEFAULT_POLL_INTERVAL = 2


class DownloadOptions(TaskOptions):
    """Every option of a download task, checked before the first request (``InputError`` naming the value)."""

    ARGUMENT_SPEC = dict(
        services=dict(type="list", elements="str", default=list(DEFAULT_SERVICES)),
        backup=dict(type="str", default="latest"),
        dest=dict(type="path", required=True),
        verify=dict(type="str", choices=list(LEVELS), default="read"),
        keep=dict(type="int"),
        download_timeout=dict(type="float", default=DEFAULT_DOWNLOAD_TIMEOUT),
        max_download_bytes=dict(type="int", default=DEFAULT_MAX_DOWNLOAD_BYTES),
        restore_timeout=dict(type="float", default=DEFAULT_RESTORE_TIMEOUT),
        verify_timeout=dict(type="float", default=DEFAULT_VERIFY_TIMEOUT),
        max_expanded_bytes=dict(type="int"),
        max_members=dict(type="int", default=DEFAULT_MAX_MEMBERS),
        wait_timeout=dict(type="float", default=DEFAULT_WAIT_TIMEOUT),
        poll_interval=dict(type="float", default=DEFAULT_POLL_INTERVAL),
        min_retention=dict(type="raw", default=DEFAULT_MIN_RETENTION),
        max_restore_bytes=dict(type="int"),
        scratch_dir=dict(type="path"),
    )

    def __init__(self, dest, backup="latest", services=DEFAULT_SERVICES, verify="read", keep=None,
                 download_timeout=DEFAULT_DOWNLOAD_TIMEOUT, max_download_bytes=DEFAULT_MAX_DOWNLOAD_BYTES,
                 restore_timeout=DEFAULT_RESTORE_TIMEOUT, wait_timeout=DEFAULT_WAIT_TIMEOUT,
                 poll_interval=DEFAULT_POLL_INTERVAL,
                 min_retention=DEFAULT_MIN_RETENTION, verify_timeout=DEFAULT_VERIFY_TIMEOUT, max_expanded_bytes=None,
                 max_members=DEFAULT_MAX_MEMBERS, max_restore_bytes=None, scratch_dir=None):
        self.dest = _checked_dest(dest)
        if not isinstance(backup, str) or not backup.strip():
            raise InputError("backup %r is not valid: expected a backup id or 'latest'." % (backup,))
        self.backup = backup.strip()
        # services and min_retention parsed once, here (a caller's parsed values pass as they are: the fleet check's);
        # the typed values travel to the backup's resolution.
        services = DEFAULT_SERVICES if services is None else services
        rules = RuleOptions(services=services if isinstance(services, Services) else list(services),
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
        # The bounds of every task's wait (taking.py): a copy hands these checked values on to its upload.
        self.wait_timeout = check_seconds("wait_timeout", wait_timeout, MAX_WAIT_TIMEOUT)
        self.poll_interval = check_seconds("poll_interval", poll_interval, MAX_POLL_INTERVAL)
        self.max_restore_bytes, self.scratch_dir = restore_bounds(max_restore_bytes, scratch_dir)

    def with_dest(self, dest):
        """These options, checked already, for another ``dest`` (checked as ``dest`` always is): the directory a run
        makes for itself inside the one they were checked for (backup_copy's private directory, the fleet check's
        temporary one)."""
        options = copy.copy(self)
        options.dest = _checked_dest(dest)
        return options


def _checked_dest(dest):
    return writable_directory("dest", dest, "is not a directory (create it first, e.g. with ansible.builtin.file)",
                              "is not writable by the user running the task")
