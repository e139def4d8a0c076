# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Deployments, the way divio-cli 4.0.5 runs ``divio app deploy``: find the environment, attach to a
running deployment instead of starting a second one, start one (``POST /apps/v3/deployments/``), poll
it until it ends, and on failure read the tail of its log - scrubbed of the API token and of the values
of the deployment's environment variables, which may hold the application's secrets.

Used by the ``deployment`` and ``deployment_info`` modules. No Ansible imports. Every option is
checked before the first request, so nothing is started because of a typo found later.
"""

import base64
import json
import re
import time
from contextlib import closing
from itertools import islice
from urllib.parse import quote, urlsplit

from ansible_collections.divio.cloud.plugins.module_utils.deadline import Deadline
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    MASK,
    DivioError,
    InputError,
    InvalidResponseError,
    NotFoundError,
    WaitTimeout,
    scrub,
)
from ansible_collections.divio.cloud.plugins.module_utils.resources import (
    get_application,
    get_environment,
    list_environments,
    require_id,
    require_text,
)
from ansible_collections.divio.cloud.plugins.module_utils.variables import DEPLOYMENTS, check_bool, deployment_variables, read_variables
from ansible_collections.divio.cloud.plugins.module_utils.values import TaskOptions, check_seconds
from ansible_collections.divio.cloud.plugins.module_utils.waiting import poll_until

BUILD_MODES = ("AUTO", "ADOPT", "FORCE")
DEFAULT_BUILD_MODE = "AUTO"
DEFAULT_WAIT_TIMEOUT = 3600
MAX_WAIT_TIMEOUT = 86400
DEFAULT_POLL_INTERVAL = 3  # what divio-cli waits between two looks
MAX_POLL_INTERVAL = 600
DEFAULT_LOG_LINES = 40
MAX_LOG_LINES = 10000
MAX_LINE_CHARS = 2000
# Terminal escapes (colours, cursor moves) that build output is full of: dropped, so a CI log shows text.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
# A first page this long holds the newest deployment whenever the server honours the filters.
_FIRST_PAGE = 20

# Values too short or too common to tell from ordinary words of a log ("live", "True", "8000") are
# not hidden: hiding them would garble every line. Variables named like secrets are hidden from 3
# characters on.
_MIN_SECRET = 6
_MIN_NAMED_SECRET = 3
_SECRET_NAME_PARTS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "PWD", "PASS", "DSN", "CREDENTIAL", "AUTH",
                      "PRIVATE", "CERT", "SALT", "SIGNATURE", "SIGNING")
_PLAIN_WORDS = frozenset(("true", "false", "none", "null", "yes", "no", "on", "off"))
# How a secret may be written into a URL, a form or a query: the characters each encoder leaves as they are.
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_PERCENT_SAFE = (_UNRESERVED, _UNRESERVED + "/", _UNRESERVED + "!'()*", _UNRESERVED.replace("~", "*"),
                 _UNRESERVED + "!$&'()*+,;=:")
_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")
_UNICODE_ESCAPE = re.compile(r"\\u[0-9a-f]{4}")


class DeploymentError(DivioError):
    """A deployment was found or started, then something went wrong.

    ``details``: ``result`` (what the task result still reports: ``deployment``, ``attached``,
    ``log_tail``), ``changed`` (this task started a deployment), ``cause`` (class name of the error
    behind it, when there is one) and ``uuid`` (the deployment to follow up)."""


class DeploymentFailed(DeploymentError):
    """The deployment ended without success; ``result["log_tail"]`` holds the end of its log."""


class DeploymentTimeout(DeploymentError):
    """The wait ended before the deployment did; the deployment goes on and the message names it."""


# -- options -------------------------------------------------------------------------------------------


def check_build_mode(build_mode):
    if build_mode is None:
        return DEFAULT_BUILD_MODE
    if not isinstance(build_mode, str) or build_mode.strip().upper() not in BUILD_MODES:
        raise InputError("build_mode %r is not valid: expected one of %s." % (build_mode, ", ".join(BUILD_MODES)))
    return build_mode.strip().upper()


def check_count(name, value, minimum, maximum, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InputError("%s %r is not valid: expected a whole number from %d to %d." % (name, value, minimum, maximum))
    return value


# -- reading -------------------------------------------------------------------------------------------


def _deployment_path(uuid, tail=""):
    # Ids are opaque: quoted into the path, never checked for shape.
    return "%s%s/%s" % (DEPLOYMENTS, quote(uuid, safe=""), tail)


def _checked_object(obj, what, key="uuid"):
    if not isinstance(obj, dict) or not isinstance(obj.get(key), str):
        raise InvalidResponseError("%s did not answer with a deployment object." % what, path=DEPLOYMENTS)
    return obj


def get_deployment(client, uuid):
    """One deployment object by id (``GET /apps/v3/deployments/<id>/``)."""
    path = _deployment_path(uuid)
    return _checked_object(client.get(path), "GET %s" % path)


def iter_deployments(client, app, environment_uuids, environment=None, page_size=_FIRST_PAGE):
    """Deployments of ``app`` (an application object), newest first as the API lists them, optionally of one
    environment (its id). Items of other environments (a server that ignores a filter) are skipped."""
    params = {"application": app["uuid"], "environment": environment, "page_size": page_size}
    for item in client.paginate(DEPLOYMENTS, params):
        _checked_object(item, "GET %s" % DEPLOYMENTS)
        if item.get("environment") in environment_uuids and (environment is None or item.get("environment") == environment):
            yield item


def newest_deployment(client, app, env):
    """The newest deployment of ``env`` or None; reads one page when the server honours the filters."""
    items = iter_deployments(client, app, {env["uuid"]}, env["uuid"])
    try:
        return next(items, None)
    finally:
        items.close()


def has_ended(deployment):
    # ended_at is the documented end; a set outcome is one too, whatever the status is called.
    return deployment.get("ended_at") is not None or deployment.get("success") is not None


def deployment_entry(deployment, app, env, build_mode=None):
    """What the modules return for one deployment."""
    return {
        "uuid": deployment.get("uuid"),
        "status": deployment.get("status"),
        "success": deployment.get("success"),
        "percent": deployment.get("percent"),
        "started_at": deployment.get("started_at"),
        "ended_at": deployment.get("ended_at"),
        "running": not has_ended(deployment),
        # The API does not echo it in every answer; the one this task asked for is the next best.
        "build_mode": deployment.get("build_mode") or build_mode,
        "environment": env.get("uuid"),
        "environment_slug": env.get("slug"),
        "application": app.get("uuid"),
        "application_slug": app.get("slug"),
    }


# -- logs and their secrets ------------------------------------------------------------------------------


def read_log(client, uuid):
    """The deploy log as text (``GET /apps/v3/deployments/<id>/logs``, no trailing slash, as divio-cli asks)."""
    path = _deployment_path(uuid, "logs")
    body = client.get(path)
    if not isinstance(body, dict) or not isinstance(body.get("logs"), (str, type(None))):
        raise InvalidResponseError("GET %s did not answer with {uuid, logs}." % path, path=DEPLOYMENTS)
    return body.get("logs") or ""


def secrets_in(variables):
    """The strings to hide from a log: each value, each line of a multi-line value, the password of a URL."""
    found = set()

    def add(text, minimum):
        text = text.strip()
        if len(text) >= minimum and text.lower() not in _PLAIN_WORDS:
            found.add(text)

    for name, value in variables.items():
        if isinstance(value, bool) or value is None:
            continue
        value = value if isinstance(value, str) else str(value)
        secret_name = any(part in str(name).upper() for part in _SECRET_NAME_PARTS)
        minimum = _MIN_NAMED_SECRET if secret_name else _MIN_SECRET
        add(value, minimum)
        for line in value.splitlines():
            add(line, minimum)
        try:
            password = urlsplit(value.strip()).password
        except ValueError:
            password = None
        if password:
            add(password, _MIN_NAMED_SECRET)
    return found


def hide(text, secrets):
    """``text`` with every secret replaced by ``********``, as written and in every form ``secret_forms`` gives
    (JSON-escaped, repr-quoted, percent-encoded, base64); longest first, so a value holding another one is
    hidden whole. The one masking of deploy logs and of the errors shown with them."""
    if not text or not secrets:
        return text
    for form in sorted(set(form for secret in secrets for form in secret_forms(secret)), key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def secret_forms(secret):
    """The ways a log may quote ``secret``: as it is; JSON-escaped (``\\u`` escapes in either case, ``\\/`` or
    ``/``, non-ASCII escaped or not); inside ``repr`` / ``ascii`` of the text or of its UTF-8 bytes;
    percent-encoded (a space as ``%20`` or ``+``, hex in either case, with the safe characters of Python's
    ``quote``, JavaScript's ``encodeURIComponent``, HTML forms and URL user info); and base64 (standard or
    URL-safe, with or without padding, and the characters of the secret's own bytes inside a longer base64
    text at each of the three byte alignments) where that form is at least ``_MIN_SECRET`` characters long."""
    forms = set((secret,))
    data = secret.encode("utf-8", "surrogatepass")
    for ensure_ascii in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1]
        forms.update((escaped, escaped.replace("/", "\\/"), _UNICODE_ESCAPE.sub(_upper_hex, escaped)))
    forms.update((repr(secret)[1:-1], ascii(secret)[1:-1], repr(data)[2:-1]))
    for keep in _PERCENT_SAFE:
        for space in ("%20", "+"):
            encoded = "".join(chr(byte) if chr(byte) in keep else space if byte == 0x20 else "%%%02X" % byte for byte in data)
            forms.update((encoded, _PERCENT_HEX.sub(_lower, encoded)))
    forms.update(form for form in _base64_forms(data) if len(form) >= _MIN_SECRET)
    return forms


def _lower(match):
    return match.group(0).lower()


def _upper_hex(match):
    return match.group(0)[:2] + match.group(0)[2:].upper()


def _base64_forms(data):
    """Base64 of ``data`` alone, and the characters that only its bytes decide when it sits inside a longer text
    after 0, 1 or 2 bytes (mod 3) of something else; each in the standard and URL-safe alphabets."""
    found = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        alone = encode(data).decode("ascii")
        found.update((alone, alone.rstrip("=")))
        for offset in range(3):
            inside = encode(b"\0" * offset + data).decode("ascii")
            found.add(inside[-(-8 * offset // 6):8 * (offset + len(data)) // 6])
    return found


def tail(text, lines):
    """The last ``lines`` lines of ``text`` (None: all), without terminal escapes or other control
    characters, each cut to a sane length."""
    kept = text.splitlines()
    if lines is not None:
        kept = kept[-lines:] if lines else []
    kept = ["".join(char if char.isprintable() or char == "\t" else " " for char in _ESCAPES.sub("", line)) for line in kept]
    return [line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " [...]" for line in kept]


def log_secrets(client, uuid):
    """What ``hide`` masks in deployment ``uuid``'s log and in errors about it: its variables' values."""
    return secrets_in(read_variables(client, uuid))


def scrubbed_log(client, uuid, lines=None, secrets=None):
    """The deploy log's last ``lines`` lines, without the deployment's variable values (``hide``) or the API
    token (masked the way every message masks it: whole, in pieces, in any case, percent-encoded).

    The variables are read first (``secrets``: those of ``log_secrets``, when already read): a log that cannot
    be scrubbed is never returned (the error says why, with the values masked in it too).
    """
    if secrets is None:
        secrets = log_secrets(client, uuid)
    try:
        text = read_log(client, uuid)
    except DivioError as exc:
        hidden(exc, secrets)
        raise
    return tail(scrub(hide(text, secrets)), lines)


def hidden(exc, secrets):
    """Mask ``secrets`` in the message of ``exc``: a server's answer quoted there may hold one."""
    exc.args = tuple(hide(arg, secrets) if isinstance(arg, str) else arg for arg in exc.args)


# -- deploying -------------------------------------------------------------------------------------------


def deploy(client, application, environment, build_mode=DEFAULT_BUILD_MODE, wait=True, wait_timeout=DEFAULT_WAIT_TIMEOUT,
           poll_interval=DEFAULT_POLL_INTERVAL, attach_only=False, log_lines=DEFAULT_LOG_LINES, check_mode=False,
           sleep=time.sleep, clock=time.monotonic):
    """Deploy ``environment`` of ``application``; returns ``(changed, result)`` (see ``deploy_with``)."""
    options = DeployOptions(application, environment, build_mode=build_mode, wait=wait, wait_timeout=wait_timeout,
                            poll_interval=poll_interval, attach_only=attach_only, log_lines=log_lines,
                            check_mode=check_mode)
    return deploy_with(client, options, sleep=sleep, clock=clock)


def deploy_with(client, options, sleep=time.sleep, clock=time.monotonic):
    """The ``deployment`` task with its checked ``options`` (``DeployOptions``); returns ``(changed, result)``.

    ``result``: ``deployment`` (this task's deployment, or with ``attach_only`` the one waited for; None in
    check mode when one would be started), ``attached`` (the deployment that was already running, waited
    for before starting this one, else None) and ``log_tail`` (empty unless it failed).

    A deployment already running is waited for first, then a new one is started: the running one may
    not hold what this run is meant to deploy. ``wait_timeout`` bounds all the waiting of one call.
    Raises ``DeploymentFailed`` / ``DeploymentTimeout`` / ``DeploymentError`` (carrying the uuid and the
    result) once a deployment is involved; other ``DivioError`` before that.
    """
    task = _DeployTask(client, options, Deadline(options.wait_timeout, clock), sleep)
    return task.attach() if options.attach_only else task.start()


def find_target(client, application, environment):
    """``(app, env, newest)``: the application and environment objects (by slug or id) and the environment's
    newest deployment (None when it was never deployed)."""
    app = get_application(client, application)
    env = get_environment(client, app, environment)
    return app, env, newest_deployment(client, app, env)


class DeployOptions(TaskOptions):
    """The options of one ``deployment`` task (the module's argument spec), every one checked before the first
    request."""

    ARGUMENT_SPEC = dict(
        application=dict(type="str", required=True),
        environment=dict(type="str", required=True),
        build_mode=dict(type="str", choices=list(BUILD_MODES), default=DEFAULT_BUILD_MODE),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="float", default=DEFAULT_WAIT_TIMEOUT),
        poll_interval=dict(type="float", default=DEFAULT_POLL_INTERVAL),
        attach_only=dict(type="bool", default=False),
        log_lines=dict(type="int", default=DEFAULT_LOG_LINES),
    )

    def __init__(self, application, environment, build_mode=DEFAULT_BUILD_MODE, wait=True,
                 wait_timeout=DEFAULT_WAIT_TIMEOUT, poll_interval=DEFAULT_POLL_INTERVAL, attach_only=False,
                 log_lines=DEFAULT_LOG_LINES, check_mode=False):
        self.environment = require_text("environment", environment, allow_none=False)
        self.application = require_text("application", application, allow_none=False)
        self.build_mode = check_build_mode(build_mode)
        self.wait = check_bool("wait", wait)
        self.attach_only = check_bool("attach_only", attach_only)
        self.check_mode = check_bool("check_mode", check_mode)
        self.wait_timeout = check_seconds("wait_timeout", wait_timeout, MAX_WAIT_TIMEOUT)
        self.poll_interval = check_seconds("poll_interval", poll_interval, MAX_POLL_INTERVAL)
        self.log_lines = check_count("log_lines", log_lines, 0, MAX_LOG_LINES, allow_none=False)


class _DeployTask:
    """One ``deploy`` call's steps over its target: the environment, its newest deployment and the one still
    running (None when the newest has ended). All its waits share one ``deadline``."""

    def __init__(self, client, options, deadline, sleep):
        self.client, self.options, self.deadline, self.sleep = client, options, deadline, sleep
        self.app, self.env, self.newest = find_target(client, options.application, options.environment)
        self.where = "%s/%s" % (self.app.get("slug"), self.env.get("slug"))
        self.running = self.newest if self.newest is not None and not has_ended(self.newest) else None

    def entry(self, deployment, started=False):
        """What the result says of ``deployment``; ``started``: this task started it (so its build mode)."""
        if deployment is None:
            return None
        return deployment_entry(deployment, self.app, self.env, self.options.build_mode if started else None)

    def attach(self):
        """``attach_only``: wait for the running deployment (if any, and unless told not to); start nothing."""
        result = {"deployment": self.entry(self.running or self.newest), "attached": self.entry(self.running),
                  "log_tail": []}
        if self.running is None or self.options.check_mode or not self.options.wait:
            return False, result
        uuid = self.running["uuid"]
        ended = self.wait_for(uuid, "deployment %s of %s" % (uuid, self.where), False, result)
        result.update(deployment=self.entry(ended), attached=self.entry(ended))
        self.fail_unless_success(ended, False, result)
        return False, result

    def start(self):
        """Wait for a running deployment, start a new one and (with ``wait``) wait for it to end well."""
        result = {"deployment": None, "attached": self.entry(self.running), "log_tail": []}
        if self.options.check_mode:
            return True, result
        if self.running is not None:
            uuid = self.running["uuid"]
            label = "deployment %s of %s (already running, waited for before starting a new one)" % (uuid, self.where)
            result["attached"] = self.entry(self.wait_for(uuid, label, False, result))
        uuid = self.post(result)
        if not self.options.wait:
            return True, result
        ended = self.wait_for_started(uuid, result)
        result["deployment"] = self.entry(ended, started=True)
        self.fail_unless_success(ended, True, result)
        return True, result

    def post(self, result):
        """Start the deployment; its id (and ``result["deployment"]`` set to it)."""
        body = {"environment": self.env["uuid"], "build_mode": self.options.build_mode}
        created = self.client.post(DEPLOYMENTS, body)
        if not isinstance(created, dict) or not isinstance(created.get("uuid"), str):
            raise DeploymentError("POST %s for %s did not answer with the new deployment; a deployment may have "
                                  "started - check with divio.cloud.deployment_info." % (DEPLOYMENTS, self.where),
                                  changed=True, result=result, cause="InvalidResponseError")
        result["deployment"] = self.entry(created, started=True)
        return created["uuid"]

    def wait_for_started(self, uuid, result):
        """Wait for the deployment this task started; any error says that it goes on, and which one it is."""
        try:
            return self.wait_for(uuid, "deployment %s of %s" % (uuid, self.where), True, result)
        except DeploymentError:
            raise
        except DivioError as exc:
            raise DeploymentError("%s; deployment %s of %s was started and goes on - follow it with "
                                  "divio.cloud.deployment_info deployment=%s." % (exc, uuid, self.where, uuid),
                                  uuid=uuid, changed=True, result=result, cause=type(exc).__name__) from exc

    def wait_for(self, uuid, label, changed, result):
        """The deployment once it has ended, or ``DeploymentTimeout`` (naming it) at the shared deadline."""
        try:
            return poll_until(lambda: get_deployment(self.client, uuid), has_ended, self.deadline,
                              self.options.poll_interval, label, sleep=self.sleep, describe=_progress)
        except WaitTimeout as exc:
            ours = changed or self.options.attach_only
            hint = ("it goes on: follow it with divio.cloud.deployment_info deployment=%s, or wait for it with "
                    "divio.cloud.deployment attach_only=true" % uuid)
            last = exc.details["last"]
            result = dict(result, **{"deployment" if ours else "attached": self.entry(last, started=changed)})
            raise DeploymentTimeout("%s did not end within wait_timeout=%g s (%s); %s." % (
                label, self.options.wait_timeout, _progress(last), hint if ours else "nothing was started, " + hint),
                uuid=uuid, changed=changed, result=result) from exc

    def fail_unless_success(self, deployment, changed, result):
        """``DeploymentFailed`` with the scrubbed tail of its log, unless ``deployment`` succeeded."""
        if deployment.get("success") is True:
            return
        uuid = deployment["uuid"]
        lines, problem, secrets = self.log_tail(uuid)
        result = dict(result, deployment=self.entry(deployment, started=changed), log_tail=lines)
        where_log = ("the last %d lines of its log are in log_tail" % len(lines) if lines else
                     "read its log with divio.cloud.deployment_info deployment=%s logs=true" % uuid)
        raise DeploymentFailed(hide("deployment %s of %s failed (%s)%s; %s" % (
            uuid, self.where, _progress(deployment), problem, where_log), secrets), uuid=uuid, changed=changed,
            result=result)

    def log_tail(self, uuid):
        """``(lines, problem, secrets)``: the scrubbed end of the log, or no lines and why it could not be read
        safely; ``secrets``: what the failure message masks too (none when the variables could not be read)."""
        secrets = set()
        if not self.options.log_lines:
            return [], "", secrets
        try:
            secrets = log_secrets(self.client, uuid)
            return scrubbed_log(self.client, uuid, self.options.log_lines, secrets), "", secrets
        except DivioError as exc:
            return [], "; its log could not be read safely (%s)" % exc, secrets


def _percent(deployment):
    percent = deployment.get("percent")
    return "?" if percent is None else percent


def _progress(deployment):
    return "status %s, %s%% done" % (deployment.get("status"), _percent(deployment))


# -- deployment_info -------------------------------------------------------------------------------------


def deployment_info(client, application, environment=None, deployment=None, limit=None, logs=False, log_lines=None,
                    variables=False, reveal_sensitive=False):
    """Deployments of an application (optionally one environment), newest first, at most ``limit``; or the
    one ``deployment`` (an id), which must belong to the application. ``logs``: each entry gets ``logs``,
    its deploy log scrubbed like the failure tail (the last ``log_lines`` lines; None: all). ``variables``:
    each entry gets ``variables``, the environment variables it ran with (values as variables.py decides,
    ``reveal_sensitive`` showing every one)."""
    require_text("application", application, allow_none=False)
    environment = require_text("environment", environment)
    deployment = require_id("deployment", deployment)
    limit = check_count("limit", limit, 1, 100000)
    logs = check_bool("logs", logs)
    log_lines = check_count("log_lines", log_lines, 0, MAX_LOG_LINES)
    variables = check_bool("variables", variables)
    reveal_sensitive = check_bool("reveal_sensitive", reveal_sensitive)

    app = get_application(client, application)
    envs = [get_environment(client, app, environment)] if environment is not None else list_environments(client, app)
    by_uuid = dict((env["uuid"], env) for env in envs)
    if deployment is not None:
        items = [_deployment_of(client, deployment, app, by_uuid, environment)]
    else:
        items = _listed(client, app, by_uuid, envs[0]["uuid"] if environment is not None else None, limit)
    entries = [deployment_entry(item, app, by_uuid[item["environment"]]) for item in items]
    if logs:
        texts = client.map(lambda item: scrubbed_log(client, item["uuid"], log_lines), entries)
        for item, lines in zip(entries, texts):
            item["logs"] = "\n".join(lines)
    if variables:
        for item, found in zip(entries, deployment_variables(client, entries, reveal_sensitive)):
            item["variables"] = found
    return entries


def _deployment_of(client, uuid, app, environments, environment=None):
    """Deployment ``uuid``, or ``NotFoundError`` when it belongs to none of ``environments`` (by id) of ``app``."""
    found = get_deployment(client, uuid)
    if found.get("environment") not in environments:
        raise NotFoundError("deployment %r is not a deployment of %s%s." % (
            uuid, app.get("slug"), "/" + environment if environment else ""))
    return found


def _listed(client, app, environments, only, limit):
    """The newest ``limit`` (None: all) deployments of ``environments`` (by id) of ``app``, or of the one ``only``."""
    page_size = min(limit, client.page_size) if limit else client.page_size
    with closing(iter_deployments(client, app, set(environments), only, page_size)) as items:
        return list(islice(items, limit))
