# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Taking a backup: create it the way divio-cli does (POST /backups/), then poll until it is done.

Used by the ``backup`` module (and through it the ``backup_gate`` role). Every option is checked
before the first request, so nothing is created from a task that cannot finish; anything that fails
after the POST names the created backup's id (in the message and as ``details["uuid"]``).
No Ansible imports.
"""

import datetime
import time
from urllib.parse import quote

from ansible_collections.divio.cloud.plugins.module_utils.backups import (
    BACKUPS,
    COMPLETED,
    NOT_PROVISIONED,
    SUCCESS,
    FindOptions,
    Pick,
    ServiceInstances,
    backup_entry,
    date_backup,
    fetch_parts,
    find_backups_with,
    format_timestamp,
)
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    BackupFailed,
    BackupTimeout,
    DivioError,
    InputError,
    InvalidResponseError,
)
from ansible_collections.divio.cloud.plugins.module_utils.resources import get_application, get_environment, require_text
from ansible_collections.divio.cloud.plugins.module_utils.values import (
    DEFAULT_MIN_RETENTION,
    RuleOptions,
    TaskOptions,
    check_seconds,
    parse_duration,
    split_service,
)
from ansible_collections.divio.cloud.plugins.module_utils.waiting import WaitTimeout, poll_object

DEFAULT_WAIT_TIMEOUT = 1800
MAX_WAIT_TIMEOUT = 7 * 86400
DEFAULT_POLL_INTERVAL = 2
MAX_POLL_INTERVAL = 3600


class TakeOptions(TaskOptions):
    """The options of one ``backup`` task (the module's argument spec), every one checked before the first request:
    ``rules`` (``RuleOptions``: ``services``, ``only_if_older_than`` as the age limit, ``min_retention``) and
    ``retention`` (a ``Duration``, or None: the platform's) are parsed here, once."""

    ARGUMENT_SPEC = dict(
        application=dict(type="str", required=True),
        environment=dict(type="str", required=True),
        services=dict(type="list", elements="str"),
        notes=dict(type="str", default=""),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=DEFAULT_WAIT_TIMEOUT),
        poll_interval=dict(type="float", default=DEFAULT_POLL_INTERVAL),
        only_if_older_than=dict(type="raw", aliases=["min_age"]),
        retention=dict(type="raw"),
        min_retention=dict(type="raw", default=DEFAULT_MIN_RETENTION),
    )

    def __init__(self, application, environment, services=None, notes="", wait=True, wait_timeout=DEFAULT_WAIT_TIMEOUT,
                 poll_interval=DEFAULT_POLL_INTERVAL, only_if_older_than=None, retention=None,
                 min_retention=DEFAULT_MIN_RETENTION, check_mode=False):
        self.rules = RuleOptions(services, only_if_older_than, min_retention, max_age_name="only_if_older_than")
        self.application = application
        self.environment = require_text("environment", environment, allow_none=False)
        self.retention = parse_duration(retention, "retention") if retention is not None else None
        self.wait_timeout = check_seconds("wait_timeout", wait_timeout, MAX_WAIT_TIMEOUT)
        self.poll_interval = check_seconds("poll_interval", poll_interval, MAX_POLL_INTERVAL)
        if notes is not None and not isinstance(notes, str):
            raise InputError("notes %r is not valid: expected a string." % (notes,))
        self.notes, self.wait, self.check_mode = notes or "", wait, check_mode


def resolve_target(client, application, environment, services):
    """``(application, environment, [service instance id], ServiceInstances)`` for a new backup.

    Without ``services``: every provisioned service instance of the environment (a ``NEW`` one has
    nothing to back up). With ``services``: for ``TYPE`` every provisioned instance of that type, for
    ``TYPE:PREFIX`` that one instance - so the backup satisfies the same ``services`` rule of the checks.
    """
    app = get_application(client, application)
    env = get_environment(client, app, environment)
    instances = ServiceInstances(client, env["uuid"])
    name = "%s/%s" % (app.get("slug"), env.get("slug"))
    if services is None:
        chosen = [uuid for uuid, inst in instances.all().items() if inst.get("service_status") != NOT_PROVISIONED]
    else:
        chosen = []
        for entry in services:
            kind, prefix = split_service(entry)
            found = instances.provisioned(kind) if prefix is None else instances.named(kind, prefix)
            if not found:
                raise InputError("%s has no %s%s service instance to back up; it has: %s."
                                 % (name, "provisioned " if prefix is None else "", entry, instances.describe()))
            chosen.extend(uuid for uuid in found if uuid not in chosen)
    if not chosen:
        raise InputError("%s has no provisioned service instance to back up." % name)
    return app, env, sorted(chosen), instances


def _naming_backup(exc, uuid):
    """``exc`` made to name the backup that was created before it happened (message and details)."""
    if not str(exc).startswith("backup %s " % uuid):
        exc.args = ("backup %s was created, but then: %s" % (uuid, exc.args[0] if exc.args else exc),) + exc.args[1:]
    exc.details.setdefault("uuid", uuid)
    return exc


def take_backup(client, application, environment, services=None, notes="", wait=True, wait_timeout=DEFAULT_WAIT_TIMEOUT,
                poll_interval=DEFAULT_POLL_INTERVAL, only_if_older_than=None, check_mode=False, sleep=time.sleep,
                clock=time.monotonic, retention=None, min_retention=DEFAULT_MIN_RETENTION):
    """Returns ``(changed, entry)`` (see ``take_backup_with``).

    ``retention``: how long the platform keeps the backup (sent as ``scheduled_for_deletion_at``);
    None leaves it to the platform. ``min_retention``: the rule ``only_if_older_than`` judges the latest
    backup by (see ``BackupRule``)."""
    options = TakeOptions(application, environment, services=services, notes=notes, wait=wait,
                          wait_timeout=wait_timeout, poll_interval=poll_interval,
                          only_if_older_than=only_if_older_than, retention=retention, min_retention=min_retention,
                          check_mode=check_mode)
    return take_backup_with(client, options, sleep=sleep, clock=clock)


def take_backup_with(client, options, sleep=time.sleep, clock=time.monotonic):
    """The ``backup`` task with its checked ``options`` (``TakeOptions``): returns ``(changed, entry)``; ``entry``
    is shaped like a ``backup_info`` entry (or None in check mode when a backup would be created)."""
    rules = options.rules  # parsed in TakeOptions; the freshness question takes them as they are
    target = resolve_target(client, options.application, options.environment, rules.services)
    if rules.max_age is not None:
        app, env = target[:2]
        question = FindOptions(environment=env["slug"], services=rules.services, max_age=rules.max_age,
                               min_retention=rules.min_retention)
        latest = find_backups_with(client, app["uuid"], question)[0]
        if latest["fresh"]:
            return False, latest
    if options.check_mode:
        return True, None
    return True, create_backup(client, target, options.notes, options.retention, options.wait, options, sleep, clock)


def create_backup(client, target, notes, retention, wait, waits, sleep=time.sleep, clock=time.monotonic):
    """``POST backups/`` for ``target`` (what ``resolve_target`` answers), then its entry (see ``_finish``), with
    checked values: ``retention`` a ``Duration`` or None, ``waits`` its ``wait_timeout`` and ``poll_interval``."""
    app, env, service_uuids, instances = target
    body = {"environment": env["uuid"], "services": service_uuids, "trigger": "MANUAL", "notes": notes}
    if retention is not None:
        deletion = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=retention)
        body["scheduled_for_deletion_at"] = format_timestamp(deletion.replace(microsecond=0))
    created = client.post(BACKUPS, body)
    if not isinstance(created, dict) or not isinstance(created.get("uuid"), str):
        raise InvalidResponseError("POST %s did not answer with the new backup, so its id is unknown; a backup may have "
                                   "been created - look for it with divio.cloud.backup_info." % BACKUPS, path=BACKUPS)
    try:
        return _finish(client, created, app, env, instances, wait, waits, sleep, clock)
    except DivioError as exc:
        _naming_backup(exc, created["uuid"])
        raise


def _finish(client, backup, app, env, instances, wait, waits, sleep, clock):
    """The entry of a created backup: waited for (and failed unless it succeeded) with ``wait``."""
    if wait:
        hint = "it may still complete - check it with divio.cloud.backup_info or `divio app backup` later."
        backup = wait_backup(client, backup["uuid"], "backup %s" % backup["uuid"], waits, BackupTimeout, hint, sleep,
                             clock)
    parts = fetch_parts(client, backup) if backup.get("service_instance_backups") else []
    if wait and backup.get("success") != SUCCESS:
        errors = ["%s: %s" % (instances.type_of(p), "; ".join(str(e) for e in (p.get("errors") or ["did not finish"])))
                  for p in parts if p.get("errors") or not p.get("ended_at")]
        raise BackupFailed("backup %s of %s/%s ended %s: %s" % (
            backup["uuid"], app.get("slug"), env.get("slug"), backup.get("success"), "; ".join(errors) or "no details given"))
    taken_at, dated_by, _undated = date_backup(backup, parts)
    now = datetime.datetime.now(datetime.timezone.utc)
    return backup_entry(app, env, Pick(backup, parts, parts, taken_at, dated_by), instances, now, None)


def wait_backup(client, uuid, what, waits, timeout_error, hint, sleep=time.sleep, clock=time.monotonic):
    """The backup ``uuid`` once it has ended, polled every ``waits.poll_interval`` for ``waits.wait_timeout``;
    when that passes first, ``timeout_error`` (an error class) saying the wait's message and ``hint``."""
    # COMPLETED is the documented end; a set outcome is one too, whatever the state is called.
    def ended(backup):
        return backup.get("state") == COMPLETED or backup.get("success") is not None

    try:
        return poll_object(client, "%s%s/" % (BACKUPS, quote(uuid, safe="")), ended, waits.wait_timeout,
                           waits.poll_interval, what, "backup", sleep=sleep, clock=clock,
                           describe=lambda backup: "state %s" % backup.get("state"))
    except WaitTimeout as exc:
        raise timeout_error("%s; %s" % (exc, hint), uuid=uuid) from None


def safety_backup(client, application, environment, services, notes, refused, waits, sleep=time.sleep,
                  clock=time.monotonic):
    """The backup of ``services`` (``Services``) of ``environment`` of ``application`` (the API's objects) that a
    task takes before it overwrites them, waited for with ``waits`` (checked ``wait_timeout``, ``poll_interval``).
    Its failure stops the task: the same error class, saying what was ``refused`` because of it. Returns
    ``{"uuid", "taken_at", "state", "success"}``."""
    try:
        target = resolve_target(client, application["uuid"], environment["slug"], services)
        safety = create_backup(client, target, notes, None, True, waits, sleep, clock)
    except DivioError as exc:
        raise type(exc)("the safety backup of %s/%s failed, so %s: %s" % (
            application.get("slug"), environment.get("slug"), refused, exc), **exc.details) from None
    return dict((key, safety.get(key)) for key in ("uuid", "taken_at", "state", "success"))
