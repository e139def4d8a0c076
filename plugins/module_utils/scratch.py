# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""``verify: restore``: restore a database dump into a throwaway PostgreSQL server, then count what arrived.

The server is made for one restore and removed after it, whatever happens: ``initdb`` into a temporary
directory (``SCRATCH_PREFIX`` in the system's temp directory), ``postgres`` listening only on a Unix socket
in that directory, with a log file there and no inherited stdin/stdout (a module whose pipes a server kept
open would never return), in a session of its own. PostgreSQL refuses to run as root, so a task running as
root runs the server as ``postgres`` (else ``nobody``); the client programs run as the task's user. Every
step gets what is left of ``timeout``; then the server is stopped and the directory removed, and the
verification ends without a verdict.

A run killed before it could clean up leaves its directory (and maybe its server) behind: each run first
removes the directories of runs whose owner process is gone, stopping their server by the pid in
``postmaster.pid`` (only if that process still is a postgres). No Ansible imports.
"""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from ansible_collections.divio.cloud.plugins.module_utils.errors import VerificationFailed, VerificationUnavailable, excerpt
from ansible_collections.divio.cloud.plugins.module_utils.verify import postgres_tool, tool_version, unreadable_version

SCRATCH_PREFIX = "divio-scratch-pg-"
OWNER_FILE = "owner.pid"
DATABASE = "restored"
SUPERUSER = "divio"
STOP_SECONDS = 15
COUNT_ROWS = (
    "SELECT format('SELECT %L, count(*) FROM %I.%I', schemaname || '.' || tablename, schemaname, tablename)\n"
    "  FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1\n"
    "\\gexec\n")
# Messages of a restore that needs something this server lacks (an extension), not a broken dump.
MISSING_HERE = ("is not available", "could not open extension control file", "could not access file")


class _Clock:
    def __init__(self, seconds):
        self.seconds = seconds
        self.until = time.monotonic() + seconds

    def left(self, what):
        remaining = self.until - time.monotonic()
        if remaining <= 0:
            raise VerificationUnavailable("verify: restore did not finish within restore_timeout (%g s), during %s; the "
                                          "scratch server was removed; no verdict." % (self.seconds, what))
        return remaining


def server_account():
    """``(uid, gid)`` to run the server as: None when not root, else ``postgres`` or ``nobody``."""
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


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postgres(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return b"postgres" in handle.read()
    except OSError:
        return False


def _read_pid(path):
    try:
        with open(path) as handle:
            return int(handle.readline().strip())
    except (OSError, ValueError):
        return None


def _stop_postmaster(data_dir):
    """Stop the server of a data directory by the pid in its postmaster.pid (fast shutdown, then kill)."""
    pid = _read_pid(os.path.join(data_dir, "postmaster.pid"))
    if pid is None or not _alive(pid) or not _is_postgres(pid):
        return
    os.kill(pid, signal.SIGINT)
    until = time.monotonic() + STOP_SECONDS
    while _alive(pid) and time.monotonic() < until:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def remove_leftovers(base=None):
    """Remove scratch directories (and stop their servers) of runs whose owner process is gone; returns them."""
    removed = []
    for path in glob.glob(os.path.join(base or tempfile.gettempdir(), SCRATCH_PREFIX + "*")):
        owner = _read_pid(os.path.join(path, OWNER_FILE))
        if owner is not None and owner != os.getpid() and _alive(owner):
            continue  # another run, still going
        _stop_postmaster(os.path.join(path, "data"))
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


class ScratchServer:
    """One throwaway PostgreSQL server; ``start()``, then ``psql``/``run`` against it, ``remove()`` always."""

    def __init__(self, clock, base=None):
        self.clock = clock
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
        self.process = None
        with open(os.path.join(self.directory, OWNER_FILE), "w") as handle:
            handle.write("%d\n" % os.getpid())
        if self.account is not None:
            os.chown(self.directory, *self.account)

    def _as_server(self):
        if self.account is None:
            return {}
        return {"user": self.account[0], "group": self.account[1], "extra_groups": []}

    def start(self):
        with open(self.log_path, "ab") as log:
            self._call([self.initdb, "-D", self.data, "-U", SUPERUSER, "-A", "trust", "--no-sync", "-E", "UTF8",
                        "--locale=C"], "initdb", stdout=log, server=True)
            # A log file, no stdin, no stdout of ours, a session of its own: nothing ties the module to it.
            # pylint: disable-next=ansible-bad-function  # see _call
            self.process = subprocess.Popen(
                [self.postgres, "-D", self.data, "-k", self.directory, "-c", "listen_addresses=", "-c", "fsync=off",
                 "-c", "full_page_writes=off", "-c", "synchronous_commit=off"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
                cwd=self.directory, **self._as_server())
        while True:
            if self.process.poll() is not None:
                raise VerificationUnavailable("verify: restore: the scratch PostgreSQL server did not start: %s" % self.log_tail())
            try:
                # pylint: disable-next=ansible-bad-function  # see _call
                ready = subprocess.run([self.psql] + self._conn("postgres") + ["-Atc", "SELECT 1"], stdin=subprocess.DEVNULL,
                                       capture_output=True, text=True, timeout=self.clock.left("server start"), check=False,
                                       env=self._env())
            except subprocess.TimeoutExpired:
                continue  # the time ran out during the probe: clock.left() says so on the next round
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        self.psql_sql("postgres", "CREATE DATABASE %s" % DATABASE, "creating the scratch database")
        return self

    def _env(self):
        return dict(os.environ, LC_ALL="C", LANG="C", PGCONNECT_TIMEOUT="10", PGOPTIONS="")

    def _conn(self, database):
        return ["-h", self.directory, "-U", SUPERUSER, "-d", database, "-X"]

    def _call(self, command, what, stdout=None, server=False, input_text=None):
        kwargs = self._as_server() if server else {}
        try:
            # Not AnsibleModule.run_command (the ansible-bad-function check of ansible-test 2.21): no Ansible imports
            # here, and it can neither bound a step in time, run it as the server's account nor leave a server running.
            # pylint: disable-next=ansible-bad-function
            return subprocess.run(command, input=input_text, stdin=None if input_text is not None else subprocess.DEVNULL,
                                  stdout=stdout if stdout is not None else subprocess.PIPE,
                                  stderr=subprocess.STDOUT if stdout is not None else subprocess.PIPE,
                                  text=stdout is None, timeout=self.clock.left(what), check=stdout is not None,
                                  env=self._env(), cwd=self.directory, **kwargs)
        except subprocess.TimeoutExpired:
            self.clock.left(what + " (timed out)")
            raise VerificationUnavailable("verify: restore: %s did not finish in time." % what) from None
        except subprocess.CalledProcessError:
            raise VerificationUnavailable("verify: restore: %s failed: %s" % (what, self.log_tail())) from None
        except OSError as exc:
            raise VerificationUnavailable("verify: restore: %s could not start: %s" % (what, exc)) from None

    def psql_sql(self, database, sql, what):
        proc = self._call([self.psql] + self._conn(database) + ["-v", "ON_ERROR_STOP=1", "-Atc", sql], what)
        if proc.returncode != 0:
            raise VerificationUnavailable("verify: restore: %s failed: %s" % (what, excerpt(proc.stderr, 300)))
        return proc.stdout

    def restore(self, path, fmt):
        if fmt == "pg_custom":
            command = [self.pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "-h", self.directory, "-U",
                       SUPERUSER, "-d", DATABASE, path]
        else:
            command = [self.psql] + self._conn(DATABASE) + ["-q", "-v", "ON_ERROR_STOP=1", "-f", path]
        proc = self._call(command, "the restore")
        if proc.returncode == 0:
            return
        said = excerpt("; ".join(line for line in proc.stderr.splitlines() if line.strip())[-400:], 400)
        if unreadable_version(proc):
            raise VerificationUnavailable("verify: restore: pg_restore cannot read this dump, made by a newer PostgreSQL; no "
                                          "verdict: %s" % said)
        if any(marker in proc.stderr for marker in MISSING_HERE):
            raise VerificationUnavailable("verify: restore: the dump needs something this PostgreSQL server lacks (an "
                                          "extension?); no verdict: %s" % said)
        raise VerificationFailed("the restore into a scratch PostgreSQL failed: %s" % said)

    def count(self):
        """``(tables, rows, {table: rows})`` of the restored database."""
        proc = self._call([self.psql] + self._conn(DATABASE) + ["-At", "-v", "ON_ERROR_STOP=1"], "counting rows",
                          input_text=COUNT_ROWS)
        if proc.returncode != 0:
            raise VerificationUnavailable("verify: restore: counting the restored rows failed: %s" % excerpt(proc.stderr, 300))
        counts = {}
        for line in proc.stdout.splitlines():
            name, _sep, number = line.rpartition("|")
            if name and number.isdigit():
                counts[name] = int(number)
        return len(counts), sum(counts.values()), counts

    def log_tail(self):
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(max(0, os.path.getsize(self.log_path) - 600))
                return excerpt(handle.read().decode("utf-8", "replace"), 400)
        except OSError:
            return "no server log"

    def remove(self):
        """Stop the server (fast shutdown, then kill) and remove the directory; safe to call at any point."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_SECONDS)
        shutil.rmtree(self.directory, ignore_errors=True)


def restore_into_scratch(path, fmt, timeout, base=None):
    """Restore ``path`` into a scratch server; returns ``{"check", "tables", "rows", "server_version"}``."""
    clock = _Clock(timeout)
    remove_leftovers(base)
    server = ScratchServer(clock, base)
    try:
        server.start()
        server.restore(path, fmt)
        tables, rows, _counts = server.count()
    finally:
        server.remove()
    version = tool_version(server.postgres) or "?"
    return {"check": "restored into a scratch PostgreSQL %s: %d tables, %d rows" % (version, tables, rows),
            "tables": tables, "rows": rows, "server_version": version}
