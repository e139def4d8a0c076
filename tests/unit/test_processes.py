"""processes.py, the one way programs start: ``run`` ends a program by its ``Deadline`` (real processes, no mocks)."""

import os
import time

import pytest

from ansible_collections.divio.cloud.plugins.module_utils import processes
from ansible_collections.divio.cloud.plugins.module_utils.deadline import Deadline


def test_run_captures_the_output_as_text_with_stdin_from_dev_null():
    done = processes.run(["/bin/sh", "-c", "cat; echo out; echo err >&2; exit 3"], Deadline(10))
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


def test_a_program_past_its_deadline_is_killed_with_its_process_group(tmp_path):
    """With ``start_new_session`` the program's children die with it (initdb's bootstrap backend, say)."""
    pid_file = tmp_path / "child.pid"
    script = 'sleep 30 & echo $! > "$1"; wait'
    started = time.monotonic()
    with pytest.raises(processes.TimeoutExpired):
        processes.run(["/bin/sh", "-c", script, "sh", str(pid_file)], Deadline(0.5), start_new_session=True)
    assert time.monotonic() - started < 5
    child = int(pid_file.read_text())
    for _attempt in range(50):  # the child is reparented and reaped by init: gone within moments
        if not os.path.exists("/proc/%d" % child) or "Z" in _state(child):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the program's child %d outlived the deadline" % child)


def test_a_program_that_cannot_start_raises_oserror():
    with pytest.raises(OSError):
        processes.run(["/nonexistent/program"], Deadline(5))


def _state(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
