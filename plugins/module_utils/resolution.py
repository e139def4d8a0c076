# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Which backup, which parts, and where a part's file is: a backup named by id (it must belong to the environment)
or ``latest`` by ``backup_info``'s rules (backups.py), and the parts of it that ``services`` selects, each usable.
Used by ``backup_download``, ``backup_restore`` and ``backup_copy``; the fleet check hands over what it judged
itself (``ChosenBackup``). Then, per part, the platform's side of a download (divio-cli's ``app pull``):
``POST backup-downloads/`` -> ``GET backup-download-service-instances/?backup=<download>`` -> poll that download
part until ``ended_at`` -> its ``download_url`` (which fetch.py fetches). No Ansible imports.
"""

import datetime
import time
from urllib.parse import quote

from ansible_collections.divio.cloud.plugins.module_utils.backups import (
    BACKUPS,
    SERVICE_INSTANCE_BACKUPS,
    FindOptions,
    Pick,
    ServiceInstances,
    backup_entry,
    date_backup,
    fetch_parts,
    find_backups_with,
)
from ansible_collections.divio.cloud.plugins.module_utils.client import APPS
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    DownloadError,
    InputError,
    InvalidResponseError,
    NotFoundError,
    WaitTimeout,
    excerpt,
)
from ansible_collections.divio.cloud.plugins.module_utils.resources import get_application, get_by_id, get_environment
from ansible_collections.divio.cloud.plugins.module_utils.values import split_service
from ansible_collections.divio.cloud.plugins.module_utils.waiting import poll_object

DOWNLOADS = APPS + "backup-downloads/"
DOWNLOAD_PARTS = APPS + "backup-download-service-instances/"
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
        # services and min_retention are the task's parsed values (Services, Duration): taken as they are.
        options = FindOptions(environment=env["slug"], services=services or None, min_retention=min_retention)
        entry = find_backups_with(client, app["uuid"], options)[0]
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


# -- the platform's side of one download ----------------------------------------------------------------

def prepare_download(client, backup_uuid, part, wait_timeout, poll_interval, sleep=time.sleep, clock=time.monotonic):
    """The download URL of one part: POST the download, find its part, poll it until ``ended_at``."""
    what = "download of part %s of backup %s" % (part["uuid"], backup_uuid)
    created = client.post(DOWNLOADS, {"backup": backup_uuid, "service_instance_backups": [part["uuid"]], "trigger": "PULL"})
    if not isinstance(created, dict) or not isinstance(created.get("uuid"), str):
        raise InvalidResponseError("POST %s did not answer with the new download." % DOWNLOADS, path=DOWNLOADS)
    page = client.get(DOWNLOAD_PARTS, {"backup": created["uuid"], "page_size": 10})
    results = page.get("results") if isinstance(page, dict) else None
    if not isinstance(results, list):
        raise InvalidResponseError("GET %s?backup=%s did not answer with a list." % (DOWNLOAD_PARTS, created["uuid"]),
                                   path=DOWNLOAD_PARTS)
    # The filter is re-checked where the items say what they belong to (a server may ignore it).
    items = [item for item in results if isinstance(item, dict) and isinstance(item.get("uuid"), str)
             and item.get("backup", created["uuid"]) == created["uuid"]]
    if len(items) != 1:
        raise InvalidResponseError("%s: download %s has %d download parts, expected one." % (
            what, created["uuid"], len(items)), path=DOWNLOAD_PARTS)
    path = "%s%s/" % (DOWNLOAD_PARTS, quote(items[0]["uuid"], safe=""))
    try:
        item = poll_object(client, path, lambda item: bool(item.get("ended_at")), wait_timeout, poll_interval, what,
                           "download part", sleep=sleep, clock=clock)
    except WaitTimeout as exc:
        raise DownloadError("%s; the platform never made the file ready (download %s)." % (exc, created["uuid"])) from None
    if item.get("errors"):
        raise DownloadError("%s failed on the platform: %s" % (what, excerpt("; ".join(str(e) for e in item["errors"]), 400)))
    url = item.get("download_url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise InvalidResponseError("%s ended without a download_url." % what, path=DOWNLOAD_PARTS)
    return url


def current_size(client, part):
    """The part's size as the API gives it now that its file is ready (the part may have been listed before it was
    final): the size to check the download against; None when the API gives none."""
    current = client.get("%s%s/" % (SERVICE_INSTANCE_BACKUPS, quote(part["uuid"], safe="")))
    size = current.get("size") if isinstance(current, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
