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
wiki, crm,    test, live   healthy: newest backup succeeded < 24 h ago
portal
============  ===========  ===============================================================================

Beyond that, older history everywhere has occasional FAILED / PARTIAL / MANUAL (some database-only, like
divio-cli's "Divio CLI pull") backups drawn from the seed; the newest backups stay as described above.

Deployments: a few finished ones per environment (``percent`` 100, or where a failed one stopped), newest
first in lists; the newest of shop/live is still running. Every deployment of the ``live`` environment of
the last application (portal in ``demo``, intranet in ``tiny``) fails, its newest finished one included:
``troubles["deployment_fails"]``, read by deployments.py.

``tiny`` holds only shop, blog and intranet (the six trouble environments). Every backup's parts have
different ``taken_at`` values (the database snapshot is taken before the storage one). Every list is
shuffled once with the seeded generator, so the API order is arbitrary but stable across requests.

Run ``python data.py`` to time the ``bench-fleet`` generation and the server-side cost of one page.
"""

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

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
MANUAL_NOTES = ("Before deploy", "Divio CLI pull", "pre-migration snapshot", "")
DB_ERRORS = (
    'pg_dump: error: connection to server at "db" failed: timeout expired',
    "Database backup timed out after 3600 seconds.",
)
STORAGE_ERRORS = (
    "Upload to object storage failed: SlowDown (503).",
    "Could not list bucket contents: AccessDenied.",
)

# The trouble kinds, in the order they are given to the first environments (see the module docstring).
TROUBLE_SLOTS = ("failed_and_late_queue", "running", "never_backed_up", "stale", "storage_new", "partial_latest")
STALE_DAYS = 4
MINUTE, HOUR, DAY = 60, 3600, 86400


@dataclass
class Dataset:
    """All records of one simulated account, as the API returns them, with lookup indexes."""

    now: datetime
    user: Dict[str, Any]
    organisations: List[Dict[str, Any]]
    regions: List[Dict[str, Any]]
    applications: List[Dict[str, Any]]
    environments: List[Dict[str, Any]]
    deployments: List[Dict[str, Any]]
    service_instances: List[Dict[str, Any]]
    backups: List[Dict[str, Any]]
    service_instance_backups: List[Dict[str, Any]]
    # Trouble kind -> [{"application": slug, "environment": slug, "uuid": environment uuid, ...}]
    troubles: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)

    RESOURCES = ("organisations", "regions", "applications", "environments", "deployments", "service_instances",
                 "backups", "service_instance_backups")
    # Foreign keys indexed at load so that a filtered list costs one dict look-up, not a scan.
    INDEXED_FIELDS = {
        "applications": ("slug", "organisation"),
        "environments": ("application", "slug"),
        "deployments": ("environment", "application"),
        "service_instances": ("environment",),
        "backups": ("environment",),
        "service_instance_backups": ("backup", "service_instance"),
    }

    def __post_init__(self):
        self.reindex()

    def reindex(self):
        """(Re)build ``by_uuid[resource][uuid]`` and ``by_field[resource][field][value] -> [records]``."""
        self.by_uuid = {name: {item["uuid"]: item for item in getattr(self, name)} for name in self.RESOURCES}
        self.by_field = {name: {f: defaultdict(list) for f in fields} for name, fields in self.INDEXED_FIELDS.items()}
        for name in self.INDEXED_FIELDS:
            for item in getattr(self, name):
                self._index(name, item)

    def _index(self, name, item):
        for field_name, index in self.by_field.get(name, {}).items():
            index[self._field_value(name, item, field_name)].append(item)

    def _field_value(self, name, item, field_name):
        # A deployment has no application field; the API still filters it by application.
        if name == "deployments" and field_name == "application":
            return self.by_uuid["environments"][item["environment"]]["application"]
        return item[field_name]

    def add(self, name, item):
        """Append a new record (e.g. a backup created through the API) and index it."""
        getattr(self, name).append(item)
        self.by_uuid[name][item["uuid"]] = item
        self._index(name, item)

    def lookup(self, name, field_name, value):
        """Records of resource ``name`` whose ``field_name`` equals ``value``, in list order."""
        return self.by_field[name][field_name].get(value, [])

    def as_dict(self):
        """Every resource list plus ``now`` and ``user``, JSON-serialisable."""
        out = {name: getattr(self, name) for name in self.RESOURCES}
        out.update(now=_iso(self.now), user=self.user, troubles=self.troubles)
        return out

    def to_json(self):
        """Canonical JSON of the whole data set (for comparing two generations)."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))


def _iso(dt):
    """ISO 8601 UTC with ``Z`` for an aware or naive-UTC datetime, whole seconds."""
    return dt.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


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

    def __init__(self, seed, now, days, interval_hours):
        self.rng = random.Random(seed)
        self.now = now  # epoch seconds, whole
        self.days = days
        self.interval = interval_hours * 3600.0
        self.retention = self.interval * days + 7 * DAY
        self.backups = []
        self.si_backups = []
        self.late_queue = {}
        self._day_prefix = {}

    def uuid(self):
        """A version 4 uuid drawn from the seeded generator (same as ``uuid.UUID(int=..., version=4)``)."""
        h = "%032x" % ((self.rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

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

    def backup(self, env, parts, created, outcome, trigger="SCHEDULED", notes="", queue=None, sizes=(0, 0)):
        """Append one backup and its service-instance backups.

        ``parts``: the service instances backed up (database first); ``outcome``: SUCCESS, FAILURE,
        PARTIAL or RUNNING; ``queue``: seconds between creation and start (a few unless given).
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
            "scheduled_for_deletion_at": ts(created + self.retention, micro) if trigger == "SCHEDULED" else None,
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
        for k in range(self.days):
            created = newest - self.interval * k
            outcome = "SUCCESS"
            queue = None
            roll = rng.random()
            if trouble == "partial_latest" and k == 0:
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
            backup = self.backup(env, parts, created, outcome, queue=queue, sizes=sizes)
            if queue is not None:
                manual = self.backup(env, parts, created + self.seconds(5 * MINUTE, 15 * MINUTE), "SUCCESS",
                                     trigger="MANUAL", notes="Before deploy", queue=self.seconds(2, 20), sizes=sizes)
                self.late_queue = {"scheduled_backup": backup["uuid"], "manual_backup": manual["uuid"]}
            # Occasional manual backups between two scheduled ones; never newer than the newest scheduled one,
            # so the newest backup of each trouble environment stays as documented.
            if k > 0 and rng.random() < 0.05:
                notes = rng.choice(MANUAL_NOTES)
                # divio-cli's "pull" backs up a single service: the database.
                manual_parts = parts[:1] if notes == "Divio CLI pull" else parts
                manual_created = created + self.interval * self.seconds(0.1, 0.9)
                self.backup(env, manual_parts, manual_created, "SUCCESS", trigger="MANUAL", notes=notes, sizes=sizes)
        if trouble == "running":
            # Someone started a backup a few minutes ago (before a deploy); it is still running.
            self.backup(env, parts, self.now - self.seconds(3 * MINUTE, 15 * MINUTE), "RUNNING", trigger="MANUAL",
                        notes="Before deploy", sizes=sizes)


def generate_dataset(seed=1, organisations=2, applications=6, environments=2, days=14, interval_hours=24, now=None):
    """Generate a reproducible :class:`Dataset`.

    ``days`` scheduled backups per environment, one every ``interval_hours`` (plus a few manual ones).
    ``now`` (aware or naive UTC datetime) anchors every timestamp; default: current UTC time, whole seconds.
    """
    if now is None:
        now = datetime.now(timezone.utc)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    gen = _Generator(seed, now.timestamp(), days, interval_hours)
    rng = gen.rng
    base = gen.now

    user = {"uuid": gen.uuid(), "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
    regions = [{"uuid": gen.uuid(), "name": name} for name in REGION_NAMES]
    orgs = []
    for i in range(organisations):
        name = ORG_NAMES[i % len(ORG_NAMES)] + (f" {i // len(ORG_NAMES) + 1}" if i >= len(ORG_NAMES) else "")
        orgs.append({"uuid": gen.uuid(), "name": name, "created_at": gen.ts(base - gen.seconds(400 * DAY, 2000 * DAY), gen.micro())})

    apps, envs, deployments, sis = [], [], [], []
    troubles = {kind: [] for kind in TROUBLE_SLOTS}
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
            sis.extend((db, storage))

            gen.env_backups(env, (db, storage), trouble)
            if trouble:
                entry = {"application": slug, "environment": env_slug, "uuid": env["uuid"]}
                if trouble == "failed_and_late_queue":
                    entry.update(gen.late_queue)
                troubles[trouble].append(entry)

    # One environment whose deployments fail (deployments.py); its newest finished one failed too.
    failing = next((e for e in reversed(envs) if e["slug"] == "live"), envs[-1] if envs else None)
    if failing is not None:
        newest = failing["last_finished_deployment"]
        for dep in deployments:
            if newest and dep["uuid"] == newest["uuid"]:
                dep.update(success=False, percent=int(dep["uuid"][:2], 16) % 50 + 25)
        app_slug = next(a["slug"] for a in apps if a["uuid"] == failing["application"])
        troubles["deployment_fails"] = [{"application": app_slug, "environment": failing["slug"], "uuid": failing["uuid"]}]

    lists = [orgs, regions, apps, envs, deployments, sis, gen.backups, gen.si_backups]
    for items in lists:
        rng.shuffle(items)
    return Dataset(now, user, *lists, troubles={k: v for k, v in troubles.items() if v})


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
