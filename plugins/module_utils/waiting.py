# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Waiting for something the API does in the background (a backup, a deployment): one polling loop.

No Ansible imports. ``sleep`` and ``clock`` are parameters so tests can drive the loop without waiting.
"""

import time

from ansible_collections.divio.cloud.plugins.module_utils.deadline import Deadline
from ansible_collections.divio.cloud.plugins.module_utils.errors import InvalidResponseError, WaitTimeout
from ansible_collections.divio.cloud.plugins.module_utils.values import check_seconds


def poll_until(fetch, done, timeout, interval, what, sleep=time.sleep, clock=time.monotonic, describe=None):
    """Call ``fetch()`` every ``interval`` seconds until ``done(obj)``; return that last object.

    ``timeout``: seconds from now (on ``clock``), or a ``Deadline`` the wait shares with others (on its own clock);
    there is at least one look either way. The last look happens at the deadline (a sleep is cut short rather than
    overshooting it), so a wait of ``timeout`` seconds really sees what happened within them. On timeout raises
    ``WaitTimeout``: "<what> did not finish within <timeout> s (<describe(obj)>)", with the object's
    ``uuid`` and the object itself (``last``) in ``details``. Errors from ``fetch`` pass through unchanged.
    """
    deadline = timeout if isinstance(timeout, Deadline) else Deadline(check_seconds("timeout", timeout), clock)
    interval = check_seconds("interval", interval)
    timeout = deadline.seconds
    while True:
        obj = fetch()
        if done(obj):
            return obj
        remaining = deadline.remaining()
        if remaining <= 0:
            state = describe(obj) if describe is not None else None
            uuid = obj.get("uuid") if isinstance(obj, dict) else None
            raise WaitTimeout("%s did not finish within %g s%s" % (what, timeout, " (%s)" % state if state else ""),
                              uuid=uuid, what=what, timeout=timeout, last=obj)
        sleep(min(interval, remaining))


def poll_object(client, path, done, timeout, interval, what, kind, sleep=time.sleep, clock=time.monotonic, describe=None):
    """``poll_until`` over ``GET path`` (an object the API works on in the background: a backup, a download part, a
    restore); an answer that is not a JSON object raises ``InvalidResponseError`` naming ``kind`` ("restore")."""

    def fetch():
        found = client.get(path)
        if not isinstance(found, dict):
            raise InvalidResponseError("GET %s did not answer with a %s object." % (path, kind), path=path)
        return found

    return poll_until(fetch, done, timeout, interval, what, sleep=sleep, clock=clock, describe=describe)
