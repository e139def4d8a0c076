"""backup_download against a hostile or broken world, run as users run it (ansible-playbook) over real HTTP against
a private simulator: a storage host that sends far more than the API promised, a newest backup that is broken while
``keep`` is set, a run killed mid-download, and files in ``dest`` named like ours that are not ours to remove."""

import json
import os
import pwd
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from ansible_collections.divio.cloud.plugins.module_utils.download_options import DownloadOptions
from ansible_collections.divio.cloud.plugins.module_utils.downloads import download_backup
from ansible_collections.divio.cloud.plugins.module_utils.manifest import MANIFEST
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient

from testlib import TOKEN, play, private_simulator

OVERSIZED_BYTES = 64 * 1024 * 1024  # what the simulator's oversized fault streams in all
HAS_PG_RESTORE = subprocess.run(["sh", "-c", "command -v pg_restore"], capture_output=True, check=False).returncode == 0
needs_pg_restore = pytest.mark.skipif(not HAS_PG_RESTORE, reason="pg_restore (PostgreSQL client) is not installed")


@pytest.fixture
def dsim():
    with private_simulator(downloads={"duration_seconds": 0.05, "stall_seconds": 20}) as server:
        yield server


@pytest.fixture
def dest(tmp_path):
    path = tmp_path / "dest"
    path.mkdir()
    return path


def download_play(dest, result="out", **options):
    """One backup_download task on wiki/live into ``dest``, its result registered (failed or not)."""
    args = dict({"application": "wiki", "environment": "live", "dest": str(dest), "poll_interval": 0.05}, **options)
    return play("""
    - name: Download
      divio.cloud.backup_download: %s
      register: %s
      ignore_errors: true
""" % (json.dumps(args), result), result_var=result)


def sim_env(sim):
    return {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}


def parts_in(dest):
    return sorted(name for name in os.listdir(dest) if name.endswith(".part"))


def wiki_live_backups(sim):
    """wiki/live's successful backups, newest first."""
    ds = sim.dataset
    env = next(e for e in ds.environments if e["slug"] == "live" and ds.by_uuid["applications"][e["application"]]["slug"] == "wiki")
    return sorted((b for b in ds.lookup("backups", "environment", env["uuid"]) if b["success"] == "SUCCESS"),
                  key=lambda b: b["started_at"], reverse=True)


class PartWatcher:
    """The largest temporary file seen in ``dest`` while it runs (polled every 2 ms)."""

    def __init__(self, directory):
        self.directory, self.largest, self._stop = str(directory), 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            for name in os.listdir(self.directory):
                if name.endswith(".part"):
                    try:
                        self.largest = max(self.largest, os.path.getsize(os.path.join(self.directory, name)))
                    except OSError:
                        pass
            time.sleep(0.002)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


def test_the_simulator_oversized_fault_streams_far_past_the_size_it_reports(dsim):
    """The switch itself: the API reports the dump's size; the origin sends the dump, then zeros, chunked (no
    Content-Length), OVERSIZED_BYTES in all, and counts them."""
    dsim.configure(downloads={"duration_seconds": 0, "fault": "oversized"})
    with DivioClient.from_options({"api_url": dsim.url, "api_token": TOKEN}, environ={}) as client:
        backup = wiki_live_backups(dsim)[1]
        ds = dsim.dataset
        [part] = [ds.by_uuid["service_instance_backups"][uuid] for uuid in backup["service_instance_backups"]
                  if ds.by_uuid["service_instances"][ds.by_uuid["service_instance_backups"][uuid]["service_instance"]]["type"]
                  == "DATABASE"]
        made = client.post("/apps/v3/backup-downloads/", {"backup": backup["uuid"], "service_instance_backups": [part["uuid"]]})
        dsim.download_jobs.advance()
        [item] = dsim.download_jobs.list_parts(made["uuid"])
    response = requests.get(item["download_url"], stream=True, timeout=30)
    assert "Content-Length" not in response.headers and response.headers["Transfer-Encoding"] == "chunked"
    body = response.raw.read(decode_content=False)
    assert len(body) == OVERSIZED_BYTES and body[:5] == b"PGDMP" and part["size"] < 100 * 1024
    assert body[part["size"]:] == bytes(OVERSIZED_BYTES - part["size"])
    assert dsim.storage.main.sent_bytes == OVERSIZED_BYTES


def test_an_oversized_body_stops_at_the_promised_size(run_playbook, dsim, dest):
    """The API promises the dump's size; the storage host streams 64 MiB: the download stops at the first byte past
    the promise, nothing past it reaches the disk, and the partial file is removed."""
    dsim.configure(downloads={"duration_seconds": 0.05, "fault": "oversized"})
    with PartWatcher(dest) as watcher:
        run = run_playbook(download_play(dest, verify="none"), env=sim_env(dsim))
    out = run.result
    assert out["failed"] is True and out["error"] == "DownloadError", run
    promised = dsim.dataset.by_uuid["service_instance_backups"][out["files"][0]["part"]]["size"]
    assert promised < 100 * 1024
    assert watcher.largest <= promised, watcher.largest  # nothing past the promise was written
    # The reader stopped: the host got rid of a few socket buffers' worth, not the 64 MiB it had to send.
    assert dsim.storage.main.sent_bytes < 8 * 1024 * 1024, dsim.storage.main.sent_bytes
    assert ("sent more than the %d bytes the API says the part is - %d bytes had arrived" % (promised, promised + 1)) \
        in out["msg"]
    assert "partial file was removed" in out["msg"]
    assert os.listdir(dest) == [MANIFEST] and out["newest_good"][0]["path"] is None


@needs_pg_restore
def test_keep_after_a_failed_run_keeps_the_last_good_copy_and_names_it(run_playbook, dsim, dest):
    good = wiki_live_backups(dsim)
    older, newer = good[2]["uuid"], good[1]["uuid"]
    first = run_playbook(download_play(dest, backup=older, keep=1), env=sim_env(dsim)).result
    assert first.get("failed") is not True and first["files"][0]["verified"] is True, first
    kept = first["files"][0]["path"]
    # The newer backup is broken (cut at 70 % at the source): the run fails, and keep: 1 removes nothing.
    dsim.configure(downloads={"duration_seconds": 0.05, "fault": "truncated"})
    second = run_playbook(download_play(dest, backup=newer, keep=1), env=sim_env(dsim)).result
    assert second["failed"] is True and second["error"] == "VerificationFailed"
    assert second["files"][0]["verified"] is False and second["files"][0]["path"] is None
    assert os.path.exists(kept) and sorted(os.listdir(dest)) == sorted([MANIFEST, os.path.basename(kept)])
    manifest = json.loads((dest / MANIFEST).read_text())["parts"]
    assert manifest[first["files"][0]["part"]]["verified"] is True and len(manifest) == 2
    assert first["newest_good"] == [dict(service_type="DATABASE", prefix="DEFAULT", backup=older, part=first["files"][0]["part"],
                                         taken_at=first["backup"]["taken_at"], path=kept, verified=True, level="read",
                                         verified_at=first["files"][0]["verified_at"])]
    [fallback] = second["newest_good"]
    assert (fallback["backup"], fallback["path"], fallback["verified"]) == (older, kept, True)
    # A good run prunes again: the newer backup, downloaded whole, replaces the older copy and the failed record.
    dsim.configure(downloads={"duration_seconds": 0.05, "fault": None})
    with DivioClient.from_options({"api_url": dsim.url, "api_token": TOKEN}, environ={}) as client:
        third = download_backup(client, "wiki", "live", DownloadOptions(str(dest), backup=newer, keep=1, poll_interval=0.05))
    assert third["problems"] == [] and third["newest_good"][0]["backup"] == newer
    assert sorted(os.listdir(dest)) == sorted([MANIFEST, os.path.basename(third["files"][0]["path"])])
    assert list(json.loads((dest / MANIFEST).read_text())["parts"]) == [third["files"][0]["part"]]


def _holder(path):
    """The pid of the process that has ``path`` open (from /proc), or None."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir("/proc/%s/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == path:
                    return int(pid)
            except OSError:
                continue
    return None


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="finds the downloading process through /proc")
def test_the_part_of_a_killed_run_is_removed_by_the_next_run(run_playbook, dsim, dest):
    """The storage host stalls half-way; the module's process is killed (SIGKILL: it cleans nothing up). Its .part
    stays; the next run removes it and says so."""
    dsim.configure(downloads={"duration_seconds": 0.05, "fault": "stall", "stall_seconds": 20})
    runs = []
    stalled = download_play(dest, verify="none", download_timeout=60)
    killed = threading.Thread(target=lambda: runs.append(run_playbook(stalled, env=sim_env(dsim))))
    killed.start()
    until, part, pid = time.monotonic() + 60, None, None
    while pid is None and time.monotonic() < until:
        found = parts_in(dest)
        part = str(dest / found[0]) if found else None
        pid = _holder(part) if part else None  # (its size may stay 0: the reader waits for a whole chunk)
        time.sleep(0.05)
    assert pid is not None, "no download in progress was seen"
    os.kill(pid, signal.SIGKILL)
    killed.join(60)
    assert runs and runs[0].result["failed"] is True
    assert parts_in(dest) == [os.path.basename(part)]  # left behind, as a killed run leaves it
    dsim.configure(downloads={"duration_seconds": 0.05, "fault": None})
    out = run_playbook(download_play(dest, verify="none"), env=sim_env(dsim)).result
    assert out.get("failed") is not True and parts_in(dest) == [], out
    assert out["removed_leftovers"] == [part] and os.path.exists(out["files"][0]["path"])


def _token(pid, started="0"):
    with open("/proc/sys/kernel/random/boot_id") as handle:
        boot = handle.read().strip().replace("-", "")[:12]
    return "%d-%s-%s" % (pid, started, boot)


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/proc/self/stat"),
                    reason="handing a file to another account needs root; the run's token needs /proc")
def test_parts_that_are_not_ours_to_remove_are_left_alone(run_playbook, dsim, dest, tmp_path):
    """Named like a killed run's: one of another account, a symbolic link (to a file outside dest), one whose run is
    alive (this test's process, with its real start time) - all stay, the first two with a warning naming them.
    Beside them, one of a gone run of ours is removed."""
    gone = _token(_dead_pid())
    ours = dest / (".divio-download-%s-ours01.part" % gone)
    theirs = dest / (".divio-download-%s-thei01.part" % gone)
    link = dest / (".divio-download-%s-link01.part" % gone)
    with open("/proc/self/stat") as handle:
        started = handle.read().rpartition(")")[2].split()[19]
    alive = dest / (".divio-download-%s-aliv01.part" % _token(os.getpid(), started))
    victim = tmp_path / "victim"
    for path in (ours, theirs, alive, victim):
        path.write_bytes(b"production data")
    os.chown(str(theirs), pwd.getpwnam("nobody").pw_uid, -1)
    link.symlink_to(victim)
    run = run_playbook(download_play(dest, verify="none"), env=sim_env(dsim))
    out = run.result
    assert out.get("failed") is not True, run
    assert not ours.exists() and theirs.exists() and alive.exists() and link.is_symlink()
    assert out["removed_leftovers"] == [str(ours)]
    assert victim.read_bytes() == b"production data"
    said = "".join(run.output.split())  # (warnings are wrapped to the terminal's width)
    assert ("%slooksl" % theirs) in said and "belongstouid" in said
    assert ("%slookslikeapartialdownloadbutwasleftalone:itisasymboliclink" % link) in said
    assert str(alive) not in said
