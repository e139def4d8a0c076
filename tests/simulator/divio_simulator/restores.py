"""Restores (divio-cli ``app push db`` / ``push media``): ``POST /apps/v3/backup-restores/``
``{"backup", "service_instance_restores": [{"service_instance_backup": <part>}], "notes"}`` -> the restore
(``uuid, backup, service_instance_restores, notes, created_at, started_at, finished, success``), polled at
``backup-restores/<uuid>/`` until ``finished`` is set; ``success`` is ``SUCCESS`` or ``FAILURE``
(divio-api.md, "Restores and uploads"). The body names no target: a part goes back into the service
instance it was taken from.

A successful restore records what it put where (``applied``; ``SimulatorServer.restored()``): per part the
environment and service instance it went into, and the size and sha256 of the bytes - an uploaded part's file as
received (uploads.py), any other part's the file its download serves (downloads.py) - so a test can assert that a
target now holds the source's bytes.

Settings (``restores={...}``): ``duration_seconds`` (default 1), ``outcome`` ``SUCCESS`` (default) or
``FAILURE`` (every restore made while it is set fails, with ``errors`` naming the service).
"""

import hashlib
import random
import threading
import time

from .downloads import part_file
from .jobs import _iso, invalid_backup_parts

DEFAULTS = {"duration_seconds": 1.0, "outcome": "SUCCESS"}
OUTCOMES = ("SUCCESS", "FAILURE")


def restore_settings(value):
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise ValueError("restores must be an object of settings")
    unknown = sorted(set(value) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown restores setting(s): {', '.join(unknown)}")
    settings = dict(DEFAULTS, **value)
    duration = settings["duration_seconds"]
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration <= 3600:
        raise ValueError("restores.duration_seconds must be a number from 0 to 3600")
    if settings["outcome"] not in OUTCOMES:
        raise ValueError(f"restores.outcome must be one of {', '.join(OUTCOMES)}")
    return settings


class RestoreJobs:
    def __init__(self, dataset):
        self.dataset = dataset
        self.restores = {}
        self._pending = []  # (ends at monotonic, restore, outcome)
        self._lock = threading.Lock()
        self._rng = random.Random("backup-restores")
        self.applied = []  # what successful restores put where, oldest first (see the module docstring)
        self.uploaded = {}  # part uuid -> bytes of uploaded parts: the server hands in UploadJobs.files

    def validate(self, body):
        if not isinstance(body, dict):
            return {"non_field_errors": ["Invalid data. Expected a dictionary."]}
        items = body.get("service_instance_restores")
        if isinstance(items, list):
            items = [item.get("service_instance_backup") if isinstance(item, dict) else None for item in items]
        error = invalid_backup_parts(self.dataset, body.get("backup"), items, "service_instance_restores",
                                     "Service instance backup %s cannot be restored.")
        if error:
            return error
        if body.get("notes") is not None and not isinstance(body.get("notes"), str):
            return {"notes": ["Not a valid string."]}
        return None

    def create(self, body, settings):
        now = self.dataset.clock()
        with self._lock:
            restore = {"uuid": self.dataset.new_id(self._rng), "backup": body["backup"],
                       "service_instance_restores": [{"service_instance_backup": item["service_instance_backup"]}
                                                     for item in body["service_instance_restores"]],
                       "notes": body.get("notes") or "", "created_at": _iso(now), "started_at": _iso(now),
                       "finished": None, "success": None, "errors": []}
            self.restores[restore["uuid"]] = restore
            self._pending.append((time.monotonic() + settings["duration_seconds"], restore, settings["outcome"]))
        return restore

    def advance(self):
        if not self._pending:
            return
        with self._lock:
            still = []
            for ends_at, restore, outcome in self._pending:
                if time.monotonic() < ends_at:
                    still.append((ends_at, restore, outcome))
                    continue
                restore.update(finished=_iso(self.dataset.clock()), success=outcome)
                if outcome == "SUCCESS":
                    self._record(restore)
                if outcome == "FAILURE":
                    kinds = sorted({(self.dataset.by_uuid["service_instance_backups"].get(item["service_instance_backup"])
                                     or {}).get("service_type") or "service" for item in restore["service_instance_restores"]})
                    restore["errors"] = ["%s restore failed: pg_restore: error: could not execute query: ERROR: "
                                         "out of shared memory (simulated)" % "/".join(kinds)]
            self._pending = still

    def _record(self, restore):
        """Note which bytes each part of a successful restore put into which service instance."""
        by_uuid = self.dataset.by_uuid
        for item in restore["service_instance_restores"]:
            part = by_uuid["service_instance_backups"][item["service_instance_backup"]]
            instance = by_uuid["service_instances"].get(part["service_instance"]) or {}
            data = self.uploaded.get(part["uuid"])
            uploaded = data is not None
            if data is None:
                data = part_file(self.dataset, part, None)[0]
            self.applied.append({"restore": restore["uuid"], "environment": instance.get("environment"),
                                 "service_instance": part["service_instance"], "service_instance_backup": part["uuid"],
                                 "uploaded": uploaded, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})


class RestoreHandlers:
    def _create_restore(self, resource, key, body):
        sim = self.simulator
        self._create(sim.restore_jobs, self._json_body(body), sim.restores)

    def _get_restore(self, resource, key, body):
        record = self.simulator.restore_jobs.restores.get(key)
        if record is None:
            self._send_json(404, {"detail": "Not found."})
        else:
            self._send_json(200, record)

    def _list_restores(self, resource, key, body):
        self._send_page(list(self.simulator.restore_jobs.restores.values()))


HANDLERS = {
    ("backup_restores", "list", "POST"): "_create_restore",
    ("backup_restores", "list", "GET"): "_list_restores",
    ("backup_restores", "detail", "GET"): "_get_restore",
}
