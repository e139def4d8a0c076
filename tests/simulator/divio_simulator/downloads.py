"""Backup downloads (divio-cli ``app pull db`` / ``pull media``) and the object storage that serves their files.

The API side, as divio-cli 4.0.5 uses it (divio-api.md, "Downloads"):

- ``POST /apps/v3/backup-downloads/`` ``{"backup", "service_instance_backups": [<part>], "trigger": "PULL"}`` makes a
  download (``uuid, backup, service_instance_backups, trigger, created_at``) and one *download part* per part;
- ``GET /apps/v3/backup-download-service-instances/?backup=<download uuid>`` lists those parts (the filter is
  called ``backup`` but takes the download's id); ``.../<uuid>/`` reads one, with or without the trailing
  slash (divio-cli asks without). A part is ready ``duration_seconds`` after it was made: ``ended_at`` and a
  presigned ``download_url`` are set, or ``errors``.

The files come from an *origin* on a second loopback port (object storage: another origin than the API), at
``/objects/<key>?X-Amz-Expires=3600&X-Amz-Signature=<hex>``; a wrong or missing signature is a 403, as S3 says
it. A *third* origin on another port serves the same files for the redirect faults. Both record, per request,
its method and whether an ``Authorization`` or ``Cookie`` header arrived (``Storage.requests()``): neither
belongs there. The API answers the download POST with a session cookie, so a client that sends the API's cookies
on gets caught. The main origin also takes the ``PUT`` of backup uploads (uploads.py).

What a part's file holds, by the service instance behind it: a PostgreSQL database (``postgres-*``) a
custom-format dump (the fixture ``fixtures/shop.pgdump``, made by ``fixtures/make.py`` with pg_dump), its header
dated to the part's ``taken_at`` as if dumped then; a MySQL database a plain SQL dump in mysqldump's shape; a
storage instance a media ``.tar.gz`` (a few files of seeded random bytes), served with ``Content-Encoding:
gzip`` the way object storage serves a gzip object (divio-cli names the file ``data.tar.gz`` by that header).
Creating a download sets the service-instance backup's ``size`` to its file's size, as the platform
reports the size of what it stored.

Faults (setting ``downloads={"fault": KIND}``; every part of downloads made while it is set):

- ``truncated``: the dump cut at 70 % at the source; ``size`` says the cut size, so only reading it finds it;
- ``gzip-flip``: one byte flipped inside the gzip stream of a media archive (inside a stored block, so the
  tar headers still list; only the gzip CRC at the end of the stream catches it);
- ``stale-dump``: a dump whose header says it was made 30 days before its backup;
- ``newer-postgres``: a dump in the archive format of PostgreSQL 16 (1.15), which pg_restore 15 cannot read;
- ``part-errors``: the download part ends with ``errors`` and no URL;
- ``never-ready``: the download part never ends (it stays without ``ended_at``);
- ``stall``: the origin sends the headers and half the file, then nothing for ``stall_seconds`` (default 30;
  bounded, and cut short when the simulator stops), then closes;
- ``redirect``: the origin redirects (302) to the third origin, which serves the file;
- ``redirect-loop``: the two origins redirect to each other without end (each hop a new URL).
"""

import contextlib
import datetime
import gzip
import hashlib
import io
import os
import random
import struct
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from .jobs import _iso, _parse, invalid_backup_parts

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
PG_DUMP_FIXTURE = os.path.join(FIXTURES, "shop.pgdump")
FAULTS = ("truncated", "gzip-flip", "stale-dump", "newer-postgres", "part-errors", "never-ready", "stall", "redirect",
          "redirect-loop")
DEFAULTS = {"duration_seconds": 1.0, "fault": None, "stall_seconds": 30.0}
MAX_STALL_SECONDS = 600
DOWNLOADS_PATH = "/apps/v3/backup-downloads/"
PARTS_PATH = "/apps/v3/backup-download-service-instances/"
# Resources whose detail divio-cli reads without the trailing slash; the server answers both forms.
SLASHLESS_DETAILS = ("backup_download_service_instances",)
SESSION_COOKIE = "sessionid"


def download_settings(value):
    """Validated ``downloads`` settings over the defaults; raises ValueError."""
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise ValueError("downloads must be an object of settings")
    unknown = sorted(set(value) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown downloads setting(s): {', '.join(unknown)}")
    settings = dict(DEFAULTS, **value)
    for key, top in (("duration_seconds", 3600), ("stall_seconds", MAX_STALL_SECONDS)):
        number = settings[key]
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number <= top:
            raise ValueError(f"downloads.{key} must be a number from 0 to {top}")
    if settings["fault"] is not None and settings["fault"] not in FAULTS:
        raise ValueError(f"downloads.fault must be null or one of {', '.join(FAULTS)}")
    return settings


# -- the files ---------------------------------------------------------------------------------------

def _pg_int(value):
    """An int as pg_dump writes one with intSize 4: a sign byte, then the magnitude, little-endian."""
    return bytes([1 if value < 0 else 0]) + struct.pack("<I", abs(value))


def pg_dump_dated(moment, version_minor=14):
    """The fixture dump with its header's creation time set to ``moment`` (aware; written as UTC, the dump
    host's zone). ``version_minor`` 15 rewrites the header into PostgreSQL 16's archive format 1.15."""
    with open(PG_DUMP_FIXTURE, "rb") as handle:
        data = handle.read()
    if data[:5] != b"PGDMP" or data[5:7] != b"\x01\x0e" or data[8] != 4:
        raise RuntimeError("%s is not a pg_dump 1.14 archive with 4-byte ints: run fixtures/make.py" % PG_DUMP_FIXTURE)
    moment = moment.astimezone(datetime.timezone.utc)
    stamp = b"".join(_pg_int(v) for v in (moment.second, moment.minute, moment.hour, moment.day, moment.month - 1,
                                          moment.year - 1900, 0))
    head = data[:11]  # magic, version (3), intSize, offSize, format
    compression = data[11:16]
    rest = data[16 + len(stamp):]
    if version_minor >= 15:
        # 1.15 keeps the compression algorithm in one byte (1: gzip) instead of a level as an int.
        head = head[:6] + bytes([version_minor]) + head[7:]
        compression = b"\x01"
    return head + compression + stamp + rest


def mysql_dump(part, moment):
    """A plain SQL dump in mysqldump's shape, ending with its ``-- Dump completed`` line."""
    rng = random.Random("mysql/" + part["uuid"])
    lines = ["-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)", "--", "-- Host: db    Database: app",
             "-- ------------------------------------------------------", "-- Server version\t8.0.36", "",
             "DROP TABLE IF EXISTS `customer`;",
             "CREATE TABLE `customer` (`id` int NOT NULL, `email` varchar(200) NOT NULL, PRIMARY KEY (`id`));",
             "LOCK TABLES `customer` WRITE;"]
    rows = ",".join("(%d,'customer%d@example.com')" % (i, rng.randrange(10 ** 6)) for i in range(1, 301))
    lines += ["INSERT INTO `customer` VALUES %s;" % rows, "UNLOCK TABLES;", "",
              "-- Dump completed on %s" % moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"), ""]
    return "\n".join(lines).encode()


def media_archive(part):
    """A media ``.tar.gz``: a few files of seeded random bytes (incompressible: the gzip stream stores them)."""
    rng = random.Random("media/" + part["uuid"])
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        # Entries at the root, as divio-cli packs media for push and unpacks it into data/media on pull.
        for name, size in (("images/logo.png", 24000), ("uploads/report.pdf", 60000), ("uploads/notes.txt", 900)):
            body = bytes(rng.getrandbits(8) for _byte in range(size))
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = size, 1700000000, 0o644
            tar.addfile(info, io.BytesIO(body))
    return gzip.compress(raw.getvalue(), mtime=0)


def flip_inside_gzip(data):
    """``data`` with one byte flipped in the middle of the gzip stream (inside a stored block of file bytes)."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x55]) + data[middle + 1:]


def part_file(dataset, part, fault):
    """``(bytes, headers)`` of the file a service-instance backup's download serves, with ``fault`` applied."""
    instance = dataset.by_uuid["service_instances"].get(part.get("service_instance")) or {}
    moment = _parse(part.get("taken_at") or part.get("started_at") or part.get("ended_at")) or dataset.clock()
    if instance.get("type") == "STORAGE":
        data = media_archive(part)
        if fault == "gzip-flip":
            data = flip_inside_gzip(data)
        return data, {"Content-Type": "application/x-tar", "Content-Encoding": "gzip"}
    if str(instance.get("service") or "").startswith("mysql"):
        data = mysql_dump(part, moment)
        if fault == "truncated":
            data = data[:int(len(data) * 0.7)]
        return data, {"Content-Type": "application/sql"}
    if fault == "stale-dump":
        moment -= datetime.timedelta(days=30)
    data = pg_dump_dated(moment, 15 if fault == "newer-postgres" else 14)
    if fault == "truncated":
        data = data[:int(len(data) * 0.7)]
    return data, {"Content-Type": "application/octet-stream"}


# -- the API side ------------------------------------------------------------------------------------

class DownloadJobs:
    """Downloads and their parts (``parts``), brought up to date before every request."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.downloads = {}
        self.parts = {}  # download part uuid -> record, in creation order
        self.files = {}  # object key -> (bytes, headers, fault)
        self._pending = []  # (ready at monotonic, download part, source part, fault)
        self._lock = threading.Lock()
        self._rng = random.Random("backup-downloads")
        self.origin_url = None  # set by the server once the origins listen
        self.third_url = None

    def validate(self, body):
        """The DRF-style 400 body for a bad request, or None."""
        if not isinstance(body, dict):
            return {"non_field_errors": ["Invalid data. Expected a dictionary."]}
        return invalid_backup_parts(self.dataset, body.get("backup"), body.get("service_instance_backups"),
                                    "service_instance_backups", "Service instance backup %s has no data to download.")

    def create(self, body, settings):
        now = self.dataset.clock()
        with self._lock:
            download = {"uuid": self.dataset.new_id(self._rng), "backup": body["backup"],
                        "service_instance_backups": list(body["service_instance_backups"]),
                        "trigger": body.get("trigger") or "PULL", "created_at": _iso(now)}
            self.downloads[download["uuid"]] = download
            for part_uuid in download["service_instance_backups"]:
                source = self.dataset.by_uuid["service_instance_backups"][part_uuid]
                record = {"uuid": self.dataset.new_id(self._rng), "backup": download["uuid"],
                          "service_instance_backup": part_uuid, "service_instance": source["service_instance"],
                          "started_at": _iso(now), "ended_at": None, "download_url": None, "errors": []}
                self.parts[record["uuid"]] = record
                # The platform reports the size of what it stored: the size of the file this part's downloads serve.
                if "size" in source:  # a part that never says its size keeps saying nothing
                    source["size"] = len(part_file(self.dataset, source, settings["fault"])[0])
                self._pending.append((time.monotonic() + settings["duration_seconds"], record, source, settings["fault"]))
        return download

    def advance(self):
        """Finish the download parts whose time has come."""
        if not self._pending:
            return
        with self._lock:
            still = []
            for ready_at, record, source, fault in self._pending:
                if fault == "never-ready" or time.monotonic() < ready_at:
                    still.append((ready_at, record, source, fault))
                    continue
                record["ended_at"] = _iso(self.dataset.clock())
                if fault == "part-errors":
                    record["errors"] = ["Could not copy the backup to the download bucket: SlowDown (503)."]
                    continue
                data, headers = part_file(self.dataset, source, fault)
                key = self.dataset.new_id(self._rng)
                self.files[key] = (data, headers, fault)
                record["download_url"] = "%s/objects/%s?X-Amz-Expires=3600&X-Amz-Signature=%s" % (
                    self.origin_url, key, signature(key))
            self._pending = still

    def list_parts(self, download_uuid):
        return [p for p in self.parts.values() if not download_uuid or p["backup"] == download_uuid]


def signature(key):
    return hashlib.sha256(("presigned:" + key).encode()).hexdigest()


class DownloadHandlers:
    """Request handlers for the download endpoints, mixed into the server's handler."""

    def _create_download(self, resource, key, body):
        sim = self.simulator
        data = self._json_body(body)
        errors = sim.download_jobs.validate(data) if isinstance(data, dict) else None
        if isinstance(data, dict) and not errors:
            download = sim.download_jobs.create(data, sim.downloads)
            # A session cookie, as a Django site sets one: it must never travel on to the object storage.
            cookie = "%s=%s; Path=/; HttpOnly" % (SESSION_COOKIE, signature(download["uuid"])[:32])
            self._send_json(201, download, {"Set-Cookie": cookie})
            return
        self._create(sim.download_jobs, data, sim.downloads)  # the 400 answers, the same way as other POSTs

    def _get_download(self, resource, key, body):
        self._send_found(self.simulator.download_jobs.downloads.get(key))

    def _list_downloads(self, resource, key, body):
        self._send_page(list(self.simulator.download_jobs.downloads.values()))

    def _get_download_part(self, resource, key, body):
        self._send_found(self.simulator.download_jobs.parts.get(key))

    def _list_download_parts(self, resource, key, body):
        values = self.query.get("backup")
        self._send_page(self.simulator.download_jobs.list_parts(values[-1] if values else ""))

    def _send_found(self, record):
        if record is None:
            self._send_json(404, {"detail": "Not found."})
        else:
            self._send_json(200, record)


HANDLERS = {
    ("backup_downloads", "list", "POST"): "_create_download",
    ("backup_downloads", "list", "GET"): "_list_downloads",
    ("backup_downloads", "detail", "GET"): "_get_download",
    ("backup_download_service_instances", "list", "GET"): "_list_download_parts",
    ("backup_download_service_instances", "detail", "GET"): "_get_download_part",
}


# -- the object storage ------------------------------------------------------------------------------

class _OriginHandler(BaseHTTPRequestHandler):
    origin = None  # type: Origin
    protocol_version = "HTTP/1.1"
    server_version = "SimulatedObjectStorage/1.0"
    sys_version = ""
    timeout = 60

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        origin = self.origin
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        origin.record(self.command, self.path, self.headers)
        key = parts.path[len("/objects/"):] if parts.path.startswith("/objects/") else ""
        found = origin.jobs.files.get(key)
        if self.headers.get("Authorization") is not None:  # as S3 answers two auth mechanisms in one request
            self._send(400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the "
                       b"X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header "
                       b"should be specified</Message></Error>", {"Content-Type": "application/xml"})
            return
        if found is None or query.get("X-Amz-Signature", [""])[-1] != signature(key):
            self._send(403 if found is not None else 404, b"<Error><Code>AccessDenied</Code></Error>",
                       {"Content-Type": "application/xml"})
            return
        data, headers, fault = found
        hop = int(query.get("hop", ["0"])[-1] or 0)
        if fault == "redirect-loop" or (fault == "redirect" and origin is origin.jobs_origin):
            target = origin.other_url() if fault == "redirect-loop" else origin.jobs.third_url
            self._send(302, b"", {"Location": "%s/objects/%s?X-Amz-Expires=3600&X-Amz-Signature=%s&hop=%d" % (
                target, key, signature(key), hop + 1), "Set-Cookie": "AWSALB=%s; Path=/" % signature(key)[:16]})
            return
        if fault == "stall":
            self._send_headers(200, dict(headers, **{"Content-Length": str(len(data))}))
            with contextlib.suppress(OSError):
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
            origin.stopping.wait(origin.settings()["stall_seconds"])
            self.close_connection = True
            return
        self._send(200, data, headers)

    def do_PUT(self):
        """An upload to a presigned URL (uploads.py); the third origin takes none."""
        self.origin.record(self.command, self.path, self.headers)
        uploads = self.origin.uploads if self.origin is self.origin.jobs_origin else None
        if uploads is None:
            self.drain_small_body()
            self.close_connection = True
            self._send(405, b"<Error><Code>MethodNotAllowed</Code></Error>", {"Content-Type": "application/xml"})
            return
        uploads.receive(self)

    def drain_small_body(self, limit=64 * 1024):
        """Read and drop a request body of at most ``limit`` bytes (by Content-Length, or chunked) before a refusal,
        so a client still sending it reads the answer instead of a broken pipe; a larger one is not read (the
        connection closes under it, as S3's does). Bounded in time too."""
        length = self.headers.get("Content-Length")
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        with contextlib.suppress(OSError, ValueError):
            self.connection.settimeout(5)
            if length is not None and length.isdigit() and int(length) <= limit:
                self.rfile.read(int(length))
            elif length is None and chunked:
                total = 0
                while total <= limit:
                    size = int(self.rfile.readline(100).split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):  # trailers, then the end
                            pass
                        return
                    self.rfile.read(size + 2)  # the chunk and its CRLF
                    total += size

    def _send_headers(self, status, headers):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:  # say so, or the client may send its next request on a socket being closed
            self.send_header("Connection", "close")
        self.end_headers()

    def _send(self, status, data, headers):
        self._send_headers(status, dict(headers, **{"Content-Length": str(len(data))}))
        with contextlib.suppress(OSError):
            self.wfile.write(data)


class Origin:
    """One loopback HTTP server in front of ``jobs.files``; ``requests`` lists what reached it."""

    def __init__(self, jobs, settings, server_class, host="127.0.0.1"):
        self.jobs = jobs
        self.settings = settings  # a callable: the simulator's current downloads settings
        self.jobs_origin = None  # the origin download URLs name (the other one is the redirect target)
        self.uploads = None  # what takes PUTs to upload URLs (uploads.UploadJobs), set by the server
        self.peer = None
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.requests = []
        handler = type("OriginHandler", (_OriginHandler,), {"origin": self})
        self._httpd = server_class((host, 0), handler)
        self.url = "http://%s:%d" % (host, self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="divio-simulator-origin", daemon=True)

    def other_url(self):
        return self.peer.url

    def record(self, method, path, headers):
        with self._lock:
            self.requests.append({"method": method, "path": urlsplit(path).path, "authorization": headers.get("Authorization") is not None,
                                  "cookie": headers.get("Cookie"), "user_agent": headers.get("User-Agent")})

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class Storage:
    """The two origins of one simulator: where download URLs point, and the third origin redirects go to."""

    def __init__(self, jobs, settings, server_class, host="127.0.0.1"):
        self.main = Origin(jobs, settings, server_class, host)
        self.third = Origin(jobs, settings, server_class, host)
        for origin in (self.main, self.third):
            origin.jobs_origin = self.main
        self.main.peer, self.third.peer = self.third, self.main
        jobs.origin_url, jobs.third_url = self.main.url, self.third.url

    def start(self):
        self.main.start()
        self.third.start()
        return self

    def stop(self):
        self.main.stop()
        self.third.stop()

    def requests(self):
        """Every request the origins received, oldest first per origin, each with its ``origin`` (main/third)."""
        return [dict(r, origin=name) for name, origin in (("main", self.main), ("third", self.third))
                for r in list(origin.requests)]
