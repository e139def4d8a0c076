# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Taking a backup: create it the way divio-cli does (POST /backups/), then poll until it is done.

Used by the ``backup`` module (and through it the ``backup_gate`` role). No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import time

from ansible_collections.divio.cloud.plugins.module_utils.backups import (
    BACKUPS,
    COMPLETED,
    SUCCESS,
    Pick,
    backup_entry,
    fetch_parts,
    find_backups,
    parse_duration,
    parse_services,
    parse_timestamp,
)
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    BackupFailed,
    BackupTimeout,
    InputError,
    InvalidResponseError,
)
from ansible_collections.divio.cloud.plugins.module_utils.resources import (
    get_application,
    get_environment,
    list_service_instances,
    require_text,
)
from ansible_collections.divio.cloud.plugins.module_utils.waiting import WaitTimeout, poll_until

NEW = "NEW"


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InputError("%s %r is not valid: expected a number of seconds greater than 0." % (name, value))
    return value


def resolve_target(client, application, environment, services):
    """``(application, environment, [service instance uuid], {uuid: instance})`` for a new backup.

    Without ``services``: every service instance of the environment that is provisioned (a ``NEW``
    one has nothing to back up). With ``services``: the instances of those types, which must exist.
    """
    app = get_application(client, application)
    env = get_environment(client, app, environment)
    instances = list_service_instances(client, env["uuid"])
    if services is None:
        chosen = [uuid for uuid, inst in instances.items() if inst.get("service_status") != NEW]
    else:
        chosen = [uuid for uuid, inst in instances.items() if inst.get("type") in services]
        missing = [kind for kind in services if not any(instances[uuid].get("type") == kind for uuid in chosen)]
        if missing:
            raise InputError("%s/%s has no %s service instance to back up; it has: %s."
                             % (app.get("slug"), environment, ", ".join(missing),
                                ", ".join(sorted(set(i.get("type") or "?" for i in instances.values()))) or "none"))
    if not chosen:
        raise InputError("%s/%s has no provisioned service instance to back up." % (app.get("slug"), environment))
    return app, env, sorted(chosen), instances


def take_backup(client, application, environment, services=None, notes="", wait=True, wait_timeout=1800,
                poll_interval=2, only_if_older_than=None, check_mode=False, sleep=time.sleep, clock=time.monotonic):
    """Returns ``(changed, entry)``; ``entry`` is shaped like a ``backup_info`` entry (or None in check
    mode when a backup would be created)."""
    services = parse_services(services)
    require_text("environment", environment, allow_none=False)
    threshold = parse_duration(only_if_older_than, "only_if_older_than") if only_if_older_than is not None else None
    wait_timeout = _positive("wait_timeout", wait_timeout)
    poll_interval = _positive("poll_interval", poll_interval)
    if notes is not None and not isinstance(notes, str):
        raise InputError("notes %r is not valid: expected a string." % (notes,))

    app, env, service_uuids, instances = resolve_target(client, application, environment, services)
    if threshold is not None:
        latest = find_backups(client, app["uuid"], environment=env["slug"], services=services, max_age=threshold)[0]
        if latest["fresh"]:
            return False, latest
    if check_mode:
        return True, None

    created = client.post(BACKUPS, {"environment": env["uuid"], "services": service_uuids, "trigger": "MANUAL",
                                    "notes": notes or ""})
    if not isinstance(created, dict) or not isinstance(created.get("uuid"), str):
        raise InvalidResponseError("POST %s did not answer with the new backup." % BACKUPS, path=BACKUPS)
    backup = created
    if wait:
        backup = _wait(client, created["uuid"], wait_timeout, poll_interval, sleep, clock)
    parts = fetch_parts(client, backup) if backup.get("service_instance_backups") else []
    taken = [parse_timestamp(p["taken_at"], "taken_at of %s" % p.get("uuid")) for p in parts if p.get("taken_at")]
    pick = Pick(backup, parts, parts, min(taken) if taken else None)
    if wait and backup.get("success") != SUCCESS:
        errors = ["%s: %s" % (p.get("service_type"), "; ".join(str(e) for e in (p.get("errors") or ["did not finish"])))
                  for p in parts if p.get("errors") or not p.get("ended_at")]
        raise BackupFailed("backup %s of %s/%s ended %s: %s" % (
            backup["uuid"], app.get("slug"), env.get("slug"), backup.get("success"), "; ".join(errors) or "no details given"))
    now = datetime.datetime.now(datetime.timezone.utc)
    return True, backup_entry(app, env, pick, instances, now, None)


def _wait(client, uuid, timeout, interval, sleep, clock):
    path = "%s%s/" % (BACKUPS, uuid)

    def fetch():
        backup = client.get(path)
        if not isinstance(backup, dict):
            raise InvalidResponseError("GET %s did not answer with a backup object." % path, path=BACKUPS)
        return backup

    # COMPLETED is the documented end; a set outcome is one too, whatever the state is called.
    def ended(backup):
        return backup.get("state") == COMPLETED or backup.get("success") is not None

    try:
        return poll_until(fetch, ended, timeout, interval, "backup %s" % uuid, sleep=sleep, clock=clock,
                          describe=lambda backup: "state %s" % backup.get("state"))
    except WaitTimeout as exc:
        raise BackupTimeout("%s; it may still complete - check it with divio.cloud.backup_info or `divio app backup` "
                            "later." % exc, uuid=uuid) from None
