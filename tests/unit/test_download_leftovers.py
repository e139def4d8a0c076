"""A download's bounds and its leftovers, below the module: fetch_file stops at the API's size (object storage
mocked with ``responses``), leftovers.py tells a run that is gone from one still going (real processes), and
fetch.remove_leftover_parts removes only what is ours (real files)."""

import os
import pwd
import subprocess
import sys
import time

import pytest

from ansible_collections.divio.cloud.plugins.module_utils import fetch, leftovers
from ansible_collections.divio.cloud.plugins.module_utils.errors import DownloadError

URL = "https://storage.example.test/objects/key?X-Amz-Signature=abc"
IS_ROOT = os.geteuid() == 0
HAS_PROC = os.path.exists("/proc/self/stat")


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def dest(tmp_path):
    path = tmp_path / "dest"  # (tmp_path holds the test's HOME)
    path.mkdir()
    return path


@pytest.fixture
def sleeper():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield child
    child.kill()
    child.wait()


# -- fetch_file: the promised size is the ceiling ---------------------------------------------------

def test_a_body_longer_than_the_api_size_stops_at_the_first_byte_past_it(api, dest):
    api.get(URL, body=bytes(5 * 1024 * 1024), headers={})  # no Content-Length to refuse it by
    with pytest.raises(DownloadError) as caught:
        fetch.fetch_file(URL, str(dest), 1000, 30, 10 ** 9, what="dump")
    message = str(caught.value)
    assert "sent more than the 1000 bytes the API says the part is - 1001 bytes had arrived" in message
    assert "partial file was removed" in message and "X-Amz-Signature" not in message
    assert os.listdir(dest) == []


def test_without_an_api_size_max_download_bytes_is_the_ceiling(api, dest):
    api.get(URL, body=bytes(3 * 1024 * 1024), headers={})
    with pytest.raises(DownloadError, match=r"sent more than max_download_bytes \(2000000; the API gives no size for "
                                            r"the part\) - 2000001 bytes had arrived"):
        fetch.fetch_file(URL, str(dest), None, 30, 2000000, what="dump")
    assert os.listdir(dest) == []


def test_a_size_over_max_download_bytes_is_refused_before_any_request(api, dest):
    with pytest.raises(DownloadError, match=r"the API says the part is 5000 bytes, more than max_download_bytes "
                                            r"\(4000\); not downloaded"):
        fetch.fetch_file(URL, str(dest), 5000, 30, 4000, what="dump")
    assert len(api.calls) == 0 and os.listdir(dest) == []


def test_a_body_of_the_promised_size_passes_and_its_temporary_file_names_its_run(api, dest):
    api.get(URL, body=b"x" * 1000, headers={"Content-Encoding": "gzip"})
    fetched = fetch.fetch_file(URL, str(dest), 1000, 30, 1000, what="dump")
    name = os.path.basename(fetched.temp_path)
    assert fetched.size == 1000 and fetched.content_encoding == "gzip"
    assert name.startswith("%s%s-" % (fetch.TEMP_PREFIX, leftovers.run_token())) and name.endswith(".part")
    fetched.discard()


# -- leftovers: whether a run is gone ------------------------------------------------------------------

def test_process_gone_for_an_ended_process_and_not_for_a_live_one(sleeper):
    assert leftovers.process_gone(_dead_pid()) is True
    pid, started, boot = leftovers.run_token(sleeper.pid).split("-")
    assert leftovers.process_gone(int(pid), started, boot) is False
    assert leftovers.process_gone(os.getpid()) is False


@pytest.mark.skipif(not HAS_PROC, reason="start times and boots come from /proc")
def test_a_reused_pid_or_an_earlier_boot_is_gone_and_so_is_a_zombie(sleeper):
    pid, started, boot = leftovers.run_token(sleeper.pid).split("-")
    assert started != leftovers.UNKNOWN and boot != leftovers.UNKNOWN
    assert leftovers.process_gone(int(pid), str(int(started) - 1), boot) is True  # the pid names another process now
    assert leftovers.process_gone(int(pid), started, "0123456789ab") is True
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _attempt in range(200):  # until it has exited (and is not reaped: nobody waits for it yet)
            if leftovers._stat_fields(zombie.pid)[0] == "Z":
                break
            time.sleep(0.01)
        assert leftovers.process_gone(zombie.pid) is True
    finally:
        zombie.wait()


@pytest.mark.parametrize("pid", [0, -1, True, 2 ** 40, "12"])
def test_process_gone_never_judges_what_is_no_pid(pid):
    assert leftovers.process_gone(pid) is False


def test_not_ours_reads_the_link_never_its_target(tmp_path):
    own = tmp_path / "own"
    own.write_bytes(b"x")
    (tmp_path / "link").symlink_to(own)
    (tmp_path / "dir").mkdir()
    os.mkfifo(str(tmp_path / "fifo"))
    assert leftovers.not_ours(str(own)) is None
    assert leftovers.not_ours(str(tmp_path / "link")) == "it is a symbolic link"
    assert leftovers.not_ours(str(tmp_path / "dir")) == "it is not a regular file"
    assert leftovers.not_ours(str(tmp_path / "fifo")) == "it is not a regular file"
    assert leftovers.not_ours(str(tmp_path / "missing")) == leftovers.GONE


# -- remove_leftover_parts: only what is ours, of a run that is gone -----------------------------------

def _part(directory, token, random="abc_12"):
    path = directory / ("%s%s-%s%s" % (fetch.TEMP_PREFIX, token, random, fetch.TEMP_SUFFIX))
    path.write_bytes(b"production data")
    return path


def test_removes_the_parts_of_gone_runs_and_leaves_everything_else(tmp_path, sleeper):
    gone = "%d-0-%s" % (_dead_pid(), leftovers.run_token().rsplit("-", 1)[1])
    dead = _part(tmp_path, gone, "dead01")
    reused = _part(tmp_path, "%d-1-%s" % (sleeper.pid, leftovers.run_token().rsplit("-", 1)[1]), "reuse1")
    alive = _part(tmp_path, leftovers.run_token(sleeper.pid), "alive1")
    mine = _part(tmp_path, leftovers.run_token(), "mine01")
    victim = tmp_path.parent / ("victim-" + tmp_path.name)
    victim.write_text("someone else's")
    link = tmp_path / ("%s%s-link01%s" % (fetch.TEMP_PREFIX, gone, fetch.TEMP_SUFFIX))
    link.symlink_to(victim)
    old_style = tmp_path / ".divio-download-k3j_x9a1.part"
    old_style.write_bytes(b"x")
    other = tmp_path / "backup.part"
    other.write_bytes(b"x")
    removed, warnings = fetch.remove_leftover_parts(str(tmp_path))
    expected = [str(dead)] + ([str(reused)] if HAS_PROC else [])
    assert removed == sorted(expected)
    assert all(p.exists() for p in (alive, mine, old_style, other)) and link.is_symlink() and victim.exists()
    assert warnings == ["%s looks like a partial download but was left alone: %s." % (path, why) for path, why in sorted(
        [(str(link), "it is a symbolic link"), (str(old_style), "its name does not say which run it belongs to")])]
    victim.unlink()


@pytest.mark.skipif(not IS_ROOT, reason="handing a file to another account needs root")
def test_a_part_of_another_account_is_left_alone_with_a_warning(tmp_path):
    nobody = pwd.getpwnam("nobody").pw_uid
    theirs = _part(tmp_path, "%d-0-0" % _dead_pid())
    os.chown(str(theirs), nobody, -1)
    removed, warnings = fetch.remove_leftover_parts(str(tmp_path))
    assert removed == [] and theirs.exists()
    assert warnings == ["%s looks like a partial download but was left alone: it belongs to uid %d, not to the account "
                        "running the task (uid 0)." % (theirs, nobody)]
