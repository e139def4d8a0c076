# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Putting local files into an environment as a new backup, and restoring it: what the ``backup_upload`` module
does, and the second half of ``backup_copy`` (copies.py).

The flow is divio-cli's (``app push db`` / ``push media``): ``POST backups/upload/`` names the environment and its
service instances and answers, per instance, a ``handler``, its ``upload_parameters`` and a ``finish_url``; the
file goes to object storage by that handler; ``POST <finish_url>`` says it is in; the backup is polled until it has
ended; then ``backup-restores/`` restores its parts (restores.py), which belong to the target environment.

Handlers (``SENDERS``): ``exo-presigned-v1`` (a presigned PUT, requests), ``s3-sts-v1`` (boto3 with temporary
credentials; no region and no endpoint named, so boto3's own ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` apply),
``az-sas-v1`` (azure-storage-blob with a SAS URL). boto3 and azure-storage-blob are optional: checked when the
platform names their handler, before any byte goes. Every file is read once, in order, through ``HashingReader``:
the sha256 reported is that of the bytes sent, and memory stays flat (small transfer settings).

Nothing carries the API token or a cookie to storage or to ``finish_url`` (on the API's host, but signed): those
requests are bare requests on the storage route of ``http_rules`` (the rules of every request sent with requests: a
PUT's or POST's redirect is not followed). boto3 gets only the temporary credentials it is handed (no profile or
environment credential lookup), azure-storage-blob only its SAS URL (no netrc: environment settings off, proxies
read as ours are); both get the same connect timeout as the requests to storage. No Ansible imports.
"""

import datetime
import hashlib
import importlib
import os
import stat
import time
from urllib.parse import parse_qs, urlsplit

from ansible_collections.divio.cloud.plugins.module_utils import http_rules, transport
from ansible_collections.divio.cloud.plugins.module_utils.backups import (
    BACKUPS,
    SUCCESS,
    ServiceInstances,
    fetch_parts,
    format_timestamp,
)
from ansible_collections.divio.cloud.plugins.module_utils.client import USER_AGENT
from ansible_collections.divio.cloud.plugins.module_utils.deadline import Deadline
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    DivioError,
    InputError,
    InvalidResponseError,
    UploadError,
    VerificationFailed,
    excerpt,
)
from ansible_collections.divio.cloud.plugins.module_utils.fetch import plain_http_refused, show_url
from ansible_collections.divio.cloud.plugins.module_utils.resources import get_application, get_environment, require_text
from ansible_collections.divio.cloud.plugins.module_utils.restores import RestoreOptions, restore
from ansible_collections.divio.cloud.plugins.module_utils.taking import (
    MAX_POLL_INTERVAL,
    MAX_WAIT_TIMEOUT,
    safety_backup,
    wait_backup,
)
from ansible_collections.divio.cloud.plugins.module_utils.values import (
    Services,
    TaskOptions,
    check_seconds,
    parse_services,
    split_service,
)
from ansible_collections.divio.cloud.plugins.module_utils.variables import check_bool
from ansible_collections.divio.cloud.plugins.module_utils.verify import READERS, sniff, verify_file

try:
    import requests
except ImportError:  # the module reports the missing library before it gets here
    requests = None

UPLOADS = BACKUPS + "upload/"
EXO, S3, AZURE = "exo-presigned-v1", "s3-sts-v1", "az-sas-v1"
#: handler -> (module to import, what to pip install)
OPTIONAL_LIBRARIES = {S3: ("boto3", "boto3"), AZURE: ("azure.storage.blob", "azure-storage-blob")}
#: the formats a part of each kind may have (verify.sniff's names)
DEFAULT_UPLOAD_TIMEOUT = 3600
DEFAULT_WAIT_TIMEOUT = 3600
DEFAULT_POLL_INTERVAL = 2
#: backup_upload's verify: read each file whole with its format's reader before sending, or not
VERIFY_LEVELS = ("read", "none")
DEFAULT_VERIFY = "read"
#: the uploaded backup outlives the task by this much (divio-cli keeps its own an hour)
DELETION_MARGIN = 3600
FINISH_ATTEMPTS = 4
FINISH_BACKOFF = 1.0
# Every request to storage - requests, boto3 and azure-storage-blob alike - connects within CONNECT_TIMEOUT. A read
# waits: for the PUT's answer, what is left of upload_timeout; for the finish's, FINISH_READ_TIMEOUT; for one of
# boto3's or azure-storage-blob's answers (a part, a block), READ_TIMEOUT.
CONNECT_TIMEOUT = 30
READ_TIMEOUT = 120
FINISH_READ_TIMEOUT = 60
# Flat memory: boto3 holds about (concurrency + queued chunks) x chunk size, azure (concurrency x block size).
TRANSFER_CONCURRENCY = 2
S3_CHUNK = 8 * 1024 * 1024
S3_MAX_PARTS = 10000
AZURE_BLOCK = 4 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
_UTC = datetime.timezone.utc


# -- options and the target ---------------------------------------------------------------------

class UploadOptions:
    """The timeouts of an upload task, checked before the first request (``InputError`` naming the value)."""

    def __init__(self, upload_timeout=DEFAULT_UPLOAD_TIMEOUT, wait_timeout=DEFAULT_WAIT_TIMEOUT,
                 poll_interval=DEFAULT_POLL_INTERVAL, notes=""):
        self.upload_timeout = check_seconds("upload_timeout", upload_timeout, MAX_WAIT_TIMEOUT)
        self.wait_timeout = check_seconds("wait_timeout", wait_timeout, MAX_WAIT_TIMEOUT)
        self.poll_interval = check_seconds("poll_interval", poll_interval, MAX_POLL_INTERVAL)
        if notes is not None and not isinstance(notes, str):
            raise InputError("notes %r is not valid: expected a string." % (notes,))
        self.notes = notes or ""

    def keep_seconds(self):
        """How long the uploaded backup must outlive now: the upload, its wait, the safety backup's and the
        restore's waits, and a margin."""
        return self.upload_timeout + 3 * self.wait_timeout + DELETION_MARGIN


class PushOptions(TaskOptions):
    """The options of one ``backup_upload`` task (the module's argument spec), checked before the first request:
    the timeouts and notes first (``upload``, an ``UploadOptions``, or the one given), then ``files``
    (``[(service, absolute path)]``) and the switches."""

    ARGUMENT_SPEC = dict(
        application=dict(type="str", required=True),
        environment=dict(type="str", required=True),
        files=dict(type="list", elements="dict", required=True, options=dict(
            service=dict(type="str", required=True),
            path=dict(type="path", required=True),
        )),
        verify=dict(type="str", choices=list(VERIFY_LEVELS), default=DEFAULT_VERIFY),
        restore=dict(type="bool", default=False),
        confirm=dict(type="str"),
        safety_backup=dict(type="bool", default=True),
        allow_live=dict(type="bool", default=False),
        notes=dict(type="str", default=""),
        upload_timeout=dict(type="float", default=DEFAULT_UPLOAD_TIMEOUT),
        wait_timeout=dict(type="float", default=DEFAULT_WAIT_TIMEOUT),
        poll_interval=dict(type="float", default=DEFAULT_POLL_INTERVAL),
    )

    def __init__(self, application, environment, files, verify=DEFAULT_VERIFY, restore=False, confirm=None,
                 safety_backup=True, allow_live=False, notes="", upload_timeout=DEFAULT_UPLOAD_TIMEOUT,
                 wait_timeout=DEFAULT_WAIT_TIMEOUT, poll_interval=DEFAULT_POLL_INTERVAL, check_mode=False, upload=None):
        # upload: an UploadOptions a Python caller built already (push_files), taken instead of the four above.
        self.upload = upload or UploadOptions(upload_timeout, wait_timeout, poll_interval, notes)
        self.application, self.environment, self.confirm = application, environment, confirm
        self.files = parse_files(files)
        if verify not in VERIFY_LEVELS:
            raise InputError("verify %r is not valid: expected %s." % (verify, " or ".join(VERIFY_LEVELS)))
        self.verify = verify
        self.restore = check_bool("restore", restore)
        self.safety_backup = check_bool("safety_backup", safety_backup)
        self.allow_live = check_bool("allow_live", allow_live)
        self.check_mode = check_mode


class Environment:
    """An application's environment and its service instances, as an upload or a copy addresses them."""

    def __init__(self, client, application, environment):
        self.app = get_application(client, application)
        self.env = get_environment(client, self.app, environment)
        self.name = "%s/%s" % (self.app.get("slug"), self.env.get("slug"))
        self.instances = ServiceInstances(client, self.env["uuid"])

    def instance(self, service):
        """The one provisioned instance ``service`` (``TYPE`` or ``TYPE:PREFIX``) names; ``InputError`` otherwise."""
        kind, prefix = split_service(service)
        found = self.instances.provisioned(kind) if prefix is None else self.instances.named(kind, prefix)
        found = [uuid for uuid in found if self.instances.get(uuid).get("service_status") != "NEW"]
        if len(found) != 1:
            problem = "no provisioned" if not found else "%d" % len(found)
            raise InputError("%s has %s %s service instance%s; name one as TYPE:PREFIX. It has: %s." % (
                self.name, problem, service, "" if not found else "s", self.instances.describe()))
        return self.instances.get(found[0])


def label(instance):
    return "%s:%s" % (instance.get("type"), instance.get("prefix"))


def guard_target(target, confirm, allow_live, what="restore"):
    """A restore overwrites data: ``confirm`` must name the target, and ``live`` needs ``allow_live``."""
    confirm = require_text("confirm", confirm)
    if confirm is None:
        raise InputError("confirm is required: a %s overwrites the environment's data. Set it to %r (the target's "
                         "'<application slug>/<environment slug>'). Nothing was sent." % (what, target.name))
    if confirm != target.name:
        raise InputError("confirm %r does not name the environment to %s into: expected %r. Nothing was sent."
                         % (confirm, what, target.name))
    if target.env.get("slug") == "live" and allow_live is not True:
        raise InputError("%s is a live environment: a %s would overwrite its data. Set allow_live: true to do that on "
                         "purpose. Nothing was sent." % (target.name, what))


# -- the local file ------------------------------------------------------------------------------

def check_local_file(service, path, verify, timeout):
    """``{"path", "size", "format", "verification"}`` of a file to upload as a ``service`` part, read whole with the
    format's own reader (``verify: read``) before anything is sent; ``InputError`` / ``VerificationFailed``."""
    kind = split_service(service)[0]
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError("files: %s cannot be read: %s." % (path, os.strerror(exc.errno or 0))) from None
    if not stat.S_ISREG(info.st_mode) or not os.access(path, os.R_OK):
        raise InputError("files: %s is not a readable regular file." % path)
    if info.st_size == 0:
        raise InputError("files: %s is empty; a backup part holds data." % path)
    fmt = sniff(path)
    if fmt not in READERS[kind]:
        raise VerificationFailed("%s is not a %s part: its format is %s, expected %s (as divio-cli checks before a push). "
                                 "Nothing was sent." % (path, kind, fmt, " or ".join(READERS[kind])))
    try:
        # The part's type decides the reader (verify.verify_read): the file is read as what it is uploaded as.
        verification = verify_file(path, fmt, {"service_type": kind}, verify, timeout)
    except DivioError as exc:
        raise type(exc)("%s (%s part): %s. Nothing was sent." % (path, service, exc), **exc.details) from None
    return {"path": path, "size": info.st_size, "format": fmt, "verification": verification}


class HashingReader:
    """A file as an upload library reads it: once, in order, never seeked (``seekable()`` is false, so boto3 and
    azure-storage-blob read it sequentially and keep only what is in flight), its sha256 and byte count taken on the
    way and the upload's deadline checked at every read. ``len()`` tells requests the Content-Length."""

    def __init__(self, handle, size, deadline, what):
        self.handle, self.size, self.deadline, self.what = handle, size, deadline, what
        self.digest = hashlib.sha256()
        self.sent = 0

    def read(self, amount=-1):
        if self.deadline.passed():
            raise UploadError("%s: the upload did not complete within upload_timeout (%g s)." % (
                self.what, self.deadline.seconds))
        data = self.handle.read(amount if amount is not None else -1)
        self.digest.update(data)
        self.sent += len(data)
        return data

    def __len__(self):
        return self.size - self.sent

    @staticmethod
    def seekable():
        return False

    def chunks(self):
        """The file as an iterable of 1 MiB pieces with a length: requests sends it with that Content-Length and
        urllib3 writes each piece whole (a body with ``read`` is read 16 KiB at a time)."""
        return _Pieces(self)

    def checked(self):
        """``(size, sha256)`` of what was read; ``UploadError`` when the library did not read the whole file."""
        if self.sent != self.size:
            raise UploadError("%s: the upload read %d of the file's %d bytes." % (self.what, self.sent, self.size))
        return self.sent, self.digest.hexdigest()


class _Pieces:
    def __init__(self, reader):
        self.reader = reader

    def __len__(self):
        return len(self.reader)

    def __iter__(self):
        return iter(lambda: self.reader.read(CHUNK_BYTES), b"")


# -- the API side ------------------------------------------------------------------------------------

def start_upload(client, target, instances, options):
    """``POST backups/upload/``: ``(backup uuid, {instance uuid: {"handler", "upload_parameters", "finish_url"}})``."""
    deletion = datetime.datetime.now(_UTC).replace(microsecond=0) + datetime.timedelta(seconds=options.keep_seconds())
    body = {"environment": target.env["uuid"], "services": [i["uuid"] for i in instances],
            "notes": options.notes or "divio.cloud upload", "scheduled_for_deletion_at": format_timestamp(deletion)}
    created = client.post(UPLOADS, body)
    if not isinstance(created, dict) or not isinstance(created.get("uuid"), str):
        raise InvalidResponseError("POST %s did not answer with the new backup; an upload backup of %s may have been "
                                   "created (it is deleted by %s)." % (UPLOADS, target.name, body["scheduled_for_deletion_at"]),
                                   path=UPLOADS)
    results = created.get("results")
    for instance in instances:
        found = results.get(instance["uuid"]) if isinstance(results, dict) else None
        if not isinstance(found, dict) or not isinstance(found.get("handler"), str) or \
                not isinstance(found.get("upload_parameters"), dict) or not isinstance(found.get("finish_url"), str):
            raise InvalidResponseError("POST %s: backup %s holds no upload instructions (handler, upload_parameters, "
                                       "finish_url) for %s's %s." % (UPLOADS, created["uuid"], target.name, label(instance)),
                                       path=UPLOADS)
        _register_credentials(found["upload_parameters"])
    return created["uuid"], results


def _register_credentials(params):
    """The storage credentials are secrets like the token: masked in every message."""
    for name in ("aws_secret_access_key", "aws_session_token"):
        if isinstance(params.get(name), str):
            DivioError.register_secret(params[name])
    if isinstance(params.get("url"), str):  # a presigned or SAS URL's signature
        query = parse_qs(urlsplit(params["url"]).query)
        for name in ("sig", "Signature", "X-Amz-Signature"):
            DivioError.register_secret((query.get(name) or [None])[-1])


def require_handlers(results, backup_uuid):
    """Every handler known and its library importable, before any byte goes; ``UploadError`` otherwise."""
    for handler in sorted(set(item["handler"] for item in results.values() if isinstance(item, dict))):
        if handler not in SENDERS:
            known = ", ".join(sorted(SENDERS))
            raise UploadError("the platform asked for upload handler %r, which this collection does not know (it knows "
                              "%s); nothing was uploaded into backup %s." % (excerpt(handler, 60), known, backup_uuid))
        module, package = OPTIONAL_LIBRARIES.get(handler, (None, None))
        if module is not None and not _importable(module):
            raise UploadError("the platform asked for upload handler %s, which needs the Python library %s where the task "
                              "runs: pip install %s. Nothing was uploaded into backup %s."
                              % (handler, package, package, backup_uuid))


def _importable(module):
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def finish_upload(url, what, settings, sleep=time.sleep):
    """``POST <finish_url>`` with no credentials, retried on no answer or a 5xx (it is a signal, safe to repeat)."""
    _storage_url(url, settings, what, "finish_url")
    problem = None
    for attempt in range(FINISH_ATTEMPTS):
        try:
            response = _send_to_storage("POST", url, settings, {"User-Agent": USER_AGENT},
                                        (CONNECT_TIMEOUT, FINISH_READ_TIMEOUT))
        except requests.exceptions.RequestException as exc:
            problem = http_rules.failure(exc).said
        else:
            if response.status_code < 300:
                return
            if response.status_code < 500:
                raise UploadError("%s: POST finish_url (%s) answered HTTP %d; the platform was not told the file is "
                                  "in." % (what, show_url(url), response.status_code))
            problem = "HTTP %d" % response.status_code
        if attempt + 1 < FINISH_ATTEMPTS:
            sleep(FINISH_BACKOFF * 2 ** attempt)
    raise UploadError("%s: POST finish_url (%s) got %s %d times; the platform was not told the file is in." % (
        what, show_url(url), problem, FINISH_ATTEMPTS))


def wait_uploaded(client, backup_uuid, name, options, sleep=time.sleep, clock=time.monotonic):
    """The uploaded backup once it has ended, and its parts; ``UploadError`` unless it succeeded with parts."""
    done = wait_backup(client, backup_uuid, "uploaded backup %s of %s" % (backup_uuid, name), options, UploadError,
                       "the files were sent and finished, but the platform did not process them.", sleep, clock)
    parts = fetch_parts(client, done) if done.get("service_instance_backups") else []
    if done.get("success") != SUCCESS or not parts:
        errors = "; ".join(str(e) for p in parts for e in p.get("errors") or []) or "no errors given"
        raise UploadError("uploaded backup %s of %s ended %s%s: %s" % (
            backup_uuid, name, done.get("success"), "" if parts else " with no parts", excerpt(errors, 400)), uuid=backup_uuid)
    return done, parts


# -- the handlers ------------------------------------------------------------------------------------

def _storage_url(url, settings, what, name):
    """``url`` when the storage route takes it (``http_rules.StorageRoute``); ``UploadError`` naming ``name`` otherwise.
    Checked first of all, so it also says when requests is missing."""
    if requests is None:
        raise UploadError("the Python library 'requests' is required")
    try:
        return http_rules.StorageRoute(settings.allow_plain_http).place(url)
    except http_rules.Refused as refused:
        if refused.reason == http_rules.PLAIN_HTTP:
            raise UploadError(plain_http_refused(what, name, url)) from None
        raise UploadError("%s: the platform's %s is not an http(s) URL." % (what, name)) from None


def _send_to_storage(method, url, settings, headers, timeout, data=None):
    """One bare request to storage (no token, cookie or netrc; the headers a fresh session would add, and ``headers``)
    through ``http_rules.follow``: a redirect of a PUT or POST is not followed, its 3xx is the answer. The body is
    read; requests' own errors pass through."""
    headers = dict(requests.utils.default_headers(), **headers)
    route, adapter = http_rules.StorageRoute(settings.allow_plain_http), transport.DeadlineAdapter(pool_connections=1, pool_maxsize=1)

    def send(hop):
        request = http_rules.bare_request(method, hop, headers, data)
        return http_rules.send_bare(adapter, request, timeout, settings.validate_certs, stream=False)

    try:
        try:
            response = http_rules.follow(send, method, url, route)
        except http_rules.Refused as refused:
            response = refused.response
        _body = response.content  # read while the connection is open, as a session without stream=True does
        return response
    finally:
        adapter.close()


def _storage_code(text):
    """The ``<Code>`` of an S3-style error body, for the message."""
    start = text.find("<Code>")
    end = text.find("</Code>", start)
    return excerpt(text[start + 6:end], 60) if 0 <= start < end else "no error code"


def send_presigned(params, reader, settings, what):
    """``exo-presigned-v1``: one PUT of the file, streamed with its Content-Length; a file over ``max_file_size``
    is refused before anything is sent."""
    url = _storage_url(params.get("url"), settings, what, "upload URL")
    limit = params.get("max_file_size")
    if isinstance(limit, int) and not isinstance(limit, bool) and reader.size > limit:
        raise UploadError("%s: the file is %d bytes, more than the %d bytes the platform accepts (max_file_size); "
                          "nothing was sent." % (what, reader.size, limit))
    try:
        response = _send_to_storage("PUT", url, settings, {"User-Agent": USER_AGENT, "Content-Length": str(reader.size)},
                                    (CONNECT_TIMEOUT, max(reader.deadline.remaining(), 1)), data=reader.chunks())
    except requests.exceptions.RequestException as exc:
        raise UploadError("%s: the PUT to %s failed: %s." % (what, show_url(url), http_rules.failure(exc).said)) from None
    if response.status_code not in (200, 201, 204):
        raise UploadError("%s: the object storage answered HTTP %d (%s) to the PUT to %s." % (
            what, response.status_code, _storage_code(response.text[:2000]), show_url(url)))


def send_s3(params, reader, settings, what):
    """``s3-sts-v1``: boto3 with the temporary credentials, multipart, two parts in flight."""
    import boto3
    import botocore.exceptions
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    for name in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "bucket", "key"):
        if not isinstance(params.get(name), str) or not params[name]:
            raise UploadError("%s: the platform's s3-sts-v1 upload parameters hold no %s." % (what, name))
    chunk = max(S3_CHUNK, -(-reader.size // S3_MAX_PARTS))
    config = TransferConfig(multipart_threshold=S3_CHUNK, multipart_chunksize=chunk,
                            max_concurrency=TRANSFER_CONCURRENCY, use_threads=True)
    config.max_in_memory_upload_chunks = TRANSFER_CONCURRENCY  # s3transfer's default, 10, holds 80 MB
    session = boto3.session.Session(aws_access_key_id=params["aws_access_key_id"],
                                    aws_secret_access_key=params["aws_secret_access_key"],
                                    aws_session_token=params["aws_session_token"])
    client = session.client("s3", verify=settings.validate_certs, config=Config(
        connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, retries={"max_attempts": 3, "mode": "standard"}))
    try:
        client.upload_fileobj(reader, params["bucket"], params["key"], Config=config)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError,
            boto3.exceptions.S3UploadFailedError) as exc:
        raise UploadError("%s: S3 refused the upload to bucket %s: %s" % (
            what, excerpt(params["bucket"], 80), excerpt(str(exc), 300))) from None
    finally:
        client.close()


def send_azure(params, reader, settings, what):
    """``az-sas-v1``: azure-storage-blob with the SAS URL, 4 MiB blocks, two in flight."""
    from azure.core.exceptions import AzureError
    from azure.storage.blob import BlobClient

    url = _storage_url(params.get("url"), settings, what, "blob URL")
    # No environment settings (requests' netrc would put credentials on the blob host's requests); proxies as ours
    # read them; a redirect of a PUT is not followed (http_rules).
    blob = BlobClient.from_blob_url(url, max_single_put_size=AZURE_BLOCK, max_block_size=AZURE_BLOCK,
                                    connection_verify=settings.validate_certs, connection_timeout=CONNECT_TIMEOUT,
                                    read_timeout=READ_TIMEOUT, use_env_settings=False, permit_redirects=False,
                                    proxies=requests.utils.get_environ_proxies(url))
    try:
        with blob:
            blob.upload_blob(reader, length=reader.size, overwrite=True, max_concurrency=TRANSFER_CONCURRENCY)
    except AzureError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UploadError("%s: Azure Blob Storage refused the upload to %s: %s" % (
            what, show_url(url), excerpt(first, 300))) from None


SENDERS = {EXO: send_presigned, S3: send_s3, AZURE: send_azure}


def send_file(instructions, path, size, options, settings, what):
    """Send one file by its handler; ``(bytes, sha256)`` of what was read and sent."""
    deadline = Deadline(options.upload_timeout)
    with open(path, "rb") as handle:
        reader = HashingReader(handle, size, deadline, what)
        SENDERS[instructions["handler"]](instructions["upload_parameters"], reader, settings, what)
    return reader.checked()


# -- the task ------------------------------------------------------------------------------------

class Steps:
    """What a task has done so far on the platform, for a later failure to say (and what to undo with)."""

    def __init__(self):
        self.done = []

    def add(self, text):
        self.done.append(text)

    def failed(self, exc, what):
        """``exc`` (a ``DivioError``) made to say which steps happened before it."""
        if not self.done:
            return exc
        return type(exc)("%s failed: %s. Done before it: %s." % (what, str(exc).rstrip("."), "; ".join(self.done)),
                         **exc.details)


def take_safety_backup(client, target, services, why, options, sleep=time.sleep, clock=time.monotonic):
    """A backup of ``services`` (the labels of the target's instances) before it is overwritten; it must succeed."""
    return safety_backup(client, target.app, target.env, Services(services), "Safety backup before %s" % why,
                         "nothing was uploaded or restored", options, sleep, clock)


def upload_parts(client, target, files, options, steps, sleep=time.sleep, clock=time.monotonic):
    """Upload ``files`` (``{"instance", "path", "size"}``) as one new backup of the target and wait until it has
    ended; returns ``(backup, sent)``: the backup as the API shows it and per file what was sent."""
    backup_uuid, results = start_upload(client, target, [f["instance"] for f in files], options)
    steps.add("upload backup %s was created in %s" % (backup_uuid, target.name))
    require_handlers(results, backup_uuid)
    sent = []
    for item in files:
        instance, instructions = item["instance"], results[item["instance"]["uuid"]]
        what = "upload of %s into %s's %s (backup %s, handler %s)" % (
            os.path.basename(item["path"]), target.name, label(instance), backup_uuid, instructions["handler"])
        size, digest = send_file(instructions, item["path"], item["size"], options, client.settings, what)
        finish_upload(instructions["finish_url"], what, client.settings, sleep=sleep)
        steps.add("%s was sent (%d bytes) and finished" % (label(instance), size))
        sent.append({"service": label(instance), "service_instance": instance["uuid"], "handler": instructions["handler"],
                     "bytes": size, "sha256": digest})
    done, parts = wait_uploaded(client, backup_uuid, target.name, options, sleep=sleep, clock=clock)
    steps.add("upload backup %s ended %s" % (backup_uuid, done.get("success")))
    backup = dict((key, done.get(key)) for key in ("uuid", "state", "success", "scheduled_for_deletion_at"))
    backup["service_instance_backups"] = [p["uuid"] for p in parts]
    return backup, sent


def restore_uploaded(client, target, backup_uuid, sent, why, options, sleep=time.sleep, clock=time.monotonic):
    """Restore the uploaded parts into the target (restores.py); the restore as the API last showed it."""
    # The upload's Services pass RestoreOptions' parse as they are; no safety backup (the task took its own).
    restoring = RestoreOptions(backup_uuid, target.name, services=Services(item["service"] for item in sent),
                               safety_backup=False, notes=why, wait_timeout=options.wait_timeout,
                               poll_interval=options.poll_interval)
    restored = restore(client, target.app.get("slug") or target.app["uuid"], target.env["slug"], restoring, sleep=sleep,
                       clock=clock)
    return restored["restore"]


def parse_files(files):
    """``files`` as ``[(TYPE or TYPE:PREFIX, absolute path)]``; ``InputError`` naming a bad entry."""
    if not isinstance(files, list) or not files:
        raise InputError("files %r is not valid: expected a non-empty list of {service, path}." % (files,))
    parsed = []
    for item in files:
        if not isinstance(item, dict) or set(item) - {"service", "path"} or not item.get("service") or not item.get("path"):
            raise InputError("files: %r is not valid: expected {service: DATABASE | STORAGE | TYPE:PREFIX, path: <file>}."
                             % (item,))
        [service] = parse_services([item["service"]])
        path = require_text("files[].path", item["path"], allow_none=False)
        parsed.append((service, os.path.abspath(os.path.expanduser(path))))
    return parsed


def push_files(client, application, environment, files, verify=DEFAULT_VERIFY, restore=False, confirm=None,
               safety_backup=True, allow_live=False, options=None, check_mode=False, sleep=time.sleep,
               clock=time.monotonic):
    """The ``backup_upload`` task for a Python caller, ``options`` (``UploadOptions``) its timeouts and notes: see
    ``push_with``."""
    options = PushOptions(application, environment, files, verify, restore, confirm, safety_backup, allow_live,
                          upload=options or UploadOptions(), check_mode=check_mode)
    return push_with(client, options, sleep, clock)


def push_with(client, options, sleep=time.sleep, clock=time.monotonic):
    """The ``backup_upload`` task with its checked ``options`` (``PushOptions``): returns ``{"changed", "backup",
    "parts", "safety_backup", "restore"}``."""
    upload = options.upload
    target = Environment(client, options.application, options.environment)
    if options.restore:
        guard_target(target, options.confirm, options.allow_live)
    instances = [target.instance(service) for service, _path in options.files]
    if len(set(i["uuid"] for i in instances)) != len(instances):
        raise InputError("files: two files name the same service instance of %s; give one file per service." % target.name)
    checked = [dict(check_local_file(service, path, options.verify, upload.upload_timeout), instance=instance)
               for (service, path), instance in zip(options.files, instances)]
    parts = [{"service": label(c["instance"]), "service_instance": c["instance"]["uuid"], "path": c["path"],
              "bytes": c["size"], "format": c["format"], "verification": c["verification"]} for c in checked]
    result = {"changed": True, "backup": None, "parts": parts, "safety_backup": None, "restore": None}
    if options.check_mode:
        return result
    steps = Steps()
    why = "restoring uploaded files into %s (divio.cloud.backup_upload)" % target.name
    try:
        if options.restore and options.safety_backup:
            result["safety_backup"] = take_safety_backup(client, target, [p["service"] for p in parts], why, upload,
                                                         sleep, clock)
            steps.add("safety backup %s of %s was taken" % (result["safety_backup"]["uuid"], target.name))
        result["backup"], sent = upload_parts(client, target, checked, upload, steps, sleep, clock)
        for part, item in zip(parts, sent):
            part.update(handler=item["handler"], sha256=item["sha256"])
        if options.restore:
            result["restore"] = restore_uploaded(client, target, result["backup"]["uuid"], sent, why, upload, sleep, clock)
    except DivioError as exc:
        raise steps.failed(exc, "the upload into %s" % target.name) from None
    return result
