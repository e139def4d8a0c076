"""Environment variables, the variables a deployment ran with, and an environment's runtime logs - what
``divio app env-vars``, ``divio app deployments get`` / ``get-var`` and ``divio app logs`` read (divio-cli 4.0.5).

Environment variables (``GET /apps/v3/environment-variables/``): items ``{uuid, environment, name, value,
is_sensitive}``. The list needs ``environment`` or ``application`` (divio-cli: "the environment variables V3
endpoint requires either an application or an environment or both"; without either: 400); ``name`` narrows
it; ``page_size`` and pages as every list. The API returns sensitive values too (divio-cli hides them only
in its ``--txt`` output). ``uuid`` and the detail ``environment-variables/<uuid>/`` are chosen here: no
source shows them (divio-cli reads only the list).

Demo data (from the environment's id, no draw from the data set's generator, so nothing else changes):
every environment has DEBUG, LOG_LEVEL, DEFAULT_FROM_EMAIL, MAINTENANCE_MODE (an empty value) and the
sensitive SECRET_KEY, EMAIL_URL (a password in a URL) and SENTRY_DSN; shop adds payment and search keys
(sensitive and not, so more than one default page of 20 per environment); intranet adds a multi-line
sensitive JWT_PRIVATE_KEY and a non-ASCII SITE_NAME; blog/test has none at all.

A deployment's variables (``GET deployments/<uuid>/environment-variables``, no trailing slash) are what
it ran with: the variables the platform provides (STAGE, DOMAIN, DEFAULT_DATABASE_DSN,
DEFAULT_STORAGE_DSN - not in the environment's list), the environment's listed variables, and, for a
deployment started more than ``RETIRED_AFTER_DAYS`` before the data set's ``now``, ``MAILGUN_API_KEY``,
since removed from every list. So a deployment carries names the list does not know, and a client
cannot learn their sensitivity from it. A deployment's detail lists those names under
``environment_variables`` (``divio app deployments get`` fails without the field); its list items do
not (chosen here: the detail is the one place divio-cli reads the field).

Runtime logs (``GET environments/<uuid>/logs/``): ``{"results": [{timestamp, service, message}], "next":
<URL>, "previous": null}``, oldest first, one entry every ``LOG_STEP`` seconds over the last
``LOG_WINDOW`` seconds of the data set's clock. ``next`` is never null: it asks for the entries after
the last one (``?after=<epoch seconds>``), which is how ``divio app logs --tail`` polls (an empty page
until new entries are due). Messages carry what real container output does: CR line ends and terminal
escapes, which divio-cli strips. An environment never deployed has no entries.
"""

import hashlib
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from .data import make_id

PATH = "/apps/v3/environment-variables/"
ENVIRONMENTS = "/apps/v3/environments/"
RETIRED_AFTER_DAYS = 7
RETIRED = "MAILGUN_API_KEY"
PLATFORM = ("STAGE", "DOMAIN", "DEFAULT_DATABASE_DSN", "DEFAULT_STORAGE_DSN")
LOG_STEP = 20
LOG_WINDOW = 15 * 60
NEEDS_FILTER = {"non_field_errors": ["Either the environment or the application query parameter is required."]}


def _digest(*parts):
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


def _variables(app, env):
    """``[(name, value, is_sensitive)]`` of one environment's list (see the module docstring)."""
    if (app["slug"], env["slug"]) == ("blog", "test"):
        return []
    digest = _digest("variables", env["uuid"])
    live = env["slug"] == "live"
    mode = "live" if live else "test"
    host = f"{app['slug']}-{env['slug']}.simulator.invalid"
    found = [
        ("DEBUG", "False" if live else "True", False),
        ("LOG_LEVEL", "INFO" if live else "DEBUG", False),
        ("DEFAULT_FROM_EMAIL", f"noreply@{host}", False),
        ("MAINTENANCE_MODE", "", False),
        # The value deployments.py has always quoted in a failing log.
        ("SECRET_KEY", _digest("secret-key", env["uuid"])[:50], True),
        ("EMAIL_URL", f"smtp://postmaster:{digest[:20]}@smtp.simulator.invalid:587", True),
        ("SENTRY_DSN", f"https://{digest[20:52]}@sentry.simulator.invalid/{int(digest[52:56], 16)}", True),
    ]
    if app["slug"].startswith("shop"):
        found += [
            ("STRIPE_PUBLISHABLE_KEY", f"pk_{mode}_{digest[:24]}", False),
            ("STRIPE_SECRET_KEY", f"sk_{mode}_{digest[24:48]}", True),
            ("STRIPE_WEBHOOK_SECRET", f"whsec_{digest[48:64]}", True),
            ("PAYPAL_CLIENT_ID", f"AZ{digest[8:30].upper()}", False),
            ("PAYPAL_CLIENT_SECRET", f"EL{digest[30:60].upper()}", True),
            ("ALGOLIA_APP_ID", digest[:10].upper(), False),
            ("ALGOLIA_API_KEY", digest[10:42], True),
            ("CACHE_URL", f"redis://:{digest[42:62]}@cache.simulator.invalid:6379/0", True),
            ("CELERY_BROKER_URL", f"redis://:{digest[42:62]}@cache.simulator.invalid:6379/1", True),
            ("SHIPPING_API_URL", "https://shipping.simulator.invalid/v2/", False),
            ("SHIPPING_API_TOKEN", _digest("shipping", env["uuid"])[:40], True),
            ("GOOGLE_ANALYTICS_ID", f"G-{digest[:10].upper()}", False),
            ("CSRF_TRUSTED_ORIGINS", f"https://{host}", False),
            ("SESSION_COOKIE_AGE", "1209600", False),
            ("CURRENCY", "EUR", False),
            ("TAX_RATE", "0.19", False),
        ]
    if app["slug"].startswith("intranet"):
        body = _digest("jwt", env["uuid"]) * 2
        found += [
            ("JWT_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\n%s\n%s\n-----END PRIVATE KEY-----" % (body[:64], body[64:]),
             True),
            ("SITE_NAME", "Intranet \u2014 Z\u00fcrich", False),
        ]
    return found


def generate_variables(applications, environments, id_style):
    """The environment-variable records of a data set's environments (ids from the environment and name)."""
    by_uuid = {app["uuid"]: app for app in applications}
    records = []
    for env in environments:
        for name, value, sensitive in _variables(by_uuid[env["application"]], env):
            bits = int(_digest("variable", env["uuid"], name)[:32], 16)
            records.append({"uuid": make_id(bits, id_style), "environment": env["uuid"], "name": name, "value": value,
                            "is_sensitive": sensitive})
    return records


def _parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def deployment_variables(dataset, record):
    """``{name: value}`` a deployment ran with (see the module docstring)."""
    env = dataset.by_uuid["environments"][record["environment"]]
    app = dataset.by_uuid["applications"][env["application"]]
    digest = _digest("variables", env["uuid"])
    db = f"{app['slug']}_{env['slug']}".replace("-", "_")
    variables = {
        "STAGE": env["slug"],
        "DOMAIN": f"{app['slug']}-{env['slug']}.simulator.invalid",
        "DEFAULT_DATABASE_DSN": f"postgres://{db}:{digest[:24]}@db.simulator.invalid:5432/{db}",
        "DEFAULT_STORAGE_DSN": f"s3://{digest[24:44].upper()}:{digest[44:64]}@storage.simulator.invalid/{db}-media",
    }
    for item in dataset.lookup("environment_variables", "environment", env["uuid"]):
        variables[item["name"]] = item["value"]
    started = record.get("started_at")
    if started and _parse(started) < dataset.now - timedelta(days=RETIRED_AFTER_DAYS):
        variables[RETIRED] = "key-" + _digest("mailgun", env["uuid"])[:32]
    return variables


# -- runtime logs --------------------------------------------------------------------------------------


def split_environment_logs(path):
    """The environment id of ``/apps/v3/environments/<uuid>/logs/`` (the form divio-cli asks for), else None."""
    if not path.startswith(ENVIRONMENTS) or not path.endswith("/logs/"):
        return None
    key = path[len(ENVIRONMENTS):-len("/logs/")]
    return key if key and "/" not in key else None


def _stamp(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _log_entry(app, env, step):
    """The entry at ``step`` (its time is ``step * LOG_STEP``): the same every time it is asked for."""
    digest = _digest("log", env["uuid"], str(step))
    roll = int(digest[:4], 16) % 10
    if roll < 7:
        path = ("/", "/health/", "/api/v1/items/", "/static/css/site.css", "/accounts/login/")[int(digest[4:6], 16) % 5]
        status = 200 if roll < 6 else 404
        message = (f'10.0.{int(digest[6:8], 16)}.{int(digest[8:10], 16)} - - "GET {path} HTTP/1.1" {status} '
                   f'{int(digest[10:14], 16)} "-" "Mozilla/5.0"\r')
        return "web", message
    if roll < 9:
        return "worker", f"Task {app['slug']}.tasks.send_notification[{digest[14:50]}] succeeded in 0.{int(digest[50:52], 16)}s"
    return "cronjob", "\x1b[H\x1b[JRunning python manage.py clearsessions\r"


def environment_logs(dataset, env, after=None):
    """The log entries of ``env`` after ``after`` (epoch seconds; None: the last ``LOG_WINDOW``), and the
    ``after`` value of the next page."""
    now = dataset.clock().timestamp()
    if not env.get("last_finished_deployment"):
        return [], now if after is None else after
    app = dataset.by_uuid["applications"][env["application"]]
    start = max(now - LOG_WINDOW, after) if after is not None else now - LOG_WINDOW
    first, last = int(start // LOG_STEP) + 1, int(now // LOG_STEP)
    entries = []
    for step in range(first, last + 1):
        service, message = _log_entry(app, env, step)
        entries.append({"timestamp": _stamp(step * LOG_STEP), "service": service, "message": message})
    return entries, (last * LOG_STEP if entries else start)


class EnvironmentVariableHandlers:
    """Request handler methods for environment variables, a deployment's detail and an environment's logs;
    mixed into the server's handler, whose ``_send_json``, ``_get_list`` and ``_absolute`` they use."""

    def _list_environment_variables(self, resource, key, body):
        if not any(self.query.get(param, [""])[-1] for param in ("environment", "application")):
            self._send_json(400, NEEDS_FILTER)
            return
        self._get_list(resource, key, body)

    def _get_deployment_detail(self, resource, key, body):
        record = self.simulator.dataset.by_uuid["deployments"].get(key)
        if record is None:
            self._send_json(404, {"detail": "Not found."})
            return
        self._send_json(200, dict(record, environment_variables=list(deployment_variables(self.simulator.dataset, record))))

    def _get_environment_logs(self, resource, key, body):
        dataset = self.simulator.dataset
        env = dataset.by_uuid["environments"].get(key)
        if env is None:
            self._send_json(404, {"detail": "Not found."})
            return
        raw = self.query.get("after", [""])[-1]
        try:
            after = float(raw) if raw else None
        except ValueError:
            self._send_json(400, {"after": [f"\u201c{raw}\u201d is not a number of seconds."]})
            return
        entries, next_after = environment_logs(dataset, env, after)
        link = self._absolute("%s%s/logs/?after=%d" % (ENVIRONMENTS, quote(key, safe=""), next_after))
        self._send_json(200, {"next": link, "previous": None, "results": entries})


HANDLERS = {
    ("environment_variables", "list", "GET"): "_list_environment_variables",
    ("deployments", "detail", "GET"): "_get_deployment_detail",
    ("environments", "logs", "GET"): "_get_environment_logs",
}
