# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Restoring a backup into its own environment, as ``divio app push db`` ends: ``POST backup-restores/``, then
``backup-restores/<uuid>/`` is polled until ``finished``; success is ``success == SUCCESS``.

The API restores a part into the service instance it was taken from, so a backup of another environment is
refused (nothing could copy it here). A restore overwrites a database: it needs ``confirm`` to be
``<application slug>/<environment slug>`` (typed out, so a playbook copied to another application cannot
restore there by accident), and by default a safety backup of the same services is taken first and must
succeed. Everything is checked before the first POST; check mode sends nothing. No Ansible imports.
"""

import time
from urllib.parse import quote

from ansible_collections.divio.cloud.plugins.module_utils.client import APPS
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    InputError,
    InvalidResponseError,
    RestoreFailed,
    WaitTimeout,
    excerpt,
)
from ansible_collections.divio.cloud.plugins.module_utils.resolution import resolve_backup, select_parts
from ansible_collections.divio.cloud.plugins.module_utils.resources import require_text
from ansible_collections.divio.cloud.plugins.module_utils.taking import (
    MAX_POLL_INTERVAL,
    MAX_WAIT_TIMEOUT,
    safety_backup,
)
from ansible_collections.divio.cloud.plugins.module_utils.values import (
    DEFAULT_MIN_RETENTION,
    SERVICE_TYPES,
    RuleOptions,
    Services,
    TaskOptions,
    check_seconds,
)
from ansible_collections.divio.cloud.plugins.module_utils.waiting import poll_object

RESTORES = APPS + "backup-restores/"
SUCCESS = "SUCCESS"
DEFAULT_WAIT_TIMEOUT = 3600
DEFAULT_POLL_INTERVAL = 2


class RestoreOptions(TaskOptions):
    """Every option of a restore, checked before the first request (``InputError`` naming the value)."""

    ARGUMENT_SPEC = dict(
        backup=dict(type="str", required=True),
        services=dict(type="list", elements="str"),
        confirm=dict(type="str", required=True),
        safety_backup=dict(type="bool", default=True),
        notes=dict(type="str", default=""),
        wait_timeout=dict(type="float", default=DEFAULT_WAIT_TIMEOUT),
        poll_interval=dict(type="float", default=DEFAULT_POLL_INTERVAL),
        min_retention=dict(type="raw", default=DEFAULT_MIN_RETENTION),
    )

    def __init__(self, backup, confirm, services=None, safety_backup=True, notes="", wait_timeout=DEFAULT_WAIT_TIMEOUT,
                 poll_interval=DEFAULT_POLL_INTERVAL, min_retention=DEFAULT_MIN_RETENTION):
        self.backup = require_text("backup", backup, allow_none=False)
        self.confirm = require_text("confirm", confirm)
        if self.confirm is None:
            raise InputError("confirm is required: a restore overwrites the environment's data. Set it to "
                             "'<application slug>/<environment slug>' of the environment to restore into.")
        # Parsed once, here. min_retention only judges ``latest``: a restore by id never reads it.
        rules = RuleOptions(services=services, min_retention=min_retention if self.backup == "latest" else None)
        self.services, self.min_retention = rules.services, rules.min_retention
        self.wait_timeout = check_seconds("wait_timeout", wait_timeout, MAX_WAIT_TIMEOUT)
        self.poll_interval = check_seconds("poll_interval", poll_interval, MAX_POLL_INTERVAL)
        if notes is not None and not isinstance(notes, str):
            raise InputError("notes %r is not valid: expected a string." % (notes,))
        self.safety_backup, self.notes = safety_backup, notes


def restore_backup(client, application, environment, backup, confirm, *, check_mode=False, sleep=time.sleep,
                   clock=time.monotonic, **options):
    """``restore`` for a Python caller: ``RestoreOptions(backup, confirm, **options)`` are checked first."""
    return restore(client, application, environment, RestoreOptions(backup, confirm, **options), check_mode=check_mode,
                   sleep=sleep, clock=clock)


def restore(client, application, environment, options, check_mode=False, sleep=time.sleep, clock=time.monotonic):
    """The restore ``options`` (``RestoreOptions``) ask for; returns ``{"changed", "restore", "backup",
    "safety_backup", "parts"}``; raises ``RestoreFailed`` when the platform's restore ends without success, naming the
    restore, the backup, the environment and its errors."""
    # Without services: every part of the backup (``latest``: the latest good backup, all parts successful).
    chosen = resolve_backup(client, application, environment, options.backup, options.services or (),
                            options.min_retention)
    if options.confirm != chosen.name:
        raise InputError("confirm %r does not name the environment to restore into: expected %r. Nothing was sent."
                         % (options.confirm, chosen.name))
    entry = chosen.backup
    # With services, resolve_backup selected the parts (chosen.parts); without, the whole backup is restored.
    parts = chosen.parts if options.services else _usable_parts(entry, chosen.name)
    described = dict((key, entry.get(key)) for key in ("uuid", "taken_at", "dated_by", "trigger", "notes"))
    result = {"changed": True, "backup": described, "restore": None, "safety_backup": None,
              "parts": [dict((k, p.get(k)) for k in ("uuid", "service_type", "prefix")) for p in parts]}
    if check_mode:
        return result
    waits = dict(wait_timeout=options.wait_timeout, poll_interval=options.poll_interval, sleep=sleep, clock=clock)
    if options.safety_backup:
        wanted = Services(sorted(set("%s:%s" % (p.get("service_type"), p.get("prefix")) for p in parts)))
        result["safety_backup"] = safety_backup(
            client, chosen.application, chosen.environment, wanted, "Safety backup before restoring backup %s "
            "(divio.cloud.backup_restore)" % entry["uuid"], "backup %s was not restored" % entry["uuid"], options,
            sleep, clock)
    done = _start_and_wait(client, chosen, parts, options.notes, result["safety_backup"], waits)
    result["restore"] = dict((key, done.get(key)) for key in ("uuid", "created_at", "started_at", "finished", "success",
                                                              "errors"))
    return result


def _start_and_wait(client, chosen, parts, notes, safety, waits):
    """``POST backup-restores/``, then the restore polled until it finished; ``RestoreFailed`` unless it succeeded."""
    entry, name = chosen.backup, chosen.name
    body = {"backup": entry["uuid"], "service_instance_restores": [{"service_instance_backup": p["uuid"]} for p in parts],
            "notes": notes or "divio.cloud.backup_restore"}
    created = client.post(RESTORES, body)
    if not isinstance(created, dict) or not isinstance(created.get("uuid"), str):
        raise InvalidResponseError("POST %s did not answer with the new restore; a restore of backup %s into %s may have "
                                   "started - check the Control Panel." % (RESTORES, entry["uuid"], name), path=RESTORES)
    path = "%s%s/" % (RESTORES, quote(created["uuid"], safe=""))
    what = "restore %s of backup %s into %s" % (created["uuid"], entry["uuid"], name)
    try:
        done = poll_object(client, path, lambda item: bool(item.get("finished")), waits["wait_timeout"],
                           waits["poll_interval"], what, "restore", sleep=waits["sleep"], clock=waits["clock"])
    except WaitTimeout as exc:
        raise RestoreFailed("%s; it may still finish - look at the environment in the Control Panel." % exc,
                            uuid=created["uuid"]) from None
    if done.get("success") != SUCCESS:
        errors = "; ".join(str(e) for e in done.get("errors") or []) or "no errors given"
        raise RestoreFailed("%s ended %s: %s.%s" % (
            what, done.get("success"), excerpt(errors, 500),
            " The safety backup taken before it is %s." % safety["uuid"] if safety else ""), uuid=created["uuid"])
    return done


def _usable_parts(entry, name):
    """Every part of the backup (a restore without ``services`` restores it whole), each usable: selected by the
    types the backup holds. A part not addressable as ``TYPE:PREFIX`` (a known type, a prefix) is refused."""
    parts = entry["service_instance_backups"]
    if not parts:
        raise InputError("backup %s of %s holds no parts to restore." % (entry["uuid"], name))
    for part in parts:
        kind, prefix = part.get("service_type"), part.get("prefix")
        if kind not in SERVICE_TYPES or not isinstance(prefix, str) or not prefix or prefix != prefix.strip():
            known = ", ".join(SERVICE_TYPES)
            raise InputError("backup %s of %s holds a %s:%s part, which is not a service instance of a known type "
                             "(%s) with a prefix; nothing was restored." % (entry["uuid"], name, kind, prefix, known))
    return select_parts(entry, Services(sorted(set(part["service_type"] for part in parts))), name)
