"""Hostile PostgreSQL dumps, made at run time with the real pg_dump from a throwaway cluster whose role is a
superuser (run as ``postgres`` via ``runuser`` when the tests run as root), for the restore-proof's threat tests.

Each vector is a database whose restore calls a schema-qualified function (the restore runs with an empty
``search_path``) that tries to reach outside the database: ``COPY ... TO PROGRAM``, ``pg_read_file`` or
``lo_export`` to a marker path outside any scratch directory. The functions are harmless while the objects are
made (the CHECKs validate, the index builds, the view fills) and are replaced by their hostile bodies just before
the dump, which keeps the hostile ones. Column defaults and triggers do not fire during a pg_restore (the load
names every column; triggers come after the data), so they are no vectors here.
"""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

SUPERUSER = "boss"
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
HARMLESS = "BEGIN RETURN i; END"
ATTACKS = {
    # name: (hostile body with {marker} and {secret}, what the refusal names)
    "run_program": ("BEGIN EXECUTE pg_catalog.format('COPY (SELECT 1) TO PROGRAM %L', 'touch {marker}'); RETURN i; END",
                    "program"),
    "read_file": ("BEGIN EXECUTE pg_catalog.format('COPY (SELECT %L) TO %L', pg_catalog.pg_read_file('{secret}'), "
                  "'{marker}'); RETURN i; END", "pg_read_file"),
    "export_lo": ("DECLARE o oid; BEGIN o := pg_catalog.lo_from_bytea(0, '\\x6f776e6564'::bytea); "
                  "PERFORM pg_catalog.lo_export(o, '{marker}'); RETURN i; END", "lo_export"),
}
# vector: (attack, SQL making the objects with data, while the function is harmless)
VECTORS = {
    "table_check": ("run_program", "CREATE TABLE public.t (a int CHECK (evil.run_program(a) > 0)); "
                                   "INSERT INTO public.t SELECT pg_catalog.generate_series(1, 3);"),
    "domain_check": ("read_file", "CREATE DOMAIN public.d AS int CHECK (evil.read_file(VALUE) > 0); "
                                  "CREATE TABLE public.t (a public.d); INSERT INTO public.t VALUES (1), (2);"),
    "generated_column": ("export_lo", "CREATE TABLE public.t (a int, g int GENERATED ALWAYS AS (evil.export_lo(a)) STORED); "
                                      "INSERT INTO public.t (a) VALUES (1), (2);"),
    "index_expression": ("run_program", "CREATE TABLE public.t (a int); INSERT INTO public.t VALUES (1), (2); "
                                        "CREATE INDEX t_evil ON public.t ((evil.run_program(a)));"),
    "materialized_view": ("read_file", "CREATE TABLE public.t (a int); INSERT INTO public.t VALUES (1); "
                                       "CREATE MATERIALIZED VIEW public.m AS SELECT evil.read_file(a) AS x FROM public.t;"),
}
# A good database whose restore fails if it runs as a superuser or with the rights that reach outside it (the
# guard is put in place after the rows are in: this cluster's role is a superuser).
GUARDED = """
CREATE SCHEMA guard;
CREATE FUNCTION guard.not_privileged(i int) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$SELECT true$$;
CREATE TABLE public.guarded (a int CHECK (guard.not_privileged(a)));
INSERT INTO public.guarded SELECT pg_catalog.generate_series(1, 7);
CREATE TABLE public.plain (b text);
INSERT INTO public.plain SELECT 'row ' || g FROM pg_catalog.generate_series(1, 5) g;
CREATE OR REPLACE FUNCTION guard.not_privileged(i int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) pg_catalog.session_user())
     OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) pg_catalog.current_user())
     OR pg_catalog.pg_has_role(pg_catalog.session_user(), 'pg_execute_server_program', 'USAGE')
     OR pg_catalog.pg_has_role(pg_catalog.session_user(), 'pg_read_server_files', 'USAGE')
     OR pg_catalog.pg_has_role(pg_catalog.session_user(), 'pg_write_server_files', 'USAGE')
     OR pg_catalog.pg_has_role(pg_catalog.session_user(), 'pg_signal_backend', 'USAGE') THEN
    RAISE EXCEPTION 'restored by a privileged role: %', pg_catalog.session_user();
  END IF;
  RETURN true;
END $$;
"""
GUARDED_COUNTS = (2, 12)


def binary(name):
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else shutil.which(name)


def have_server():
    return all(binary(name) for name in ("initdb", "postgres", "pg_dump", "pg_restore", "psql"))


def account(name):
    entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def as_user(command, name):
    """``command`` run as account ``name`` when root (runuser), as it is otherwise."""
    return [RUNUSER, "-u", name, "--"] + command if os.geteuid() == 0 else command


def shared_dir(prefix, mode=0o1777):
    """A directory outside pytest's 0700 tmp, reachable by the server accounts."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, mode)
    return path


class SuperCluster:
    """A throwaway cluster whose login role is a superuser: to make the dumps, and to prove a vector fires."""

    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="divio-hostile-super-")
        if os.geteuid() == 0:
            os.chown(self.base, *account("postgres"))
        self.data = os.path.join(self.base, "data")
        self.env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC", "PGHOST": self.base, "PGUSER": SUPERUSER,
                    "HOME": self.base}
        self.process = None

    def run(self, command, stdin=None, check=True):
        return subprocess.run(as_user(command, "postgres"), env=self.env, stdin=stdin or subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120, check=check)

    def start(self):
        self.run([binary("initdb"), "-D", self.data, "-U", SUPERUSER, "-A", "trust", "--no-sync", "-E", "UTF8",
                  "--locale=C"])
        with open(os.path.join(self.base, "server.log"), "ab") as log:
            self.process = subprocess.Popen(
                as_user([binary("postgres"), "-D", self.data, "-k", self.base, "-c", "listen_addresses=", "-F"],
                        "postgres"), env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        for _try in range(200):
            if self.run([binary("psql"), "-X", "-d", "postgres", "-Atc", "SELECT 1"], check=False).returncode == 0:
                return self
            time.sleep(0.05)
        raise RuntimeError("the superuser cluster did not start")

    def pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as handle:
            return int(handle.readline())

    def sql(self, database, sql):
        return self.run([binary("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql])

    def create(self, database, sql):
        self.sql("postgres", "CREATE DATABASE %s" % database)
        self.sql(database, sql)

    def dump(self, database, path, fmt="c"):
        # A plain dump without owners and grants, as one meant to be restored elsewhere is made.
        extra = ["--no-owner", "--no-privileges"] if fmt == "p" else []
        out = subprocess.run(as_user([binary("pg_dump"), "-F" + fmt, "-d", database] + extra, "postgres"), env=self.env,
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=True).stdout
        with open(path, "wb") as handle:
            handle.write(out)
        os.chmod(path, 0o644)
        return path

    def restore_as_superuser(self, path, database, plain=False):
        """Restore a dump the unsafe way (as this superuser): proves its vector fires."""
        self.sql("postgres", "CREATE DATABASE %s" % database)
        if plain:
            command = [binary("psql"), "-X", "-q", "-d", database, "-f", "-"]
        else:
            command = [binary("pg_restore"), "--exit-on-error", "-d", database]
        with open(path, "rb") as dump:
            return self.run(command, stdin=dump, check=False)

    def stop(self):
        if self.process is not None:
            try:
                os.kill(self.pid(), signal.SIGQUIT)  # immediate: a throwaway cluster needs no checkpoint
            except (OSError, ValueError):
                pass
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.base, ignore_errors=True)


def make_vector(cluster, vector, markers, secret, directory):
    """The custom-format dump of ``vector``, whose function writes ``markers/<vector>``; returns its path.

    Each ``evil.<attack>`` is an IMMUTABLE wrapper (generated columns and index expressions want one) around a
    VOLATILE ``evil.<attack>_body`` (plpgsql refuses COPY in a non-volatile function, not in one it calls)."""
    attack, objects = VECTORS[vector]
    database = "v_" + vector
    create = "".join(
        "CREATE FUNCTION evil.%s_body(i int) RETURNS int LANGUAGE plpgsql VOLATILE AS $$%s$$;"
        "CREATE FUNCTION evil.%s(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN evil.%s_body(i); END$$;"
        % (name, HARMLESS, name, name) for name in ATTACKS)
    cluster.create(database, "CREATE SCHEMA evil;" + create + objects)
    body = ATTACKS[attack][0].format(marker=os.path.join(markers, vector), secret=secret)
    cluster.sql(database, "CREATE OR REPLACE FUNCTION evil.%s_body(i int) RETURNS int LANGUAGE plpgsql VOLATILE AS $$%s$$;"
                % (attack, body))
    return cluster.dump(database, os.path.join(directory, vector + ".dump"))


def make_plain(cluster, directory, marker=None):
    """A plain SQL dump by pg_dump (``\\restrict KEY`` ... ``\\unrestrict KEY``); with ``marker``, the hostile
    version: after the data, ``\\unrestrict KEY`` with pg_dump's own key, then ``\\!`` writing the marker."""
    if "plain_src" not in cluster.__dict__.setdefault("made", set()):
        cluster.create("plain_src", "CREATE TABLE public.p (a int, b text); "
                                    "INSERT INTO public.p SELECT g, 'line ' || g FROM pg_catalog.generate_series(1, 9) g;")
        cluster.made.add("plain_src")
    path = cluster.dump("plain_src", os.path.join(directory, "hostile.sql" if marker else "plain.sql"), fmt="p")
    if marker:
        with open(path) as handle:
            text = handle.read()
        key = [line.split()[1] for line in text.splitlines() if line.startswith("\\restrict ")][0]
        text = text.replace("\\.\n", "\\.\n\\unrestrict %s\n\\! touch %s\n" % (key, marker), 1)
        with open(path, "w") as handle:
            handle.write(text)
    return path
