# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Resolving "the latest good backup" of environments: the one piece of domain logic that the
``backup_info`` module, the lookup plugin and the role all share. No Ansible imports.

Layers, from the question users ask down to the reads (each calls only the next one down):
- ``find_backups``: an application (and maybe one environment) -> ``backup_info`` entries.
- ``newest_backups``: one environment's newest qualifying backups, always proven: when the kept
  candidates cannot prove the answer, it re-reads that environment's backups in full.
- ``pick_newest``: picks among kept candidates, fetching parts only of those that can still win.
- ``scan_candidates``: reads /backups/ once for many environments into bounded ``Candidates``.
- ``BackupRule`` says what qualifies; ``fetch_parts`` reads a backup's parts by uuid.

How it stays correct and cheap:
- ``backups/?environment=`` is undocumented: it is passed, and every backup received is checked
  again. If the server ignored it (a backup of another environment arrived), that single pass saw
  every backup of the account, so it serves all requested environments at once.
- Only the candidates that can still win have their parts fetched, by id. A part's snapshot
  (``taken_at``) happens while its backup runs, so it is never later than the backup's
  ``ended_at`` (plus ``CLOCK_SLACK`` for clocks that disagree); a candidate that ended before the
  current winner's snapshot cannot beat it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import heapq
import itertools
import re
from urllib.parse import quote

from ansible_collections.divio.cloud.plugins.module_utils.client import APPS
from ansible_collections.divio.cloud.plugins.module_utils.errors import DivioError, InputError, InvalidResponseError
from ansible_collections.divio.cloud.plugins.module_utils.resources import (
    get_application,
    get_environment,
    list_environments,
    list_service_instances,
    require_text,
)

BACKUPS = APPS + "backups/"
SERVICE_INSTANCE_BACKUPS = APPS + "service-instance-backups/"
SERVICE_TYPES = ("DATABASE", "STORAGE")
COMPLETED = "COMPLETED"
SUCCESS = "SUCCESS"
CLOCK_SLACK = datetime.timedelta(hours=1)
# Finished candidates kept per environment while scanning (on top of what a caller asks for).
DEFAULT_KEEP = 32

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"^(\d+)([smhdw])")
_TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$")
_UTC = datetime.timezone.utc


# -- input parsing -----------------------------------------------------------------------------

def parse_duration(value, name="max_age"):
    """Seconds from an int or a string such as ``3600``, ``90m``, ``36h``, ``2d``, ``1w`` or ``1d12h``."""
    expected = ("expected a number of seconds (e.g. 86400) or numbers with units s, m, h, d, w "
                "(e.g. 90m, 36h, 2d, 1w, 1d12h)")
    if isinstance(value, bool) or value is None:
        raise InputError("%s %r is not valid: %s." % (name, value, expected))
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and re.match(r"^[0-9]+$", value.strip()):
        seconds = int(value.strip())
    elif isinstance(value, str) and value.strip():
        rest, seconds = value.strip().lower().replace(" ", ""), 0
        while rest:
            match = _DURATION_RE.match(rest)
            if not match:
                raise InputError("%s %r is not valid: %s." % (name, value, expected))
            seconds += int(match.group(1)) * _DURATION_UNITS[match.group(2)]
            rest = rest[match.end():]
    else:
        raise InputError("%s %r is not valid: %s." % (name, value, expected))
    if seconds <= 0:
        raise InputError("%s %r is not valid: it must be longer than 0 seconds; %s." % (name, value, expected))
    return seconds


def format_duration(seconds):
    """``31h``, ``3d4h``, ``45m``: short, for messages and reports."""
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    if seconds < 3600:
        return "%dm" % (seconds // 60) if seconds >= 60 else "%ds" % seconds
    if seconds < 3 * 86400:
        return "%dh" % (seconds // 3600)
    days, hours = divmod(seconds // 3600, 24)
    return "%dd%dh" % (days, hours) if hours else "%dd" % days


def parse_services(services):
    """Upper-cased service types, or None for "no rule"; unknown types are an error."""
    if services is None:
        return None
    if isinstance(services, str):
        services = services.split(",")
    if not isinstance(services, (list, tuple)) or not services:
        raise InputError("services %r is not valid: expected a non-empty list of service types from %s."
                         % (services, ", ".join(SERVICE_TYPES)))
    result = []
    for item in services:
        kind = item.strip().upper() if isinstance(item, str) else item
        if kind not in SERVICE_TYPES:
            raise InputError("services: %r is not a known service type; known types are %s."
                             % (item, ", ".join(SERVICE_TYPES)))
        if kind not in result:
            result.append(kind)
    return tuple(result)


def parse_timestamp(value, what="timestamp"):
    """Timezone-aware datetime from the API's ISO 8601 (``Z`` or offset, with or without fractions)."""
    if value is None:
        return None
    match = _TIMESTAMP_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise InvalidResponseError("the API sent %s %r, which is not an ISO 8601 timestamp." % (what, value))
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        if zone == "Z":
            tz = _UTC
        else:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tz = datetime.timezone(sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        return datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz)
    except ValueError:
        raise InvalidResponseError("the API sent %s %r, which is not a valid date." % (what, value))


# -- the rule: does a backup qualify, and when was it taken? ----------------------------------

class BackupRule:
    """What "a qualifying backup" means for one question."""

    def __init__(self, successful_only=True, services=None):
        self.successful_only = bool(successful_only)
        self.services = parse_services(services)

    def may_qualify(self, backup):
        """Cheap test on the backup object alone, before any part is fetched."""
        if not self.successful_only:
            return True
        if backup.get("state") != COMPLETED:
            return False
        # With a services rule a PARTIAL backup can still hold a good part of each listed type.
        return self.services is not None or backup.get("success") == SUCCESS

    def counted_parts(self, parts):
        """The parts that make the backup qualify, or None when it does not."""
        if self.services is None:
            counted = list(parts)
            if self.successful_only and (not counted or not all(_usable(p) for p in counted)):
                return None
            return counted
        counted = []
        for kind in self.services:
            of_kind = [p for p in parts if p.get("service_type") == kind and (_usable(p) or not self.successful_only)]
            if not of_kind:
                return None
            counted.extend(of_kind)
        return counted


def _usable(part):
    return bool(part.get("ended_at")) and not part.get("errors") and bool(part.get("taken_at"))


# -- scanning and picking ----------------------------------------------------------------------

class Candidates:
    """The backups of one environment that may still turn out the newest, kept in bounded memory.

    Keeps every running backup (no upper bound on its snapshot) and the ``keep`` finished ones whose
    snapshot can be the latest; ``dropped_bound`` is the latest possible snapshot of any backup it let
    go, so ``pick_newest`` can tell whether its answer is proven or a full re-read is needed.
    """

    def __init__(self, keep=None):
        self.keep = keep
        self.seen = 0  # every backup of the environment read, qualifying or not: its size, for cost estimates
        self.dropped_bound = None
        self._running = []
        self._heap = []
        self._order = itertools.count()  # tie-breaker: backups themselves do not compare

    def add(self, backup):
        bound = _latest_possible_snapshot(backup)
        if bound is None:
            self._running.append(backup)
            return
        item = (bound, next(self._order), backup)
        if self.keep is None or len(self._heap) < self.keep:
            heapq.heappush(self._heap, item)
            return
        dropped = heapq.heappushpop(self._heap, item)[0]
        self.dropped_bound = dropped if self.dropped_bound is None else max(self.dropped_bound, dropped)

    def __iter__(self):
        return iter(self._running + [item[2] for item in self._heap])

    def __len__(self):
        return len(self._running) + len(self._heap)


def _scan_pass(client, env_uuid, wanted, rule, keep):
    """One pass over /backups/?environment= (all backups when ``env_uuid`` is None); returns
    ``(candidates by environment, unfiltered)``."""
    found = dict((uuid, Candidates(keep)) for uuid in wanted)
    unfiltered = env_uuid is None
    for backup in client.paginate(BACKUPS, {"environment": env_uuid}):
        if not isinstance(backup, dict) or not isinstance(backup.get("uuid"), str):
            raise InvalidResponseError("GET %s returned an item that is not a backup object." % BACKUPS, path=BACKUPS)
        owner = backup.get("environment")
        unfiltered = unfiltered or owner != env_uuid
        if owner in found:
            found[owner].seen += 1
            if rule.may_qualify(backup):
                found[owner].add(backup)
    return found, unfiltered


def scan_candidates(client, environment_uuids, rule, errors=None, keep=DEFAULT_KEEP):
    """``{environment uuid: Candidates}`` from as few passes over /backups/ as possible.

    The first pass tells whether the server honours ``?environment=``: if a backup of another
    environment arrives, that pass was every backup and serves all environments at once. Otherwise
    the remaining environments' (small) passes run concurrently.

    With an ``errors`` dict, a pass that fails is recorded there for its environment (for every
    environment, if it was the unfiltered pass) instead of raising; what that pass had read is
    dropped, so a partial list never counts as a complete one.
    """
    candidates = {}

    def run(env_uuid, wanted):
        try:
            return env_uuid, _scan_pass(client, env_uuid, wanted, rule, keep), None
        except DivioError as exc:
            if errors is None:
                raise
            return env_uuid, (None, False), exc

    def merge(result, wanted):
        env_uuid, (found, unfiltered), error = result
        if error is not None:
            for uuid in (wanted if env_uuid is None else [env_uuid]):
                errors[uuid] = error
            return False
        covered = list(wanted) if unfiltered else [env_uuid]
        for uuid in covered:
            candidates[uuid] = found[uuid]
        return unfiltered

    if not environment_uuids:
        return candidates
    first, rest = environment_uuids[0], list(environment_uuids[1:])
    if merge(run(first, environment_uuids), environment_uuids):
        return candidates  # the server ignored the filter: one pass was everything
    if rest and first in candidates and _one_pass_is_cheaper(client, candidates[first].seen, len(rest)):
        result = run(None, rest)
        merge(result, rest)
        return candidates
    for result in client.imap(lambda uuid: run(uuid, [uuid]), rest):
        merge(result, [result[0]])
    return candidates


def _one_pass_is_cheaper(client, first_count, remaining):
    """Would one unfiltered pass cost fewer requests than a filtered pass per remaining environment?

    Estimated from the first environment's size and the account's total, read from one page of the
    unfiltered list (which also shows the page size the server really allows)."""
    try:
        page = client.get(BACKUPS, {"page_size": client.page_size})
    except DivioError:
        return False  # no estimate: the per-environment passes report their own errors
    if not isinstance(page, dict):
        return False
    total, length = page.get("count"), len(page.get("results") or [])
    if not isinstance(total, int) or isinstance(total, bool) or not length:
        return False
    per_environment = max(1, -(-first_count // length))
    return -(-total // length) < per_environment * remaining


def _latest_possible_snapshot(backup):
    ended = parse_timestamp(backup.get("ended_at"), "ended_at of backup %s" % backup["uuid"])
    return ended + CLOCK_SLACK if ended else None  # None: still running, could be anything


def fetch_parts(client, backup, memo=None):
    """The service-instance backups a backup lists, fetched by id and checked to belong to it.

    ``memo`` (a dict) keeps them per backup, for callers that ask several rules about one backup."""
    if memo is not None and backup["uuid"] in memo:
        return memo[backup["uuid"]]
    part_uuids = backup.get("service_instance_backups") or []
    if not isinstance(part_uuids, list):
        raise InvalidResponseError("backup %s lists its service_instance_backups as something other than a list."
                                   % backup["uuid"], path=BACKUPS)
    if not all(isinstance(part_uuid, str) and part_uuid for part_uuid in part_uuids):
        raise InvalidResponseError("backup %s lists a service_instance_backups item that is not an id." % backup["uuid"],
                                   path=BACKUPS)
    parts = client.map(lambda part_uuid: client.get("%s%s/" % (SERVICE_INSTANCE_BACKUPS, quote(part_uuid, safe=""))), part_uuids)
    for part_uuid, part in zip(part_uuids, parts):
        if not isinstance(part, dict) or part.get("backup") != backup["uuid"]:
            raise InvalidResponseError("service-instance backup %s does not belong to backup %s." % (part_uuid, backup["uuid"]),
                                       path=SERVICE_INSTANCE_BACKUPS)
    if memo is not None:
        memo[backup["uuid"]] = parts
    return parts


class Pick:
    """One qualifying backup with its parts. ``taken_at``: the oldest snapshot among the parts that count."""

    def __init__(self, backup, parts, counted, taken_at):
        self.backup = backup
        self.parts = parts
        self.counted = counted
        self.taken_at = taken_at
        # Not taken yet (only when unsuccessful backups are wanted): order it by creation.
        created = parse_timestamp(backup.get("created_at"), "created_at of backup %s" % backup["uuid"])
        self.order = taken_at or created or _EPOCH


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=_UTC)


def pick_newest(client, candidates, rule, count, memo=None):
    """The ``count`` newest qualifying backups by snapshot time, newest first (a list of ``Pick``),
    and whether that is proven from ``candidates`` alone (see ``Candidates.dropped_bound``).

    Candidates are tried from the latest possible snapshot down; parts are fetched only while a
    candidate could still make the top ``count``."""
    unbounded = datetime.datetime.max.replace(tzinfo=_UTC)
    ordered = sorted(candidates, key=lambda b: _latest_possible_snapshot(b) or unbounded, reverse=True)
    chosen = []
    for backup in ordered:
        bound = _latest_possible_snapshot(backup)
        if len(chosen) >= count and bound is not None and bound < chosen[count - 1].order:
            return chosen[:count], True  # dropped candidates had even earlier bounds
        parts = fetch_parts(client, backup, memo)
        counted = rule.counted_parts(parts)
        if counted is None:
            continue
        taken = [parse_timestamp(p["taken_at"], "taken_at of %s" % p.get("uuid")) for p in counted if p.get("taken_at")]
        chosen.append(Pick(backup, parts, counted, min(taken) if taken else None))
        chosen.sort(key=lambda pick: pick.order, reverse=True)
    dropped = getattr(candidates, "dropped_bound", None)
    proven = dropped is None or (len(chosen) >= count and dropped < chosen[count - 1].order)
    return chosen[:count], proven


def newest_backups(client, env_uuid, candidates, rule, count, memo=None):
    """``pick_newest``, re-reading the environment's backups in full in the rare case the kept
    candidates cannot prove the answer (all of them failed the rule)."""
    picks, proven = pick_newest(client, candidates, rule, count, memo)
    if not proven:
        candidates = scan_candidates(client, [env_uuid], rule, keep=None)[env_uuid]
        picks = pick_newest(client, candidates, rule, count, memo)[0]
    return picks


# -- the question as users ask it --------------------------------------------------------------

_BACKUP_FIELDS = ("state", "success", "trigger", "notes", "created_at", "started_at", "ended_at",
                  "scheduled_for_deletion_at")
_PART_FIELDS = ("uuid", "service_instance", "service_type", "queued_at", "started_at", "ended_at",
                "taken_at", "size", "errors")


def format_timestamp(moment):
    return moment.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
        ".%06dZ" % moment.microsecond if moment.microsecond else "Z")


def backup_entry(application, environment, pick, instances, now, max_age):
    entry = {
        "application": application["uuid"],
        "application_slug": application.get("slug"),
        "environment": environment["uuid"],
        "environment_slug": environment.get("slug"),
        "uuid": None,
        "taken_at": None,
        "age_seconds": None,
        "size": None,
        "services": [],
        "service_instance_backups": [],
    }
    for field in _BACKUP_FIELDS:
        entry[field] = None
    if pick is not None:
        backup = pick.backup
        entry["uuid"] = backup["uuid"]
        for field in _BACKUP_FIELDS:
            entry[field] = backup.get(field)
        parts = []
        for part in pick.parts:
            item = dict((field, part.get(field)) for field in _PART_FIELDS)
            instance = part.get("service_instance")
            item["prefix"] = (instances.get(instance) or {}).get("prefix") if isinstance(instance, str) else None
            parts.append(item)
        entry["service_instance_backups"] = sorted(parts, key=lambda p: (str(p["service_type"] or ""), str(p["prefix"] or "")))
        entry["services"] = sorted(set(p.get("service_type") for p in pick.counted if p.get("service_type")))
        sizes = [p.get("size") for p in pick.parts if isinstance(p.get("size"), int)]
        entry["size"] = sum(sizes) if sizes else None
        if pick.taken_at is not None:
            entry["taken_at"] = format_timestamp(pick.taken_at)
            entry["age_seconds"] = int((now - pick.taken_at).total_seconds())
    if max_age is not None or pick is None:
        entry["fresh"] = entry["age_seconds"] is not None and max_age is not None and entry["age_seconds"] <= max_age
    return entry


def find_backups(client, application, environment=None, latest=True, successful_only=True, services=None,
                 max_age=None, limit=100, now=None):
    """Backups of one application's environments, as ``backup_info`` returns them.

    ``latest``: one entry per environment, its newest qualifying backup, or an entry with
    ``uuid: None`` when it has none (a gate must see "no backup", never "nothing to check").
    Otherwise every qualifying backup, newest first, at most ``limit`` per environment.
    """
    rule = BackupRule(successful_only=successful_only, services=services)
    max_age = parse_duration(max_age) if max_age is not None else None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError("limit %r is not valid: expected a whole number of at least 1." % (limit,))
    environment = require_text("environment", environment)
    now = now or datetime.datetime.now(_UTC)

    app = get_application(client, application)
    environments = list_environments(client, app) if environment is None else [get_environment(client, app, environment)]

    count = 1 if latest else limit
    candidates = scan_candidates(client, [env["uuid"] for env in environments], rule, keep=count + DEFAULT_KEEP)

    def resolve(env):
        picks = newest_backups(client, env["uuid"], candidates[env["uuid"]], rule, count)
        instances = list_service_instances(client, env["uuid"]) if picks else {}
        if latest:
            return [backup_entry(app, env, picks[0] if picks else None, instances, now, max_age)]
        return [backup_entry(app, env, pick, instances, now, max_age) for pick in picks]

    environments = sorted(environments, key=lambda e: str(e.get("slug") or ""))
    return [entry for entries in client.map(resolve, environments) for entry in entries]
