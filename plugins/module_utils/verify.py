# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Proving a downloaded backup file: read every byte with its format's own reader (``verify: read``), or
restore a database dump into a throwaway PostgreSQL (``verify: restore``, scratch.py). ``verify_file`` is the one
way into both proofs for the rest of the house.

Two outcomes that must never be confused:
- the file is broken: ``VerificationFailed`` - a verdict on the backup;
- the check cannot run here (no pg_restore, a dump from a newer PostgreSQL than the local client reads):
  ``VerificationUnavailable`` - no verdict; the message says what is missing.

The part's type decides what its file must be (``verify_read``): a DATABASE part a database dump (``pg_custom`` or
``sql``), a STORAGE part a media archive (``tar_gzip`` or ``tar``); anything else is ``VerificationFailed`` naming
what was found. What ``read`` then checks, per format, within ``ReadLimits`` (time, expanded bytes, members; a bound
reached is ``VerificationUnavailable``, "could not verify"):
- ``pg_custom`` (starts with ``PGDMP``): ``pg_restore -f /dev/null`` reads every data block (``--list`` reads
  only the table of contents and passes on a dump cut short); and the archive's creation time (its header,
  written in the dump host's time zone, taken as UTC) lies within the part's start and end, give or take
  ``CREATION_TIME_SLACK`` - a stale or foreign dump is caught.
- ``sql``: pg_dump's or mysqldump's header (with its version line and a statement after it) and its closing
  line (``-- PostgreSQL database dump complete``, ``-- Dump completed``) near the end.
- ``tar_gzip``: the whole gzip stream to its end, where its CRC and length are checked (``tarfile`` lists
  the members of an archive with a flipped byte without noticing), and every tar member header.
- ``tar``: every tar member header (its checksum and size) to the two end-of-archive blocks, by a walker of our
  own that keeps no member list (``tarfile`` keeps every member) and reads at most MAX_METADATA_BYTES of a
  long-name or pax header.
No Ansible imports.
"""

import datetime
import gzip
import os
import re
import time
import zlib

from ansible_collections.divio.cloud.plugins.module_utils import processes
from ansible_collections.divio.cloud.plugins.module_utils.deadline import Deadline
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    InputError,
    VerificationFailed,
    VerificationUnavailable,
    excerpt,
)
from ansible_collections.divio.cloud.plugins.module_utils.scratch import (
    CLIENT_PACKAGE_HINT,
    MIN_RESTORE_BYTES,
    RESTORE_BYTES_PER_DUMP_BYTE,
    postgres_tool,
    restore_into_scratch,
    show_bytes,
    tool_version,
)
from ansible_collections.divio.cloud.plugins.module_utils.values import (
    check_seconds,
    parse_count,
    parse_timestamp,
    writable_directory,
)

CREATION_TIME_SLACK = datetime.timedelta(minutes=10)
READ_CHUNK = 1024 * 1024
EXTENSIONS = {"pg_custom": "dump", "sql": "sql", "tar_gzip": "tar.gz", "tar": "tar", "unknown": "bin"}
_UTC = datetime.timezone.utc

# The bounds of one read (see ReadLimits and the "Restore proof" guide for why these defaults).
DEFAULT_VERIFY_TIMEOUT = 600
MAX_VERIFY_TIMEOUT = 7 * 86400
EXPANSION_RATIO = 100
MIN_EXPANDED_BYTES = 1024 ** 3
DEFAULT_MAX_MEMBERS = 10 ** 7
MAX_METADATA_BYTES = 256 * 1024


class ReadLimits:
    """The bounds of one ``read``; each option checked (``InputError`` naming the value).

    - ``timeout`` (``verify_timeout``): seconds a read may take, pg_restore's included. 600: a media archive is read
      at about 300 MB/s uncompressed (one core, tests/benchmark/verify_hostile.py), so ten minutes read well over
      100 GB, while a task that hangs on a hostile file still ends in minutes.
    - ``max_expanded_bytes``: the most bytes a media archive may hold uncompressed; None: EXPANSION_RATIO (100) times
      the file's size, at least MIN_EXPANDED_BYTES (1 GiB). Media (images, PDFs) is compressed already and expands
      little; only a crafted stream (a gzip bomb, up to ~1,000-fold) expands 100-fold.
    - ``max_members``: the most members a tar may hold. Memory does not grow with members (no member list is kept);
      the bound stops an archive of millions of empty members early, with a count a user can compare with the files
      the site has."""

    def __init__(self, timeout=DEFAULT_VERIFY_TIMEOUT, max_expanded_bytes=None, max_members=DEFAULT_MAX_MEMBERS):
        self.timeout = check_seconds("verify_timeout", timeout, MAX_VERIFY_TIMEOUT)
        if max_expanded_bytes is not None:
            parse_count("max_expanded_bytes", max_expanded_bytes, "bytes")
        self.max_expanded_bytes = max_expanded_bytes
        self.max_members = parse_count("max_members", max_members, "members")

    def expanded_bound(self, size):
        """``(bytes, the bound's name)`` for a file of ``size`` bytes."""
        if self.max_expanded_bytes is not None:
            return self.max_expanded_bytes, "max_expanded_bytes"
        return max(EXPANSION_RATIO * size, MIN_EXPANDED_BYTES), (
            "max_expanded_bytes (default: %d times the file's %d bytes, at least 1 GiB)" % (EXPANSION_RATIO, size))


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
        return processes.run(command, Deadline(timeout), env=dict(os.environ, LC_ALL="C", LANG="C"))
    except processes.TimeoutExpired:
        raise VerificationUnavailable("could not verify: %s did not finish within verify_timeout (%g s); no verdict." % (
            what, timeout)) from None
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

# The header and closing lines each tool writes (pg_dump in every plain dump; mysqldump unless --skip-comments).
SQL_DUMPS = (
    ("pg_dump", re.compile(r"^-- PostgreSQL database dump\r?$", re.M), re.compile(r"^-- Dumped by pg_dump version ", re.M),
     re.compile(r"^-- PostgreSQL database dump complete\r?$", re.M), "-- PostgreSQL database dump complete"),
    ("mysqldump", re.compile(r"\A\s*-- (MySQL|MariaDB) dump ", re.M), re.compile(r"^-- Server version\s", re.M),
     re.compile(r"^-- Dump completed", re.M), "-- Dump completed"),
)
SQL_WINDOW = 8192


def verify_sql(path):
    """A pg_dump or mysqldump text dump: its tool's header, a statement after it, and its closing line near the end
    (the middle is not read: plain SQL has no checksum to read it against)."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        head = handle.read(SQL_WINDOW).decode("utf-8", "replace")
        tail_at = max(0, size - SQL_WINDOW)
        handle.seek(tail_at)
        tail = handle.read().decode("utf-8", "replace")
    for tool, title, version, closing, closing_text in SQL_DUMPS:
        started, named = title.search(head), version.search(head)
        if not started:
            continue
        if not named or ";" not in head[named.end():]:
            raise VerificationFailed("the %s file is %d bytes and its header stops before the first statement: not a "
                                     "whole %s dump" % (tool, size, tool))
        ends = [match for match in closing.finditer(tail) if tail_at + match.start() > named.end()]
        if not ends:
            raise VerificationFailed("the %s file has no closing '%s' line: it was cut short" % (tool, closing_text))
        return ["%s header and its closing '%s' line" % (tool, closing_text)], {}
    raise VerificationFailed("the SQL text (%d bytes) is no pg_dump or mysqldump dump: it starts with %r, not with "
                             "either tool's header" % (size, head[:40]))


# -- media archives ------------------------------------------------------------------------------

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
METADATA_TYPES = {b"L": "GNU long-name", b"K": "GNU long-link", b"x": "pax", b"g": "pax global"}
NO_DATA_TYPES = b"123456"  # links, devices, directories, FIFOs: their size field says no data follows


class _Stream:
    """A file or its gzip stream, pulled in pieces of READ_CHUNK and each piece counted against the read's bounds:
    past the deadline or the expanded-bytes bound, ``VerificationUnavailable``. ``offset``: bytes consumed."""

    def __init__(self, handle, limits, size):
        self.handle, self.limits = handle, limits
        self.deadline = Deadline(limits.timeout)
        self.bound, self.bound_name = limits.expanded_bound(size)
        self.buffer, self.position = b"", 0
        self.offset = self.pulled = self.members = 0

    def _pull(self, count):
        if self.deadline.passed():
            raise self.stop("it did not finish within verify_timeout (%g s)" % self.limits.timeout)
        try:
            data = self.handle.read(count)
        except (OSError, EOFError, zlib.error) as exc:
            raise VerificationFailed("the gzip stream is broken %d bytes in (uncompressed): %s" % (
                self.pulled, excerpt(str(exc) or type(exc).__name__, 200))) from None
        self.pulled += len(data)
        if self.pulled > self.bound:
            raise self.stop("the archive holds more than %d bytes uncompressed, the bound of %s" % (
                self.bound, self.bound_name))
        return data

    def read(self, count):
        """``count`` (at most READ_CHUNK) bytes; fewer only at the end of the stream."""
        while self.position + count > len(self.buffer):
            more = self._pull(READ_CHUNK)
            if not more:
                break
            self.buffer, self.position = self.buffer[self.position:] + more, 0
        data = self.buffer[self.position:self.position + count]
        self.position += len(data)
        self.offset += len(data)
        return data

    def skip(self, count):
        """Read ``count`` bytes and drop them; False when the stream ends first."""
        buffered = min(count, len(self.buffer) - self.position)
        self.position += buffered
        self.offset += buffered
        count -= buffered
        while count > 0:
            data = self._pull(min(count, READ_CHUNK))
            if not data:
                return False
            self.offset += len(data)
            count -= len(data)
        return True

    def drain(self):
        """The rest of the stream, read and dropped (for a gzip stream: to its CRC and length)."""
        self.buffer, self.position = b"", 0
        while self._pull(READ_CHUNK):
            pass

    def stop(self, why):
        return VerificationUnavailable("could not verify: %s (%s, %d bytes read); no verdict." % (
            why, _members(self.members), self.pulled))


def _members(count):
    return "1 member" if count == 1 else "%d members" % count


def _tar_number(field, what, offset):
    """A tar header's numeric field: octal digits (NUL or space ended), or GNU's base-256 for big values."""
    if field[:1] in (b"\x80", b"\xff"):
        value = int.from_bytes(field[1:], "big")
        return value - 256 ** (len(field) - 1) if field[:1] == b"\xff" else value
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text or b"0", 8)
    except ValueError:
        raise VerificationFailed("the tar header at byte %d has a %s field that is no number (%r)" % (
            offset, what, field)) from None


def _check_header(header, offset):
    """A member header's checksum (unsigned, or signed as old tars wrote it), and its size."""
    stored = _tar_number(header[148:156], "checksum", offset)
    unsigned = 256 + sum(header) - sum(header[148:156])  # the checksum field counted as eight spaces
    if stored != unsigned and stored != unsigned - 256 * sum(byte > 127 for byte in header[:148] + header[156:]):
        raise VerificationFailed("the tar header at byte %d has a wrong checksum (%d, its bytes sum to %d): the "
                                 "archive is damaged" % (offset, stored, unsigned))
    size = _tar_number(header[124:136], "size", offset)
    if size < 0:
        raise VerificationFailed("the tar header at byte %d gives a negative size (%d)" % (offset, size))
    return size


def _pax_size(data, offset):
    """The ``size`` record of a pax extended header (records ``<length> <key>=<value>\\n``), or None."""
    size, position = None, 0
    while position < len(data) and data[position:position + 1] != b"\0":
        space = data.find(b" ", position, position + 20)
        length = data[position:space] if space > position else b""
        end = position + int(length) if length.isdigit() else -1
        record = data[position:end] if space < end <= len(data) else b""
        if not record.endswith(b"\n") or b"=" not in record:
            raise VerificationFailed("the pax header at byte %d holds a malformed record at byte %d" % (offset, position))
        key, _eq, value = data[space + 1:end - 1].partition(b"=")
        if key == b"size":
            if not value.isdigit():
                raise VerificationFailed("the pax header at byte %d gives a size that is no number (%r)" % (offset, value[:40]))
            size = int(value)
        position = end
    return size


def _padded(size):
    return -(-size // BLOCK) * BLOCK


def walk_tar(stream):
    """Every member header of a tar stream, to its two end-of-archive zero blocks, keeping no member list; returns
    ``(members, data bytes)``. A cut or damaged archive is ``VerificationFailed``, a bound ``VerificationUnavailable``."""
    data_bytes, next_size = 0, None
    while True:
        offset = stream.offset
        header = stream.read(BLOCK)
        if len(header) < BLOCK:
            raise VerificationFailed("the tar archive ends %s after %s, without its end-of-archive blocks: it was cut "
                                     "short" % ("inside a member header" if header else "at a member boundary",
                                                _members(stream.members)))
        if header == ZERO_BLOCK:
            if stream.read(BLOCK) != ZERO_BLOCK:
                raise VerificationFailed("the tar archive has a single zero block at byte %d after %s, not the two that "
                                         "end an archive: it was cut short or damaged" % (offset, _members(stream.members)))
            return stream.members, data_bytes
        size, kind = _check_header(header, offset), header[156:157]
        if kind in METADATA_TYPES:  # describes the next member; a pax size is the next member's size
            pax_size = _read_metadata(stream, kind, size, offset)
            next_size = pax_size if pax_size is not None else next_size
            continue
        size, next_size = (next_size if next_size is not None else size), None
        stream.members += 1
        if stream.members > stream.limits.max_members:
            raise stream.stop("the archive holds more than %d members, the bound of max_members" % stream.limits.max_members)
        if kind == b"S" and header[482]:
            _skip_sparse_extensions(stream, offset)
        if kind and kind in NO_DATA_TYPES:
            continue
        data_bytes += size
        if not stream.skip(_padded(size)):
            raise VerificationFailed("the tar archive ends inside the data of member %d (header at byte %d): it was cut "
                                     "short" % (stream.members, offset))


def _read_metadata(stream, kind, size, offset):
    """A GNU long-name/long-link or pax header's data, at most MAX_METADATA_BYTES; the pax ``size`` it sets, if any."""
    what = METADATA_TYPES[kind]
    if size > MAX_METADATA_BYTES:
        raise stream.stop("a %s header at byte %d is %d bytes long, more than the %d read" % (
            what, offset, size, MAX_METADATA_BYTES))
    pieces, left = [], _padded(size)
    while left:
        piece = stream.read(min(left, READ_CHUNK))
        if not piece:
            raise VerificationFailed("the tar archive ends inside a %s header (at byte %d): it was cut short" % (what, offset))
        pieces.append(piece)
        left -= len(piece)
    return _pax_size(b"".join(pieces)[:size], offset) if kind == b"x" else None


def _skip_sparse_extensions(stream, offset):
    """The extension blocks an old GNU sparse header announces (each says whether another follows)."""
    while True:
        block = stream.read(BLOCK)
        if len(block) < BLOCK:
            raise VerificationFailed("the tar archive ends inside the sparse map of the member at byte %d" % offset)
        if not block[504]:
            return


def verify_tar(path, compressed, limits):
    """Read a media archive whole: every member header (checksum, size) to the end-of-archive blocks, and for
    ``tar_gzip`` the gzip stream to its end, where its CRC and length are checked. Bounded by ``limits``."""
    size = os.path.getsize(path)
    with (gzip.open(path, "rb") if compressed else open(path, "rb")) as handle:
        stream = _Stream(handle, limits, size)
        members, data_bytes = walk_tar(stream)
        stream.drain()  # what follows the end blocks (zero padding), to the gzip CRC
    checks = []
    if compressed:
        checks.append("the whole gzip stream, %d bytes uncompressed, to its CRC and length" % stream.pulled)
    checks.append("every tar member header and its checksum, to the end-of-archive blocks (%d members, %d bytes)"
                  % (members, data_bytes))
    return checks, {"members": members}


# -- which reader ---------------------------------------------------------------------------------

READERS = {"DATABASE": ("pg_custom", "sql"), "STORAGE": ("tar_gzip", "tar")}
EXPECTED = {"DATABASE": "a database dump (a pg_dump custom-format archive, or a pg_dump or mysqldump SQL text)",
            "STORAGE": "a media archive (a tar archive, gzip-compressed or not)"}
FOUND = {"pg_custom": "a pg_dump custom-format archive", "sql": "SQL text", "tar_gzip": "gzip-compressed data",
         "tar": "a tar archive", "unknown": "in no format a backup part comes in"}


def verify_read(path, fmt, part, limits=None):
    """``(checks, details)`` of a ``read`` verification; raises ``VerificationFailed`` / ``VerificationUnavailable``.

    The part's ``service_type`` decides what the file must be: a DATABASE part a database dump, a STORAGE part a media
    archive; ``fmt`` (``sniff``) only says which of those readers reads it. ``limits``: a ``ReadLimits``."""
    limits = limits or ReadLimits()
    kind = part.get("service_type")
    if kind not in READERS:
        raise VerificationUnavailable("could not verify: the part's service type %r is neither DATABASE nor STORAGE, "
                                      "and no reader is known for it; no verdict." % (kind,))
    if fmt not in READERS[kind]:
        with open(path, "rb") as handle:
            head = handle.read(16)
        raise VerificationFailed("a %s part must be %s; this file is %s (%d bytes, starting with %r)" % (
            kind, EXPECTED[kind], FOUND.get(fmt, fmt), os.path.getsize(path), head))
    if fmt == "pg_custom":
        return verify_pg_custom(path, part, limits.timeout)
    if fmt == "sql":
        return verify_sql(path)
    return verify_tar(path, fmt == "tar_gzip", limits)


def restore_bounds(max_restore_bytes, scratch_dir):
    """``verify: restore``'s ``(max_restore_bytes or None, scratch_dir or None)``, checked."""
    if max_restore_bytes is not None and (isinstance(max_restore_bytes, bool) or not isinstance(max_restore_bytes, int)
                                          or max_restore_bytes < 1):
        raise InputError("max_restore_bytes %r is not valid: expected a whole number of bytes of at least 1 (or none: %d "
                         "times the dump's size, at least %s)." % (max_restore_bytes, RESTORE_BYTES_PER_DUMP_BYTE,
                                                                   show_bytes(MIN_RESTORE_BYTES)))
    if scratch_dir is None:
        return max_restore_bytes, None
    return max_restore_bytes, writable_directory("scratch_dir", scratch_dir)


# -- the verify dispatcher -----------------------------------------------------------------------------------

def verify_file(path, fmt, part, level, timeout, limits=None, scratch_dir=None, max_restore_bytes=None):
    """A ``verification`` dict for one file, or raises ``VerificationFailed`` / ``VerificationUnavailable``.
    ``timeout``: restore_timeout (the whole of ``restore``); ``limits``: the read's ``ReadLimits``; ``scratch_dir``,
    ``max_restore_bytes``: where ``verify: restore``'s scratch server lives, and the most disk it may take (None: the
    temp directory; scratch.default_max_bytes)."""
    started = time.monotonic()
    if level == "none":
        return {"level": "none", "best_level": "none", "checks": [], "reason": None}
    deadline = Deadline(timeout)
    checks, details = verify_read(path, fmt, part, limits)
    best = "read"
    restorable = fmt == "pg_custom" or (fmt == "sql" and "pg_dump" in " ".join(checks))
    if level == "restore" and restorable:
        left = deadline.remaining()
        if left <= 0:
            raise VerificationUnavailable("verify: restore: restore_timeout (%g s) passed while the dump was read; no "
                                          "verdict." % timeout)
        restored = restore_into_scratch(path, fmt, left, base=scratch_dir, max_bytes=max_restore_bytes)
        checks.append(restored.pop("check"))
        details.update(restored)
        best = "restore"
    elif level == "restore":
        details["note"] = "a %s part cannot be restored into PostgreSQL; it was verified by reading it" % fmt
    verification = {"level": best, "best_level": "restore" if restorable else "read", "checks": checks, "reason": None}
    verification.update(details)
    verification["seconds"] = round(time.monotonic() - started, 3)
    return verification
