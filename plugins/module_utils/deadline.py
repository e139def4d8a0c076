# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The one deadline type: every wait, poll, request and program run of this collection ends by a ``Deadline``.

A figure for a report (how long a step took) may read the clock directly; anything that stops waiting uses this.
Ground floor: no imports from this collection, no Ansible.
"""

import time


class Deadline:
    """A point in time ``seconds`` from when it was made, on ``clock`` (tests pass a fake one)."""

    def __init__(self, seconds, clock=time.monotonic):
        self.clock = clock
        self.seconds = seconds
        self.at = clock() + seconds

    def remaining(self):
        """Seconds left; zero or less once it has passed."""
        return self.at - self.clock()

    def passed(self):
        return self.remaining() <= 0
