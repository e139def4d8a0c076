# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""``verify: restore``: restore a database dump into a throwaway PostgreSQL server, then count what arrived. Also
where PostgreSQL's programs are found (``postgres_tool``, ``tool_version``). Reached through verify.py only; imports
only the ground floor (errors, leftovers, space, deadline, processes).

A backup is untrusted data: whoever could write SQL objects into the application's database wrote part of it.
So the restore must never run what the dump holds, nor touch what is not its own:

- The server is made for one restore: ``initdb`` into a fresh directory (``SCRATCH_PREFIX`` in ``scratch_dir``,
  default the system's temp directory, mode 0700), ``postgres`` listening only on a Unix socket there (mode
  0700), with a log file and no inherited stdin/stdout, in a session of its own. PostgreSQL refuses to run as
  root, so a task running as root runs it as ``postgres`` (else ``nobody``) - and runs the client programs
  (``pg_restore``, ``psql``) as that same account too: then the directory and socket need to be reachable by that
  account alone, and a hostile dump that broke out of ``pg_restore`` would find the scratch account, not root.
- The dump's SQL runs as ``RESTORER``, a role without superuser rights that owns the scratch database,
  connected as directly (a ``SET ROLE`` after a superuser login could be ``RESET`` by the dump). It is in none of
  ``pg_execute_server_program``, ``pg_read_server_files``, ``pg_write_server_files``, ``pg_signal_backend``, and
  may not create untrusted languages: ``COPY ... PROGRAM``, ``pg_read_file``, server-side ``lo_export`` fail.
  Only the setup (role, database) connects as the bootstrap superuser, before the dump is read.
- Plain SQL dumps go through ``psql`` in its restricted mode (``\\restrict``, psql 15.14 and later): psql's own
  meta-commands (``\\!``, ``\\o |cmd``, ``\\copy ... program``) would run on this machine whatever the database
  role. A psql without it makes the verification unavailable, never an unrestricted run.
- The count afterwards connects with ``search_path=pg_catalog`` and ``row_security=off`` and names everything
  with its schema, so no function or operator of the dump runs.
- Server and clients get a minimal environment (no ``DIVIO_*``, no proxies or cloud credentials; ``HOME`` is the
  scratch directory).
- Bounds: ``max_bytes`` for the whole directory (watched during the restore; also the server's
  ``temp_file_limit``, which the role cannot raise; a small ``max_wal_size``), ``SERVER_MEMORY_BYTES`` of address
  space per server process (``ulimit -v`` before ``exec``: ``work_mem`` is the role's to raise, this is not),
  and ``timeout``. Reaching one is "could not verify", and the server is stopped and its directory removed.

A run killed before it could clean up leaves its directory (and maybe its server) behind. Each run removes such
leftovers only when they are provably its own kind (``remove_leftovers``); anything else is left alone with a
warning. No Ansible imports; its programs run through processes.py, bounded by the restore's ``Deadline``.
"""

import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import tempfile
import threading
import time

from ansible_collections.divio.cloud.plugins.module_utils import processes
from ansible_collections.divio.cloud.plugins.module_utils.deadline import Deadline
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    DownloadError,
    VerificationFailed,
    VerificationUnavailable,
    excerpt,
)
from ansible_collections.divio.cloud.plugins.module_utils.leftovers import UNKNOWN, process_gone, run_token
from ansible_collections.divio.cloud.plugins.module_utils.space import SpaceReservation

# Where PostgreSQL's programs live when they are not on PATH (Debian/Ubuntu, RHEL/PGDG, Homebrew).
POSTGRES_BIN_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql@*/bin",
                      "/usr/local/opt/postgresql@*/bin")
CLIENT_PACKAGE_HINT = ("install the PostgreSQL client (Debian/Ubuntu: postgresql-client, RHEL/Fedora: postgresql; "
                       "an execution environment gets it from the collection's meta/bindep.txt)")
SCRATCH_PREFIX = "divio-scratch-pg-"
OWNER_FILE = "owner.pid"  # the marker: the run's leftovers.run_token(), a regular file owned by the scratch account
DATABASE = "restored"
SUPERUSER = "divio"  # the bootstrap superuser: creates the role and the database, nothing else
RESTORER = "restorer"  # the dump's SQL runs as this role, which is no superuser
STOP_SECONDS = 15
# max_restore_bytes when not given: this many times the dump's size, at least MIN_RESTORE_BYTES (an empty
# cluster takes about 40 MB, its WAL up to max_wal_size more).
RESTORE_BYTES_PER_DUMP_BYTE = 20
MIN_RESTORE_BYTES = 256 * 1024 ** 2
SERVER_MEMORY_BYTES = 1024 ** 3
TAIL_BYTES = 16 * 1024
SERVER_SETTINGS = (
    "listen_addresses=", "unix_socket_permissions=0700", "fsync=off", "full_page_writes=off",
    "synchronous_commit=off", "wal_level=minimal", "max_wal_senders=0", "max_wal_size=64MB", "min_wal_size=32MB",
    "shared_buffers=32MB", "max_connections=8", "max_worker_processes=0", "autovacuum=off", "jit=off",
    "log_min_messages=error")
# Environment variables kept for the server and clients; everything else of the task's (DIVIO_API_TOKEN,
# proxies, cloud credentials, PG* connection settings) stays out.
SAFE_PATH = "/usr/bin:/bin"
# One line per table, its count alone (a table's name, which the dump chose, never reaches the output).
COUNT_ROWS = (
    "SELECT pg_catalog.format('SELECT pg_catalog.count(*) FROM %I.%I', schemaname, tablename)\n"
    "  FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1\n"
    "\\gexec\n")
# Messages of a restore that needs something this server lacks (an extension), not a broken dump.
MISSING_HERE = ("is not available", "could not open extension control file", "could not access file")
# Extensions and languages that reach outside the database (server files, native or unsandboxed code).
REACHING_OUT = ("file_fdw", "adminpack", "plpythonu", "plpython2u", "plpython3u", "plperlu", "pltclu", "plsh", "c")
_RESTRICT_HELP = {}  # psql path -> whether it has \restrict


def _left(deadline, what):
    """Seconds left of the restore's ``deadline``; once it has passed, ``VerificationUnavailable`` naming ``what``."""
    remaining = deadline.remaining()
    if remaining <= 0:
        raise VerificationUnavailable("verify: restore did not finish within restore_timeout (%g s), during %s; the "
                                      "scratch server was removed; no verdict." % (deadline.seconds, what))
    return remaining


def postgres_tool(name, required_for="verify"):
    """Path of a PostgreSQL program: on PATH, else the newest in the usual install directories."""
    found = shutil.which(name)
    if found:
        return found
    candidates = []
    for pattern in POSTGRES_BIN_GLOBS:
        candidates.extend(path for path in glob.glob(os.path.join(pattern, name)) if os.access(path, os.X_OK))
    if not candidates:
        raise VerificationUnavailable("%s cannot run: %s was not found on PATH or in %s; %s." % (
            required_for, name, ", ".join(POSTGRES_BIN_GLOBS), CLIENT_PACKAGE_HINT))
    return max(candidates, key=_version_key)


def _version_key(path):
    numbers = re.findall(r"\d+", path)
    return [int(n) for n in numbers]


def tool_version(path):
    try:
        proc = processes.run([path, "--version"], Deadline(30))
    except (OSError, processes.TimeoutExpired):
        return None
    match = re.search(r"(\d+(?:\.\d+)?)", proc.stdout)
    return match.group(1) if match else None


def server_account():
    """``(uid, gid)`` to run the server (and the clients) as: None when not root, else ``postgres`` or ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise VerificationUnavailable("verify: restore runs as root and found no unprivileged account (postgres or nobody) to "
                                  "run the scratch PostgreSQL server as.")


def default_max_bytes(dump_size):
    return max(RESTORE_BYTES_PER_DUMP_BYTE * dump_size, MIN_RESTORE_BYTES)


def show_bytes(number):
    for unit, size in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if number >= size:
            return "%.1f %s (%d bytes)" % (number / size, unit, number)
    return "%d bytes" % number


# -- leftovers of killed runs --------------------------------------------------------------------------

def _alive(pid):
    """Whether ``pid`` runs (a zombie, ended but not yet reaped by its parent, does not)."""
    return not process_gone(pid)


def _read_first_line(path):
    """The first line of a regular file, read without following a symlink; None otherwise."""
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(handle, "rb") as source:
        if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
            return None
        return source.readline(200).decode("ascii", "replace").strip()


def _owner_run(path):
    """``(pid, start time, boot)`` from a marker file (``leftovers.run_token``), or None when it is not one."""
    fields = (_read_first_line(path) or "").split("-")
    if not fields[0].isdigit() or len(fields) > 3:
        return None
    return (int(fields[0]),) + tuple(fields[1:]) + (UNKNOWN,) * (3 - len(fields))


def _owned_by(path, uid, kind):
    try:
        info = os.lstat(path)
    except OSError:
        return "it has no %s" % os.path.basename(path)
    if not kind(info.st_mode):
        return "%s is a symbolic link or of another kind" % os.path.basename(path)
    if info.st_uid != uid:
        return "%s belongs to uid %d, not to uid %d" % (os.path.basename(path) or path, info.st_uid, uid)
    return None


def _not_serving(pid, data, uid):
    """Why process ``pid`` is not a server of ``uid`` for the data directory ``data``; None when it is."""
    try:
        with open("/proc/%d/status" % pid) as handle:
            uids = [line.split()[1:3] for line in handle if line.startswith("Uid:")][0]
        cwd = os.stat("/proc/%d/cwd" % pid)
        mine = os.lstat(data)
    except (OSError, IndexError) as exc:
        return "cannot tell whose server process %d is (%s)" % (pid, exc.strerror or type(exc).__name__)
    if uids != [str(uid), str(uid)]:
        return "process %d named by postmaster.pid runs as uid %s, not uid %d" % (pid, "/".join(uids), uid)
    if (cwd.st_dev, cwd.st_ino) != (mine.st_dev, mine.st_ino):
        return "process %d named by postmaster.pid serves another data directory" % pid
    return None


def _signal(pid, handle, number):
    if handle is not None:
        signal.pidfd_send_signal(handle, number)
    else:
        os.kill(pid, number)


def _stop_leftover_server(data, uid):
    """Stop the server of a leftover data directory, if it runs and is provably that directory's; returns why
    not (None: stopped, or none running)."""
    line = _read_first_line(os.path.join(data, "postmaster.pid"))
    if not line or not line.isdigit() or not _alive(int(line)):
        return None
    pid = int(line)
    try:  # a pidfd names this very process: no signal reaches a process that took over the pid meanwhile
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    except (AttributeError, OSError):
        handle = None
    try:
        why = _not_serving(pid, data, uid)
        if why:
            return why
        _signal(pid, handle, signal.SIGINT)
        stopping = Deadline(STOP_SECONDS)
        while _alive(pid) and not stopping.passed():
            time.sleep(0.1)
        if _alive(pid):
            _signal(pid, handle, signal.SIGKILL)
        return None
    except ProcessLookupError:
        return None
    finally:
        if handle is not None:
            os.close(handle)


def _leftover_problem(path, uid):
    """Why ``path`` is not a leftover of ours to remove, or "" for a run still going; None: it is ours."""
    why = _owned_by(path, uid, stat.S_ISDIR) or _owned_by(os.path.join(path, OWNER_FILE), uid, stat.S_ISREG)
    if why:
        return why
    owner = _owner_run(os.path.join(path, OWNER_FILE))
    if owner is None:
        return "its %s is not one this collection writes" % OWNER_FILE
    if not process_gone(*owner):
        return ""  # another run, still going
    data = os.path.join(path, "data")
    if os.path.lexists(data):
        why = _owned_by(data, uid, stat.S_ISDIR) or _stop_leftover_server(data, uid)
    return why


def remove_leftovers(base=None, warnings=None):
    """Remove scratch directories of runs that are gone, stopping their servers; returns the paths removed.

    Only when all hold: the directory and its marker (``OWNER_FILE``) are what they seem (``lstat``, no link
    followed) and belong to the scratch account; the run that made it is gone; and the process its
    ``postmaster.pid`` names, if alive, runs as the scratch account in that very data directory. Anything else is
    left alone, with a sentence naming it appended to ``warnings``."""
    account = server_account()
    uid = account[0] if account else os.geteuid()
    removed = []
    for path in sorted(glob.glob(os.path.join(base or tempfile.gettempdir(), SCRATCH_PREFIX + "*"))):
        why = _leftover_problem(path, uid)
        if why is None:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        elif why and warnings is not None:
            warnings.append("verify: restore left %s alone (it looks like a leftover scratch server, but %s)." % (
                path, why))
    return removed


# -- the scratch server ---------------------------------------------------------------------------------

def _has_restrict(psql):
    if psql not in _RESTRICT_HELP:
        try:
            proc = processes.run([psql, "--help=commands"], Deadline(30), env={"PATH": SAFE_PATH, "LC_ALL": "C"})
            _RESTRICT_HELP[psql] = "\\restrict" in proc.stdout
        except (OSError, processes.TimeoutExpired):
            _RESTRICT_HELP[psql] = False
    return _RESTRICT_HELP[psql]


def _tail(path):
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - TAIL_BYTES))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _disk_usage(directory):
    total = 0
    for root, dirs, files in os.walk(directory, onerror=lambda _exc: None):
        for name in dirs + files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue  # gone meanwhile
    return total


class ScratchServer:
    """One throwaway PostgreSQL server; ``start()``, then ``restore``/``count`` against it, ``remove()`` always."""

    def __init__(self, deadline, base=None, max_bytes=MIN_RESTORE_BYTES):
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.account = server_account()
        self.initdb = postgres_tool("initdb", "verify: restore")
        bindir = os.path.dirname(self.initdb)
        postgres = os.path.join(bindir, "postgres")
        self.postgres = postgres if os.access(postgres, os.X_OK) else postgres_tool("postgres", "verify: restore")
        self.pg_restore = postgres_tool("pg_restore", "verify: restore")
        self.psql = postgres_tool("psql", "verify: restore")
        self.directory = tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=base)
        self.data = os.path.join(self.directory, "data")
        self.log_path = os.path.join(self.directory, "server.log")
        self.client_log = os.path.join(self.directory, "client.log")
        self.process = None
        self.meta_lines = {}  # psql line number -> a meta-command line of a plain SQL dump
        marker = os.path.join(self.directory, OWNER_FILE)
        with open(marker, "w") as handle:
            handle.write(run_token() + "\n")
        if self.account is not None:
            for path in (self.directory, marker):
                os.chown(path, *self.account)

    def _as_account(self):
        if self.account is None:
            return {}
        return {"user": self.account[0], "group": self.account[1], "extra_groups": []}

    def _env(self, options=""):
        return {"PATH": SAFE_PATH, "HOME": self.directory, "LC_ALL": "C", "LANG": "C", "TZ": "UTC",
                "PGCONNECT_TIMEOUT": "10", "PGOPTIONS": options, "PGPASSFILE": os.path.join(self.directory, ".pgpass")}

    def start(self):
        with open(self.log_path, "ab") as log:
            self._call([self.initdb, "-D", self.data, "-U", SUPERUSER, "-A", "trust", "--no-sync", "-E", "UTF8",
                        "--locale=C"], "initdb", stdout=log)
            settings = SERVER_SETTINGS + ("temp_file_limit=%dkB" % max(1, self.max_bytes // 1024),)
            # ulimit -v before exec: every server process (forked from this one) gets SERVER_MEMORY_BYTES of address
            # space; no preexec_fn (not safe in a threaded process), and the role cannot raise it.
            command = ["/bin/sh", "-c", 'ulimit -v "$1" && shift && exec "$@"', "sh", str(SERVER_MEMORY_BYTES // 1024),
                       self.postgres, "-D", self.data, "-k", self.directory]
            for setting in settings:
                command += ["-c", setting]
            # A log file, no stdin, no stdout of ours, a session of its own: nothing ties the module to it.
            self.process = processes.start(command, stdin=processes.DEVNULL, stdout=log, stderr=processes.STDOUT,
                                           start_new_session=True, close_fds=True, cwd=self.directory,
                                           env=self._env(), **self._as_account())
        self._wait_ready()
        self._psql_setup("CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS" % RESTORER)
        self._psql_setup("CREATE DATABASE %s OWNER %s" % (DATABASE, RESTORER))
        return self

    def _wait_ready(self):
        while True:
            if self.process.poll() is not None:
                raise VerificationUnavailable("verify: restore: the scratch PostgreSQL server did not start: %s%s" % (
                    self.log_tail(), self._reach_hint()))
            _left(self.deadline, "server start")
            try:
                ready = processes.run([self.psql] + self._conn("postgres", SUPERUSER) + ["-Atc", "SELECT 1"],
                                      self.deadline, env=self._env(), **self._as_account())
            except processes.TimeoutExpired:
                continue  # the time ran out during the probe: _left() says so on the next round
            if ready.returncode == 0:
                return
            time.sleep(0.1)

    def _reach_hint(self):
        if self.account is None:
            return ""
        return (" (the server runs as uid %d: the scratch directory %s must be reachable by that account)"
                % (self.account[0], os.path.dirname(self.directory)))

    def _conn(self, database, user):
        return ["-h", self.directory, "-U", user, "-d", database, "-X"]

    def _call(self, command, what, stdout=None):
        """Run a setup program to its end, in a process group of its own: initdb's bootstrap backend, killed with
        it when the time runs out, writes no more into a directory being removed."""
        try:
            proc = processes.run(command, self.deadline, stdout=stdout or processes.PIPE,
                                 stderr=processes.STDOUT if stdout else processes.PIPE, text=stdout is None,
                                 env=self._env(), cwd=self.directory, start_new_session=True, **self._as_account())
        except processes.TimeoutExpired:
            _left(self.deadline, what + " (timed out)")
            raise
        except OSError as exc:
            raise VerificationUnavailable("verify: restore: %s could not start: %s" % (what, exc)) from None
        if stdout is not None and proc.returncode != 0:
            raise VerificationUnavailable("verify: restore: %s failed: %s%s" % (what, self.log_tail(), self._reach_hint()))
        return proc

    def _psql_setup(self, sql):
        proc = self._call([self.psql] + self._conn("postgres", SUPERUSER) + ["-v", "ON_ERROR_STOP=1", "-Atc", sql],
                          "setting up the scratch database")
        if proc.returncode != 0:
            raise VerificationUnavailable("verify: restore: setting up the scratch database failed: %s"
                                          % excerpt(proc.stderr, 300))

    # -- the restore, watched ----------------------------------------------------------------------------

    def restore(self, path, fmt):
        """Restore ``path`` as ``RESTORER``; raises ``VerificationFailed`` / ``VerificationUnavailable``."""
        conn = self._conn(DATABASE, RESTORER)
        if fmt == "pg_custom":
            command = [self.pg_restore, "--no-owner", "--no-privileges", "--no-comments", "--no-publications",
                       "--no-subscriptions", "--no-tablespaces", "--no-security-labels", "--exit-on-error"] + conn[:-1]
            # The file is opened here and handed over as stdin (seekable, so pg_restore reads it as it would by name):
            # the scratch account need not be able to read dest.
            with open(path, "rb") as dump:
                returncode = self._watched(command, "the restore", stdin=dump)
        else:
            if not _has_restrict(self.psql):
                raise VerificationUnavailable(
                    "verify: restore: %s has no restricted mode (\\restrict, psql 15.14 and later), which keeps a plain "
                    "SQL dump's psql meta-commands (\\! runs programs) from running here; install a newer PostgreSQL "
                    "client; no verdict." % self.psql)
            key = secrets.token_hex(16)  # the dump cannot know it, so it cannot \unrestrict
            command = [self.psql] + conn + ["-q", "-v", "ON_ERROR_STOP=1", "-c", "\\restrict " + key, "-f", "-"]
            returncode = self._watched(command, "the restore", feed=path)
        if returncode != 0:
            raise judge_restore(_tail(self.client_log), self.meta_lines, self.max_bytes)

    def _watched(self, command, what, stdin=None, feed=None, options=""):
        """Run a client program, its output into ``client_log``; kill it when the time or ``max_bytes`` runs out."""
        with open(self.client_log, "wb") as out:
            if self.account is not None:
                os.fchown(out.fileno(), *self.account)
            try:
                process = processes.start(command, stdin=processes.PIPE if feed else (stdin or processes.DEVNULL),
                                          stdout=out, stderr=processes.STDOUT, cwd=self.directory, close_fds=True,
                                          env=self._env(options), **self._as_account())
            except OSError as exc:
                raise VerificationUnavailable("verify: restore: %s could not start: %s" % (what, exc)) from None
        feeder = None
        if feed:
            feeder = threading.Thread(target=self._feed, args=(feed, process.stdin), daemon=True)
            feeder.start()
        try:
            return self._watch(process, what)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            if feeder is not None:
                feeder.join(STOP_SECONDS)

    def _watch(self, process, what):
        pause = 0.1
        while True:
            try:
                return process.wait(min(pause, _left(self.deadline, what)))
            except processes.TimeoutExpired:
                pass
            started = time.monotonic()
            used = _disk_usage(self.directory)
            if used > self.max_bytes:
                raise VerificationUnavailable(
                    "verify: restore could not verify: the restore needed more than %s of disk (max_restore_bytes; "
                    "default %d times the dump's size, at least %s); it was stopped and the scratch server removed; no "
                    "verdict." % (show_bytes(self.max_bytes), RESTORE_BYTES_PER_DUMP_BYTE, show_bytes(MIN_RESTORE_BYTES)))
            # Measuring a directory of many files takes time: look less often then.
            pause = min(2.0, max(0.2, 5 * (time.monotonic() - started)))

    def _feed(self, path, pipe):
        """Stream a plain SQL dump into psql: without pg_dump's own ``\\restrict KEY`` line (psql is in restricted
        mode already, and refuses it there) and its closing ``\\unrestrict KEY``; noting meta-command lines."""
        key, at_start, lineno = None, True, 0
        try:
            with open(path, "rb") as source:
                for piece in iter(lambda: source.readline(1024 * 1024), b""):
                    line = piece.rstrip(b"\r\n")
                    if at_start and piece.endswith(b"\n"):
                        found = re.match(rb"\\restrict ([A-Za-z0-9]+)\Z", line)
                        if key is None and found:
                            key = found.group(1)
                            continue
                        if key is not None and line == b"\\unrestrict " + key:
                            continue
                    if at_start:
                        lineno += 1
                        if line.startswith(b"\\") and len(self.meta_lines) < 100:
                            self.meta_lines[lineno] = line[:100].decode("utf-8", "replace")
                    pipe.write(piece)
                    at_start = piece.endswith(b"\n")
        except (BrokenPipeError, ValueError, OSError):
            pass  # psql stopped reading (an error, or it was killed)
        finally:
            try:
                pipe.close()
            except OSError:
                pass

    def count(self):
        """``(tables, rows)`` of the restored database, counted as ``RESTORER`` with nothing of the dump's in reach."""
        with tempfile.NamedTemporaryFile("w", dir=self.directory, suffix=".sql") as script:
            script.write(COUNT_ROWS)
            script.flush()
            if self.account is not None:
                os.chown(script.name, *self.account)
            returncode = self._watched([self.psql] + self._conn(DATABASE, RESTORER) + ["-At", "-v", "ON_ERROR_STOP=1",
                                                                                       "-f", script.name],
                                       "counting rows", options="-c search_path=pg_catalog -c row_security=off")
        if returncode != 0:
            raise VerificationUnavailable("verify: restore: counting the restored rows failed: %s"
                                          % excerpt(_tail(self.client_log)[-600:], 300))
        tables = rows = 0
        with open(self.client_log, errors="replace") as output:
            for line in output:
                number = line.strip()
                if number.isdigit():
                    tables, rows = tables + 1, rows + int(number)
        return tables, rows

    def log_tail(self):
        text = _tail(self.log_path)
        return excerpt(text[-600:], 400) if text else "no server log"

    def remove(self):
        """Stop the server (fast shutdown, then kill) and remove the directory; safe to call at any point."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_SECONDS)
            except processes.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_SECONDS)
        shutil.rmtree(self.directory, ignore_errors=True)
        if os.path.lexists(self.directory):  # a process of it was still writing: once more, after it
            time.sleep(0.2)
            shutil.rmtree(self.directory, ignore_errors=True)


# -- what a failed restore means -------------------------------------------------------------------------

def judge_restore(output, meta_lines, max_bytes):
    """The exception for a restore that failed, from the client's last output: a verdict on the dump
    (``VerificationFailed``), or none (``VerificationUnavailable``) when the failure is about this machine."""
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [n for n, line in enumerate(lines) if "error:" in line.lower()]
    said = excerpt("; ".join(lines[errors[-1] if errors else max(0, len(lines) - 5):]), 600)
    lowered = output.lower()
    refused = re.search(r"psql:<stdin>:(\d+): error: backslash commands are restricted", output)
    if refused:
        line = meta_lines.get(int(refused.group(1)), "a meta-command")
        if re.match(r"\\c(onnect)?\b", line):
            return VerificationUnavailable("verify: restore: the plain SQL dump switches databases (%s, as pg_dump -C or "
                                           "pg_dumpall write), which the restricted restore does not do; no verdict."
                                           % excerpt(line, 80))
        return VerificationFailed("the plain SQL dump holds a psql meta-command, %s (line %s), which psql would run on "
                                  "the machine that verifies it (\\! runs a program); refused, nothing ran: %s"
                                  % (excerpt(line, 100), refused.group(1), said))
    if "unsupported version" in lowered:
        return VerificationUnavailable("verify: restore: pg_restore cannot read this dump, made by a newer PostgreSQL; "
                                       "no verdict: %s" % said)
    reaching = _reaching_out(lowered)
    if reaching:
        return VerificationFailed("the dump needs %s; the restore runs without superuser rights, so it was refused and "
                                  "nothing ran: %s" % (reaching, said))
    if "out of memory" in lowered or "temp_file_limit" in lowered:
        memory = "out of memory" in lowered
        return VerificationUnavailable("verify: restore could not verify: the restore needed more than %s of %s; no "
                                       "verdict: %s" % (show_bytes(SERVER_MEMORY_BYTES if memory else max_bytes),
                                                        "memory (per server process)" if memory else "temporary files",
                                                        said))
    if re.search(r'error: +role "[^"]*" does not exist', lowered):
        return VerificationUnavailable("verify: restore: the plain SQL dump names roles of the server it came from "
                                       "(ALTER ... OWNER TO, GRANT); a plain dump restores here only when made with "
                                       "pg_dump --no-owner --no-privileges; no verdict: %s" % said)
    if any(marker in lowered for marker in MISSING_HERE):
        return VerificationUnavailable("verify: restore: the dump needs something this PostgreSQL server lacks (an "
                                       "extension?); no verdict: %s" % said)
    if "superuser" in lowered or "permission denied" in lowered:
        return VerificationUnavailable("verify: restore could not verify: the dump needs superuser rights (an extension "
                                       "only a superuser may create?), which the scratch restore never has; no verdict: "
                                       "%s" % said)
    return VerificationFailed("the restore into a scratch PostgreSQL failed: %s" % said)


def _reaching_out(lowered):
    """What of the dump reaches outside the database (a program, a server file, such an extension), or None."""
    if "external program" in lowered or "execute_server_program" in lowered:
        return "to run a program on the machine that verifies it (COPY ... PROGRAM, superuser only)"
    found = re.search(r'function (pg_read_file|pg_read_binary_file|pg_ls_dir|pg_stat_file|lo_export|lo_import)\b', lowered)
    if found:
        return "a server file (%s, superuser only)" % found.group(1)
    if "from a file" in lowered or "to a file" in lowered or "server_files" in lowered:
        return "a server file (COPY to or from a file, superuser only)"
    for found in re.finditer(r'(?:extension|language) "?([a-z0-9_]+)"?', lowered):
        if found.group(1) in REACHING_OUT:
            return "%s, which reaches outside the database (server files or unsandboxed code; superuser only)" % (
                found.group(1))
    return None


def restore_into_scratch(path, fmt, timeout, base=None, max_bytes=None):
    """Restore ``path`` into a scratch server; returns ``{"check", "tables", "rows", "server_version",
    "max_restore_bytes"}`` and ``warnings`` (leftovers left alone) when there are some.

    ``base``: where the scratch directory goes (default the temp directory); ``max_bytes``: the most its restore
    may take on disk (default ``default_max_bytes`` of the dump's size)."""
    deadline = Deadline(timeout)
    base = base or tempfile.gettempdir()
    max_bytes = max_bytes or default_max_bytes(os.path.getsize(path))
    warnings = []
    remove_leftovers(base, warnings)
    space = SpaceReservation(base, "verify: restore")
    try:
        space.hold(max_bytes)  # counted by every other download and restore on that file system meanwhile
    except DownloadError:
        raise VerificationUnavailable(
            "verify: restore could not verify: %s has %d bytes free, less than the restore may take (max_restore_bytes, "
            "%s) beside what other downloads and restores there hold; choose another scratch_dir or a smaller "
            "max_restore_bytes; no verdict." % (base, shutil.disk_usage(base).free, show_bytes(max_bytes)),
            warnings=warnings) from None
    try:
        server = ScratchServer(deadline, base, max_bytes)
        try:
            server.start()
            server.restore(path, fmt)
            tables, rows = server.count()
        finally:
            server.remove()
    except (VerificationFailed, VerificationUnavailable) as exc:
        exc.details.setdefault("warnings", warnings)
        raise
    except OSError as exc:  # the scratch directory could not be made or written
        raise VerificationUnavailable("verify: restore: the scratch directory in %s: %s; no verdict." % (
            base, os.strerror(exc.errno) if exc.errno else exc), warnings=warnings) from None
    finally:
        space.release()
    version = tool_version(server.postgres) or "?"
    result = {"check": "restored into a scratch PostgreSQL %s as a role without superuser rights: %d tables, %d rows"
              % (version, tables, rows), "tables": tables, "rows": rows, "server_version": version,
              "max_restore_bytes": max_bytes}
    if warnings:
        result["warnings"] = warnings
    return result
