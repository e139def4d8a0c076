"""Backups created through the API (POST /apps/v3/backups/), progressing with time like real ones.

A new backup is queued (state ``NEW``), runs (``WORKING``: parts started, the snapshot taken) and ends
(``COMPLETED`` with ``success``) after ``duration`` seconds. The records are the data set's own dicts,
brought up to date before every request, so list and detail views agree. ``outcome`` decides how it
ends: ``SUCCESS``, ``FAILURE`` (every part has errors), ``PARTIAL`` (only the first part succeeds), or
``NEVER`` (it stays ``WORKING``, for wait-timeout tests). A backup made from uploaded files (uploads.py) is
*held* (``NEW``) until its files are in, then runs the same way, its parts' ``size`` the files' sizes.

Ids follow the data set's ``id_style``, parts its ``part_shape``, times its clock. A body may carry
``scheduled_for_deletion_at`` (as divio-cli's pull does): the backup is then deleted when that time has
passed (``Dataset.expire``).
"""

import random
import threading
import time
from datetime import datetime, timedelta, timezone

from .data import shape_part

OUTCOMES = ("SUCCESS", "FAILURE", "PARTIAL", "NEVER")


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def invalid_backup_parts(dataset, backup_id, part_ids, field, unusable):
    """The DRF-style 400 body when ``backup_id`` is no backup or ``part_ids`` (the body's ``field``) are not finished,
    error-free parts of it (``unusable``: the message for one that is not, with ``%s`` for its id); else None.
    Downloads and restores take the same references."""
    backup = dataset.by_uuid["backups"].get(str(backup_id))
    if backup is None:
        return {"backup": ['Invalid pk "%s" - object does not exist.' % backup_id]}
    if not isinstance(part_ids, list) or not part_ids:
        return {field: ["This list may not be empty."]}
    for part_id in part_ids:
        part = dataset.by_uuid["service_instance_backups"].get(str(part_id))
        if part is None or part["backup"] != backup["uuid"]:
            return {field: ['Invalid pk "%s" - object does not exist.' % part_id]}
        if part.get("errors") or not part.get("ended_at"):
            return {field: [unusable % part_id]}
    return None


def _parse(text):
    """An aware datetime from an ISO 8601 string as DRF accepts it, else None."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


class BackupJobs:
    def __init__(self, dataset):
        self.dataset = dataset
        self._running = []  # (started monotonic, started wall clock, backup, parts, outcome, duration, sizes)
        self._held = {}  # backup uuid -> (parts, outcome, duration): waiting for ``start``
        self._lock = threading.Lock()
        self._rng = random.Random("backups")

    def validate(self, body):
        """The DRF-style 400 body for a bad request, or None."""
        if not isinstance(body, dict):
            return {"non_field_errors": ["Invalid data. Expected a dictionary."]}
        errors = {}
        env = self.dataset.by_uuid["environments"].get(str(body.get("environment")))
        if env is None:
            errors["environment"] = ['Invalid pk "%s" - object does not exist.' % body.get("environment")]
        services = body.get("services")
        if not isinstance(services, list) or not services:
            errors["services"] = ["This list may not be empty."]
        elif env is not None:
            for service in services:
                instance = self.dataset.by_uuid["service_instances"].get(str(service))
                if instance is None or instance["environment"] != env["uuid"]:
                    errors["services"] = ['Invalid pk "%s" - object does not exist.' % service]
        if body.get("notes") is not None and not isinstance(body.get("notes"), str):
            errors["notes"] = ["Not a valid string."]
        deletion = body.get("scheduled_for_deletion_at")
        if deletion is not None and _parse(deletion) is None:
            # DRF's DateTimeField message.
            errors["scheduled_for_deletion_at"] = ["Datetime has wrong format. Use one of these formats instead: "
                                                   "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]
        return errors or None

    def create(self, body, outcome, duration, held=False):
        """The new backup; with ``held`` it stays ``NEW`` until ``start`` is called."""
        dataset = self.dataset
        now = dataset.clock()
        with self._lock:
            backup_uuid = dataset.new_id(self._rng)
            part_uuids = [dataset.new_id(self._rng) for _service in body["services"]]
        parts = []
        for service, part_uuid in zip(body["services"], part_uuids):
            instance = dataset.by_uuid["service_instances"][service]
            parts.append({
                "uuid": part_uuid, "backup": backup_uuid,
                "service_instance": service, "service_type": instance["type"], "queued_at": _iso(now),
                "started_at": None, "ended_at": None, "taken_at": None, "size": None, "errors": [],
            })
        deletion = _parse(body.get("scheduled_for_deletion_at"))
        backup = {
            "uuid": backup_uuid, "environment": body["environment"], "state": "NEW", "success": None,
            "trigger": body.get("trigger") or "MANUAL", "notes": body.get("notes") or "",
            "service_instance_backups": [p["uuid"] for p in parts],
            "scheduled_for_deletion_at": _iso(deletion) if deletion else None,
            "created_at": _iso(now), "started_at": None, "ended_at": None,
        }
        for part in parts:
            dataset.add("service_instance_backups", part)
        dataset.add("backups", backup)
        with self._lock:
            if held:
                self._held[backup_uuid] = (parts, outcome, duration)
            else:
                self._running.append((time.monotonic(), now, backup, parts, outcome, duration, None))
        return backup

    def start(self, backup, sizes):
        """Run a held backup from now; ``sizes``: each part's size once it succeeds."""
        with self._lock:
            parts, outcome, duration = self._held.pop(backup["uuid"])
            self._running.append((time.monotonic(), self.dataset.clock(), backup, parts, outcome, duration, sizes))

    def advance(self):
        """Bring every running backup up to date with the clock."""
        if not self._running:
            return
        with self._lock:
            still = []
            for job in self._running:
                if not self._step(*job):
                    still.append(job)
                else:
                    # The field set the data set's part shape asks for, once the part has its final values.
                    for part in job[3]:
                        shape_part(part, self.dataset.part_shape, self._rng)
            self._running = still

    @staticmethod
    def _step(started, wall, backup, parts, outcome, duration, sizes):
        """Update one backup; True once it has ended."""
        elapsed = time.monotonic() - started
        if elapsed >= duration * 0.1 and backup["state"] == "NEW":
            backup.update(state="WORKING", started_at=_iso(wall + timedelta(seconds=duration * 0.1)))
            for part in parts:
                part.update(started_at=backup["started_at"], taken_at=_iso(wall + timedelta(seconds=duration * 0.2)))
        if elapsed < duration or outcome == "NEVER":
            return False
        ended = _iso(wall + timedelta(seconds=duration))
        for number, part in enumerate(parts):
            failed = outcome == "FAILURE" or (outcome == "PARTIAL" and number > 0)
            size = sizes[number] if sizes else 1048576 * (number + 3)
            part.update(ended_at=ended, size=None if failed else size,
                        errors=["%s backup failed: simulated error" % part["service_type"].lower()] if failed else [])
            if failed:
                part["taken_at"] = None
        backup.update(state="COMPLETED", success=outcome, ended_at=ended)
        return True
