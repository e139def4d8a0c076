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
memory (one buffer each), so ``max_file_size`` is bounded (setting ``uploads={"max_file_size": N}``, at most 1 GiB).

The real ``finish_url`` path is not known (divio-cli posts to whatever it is given); here it is
``/apps/v3/backups/upload/<part>/finish/?signature=<hex>`` on the API origin. The backup's ``trigger`` is not
known either: it is ``MANUAL``, as for other backups made through the API.

The three handlers (setting ``uploads={"handler": NAME}`` for every environment, ``"handlers": {<environment uuid
or "app-slug/env-slug">: NAME}`` per environment):

- ``exo-presigned-v1`` (the default): the presigned PUT above, on the simulator's own object storage;
- ``s3-sts-v1``: ``upload_parameters`` ``{aws_access_key_id, aws_secret_access_key, aws_session_token, bucket,
  key}``, temporary credentials for that one key, from moto's STS (standins.MotoS3); the client reaches moto
  through ``AWS_ENDPOINT_URL_S3`` (the stand-in's ``endpoint``);
- ``az-sas-v1``: ``upload_parameters`` ``{url}``, a blob URL with a SAS allowing create and write on that one
  blob, in Azurite (standins.Azurite).

Neither names a size limit (``max_file_size`` is exo's); the simulator takes their files up to 1 GiB (moto holds
about twice, Azurite about once an object in memory on top: size tests accordingly).

A handler other than ``exo-presigned-v1`` needs its stand-in attached (``SimulatorServer(s3=..., azure=...)`` or
``attach_standins``); the setting is refused without it. At ``finish_url`` the simulator reads the object or
blob back from the stand-in (what it holds is what was uploaded) into ``files``.

Faults (``uploads={"fault": KIND}``, for uploads made while it is set), each the way that storage says it:

- ``refused-put``: the upload is refused - exo: 403 AccessDenied; s3: credentials scoped to another key (403
  AccessDenied); az: a read-only SAS (403 AuthorizationPermissionMismatch);
- ``expired-credential``: exo: a URL past its ``Expires`` (403 AccessDenied "Request has expired"); s3: the
  role's rights revoked before its credentials are handed out (403 AccessDenied: moto checks no expiry); az: a
  SAS whose expiry has passed (403 AuthorizationFailure, as Azurite says it);
- ``missing-object``: the upload succeeds, but at ``finish_url`` the object is gone: 400, the backup stays ``NEW``;
- ``finish-5xx``: every ``finish_url`` POST answers 503; the backup stays ``NEW`` (never started).

``finish_calls`` records every ``finish_url`` POST with whether an ``Authorization`` or ``Cookie`` header came
along (no client should send one: the URL is signed).

``finish_failures: N``: the first N ``finish_url`` POSTs of each part answer 503, later ones work (a client that
retries gets through). ``outcome`` (``SUCCESS``/``FAILURE``/..., default null: the simulator's ``backup_outcome``)
decides how upload backups end, leaving other backups (a safety backup) alone.
"""

import contextlib
import hashlib
import os
import random
import threading
import time
from urllib.parse import parse_qs, urlsplit

DEFAULTS = {"max_file_size": 32 * 1024 * 1024, "handler": "exo-presigned-v1", "handlers": {}, "fault": None,
            "finish_failures": 0, "outcome": None}
HANDLER_NAMES = ("exo-presigned-v1", "s3-sts-v1", "az-sas-v1")
STANDIN_OF = {"s3-sts-v1": "s3", "az-sas-v1": "azure"}  # the stand-in each handler needs (standins.py)
FAULTS = ("refused-put", "expired-credential", "missing-object", "finish-5xx")
OUTCOMES = ("SUCCESS", "FAILURE", "PARTIAL", "NEVER")
MAX_FILE_SIZE_LIMIT = 1024 * 1024 * 1024  # files are kept in memory; 1 GiB for the memory tests of a large copy
UPLOAD_PATH = "/apps/v3/backups/upload/"
FINISH_SUFFIX = "/finish/"
URL_LIFETIME_SECONDS = 3600
ACCESS_KEY = "EXOsimulator"
READ_CHUNK = 1 << 16
BUCKET = "divio-uploads"  # the S3 bucket and the Azure container of uploads


def upload_settings(value, standins=None):
    """Validated ``uploads`` settings over the defaults; ``standins`` maps "s3"/"azure" to the attached stand-ins (a
    handler needing an absent one is refused); raises ValueError."""
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
    handlers = settings["handlers"]
    if not isinstance(handlers, dict) or not all(isinstance(k, str) and k for k in handlers):
        raise ValueError("uploads.handlers must map environment uuids or 'app-slug/env-slug' to handler names")
    for name in [settings["handler"], *handlers.values()]:
        if name not in HANDLER_NAMES:
            raise ValueError("uploads handler %r is unknown: expected one of %s" % (name, ", ".join(HANDLER_NAMES)))
        if name in STANDIN_OF and (standins or {}).get(STANDIN_OF[name]) is None:
            raise ValueError("uploads handler %s needs the %s stand-in: start the simulator with %s=<standins.%s> "
                             "(the tests' fixture %s) or --upload-handler %s"
                             % (name, "moto S3" if name == "s3-sts-v1" else "Azurite", STANDIN_OF[name],
                                "MotoS3" if name == "s3-sts-v1" else "Azurite",
                                "moto_s3" if name == "s3-sts-v1" else "azurite", name))
    if settings["fault"] is not None and settings["fault"] not in FAULTS:
        raise ValueError(f"uploads.fault must be null or one of {', '.join(FAULTS)}")
    failures = settings["finish_failures"]
    if isinstance(failures, bool) or not isinstance(failures, int) or not 0 <= failures <= 100:
        raise ValueError("uploads.finish_failures must be an integer from 0 to 100")
    if settings["outcome"] is not None and settings["outcome"] not in OUTCOMES:
        raise ValueError(f"uploads.outcome must be null or one of {', '.join(OUTCOMES)}")
    settings["handlers"] = dict(handlers)
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
        self.parts = {}  # part uuid -> {"backup", "key", "handler", "expires", "max_file_size", "finished", ...}
        self.by_key = {}  # object key -> part uuid
        self.files = {}  # part uuid -> bytes, once a PUT arrived whole (exo) or the finish found them (s3, az)
        # Every finish_url POST: {"part", "status", "authorization", "cookie"} - whether credentials came along,
        # which no client should send (the URL is signed; it is on the API's host, so a client may be tempted).
        self.finish_calls = []
        self._lock = threading.Lock()
        self._rng = random.Random("backup-uploads")
        self.origin_url = None  # set by the server once the object storage listens
        self.standins = {}  # "s3" / "azure" -> the stand-in serving that handler (standins.py), set by the server
        # Stand-ins outlive a simulator (a test session shares them): each simulator keeps to names of its own.
        self.prefix = "uploads/%s" % os.urandom(6).hex()

    def validate(self, body):
        """The DRF-style 400 body for a bad request, or None: a backup's rules, and each service once."""
        errors = self.backup_jobs.validate(body)
        if errors is None and len(set(map(str, body["services"]))) != len(body["services"]):
            errors = {"services": ["Each service instance may be named once."]}
        return errors

    def handler_for(self, environment, settings):
        """The handler uploads into ``environment`` (uuid) get: per environment (uuid or "app/env"), else for all."""
        env = self.dataset.by_uuid["environments"].get(environment) or {}
        app = self.dataset.by_uuid["applications"].get(env.get("application")) or {}
        handlers = settings["handlers"]
        return handlers.get(environment) or handlers.get("%s/%s" % (app.get("slug"), env.get("slug"))) or settings["handler"]

    def create(self, body, settings, outcome, duration, api_url):
        backup = self.backup_jobs.create(body, outcome, duration, held=True)
        handler = self.handler_for(body["environment"], settings)
        results = {}
        for service, part_uuid in zip(body["services"], backup["service_instance_backups"]):
            with self._lock:
                key = self.dataset.new_id(self._rng)
            upload = {"backup": backup, "key": key, "handler": handler, "max_file_size": settings["max_file_size"],
                      "finished": False, "fault": settings["fault"], "finish_failures": settings["finish_failures"],
                      "finish_calls": 0, "expires": str(int(time.time()) + URL_LIFETIME_SECONDS)}
            parameters = getattr(self, "_parameters_" + handler.split("-")[0])(upload)
            with self._lock:
                self.parts[part_uuid] = upload
                self.by_key[key] = part_uuid
            results[service] = {
                "handler": handler, "upload_parameters": parameters,
                "finish_url": "%s%s%s%s?signature=%s" % (
                    api_url, UPLOAD_PATH, part_uuid, FINISH_SUFFIX, _signature("finish", part_uuid)),
            }
        return {"uuid": backup["uuid"], "results": results}

    def _parameters_exo(self, upload):
        key = upload["key"]
        if upload["fault"] == "expired-credential":
            upload["expires"] = str(int(time.time()) - 60)
        upload["refuse"] = upload["fault"] == "refused-put"
        url = "%s/objects/%s?AWSAccessKeyId=%s&Signature=%s&Expires=%s" % (
            self.origin_url, key, ACCESS_KEY, _signature(key, upload["expires"]), upload["expires"])
        return {"url": url, "http_method": "PUT", "max_file_size": upload["max_file_size"]}

    def _parameters_s3(self, upload):
        moto, key = self.standins["s3"], "%s/%s" % (self.prefix, upload["key"])
        moto.create_bucket(BUCKET)
        scope = "elsewhere/" + key if upload["fault"] == "refused-put" else key
        role = "upload-%s-%s" % (self.prefix.rsplit("/", 1)[1], upload["key"])
        access_key, secret, token = moto.credentials_for(BUCKET, scope, role)
        if upload["fault"] == "expired-credential":
            moto.revoke(role)
        upload["object"] = key
        return {"aws_access_key_id": access_key, "aws_secret_access_key": secret, "aws_session_token": token,
                "bucket": BUCKET, "key": key}

    def _parameters_az(self, upload):
        azurite, blob = self.standins["azure"], "%s/%s" % (self.prefix, upload["key"])
        azurite.create_container(BUCKET)
        fault = upload["fault"]
        url = azurite.sas_url(BUCKET, blob, permission="r" if fault == "refused-put" else "cw",
                              lifetime=-60 if fault == "expired-credential" else URL_LIFETIME_SECONDS)
        upload["object"] = blob
        return {"url": url}

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
        elif upload is None or upload["handler"] != "exo-presigned-v1" or query.get("Signature") != _signature(key, expires) or expires != upload["expires"]:
            refusal = (403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                       "signature you provided.")
        elif int(expires) < time.time():
            refusal = (403, "AccessDenied", "Request has expired")
        elif upload.get("refuse"):
            refusal = (403, "AccessDenied", "Access Denied")
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
        """The body, read into one buffer of its announced length (a 1 GiB file costs 1 GiB, not twice), or None
        when the client hung up before it was whole."""
        data, done = bytearray(length), 0
        view = memoryview(data)
        with contextlib.suppress(OSError):
            while done < length:
                got = stream.readinto(view[done:done + READ_CHUNK])
                if not got:
                    return None
                done += got
            return data
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
            if upload["fault"] == "finish-5xx" or upload["finish_calls"] < upload["finish_failures"]:
                upload["finish_calls"] += 1
                return 503, {"detail": "Service temporarily unavailable (simulated)."}
            upload["finish_calls"] += 1
        if not upload["finished"]:
            problem = self._collect(part_uuid, upload)
            if problem:
                return 400, {"detail": problem}
        with self._lock:
            backup = upload["backup"]
            if not upload["finished"]:
                upload["finished"] = True
                siblings = backup["service_instance_backups"]
                if all(self.parts[uuid]["finished"] for uuid in siblings):
                    self.backup_jobs.start(backup, [len(self.files[uuid]) for uuid in siblings])
        return 200, {"uuid": backup["uuid"]}

    def _collect(self, part_uuid, upload):
        """Take the part's file from where its handler put it into ``files``; the refusal's text, or None."""
        handler, missing = upload["handler"], upload["fault"] == "missing-object"
        if handler == "exo-presigned-v1":
            if missing:
                self.files.pop(part_uuid, None)
            data = self.files.get(part_uuid)
        else:
            standin = self.standins[STANDIN_OF[handler]]
            container_or_bucket, name = BUCKET, upload["object"]
            try:
                # These handlers name no size limit (divio-cli checks none): the bound is the simulator's memory.
                if handler == "s3-sts-v1":
                    if missing:
                        standin.delete_object(container_or_bucket, name)
                    data = standin.read_object(container_or_bucket, name, MAX_FILE_SIZE_LIMIT)
                else:
                    if missing:
                        with contextlib.suppress(Exception):
                            standin.delete_blob(container_or_bucket, name)
                    data = standin.read_blob(container_or_bucket, name, MAX_FILE_SIZE_LIMIT)
            except ValueError as exc:
                return "The file uploaded for service instance backup %s is too large: %s." % (part_uuid, exc)
        if data is None:
            return "No file was uploaded for service instance backup %s." % part_uuid
        with self._lock:
            self.files[part_uuid] = data
        return None


class UploadHandlers:
    """Request handlers for the upload endpoints, mixed into the server's handler."""

    def _create_upload(self, resource, key, body):
        sim = self.simulator
        self._create(sim.upload_jobs, self._json_body(body), sim.uploads, sim.uploads["outcome"] or sim.backup_outcome,
                     sim.backup_duration_seconds, sim.url)

    def _finish_upload(self, resource, key, body):
        jobs = self.simulator.upload_jobs
        status, answer = jobs.finish(key, self.query.get("signature", [""])[-1])
        jobs.finish_calls.append({"part": key, "status": status, "authorization": "Authorization" in self.headers,
                                  "cookie": "Cookie" in self.headers})
        self._send_json(status, answer)


HANDLERS = {
    ("backups", "upload", "POST"): "_create_upload",
    ("backups", "upload-finish", "POST"): "_finish_upload",
}
