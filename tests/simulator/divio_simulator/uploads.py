"""Backup uploads (divio-cli ``app push db`` / ``push media``), through the ``exo-presigned-v1`` handler.

As divio-cli 4.0.5 uses them (divio-api.md, "Restores and uploads"):

- ``POST /apps/v3/backups/upload/`` ``{"environment", "services": [<service instance>], "notes",
  "scheduled_for_deletion_at"}`` makes a backup (``NEW``, one part per service instance) and answers
  ``{"uuid": <backup>, "results": {<service instance>: {"handler": "exo-presigned-v1", "upload_parameters":
  {"url", "http_method": "PUT", "max_file_size"}, "finish_url"}}}``;
- the file goes to ``url`` with a plain ``PUT`` on the object storage origin (downloads.Storage's main origin),
  a presigned URL in Exoscale SOS's shape (``AWSAccessKeyId``, ``Signature``, ``Expires``);
- ``POST <finish_url>`` (no authentication: the URL is signed) says the part's file is in. Once every part's
  file is in, the backup runs like any other (jobs.py): ``WORKING``, then ``COMPLETED``, each part's ``size``
  the size of its file. divio-cli then restores it through backup-restores (restores.py).

The object storage answers a PUT the way S3-compatible storage does: a wrong signature is a 403
``SignatureDoesNotMatch``, an expired URL a 403 ``AccessDenied``, an ``Authorization`` header next to the query
signature a 400 ``InvalidArgument`` (one auth mechanism only), a body without ``Content-Length`` a 411, and one
larger than ``max_file_size`` a 400 ``EntityTooLarge``, refused by its Content-Length (a body of up to 64 KiB
is read and dropped first, so the client gets the answer; a larger one is not read). Files are kept in
memory, so ``max_file_size`` is bounded (setting ``uploads={"max_file_size": N}``, at most 256 MiB).

The real ``finish_url`` path is not known (divio-cli posts to whatever it is given); here it is
``/apps/v3/backups/upload/<part>/finish/?signature=<hex>`` on the API origin. The backup's ``trigger`` is not
known either: it is ``MANUAL``, as for other backups made through the API.
"""

import contextlib
import hashlib
import random
import threading
import time
from urllib.parse import parse_qs, urlsplit

DEFAULTS = {"max_file_size": 32 * 1024 * 1024}
MAX_FILE_SIZE_LIMIT = 256 * 1024 * 1024
UPLOAD_PATH = "/apps/v3/backups/upload/"
FINISH_SUFFIX = "/finish/"
URL_LIFETIME_SECONDS = 3600
ACCESS_KEY = "EXOsimulator"
READ_CHUNK = 1 << 16


def upload_settings(value):
    """Validated ``uploads`` settings over the defaults; raises ValueError."""
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise ValueError("uploads must be an object of settings")
    unknown = sorted(set(value) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown uploads setting(s): {', '.join(unknown)}")
    settings = dict(DEFAULTS, **value)
    size = settings["max_file_size"]
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_FILE_SIZE_LIMIT:
        raise ValueError(f"uploads.max_file_size must be an integer from 1 to {MAX_FILE_SIZE_LIMIT}")
    return settings


def split_finish(path):
    """The part uuid of a ``finish_url`` path, else None."""
    if path.startswith(UPLOAD_PATH) and path.endswith(FINISH_SUFFIX):
        key = path[len(UPLOAD_PATH):-len(FINISH_SUFFIX)]
        if key and "/" not in key:
            return key
    return None


def _signature(*fields):
    return hashlib.sha256(("upload:" + ":".join(fields)).encode()).hexdigest()


class UploadJobs:
    """The parts waiting for (or holding) an uploaded file; ``files`` maps part uuid -> the bytes received."""

    def __init__(self, dataset, backup_jobs):
        self.dataset = dataset
        self.backup_jobs = backup_jobs
        self.parts = {}  # part uuid -> {"backup", "key", "expires", "max_file_size", "finished"}
        self.by_key = {}  # object key -> part uuid
        self.files = {}  # part uuid -> bytes, once a PUT arrived whole
        self._lock = threading.Lock()
        self._rng = random.Random("backup-uploads")
        self.origin_url = None  # set by the server once the object storage listens

    def validate(self, body):
        """The DRF-style 400 body for a bad request, or None: a backup's rules, and each service once."""
        errors = self.backup_jobs.validate(body)
        if errors is None and len(set(map(str, body["services"]))) != len(body["services"]):
            errors = {"services": ["Each service instance may be named once."]}
        return errors

    def create(self, body, settings, outcome, duration, api_url):
        backup = self.backup_jobs.create(body, outcome, duration, held=True)
        results = {}
        with self._lock:
            for service, part_uuid in zip(body["services"], backup["service_instance_backups"]):
                key = self.dataset.new_id(self._rng)
                expires = str(int(time.time()) + URL_LIFETIME_SECONDS)
                self.parts[part_uuid] = {"backup": backup, "key": key, "expires": expires,
                                         "max_file_size": settings["max_file_size"], "finished": False}
                self.by_key[key] = part_uuid
                results[service] = {
                    "handler": "exo-presigned-v1",
                    "upload_parameters": {
                        "url": "%s/objects/%s?AWSAccessKeyId=%s&Signature=%s&Expires=%s" % (
                            self.origin_url, key, ACCESS_KEY, _signature(key, expires), expires),
                        "http_method": "PUT",
                        "max_file_size": settings["max_file_size"],
                    },
                    "finish_url": "%s%s%s%s?signature=%s" % (
                        api_url, UPLOAD_PATH, part_uuid, FINISH_SUFFIX, _signature("finish", part_uuid)),
                }
        return {"uuid": backup["uuid"], "results": results}

    # -- the object storage side -------------------------------------------------------------------

    def receive(self, handler):
        """Answer a PUT to the object storage (``handler`` is the origin's request handler)."""
        parts = urlsplit(handler.path)
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        key = parts.path[len("/objects/"):] if parts.path.startswith("/objects/") else ""
        part_uuid = self.by_key.get(key)
        upload = self.parts.get(part_uuid)
        expires = query.get("Expires", "")
        length = handler.headers.get("Content-Length")
        if handler.headers.get("Authorization") is not None:
            refusal = (400, "InvalidArgument", "Only one auth mechanism allowed; only the Signature query string "
                       "parameter or the Authorization header should be specified")
        elif upload is None or query.get("Signature") != _signature(key, expires) or expires != upload["expires"]:
            refusal = (403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                       "signature you provided.")
        elif int(expires) < time.time():
            refusal = (403, "AccessDenied", "Request has expired")
        elif upload["finished"]:
            refusal = (403, "AccessDenied", "The upload of this file is finished.")
        elif length is None or not length.isdigit():
            refusal = (411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        elif int(length) > upload["max_file_size"]:
            refusal = (400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        else:
            refusal = None
        if refusal is not None:
            status, code, message = refusal
            handler.drain_small_body()
            handler.close_connection = True
            handler._send(status, ("<Error><Code>%s</Code><Message>%s</Message></Error>" % (code, message)).encode(),
                          {"Content-Type": "application/xml"})
            return
        data = self._read(handler.rfile, int(length))
        if data is None:  # the client hung up before the whole body arrived: nothing is stored
            handler.close_connection = True
            return
        with self._lock:
            self.files[part_uuid] = data
        handler._send(200, b"", {"ETag": '"%s"' % hashlib.md5(data).hexdigest()})

    @staticmethod
    def _read(stream, length):
        chunks, left = [], length
        with contextlib.suppress(OSError):
            while left:
                chunk = stream.read(min(left, READ_CHUNK))
                if not chunk:
                    return None
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)
        return None

    # -- the API side ---------------------------------------------------------------------------------

    def finish(self, part_uuid, signature):
        """``(status, body)`` for a POST to a part's ``finish_url``; the last part's finish starts the backup."""
        with self._lock:
            upload = self.parts.get(part_uuid)
            if upload is None:
                return 404, {"detail": "Not found."}
            if signature != _signature("finish", part_uuid):
                return 403, {"detail": "Invalid signature."}
            if part_uuid not in self.files:
                return 400, {"detail": "No file was uploaded for service instance backup %s." % part_uuid}
            backup = upload["backup"]
            if not upload["finished"]:
                upload["finished"] = True
                siblings = backup["service_instance_backups"]
                if all(self.parts[uuid]["finished"] for uuid in siblings):
                    self.backup_jobs.start(backup, [len(self.files[uuid]) for uuid in siblings])
        return 200, {"uuid": backup["uuid"]}


class UploadHandlers:
    """Request handlers for the upload endpoints, mixed into the server's handler."""

    def _create_upload(self, resource, key, body):
        sim = self.simulator
        self._create(sim.upload_jobs, self._json_body(body), sim.uploads, sim.backup_outcome,
                     sim.backup_duration_seconds, sim.url)

    def _finish_upload(self, resource, key, body):
        status, answer = self.simulator.upload_jobs.finish(key, self.query.get("signature", [""])[-1])
        self._send_json(status, answer)


HANDLERS = {
    ("backups", "upload", "POST"): "_create_upload",
    ("backups", "upload-finish", "POST"): "_finish_upload",
}
