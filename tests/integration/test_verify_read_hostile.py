"""``verify: read`` on hostile files (issue 33, item 1): the part's type decides the reader, the read is bounded in
time, expanded bytes and members, memory stays flat, and the verdict is honest. Each file is served by the
simulator's object storage (a ``downloads.fault``) and fetched over real HTTP, through ``download_backup`` (the
backup_download module's logic), the fleet check's verify step, the modules in a playbook and the inventory.

Peak memory and time per hostile file are measured by tests/benchmark/verify_hostile.py (numbers, not asserts)."""

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import textwrap

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.download_options import DownloadOptions
from ansible_collections.divio.cloud.plugins.module_utils.downloads import download_backup
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError
from ansible_collections.divio.cloud.plugins.module_utils.manifest import MANIFEST

from testlib import TOKEN, gate_play, play, private_simulator

needs_pg_restore = pytest.mark.skipif(not shutil.which("pg_restore"), reason="pg_restore (PostgreSQL client) is not installed")


@pytest.fixture
def hsim():
    with private_simulator(downloads={"duration_seconds": 0}) as server:
        yield server


@pytest.fixture
def client(hsim):
    with DivioClient.from_options({"api_url": hsim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


def download(client, sim, dest, fault, services=("STORAGE",), **kwargs):
    """``download_backup`` of wiki/live's latest backup while the object storage serves ``fault``: its one file entry
    and its one problem (None when there is none)."""
    sim.configure(downloads={"duration_seconds": 0, "fault": fault})
    options = DownloadOptions(str(dest), services=list(services), poll_interval=0.05, wait_timeout=5, **kwargs)
    result = download_backup(client, "wiki", "live", options)
    [entry] = result["files"]
    assert len(result["problems"]) <= 1
    return entry, (result["problems"] or [None])[0]


def assert_no_verdict(entry, problem, dest, *words):
    """Could not verify: no verdict, never true; the reason names the bound; no file left under any name."""
    kind, message = problem
    assert kind == "verification_unavailable" and "could not verify: " in message, message
    for word in words:
        assert word in message, message
    assert entry["verified"] is None and entry["verification"]["status"] == "could_not_check"
    assert os.listdir(dest) == [MANIFEST]


def assert_failed(entry, problem, dest, *words):
    kind, message = problem
    assert kind == "verification_failed", message
    for word in words:
        assert word in message, message
    assert entry["verified"] is False and entry["path"] is None and os.listdir(dest) == [MANIFEST]


# -- media archives: the bounds ------------------------------------------------------------------------------------

def test_a_gzip_bomb_stops_at_the_default_expanded_bytes_bound(client, hsim, tmp_path):
    """2 GiB of zeros in a 2 MiB .tar.gz: the default bound (100 times the file, at least 1 GiB) stops the read; it
    used to be read whole (10 GiB took 55 s) and come out verified: true."""
    entry, problem = download(client, hsim, tmp_path, "gzip-bomb")
    assert entry["size"] < 4 * 1024 * 1024
    assert_no_verdict(entry, problem, tmp_path, "more than 1073741824 bytes uncompressed",
                      "max_expanded_bytes (default: 100 times the file's")


def test_a_gzip_bomb_stops_at_max_expanded_bytes(client, hsim, tmp_path):
    entry, problem = download(client, hsim, tmp_path, "gzip-bomb", max_expanded_bytes=64 * 1024 * 1024)
    assert_no_verdict(entry, problem, tmp_path, "more than 67108864 bytes uncompressed, the bound of max_expanded_bytes")


def test_a_gzip_bomb_stops_at_verify_timeout(client, hsim, tmp_path):
    entry, problem = download(client, hsim, tmp_path, "gzip-bomb", max_expanded_bytes=10 * 1024 ** 4, verify_timeout=0.3)
    assert_no_verdict(entry, problem, tmp_path, "did not finish within verify_timeout (0.3 s)")


def test_a_million_members_stop_at_max_members(client, hsim, tmp_path):
    entry, problem = download(client, hsim, tmp_path, "million-members", max_members=1000)
    assert_no_verdict(entry, problem, tmp_path, "more than 1000 members, the bound of max_members")


def test_a_long_name_header_is_not_read_into_memory(client, hsim, tmp_path):
    """A 1 MiB GNU long-name header: tarfile took 1 GiB of memory on it and crashed (MemoryError, no verdict)."""
    entry, problem = download(client, hsim, tmp_path, "long-name")
    assert_no_verdict(entry, problem, tmp_path, "a GNU long-name header at byte 0 is 1048577 bytes long, more than the "
                                                "262144 read")


# -- media archives: cut short -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault, where", [("cut-tar-header", "ends inside a member header after 1 member"),
                                          ("cut-tar-boundary", "ends at a member boundary after 3 members")])
def test_a_tar_cut_anywhere_fails(client, hsim, tmp_path, fault, where):
    """The gzip stream around it is sound (its CRC matches): only the missing end-of-archive blocks tell."""
    entry, problem = download(client, hsim, tmp_path, fault)
    assert_failed(entry, problem, tmp_path, where, "without its end-of-archive blocks: it was cut short")


def test_a_sound_media_archive_still_reads_to_its_end(client, hsim, tmp_path):
    entry, problem = download(client, hsim, tmp_path, None)
    assert problem is None and entry["verified"] is True and entry["verification"]["members"] == 3
    assert "to the end-of-archive blocks (3 members, 84900 bytes)" in entry["verification"]["checks"][1]


# -- the part's type decides the reader ----------------------------------------------------------------------------

def test_a_database_part_serving_a_media_archive_fails(client, hsim, tmp_path):
    entry, problem = download(client, hsim, tmp_path, "wrong-type-tar", services=["DATABASE"])
    assert_failed(entry, problem, tmp_path, "a DATABASE part must be a database dump",
                  "this file is gzip-compressed data")
    assert entry["format"] == "tar_gzip"


def test_a_database_part_serving_tiny_sql_fails(client, hsim, tmp_path):
    entry, problem = download(client, hsim, tmp_path, "tiny-sql", services=["DATABASE"])
    assert_failed(entry, problem, tmp_path, "the SQL text (8 bytes) is no pg_dump or mysqldump dump")


def test_a_media_fault_leaves_the_database_part_a_dump(client, hsim, tmp_path):
    """The fault's other parts are served as usual: a DATABASE part is a dump while media parts are bombs."""
    entry, problem = download(client, hsim, tmp_path, "gzip-bomb", services=["DATABASE"], verify="none")
    assert problem is None and entry["format"] in ("pg_custom", "sql")


def test_bad_bounds_are_refused_before_any_request(tmp_path):
    for kwargs, words in ((dict(verify_timeout=0), "verify_timeout 0 is not valid"),
                          (dict(max_expanded_bytes=-1), "max_expanded_bytes -1 is not valid: expected a whole number"),
                          (dict(max_members=True), "max_members True is not valid")):
        with pytest.raises(InputError, match=words):
            DownloadOptions(str(tmp_path), **kwargs)


# -- the fleet check's verify step (backup_check, backup_report, the gate and the inventory) -----------------------

def check(client, sim, fault, **kwargs):
    sim.configure(downloads={"duration_seconds": 0, "fault": fault})
    records, summary = check_backups(client, applications=["wiki"], environments=["live"], verify="read", **kwargs)
    [record] = records
    return record, summary


@pytest.mark.parametrize("fault, found", [("wrong-type-tar", "this file is gzip-compressed data"),
                                          ("tiny-sql", "the SQL text (8 bytes) is no pg_dump or mysqldump dump")])
def test_the_check_finds_a_database_part_that_is_no_dump_unverified(client, hsim, fault, found):
    """It used to say fresh and verified: true: the format came from the content, not the part."""
    record, summary = check(client, hsim, fault)
    assert record["status"] == "unverified" and record["verified"] is False and summary["fresh"] == 0
    assert "failed verification" in record["problems"][0] and found in record["problems"][0]
    assert record["verification"][0]["verified"] is False


@needs_pg_restore
def test_the_check_stops_pg_restore_at_verify_timeout(client, hsim):
    record, summary = check(client, hsim, None, verify_timeout=0.001)
    assert record["status"] == "error" and record["verified"] is None and summary["error"] == 1
    assert "could not verify: pg_restore -f /dev/null did not finish within verify_timeout (0.001 s)" in record["error"]


def test_the_modules_take_the_bounds(run_playbook, tmp_path):
    """backup_download's three bounds and backup_check's / backup_report's verify_timeout, as a playbook passes them."""
    with private_simulator(downloads={"duration_seconds": 0, "fault": "million-members"}) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        tasks = """
    - name: Media with a million members, at most 1000 read
      divio.cloud.backup_download:
        {application: wiki, environment: live, services: [STORAGE], dest: "%s", max_members: 1000,
         max_expanded_bytes: 1000000000, verify_timeout: 60, poll_interval: 0.05}
      register: media
      ignore_errors: true
    - ansible.builtin.set_fact:
        out: {media: "{{ media }}"}
""" % tmp_path
        run = run_playbook(play(tasks), env=env)
    assert run.rc == 0, run
    media = run.result["media"]
    assert media["failed"] is True and media["error"] == "VerificationUnavailable"
    assert "more than 1000 members, the bound of max_members" in media["msg"] and media["files"][0]["verified"] is None
    with private_simulator(downloads={"duration_seconds": 0, "fault": "tiny-sql"}) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        tasks = """
    - name: Check and verify
      divio.cloud.backup_check: {applications: [wiki], environments: [live], verify: read, verify_timeout: 60}
      register: checked
    - name: Report
      divio.cloud.backup_report:
        {applications: [wiki], environments: [live], verify: read, verify_timeout: 60, report_dir: "%s",
         report_only: true}
      register: reported
    - ansible.builtin.set_fact:
        out: {checked: "{{ checked }}", reported: "{{ reported }}"}
""" % (tmp_path / "reports")
        run = run_playbook(play(tasks), env=env)
    assert run.rc == 0, run
    checked, reported = run.result["checked"], run.result["reported"]
    assert checked["checks"][0]["status"] == "unverified" and "no pg_dump or mysqldump dump" in checked["problems"][0]
    assert reported["result"] == "stale" and any("no pg_dump or mysqldump dump" in line for line in reported["lines"])
    assert TOKEN not in run.output


def test_the_gate_refuses_a_database_part_that_is_no_dump(run_playbook):
    role = gate_play("            backup_gate_application: wiki\n            backup_gate_verify: true")
    with private_simulator(downloads={"duration_seconds": 0, "fault": "tiny-sql"}) as sim:
        run = run_playbook(role, env={"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN})
    assert run.rc == 0 and TOKEN not in run.output, run
    msg, gate = run.result["msg"], run.result["result"]
    assert msg.startswith("Backup gate for wiki failed") and "no pg_dump or mysqldump dump" in msg, msg
    assert gate["summary"]["unverified"] == 1 and gate["summary"]["fresh"] == 0


def test_the_inventory_puts_a_database_part_that_is_no_dump_in_unverified(ansible_env, tmp_path):
    source = tmp_path / "fleet.divio.yml"
    source.write_text(textwrap.dedent("""\
        plugin: divio.cloud.divio
        applications: [wiki]
        environments: [live]
        latest_backup: true
        verify: read
        verify_timeout: 60
        """))
    with private_simulator(downloads={"duration_seconds": 0, "fault": "wrong-type-tar"}) as sim:
        env = dict(ansible_env, DIVIO_API_URL=sim.url, DIVIO_API_TOKEN=TOKEN, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
        proc = subprocess.run(["ansible-inventory", "-i", str(source), "--list"], env=env, capture_output=True, text=True,
                              timeout=300, cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["divio_backup_unverified"]["hosts"] == ["wiki.live"]
    backup = data["_meta"]["hostvars"]["wiki.live"]["divio_backup"]
    assert backup["verified"] is False and "this file is gzip-compressed data" in backup["problems"][0]


# -- the simulator's hostile files are what they say (checked with the standard library's readers) -----------------

def test_the_simulators_hostile_files_are_what_they_say():
    from divio_simulator import downloads as files

    bomb = gzip.decompress(files.gzip_bomb(16 * 1024 * 1024))  # the CRC and length at the end are checked here
    with tarfile.open(fileobj=io.BytesIO(bomb)) as tar:
        [zeros] = tar.getmembers()
        assert zeros.size == 16 * 1024 * 1024 and tar.extractfile(zeros).read(1024) == bytes(1024)
    assert len(files.gzip_bomb()) < 4 * 1024 * 1024  # the served one: 2 GiB inside
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(files.many_members(3000)))) as tar:
        names = tar.getnames()
    assert len(names) == 3000 and names[:2] == ["media/empty-000", "media/empty-001"]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(files.long_name_archive()))) as tar:
        assert len(tar.getnames()[0]) == 1024 * 1024
    part = {"uuid": "p"}
    whole = files.media_tar(part)
    for where in ("inside-header", "at-boundary"):
        cut = gzip.decompress(files.cut_tar(part, where))
        assert whole.startswith(cut) and len(cut) % 512 == (100 if where == "inside-header" else 0)
    assert whole[len(gzip.decompress(files.cut_tar(part, "at-boundary"))):].strip(b"\0") == b""
