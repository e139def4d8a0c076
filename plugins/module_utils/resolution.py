# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which backup, which parts: a backup named by id (it must belong to the environment) or ``latest`` by
``backup_info``'s rules (backups.py), and the parts of it that ``services`` selects, each usable. Used by
``backup_download``, ``backup_restore`` and ``backup_copy``; the fleet check hands over what it judged itself
(``ChosenBackup``). No Ansible imports.
"""

import datetime
from urllib.parse import quote

from ansible_collections.divio.cloud.plugins.module_utils.backups import (
    BACKUPS,
    Pick,
    ServiceInstances,
    backup_entry,
    date_backup,
    fetch_parts,
    find_backups,
    split_service,
)
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError, NotFoundError, excerpt
from ansible_collections.divio.cloud.plugins.module_utils.resources import get_application, get_by_id, get_environment

_UTC = datetime.timezone.utc


class ChosenBackup:
    """A backup chosen for a task and the parts to act on: what ``resolve_backup`` answers, and what a caller that
    judged the backup already gives ``download_backup`` (``chosen``) so that it is not read again. ``application``
    and ``environment`` are the API's objects (``uuid``, ``slug``), ``backup`` a backup entry (``uuid``,
    ``taken_at``, ``dated_by``, ...), ``parts`` the part entries."""

    def __init__(self, application, environment, backup, parts):
        self.application, self.environment, self.backup, self.parts = application, environment, backup, parts

    @property
    def name(self):
        """``<application slug>/<environment slug>``, as messages name an environment."""
        return "%s/%s" % (self.application.get("slug"), self.environment.get("slug"))


def resolve_backup(client, application, environment, backup, services, min_retention):
    """A ``ChosenBackup``: the backup (``latest`` by backup_info's rules, or an id that must belong to this
    environment) and its parts that ``services`` selects."""
    app = get_application(client, application)
    env = get_environment(client, app, environment)
    name = "%s/%s" % (app.get("slug"), env.get("slug"))
    if backup == "latest":
        entry = find_backups(client, app["uuid"], environment=env["slug"], services=list(services) or None,
                             min_retention=min_retention)[0]
        if entry["uuid"] is None:
            raise NotFoundError("%s has no qualifying backup%s (as divio.cloud.backup_info judges it, min_retention %s)."
                                % (name, " holding " + ", ".join(services) if services else "", min_retention))
    else:
        found = get_by_id(client, BACKUPS, backup)
        if not isinstance(found, dict) or found.get("uuid") != backup:
            raise NotFoundError("backup %r not found (%s%s/)." % (backup, BACKUPS, quote(backup, safe="")))
        if found.get("environment") != env["uuid"]:
            raise InputError("backup %s belongs to another environment (%s), not to %s (%s); refused." % (
                backup, found.get("environment"), name, env["uuid"]))
        parts = fetch_parts(client, found)
        instances = ServiceInstances(client, env["uuid"])
        taken_at, dated_by, _undated = date_backup(found, parts)
        now = datetime.datetime.now(_UTC)
        entry = backup_entry(app, env, Pick(found, parts, parts, taken_at, dated_by), instances, now, None)
    return ChosenBackup(app, env, entry, select_parts(entry, services, name))


def select_parts(entry, services, name):
    """The parts of a backup entry that ``services`` names, each usable; ``InputError`` otherwise."""
    chosen = []
    parts = entry["service_instance_backups"]
    for service in services:
        kind, prefix = split_service(service)
        matches = [p for p in parts if p.get("service_type") == kind and
                   (prefix is None or str(p.get("prefix") or "").upper() == prefix.upper())]
        if not matches:
            held = ", ".join("%s:%s" % (p.get("service_type"), p.get("prefix")) for p in parts) or "nothing"
            raise InputError("backup %s of %s holds no %s part; it holds: %s." % (entry["uuid"], name, service, held))
        for part in matches:
            if part.get("errors") or not part.get("ended_at"):
                problem = "; ".join(str(e) for e in part.get("errors") or []) or "it has not ended"
                raise InputError("backup %s of %s: its %s:%s part cannot be downloaded: %s." % (
                    entry["uuid"], name, part.get("service_type"), part.get("prefix"), excerpt(problem, 300)))
            if not any(p["uuid"] == part["uuid"] for p in chosen):
                chosen.append(part)
    return chosen
