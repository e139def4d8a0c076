# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # Waiting for what a module started (a backup, a deployment), as waiting.poll_until does it. Defaults
    # and upper bounds differ per module: each module states its own default: for wait_timeout and
    # poll_interval (and a type: where it is not float), and their bounds in its notes.
    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait until what this task started has ended, and fail unless it succeeded.
      - With V(false) the task returns as soon as it was started.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds all waiting of this task may take together (with O(wait=true)); then the task fails with the id of
        what it started, which itself goes on and can be followed up.
      - A finite number greater than 0.
    type: float
  poll_interval:
    description:
      - Seconds between two status requests while waiting.
      - A finite number greater than 0.
    type: float
"""
