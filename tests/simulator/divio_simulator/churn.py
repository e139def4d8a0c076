"""Churn: backups created and deleted while clients read, as on a live account.

A live account changes all the time: scheduled backups finish, ``divio app pull db`` makes a temporary
backup of one database, the platform deletes backups that reached their ``scheduled_for_deletion_at``.
Page-number pagination then shifts items across page boundaries both ways. With churn on, the simulator
makes such changes at random positions of the backups list (and so of every filtered list of backups),
keeping the relative order of every other record, as a database with a stable ordering does.

Each change is drawn from a generator seeded with ``seed``, so the same seed, data set and number of
changes give the same changes. Half of them create a backup (half of those a temporary pull backup of the
DEFAULT database, notes "Divio CLI pull", ``scheduled_for_deletion_at`` an hour ahead, the others a full
scheduled backup), half delete a finished backup picked at random (with its service-instance backups).

When they happen:

- ``rate`` changes per second, made by a background thread while the server runs (``per_request`` 0);
- ``per_request`` changes right before each API request is answered (``rate`` is ignored): the same
  request sequence then meets the same changes, for tests that must not depend on timing.

``stats()`` counts the changes and names the environments they touched: an environment no change touched
has the same answer as on a still server.

``shift`` is the other kind of change: made on request (the server's ``shift_lists``), it deletes an item in
front of the page asked for and adds one at the end, so ``count`` does not change while every later item
moves back one page boundary - the change a naive page-number reader misses silently.
"""

import random
import threading
import time

from .data import PULL_LIFETIME, PULL_NOTES, shape_part

RETENTION_SECONDS = 30 * 86400  # of the scheduled backups churn creates
SHIFTABLE = ("applications", "environments")  # lists ``Churn.shift`` can change: new ones need no other records


def _iso(epoch, micro):
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return text + (".%06dZ" % int((epoch % 1) * 1e6) if micro else "Z")


class Churn:
    """Creates and deletes backups of a :class:`~divio_simulator.data.Dataset` (see the module docstring)."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.rate = 0.0
        self.seed = 0
        self.per_request = 0
        self._rng = random.Random(0)
        self._lock = threading.Lock()  # the counters and the generator
        self._serving = False
        self._stop = threading.Event()
        self._thread = None
        self.created = 0
        self.deleted = 0
        self.touched = set()
        self.shifts_left = None  # shifts still to make (the server's shift_limit); None: no limit

    def configure(self, rate=0.0, seed=0, per_request=0):
        """Start over with new settings: the generator restarts from ``seed``."""
        self._stop_thread()
        with self._lock:
            self.rate, self.seed, self.per_request = float(rate), int(seed), int(per_request)
            self._rng = random.Random(self.seed)
        if self._serving:
            self._start_thread()

    @property
    def active(self):
        return bool(self.per_request or self.rate)

    # -- life cycle (the server's) --------------------------------------------------------------------

    def start(self):
        self._serving = True
        self._start_thread()

    def stop(self):
        self._serving = False
        self._stop_thread()

    def _start_thread(self):
        if self.rate > 0 and not self.per_request and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, args=(self.rate,), name="divio-simulator-churn", daemon=True)
            self._thread.start()

    def _stop_thread(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self, rate):
        started = time.monotonic()
        made = 0
        # On a schedule, not "sleep 1/rate": a slow change does not lower the rate.
        while not self._stop.wait(max(0.0, started + (made + 1) / rate - time.monotonic())):
            self.change()
            made += 1

    def on_request(self):
        """Called before each API request is answered."""
        for _unused in range(self.per_request):
            self.change()

    # -- the changes ----------------------------------------------------------------------------------

    def change(self):
        """Make one change; returns ``("created" | "deleted", backup)``."""
        dataset = self.dataset
        with dataset.lock, self._lock:
            rng = self._rng
            backups = dataset.backups
            if rng.random() < 0.5 and backups:
                # A random finished backup; a running one (API, jobs.py) is left alone.
                for _unused in range(20):
                    victim = backups[rng.randrange(len(backups))]
                    if victim.get("state") == "COMPLETED":
                        dataset.remove_backup(victim)
                        self.deleted += 1
                        self.touched.add(victim["environment"])
                        return "deleted", victim
            backup = self._create(rng)
            if backup is None:
                return None
            self.created += 1
            self.touched.add(backup["environment"])
            return "created", backup

    def _create(self, rng):
        dataset = self.dataset
        environments = dataset.environments
        if not environments:
            return None
        env = environments[rng.randrange(len(environments))]
        ready = [si for si in dataset.lookup("service_instances", "environment", env["uuid"]) if si.get("service_status") == "READY"]
        default_db = [si for si in ready if si.get("type") == "DATABASE" and si.get("prefix") == "DEFAULT"]
        pull = rng.random() < 0.5
        instances = default_db[:1] if pull else sorted(ready, key=lambda si: (si.get("type") != "DATABASE", si.get("prefix") != "DEFAULT"))
        if not instances:
            return None
        micro = rng.random() < 0.5
        now = dataset.clock().timestamp()
        # It has just finished: created a few minutes ago, every time in the past.
        created = now - rng.uniform(120, 600)
        started = created + rng.uniform(1, 30)
        backup_uuid = dataset.new_id(rng)
        parts, ends = [], []
        for si in instances:
            part_started = started + rng.uniform(0, 5)
            taken = part_started + rng.uniform(1, 20)
            ended = taken + rng.uniform(10, 60)
            ends.append(ended)
            part = {
                "uuid": dataset.new_id(rng), "backup": backup_uuid, "service_instance": si["uuid"],
                "service_type": si["type"], "queued_at": _iso(created + rng.uniform(0, 1), micro),
                "started_at": _iso(part_started, micro), "ended_at": _iso(ended, micro), "taken_at": _iso(taken, micro),
                "size": rng.randint(5, 2000) * 1024 * 1024, "errors": [],
            }
            parts.append(shape_part(part, dataset.part_shape, rng))
        backup = {
            "uuid": backup_uuid, "environment": env["uuid"], "state": "COMPLETED", "success": "SUCCESS",
            "trigger": "MANUAL" if pull else "SCHEDULED", "notes": PULL_NOTES if pull else "",
            "service_instance_backups": [part["uuid"] for part in parts],
            "scheduled_for_deletion_at": _iso(created + (PULL_LIFETIME if pull else RETENTION_SECONDS), micro),
            "created_at": _iso(created, micro), "started_at": _iso(started, micro),
            "ended_at": _iso(max(ends) + rng.uniform(1, 5), micro),
        }
        for part in parts:
            dataset.add("service_instance_backups", part)
        dataset.add("backups", backup, position=rng.randrange(len(dataset.backups) + 1))
        return backup

    def shift(self, name, listed, start):
        """The change page-number pagination hides best, made before a page from ``start`` on is answered: an
        item in front of it (of ``listed``, the list as served) deleted, a new one added at the end. ``count``
        stays; every later item moves one place forward, so the first item of the page asked for has just moved
        onto the page before it. Returns whether it made the change (``shifts_left`` may say no more); the
        two records join ``touched``."""
        dataset = self.dataset
        with dataset.lock, self._lock:
            if self.shifts_left is not None:
                if not self.shifts_left:
                    return False
                self.shifts_left -= 1
            victim = listed[self._rng.randrange(start)]
            twin = dict(listed[-1], uuid=dataset.new_id(self._rng))
            if "slug" in twin:
                twin["slug"] = "%s-%s" % (twin["slug"][:40], twin["uuid"][:6])
            dataset.remove(name, victim)
            dataset.add(name, twin)
            self.created, self.deleted = self.created + 1, self.deleted + 1
            self.touched.update((victim["uuid"], twin["uuid"]))
            return True

    # -- counters -------------------------------------------------------------------------------------

    def stats(self):
        with self._lock:
            return {"created": self.created, "deleted": self.deleted, "environments": sorted(self.touched)}

    def reset_stats(self):
        with self._lock:
            self.created = self.deleted = 0
            self.touched = set()
