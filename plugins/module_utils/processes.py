# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Every program this collection runs starts here: ``run`` one to its end by a ``Deadline``, or ``start`` one that
outlives the call (a server, a client its caller watches).

ansible-test's pylint asks modules to run programs through ``AnsibleModule.run_command``; ``start`` is the one place
that does not, for one reason: module_utils has no Ansible imports, and run_command can neither bound a step in
time, run it as another account, nor leave a server running. Ground floor: no imports from this collection.
"""

import os
import signal
import subprocess

DEVNULL, PIPE, STDOUT = subprocess.DEVNULL, subprocess.PIPE, subprocess.STDOUT
TimeoutExpired = subprocess.TimeoutExpired


def start(command, **options):
    """``subprocess.Popen(command, **options)``: the caller waits for it, watches it, or leaves it running."""
    # pylint: disable-next=ansible-bad-function  # the one exception: see the module docstring
    return subprocess.Popen(command, **options)


def run(command, deadline, **options):
    """``command`` run to its end by ``deadline`` (a ``Deadline``); a ``subprocess.CompletedProcess``.

    stdin is /dev/null and the output is captured as text unless ``options`` (Popen's) say otherwise. When the
    deadline passes first, the program is killed (with ``start_new_session``, its whole process group) and
    ``TimeoutExpired`` raised; ``OSError`` when it cannot start."""
    settings = {"stdin": DEVNULL, "stdout": PIPE, "stderr": PIPE, "text": True}
    settings.update(options)
    with start(command, **settings) as process:
        try:
            out, err = process.communicate(timeout=deadline.remaining())
        except BaseException:
            _kill(process, settings.get("start_new_session"))
            raise
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def _kill(process, group):
    try:
        if group:  # the program's own children too (initdb's bootstrap backend)
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except ProcessLookupError:
        pass
