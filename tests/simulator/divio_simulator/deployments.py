"""Deployments: started through the API (POST /apps/v3/deployments/), progressing with time, with logs and the
environment variables they ran with - what ``divio app deploy`` / ``deploy-log`` / ``deployments`` read.

Life cycle of a new deployment lasting ``duration_seconds``: queued (status ``NEW``, ``started_at`` null,
``percent`` 0) for the first tenth, then running (``WORKING``, ``percent`` rising) and finally ended
(``COMPLETED``, ``ended_at`` set, ``success`` true, ``percent`` 100); its environment's
``last_finished_deployment`` then names it. In a failing environment it ends
at three quarters with ``success`` false and ``percent`` where it stopped; its log ends in a failed release
command whose output quotes the environment's database DSN and secret key (realistic, and what a client
must scrub). Deployments of the data set that are still running (the newest of shop/live) are adopted
at the simulator's first request and end ``duration_seconds`` later, so attaching to them ends too.

Like backups (jobs.py), the records are the data set's own dicts, brought up to date before every
request, so list and detail views agree; lists are newest first, as the real API's are. Ids follow the data
set's ``id_style``, times its clock.

Not seen in any source, so chosen here: the status names (the data set's), a 400 for a POST while a
deployment of that environment is queued or running (the control panel allows one at a time), and the
text of the logs.

Settings (``SimulatorServer(deployments={...})`` or ``configure(deployments={...})``, each call starting
from the defaults): ``duration_seconds`` (float >= 0, default 3), ``failing_environments`` (list of
``"application/environment"`` slugs whose deployments fail; default: the data set's
``troubles["deployment_fails"]``), ``log_extra`` (lines added to the logs of new deployments, for tests),
``encoded_secrets`` (names of variables whose values every log also quotes the way build output does: in a
JSON settings dump, a Python ``repr``, a URL's query (``+`` for a space) and user info (``%20``, lower-case
hex), an HTTP Basic header at each of the three base64 alignments and as base64 alone; default none).
"""

import base64
import json
import random
import re
import threading
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, quote_plus

from .envvars import deployment_variables
from .jobs import _iso

PATH = "/apps/v3/deployments/"
SUBRESOURCES = ("logs", "environment-variables")
BUILD_MODES = ("AUTO", "ADOPT", "FORCE")
DEFAULTS = {"duration_seconds": 3.0, "failing_environments": None, "log_extra": [], "encoded_secrets": []}
QUEUED_SHARE = 0.1
FAILS_AT_SHARE = 0.75


def split_subresource(path):
    """``(deployment uuid, "logs" | "environment-variables")`` for ``/apps/v3/deployments/<uuid>/<name>``
    (no trailing slash, the form divio-cli asks for), else None."""
    if not path.startswith(PATH):
        return None
    key, _sep, name = path[len(PATH):].partition("/")
    return (key, name) if key and name in SUBRESOURCES else None


def _slug_pairs(dataset):
    """``{"application/environment": environment uuid}`` by the slugs as they are and, first, as they were generated."""
    apps = {app["uuid"]: app["slug"] for app in dataset.applications}
    pairs = {f"{apps[env['application']]}/{env['slug']}": env["uuid"] for env in dataset.environments}
    pairs.update(dataset.generated_environment_names())
    return pairs


def deployment_settings(value, dataset):
    """Validated settings (see the module docstring) over the defaults; raises ValueError."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValueError("deployments must be an object of settings")
    unknown = sorted(set(value) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown deployments setting(s): {', '.join(unknown)}")
    settings = dict(DEFAULTS, **value)
    duration = settings["duration_seconds"]
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration <= 3600:
        raise ValueError("deployments.duration_seconds must be a number from 0 to 3600")
    failing = settings["failing_environments"]
    if failing is None:
        failing = [f"{t['application']}/{t['environment']}" for t in dataset.troubles.get("deployment_fails", [])]
    known = _slug_pairs(dataset)
    if not isinstance(failing, list) or not all(isinstance(item, str) and item in known for item in failing):
        raise ValueError("deployments.failing_environments must be a list of application/environment slugs of the "
                         "data set, e.g. [\"wiki/live\"]")
    if not isinstance(settings["log_extra"], list) or not all(isinstance(line, str) for line in settings["log_extra"]):
        raise ValueError("deployments.log_extra must be a list of strings")
    encoded = settings["encoded_secrets"]
    if not isinstance(encoded, list) or not all(isinstance(name, str) and name for name in encoded):
        raise ValueError("deployments.encoded_secrets must be a list of environment variable names")
    return {"duration_seconds": duration, "failing_environments": list(failing), "log_extra": list(settings["log_extra"]),
            "encoded_secrets": list(encoded)}


def encoded_lines(name, value):
    """Log lines quoting ``value`` (of variable ``name``) encoded, as build tools and libraries print them."""
    data = value.encode("utf-8")
    lower = re.sub("%[0-9A-F]{2}", lambda match: match.group(0).lower(), quote(value, safe=""))
    return [
        "settings: " + json.dumps({name: value}),
        "environ: " + repr({name: value}),
        f"GET https://hooks.simulator.invalid/check?{name.lower()}={quote_plus(value, safe='')}&v=1",
        f"connecting to smtp://mailer:{lower}@smtp.simulator.invalid:587",
        *[f"Authorization: Basic {base64.b64encode(user + data).decode()}" for user in (b"ci:", b"deploy:", b"root:")],
        f"X-{name}: {base64.b64encode(data).decode()}",
    ]


def _parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class _Job:
    """One deployment progressing with the monotonic clock; ``start_percent`` > 0 for an adopted one."""

    def __init__(self, record, environment, wall, duration, success, build_mode, extra, queued=True, start_percent=0):
        self.record = record
        self.environment = environment
        self.started = time.monotonic()
        self.wall = wall
        self.duration = duration
        self.success = success
        self.build_mode = build_mode
        self.extra = extra
        self.queued_for = duration * QUEUED_SHARE if queued else 0.0
        self.ends_after = duration * (1 if success else FAILS_AT_SHARE)
        self.start_percent = start_percent
        self.progress = 0.0  # share of the work done, 0..1 (of the whole run, failure or not)

    def step(self):
        """Bring the record up to date; True once it has ended."""
        record = self.record
        if record["ended_at"] is not None:
            return True  # ended by another simulator sharing this data set
        elapsed = min(time.monotonic() - self.started, self.ends_after)  # a failed one stops where it failed
        if elapsed >= self.queued_for and record["status"] == "NEW":
            record.update(status="WORKING", started_at=_iso(self.wall + timedelta(seconds=self.queued_for)))
        running_time = self.duration - self.queued_for
        done = 1.0 if running_time <= 0 else max(0.0, min(1.0, (elapsed - self.queued_for) / running_time))
        self.progress = max(self.progress, done)
        if record["status"] == "WORKING":
            percent = int(self.start_percent + (100 - self.start_percent) * min(self.progress, 0.99))
            record["percent"] = max(record.get("percent") or 0, percent)
        if time.monotonic() - self.started < self.ends_after:
            return False
        if record["started_at"] is None:
            record["started_at"] = _iso(self.wall + timedelta(seconds=self.queued_for))
        record.update(status="COMPLETED", success=self.success, ended_at=_iso(self.wall + timedelta(seconds=self.ends_after)))
        if self.success:
            record["percent"] = 100
        # divio-cli's deploy-log reads the environment's last_finished_deployment.
        self.environment["last_finished_deployment"] = {"uuid": record["uuid"]}
        return True


class DeploymentJobs:
    def __init__(self, dataset):
        self.dataset = dataset
        self._jobs = {}  # uuid -> _Job, kept after the end for the logs
        self._running = []
        self._lock = threading.Lock()
        self._sort_keys = {}
        self._adopted = False
        self._rng = random.Random("deployments")

    def _adopt(self, settings):
        """Take over the data set's running deployments, from the first request on."""
        failing = self._failing_uuids(settings)
        now = self.dataset.clock()
        for record in self.dataset.deployments:
            if record["ended_at"] is None and record["uuid"] not in self._jobs:
                environment = self.dataset.by_uuid["environments"][record["environment"]]
                self._add_job(_Job(record, environment, now, settings["duration_seconds"], record["environment"] not in failing,
                                   None, [], queued=False, start_percent=record.get("percent") or 0))
        self._adopted = True

    def _failing_uuids(self, settings):
        known = _slug_pairs(self.dataset)
        return {known[pair] for pair in settings["failing_environments"]}

    def _add_job(self, job):
        with self._lock:
            self._jobs[job.record["uuid"]] = job
            self._running.append(job)

    def advance(self, settings):
        """Bring every running deployment up to date with the clock (``settings``: the server's)."""
        if not self._adopted:
            self._adopt(settings)
        if not self._running:
            return
        with self._lock:
            self._running = [job for job in self._running if not job.step()]

    def newest_first(self, items):
        def key(item):
            found = self._sort_keys.get(item["uuid"])
            if found is None:
                found = self._sort_keys[item["uuid"]] = _parse(item["started_at"]) if item["started_at"] else self.dataset.clock()
            return found

        return sorted(items, key=key, reverse=True)

    # -- POST /apps/v3/deployments/ ------------------------------------------------------------------

    def validate(self, body):
        """The DRF-style 400 body for a bad request, or None."""
        if not isinstance(body, dict):
            return {"non_field_errors": ["Invalid data. Expected a dictionary."]}
        env = self.dataset.by_uuid["environments"].get(str(body.get("environment")))
        if env is None:
            return {"environment": [f'Invalid pk "{body.get("environment")}" - object does not exist.']}
        mode = body.get("build_mode", "AUTO")
        if mode not in BUILD_MODES:
            return {"build_mode": [f'"{mode}" is not a valid choice.']}
        if any(d["ended_at"] is None for d in self.dataset.lookup("deployments", "environment", env["uuid"])):
            return {"non_field_errors": ["A deployment of this environment is already in progress."]}
        return None

    def create(self, body, settings):
        now = self.dataset.clock()
        with self._lock:
            new_id = self.dataset.new_id(self._rng)
        record = {"uuid": new_id, "environment": body["environment"], "started_at": None, "ended_at": None,
                  "status": "NEW", "success": None, "percent": 0}
        self._sort_keys[record["uuid"]] = now
        self.dataset.add("deployments", record)
        success = body["environment"] not in self._failing_uuids(settings)
        environment = self.dataset.by_uuid["environments"][body["environment"]]
        self._add_job(_Job(record, environment, now, settings["duration_seconds"], success, body.get("build_mode", "AUTO"),
                           settings["log_extra"]))
        return record

    # -- logs and environment variables -------------------------------------------------------------

    def _names(self, record):
        env = self.dataset.by_uuid["environments"][record["environment"]]
        app = self.dataset.by_uuid["applications"][env["application"]]
        return app, env

    def environment_variables(self, record):
        """``{name: value}`` the deployment ran with (envvars.py)."""
        return deployment_variables(self.dataset, record)

    def logs(self, record, encoded_secrets=()):
        """The log as far as the deployment got: every line of an ended one; the release command quotes the values
        of the variables named in ``encoded_secrets`` encoded (``encoded_lines``)."""
        job = self._jobs.get(record["uuid"])
        if job is not None:
            success, mode, extra, progress = job.success, job.build_mode or "AUTO", job.extra, job.progress
            ended = record["ended_at"] is not None
        else:
            success, mode, extra, progress, ended = record["success"] is not False, "AUTO", [], 1.0, True
        if record["status"] == "NEW":
            return ""
        app, env = self._names(record)
        variables = self.environment_variables(record)
        stages = [
            (0.0, f"Deployment {record['uuid']} of {app['slug']}/{env['slug']} started (build mode {mode})"),
            *[(0.0, line) for line in extra],
            (0.05, f"Cloning repository, branch {env['branch']}"),
            (0.1, "Building image"),
            (0.15, "Step 1/8 : FROM divio/base:4.18-py3.11-slim-bookworm"),
            (0.25, "Step 4/8 : RUN pip install -r requirements.txt"),
            (0.4, "Successfully installed Django-4.2.16 gunicorn-23.0.0 psycopg-3.2.3"),
            (0.5, "Step 7/8 : RUN DJANGO_MODE=build python manage.py collectstatic --noinput"),
            (0.6, "Image built and pushed"),
            (0.7, "Running release commands"),
            (0.72, "$ python manage.py migrate --noinput"),
            *[(0.72, line) for name in encoded_secrets if name in variables for line in encoded_lines(name, variables[name])],
        ]
        if success:
            stages += [
                (0.8, "Operations to perform: Apply all migrations: admin, auth, contenttypes, sessions"),
                (0.85, "No migrations to apply."),
                (0.9, "Starting 2 web containers"),
                (0.95, f"Health check of https://{variables['DOMAIN']}/ passed"),
            ]
        else:
            stages += [
                (0.74, "Traceback (most recent call last):"),
                (0.74, '  File "/app/manage.py", line 22, in <module>'),
                (0.74, "django.db.utils.OperationalError: connection to server at \"db.simulator.invalid\" failed: "
                       "FATAL:  password authentication failed"),
                (0.74, f"  DATABASE_URL={variables['DEFAULT_DATABASE_DSN']}"),
                (0.74, f"  SECRET_KEY={variables['SECRET_KEY']!r}"),
                (0.75, 'Release command "python manage.py migrate --noinput" failed with exit code 1'),
            ]
        lines = [line for share, line in stages if share <= progress or ended]
        if ended:
            lines.append("Deployment succeeded" if success else "Deployment failed")
        return "\n".join(lines) + "\n"


class DeploymentHandlers:
    """Request handler methods for the deployment endpoints; mixed into the server's handler, whose
    ``_send_json``, ``_json_body``, ``_create`` and ``_get_list`` they use."""

    def _create_deployment(self, resource, key, body):
        """POST /apps/v3/deployments/ as divio-cli sends it (JSON); a form-encoded body is read too, like DRF."""
        if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            data = dict(parse_qsl((body or b"").decode("utf-8", "replace")))
        else:
            data = self._json_body(body)
        sim = self.simulator
        self._create(sim.deployment_jobs, data, sim.deployments)

    def _list_deployments(self, resource, key, body):
        self._get_list(resource, key, body, order=self.simulator.deployment_jobs.newest_first)

    def _deployment_or_404(self, key):
        record = self.simulator.dataset.by_uuid["deployments"].get(key)
        if record is None:
            self._send_json(404, {"detail": "Not found."})
        return record

    def _get_deployment_logs(self, resource, key, body):
        record = self._deployment_or_404(key)
        if record is not None:
            self._send_json(200, {"uuid": record["uuid"], "logs": self.simulator.deployment_jobs.logs(
                record, self.simulator.deployments["encoded_secrets"])})

    def _get_deployment_variables(self, resource, key, body):
        record = self._deployment_or_404(key)
        if record is not None:
            self._send_json(200, {"environment": record["environment"],
                                  "environment_variables": self.simulator.deployment_jobs.environment_variables(record)})


HANDLERS = {
    ("deployments", "list", "POST"): "_create_deployment",
    ("deployments", "list", "GET"): "_list_deployments",
    ("deployments", "logs", "GET"): "_get_deployment_logs",
    ("deployments", "environment-variables", "GET"): "_get_deployment_variables",
}
