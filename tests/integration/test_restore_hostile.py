"""A backup is untrusted data: ``verify: restore`` of a hostile dump runs nothing of it on the checking machine.

Real PostgreSQL, no mocks. The dumps are made at run time with pg_dump (pg_hostile.py); each vector is first
proved live - restored the unsafe way, as a superuser, its marker file appears - then restored through
``download_backup`` (the backup_download module's logic) against the simulator serving that very dump: no marker,
and the part is not ``verified: true``, with the reason."""

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.divio.cloud.plugins.module_utils import scratch
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.deadline import Deadline
from ansible_collections.divio.cloud.plugins.module_utils.downloads import DownloadOptions, download_backup
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError, VerificationUnavailable

import pg_hostile
from testlib import TOKEN, play, private_simulator

pytestmark = pytest.mark.skipif(not pg_hostile.have_server(), reason="the PostgreSQL server programs are not installed")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to act as other accounts (postgres, nobody)")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def hostile():
    """The superuser cluster, the dumps, a marker directory and a secret file, all outside any scratch directory."""
    cluster = pg_hostile.SuperCluster()
    dumps = pg_hostile.shared_dir("divio-hostile-dumps-", 0o755)
    markers = pg_hostile.shared_dir("divio-hostile-markers-")
    try:  # a setup that fails stops the cluster too
        cluster.start()
        secret = os.path.join(dumps, "secret.txt")
        with open(secret, "w") as handle:
            handle.write("the API token would be here\n")
        os.chmod(secret, 0o644)
        made = {vector: pg_hostile.make_vector(cluster, vector, markers, secret, dumps) for vector in pg_hostile.VECTORS}
        cluster.create("guarded", pg_hostile.GUARDED)
        made["guarded"] = cluster.dump("guarded", os.path.join(dumps, "guarded.dump"))
        made["plain"] = pg_hostile.make_plain(cluster, dumps)
        made["hostile_plain"] = pg_hostile.make_plain(cluster, dumps, marker=os.path.join(markers, "plain"))
        yield {"cluster": cluster, "dumps": made, "markers": markers}
    finally:
        cluster.stop()
        shutil.rmtree(dumps, ignore_errors=True)
        shutil.rmtree(markers, ignore_errors=True)


@pytest.fixture(scope="module")
def sim():
    with private_simulator(downloads={"duration_seconds": 0}) as server:
        yield server


@pytest.fixture
def client(sim):
    with DivioClient.from_options({"api_url": sim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


@pytest.fixture
def base():
    """Where the scratch servers go: a directory the server's account can enter, this test's alone."""
    path = pg_hostile.shared_dir("divio-hostile-scratch-", 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def verify_restore(client, sim, dump, dest, base, **kwargs):
    """The one part of wiki/live, serving ``dump``, downloaded with ``verify: restore``: ``(entry, problems)``."""
    sim.configure(downloads={"duration_seconds": 0, "database_file": dump})
    options = DownloadOptions(str(dest), verify="restore", scratch_dir=base, poll_interval=0.05, wait_timeout=5, **kwargs)
    result = download_backup(client, "wiki", "live", options)
    [entry] = result["files"]
    return entry, result["problems"]


def prove_live(hostile, name, marker, plain=False):
    """Restored as a superuser, the dump's vector fires: its marker appears (then it is removed again)."""
    proc = hostile["cluster"].restore_as_superuser(hostile["dumps"][name], "live_" + name, plain=plain)
    assert os.path.exists(marker), (proc.returncode, proc.stderr[-800:])
    os.unlink(marker)


@pytest.mark.parametrize("vector", sorted(pg_hostile.VECTORS))
def test_a_vector_that_fires_as_superuser_runs_nothing_and_fails(hostile, client, sim, tmp_path, base, vector):
    marker = os.path.join(hostile["markers"], vector)
    prove_live(hostile, vector, marker)
    entry, problems = verify_restore(client, sim, hostile["dumps"][vector], tmp_path, base)
    assert not os.path.exists(marker)
    [(kind, message)] = problems
    attack = pg_hostile.VECTORS[vector][0]
    named = {"run_program": "run a program", "read_file": "a server file (pg_read_file",
             "export_lo": "a server file (lo_export"}[attack]
    assert kind == "verification_failed" and named in message and "superuser" in message, message
    assert "evil.%s" % attack in message  # the object: the function the dump's restore called
    assert entry["verified"] is False and entry["path"] is None
    assert os.listdir(base) == []


def test_a_plain_dump_runs_no_psql_meta_command(hostile, client, sim, tmp_path, base):
    marker = os.path.join(hostile["markers"], "plain")
    prove_live(hostile, "hostile_plain", marker, plain=True)
    entry, problems = verify_restore(client, sim, hostile["dumps"]["hostile_plain"], tmp_path, base)
    assert not os.path.exists(marker)
    [(kind, message)] = problems
    assert kind == "verification_failed" and "psql meta-command, \\! touch" in message, message
    assert entry["verified"] is False and os.listdir(base) == []


def test_good_dumps_restore_exactly_and_never_as_a_privileged_role(hostile, client, sim, tmp_path, base):
    # The guard is real: restored as a superuser, its CHECK refuses the rows.
    proc = hostile["cluster"].restore_as_superuser(hostile["dumps"]["guarded"], "live_guarded")
    assert proc.returncode != 0 and "restored by a privileged role: boss" in proc.stderr
    (tmp_path / "a").mkdir()
    entry, problems = verify_restore(client, sim, hostile["dumps"]["guarded"], tmp_path / "a", base)
    assert problems == [] and entry["verified"] is True
    verification = entry["verification"]
    assert (verification["tables"], verification["rows"]) == pg_hostile.GUARDED_COUNTS
    size = os.path.getsize(entry["path"])
    assert verification["max_restore_bytes"] == max(20 * size, 256 * 1024 ** 2)
    # pg_dump's plain format, with its own \restrict / \unrestrict lines, restores too, in psql's restricted mode.
    (tmp_path / "b").mkdir()
    entry, problems = verify_restore(client, sim, hostile["dumps"]["plain"], tmp_path / "b", base)
    assert problems == [] and entry["format"] == "sql" and entry["verified"] is True
    assert (entry["verification"]["tables"], entry["verification"]["rows"]) == (1, 9)
    assert os.listdir(base) == []


@pytest.mark.parametrize("case, kind, said", [
    ("file_fdw", "verification_failed", "file_fdw, which reaches outside the database"),
    ("superuser_only", "verification_unavailable", "needs superuser rights"),
    ("missing", "verification_unavailable", "lacks (an extension?)"),
])
def test_extensions_the_role_cannot_create(hostile, client, sim, tmp_path, base, case, kind, said):
    """file_fdw reads server files: a verdict. pg_stat_statements (superuser only) or an extension this server
    lacks (the plain dump of a server that had it): no verdict."""
    cluster = hostile["cluster"]
    if case == "missing":
        with open(hostile["dumps"]["plain"]) as handle:
            text = handle.read().replace("CREATE TABLE", "CREATE EXTENSION IF NOT EXISTS postgis_of_elsewhere;\nCREATE TABLE", 1)
        dump = os.path.join(base, "missing.sql")
        with open(dump, "w") as handle:
            handle.write(text)
    else:
        extension = "file_fdw" if case == "file_fdw" else "pg_stat_statements"
        cluster.create("x_" + case, "CREATE EXTENSION %s; CREATE TABLE public.t (a int);" % extension)
        dump = cluster.dump("x_" + case, os.path.join(base, case + ".dump"))
    entry, problems = verify_restore(client, sim, dump, tmp_path, base)
    [(found, message)] = problems
    assert found == kind and said in message, message
    assert entry["verified"] is (False if kind == "verification_failed" else None)
    assert os.listdir(base) == [os.path.basename(dump)]


def test_a_restore_bigger_than_max_restore_bytes_stops_without_a_verdict(hostile, client, sim, tmp_path, base):
    cluster = hostile["cluster"]
    cluster.create("bomb", "CREATE TABLE public.b (x text); "
                           "INSERT INTO public.b SELECT pg_catalog.repeat('x', 200) FROM pg_catalog.generate_series(1, 300000);")
    dump = cluster.dump("bomb", os.path.join(base, "bomb.dump"))
    cluster.sql("postgres", "DROP DATABASE bomb")  # (its shutdown checkpoint would write it all)
    bound = 80 * 1024 ** 2
    entry, problems = verify_restore(client, sim, dump, tmp_path, base, max_restore_bytes=bound)
    [(kind, message)] = problems
    assert kind == "verification_unavailable" and "could not verify: the restore needed more than 80.0 MiB" in message
    assert entry["verified"] is None and os.listdir(base) == ["bomb.dump"]
    assert os.path.getsize(dump) * 20 < bound  # what the default would have allowed: it is the option that stopped it


def test_restore_timeout_stops_a_restore_that_runs_on(hostile, base):
    """pg_restore sets statement_timeout = 0 itself: restore_timeout kills the client and stops the server. (The
    server is set up first, so that the time runs out during the restore on a busy machine too; the module's
    path to restore_timeout is test_backup_download's.)"""
    cluster = hostile["cluster"]
    cluster.create("slow", "CREATE FUNCTION public.slow(i int) RETURNS int LANGUAGE sql IMMUTABLE AS $$SELECT i$$; "
                           "CREATE TABLE public.t (a int); INSERT INTO public.t VALUES (1); "
                           "CREATE MATERIALIZED VIEW public.m AS SELECT public.slow(a) FROM public.t;")
    cluster.sql("slow", "CREATE OR REPLACE FUNCTION public.slow(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS "
                        "$$BEGIN PERFORM pg_catalog.pg_sleep(120); RETURN i; END$$;")
    dump = cluster.dump("slow", os.path.join(base, "slow.dump"))
    server = scratch.ScratchServer(Deadline(120), base=base)
    try:
        server.start()
        server.deadline = Deadline(3)
        with pytest.raises(VerificationUnavailable) as caught:
            server.restore(dump, "pg_custom")
        assert "within restore_timeout (3 s), during the restore;" in str(caught.value)
    finally:
        server.remove()
    assert os.listdir(base) == ["slow.dump"] and not _processes_in(base)


@needs_root
def test_planted_leftovers_are_left_alone(hostile, client, sim, tmp_path, base):
    """Directories shaped like a killed run's, naming a live server of another data directory (here the superuser
    cluster's): one planted by an unprivileged account, one by the scratch account itself. Neither is touched."""
    os.chmod(base, 0o1777)
    stand_in = hostile["cluster"].pid()
    planted = {}
    for name in ("nobody", "postgres"):
        path = os.path.join(base, scratch.SCRATCH_PREFIX + name)
        script = 'mkdir -p "$1/data" && echo 999999999 > "$1/owner.pid" && echo "$2" > "$1/data/postmaster.pid"'
        subprocess.run([pg_hostile.RUNUSER, "-u", name, "--", "/bin/sh", "-c", script, "sh", path, str(stand_in)], check=True)
        planted[name] = path
    entry, problems = verify_restore(client, sim, hostile["dumps"]["guarded"], tmp_path, base)
    assert problems == [] and entry["verified"] is True
    warnings = entry["verification"]["warnings"]
    assert any(planted["nobody"] in w and "belongs to uid 65534" in w for w in warnings), warnings
    assert any(planted["postgres"] in w and "serves another data directory" in w for w in warnings), warnings
    assert sorted(os.listdir(base)) == sorted(os.path.basename(p) for p in planted.values())
    os.kill(stand_in, 0)
    assert hostile["cluster"].sql("postgres", "SELECT 1").returncode == 0


def test_the_server_gets_a_minimal_environment_and_a_private_directory(monkeypatch, base):
    monkeypatch.setenv("DIVIO_API_TOKEN", "a-token-that-must-stay-here")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "cloud-secret")
    server = scratch.ScratchServer(Deadline(60), base=base)
    try:
        server.start()
        with open("/proc/%d/environ" % server.process.pid, "rb") as handle:
            environ = dict(item.split(b"=", 1) for item in handle.read().split(b"\0") if b"=" in item)
        assert not [k for k in environ if k.startswith(b"DIVIO") or b"PROXY" in k.upper() or k.startswith(b"AWS")]
        assert environ[b"HOME"] == server.directory.encode()
        info = os.stat(server.directory)
        assert info.st_mode & 0o777 == 0o700 and info.st_uid == (scratch.server_account() or (os.geteuid(),))[0]
        assert os.stat(os.path.join(server.directory, ".s.PGSQL.5432")).st_mode & 0o077 == 0
        rights = server._call([server.psql] + server._conn(scratch.DATABASE, scratch.RESTORER) + [
            "-Atc", "SELECT rolsuper, pg_has_role('pg_execute_server_program', 'USAGE'), "
                    "pg_has_role('pg_read_server_files', 'USAGE'), pg_has_role('pg_write_server_files', 'USAGE'), "
                    "pg_has_role('pg_signal_backend', 'USAGE') FROM pg_roles WHERE rolname = current_user"], "rights")
        assert rights.stdout.strip() == "f|f|f|f|f", rights
        # temp_file_limit is the server's (max_bytes), and the role cannot raise it.
        limit = server._call([server.psql] + server._conn(scratch.DATABASE, scratch.RESTORER) + [
            "-Atc", "SHOW temp_file_limit", "-c", "SET temp_file_limit = '100GB'"], "raising temp_file_limit")
        assert limit.stdout.strip() == "256MB" and 'permission denied to set parameter "temp_file_limit"' in limit.stderr
    finally:
        server.remove()


@needs_root
def test_the_restore_step_as_an_unprivileged_account(hostile, base):
    """The same restores run by ``nobody`` with the system Python and a readable copy of the code: the server and
    clients then run as nobody too, and still nothing of the dump runs."""
    tree = pg_hostile.shared_dir("divio-hostile-code-", 0o755)
    collection = os.path.join(tree, "ansible_collections", "divio", "cloud")
    shutil.copytree(os.path.join(REPO, "plugins"), os.path.join(collection, "plugins"))
    for root, dirs, files in os.walk(tree):
        for name in dirs + files:
            os.chmod(os.path.join(root, name), 0o755)
    os.chmod(base, 0o1777)
    dumps = hostile["dumps"]
    cases = [(dumps["table_check"], "pg_custom"), (dumps["hostile_plain"], "sql"), (dumps["guarded"], "pg_custom")]
    code = """
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.divio.cloud.plugins.module_utils import scratch
out = []
for path, fmt in json.loads(sys.argv[3]):
    try:
        done = scratch.restore_into_scratch(path, fmt, 60, base=sys.argv[2])
        out.append(["ok", done["tables"], done["rows"]])
    except Exception as exc:
        out.append([type(exc).__name__, str(exc)])
print(json.dumps(out))
"""
    try:
        command = [pg_hostile.RUNUSER, "-u", "nobody", "--", "/usr/bin/python3", "-c", code, tree, base, json.dumps(cases)]
        environ = {"PATH": "/usr/local/bin:/usr/bin:/bin", "DIVIO_API_TOKEN": "not-for-the-server"}
        proc = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environ, check=False)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr
    program, meta, good = json.loads(proc.stdout)
    assert program[0] == "VerificationFailed" and "run a program" in program[1]
    assert meta[0] == "VerificationFailed" and "psql meta-command" in meta[1]
    assert good == ["ok"] + list(pg_hostile.GUARDED_COUNTS)
    assert os.listdir(hostile["markers"]) == [] and os.listdir(base) == []


def test_the_module_fails_a_hostile_dump_naming_the_program(run_playbook, hostile, tmp_path, base):
    marker = os.path.join(hostile["markers"], "table_check")
    dest = tmp_path / "dest"
    dest.mkdir()
    with private_simulator(downloads={"duration_seconds": 0, "database_file": hostile["dumps"]["table_check"]}) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        tasks = """
    - name: Prove the backup restores
      divio.cloud.backup_download: {application: wiki, environment: live, dest: "%s", verify: restore, scratch_dir: "%s",
                                    max_restore_bytes: 300000000, poll_interval: 0.1}
      register: out
      ignore_errors: true
""" % (dest, base)
        run = run_playbook(play(tasks), env=env, args=["-vvvv"])
    out = run.result
    assert out["failed"] is True and out["error"] == "VerificationFailed", out
    assert "run a program" in out["msg"] and out["files"][0]["verified"] is False
    assert TOKEN not in run.output and not os.path.exists(marker) and os.listdir(base) == []


@pytest.mark.parametrize("option, value, said", [
    ("max_restore_bytes", 0, "max_restore_bytes 0 is not valid: expected a whole number of bytes of at least 1"),
    ("max_restore_bytes", "1G", "max_restore_bytes '1G' is not valid"),
    ("scratch_dir", "/nonexistent/scratch", "scratch_dir '/nonexistent/scratch' is not a directory the user running"),
])
def test_bad_restore_bounds_are_refused_naming_the_value(tmp_path, option, value, said):
    with pytest.raises(InputError) as caught:
        DownloadOptions(str(tmp_path), verify="restore", **{option: value})
    assert said in str(caught.value)


def _processes_in(base):
    """Pids of processes whose command line names ``base`` (a scratch server left running)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                if base.encode() in handle.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found
