"""Restore proof: ``download_backup`` (the backup_download module's logic) and the module itself, over real HTTP
against a private simulator whose object storage serves real files (a pg_dump made by fixtures/make.py, a
mysqldump-shaped SQL file, a media .tar.gz), with each fault the simulator can inject."""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from ansible_collections.divio.cloud.plugins.module_utils import scratch
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.deadline import Deadline
from ansible_collections.divio.cloud.plugins.module_utils.download_options import DownloadOptions
from ansible_collections.divio.cloud.plugins.module_utils.downloads import download_backup
from ansible_collections.divio.cloud.plugins.module_utils.errors import DownloadError, InputError, NotFoundError
from ansible_collections.divio.cloud.plugins.module_utils.manifest import MANIFEST
from ansible_collections.divio.cloud.plugins.module_utils.space import check_free_space

from testlib import TOKEN, play, private_simulator

HAS_PG_RESTORE = bool(shutil.which("pg_restore"))
HAS_SERVER = HAS_PG_RESTORE and any(os.path.exists(p) for p in ["/usr/lib/postgresql/15/bin/initdb"]) or bool(
    shutil.which("initdb"))
needs_pg_restore = pytest.mark.skipif(not HAS_PG_RESTORE, reason="pg_restore (PostgreSQL client) is not installed")
needs_server = pytest.mark.skipif(not HAS_SERVER, reason="PostgreSQL server programs (initdb, postgres) are not installed")


@pytest.fixture
def dsim():
    with private_simulator(downloads={"duration_seconds": 0.1, "stall_seconds": 20}, restores={"duration_seconds": 0.1}) as server:
        yield server


@pytest.fixture
def client(dsim):
    with DivioClient.from_options({"api_url": dsim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


def options(dest, **kwargs):
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("wait_timeout", 5)
    return DownloadOptions(str(dest), **kwargs)


def posts(sim):
    return [path for method, path, _status in sim.requests if method == "POST"]


def listing(dest):
    return sorted(os.listdir(dest))


def served(sim):
    """The bytes of every file the object storage holds."""
    return [data for data, _headers, _fault in sim.download_jobs.files.values()]


@needs_pg_restore
def test_download_and_read_a_postgres_dump(client, dsim, tmp_path):
    result = download_backup(client, "wiki", "live", options(tmp_path))
    assert result["changed"] is True and result["problems"] == []
    [entry] = result["files"]
    name = "wiki-live-%s-DATABASE-DEFAULT.dump" % result["backup"]["uuid"]
    assert entry["path"] == str(tmp_path / name) and listing(tmp_path) == sorted([MANIFEST, name])
    data = (tmp_path / name).read_bytes()
    assert data in served(dsim) and data[:5] == b"PGDMP"
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data)
    assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / MANIFEST).st_mode) == 0o600
    assert entry["format"] == "pg_custom" and entry["verified"] is True
    assert "pg_restore -f /dev/null" in entry["verification"]["checks"][0]
    assert "within the part's time" in entry["verification"]["checks"][1]
    # divio-cli's calls, one download per part; the object storage never saw the token or the API's cookie.
    assert posts(dsim) == ["/apps/v3/backup-downloads/"]
    assert dsim.requests  # (the session cookie the API set is in the client's jar)
    [seen] = dsim.storage.requests()
    assert seen["authorization"] is False and seen["cookie"] is None
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["parts"][entry["part"]]["sha256"] == entry["sha256"]
    # Idempotent: nothing new is made or fetched.
    dsim.reset_stats()
    again = download_backup(client, "wiki", "live", options(tmp_path))
    assert again["changed"] is False and again["files"][0]["path"] == entry["path"] and posts(dsim) == []
    # A file changed on disk is noticed, and downloaded again.
    (tmp_path / name).write_bytes(data[:-1] + b"x")
    third = download_backup(client, "wiki", "live", options(tmp_path))
    assert third["changed"] is True and (tmp_path / name).read_bytes() == data


def test_check_mode_sends_no_post(client, dsim, tmp_path):
    result = download_backup(client, "wiki", "live", options(tmp_path), check_mode=True)
    assert result["changed"] is True and result["files"][0]["path"] is None
    assert posts(dsim) == [] and listing(tmp_path) == []


def test_verify_none_keeps_the_file_unverified(client, dsim, tmp_path):
    result = download_backup(client, "wiki", "live", options(tmp_path, verify="none"))
    [entry] = result["files"]
    assert entry["verified"] is None and entry["verification"]["level"] == "none" and os.path.exists(entry["path"])


def test_media_archive_and_a_flipped_gzip_byte(client, dsim, tmp_path):
    result = download_backup(client, "wiki", "live", options(tmp_path, services=["STORAGE"]))
    [entry] = result["files"]
    assert entry["format"] == "tar_gzip" and entry["verified"] is True and entry["path"].endswith("-STORAGE-DEFAULT.tar.gz")
    assert entry["verification"]["members"] == 3
    dsim.configure(downloads={"duration_seconds": 0, "fault": "gzip-flip"})
    broken = tmp_path / "broken"
    broken.mkdir()
    result = download_backup(client, "wiki", "live", options(broken, services=["STORAGE"]))
    [(kind, message)] = result["problems"]
    assert kind == "verification_failed" and "gzip stream is broken" in message
    assert result["files"][0]["verified"] is False and result["files"][0]["path"] is None
    assert listing(broken) == [MANIFEST]  # no file under its name, no temporary file


def test_mysql_dump_is_read_to_its_end_marker(client, dsim, tmp_path):
    ds = dsim.dataset
    mysql_envs = [si["environment"] for si in ds.service_instances if si["service"].startswith("mysql")]
    env = next(e for e in ds.environments if e["uuid"] in mysql_envs and e["slug"] != "test")
    app = ds.by_uuid["applications"][env["application"]]
    try:
        result = download_backup(client, app["slug"], env["slug"], options(tmp_path, services=["DATABASE:DEFAULT"]))
    except NotFoundError:
        pytest.skip("the MySQL environment of the data set has no qualifying backup")
    [entry] = result["files"]
    assert entry["format"] == "sql" and entry["verified"] is True and entry["path"].endswith(".sql")
    assert "Dump completed" in entry["verification"]["checks"][0]


@needs_pg_restore
@pytest.mark.parametrize("fault, kind, said", [
    ("truncated", "verification_failed", "could not read the whole dump"),
    ("stale-dump", "verification_failed", "a stale or foreign dump"),
    ("newer-postgres", "verification_unavailable", "made by a newer PostgreSQL"),
    ("part-errors", "download_failed", "failed on the platform: Could not copy"),
    ("never-ready", "download_failed", "never made the file ready"),
    ("redirect-loop", "download_failed", "more than 5 redirects"),
])
def test_faults_end_in_distinct_outcomes_and_leave_no_file(client, dsim, tmp_path, fault, kind, said):
    dsim.configure(downloads={"duration_seconds": 0, "fault": fault})
    result = download_backup(client, "wiki", "live", options(tmp_path, wait_timeout=1))
    [(found, message)] = result["problems"]
    assert found == kind and said in message
    assert result["files"][0]["path"] is None
    assert result["files"][0]["verified"] is (False if kind == "verification_failed" else None)
    assert listing(tmp_path) == [MANIFEST]
    assert "X-Amz-Signature" not in message  # a presigned URL is named by host and path only


def test_truncated_dump_passes_pg_restore_list(client, dsim, tmp_path):
    """The trap the read check exists for: --list reads only the table of contents."""
    if not HAS_PG_RESTORE:
        pytest.skip("pg_restore (PostgreSQL client) is not installed")
    dsim.configure(downloads={"duration_seconds": 0, "fault": "truncated"})
    download_backup(client, "wiki", "live", options(tmp_path, verify="none"))
    [path] = [tmp_path / name for name in listing(tmp_path) if name.endswith(".dump")]
    assert subprocess.run(["pg_restore", "--list", str(path)], capture_output=True, check=False).returncode == 0
    assert subprocess.run(["pg_restore", "-f", os.devnull, str(path)], capture_output=True, check=False).returncode != 0


@needs_pg_restore
def test_redirect_to_a_third_origin_carries_no_credentials(client, dsim, tmp_path):
    dsim.configure(downloads={"duration_seconds": 0, "fault": "redirect"})
    result = download_backup(client, "wiki", "live", options(tmp_path))
    assert result["problems"] == [] and result["files"][0]["verified"] is True
    seen = dsim.storage.requests()
    assert [r["origin"] for r in seen] == ["main", "third"]
    assert not any(r["authorization"] or r["cookie"] for r in seen)
    assert len(client.session.cookies) >= 1  # the API did set a cookie; it stayed with the API


def test_a_stalled_download_ends_at_download_timeout(client, dsim, tmp_path):
    dsim.configure(downloads={"duration_seconds": 0, "fault": "stall", "stall_seconds": 30})
    started = time.monotonic()
    result = download_backup(client, "wiki", "live", options(tmp_path, download_timeout=1.5))
    elapsed = time.monotonic() - started
    [(kind, message)] = result["problems"]
    assert kind == "download_failed" and "download_timeout (1.5 s)" in message
    assert elapsed < 10 and listing(tmp_path) == [MANIFEST]


def test_size_limits_and_free_space(client, dsim, tmp_path):
    result = download_backup(client, "wiki", "live", options(tmp_path, max_download_bytes=1000))
    [(kind, message)] = result["problems"]
    assert kind == "download_failed" and "max_download_bytes (1000)" in message and listing(tmp_path) == [MANIFEST]
    with pytest.raises(DownloadError, match="bytes free"):
        check_free_space(str(tmp_path), 10 ** 18, "test")


def test_a_backup_of_another_environment_is_refused_before_any_post(client, dsim, tmp_path):
    ds = dsim.dataset
    other = next(b for b in ds.backups if b["environment"] != ds.troubles["stale"][0]["uuid"] and b["success"] == "SUCCESS")
    with pytest.raises(InputError, match="belongs to another environment"):
        download_backup(client, "blog", "live", options(tmp_path, backup=other["uuid"]))
    assert posts(dsim) == []
    with pytest.raises(InputError, match="verify 'all' is not valid"):
        options(tmp_path, verify="all")
    with pytest.raises(InputError, match="is not a directory"):
        options(tmp_path / "missing")


@needs_pg_restore
def test_keep_prunes_older_downloads_of_the_service(client, dsim, tmp_path):
    ds = dsim.dataset
    env = next(e for e in ds.environments if e["slug"] == "live" and ds.by_uuid["applications"][e["application"]]["slug"] == "wiki")
    good = sorted((b for b in ds.lookup("backups", "environment", env["uuid"]) if b["success"] == "SUCCESS"),
                  key=lambda b: b["started_at"], reverse=True)
    first = download_backup(client, "wiki", "live", options(tmp_path, backup=good[2]["uuid"]))
    second = download_backup(client, "wiki", "live", options(tmp_path, backup=good[1]["uuid"], keep=1))
    assert not os.path.exists(first["files"][0]["path"]) and os.path.exists(second["files"][0]["path"])
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert list(manifest["parts"]) == [second["files"][0]["part"]]


def test_no_pg_restore_is_no_verdict(client, dsim, tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(scratch, "POSTGRES_BIN_GLOBS", (str(tmp_path / "nowhere" / "*"),))
    dest = tmp_path / "dest"
    dest.mkdir()
    result = download_backup(client, "wiki", "live", options(dest))
    [(kind, message)] = result["problems"]
    assert kind == "verification_unavailable" and "pg_restore was not found" in message and "postgresql-client" in message
    assert result["files"][0]["verified"] is None and listing(dest) == [MANIFEST]


@pytest.fixture
def scratch_base(monkeypatch):
    """A temp directory of this test's own for scratch servers (readable by the server's account, unlike pytest's
    0700 tmp_path), so that what it leaves behind is this test's alone."""
    base = tempfile.mkdtemp(prefix="divio-test-scratch-")
    os.chmod(base, 0o755)
    monkeypatch.setattr(tempfile, "tempdir", base)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@needs_server
def test_restore_reports_tables_and_rows_and_cleans_up(client, dsim, tmp_path, scratch_base):
    result = download_backup(client, "wiki", "live", options(tmp_path, verify="restore"))
    [entry] = result["files"]
    assert result["problems"] == [] and entry["verified"] is True
    verification = entry["verification"]
    assert verification["level"] == "restore" and (verification["tables"], verification["rows"]) == (3, 1550)
    assert os.listdir(scratch_base) == []
    # A read-verified download does not satisfy a restore request; a restore-verified one satisfies a read request.
    assert download_backup(client, "wiki", "live", options(tmp_path, verify="read"))["changed"] is False


@needs_server
def test_restore_timeout_removes_the_scratch_server(client, dsim, tmp_path, scratch_base):
    result = download_backup(client, "wiki", "live", options(tmp_path, verify="restore", restore_timeout=0.5))
    [(kind, message)] = result["problems"]
    assert kind == "verification_unavailable" and "restore_timeout" in message
    assert os.listdir(scratch_base) == [] and listing(tmp_path) == [MANIFEST]
    assert not _postgres_serving(scratch_base)


@needs_server
def test_leftovers_of_a_killed_run_are_removed(tmp_path):
    """A run killed mid-restore leaves a scratch directory and a running server; the next run removes both."""
    base = tempfile.mkdtemp(prefix="divio-leftovers-")  # the server's account must reach it: not under pytest's 0700 tmp
    os.chmod(base, 0o755)
    server = scratch.ScratchServer(Deadline(60), base=base).start()
    with open(os.path.join(server.directory, scratch.OWNER_FILE), "w") as handle:
        handle.write("999999999\n")  # an owner that is gone
    pid = server.process.pid
    try:
        assert scratch.remove_leftovers(base) == [server.directory]
        server.process.wait(20)  # it was stopped (and is reaped here, by the process that started it)
        assert not os.path.exists(server.directory) and server.process.returncode is not None and pid
    finally:
        server.remove()
        shutil.rmtree(base, ignore_errors=True)


def _postgres_serving(base):
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as handle:
                    if base.encode() in handle.read():
                        return True
            except OSError:
                continue
    return False


@needs_pg_restore
def test_module_downloads_and_is_idempotent(run_playbook, ansible_env, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    with private_simulator(downloads={"duration_seconds": 0.1}) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        tasks = """
    - name: Check mode first
      divio.cloud.backup_download: {application: wiki, environment: live, dest: "%s", poll_interval: 0.1}
      check_mode: true
      register: checked
    - name: Download
      divio.cloud.backup_download: {application: wiki, environment: live, dest: "%s", poll_interval: 0.1}
      register: first
    - name: Again
      divio.cloud.backup_download: {application: wiki, environment: live, dest: "%s", poll_interval: 0.1}
      register: second
    - ansible.builtin.set_fact:
        out: {checked: "{{ checked }}", first: "{{ first }}", second: "{{ second }}"}
""" % (dest, dest, dest)
        run = run_playbook(play(tasks), env=env, args=["-vvvv"])
        assert run.rc == 0, run
        assert TOKEN not in run.output and "X-Amz-Signature" not in run.output
        out = run.result
        assert out["checked"]["changed"] is True and out["checked"]["files"][0]["path"] is None
        assert out["first"]["changed"] is True and out["first"]["files"][0]["verified"] is True
        assert out["second"]["changed"] is False and out["second"]["files"][0]["sha256"] == out["first"]["files"][0]["sha256"]
        assert posts(sim) == ["/apps/v3/backup-downloads/"]


def test_module_fails_naming_a_broken_file(run_playbook, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    with private_simulator(downloads={"duration_seconds": 0, "fault": "gzip-flip"}) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        tasks = """
    - name: Download media
      divio.cloud.backup_download: {application: wiki, environment: live, dest: "%s", services: [STORAGE], poll_interval: 0.1}
      register: out
      ignore_errors: true
""" % dest
        run = run_playbook(play(tasks), env=env)
        out = run.result
        assert out["failed"] is True and out["error"] == "VerificationFailed"
        assert "STORAGE:DEFAULT: the gzip stream is broken" in out["msg"] and out["files"][0]["verified"] is False
        assert listing(dest) == [MANIFEST]


@pytest.mark.parametrize("planted", ["nested", "fifo", "symlink"])
def test_a_planted_manifest_is_written_anew_without_waiting_or_recursing(client, tmp_path, planted):
    """A manifest that is absurdly nested JSON, a FIFO (a plain open would wait on it for ever) or a symlink to a
    file elsewhere: the run warns, downloads every part again and writes a manifest of its own; the symlink's target
    is neither read nor changed."""
    dest, victim = tmp_path / "dest", tmp_path / "victim"
    dest.mkdir()
    victim.write_text(json.dumps({"version": 1, "parts": {}}))
    if planted == "nested":
        (dest / MANIFEST).write_text("[" * 100000 + "]" * 100000)
    elif planted == "fifo":
        os.mkfifo(str(dest / MANIFEST))
    else:
        (dest / MANIFEST).symlink_to(victim)
    result = download_backup(client, "wiki", "live", options(dest, verify="none"))
    assert any("could not be read" in warning for warning in result["warnings"]), result["warnings"]
    assert result["problems"] == [] and result["files"][0]["changed"] is True
    assert (dest / MANIFEST).is_file() and not (dest / MANIFEST).is_symlink()
    assert list(json.loads((dest / MANIFEST).read_text())["parts"]) == [result["files"][0]["part"]]
    assert json.loads(victim.read_text()) == {"version": 1, "parts": {}}


def test_a_manifest_never_points_outside_dest(client, dsim, tmp_path):
    """A hand-edited manifest naming a file elsewhere: keep prunes its entry, never that file."""
    dest, victim = tmp_path / "dest", tmp_path / "victim"
    dest.mkdir()
    victim.write_text("not a backup")
    env = next(e for e in dsim.dataset.environments if e["slug"] == "live" and
               dsim.dataset.by_uuid["applications"][e["application"]]["slug"] == "wiki")
    (dest / MANIFEST).write_text(json.dumps({"version": 1, "parts": {"old": {
        "environment_uuid": env["uuid"], "service_type": "DATABASE", "prefix": "DEFAULT", "taken_at": "2000-01-01T00:00:00Z",
        "file": "../victim", "size": 12, "sha256": "x", "verified": True}}}))
    result = download_backup(client, "wiki", "live", options(dest, verify="none", keep=1))
    assert victim.read_text() == "not a backup" and result["problems"] == []
    assert list(json.loads((dest / MANIFEST).read_text())["parts"]) == [result["files"][0]["part"]]
