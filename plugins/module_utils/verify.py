# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Proving a downloaded backup file: read every byte with its format's own reader (``verify: read``), or
restore a database dump into a throwaway PostgreSQL (``verify: restore``, scratch.py).

Two outcomes that must never be confused:
- the file is broken: ``VerificationFailed`` - a verdict on the backup;
- the check cannot run here (no pg_restore, a dump from a newer PostgreSQL than the local client reads):
  ``VerificationUnavailable`` - no verdict; the message says what is missing.

What ``read`` checks, per format:
- ``pg_custom`` (starts with ``PGDMP``): ``pg_restore -f /dev/null`` reads every data block (``--list`` reads
  only the table of contents and passes on a dump cut short); and the archive's creation time (its header,
  written in the dump host's time zone, taken as UTC) lies within the part's start and end, give or take
  ``CREATION_TIME_SLACK`` - a stale or foreign dump is caught.
- ``sql``: a text dump header; mysqldump's closing ``-- Dump completed`` line, or pg_dump's
  ``-- PostgreSQL database dump complete``, where the header says which tool made it.
- ``tar_gzip``: the whole gzip stream to its end, where its CRC and length are checked (``tarfile`` lists
  the members of an archive with a flipped byte without noticing), and every tar member header.
- ``tar``: every tar member header, to the end of the archive.
No Ansible imports.
"""

import datetime
import glob
import gzip
import os
import re
import shutil
import subprocess
import tarfile
import zlib

from ansible_collections.divio.cloud.plugins.module_utils.backups import parse_timestamp
from ansible_collections.divio.cloud.plugins.module_utils.errors import VerificationFailed, VerificationUnavailable, excerpt

LEVELS = ("none", "read", "restore")
CREATION_TIME_SLACK = datetime.timedelta(minutes=10)
READ_CHUNK = 1024 * 1024
# Where PostgreSQL's programs live when they are not on PATH (Debian/Ubuntu, RHEL/PGDG, Homebrew).
POSTGRES_BIN_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql@*/bin",
                      "/usr/local/opt/postgresql@*/bin")
CLIENT_PACKAGE_HINT = ("install the PostgreSQL client (Debian/Ubuntu: postgresql-client, RHEL/Fedora: postgresql; "
                       "an execution environment gets it from the collection's meta/bindep.txt)")
EXTENSIONS = {"pg_custom": "dump", "sql": "sql", "tar_gzip": "tar.gz", "tar": "tar", "unknown": "bin"}
_UTC = datetime.timezone.utc


def sniff(path):
    """The file's format from its first bytes: ``pg_custom``, ``tar_gzip``, ``tar``, ``sql`` or ``unknown``."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head.startswith(b"PGDMP"):
        return "pg_custom"
    if head.startswith(b"\x1f\x8b"):
        return "tar_gzip"
    if head[257:262] == b"ustar":
        return "tar"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"--", b"/*")):
        return "sql"
    return "unknown"


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
        # pylint: disable-next=ansible-bad-function  # see _run
        proc = subprocess.run([path, "--version"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+(?:\.\d+)?)", proc.stdout)
    return match.group(1) if match else None


# -- pg_dump's custom format ---------------------------------------------------------------------

def read_pg_header(path):
    """``{"version": (major, minor, rev), "created_at": aware datetime or None}`` from a custom-format header."""
    with open(path, "rb") as handle:
        head = handle.read(128)
    if not head.startswith(b"PGDMP") or len(head) < 16:
        raise VerificationFailed("the file is not a complete pg_dump custom-format header")
    version = (head[5], head[6], head[7])
    int_size = head[8]
    if not 1 <= int_size <= 8:
        raise VerificationFailed("the pg_dump header names an impossible integer size (%d)" % int_size)
    offset = 11  # magic, 3 version bytes, intSize, offSize, format
    offset += 1 if version >= (1, 15, 0) else 1 + int_size  # 1.15 keeps the compression in a byte, before it an int

    def read_int():
        nonlocal offset
        if offset + 1 + int_size > len(head):
            raise VerificationFailed("the pg_dump header is cut short")
        sign = head[offset]
        value = int.from_bytes(head[offset + 1:offset + 1 + int_size], "little")
        offset += 1 + int_size
        return -value if sign else value

    sec, minute, hour, mday, mon, year, _isdst = [read_int() for _field in range(7)]
    try:
        created = datetime.datetime(year + 1900, mon + 1, mday, hour, minute, sec, tzinfo=_UTC)
    except (ValueError, OverflowError):
        created = None
    return {"version": version, "created_at": created}


def _part_window(part):
    """``(start, end)`` of a part's own times, or ``(None, None)`` when it says neither."""
    start = end = None
    for field in ("started_at", "taken_at", "queued_at"):
        if part.get(field):
            start = parse_timestamp(part[field], field)
            break
    for field in ("ended_at", "taken_at", "started_at"):
        if part.get(field):
            end = parse_timestamp(part[field], field)
            break
    return start, end


def _run(command, timeout, what):
    try:
        # Not AnsibleModule.run_command (the ansible-bad-function check of ansible-test 2.21): no Ansible imports
        # here, and it cannot bound a step in time.
        # pylint: disable-next=ansible-bad-function
        return subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                              check=False, env=dict(os.environ, LC_ALL="C", LANG="C"))
    except subprocess.TimeoutExpired:
        raise VerificationUnavailable("%s did not finish within restore_timeout (%g s); no verdict." % (what, timeout)) from None
    except OSError as exc:
        raise VerificationUnavailable("%s could not start: %s" % (what, exc)) from None


def _stderr_excerpt(proc):
    lines = [line for line in (proc.stderr or "").splitlines() if line.strip()]
    return excerpt("; ".join(lines[-3:]) or "exit code %d" % proc.returncode, 400)


def unreadable_version(proc):
    """True when pg_restore refused the archive as newer than it reads (not a verdict on the file)."""
    return "unsupported version" in (proc.stderr or "")


def verify_pg_custom(path, part, timeout):
    """Checks made, as a list of sentences; raises ``VerificationFailed`` / ``VerificationUnavailable``."""
    header = read_pg_header(path)
    pg_restore = postgres_tool("pg_restore", "verify: read")
    version = tool_version(pg_restore) or "?"
    proc = _run([pg_restore, "-f", os.devnull, path], timeout, "pg_restore -f /dev/null")
    if unreadable_version(proc):
        raise VerificationUnavailable(
            "pg_restore %s cannot read this dump: it was made by a newer PostgreSQL (archive format %d.%d); no verdict. "
            "Install a newer PostgreSQL client (%s)." % (version, header["version"][0], header["version"][1], CLIENT_PACKAGE_HINT))
    if proc.returncode != 0:
        raise VerificationFailed("pg_restore %s could not read the whole dump: %s" % (version, _stderr_excerpt(proc)))
    checks = ["pg_restore %s read every data block (pg_restore -f /dev/null)" % version]
    checks.append(check_creation_time(header["created_at"], part))
    return checks, {"archive_created_at": _format(header["created_at"]),
                    "archive_version": "%d.%d" % header["version"][:2]}


def check_creation_time(created, part):
    start, end = _part_window(part)
    if start is None or end is None:
        return "the part says no start or end time, so the dump's creation time (%s) was not compared" % _format(created)
    if created is None:
        raise VerificationFailed("the dump's header holds no valid creation time")
    if not start - CREATION_TIME_SLACK <= created <= end + CREATION_TIME_SLACK:
        raise VerificationFailed(
            "the dump was created %s, outside its backup part's time (%s to %s, give or take %d minutes): a stale or "
            "foreign dump" % (_format(created), _format(start), _format(end), CREATION_TIME_SLACK.seconds // 60))
    return "the dump was created %s, within the part's time (%s to %s, give or take %d minutes)" % (
        _format(created), _format(start), _format(end), CREATION_TIME_SLACK.seconds // 60)


def _format(moment):
    return moment.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


# -- text dumps -----------------------------------------------------------------------------------

def verify_sql(path):
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        head = handle.read(8192).decode("utf-8", "replace")
        handle.seek(max(0, size - 8192))
        tail = handle.read().decode("utf-8", "replace")
    if not head.lstrip("\ufeff \t\r\n").startswith(("--", "/*")) or "dump" not in head.lower():
        raise VerificationFailed("the file does not start with an SQL dump header")
    if re.search(r"^-- (MySQL|MariaDB) dump", head, re.M):
        if "-- Dump completed" not in tail:
            raise VerificationFailed("the mysqldump file has no closing '-- Dump completed' line: it was cut short")
        return ["mysqldump header and its closing '-- Dump completed' line"], {}
    if "-- PostgreSQL database dump" in head:
        if "-- PostgreSQL database dump complete" not in tail:
            raise VerificationFailed("the pg_dump file has no closing '-- PostgreSQL database dump complete' line: it "
                                     "was cut short")
        return ["pg_dump header and its closing '-- PostgreSQL database dump complete' line"], {}
    return ["an SQL dump header (this dump's tool writes no end marker the collection knows)"], {}


# -- media archives ------------------------------------------------------------------------------

def verify_tar(path, compressed):
    checks = []
    if compressed:
        total = 0
        try:
            with gzip.open(path, "rb") as stream:
                while True:
                    chunk = stream.read(READ_CHUNK)
                    if not chunk:
                        break
                    total += len(chunk)
        except (OSError, EOFError, zlib.error) as exc:
            raise VerificationFailed("the gzip stream is broken: %s" % excerpt(str(exc) or type(exc).__name__, 200)) from None
        checks.append("the whole gzip stream, %d bytes uncompressed, to its CRC and length" % total)
    members = size = 0
    try:
        with tarfile.open(path, "r:gz" if compressed else "r:") as archive:
            for member in archive:
                members += 1
                size += member.size
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise VerificationFailed("the tar archive is broken after %d members: %s" % (
            members, excerpt(str(exc) or type(exc).__name__, 200))) from None
    checks.append("every tar member header (%d members, %d bytes)" % (members, size))
    return checks, {"members": members}


def verify_read(path, fmt, part, timeout):
    """``(checks, details)`` of a ``read`` verification; raises ``VerificationFailed`` / ``VerificationUnavailable``."""
    if fmt == "pg_custom":
        return verify_pg_custom(path, part, timeout)
    if fmt == "sql":
        return verify_sql(path)
    if fmt in ("tar_gzip", "tar"):
        return verify_tar(path, fmt == "tar_gzip")
    with open(path, "rb") as handle:
        head = handle.read(16)
    raise VerificationFailed("the file is in no format a backup part comes in (it starts with %r)" % head)
