# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Deployments, the way divio-cli 4.0.5 runs ``divio app deploy``: find the environment, attach to a
running deployment instead of starting a second one, start one (``POST /apps/v3/deployments/``), poll
it until it ends, and on failure read the tail of its log - scrubbed of the API token and of the values
of the deployment's environment variables, which may hold the application's secrets.

Used by the ``deployment`` and ``deployment_info`` modules. No Ansible imports. Every option is
checked before the first request, so nothing is started because of a typo found later.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time
from urllib.parse import quote, urlsplit

from ansible_collections.divio.cloud.plugins.module_utils.client import APPS
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
from ansible_collections.divio.cloud.plugins.module_utils.waiting import check_seconds, poll_until

DEPLOYMENTS = APPS + "deployments/"
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


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise InputError("%s %r is not valid: expected true or false." % (name, value))
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


def read_variables(client, uuid):
    """``{name: value}`` of the environment variables the deployment ran with."""
    path = _deployment_path(uuid, "environment-variables")
    body = client.get(path)
    variables = body.get("environment_variables") if isinstance(body, dict) else None
    if not isinstance(variables, dict):
        raise InvalidResponseError("GET %s did not answer with {environment, environment_variables}." % path,
                                   path=DEPLOYMENTS)
    return variables


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
    """``text`` with every secret replaced by ``********``, longest first (so a value holding another one
    is hidden whole)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def tail(text, lines):
    """The last ``lines`` lines of ``text`` (None: all), without terminal escapes or other control
    characters, each cut to a sane length."""
    kept = text.splitlines()
    if lines is not None:
        kept = kept[-lines:] if lines else []
    kept = ["".join(char if char.isprintable() or char == "\t" else " " for char in _ESCAPES.sub("", line)) for line in kept]
    return [line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " [...]" for line in kept]


def scrubbed_log(client, uuid, lines=None):
    """The deploy log's last ``lines`` lines, without the deployment's variable values or the API token
    (masked the way every message masks it: whole, in pieces, in any case, percent-encoded).

    The variables are read first: a log that cannot be scrubbed is never returned (the error says why).
    """
    secrets = secrets_in(read_variables(client, uuid))
    return tail(scrub(hide(read_log(client, uuid), secrets)), lines)


# -- deploying -------------------------------------------------------------------------------------------


def deploy(client, application, environment, build_mode=DEFAULT_BUILD_MODE, wait=True, wait_timeout=DEFAULT_WAIT_TIMEOUT,
           poll_interval=DEFAULT_POLL_INTERVAL, attach_only=False, log_lines=DEFAULT_LOG_LINES, check_mode=False,
           sleep=time.sleep, clock=time.monotonic):
    """Deploy ``environment`` of ``application``; returns ``(changed, result)``.

    ``result``: ``deployment`` (this task's deployment, or with ``attach_only`` the one waited for; None in
    check mode when one would be started), ``attached`` (the deployment that was already running, waited
    for before starting this one, else None) and ``log_tail`` (empty unless it failed).

    A deployment already running is waited for first, then a new one is started: the running one may
    not hold what this run is meant to deploy. ``wait_timeout`` bounds all the waiting of one call.
    Raises ``DeploymentFailed`` / ``DeploymentTimeout`` / ``DeploymentError`` (carrying the uuid and the
    result) once a deployment is involved; other ``DivioError`` before that.
    """
    environment = require_text("environment", environment, allow_none=False)
    require_text("application", application, allow_none=False)
    build_mode = check_build_mode(build_mode)
    wait = _check_bool("wait", wait)
    attach_only = _check_bool("attach_only", attach_only)
    check_mode = _check_bool("check_mode", check_mode)
    wait_timeout = check_seconds("wait_timeout", wait_timeout, MAX_WAIT_TIMEOUT)
    poll_interval = check_seconds("poll_interval", poll_interval, MAX_POLL_INTERVAL)
    log_lines = check_count("log_lines", log_lines, 0, MAX_LOG_LINES, allow_none=False)

    deadline = clock() + wait_timeout
    app = get_application(client, application)
    env = get_environment(client, app, environment)
    where = "%s/%s" % (app.get("slug"), env.get("slug"))
    newest = newest_deployment(client, app, env)
    running = newest if newest is not None and not has_ended(newest) else None

    def entry(deployment, mode=None):
        return deployment_entry(deployment, app, env, mode) if deployment is not None else None

    def wait_for(uuid, label, changed, result):
        def fetch():
            return get_deployment(client, uuid)

        try:
            return poll_until(fetch, has_ended, max(deadline - clock(), 1e-3), poll_interval, label,
                              sleep=sleep, clock=clock, describe=_progress)
        except WaitTimeout as exc:
            hint = ("it goes on: follow it with divio.cloud.deployment_info deployment=%s, or wait for it with "
                    "divio.cloud.deployment attach_only=true" % uuid)
            last = exc.details["last"]
            result = dict(result, **{"deployment" if changed or attach_only else "attached": entry(last, build_mode if changed else None)})
            raise DeploymentTimeout("%s did not end within wait_timeout=%g s (%s); %s." % (
                label, wait_timeout, _progress(last), hint if changed or attach_only else "nothing was started, " + hint),
                uuid=uuid, changed=changed, result=result)

    def fail_unless_success(deployment, changed, result):
        if deployment.get("success") is True:
            return
        result = dict(result, deployment=entry(deployment, build_mode if changed else None))
        problem = ""
        try:
            result["log_tail"] = scrubbed_log(client, deployment["uuid"], log_lines) if log_lines else []
        except DivioError as exc:
            result["log_tail"] = []
            problem = "; its log could not be read safely (%s)" % exc
        raise DeploymentFailed(
            "deployment %s of %s failed (status %s, %s%% done)%s; %s" % (
                deployment["uuid"], where, deployment.get("status"), _percent(deployment), problem,
                "the last %d lines of its log are in log_tail" % len(result["log_tail"]) if result["log_tail"] else
                "read its log with divio.cloud.deployment_info deployment=%s logs=true" % deployment["uuid"]),
            uuid=deployment["uuid"], changed=changed, result=result)

    if attach_only:
        result = {"deployment": entry(running or newest), "attached": entry(running), "log_tail": []}
        if running is None or check_mode or not wait:
            return False, result
        ended = wait_for(running["uuid"], "deployment %s of %s" % (running["uuid"], where), False, result)
        result.update(deployment=entry(ended), attached=entry(ended))
        fail_unless_success(ended, False, result)
        return False, result

    result = {"deployment": None, "attached": entry(running), "log_tail": []}
    if check_mode:
        return True, result
    if running is not None:
        label = "deployment %s of %s (already running, waited for before starting a new one)" % (running["uuid"], where)
        result["attached"] = entry(wait_for(running["uuid"], label, False, result))

    created = client.post(DEPLOYMENTS, {"environment": env["uuid"], "build_mode": build_mode})
    if not isinstance(created, dict) or not isinstance(created.get("uuid"), str):
        raise DeploymentError("POST %s for %s did not answer with the new deployment; a deployment may have started - "
                              "check with divio.cloud.deployment_info." % (DEPLOYMENTS, where),
                              changed=True, result=result, cause="InvalidResponseError")
    uuid = created["uuid"]
    result["deployment"] = entry(created, build_mode)
    if not wait:
        return True, result
    try:
        ended = wait_for(uuid, "deployment %s of %s" % (uuid, where), True, result)
    except DeploymentError:
        raise
    except DivioError as exc:
        # The deployment goes on whatever happened to this task; the failure must say which one it is.
        raise DeploymentError("%s; deployment %s of %s was started and goes on - follow it with "
                              "divio.cloud.deployment_info deployment=%s." % (exc, uuid, where, uuid),
                              uuid=uuid, changed=True, result=result, cause=type(exc).__name__)
    result["deployment"] = entry(ended, build_mode)
    fail_unless_success(ended, True, result)
    return True, result


def _percent(deployment):
    percent = deployment.get("percent")
    return "?" if percent is None else percent


def _progress(deployment):
    return "status %s, %s%% done" % (deployment.get("status"), _percent(deployment))


# -- deployment_info -------------------------------------------------------------------------------------


def deployment_info(client, application, environment=None, deployment=None, limit=None, logs=False, log_lines=None):
    """Deployments of an application (optionally one environment), newest first, at most ``limit``; or the
    one ``deployment`` (an id), which must belong to the application. ``logs``: each entry gets ``logs``,
    its deploy log scrubbed like the failure tail (the last ``log_lines`` lines; None: all)."""
    require_text("application", application, allow_none=False)
    environment = require_text("environment", environment)
    deployment = require_id("deployment", deployment)
    limit = check_count("limit", limit, 1, 100000)
    logs = _check_bool("logs", logs)
    log_lines = check_count("log_lines", log_lines, 0, MAX_LOG_LINES)

    app = get_application(client, application)
    if environment is not None:
        envs = [get_environment(client, app, environment)]
    else:
        envs = list_environments(client, app)
    by_uuid = dict((env["uuid"], env) for env in envs)

    if deployment is not None:
        found = get_deployment(client, deployment)
        if found.get("environment") not in by_uuid:
            raise NotFoundError("deployment %r is not a deployment of %s%s." % (
                deployment, app.get("slug"), "/" + environment if environment else ""))
        items = [found]
    else:
        only = envs[0]["uuid"] if environment is not None else None
        page_size = min(limit, client.page_size) if limit else client.page_size
        items = []
        generator = iter_deployments(client, app, set(by_uuid), only, page_size)
        try:
            for item in generator:
                items.append(item)
                if limit is not None and len(items) >= limit:
                    break
        finally:
            generator.close()

    entries = [deployment_entry(item, app, by_uuid[item["environment"]]) for item in items]
    if logs:
        texts = client.map(lambda item: scrubbed_log(client, item["uuid"], log_lines), entries)
        for item, lines in zip(entries, texts):
            item["logs"] = "\n".join(lines)
    return entries
