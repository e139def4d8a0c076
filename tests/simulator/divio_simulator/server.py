"""An HTTP server that answers like the Divio Cloud API v3 (read-only part), for tests and benchmarks.

Stdlib only. Each request is answered by :class:`_Handler`: the path is resolved to a route, the route
and the HTTP method select a handler method in one dispatch table, and every answer leaves through
:meth:`_Handler._send_json`. Control endpoints under ``/_simulator/`` (no authentication) let tests read
request counters and change settings at runtime.

Fault injection: with ``fail_applications`` set (slugs), every authenticated request that concerns one of
those applications answers 500 - its detail, the details of its environments, deployments, service
instances, backups and service-instance backups, and list filters naming it or one of its environments.
Unfiltered lists still answer, since they are not about one application.

With ``faults`` set (a :class:`~divio_simulator.faults.FaultPlan` or its settings), API requests that would
be answered normally (after the token and method checks) go wrong at a chosen rate or on chosen request
numbers: error statuses, 429 with Retry-After, stalls, connection resets, truncated or cut-off bodies, HTML
pages, and broken pagination (see faults.py). Control endpoints are never faulted. Without a plan the cost
is one attribute check per request. ``stats()["faults"]`` counts the injected faults by kind.

With churn on (``churn_rate`` changes per second, or ``churn_per_request``; ``churn_seed``), backups are
created and deleted at random positions of the lists while clients read (churn.py); ``stats()["churn"]``
counts them and names the environments they touched. Backups whose ``scheduled_for_deletion_at`` has
passed are deleted before a request is answered, as the platform deletes them (``Dataset.expire``).
"""

import base64
import contextlib
import email.utils
import json
import logging
import socket
import socketserver
import struct
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from .churn import SHIFTABLE, Churn
from .data import SIZES, generate_dataset
from .faults import LIST_KINDS, STATUS_KINDS, FaultPlan
from .jobs import OUTCOMES, BackupJobs
from .deployments import HANDLERS as DEPLOYMENT_HANDLERS
from .deployments import DeploymentHandlers, DeploymentJobs, deployment_settings, split_subresource
from .envvars import HANDLERS as ENVIRONMENT_VARIABLE_HANDLERS
from .envvars import EnvironmentVariableHandlers, split_environment_logs
from .downloads import HANDLERS as DOWNLOAD_HANDLERS
from .downloads import SLASHLESS_DETAILS, DownloadHandlers, DownloadJobs, Storage, download_settings
from .restores import HANDLERS as RESTORE_HANDLERS
from .restores import RestoreHandlers, RestoreJobs, restore_settings
from .uploads import HANDLERS as UPLOAD_HANDLERS
from .uploads import UPLOAD_PATH, UploadHandlers, UploadJobs, split_finish, upload_settings

NOT_JSON = object()  # a request body that does not parse as JSON

LOG = logging.getLogger("divio_simulator")

DEFAULT_TOKEN = "simulator-token"
CONTROL_PREFIX = "/_simulator/"
REQUEST_LOG_SIZE = 10000


@dataclass(frozen=True)
class Resource:
    """A list endpoint (``path``) and its detail endpoint (``path<uuid>/``) over one data set list."""

    name: str  # attribute of the Dataset
    path: str
    # (query parameter, value must be a UUID) pairs; each one is backed by a Dataset index
    filters: tuple = ()
    # filters the real API does not document; honoured only while the server is told to
    optional_filters: tuple = ()


RESOURCES = (
    Resource("organisations", "/iam/v3/organisations/"),
    Resource("regions", "/apps/v3/regions/"),
    Resource("applications", "/apps/v3/applications/", (("slug", False), ("organisation", True))),
    Resource("environments", "/apps/v3/environments/", (("application", True), ("slug", False))),
    Resource("deployments", "/apps/v3/deployments/", (("application", True), ("environment", True))),
    Resource("service_instances", "/apps/v3/service-instances/", (("environment", True),)),
    Resource("backups", "/apps/v3/backups/", (("environment", True),), optional_filters=("environment",)),
    Resource("service_instance_backups", "/apps/v3/service-instance-backups/"),
    Resource("environment_variables", "/apps/v3/environment-variables/",
             (("environment", True), ("application", True), ("name", False))),
    Resource("backup_downloads", "/apps/v3/backup-downloads/"),  # downloads.py
    Resource("backup_download_service_instances", "/apps/v3/backup-download-service-instances/"),
    Resource("backup_restores", "/apps/v3/backup-restores/"),  # restores.py
)
RESOURCES_BY_PATH = {r.path: r for r in RESOURCES}
ROOT_PATH = "/apps/v3/"
ME_PATH = "/iam/v3/me/"
SIMULATED_ERROR = {"detail": "Internal server error (simulated)."}
FAULT_DETAILS = {
    "500": SIMULATED_ERROR["detail"],
    "502": "Bad gateway (simulated).",
    "503": "Service temporarily unavailable (simulated).",
    "504": "Gateway timeout (simulated).",
}
# What a reverse proxy in front of the API answers when the application behind it is down.
PROXY_ERROR_PAGE = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
                    b"</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
MAINTENANCE_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>\n<body><h1>We'll be right "
                    b"back</h1><p>The Divio Control Panel is being updated.</p></body></html>\n")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):
        # HTTPServer.server_bind() calls socket.getfqdn(), a reverse DNS look-up that can stall start-up.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        # A client hanging up mid-answer is normal for tests and benchmarks; no traceback on stderr.
        LOG.debug("connection error from %s", client_address, exc_info=True)


class SimulatorServer:
    """The simulator: ``start()`` serves in a background thread until ``stop()``."""

    CONFIG_KEYS = ("honour_backup_environment_filter", "latency_ms", "max_page_size", "default_page_size",
                   "fail_applications", "faults", "backup_duration_seconds", "backup_outcome", "deployments",
                   "churn_rate", "churn_seed", "churn_per_request", "page_size_ignored", "null_count", "cursor_links",
                   "shift_lists", "shift_limit", "downloads", "restores", "uploads")

    def __init__(self, dataset, token=DEFAULT_TOKEN, host="127.0.0.1", port=0, honour_backup_environment_filter=True,
                 max_page_size=100, default_page_size=20, latency_ms=0, fail_applications=(), faults=None,
                 backup_duration_seconds=2.0, backup_outcome="SUCCESS", deployments=None, churn_rate=0.0, churn_seed=0,
                 churn_per_request=0, downloads=None, restores=None, uploads=None, s3=None, azure=None):
        self.dataset = dataset
        self._token = token
        self.host = host
        self.port = port
        self.honour_backup_environment_filter = True
        self.latency_ms = 0
        self.max_page_size = 100
        self.default_page_size = 20
        self.fail_applications = []
        self.faults = None  # a FaultPlan, or None: no faults
        # Backups created with POST /apps/v3/backups/: how long they run and how they end (jobs.py).
        self.backup_duration_seconds = 2.0
        self.backup_outcome = "SUCCESS"
        self.jobs = BackupJobs(dataset)
        # Backups created and deleted while clients read (churn.py): changes per second, or per request.
        self.churn = Churn(dataset)
        self.churn_rate = 0.0
        self.churn_seed = 0
        self.churn_per_request = 0
        # How lists are cut (``_send_page``), and the lists where a change hides from ``count`` (``Churn.shift``).
        self.page_size_ignored = False
        self.null_count = False
        self.cursor_links = False
        self.shift_lists = []
        self.shift_limit = 0  # shifts still to make; 0: one before every page after the first
        # Deployments: their life cycle, logs and variables (deployments.py); ``deployments`` holds its settings.
        self.deployment_jobs = DeploymentJobs(dataset)
        self.deployments = deployment_settings(None, dataset)
        # Backup downloads and the object storage serving their files (downloads.py); restores (restores.py).
        self.download_jobs = DownloadJobs(dataset)
        self.downloads = download_settings(None)
        self.storage = None
        self.restore_jobs = RestoreJobs(dataset)
        self.restores = restore_settings(None)
        # Backups made from uploaded files, through the object storage (uploads.py).
        # s3 / azure: the stand-ins serving the s3-sts-v1 and az-sas-v1 handlers (standins.py), or None.
        self.upload_jobs = UploadJobs(dataset, self.jobs)
        self.upload_jobs.standins = {"s3": s3, "azure": azure}
        self.restore_jobs.uploaded = self.upload_jobs.files
        self.uploads = upload_settings(None)
        self.configure(honour_backup_environment_filter=honour_backup_environment_filter, latency_ms=latency_ms,
                       max_page_size=max_page_size, default_page_size=default_page_size,
                       fail_applications=list(fail_applications), faults=faults,
                       backup_duration_seconds=backup_duration_seconds, backup_outcome=backup_outcome,
                       deployments=deployments, churn_rate=churn_rate, churn_seed=churn_seed,
                       churn_per_request=churn_per_request, downloads=downloads, restores=restores,
                       uploads=uploads)
        self._lock = threading.Lock()
        self._total = 0
        self._by_path = Counter()
        self._by_method = Counter()
        self._faults_injected = Counter()
        self._stopping = threading.Event()  # ends stalls early when the server stops
        self._log = deque(maxlen=REQUEST_LOG_SIZE)
        self._epoch = 0  # one more on each reset_stats: answers to requests from before it are not logged
        self._httpd = None
        self._thread = None
        self._connections = set()

    # -- life cycle ------------------------------------------------------------------------------

    @property
    def url(self):
        """Base URL, e.g. ``http://127.0.0.1:8000``; links in answers are built from it."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self):
        """Bind (port 0 picks a free port) and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            raise RuntimeError("simulator already started")
        handler = type("Handler", (_Handler,), {"simulator": self})
        if ":" in self.host:
            httpd_class = type("_HTTPServer6", (_HTTPServer,), {"address_family": socket.AF_INET6})
        else:
            httpd_class = _HTTPServer
        self._httpd = httpd_class((self.host, self.port), handler)
        self._stopping.clear()
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"divio-simulator-{self.port}", daemon=True)
        self._thread.start()
        self.storage = self._start_storage(httpd_class)
        self.storage.main.uploads, self.upload_jobs.origin_url = self.upload_jobs, self.storage.main.url
        self.churn.start()
        return self

    def _start_storage(self, httpd_class):
        """The object storage origins, on another loopback address than the API (127.0.0.2), as on the platform
        the storage's host is not the API's: a client's netrc entry or cookies for the API's host must not reach
        them. Where that address cannot be bound (only 127.0.0.1 is loopback on some systems; IPv6 has one), the
        API's host."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "localhost") else self.host
        if host.startswith("127."):
            try:
                return Storage(self.download_jobs, lambda: self.downloads, httpd_class,
                               "127.0.0.3" if host == "127.0.0.2" else "127.0.0.2").start()
            except OSError:
                LOG.warning("cannot bind the object storage to another loopback address; it shares %s", host)
        return Storage(self.download_jobs, lambda: self.downloads, httpd_class, host).start()

    def stop(self):
        """Stop serving and close the listening socket and any kept-alive connection."""
        if self._httpd is None:
            return
        self.churn.stop()
        self.storage.stop()
        self._stopping.set()
        self._httpd.shutdown()
        # Kept-alive connections would otherwise go on being answered by their daemon threads.
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- settings and counters -------------------------------------------------------------------

    def config(self):
        """The settings that can change at runtime."""
        config = {key: getattr(self, key) for key in self.CONFIG_KEYS}
        config["fail_applications"] = list(self.fail_applications)  # a copy: changing it changes no setting
        config["faults"] = self.faults.config() if self.faults is not None else None
        return config

    def attach_standins(self, s3=None, azure=None):
        """Serve the ``s3-sts-v1`` / ``az-sas-v1`` upload handlers through these stand-ins (standins.MotoS3 /
        standins.Azurite); None leaves one as it is. Then ``configure(uploads={"handler": ...})`` may name them."""
        for name, standin in (("s3", s3), ("azure", azure)):
            if standin is not None:
                self.upload_jobs.standins[name] = standin
        return self

    def restored(self, environment=None):
        """What successful restores put where, oldest first (restores.py): ``{"restore", "environment",
        "service_instance", "service_instance_backup", "uploaded", "size", "sha256"}``, optionally of one
        environment (uuid)."""
        return [dict(r) for r in self.restore_jobs.applied if environment in (None, r["environment"])]

    def configure(self, **settings):
        """Change runtime settings (see ``CONFIG_KEYS``); returns the new config. Raises ValueError.

        ``faults``: None or ``{}`` for none, else a ``FaultPlan`` or a dict of its settings (``rate``,
        ``kinds``, ``seed``, ``only_paths``, ``on_requests``, ``stall_seconds``, ``retry_after``). Each call
        starts a new plan: request numbers count from 1 again and the random sequence restarts.
        """
        unknown = sorted(set(settings) - set(self.CONFIG_KEYS))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        checked = {}
        for key, value in settings.items():
            if key == "honour_backup_environment_filter":
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif key == "latency_ms":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(f"{key} must be a number >= 0")
            elif key == "fail_applications":
                if not isinstance(value, (list, tuple)) or not all(isinstance(slug, str) and slug for slug in value):
                    raise ValueError(f"{key} must be a list of application slugs")
                value = list(value)
            elif key == "faults":
                value = FaultPlan.from_config(value)
            elif key == "backup_duration_seconds":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(f"{key} must be a number >= 0")
            elif key == "backup_outcome":
                if value not in OUTCOMES:
                    raise ValueError(f"{key} must be one of {', '.join(OUTCOMES)}")
            elif key == "deployments":
                value = deployment_settings(value, self.dataset)
            elif key == "downloads":
                value = download_settings(value)
            elif key == "restores":
                value = restore_settings(value)
            elif key == "uploads":
                value = upload_settings(value, self.upload_jobs.standins)
            elif key == "churn_rate":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10000:
                    raise ValueError(f"{key} must be a number of changes per second between 0 and 10000")
            elif key == "churn_seed":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{key} must be an integer")
            elif key in ("page_size_ignored", "null_count", "cursor_links"):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif key == "shift_lists":
                if not isinstance(value, (list, tuple)) or not set(value) <= set(SHIFTABLE):
                    raise ValueError(f"{key} must be a list of: {', '.join(SHIFTABLE)}")
                value = list(value)
            elif key == "shift_limit":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{key} must be an integer >= 0 (0: no limit)")
            elif key == "churn_per_request":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
                    raise ValueError(f"{key} must be an integer between 0 and 1000")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an integer >= 1")
            checked[key] = value
        # Validate everything first so that a bad request changes nothing.
        for key, value in checked.items():
            setattr(self, key, value)
        if "shift_limit" in checked:
            self.churn.shifts_left = self.shift_limit or None
        if checked.keys() & {"churn_rate", "churn_seed", "churn_per_request"}:
            # Any churn setting starts the churn over (its generator restarts from the seed).
            self.churn.configure(self.churn_rate, self.churn_seed, self.churn_per_request)
        return self.config()

    def stats(self):
        """Request counters: total, by path (without query), by method, and injected faults by kind; control
        calls are not counted."""
        with self._lock:
            stats = {"requests": self._total, "by_path": dict(self._by_path), "by_method": dict(self._by_method),
                     "faults": dict(self._faults_injected)}
        churn = self.churn.stats()
        if self.churn.active or churn["created"] or churn["deleted"]:
            stats["churn"] = churn  # kept after churn is turned off, until the counters are reset
        return stats

    def reset_stats(self):
        """Zero the counters and clear the request log."""
        with self._lock:
            self._total = 0
            self._by_path.clear()
            self._by_method.clear()
            self._faults_injected.clear()
            self._log.clear()
            self._epoch += 1
        self.churn.reset_stats()

    @property
    def requests(self):
        """The last requests answered, oldest first: ``[(method, path_with_query, status), ...]``; status 0 for
        a connection reset by a fault (no answer at all)."""
        with self._lock:
            return list(self._log)

    def _count(self, method, path):
        """Count a request; returns the epoch to hand to ``_record`` with its answer."""
        with self._lock:
            self._total += 1
            self._by_path[path] += 1
            self._by_method[method] += 1
            return self._epoch

    def _count_fault(self, kind):
        with self._lock:
            self._faults_injected[kind] += 1

    def _record(self, method, target, status, epoch=None):
        """Log an answer, unless the request came before the last ``reset_stats`` (a stalled or slow
        answer from an earlier test must not show up in the next one's log). ``epoch`` None: now."""
        with self._lock:
            if epoch is None or epoch == self._epoch:
                self._log.append((method, target, status))

    def _application_of(self, resource_name, key):
        """Slug of the application a record (resource name, uuid) belongs to, else None.

        At most three look-ups in the data set's uuid indexes (built once per data set), so records added
        later are found too.
        """
        by_uuid = self.dataset.by_uuid
        item = by_uuid.get(resource_name, {}).get(key)
        if item is None:
            return None
        if resource_name == "service_instance_backups":
            resource_name, item = "backups", by_uuid["backups"].get(item["backup"])
        if item is not None and resource_name in ("deployments", "service_instances", "backups", "environment_variables"):
            resource_name, item = "environments", by_uuid["environments"].get(item["environment"])
        if item is not None and resource_name == "environments":
            resource_name, item = "applications", by_uuid["applications"].get(item["application"])
        return item.get("slug") if item is not None and resource_name == "applications" else None

    def filter_id(self, value):
        """The id a filter value names, or None when it is malformed (a 400).

        With UUIDs (``id_style`` "uuid") the server behaves like Django's UUIDField: any spelling of a
        UUID, normalised; anything else is malformed. Divio's own ids are opaque strings compared as they
        are: a value that names nothing matches nothing.
        """
        if self.dataset.id_style != "uuid":
            return value
        try:
            return str(uuid.UUID(value))
        except ValueError:
            return None

    def _check_token(self, header):
        """None when ``header`` authenticates, else the DRF error message for a 401."""
        if not header:
            return "Authentication credentials were not provided."
        parts = header.split()
        # DRF's TokenAuthentication: the keyword is case-insensitive; another scheme means "no credentials".
        if parts[0].lower() != "token":
            return "Authentication credentials were not provided."
        if len(parts) == 1:
            return "Invalid token header. No credentials provided."
        if len(parts) > 2:
            return "Invalid token header. Token string should not contain spaces."
        return None if parts[1] == self._token else "Invalid token."


class _Handler(DeploymentHandlers, EnvironmentVariableHandlers, DownloadHandlers, RestoreHandlers, UploadHandlers,
               BaseHTTPRequestHandler):
    """One connection; ``simulator`` is set on a per-server subclass."""

    simulator = None  # type: SimulatorServer
    protocol_version = "HTTP/1.1"  # keep-alive, so clients reuse connections
    server_version = "DivioAPISimulator/1.0"
    sys_version = ""
    timeout = 120  # drop idle kept-alive connections eventually
    # Headers and body are two writes; with Nagle on, the second waits for a delayed ACK (40 ms a request).
    disable_nagle_algorithm = True

    # The dispatch table: (route kind, method) -> handler method name, for every resource; a per-resource
    # entry (resource name, kind, method) adds or overrides one, e.g. POST /apps/v3/backups/ would be
    # ("backups", "list", "POST"): "_create_backup".
    GENERIC_HANDLERS = {
        ("root", "GET"): "_get_root",
        ("me", "GET"): "_get_me",
        ("list", "GET"): "_get_list",
        ("detail", "GET"): "_get_detail",
    }
    RESOURCE_HANDLERS = {("backups", "list", "POST"): "_create_backup", **DEPLOYMENT_HANDLERS, **ENVIRONMENT_VARIABLE_HANDLERS,
                         **DOWNLOAD_HANDLERS, **RESTORE_HANDLERS, **UPLOAD_HANDLERS}
    CONTROL_HANDLERS = {
        ("stats", "GET"): "_control_stats",
        ("reset", "POST"): "_control_reset",
        ("config", "GET"): "_control_config",
        ("config", "POST"): "_control_config",
    }

    # -- plumbing --------------------------------------------------------------------------------

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        with self.simulator._lock:
            self.simulator._connections.add(self.connection)

    def finish(self):
        with self.simulator._lock:
            self.simulator._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format, *args):
        # BaseHTTPRequestHandler would write every request line to stderr; requests are logged in _send_json.
        LOG.debug(format, *args)

    def do_GET(self):
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_json(self, status, body, headers=None):
        """Every JSON answer (all but the injected HTML pages) leaves here."""
        # Like DRF: compact, UTF-8, non-ASCII characters left as they are.
        self._send_body(status, json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
                        "application/json", headers)

    def _send_body(self, status, data, content_type, headers=None):
        """The one place every answer is written (and logged and recorded), and body faults applied."""
        length = len(data)
        fault = self._fault if self.command != "HEAD" else None
        if fault == "partial-json":
            data = data[:len(data) // 2]  # a complete HTTP message with half a JSON document
            length = len(data)
            self.simulator._count_fault(fault)
        elif fault == "truncated":
            data = data[:len(data) // 2]  # Content-Length promises the whole body; half arrives, then EOF
            self.close_connection = True
            self.simulator._count_fault(fault)
        if not self._control:
            # Before the answer leaves: a client that has it finds it in the log.
            self.simulator._record(self.command, self.path, status, self._epoch)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        # Method, path and status only: headers (and so the token) are never logged.
        LOG.info("%s %s %s%s", self.command, self.path, status, f" (fault: {fault})" if fault else "")

    def _dispatch(self):
        self._control = False
        self._fault = None
        self._epoch = None  # until counted
        try:
            body = self._read_body()
            parts = urlsplit(self.path)
            self.query = parse_qs(parts.query, keep_blank_values=True)
            path = parts.path
            if path.startswith(CONTROL_PREFIX):
                self._control = True
                self._dispatch_control(path[len(CONTROL_PREFIX):], body)
                return
            sim = self.simulator
            self._epoch = sim._count(self.command, path)
            if sim.latency_ms:
                time.sleep(sim.latency_ms / 1000.0)
            route = self._resolve(path)
            if route is None:
                self._send_json(404, {"detail": "Not found."})
                return
            kind, resource, key = route
            # The root index is the one public endpoint; a finish_url is signed instead (uploads.py).
            if not (kind == "root" and self.command in ("GET", "HEAD")) and kind != "upload-finish":
                error = sim._check_token(self.headers.get("Authorization"))
                if error:
                    self._send_json(401, {"detail": error}, {"WWW-Authenticate": "Token"})
                    return
            allowed = self._allowed_methods(kind, resource)
            method = "GET" if self.command == "HEAD" else self.command
            if method not in allowed:
                self._send_json(405, {"detail": f'Method "{self.command}" not allowed.'}, {"Allow": ", ".join(sorted(allowed))})
                return
            plan = sim.faults
            if plan is not None and self._inject_fault(plan, plan.decide(path, kind == "list")):
                return
            if sim.fail_applications and self._concerns_failing_application(kind, resource, key):
                self._send_json(500, SIMULATED_ERROR)
                return
            sim.jobs.advance()
            sim.dataset.expire()
            if sim.churn.per_request:
                sim.churn.on_request()
            sim.deployment_jobs.advance(sim.deployments)
            sim.download_jobs.advance()
            sim.restore_jobs.advance()
            getattr(self, allowed[method])(resource, key, body)
        except (ConnectionError, socket.timeout):
            raise
        except Exception:
            LOG.exception("error answering %s %s", self.command, self.path)
            self._send_json(500, {"detail": "Simulator error."})

    # -- fault injection (faults.py) ----------------------------------------------------------------

    def _inject_fault(self, plan, fault):
        """Answer with ``fault`` and return True, or arrange for it to be applied to the normal answer
        (body and pagination faults) and return False."""
        if fault is None:
            return False
        sim = self.simulator
        if fault in STATUS_KINDS:
            sim._count_fault(fault)
            self._send_json(int(fault), {"detail": FAULT_DETAILS[fault]})
        elif fault in ("429-seconds", "429-date"):
            sim._count_fault(fault)
            wait = plan.retry_after
            if fault == "429-seconds":
                retry_after = str(wait)
            else:
                # An HTTP-date has whole seconds: round up so that the date is never before now + wait.
                retry_after = email.utils.formatdate(int(time.time()) + 1 + wait, usegmt=True)
            self._send_json(429, {"detail": f"Request was throttled. Expected available in {wait} seconds."},
                            {"Retry-After": retry_after})
        elif fault in ("html", "html-200"):
            sim._count_fault(fault)
            self._send_body(502 if fault == "html" else 200, PROXY_ERROR_PAGE if fault == "html" else MAINTENANCE_PAGE,
                            "text/html; charset=utf-8")
        elif fault == "reset":
            sim._count_fault(fault)
            self._reset_connection()
        elif fault == "stall":
            sim._count_fault(fault)
            sim._stopping.wait(plan.stall_seconds)
            return False  # then the normal answer, to a client that has most likely given up
        else:
            self._fault = fault  # truncated, partial-json: _send_body; list faults: _send_page
            self._plan = plan
            return False
        return True

    def _reset_connection(self):
        """Drop the connection with a TCP RST (SO_LINGER 0, then close), without any answer."""
        self.simulator._record(self.command, self.path, 0, self._epoch)
        LOG.info("%s %s reset (fault)", self.command, self.path)
        self.close_connection = True
        sock = self.connection
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # rfile holds a reference to the socket: close both so the descriptor really closes now.
        with contextlib.suppress(OSError):
            self.rfile.close()
        with contextlib.suppress(OSError):
            sock.close()

    def _page_fault(self, body, page):
        """Break one list page the way ``self._fault`` says (see faults.py)."""
        fault = self._fault
        if fault == "loop-next":
            body["next"] = self._page_link(page)
        elif fault == "count-mismatch":
            delta = self._plan.draw((-2, -1, 1, 2))
            if body["count"] is not None:
                body["count"] = body["count"] + delta if body["count"] + delta >= 0 else body["count"] - delta
        elif fault == "duplicate-item" and len(body["results"]) > 1:
            body["results"][-1] = body["results"][0]  # one item twice, another never; the count as it was
        elif fault == "empty-next":
            body["results"] = []
            body["next"] = body["next"] or self._page_link(page + 1)
        self.simulator._count_fault(fault)
        self._fault = None
        return body

    def _allowed_methods(self, kind, resource):
        """``{method: handler name}`` for a route; per-resource entries override the generic ones."""
        allowed = {method: name for (k, method), name in self.GENERIC_HANDLERS.items() if k == kind}
        if resource is not None:
            allowed.update({method: name for (r, k, method), name in self.RESOURCE_HANDLERS.items()
                            if r == resource.name and k == kind})
        return allowed

    def _concerns_failing_application(self, kind, resource, key):
        """True when the request is about an application in ``fail_applications`` (see the module docstring)."""
        sim = self.simulator
        failing = set(sim.fail_applications)
        if kind not in ("list", "root", "me"):  # a detail, or a deployment's logs or variables
            return sim._application_of(resource.name, key) in failing
        if kind != "list":
            return False
        for param, is_uuid in resource.filters:
            if param in resource.optional_filters and not sim.honour_backup_environment_filter:
                continue  # an ignored filter names nothing
            values = self.query.get(param)
            value = values[-1] if values else ""
            if not value:
                continue
            if resource.name == "applications" and param == "slug":
                named = value
            elif param in ("application", "environment") and is_uuid:
                value = sim.filter_id(value)
                if value is None:
                    continue  # answered 400 by the filter itself
                named = sim._application_of(param + "s", value)
            else:
                continue
            if named in failing:
                return True
        return False

    def _resolve(self, path):
        """``(kind, resource, uuid)`` for a known path, else None (404)."""
        if path == ROOT_PATH:
            return "root", None, None
        if path == ME_PATH:
            return "me", None, None
        resource = RESOURCES_BY_PATH.get(path)
        if resource:
            return "list", resource, None
        # A backup upload, and its parts' finish_url (uploads.py).
        if path == UPLOAD_PATH:
            return "upload", RESOURCES_BY_PATH["/apps/v3/backups/"], None
        if split_finish(path):
            return "upload-finish", RESOURCES_BY_PATH["/apps/v3/backups/"], split_finish(path)
        # A deployment's "<uuid>/logs" and "<uuid>/environment-variables" (deployments.py).
        subresource = split_subresource(path)
        if subresource:
            return subresource[1], RESOURCES_BY_PATH["/apps/v3/deployments/"], subresource[0]
        # An environment's "<uuid>/logs/" (envvars.py).
        environment = split_environment_logs(path)
        if environment:
            return "logs", RESOURCES_BY_PATH["/apps/v3/environments/"], environment
        # Detail: "<list path><uuid>/"; anything else, including a missing trailing slash, is a 404 - except
        # where divio-cli reads a detail without it (SLASHLESS_DETAILS).
        head, _sep, key = path.rpartition("/")
        resource = RESOURCES_BY_PATH.get(head + "/")
        if resource is not None and key and resource.name in SLASHLESS_DETAILS:
            return "detail", resource, key
        if not path.endswith("/") or path.count("/") < 2:
            return None
        head, key = path[:-1].rsplit("/", 1)
        resource = RESOURCES_BY_PATH.get(head + "/")
        if resource and key:
            return "detail", resource, key
        return None

    def _absolute(self, path):
        return self.simulator.url + path

    # -- API handlers ----------------------------------------------------------------------------

    def _get_root(self, resource, key, body):
        self._send_json(200, {r.path.strip("/").rpartition("/")[2]: self._absolute(r.path) for r in RESOURCES
                              if r.path.startswith(ROOT_PATH)})

    def _create_backup(self, resource, key, body):
        """POST /apps/v3/backups/ as divio-cli sends it: environment, services, trigger, notes."""
        sim = self.simulator
        self._create(sim.jobs, self._json_body(body), sim.backup_outcome, sim.backup_duration_seconds)

    @staticmethod
    def _json_body(body):
        """A POST's JSON body, or ``NOT_JSON``."""
        try:
            return json.loads(body or b"null")
        except ValueError:
            return NOT_JSON

    def _create(self, jobs, data, *args):
        """Answer a POST of ``data`` the way DRF does: 400 for a body that is not JSON or that ``jobs.validate``
        finds fault with, else 201 with what ``jobs.create(data, *args)`` made."""
        if data is NOT_JSON:
            self._send_json(400, {"detail": "JSON parse error."})
            return
        errors = jobs.validate(data)
        if errors:
            self._send_json(400, errors)
            return
        self._send_json(201, jobs.create(data, *args))

    def _get_me(self, resource, key, body):
        self._send_json(200, self.simulator.dataset.user)

    def _get_detail(self, resource, key, body):
        item = self.simulator.dataset.by_uuid[resource.name].get(key)
        if item is None:
            self._send_json(404, {"detail": "Not found."})
        else:
            self._send_json(200, item)

    def _get_list(self, resource, key, body, order=None):
        """A page of the filtered list; ``order(items)``, when given, sorts it first (default: data set order)."""
        items, error = self._filtered(resource)
        if error:
            self._send_json(400, error)
            return
        start = self._page_window(len(items))[0]
        sim = self.simulator
        if resource.name in sim.shift_lists and 0 < (start or 0) <= len(items) and sim.churn.shift(resource.name, items, start):
            items, error = self._filtered(resource)
        self._send_page(order(items) if order is not None else items)

    def _filtered(self, resource):
        """The items matching the honoured filters, or ``(None, error body)`` for a malformed UUID."""
        sim = self.simulator
        dataset = sim.dataset
        items = None
        for param, is_uuid in resource.filters:
            if param in resource.optional_filters and not sim.honour_backup_environment_filter:
                continue
            values = self.query.get(param)
            # Like django-filter: the last value counts; an empty value means "no filter".
            value = values[-1] if values else ""
            if not value:
                continue
            if is_uuid:
                normal = sim.filter_id(value)
                if normal is None:
                    return None, {param: [f"\u201c{value}\u201d is not a valid UUID."]}
                value = normal
            if items is None:
                items = dataset.lookup(resource.name, param, value)
            else:
                # Filters combine with AND; later ones narrow the (already small) indexed match.
                items = [item for item in items if dataset._field_value(resource.name, item, param) == value]
        return (getattr(dataset, resource.name) if items is None else items), None

    def _page_window(self, count):
        """``(start, size, page)`` this request asks of a list of ``count`` items; start None for an invalid page.

        Page-number pagination (``page``, 1-based or ``last``), or with ``cursor_links`` an opaque ``cursor`` that
        only the server reads (an offset, as DRF's LimitOffset and cursor paginations hand out); ``page_size``
        honoured up to ``max_page_size``, or with ``page_size_ignored`` every page ``default_page_size`` long,
        as Django REST framework cuts pages for a view without ``page_size_query_param``."""
        sim = self.simulator
        size = sim.default_page_size
        with contextlib.suppress(ValueError):
            asked = int(self.query.get("page_size", [""])[-1])
            if asked > 0 and not sim.page_size_ignored:
                size = min(asked, sim.max_page_size)
        pages = max(1, -(-count // size))
        if sim.cursor_links:
            cursor = self.query.get("cursor", [""])[-1]
            try:
                start = int(base64.urlsafe_b64decode(cursor).decode("ascii")[2:]) if cursor else 0
            except (ValueError, UnicodeDecodeError):
                start = None
            return start, size, None
        raw_page = self.query.get("page", ["1"])[-1]
        try:
            page = pages if raw_page == "last" else int(raw_page)
        except ValueError:
            page = 0
        return ((page - 1) * size if 1 <= page <= pages else None), size, page

    def _send_page(self, items):
        """One page of ``items`` (see ``_page_window``), with ``count`` (null with ``null_count``) and links."""
        sim = self.simulator
        count = len(items)
        start, size, page = self._page_window(count)
        if start is None or start < 0:
            self._send_json(404, {"detail": "Invalid cursor" if sim.cursor_links else "Invalid page."})
            return
        if sim.cursor_links:
            following = self._cursor_link(start + size) if start + size < count else None
            previous = self._cursor_link(max(start - size, 0)) if start > 0 else None
        else:
            following = self._page_link(page + 1) if start + size < count else None
            previous = self._page_link(page - 1) if page > 1 else None
        body = {"count": None if sim.null_count else count, "next": following, "previous": previous,
                "results": items[start:start + size]}
        if self._fault in LIST_KINDS:
            body = self._page_fault(body, page or start // size + 1)
        self._send_json(200, body)

    def _cursor_link(self, offset):
        return self._page_link(None, base64.urlsafe_b64encode(b"o=%d" % offset).decode("ascii"))

    def _page_link(self, page, cursor=None):
        """Absolute link to another page, keeping every other query parameter (sorted, as DRF does)."""
        query = {key: values for key, values in self.query.items() if key not in ("page", "cursor")}
        # DRF drops the page parameter from the link to page 1.
        if cursor is not None:
            query["cursor"] = [cursor]
        elif page > 1:
            query["page"] = [str(page)]
        path = urlsplit(self.path).path
        encoded = urlencode(sorted(query.items()), doseq=True)
        return self._absolute(path + ("?" + encoded if encoded else ""))

    # -- control endpoints -----------------------------------------------------------------------

    def _dispatch_control(self, name, body):
        handler = self.CONTROL_HANDLERS.get((name, "GET" if self.command == "HEAD" else self.command))
        if handler is None:
            if any(key[0] == name for key in self.CONTROL_HANDLERS):
                self._send_json(405, {"detail": f'Method "{self.command}" not allowed.'})
            else:
                self._send_json(404, {"detail": "Not found."})
            return
        getattr(self, handler)(body)

    def _control_stats(self, body):
        self._send_json(200, self.simulator.stats())

    def _control_reset(self, body):
        self.simulator.reset_stats()
        self._send_json(200, self.simulator.stats())

    def _control_config(self, body):
        if self.command == "POST":
            try:
                settings = json.loads(body or b"{}")
                if not isinstance(settings, dict):
                    raise ValueError("a JSON object is expected")
                self.simulator.configure(**settings)
            except ValueError as exc:  # json.JSONDecodeError is a ValueError too
                self._send_json(400, {"detail": str(exc)})
                return
        self._send_json(200, self.simulator.config())


@contextlib.contextmanager
def run_simulator(dataset=None, *, seed=1, size="demo", **server_args):
    """Context manager yielding a started :class:`SimulatorServer` (port 0 = a free port unless given).

    Without ``dataset``, one is generated from ``seed`` and the ``size`` preset. ``server_args`` go to
    :class:`SimulatorServer`, e.g. ``faults={"rate": 0.1, "seed": 7}``.
    """
    if dataset is None:
        dataset = generate_dataset(seed=seed, **SIZES[size])
    server = SimulatorServer(dataset, **server_args).start()
    try:
        yield server
    finally:
        server.stop()
