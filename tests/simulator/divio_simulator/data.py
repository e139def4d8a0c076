"""Reproducible fake data for the Divio API simulator.

Every record is a plain dict shaped exactly like the API returns it. The same seed, size knobs and ``now``
always give the same data, uuids included (they are drawn from a ``random.Random(seed)``, never from the
global generator). All timestamps are relative to ``now`` (default: the current UTC time, truncated to
seconds), so "fresh" and "stale" mean something against the real clock while the server runs.

Trouble, placed on the first six environments in (application, environment) order, so it is present
whenever there are at least six environments (e.g. 3 applications x 2 environments). In the ``demo``
preset (seed independent):

============  ===========  ===============================================================================
application   environment  trouble
============  ===========  ===============================================================================
shop          test         fresh, but the scheduled backups 2 and 4 days before the newest FAILED (every
                           part has errors); the one 1 day before the newest waited ~45 min in the queue,
                           so a MANUAL backup created after it holds the *earlier* snapshot (ordering by
                           ``created_at`` and by ``taken_at`` disagree)
shop          live         its newest backup, a MANUAL one started minutes ago, is still running (state
                           WORKING, success null; the database part is done, the storage part is not); the
                           scheduled one before it succeeded < 24 h ago. Its newest deployment is running too.
blog          test         never backed up: no backups at all
blog          live         backups stopped 4 days ago: its latest good backup is 4-5 days old (stale)
intranet      test         its STORAGE instance is ``NEW`` (never provisioned): every backup holds only the
                           DATABASE part
intranet      live         newest finished backup is PARTIAL (database fine, storage failed, ``ended_at``
                           set on both); the one before is a full SUCCESS (1-2 days old), so the latest
                           usable backup depends on which services are asked for
wiki          test, live   healthy: newest backup succeeded < 24 h ago
crm           test         someone ran ``divio app pull db`` minutes ago: the newest backup is a temporary one
                           of the DEFAULT database only (MANUAL, notes "Divio CLI pull",
                           ``scheduled_for_deletion_at`` one hour after it was created); the scheduled one
                           before it (< 24 h) holds every service
crm           live         two DATABASE instances (prefix DEFAULT and REPORTING); the newest backup succeeded
                           but holds only DEFAULT and STORAGE; the one before holds all three
portal        test         a second DATABASE instance (prefix REPORTING) that is ``NEW`` (never provisioned),
                           so no backup holds it
portal        live         healthy
============  ===========  ===============================================================================

The trouble slots run in that order over the environments in (application, environment) order, so with
another number of environments per application they land elsewhere (``Dataset.troubles`` says where);
slots 7 and 8 stay healthy. Beyond that, older history everywhere has occasional FAILED / PARTIAL / MANUAL
(some database-only) backups drawn from the seed; the newest backups stay as described above. There is no
older "Divio CLI pull" backup: the platform deletes those an hour after they were made, and so does the
simulator (``Dataset.expire``): a backup whose ``scheduled_for_deletion_at`` has passed on the data set's
clock is deleted with its parts.

Deployments: a few finished ones per environment (``percent`` 100, or where a failed one stopped), newest
first in lists; the newest of shop/live is still running. Every deployment of the ``live`` environment of
the last application (portal in ``demo``, intranet in ``tiny``) fails, its newest finished one included:
``troubles["deployment_fails"]``, read by deployments.py.

``tiny`` holds only shop, blog and intranet (the first six trouble environments). Every backup's parts have
different ``taken_at`` values (the database snapshot is taken before the storage one). Every list is
shuffled once with the seeded generator, so the API order is arbitrary but stable across requests; records
added later (API, churn) keep the others' relative order.

Ids: ``id_style="divio"`` (the default) hands out ids shaped like Divio's own (26 lower-case base32
characters, e.g. ``bagztldeadfdhlilnmpzx3twly``); ``"uuid"`` hands out RFC 4122 version 4 UUIDs.

Service-instance backups: ``part_shape`` decides which fields they carry. ``full``: every field;
``documented``: exactly the fields of the one object Divio's API page shows (no ``service_type``);
``bare``: no ``service_type``, ``taken_at`` or ``size`` either; ``null``: those three present but null;
``mixed``: each part one of the four, drawn from the seed. divio-cli never reads ``taken_at`` or ``size``, but
its ``app pull`` does read ``service_type`` (it must be ``DATABASE`` or ``STORAGE``): the shapes without it are
what a client must survive, not what divio-cli's pull accepts.

Environment variables (envvars.py): every environment's list, with sensitive ones, from its id alone.

Run ``python data.py`` to time the ``bench-fleet`` generation and the server-side cost of one page.
"""

import base64
import heapq
import json
import random
import threading
import time
from collections import defaultdict
from operator import itemgetter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

# Size presets for ``generate_dataset(**SIZES[name])``; ``days`` is the number of scheduled backups per
# environment, taken every ``interval_hours``.
SIZES = {
    "tiny": {"organisations": 1, "applications": 3, "environments": 2, "days": 5},
    "demo": {"organisations": 2, "applications": 6, "environments": 2, "days": 14},
    "bench-fleet": {"organisations": 5, "applications": 100, "environments": 3, "days": 200},
}

APP_NAMES = ("shop", "blog", "intranet", "wiki", "crm", "portal", "docs", "events", "careers", "support", "press", "academy")
ENV_SLUGS = ("test", "live", "stage", "dev", "qa", "demo", "preview", "uat")
ORG_NAMES = ("Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Tyrell")
REGION_NAMES = ("Frankfurt", "Amsterdam", "Virginia")
DB_SERVICES = ("postgres-15", "postgres-15", "postgres-13", "mysql-8")
# "Database only" backups hold the DEFAULT database alone.
MANUAL_NOTES = ("Before deploy", "Database only", "pre-migration snapshot", "")
# What divio-cli's "app pull db/media" writes on the temporary backup it makes, and how long it lives.
PULL_NOTES = "Divio CLI pull"
PULL_LIFETIME = 3600
SECOND_DATABASE_PREFIX = "REPORTING"
ID_STYLES = ("divio", "uuid")
PART_SHAPES = ("full", "documented", "bare", "null", "mixed")
# The fields of a service-instance backup that the part shapes leave out or set to null.
_PART_OPTIONAL = ("service_type", "taken_at", "size")
DB_ERRORS = (
    'pg_dump: error: connection to server at "db" failed: timeout expired',
    "Database backup timed out after 3600 seconds.",
)
STORAGE_ERRORS = (
    "Upload to object storage failed: SlowDown (503).",
    "Could not list bucket contents: AccessDenied.",
)

# The trouble kinds, in the order they are given to the first environments (see the module docstring);
# None: a healthy environment.
TROUBLE_SLOTS = ("failed_and_late_queue", "running", "never_backed_up", "stale", "storage_new", "partial_latest",
                 None, None, "pull_newest", "two_databases", "second_database_new")
STALE_DAYS = 4
MINUTE, HOUR, DAY = 60, 3600, 86400


@dataclass
class Dataset:
    """All records of one simulated account, as the API returns them, with lookup indexes."""

    now: datetime
    user: dict[str, Any]
    organisations: list[dict[str, Any]]
    regions: list[dict[str, Any]]
    applications: list[dict[str, Any]]
    environments: list[dict[str, Any]]
    deployments: list[dict[str, Any]]
    service_instances: list[dict[str, Any]]
    backups: list[dict[str, Any]]
    service_instance_backups: list[dict[str, Any]]
    environment_variables: list[dict[str, Any]] = field(default_factory=list)
    # Trouble kind -> [{"application": slug, "environment": slug, "uuid": environment uuid, ...}]
    troubles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    id_style: str = "divio"  # of ids made later (API, churn): see the module docstring
    part_shape: str = "full"  # of service-instance backups made later

    RESOURCES = ("organisations", "regions", "applications", "environments", "deployments", "service_instances",
                 "backups", "service_instance_backups", "environment_variables")
    # Foreign keys indexed at load so that a filtered list costs one dict look-up, not a scan.
    INDEXED_FIELDS = {
        "applications": ("slug", "organisation"),
        "environments": ("application", "slug"),
        "deployments": ("environment", "application"),
        "service_instances": ("environment",),
        "backups": ("environment",),
        "service_instance_backups": ("backup", "service_instance"),
        "environment_variables": ("environment", "application", "name"),
    }
    # Resources without an application field that the API still filters by application.
    _VIA_ENVIRONMENT = ("deployments", "environment_variables")

    def __post_init__(self):
        # Serialises changes (API, churn, expiry); readers slice lists without it, which the GIL keeps whole.
        self.lock = threading.RLock()
        self._issued = set()  # ids handed out by new_id (see there)
        # The data set's clock starts at ``now`` and runs with the real one (generate_dataset puts a data set
        # made for the current time on the real clock itself).
        self._skew = self.now.timestamp() - time.time()
        self.reindex()

    def clock(self):
        """The data set's current time (aware UTC): what expiry and records made later go by."""
        return datetime.fromtimestamp(self._clock_epoch(), timezone.utc)

    def advance_clock(self, seconds):
        """Move the data set's clock on (tests of what happens when something falls due)."""
        self._skew += seconds

    def _clock_epoch(self):
        return time.time() + self._skew

    def new_id(self, rng):
        """A new id in this data set's ``id_style``, drawn from ``rng``, unique across every kind of object: no
        record of the data set, and no id handed out before (also of objects kept outside it, such as downloads
        and restores, or deleted since), has it - as the platform's ids never repeat."""
        with self.lock:
            issued = self._issued
            while True:
                candidate = make_id(rng.getrandbits(128), self.id_style)
                if candidate not in issued and not any(candidate in index for index in self.by_uuid.values()):
                    issued.add(candidate)
                    return candidate

    def reindex(self):
        """(Re)build ``by_uuid[resource][uuid]`` and ``by_field[resource][field][value] -> [records]``."""
        self.by_uuid = {name: {item["uuid"]: item for item in getattr(self, name)} for name in self.RESOURCES}
        self.by_field = {name: {f: defaultdict(list) for f in fields} for name, fields in self.INDEXED_FIELDS.items()}
        for name in self.INDEXED_FIELDS:
            for item in getattr(self, name):
                self._index(name, item)
        # Backups the platform deletes on its own, soonest first: (due, uuid).
        self._due = [(_epoch(b["scheduled_for_deletion_at"]), b["uuid"]) for b in self.backups if b.get("scheduled_for_deletion_at")]
        heapq.heapify(self._due)
        # Where records were last seen in their lists (see _position), built on a list's first removal.
        self._seen = {}
        self._changes = defaultdict(int)

    def _index(self, name, item):
        for field_name, index in self.by_field.get(name, {}).items():
            index[self._field_value(name, item, field_name)].append(item)

    def _field_value(self, name, item, field_name):
        # A deployment has no application field; the API still filters it by application.
        if name in self._VIA_ENVIRONMENT and field_name == "application":
            return self.by_uuid["environments"][item["environment"]]["application"]
        return item[field_name]

    def add(self, name, item, position=None):
        """Add a new record (e.g. a backup created through the API) and index it.

        ``position``: its index in the list (default: the end); filtered lists get it where the full list
        has it, so a filtered list stays the full list filtered.
        """
        with self.lock:
            items = getattr(self, name)
            if position is None or position >= len(items):
                position = len(items)
                items.append(item)
                self._index(name, item)
            else:
                for field_name, index in self.by_field.get(name, {}).items():
                    value = self._field_value(name, item, field_name)
                    if name in self._VIA_ENVIRONMENT and field_name == "application":
                        index[value].append(item)  # not a field of the record: no cheap position
                        continue
                    before = list(map(itemgetter(field_name), items[:position])).count(value)  # in C: churn adds 10 a second
                    index[value].insert(before, item)
                items.insert(position, item)
            self.by_uuid[name][item["uuid"]] = item
            self._changes[name] += 1
            if name in self._seen:
                self._seen[name][item["uuid"]] = (position, self._changes[name])
            if name == "backups" and item.get("scheduled_for_deletion_at"):
                heapq.heappush(self._due, (_epoch(item["scheduled_for_deletion_at"]), item["uuid"]))

    def remove(self, name, item):
        """Delete one record from its list and every index."""
        with self.lock:
            if self.by_uuid[name].pop(item["uuid"], None) is None:
                return False
            del getattr(self, name)[self._position(name, item)]
            self._changes[name] += 1
            self._seen[name].pop(item["uuid"], None)
            for field_name, index in self.by_field.get(name, {}).items():
                value = self._field_value(name, item, field_name)
                index[value].remove(item)
                if not index[value]:
                    del index[value]
            return True

    def _position(self, name, item):
        """The index of ``item`` in list ``name``. Each change moves a record by one place at most, so it is looked
        for first around where it was last seen, as far as the changes since allow: a scan of a whole list of
        100,000 records costs tens of milliseconds, which churn's removals (10 a second, under the lock) cannot
        afford. A list changed behind the data set's back is searched whole."""
        items = getattr(self, name)
        seen = self._seen.get(name)
        if seen is None:
            changes = self._changes[name]
            seen = self._seen[name] = {record["uuid"]: (i, changes) for i, record in enumerate(items)}
        where = seen.get(item["uuid"])
        if where is not None:
            drift = self._changes[name] - where[1]
            try:
                return items.index(item, max(0, where[0] - drift), where[0] + drift + 1)
            except ValueError:
                pass
        return items.index(item)  # identity first: found without comparing whole records

    def remove_backup(self, backup):
        """Delete a backup and its service-instance backups, as the platform does; False if already gone."""
        with self.lock:
            if not self.remove("backups", backup):
                return False
            for part_uuid in backup.get("service_instance_backups") or ():
                part = self.by_uuid["service_instance_backups"].get(part_uuid)
                if part is not None:
                    self.remove("service_instance_backups", part)
            return True

    def expire(self):
        """Delete the backups whose ``scheduled_for_deletion_at`` has passed; returns them. Cheap when none is due."""
        due = self._due
        if not due or due[0][0] > self._clock_epoch():
            return []
        gone = []
        with self.lock:
            now = self._clock_epoch()
            while due and due[0][0] <= now:
                backup = self.by_uuid["backups"].get(heapq.heappop(due)[1])
                if backup is not None and backup.get("scheduled_for_deletion_at") and \
                        _epoch(backup["scheduled_for_deletion_at"]) <= now and self.remove_backup(backup):
                    gone.append(backup)
        return gone

    def set_slugs(self, renamed):
        """Give applications (``"shop"``) and environments (``"shop/live"``), named by the slugs they were generated
        with, the slugs of ``renamed`` (``{name: new slug}``) - also a slug another application or environment has,
        or text holding a template: names a client must survive. Every call starts again from the generated slugs
        (``{}`` restores them). Raises ValueError for a name the data set was not generated with."""
        with self.lock:
            if not hasattr(self, "_generated"):
                apps = dict((app["uuid"], app) for app in self.applications)
                self._generated = dict((app["slug"], (app, app["slug"])) for app in self.applications)
                self._generated.update(("%s/%s" % (apps[env["application"]]["slug"], env["slug"]), (env, env["slug"]))
                                       for env in self.environments)
            unknown = sorted(set(renamed) - set(self._generated))
            if unknown:
                raise ValueError("no application or environment (application/environment) named %s" % ", ".join(unknown))
            for name, (record, slug) in self._generated.items():
                record["slug"] = renamed.get(name, slug)
            self.reindex()

    def generated_environment_names(self):
        """``{"application/environment": environment uuid}`` by the slugs the data set was generated with, which
        ``set_slugs`` may have changed since (settings name environments that way)."""
        return dict((name, record["uuid"]) for name, (record, _slug) in getattr(self, "_generated", {}).items() if "/" in name)

    def lookup(self, name, field_name, value):
        """Records of resource ``name`` whose ``field_name`` equals ``value``, in list order."""
        return self.by_field[name][field_name].get(value, [])

    def as_dict(self):
        """Every resource list plus ``now`` and ``user``, JSON-serialisable."""
        out = {name: getattr(self, name) for name in self.RESOURCES}
        out.update(now=_iso(self.now), user=self.user, troubles=self.troubles, id_style=self.id_style,
                   part_shape=self.part_shape)
        return out

    def to_json(self):
        """Canonical JSON of the whole data set (for comparing two generations)."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))


def _iso(dt):
    """ISO 8601 UTC with ``Z`` for an aware or naive-UTC datetime, whole seconds."""
    return dt.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _epoch(text):
    """Epoch seconds of an API timestamp (``...Z``, with or without fractions)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def make_id(bits, style="divio"):
    """An id from 128 random bits: Divio's shape (26 lower-case base32 characters, the form its API page
    shows) or an RFC 4122 version 4 UUID."""
    if style == "uuid":
        h = "%032x" % ((bits & _UUID_CLEAR) | _UUID_SET)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return base64.b32encode(bits.to_bytes(16, "big")).decode("ascii").rstrip("=").lower()


def shape_part(part, shape, rng=None):
    """Make a service-instance backup carry the fields ``shape`` says (see the module docstring), in place."""
    if shape == "mixed":
        shape = PART_SHAPES[rng.randrange(len(PART_SHAPES) - 1)]
    if shape == "documented":
        part.pop("service_type", None)
    elif shape == "bare":
        for key in _PART_OPTIONAL:
            part.pop(key, None)
    elif shape == "null":
        for key in _PART_OPTIONAL:
            part[key] = None
    return part


# Bits that ``uuid.UUID(int=n, version=4)`` clears and sets (variant RFC 4122, version 4).
_UUID_CLEAR = ~((0xc000 << 48) | (0xf000 << 64))
_UUID_SET = (0x8000 << 48) | (4 << 76)
_EPOCH = datetime(1970, 1, 1)
_TWO_DIGITS = [f"{i:02d}" for i in range(60)]


class _Generator:
    """Builds one data set; all randomness comes from ``self.rng`` in a fixed order.

    Times are float seconds since the epoch (UTC) until they are formatted: datetime arithmetic was
    most of the cost of the 60,000-backup preset.
    """

    def __init__(self, seed, now, days, interval_hours, id_style="divio"):
        self.rng = random.Random(seed)
        self.id_style = id_style
        self.now = now  # epoch seconds, whole
        self.days = days
        self.interval = interval_hours * 3600.0
        self.retention = self.interval * days + 7 * DAY
        self.backups = []
        self.si_backups = []
        self.late_queue = {}
        self.trouble_info = {}  # what the trouble entry of the environment just generated names
        self._day_prefix = {}

    def uuid(self):
        """A new id (``id_style``) drawn from the seeded generator; a version 4 uuid is the same as
        ``uuid.UUID(int=..., version=4)``."""
        return make_id(self.rng.getrandbits(128), self.id_style)

    def ts(self, t, micro):
        """Format epoch seconds as the API does, with or without microseconds."""
        sec = int(t)
        day, rest = divmod(sec, 86400)
        prefix = self._day_prefix.get(day)
        if prefix is None:
            prefix = self._day_prefix[day] = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
        # String concatenation from a table: f-string padding was the generator's hot spot.
        text = prefix + _TWO_DIGITS[rest // 3600] + ":" + _TWO_DIGITS[rest // 60 % 60] + ":" + _TWO_DIGITS[rest % 60]
        if micro:
            return text + ".%06dZ" % ((t - sec) * 1e6)
        return text + "Z"

    def micro(self):
        # Real records come in both forms; pick one per record.
        return self.rng.random() < 0.5

    def seconds(self, low, high):
        return low + (high - low) * self.rng.random()

    # -- backups -----------------------------------------------------------------------------------

    def backup(self, env, parts, created, outcome, trigger="SCHEDULED", notes="", queue=None, sizes=(0, 0),
               temporary=False):
        """Append one backup and its service-instance backups.

        ``parts``: the service instances backed up (database first); ``outcome``: SUCCESS, FAILURE,
        PARTIAL or RUNNING; ``queue``: seconds between creation and start (a few unless given);
        ``temporary``: deleted by the platform ``PULL_LIFETIME`` after its creation (divio-cli's pull).
        """
        rng = self.rng
        seconds = self.seconds
        ts = self.ts
        micro = rng.random() < 0.5
        backup_uuid = self.uuid()
        started = created + (queue if queue is not None else seconds(1, 90))
        si_uuids = []
        ends = []
        for si in parts:
            is_db = si["type"] == "DATABASE"
            part_started = started + seconds(0, 5)
            # The database snapshot is quick; the storage one is taken later, so taken_at differs per part.
            taken = part_started + (seconds(1, 20) if is_db else seconds(30, 300))
            ended = taken + (seconds(20, 600) if is_db else seconds(60, 1800))
            size = int(sizes[0 if is_db else 1] * seconds(0.97, 1.03))
            errors = []
            if outcome == "FAILURE" or (outcome == "PARTIAL" and not is_db):
                errors = [rng.choice(DB_ERRORS if is_db else STORAGE_ERRORS)]
                taken = size = None
                # A failed storage part of a FAILED backup never reports an end; a PARTIAL one does.
                if outcome == "FAILURE" and not is_db:
                    ended = None
            elif outcome == "RUNNING":
                if is_db:
                    # Keep a running backup's finished database part in the past.
                    ended = min(ended, self.now - 30)
                    taken = min(taken, ended - 20)
                else:
                    taken = ended = size = None
            part_micro = rng.random() < 0.5
            record = {
                "uuid": self.uuid(),
                "backup": backup_uuid,
                "service_instance": si["uuid"],
                "service_type": si["type"],
                "queued_at": ts(created + seconds(0, 1), part_micro),
                "started_at": ts(part_started, part_micro),
                "ended_at": ts(ended, part_micro) if ended else None,
                "taken_at": ts(taken, part_micro) if taken else None,
                "size": size,
                "errors": errors,
            }
            self.si_backups.append(record)
            si_uuids.append(record["uuid"])
            if ended:
                ends.append(ended)
        if outcome == "RUNNING":
            ended_at = None
        else:
            ended_at = max(ends) + seconds(1, 10) if ends else started + seconds(60, 600)
        backup = {
            "uuid": backup_uuid,
            "environment": env["uuid"],
            "state": "WORKING" if outcome == "RUNNING" else "COMPLETED",
            "success": None if outcome == "RUNNING" else outcome,
            "trigger": trigger,
            "notes": notes,
            "service_instance_backups": si_uuids,
            "scheduled_for_deletion_at": (ts(created + PULL_LIFETIME, micro) if temporary else
                                          ts(created + self.retention, micro) if trigger == "SCHEDULED" else None),
            "created_at": ts(created, micro),
            "started_at": ts(started, micro),
            "ended_at": ts(ended_at, micro) if ended_at else None,
        }
        self.backups.append(backup)
        return backup

    def env_backups(self, env, sis, trouble):
        """All backups of one environment, shaped by its trouble kind (None = healthy)."""
        rng = self.rng
        if trouble == "never_backed_up":
            return
        parts = [si for si in sis if si["service_status"] == "READY"]
        sizes = (rng.randint(5, 2000) * 1024 * 1024, rng.randint(50, 20000) * 1024 * 1024)
        # Age of the newest scheduled backup: within the last day (days more for the stale environment).
        newest = self.now - self.seconds(1 * HOUR, 20 * HOUR)
        if trouble == "stale":
            newest -= STALE_DAYS * DAY
        self.trouble_info = {}
        for k in range(self.days):
            created = newest - self.interval * k
            outcome = "SUCCESS"
            queue = None
            roll = rng.random()
            backed_up = parts
            if trouble == "two_databases" and k < 2:
                # The newest succeeded without the second database; the one before holds every instance.
                backed_up = parts if k else [si for si in parts if si["prefix"] != SECOND_DATABASE_PREFIX]
            elif trouble == "partial_latest" and k == 0:
                outcome = "PARTIAL"
            elif trouble == "partial_latest" and k == 1:
                outcome = "SUCCESS"
            elif trouble == "failed_and_late_queue" and k in (2, 4):
                outcome = "FAILURE"
            elif trouble == "failed_and_late_queue" and k == 1:
                # This scheduled backup waits in the queue; a manual one created meanwhile is taken first.
                queue = self.seconds(40 * MINUTE, 50 * MINUTE)
            elif k > 0 and roll < 0.03:
                outcome = "FAILURE"
            elif k > 0 and roll < 0.06:
                outcome = "PARTIAL" if len(parts) > 1 else "FAILURE"
            backup = self.backup(env, backed_up, created, outcome, queue=queue, sizes=sizes)
            if trouble == "two_databases" and k < 2:
                self.trouble_info["full_backup" if k else "newest_backup"] = backup["uuid"]
            if queue is not None:
                manual = self.backup(env, parts, created + self.seconds(5 * MINUTE, 15 * MINUTE), "SUCCESS",
                                     trigger="MANUAL", notes="Before deploy", queue=self.seconds(2, 20), sizes=sizes)
                self.late_queue = {"scheduled_backup": backup["uuid"], "manual_backup": manual["uuid"]}
            # Occasional manual backups between two scheduled ones; never newer than the newest scheduled one,
            # so the newest backup of each trouble environment stays as documented.
            if k > 0 and rng.random() < 0.05:
                notes = rng.choice(MANUAL_NOTES)
                manual_parts = parts[:1] if notes == "Database only" else parts
                manual_created = created + self.interval * self.seconds(0.1, 0.9)
                self.backup(env, manual_parts, manual_created, "SUCCESS", trigger="MANUAL", notes=notes, sizes=sizes)
        if trouble == "running":
            # Someone started a backup a few minutes ago (before a deploy); it is still running.
            self.backup(env, parts, self.now - self.seconds(3 * MINUTE, 15 * MINUTE), "RUNNING", trigger="MANUAL",
                        notes="Before deploy", sizes=sizes)
        elif trouble == "pull_newest":
            # divio-cli's "app pull db": one service (the DEFAULT database), finished, gone an hour after it began.
            pull = self.backup(env, parts[:1], self.now - self.seconds(15 * MINUTE, 45 * MINUTE), "SUCCESS",
                               trigger="MANUAL", notes=PULL_NOTES, sizes=sizes, temporary=True)
            self.trouble_info["pull_backup"] = pull["uuid"]


def generate_dataset(seed=1, organisations=2, applications=6, environments=2, days=14, interval_hours=24, now=None,
                     id_style="divio", part_shape="full"):
    """Generate a reproducible :class:`Dataset`.

    ``days`` scheduled backups per environment, one every ``interval_hours`` (plus a few manual ones).
    ``now`` (aware or naive UTC datetime) anchors every timestamp; default: current UTC time, whole seconds.
    ``id_style`` and ``part_shape``: see the module docstring.
    """
    if id_style not in ID_STYLES:
        raise ValueError(f"id_style must be one of {', '.join(ID_STYLES)}")
    if part_shape not in PART_SHAPES:
        raise ValueError(f"part_shape must be one of {', '.join(PART_SHAPES)}")
    real_clock = now is None
    if now is None:
        now = datetime.now(timezone.utc)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    gen = _Generator(seed, now.timestamp(), days, interval_hours, id_style)
    rng = gen.rng
    base = gen.now

    user = {"uuid": gen.uuid(), "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
    regions = [{"uuid": gen.uuid(), "name": name} for name in REGION_NAMES]
    orgs = []
    for i in range(organisations):
        name = ORG_NAMES[i % len(ORG_NAMES)] + (f" {i // len(ORG_NAMES) + 1}" if i >= len(ORG_NAMES) else "")
        orgs.append({"uuid": gen.uuid(), "name": name, "created_at": gen.ts(base - gen.seconds(400 * DAY, 2000 * DAY), gen.micro())})

    apps, envs, deployments, sis = [], [], [], []
    troubles = {kind: [] for kind in TROUBLE_SLOTS if kind}
    env_ordinal = 0
    for i in range(applications):
        slug = APP_NAMES[i % len(APP_NAMES)]
        name = slug.capitalize()
        if i >= len(APP_NAMES):
            suffix = i // len(APP_NAMES) + 1
            slug, name = f"{slug}-{suffix}", f"{name} {suffix}"
        app = {
            "uuid": gen.uuid(),
            "slug": slug,
            "name": name,
            "organisation": orgs[i % len(orgs)]["uuid"],
            "repository": gen.uuid() if rng.random() < 0.7 else None,
        }
        apps.append(app)
        region = rng.choice(regions)["uuid"]
        for j in range(environments):
            env_slug = ENV_SLUGS[j] if j < len(ENV_SLUGS) else f"env{j + 1}"
            trouble = TROUBLE_SLOTS[env_ordinal] if env_ordinal < len(TROUBLE_SLOTS) else None
            env_ordinal += 1
            env = {
                "uuid": gen.uuid(),
                "slug": env_slug,
                "application": app["uuid"],
                "branch": {"test": "develop", "live": "main"}.get(env_slug, env_slug),
                "last_finished_deployment": None,
                # divio-cli reads ssh_endpoint["host"/"port"/"user"] from the environment detail.
                "ssh_endpoint": {"host": "ssh.simulator.invalid", "port": 22, "user": f"{slug}-{env_slug}-{rng.getrandbits(24):06x}"},
            }
            envs.append(env)

            # Deployments: a few finished ones; the newest of the "running" environment is still running.
            count = rng.randint(2, 4)
            newest = base - gen.seconds(1 * DAY, 30 * DAY)
            finished = []
            for n in range(count):
                started = newest - gen.seconds(2 * DAY, 20 * DAY) * (count - 1 - n)
                running = trouble == "running" and n == count - 1
                if running:
                    started = base - gen.seconds(2 * MINUTE, 6 * MINUTE)
                micro = gen.micro()
                dep = {
                    "uuid": gen.uuid(),
                    "environment": env["uuid"],
                    "started_at": gen.ts(started, micro),
                    "ended_at": None if running else gen.ts(started + gen.seconds(60, 900), micro),
                    "status": "WORKING" if running else "COMPLETED",
                    "success": None if running else rng.random() < 0.9,
                }
                # divio-cli's progress bar reads percent; no draw from rng, so the data stay as they were.
                dep["percent"] = 100 if dep["success"] else int(started) % 50 + 25
                deployments.append(dep)
                if not running:
                    finished.append(dep)
            # The API nests the deployment; divio-cli reads last_finished_deployment["uuid"].
            env["last_finished_deployment"] = {"uuid": finished[-1]["uuid"]} if finished else None

            db = {"uuid": gen.uuid(), "environment": env["uuid"], "prefix": "DEFAULT", "type": "DATABASE",
                  "service_status": "READY", "region": region, "service": rng.choice(DB_SERVICES)}
            storage = {"uuid": gen.uuid(), "environment": env["uuid"], "prefix": "DEFAULT", "type": "STORAGE",
                       "service_status": "NEW" if trouble == "storage_new" else "READY", "region": region, "service": "s3-storage"}
            instances = [db, storage]
            if trouble in ("two_databases", "second_database_new"):
                second = {"uuid": gen.uuid(), "environment": env["uuid"], "prefix": SECOND_DATABASE_PREFIX, "type": "DATABASE",
                          "service_status": "READY" if trouble == "two_databases" else "NEW", "region": region,
                          "service": rng.choice(DB_SERVICES)}
                instances.insert(1, second)  # the DEFAULT database stays first: "Database only" backups hold it
            sis.extend(instances)

            gen.env_backups(env, instances, trouble)
            if trouble:
                entry = {"application": slug, "environment": env_slug, "uuid": env["uuid"]}
                if trouble == "failed_and_late_queue":
                    entry.update(gen.late_queue)
                if trouble in ("two_databases", "second_database_new"):
                    entry["second_database"] = instances[1]["uuid"]
                entry.update(gen.trouble_info)
                troubles[trouble].append(entry)

    # One environment whose deployments fail (deployments.py); its newest finished one failed too.
    failing = next((e for e in reversed(envs) if e["slug"] == "live"), envs[-1] if envs else None)
    if failing is not None:
        newest = failing["last_finished_deployment"]
        for dep in deployments:
            if newest and dep["uuid"] == newest["uuid"]:
                # Base 36 reads any id shape (Divio's base32 or a UUID's hex).
                dep.update(success=False, percent=int(dep["uuid"][:2], 36) % 50 + 25)
        app_slug = next(a["slug"] for a in apps if a["uuid"] == failing["application"])
        troubles["deployment_fails"] = [{"application": app_slug, "environment": failing["slug"], "uuid": failing["uuid"]}]

    from .envvars import generate_variables  # here: envvars.py imports this module

    variables = generate_variables(apps, envs, id_style)
    lists = [orgs, regions, apps, envs, deployments, sis, gen.backups, gen.si_backups]
    for items in lists:
        rng.shuffle(items)
    random.Random(f"{seed}/variables").shuffle(variables)  # a generator of its own: the other lists stay as they were
    if part_shape != "full":
        # Its own generator, so that every shape has the same records otherwise.
        shape_rng = random.Random(f"{seed}/parts")
        for part in gen.si_backups:
            shape_part(part, part_shape, shape_rng)
    dataset = Dataset(now, user, *lists, environment_variables=variables, troubles={k: v for k, v in troubles.items() if v}, id_style=id_style,
                      part_shape=part_shape)
    if real_clock:
        dataset._skew = 0.0  # "now" was the current time: the clock is the real one
    return dataset


def _main():
    """Time the bench-fleet generation and the server-side work of one 100-item page (a rough check, not a test)."""
    import time

    started = time.perf_counter()
    ds = generate_dataset(seed=1, **SIZES["bench-fleet"])
    elapsed = time.perf_counter() - started
    print(f"bench-fleet: {len(ds.backups)} backups, {len(ds.service_instance_backups)} service-instance backups, "
          f"generated in {elapsed:.2f} s")
    env = ds.environments[-1]["uuid"]
    for label, pick in (("unfiltered", lambda: ds.backups), ("environment filter", lambda: ds.lookup("backups", "environment", env))):
        started = time.perf_counter()
        for page in range(100):
            items = pick()
            start = page % 2 * 100  # the filtered list holds about two pages
            json.dumps({"count": len(items), "results": items[start:start + 100]}, separators=(",", ":"))
        print(f"one page of 100 backups ({label}): {(time.perf_counter() - started) * 10:.2f} ms (look-up, slice, JSON)")


if __name__ == "__main__":
    _main()
