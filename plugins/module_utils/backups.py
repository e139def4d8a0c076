# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Resolving "the latest good backup" of environments: the one piece of domain logic that the
``backup_info`` module, the lookup plugin and the role all share. No Ansible imports.

Layers, from the question users ask down to the reads (each calls only the next one down):
- ``find_backups``: an application (and maybe one environment) -> ``backup_info`` entries (``find_backups_with``
  takes the options a task checked where it started, ``FindOptions``).
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

import datetime
import heapq
import itertools
import sys
from urllib.parse import quote

from ansible_collections.divio.cloud.plugins.module_utils.client import APPS
from ansible_collections.divio.cloud.plugins.module_utils.errors import DivioError, InputError, InvalidResponseError, NotFoundError
from ansible_collections.divio.cloud.plugins.module_utils.resources import (
    SERVICE_INSTANCES,
    get_application,
    get_by_id,
    get_environment,
    list_environments,
    list_service_instances,
    one_read_is_cheaper,
    require_text,
)
from ansible_collections.divio.cloud.plugins.module_utils.values import (
    DEFAULT_MIN_RETENTION,
    RuleOptions,
    TaskOptions,
    parse_exception,
    parse_services,
    parse_timestamp,
    read_timestamp,
    split_service,
)

BACKUPS = APPS + "backups/"
SERVICE_INSTANCE_BACKUPS = APPS + "service-instance-backups/"
COMPLETED = "COMPLETED"
SUCCESS = "SUCCESS"
NOT_PROVISIONED = "NEW"  # service_status of an instance that holds nothing yet
CLOCK_SLACK = datetime.timedelta(hours=1)
# How far in the future an event timestamp may be (clocks disagree a little); beyond it the backup is unusable.
CLOCK_SKEW_ALLOWANCE = datetime.timedelta(minutes=5)
BACKUP_EVENT_FIELDS = ("created_at", "queued_at", "started_at", "ended_at")
PART_EVENT_FIELDS = ("queued_at", "started_at", "ended_at", "taken_at")
# Where a part's snapshot time comes from, first found wins: never later than the data was captured.
PART_DATING_FIELDS = ("taken_at", "started_at", "ended_at")
BACKUP_DATING_FIELDS = ("started_at", "ended_at")
# Finished candidates kept per environment while scanning (on top of what a caller asks for).
DEFAULT_KEEP = 32
DEFAULT_LIMIT = 100  # backup_info's limit: the most backups per environment with latest=false

_UTC = datetime.timezone.utc
_UNBOUNDED = datetime.datetime.max.replace(tzinfo=_UTC)  # the latest possible snapshot of a running backup


# -- the rule: does a backup qualify, and when was it taken? ----------------------------------

class ServiceInstances:
    """One environment's service instances (``service-instances/?environment=``), read once when first needed.

    A part without ``service_type`` (Divio's own example has none) takes the type of the instance it
    names - the documented cross-reference; an instance missing from the list (deleted since) is read
    by id. ``preloaded``: the instances by id when the caller has them already."""

    def __init__(self, client, environment_uuid, preloaded=None):
        self.client = client
        self.environment_uuid = environment_uuid
        self._all = preloaded
        self._extra = {}

    def all(self):
        if self._all is None:
            self._all = list_service_instances(self.client, self.environment_uuid) if self.client else {}
        return self._all

    def get(self, instance_uuid):
        if not isinstance(instance_uuid, str):
            return None
        if instance_uuid in self.all():
            return self.all()[instance_uuid]
        if instance_uuid not in self._extra:
            self._extra[instance_uuid] = get_by_id(self.client, SERVICE_INSTANCES, instance_uuid) if self.client else None
        return self._extra[instance_uuid]

    def type_of(self, part):
        kind = part.get("service_type")
        return kind if isinstance(kind, str) and kind else (self.get(part.get("service_instance")) or {}).get("type")

    def prefix_of(self, part):
        return (self.get(part.get("service_instance")) or {}).get("prefix")

    def provisioned(self, kind):
        """Ids of the instances of ``kind`` that hold data (any status but ``NEW``)."""
        return [uuid for uuid, inst in self.all().items()
                if inst.get("type") == kind and inst.get("service_status") != NOT_PROVISIONED]

    def named(self, kind, prefix):
        """Ids of the instances of ``kind`` with ``prefix`` (prefixes compared case-insensitively)."""
        return [uuid for uuid, inst in self.all().items()
                if inst.get("type") == kind and str(inst.get("prefix") or "").upper() == prefix.upper()]

    def describe(self):
        return ", ".join(sorted("%s:%s" % (i.get("type"), i.get("prefix")) for i in self.all().values())) or "none"


def as_instances(instances):
    """A ``ServiceInstances`` from one, or from a plain ``{id: instance}`` dict."""
    if isinstance(instances, ServiceInstances):
        return instances
    return ServiceInstances(None, None, preloaded=dict(instances or {}))


class BackupRule:
    """What "a qualifying backup" means for one question.

    - ``successful_only``: the backup is ``COMPLETED`` and, without ``services``, ``SUCCESS`` with every
      part usable; with ``services``, each entry needs usable parts (so a PARTIAL backup can qualify).
      A part is usable when it reports no errors and has ended (``ended_at``, or its backup ended
      ``SUCCESS``).
    - ``services``: ``TYPE`` needs a usable part for every provisioned instance of that type (``NEW``
      ones hold nothing yet) and at least one usable part of the type; ``TYPE:PREFIX`` needs a usable
      part of that one instance.
    - ``min_retention`` (seconds, 0/None: off): a backup due for deletion before ``now`` + this does
      not count - the temporary backups ``divio app pull`` makes are no restore point.
    - Never usable: a backup with an event timestamp more than ``CLOCK_SKEW_ALLOWANCE`` after ``now``
      or one that is no date at all (skipped with a warning; the next older backup is judged).
    """

    def __init__(self, successful_only=True, services=None, min_retention=None, now=None):
        self.successful_only = bool(successful_only)
        self.services = parse_services(services)  # parsed by the task already (Services pass as they are)
        self.min_retention = datetime.timedelta(seconds=min_retention or 0)
        self.now = now or datetime.datetime.now(_UTC)
        self.latest_event = self.now + CLOCK_SKEW_ALLOWANCE  # an event after this has not happened yet
        self.kept_until = self.now + self.min_retention  # a backup deleted before this does not count

    def may_qualify(self, backup):
        """Cheap test of the backup's state alone, before any part is fetched."""
        if not self.successful_only:
            return True
        if backup.get("state") != COMPLETED:
            return False
        # With a services rule a PARTIAL backup can still hold a good part of each listed type.
        return self.services is not None or backup.get("success") == SUCCESS

    def screen(self, backup):
        """``(may qualify, warning or None)`` from the backup object alone: state, deletion date, times."""
        if not self.may_qualify(backup):
            return False, None
        usable, warning, _ended = self.screen_dates(backup)
        return usable, warning

    def screen_dates(self, backup, parsed=None):
        """``(usable, warning or None, ended_at as a datetime or None)``: ``screen`` after ``may_qualify``.

        ``parsed``: ``{field: datetime}`` of the backup's fields already parsed (each is parsed once)."""
        parsed = {} if parsed is None else parsed
        problem = _time_problem(backup, BACKUP_EVENT_FIELDS, "backup", self.latest_event, parsed)
        if problem:
            return False, "skipped backup %s: %s; the next older backup was judged." % (backup["uuid"], problem), None
        if self.min_retention:
            value = backup.get("scheduled_for_deletion_at")
            if value is not None:
                try:
                    deletion = read_timestamp(value)
                except (ValueError, OverflowError):
                    exc = parse_exception(value, "scheduled_for_deletion_at of backup %s" % backup["uuid"])
                    return False, "skipped backup %s: %s; the next older backup was judged." % (
                        backup["uuid"], str(exc).rstrip(".")), None
                if deletion < self.kept_until:
                    return False, None, None  # temporary: it is going away
        return True, None, parsed.get("ended_at")

    def counted_parts(self, parts, backup=None, instances=None):
        """The parts that make the backup qualify, or None when it does not."""
        instances = as_instances(instances)
        ended_well = backup is not None and backup.get("state") == COMPLETED and backup.get("success") == SUCCESS

        def counts(part):
            return not self.successful_only or _usable(part, ended_well)

        if self.services is None:
            counted = list(parts)
            if self.successful_only and (not counted or not all(counts(p) for p in counted)):
                return None
            return counted
        counted = []
        for entry in self.services:
            kind, prefix = split_service(entry)
            if prefix is None:
                of_kind = [p for p in parts if instances.type_of(p) == kind and counts(p)]
                covered = set(p.get("service_instance") for p in of_kind)
                if not of_kind or any(uuid not in covered for uuid in instances.provisioned(kind)):
                    return None
            else:
                named = instances.named(kind, prefix)
                of_kind = [p for p in parts if p.get("service_instance") in named and counts(p)]
                if not of_kind:
                    return None
            counted.extend(p for p in of_kind if not any(p is c for c in counted))
        return counted

    def missing_instances(self, instances):
        """A warning when a ``TYPE:PREFIX`` entry names no instance of the environment, else None."""
        instances = as_instances(instances)
        unknown = [entry for entry in self.services or () if split_service(entry)[1] is not None
                   and not instances.named(*split_service(entry))]
        if not unknown:
            return None
        return "no %s service instance, so no backup can hold it; the environment has: %s." % (
            " or ".join(unknown), instances.describe())

    def judge(self, backup, parts, instances=None):
        """``(Pick or None, warning or None)`` for a backup that passed ``screen``, with its parts."""
        for part in parts:
            problem = _time_problem(part, PART_EVENT_FIELDS, "service-instance backup", self.latest_event)
            if problem:
                return None, "skipped backup %s: %s; the next older backup was judged." % (backup["uuid"], problem)
        counted = self.counted_parts(parts, backup, instances)
        if counted is None:
            return None, None
        taken_at, dated_by, undated = date_backup(backup, counted)
        if undated and self.successful_only:
            return None, ("skipped backup %s: it cannot be dated - service-instance backup %s has no taken_at, started_at "
                          "or ended_at and the backup no started_at or ended_at; the next older backup was judged."
                          % (backup["uuid"], undated[0].get("uuid")))
        return Pick(backup, parts, counted, taken_at, dated_by), None


def date_backup(backup, parts):
    """``(taken_at, dated_by, undated parts)``: the oldest snapshot among the usable ``parts`` of ``backup``
    (each dated by ``_date_part``), the field it came from, and the usable parts that cannot be dated."""
    ended_well = backup.get("state") == COMPLETED and backup.get("success") == SUCCESS
    dated, undated = [], []
    for part in parts:
        if _usable(part, ended_well):
            moment, field = _date_part(part, backup)
            if moment is None:
                undated.append(part)
            else:
                dated.append((moment, field))
    taken_at, dated_by = min(dated, key=lambda item: item[0]) if dated else (None, None)
    return taken_at, dated_by, undated


def _usable(part, backup_ended_well=False):
    """No errors, and ended: its own ``ended_at``, or a backup that ended ``SUCCESS`` (so every part did)."""
    return not part.get("errors") and (bool(part.get("ended_at")) or backup_ended_well)


def _date_part(part, backup):
    """``(moment, dated_by)``: when the part's data was captured, by the earliest trustworthy field -
    the part's ``taken_at``, else its ``started_at``, else its ``ended_at``, else the backup's
    ``started_at``, else its ``ended_at``; ``(None, None)`` when none is set."""
    for field in PART_DATING_FIELDS:
        if part.get(field):
            return parse_timestamp(part[field], "%s of service-instance backup %s" % (field, part.get("uuid"))), field
    for field in BACKUP_DATING_FIELDS:
        if backup.get(field):
            return parse_timestamp(backup[field], "%s of backup %s" % (field, backup["uuid"])), "backup." + field
    return None, None


def _time_problem(item, fields, kind, latest, parsed=None):
    """Why ``item``'s event timestamps make it unusable (no date, or later than ``latest``), or None.

    ``kind``: what the item is, for the message (``backup``); ``parsed``: a dict of fields already parsed,
    which gets the ones parsed here."""
    for field in fields:
        value = item.get(field)
        if value is None:
            continue
        moment = parsed.get(field) if parsed else None
        if moment is None:
            try:
                moment = read_timestamp(value)
            except (ValueError, OverflowError):
                return str(parse_exception(value, "%s of %s %s" % (field, kind, item.get("uuid")))).rstrip(".")
            if parsed is not None:
                parsed[field] = moment
        if moment > latest:
            return "%s %r of %s %s is in the future (more than the %d min clock-skew allowance)" % (
                field, value, kind, item.get("uuid"), CLOCK_SKEW_ALLOWANCE.seconds // 60)
    return None


# -- scanning and picking ----------------------------------------------------------------------

class Candidates:
    """The backups of one environment that may still turn out the newest, kept in bounded memory.

    Keeps every running backup (no upper bound on its snapshot) and the ``keep`` finished ones whose
    snapshot can be the latest; ``dropped_bound`` is the latest possible snapshot of any backup it let
    go, so ``pick_newest`` can tell whether its answer is proven or a full re-read is needed.

    A backup's dates are screened only once it could be kept: one that ended too early to be kept
    is let go on its ``ended_at`` alone, so a problem with its other dates goes unsaid (it could never
    be the answer; ``dropped_bound`` counts it either way, which can only make a proof stricter).
    """

    def __init__(self, keep=None):
        self.keep = keep
        self.seen = 0  # every backup of the environment read, qualifying or not: its size, for cost estimates
        self.dropped_bound = None
        self.warnings = []  # backups skipped as unusable, said once each (see ``note``)
        self._running = []
        self._heap = []
        self._full_at = sys.maxsize if keep is None else max(1, keep)  # heap size from which a backup may be let go
        self._order = itertools.count()  # tie-breaker: backups themselves do not compare

    def offer(self, backup, rule):
        """Count ``backup`` as seen; keep it if ``rule`` may let it qualify and it may be among the newest."""
        self.seen += 1
        if not rule.may_qualify(backup):
            return
        parsed = None
        if len(self._heap) >= self._full_at:
            ended_at = backup.get("ended_at")
            if ended_at is not None:
                try:
                    ended = read_timestamp(ended_at)
                except (ValueError, OverflowError):
                    ended = None  # screen_dates says what is wrong with it
                if ended is not None:
                    bound = ended + CLOCK_SLACK
                    if bound <= self._heap[0][0]:
                        # Not among the newest kept: let go at once, without a copy or a look at its other dates.
                        if self.dropped_bound is None or bound > self.dropped_bound:
                            self.dropped_bound = bound
                        return
                    parsed = {"ended_at": ended}
        usable, warning, ended = rule.screen_dates(backup, parsed)
        if warning:
            self.note(warning)
        if usable:
            self._add(backup, ended)

    def _add(self, backup, ended):
        if ended is None:
            self._running.append(_kept(backup))  # still running: its snapshot could be any time
            return
        item = (ended + CLOCK_SLACK, next(self._order), _kept(backup))
        if self.keep is None or len(self._heap) < self.keep:
            heapq.heappush(self._heap, item)
            return
        dropped = heapq.heappushpop(self._heap, item)[0]
        self.dropped_bound = dropped if self.dropped_bound is None else max(self.dropped_bound, dropped)

    def note(self, warning):
        if warning and warning not in self.warnings:
            self.warnings.append(warning)

    def __iter__(self):
        return iter(self._running + [item[2] for item in self._heap])

    def newest_first(self):
        """``(latest possible snapshot, backup)`` of each, latest first; running ones (None: unbounded) lead."""
        pairs = [(None, backup) for backup in self._running] + [(item[0], item[2]) for item in self._heap]
        pairs.sort(key=lambda pair: _UNBOUNDED if pair[0] is None else pair[0], reverse=True)
        return pairs

    def __len__(self):
        return len(self._running) + len(self._heap)


def _kept(backup):
    """A backup to keep, copied with the interpreter's shared key strings: the JSON decoder shares keys
    only within one page, so backups kept from thousands of pages would keep thousands of copies of the
    same keys alive (11 MB at 3,000 environments x 600 backups), and memory would grow with the pages."""
    try:
        return dict(zip(map(sys.intern, backup), backup.values()))
    except TypeError:  # a key that is no plain string (never from JSON) is kept as it is
        return dict((sys.intern(key) if isinstance(key, str) else key, value) for key, value in backup.items())


def _scan_pass(client, env_uuid, wanted, rule, keep, state=None):
    """One pass over /backups/?environment= (all backups when ``env_uuid`` is None); returns
    ``(candidates by environment, unfiltered)``. ``state["unfiltered"]`` is set as soon as a backup of
    another environment arrives, so a caller knows it even when the pass fails later."""
    found = dict((uuid, Candidates(keep)) for uuid in wanted)
    unfiltered = env_uuid is None
    state = {} if state is None else state
    for backup in client.paginate(BACKUPS, {"environment": env_uuid}):
        if not isinstance(backup, dict) or not isinstance(backup.get("uuid"), str):
            raise InvalidResponseError("GET %s returned an item that is not a backup object." % BACKUPS, path=BACKUPS)
        owner = backup.get("environment")
        if not unfiltered and owner != env_uuid:
            unfiltered = state["unfiltered"] = True
        try:
            candidates = found.get(owner)
        except TypeError:  # unhashable: a list or an object where an id belongs
            raise InvalidResponseError("GET %s returned backup %s whose environment %r is not an id."
                                       % (BACKUPS, backup["uuid"], owner), path=BACKUPS) from None
        if candidates is not None:
            candidates.offer(backup, rule)
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
        state = {}
        try:
            return env_uuid, _scan_pass(client, env_uuid, wanted, rule, keep, state), None
        except DivioError as exc:
            if errors is None:
                raise
            return env_uuid, (None, state.get("unfiltered", False)), exc

    def merge(result, wanted):
        env_uuid, (found, unfiltered), error = result
        if error is not None:
            # A pass that failed after showing the filter is ignored was a pass over every backup: one per
            # environment would read (and most likely fail on) the whole account again, so it is everyone's.
            for uuid in (wanted if env_uuid is None or unfiltered else [env_uuid]):
                errors[uuid] = error
            return unfiltered
        covered = list(wanted) if unfiltered else [env_uuid]
        for uuid in covered:
            candidates[uuid] = found[uuid]
        return unfiltered

    if not environment_uuids:
        return candidates
    first, rest = environment_uuids[0], list(environment_uuids[1:])
    if merge(run(first, environment_uuids), environment_uuids):
        return candidates  # the server ignored the filter: one pass was everything
    # Estimated from the first environment's size: one unfiltered pass, or a filtered pass per remaining environment.
    if rest and first in candidates and one_read_is_cheaper(client, BACKUPS, len(rest), candidates[first].seen):
        result = run(None, rest)
        merge(result, rest)
        return candidates
    for result in client.imap(lambda uuid: run(uuid, [uuid]), rest):
        merge(result, [result[0]])
    return candidates


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
    """One qualifying backup with its parts. ``taken_at``: the oldest snapshot among the parts that count;
    ``dated_by``: the field it came from (``taken_at``, ``started_at``, ``ended_at`` of that part, or
    ``backup.started_at`` / ``backup.ended_at``)."""

    def __init__(self, backup, parts, counted, taken_at, dated_by=None):
        self.backup = backup
        self.parts = parts
        self.counted = counted
        self.taken_at = taken_at
        self.dated_by = dated_by if taken_at is not None else None
        # Not taken yet (only when unsuccessful backups are wanted): order it by creation.
        created = parse_timestamp(backup.get("created_at"), "created_at of backup %s" % backup["uuid"])
        self.order = taken_at or created or _EPOCH


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=_UTC)


def pick_newest(client, candidates, rule, count, memo=None, instances=None):
    """The ``count`` newest qualifying backups by snapshot time, newest first (a list of ``Pick``),
    and whether that is proven from ``candidates`` alone (see ``Candidates.dropped_bound``).

    Candidates are tried from the latest possible snapshot down; parts are fetched only while a
    candidate could still make the top ``count``. Backups found unusable are noted in
    ``candidates.warnings``. ``instances``: the environment's ``ServiceInstances``."""
    chosen = []
    for bound, backup in candidates.newest_first():
        if len(chosen) >= count and bound is not None and bound < chosen[count - 1].order:
            return chosen[:count], True  # dropped candidates had even earlier bounds
        try:
            parts = fetch_parts(client, backup, memo)
        except NotFoundError:
            if _still_there(client, backup):
                raise
            continue  # deleted since it was listed (its parts go with it): not a candidate any more
        pick, warning = rule.judge(backup, parts, instances)
        candidates.note(warning)
        if pick is None:
            continue
        chosen.append(pick)
        chosen.sort(key=lambda pick: pick.order, reverse=True)
    dropped = getattr(candidates, "dropped_bound", None)
    proven = dropped is None or (len(chosen) >= count and dropped < chosen[count - 1].order)
    return chosen[:count], proven


def _still_there(client, backup):
    """Whether a backup still exists (a live account deletes backups while they are read)."""
    try:
        client.get("%s%s/" % (BACKUPS, quote(backup["uuid"], safe="")))
    except NotFoundError:
        return False
    return True


def newest_backups(client, env_uuid, candidates, rule, count, memo=None, instances=None):
    """``pick_newest``, re-reading the environment's backups in full in the rare case the kept
    candidates cannot prove the answer (all of them failed the rule). Warnings end up in
    ``candidates.warnings`` either way; ``instances``: the environment's ``ServiceInstances``."""
    instances = instances or ServiceInstances(client, env_uuid)
    warning = rule.missing_instances(instances) if rule.services else None
    candidates.note(warning)
    picks, proven = pick_newest(client, candidates, rule, count, memo, instances)
    if not proven:
        everything = scan_candidates(client, [env_uuid], rule, keep=None)[env_uuid]
        picks = pick_newest(client, everything, rule, count, memo, instances)[0]
        for warning in everything.warnings:
            candidates.note(warning)
    return picks


# -- the question as users ask it --------------------------------------------------------------

_BACKUP_FIELDS = ("state", "success", "trigger", "notes", "created_at", "started_at", "ended_at",
                  "scheduled_for_deletion_at")
_PART_FIELDS = ("uuid", "service_instance", "service_type", "queued_at", "started_at", "ended_at",
                "taken_at", "size", "errors")


def format_timestamp(moment):
    return moment.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
        ".%06dZ" % moment.microsecond if moment.microsecond else "Z")


def age_seconds(moment, now):
    """Whole seconds from ``moment`` to ``now``; never negative (a snapshot within the clock-skew allowance
    ahead of our clock is simply new)."""
    return max(0, int((now - moment).total_seconds()))


def backup_entry(application, environment, pick, instances, now, max_age, warnings=()):
    """One ``backup_info`` entry: a pick (or None: no qualifying backup) of one environment."""
    instances = as_instances(instances)
    entry = {
        "application": application["uuid"],
        "application_slug": application.get("slug"),
        "environment": environment["uuid"],
        "environment_slug": environment.get("slug"),
        "uuid": None,
        "taken_at": None,
        "dated_by": None,
        "age_seconds": None,
        "size": None,
        "services": [],
        "service_instance_backups": [],
        "warnings": list(warnings),
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
            item["service_type"] = instances.type_of(part)
            item["prefix"] = instances.prefix_of(part)
            parts.append(item)
        entry["service_instance_backups"] = sorted(parts, key=lambda p: (str(p["service_type"] or ""), str(p["prefix"] or "")))
        entry["services"] = sorted(set(kind for kind in map(instances.type_of, pick.counted) if kind))
        sizes = [p.get("size") for p in pick.parts]
        # A part that does not say its size makes the total unknown, not smaller.
        if sizes and all(isinstance(size, int) and not isinstance(size, bool) for size in sizes):
            entry["size"] = sum(sizes)
        if pick.taken_at is not None:
            entry["taken_at"] = format_timestamp(pick.taken_at)
            entry["dated_by"] = pick.dated_by
            entry["age_seconds"] = age_seconds(pick.taken_at, now)
    if max_age is not None or pick is None:
        entry["fresh"] = entry["age_seconds"] is not None and max_age is not None and entry["age_seconds"] <= max_age
    return entry


class FindOptions(TaskOptions):
    """The options of one ``backup_info`` question (the module's argument spec without ``application``; the lookup's
    ``latest_backup`` term takes the same), every one checked before the first request: ``services``, ``max_age``
    and ``min_retention`` are parsed here, once (``RuleOptions``, which takes a task's already parsed ``Services``
    and ``Duration`` as they are), then ``limit`` and ``environment`` checked."""

    ARGUMENT_SPEC = dict(
        environment=dict(type="str"),
        latest=dict(type="bool", default=True),
        limit=dict(type="int", default=DEFAULT_LIMIT),
        successful_only=dict(type="bool", default=True),
        services=dict(type="list", elements="str"),
        max_age=dict(type="raw"),
        min_retention=dict(type="raw", default=DEFAULT_MIN_RETENTION),
    )

    def __init__(self, environment=None, latest=True, limit=DEFAULT_LIMIT, successful_only=True, services=None,
                 max_age=None, min_retention=DEFAULT_MIN_RETENTION):
        rules = RuleOptions(services, max_age, min_retention)  # typed values (a task's own) pass as they are
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InputError("limit %r is not valid: expected a whole number of at least 1." % (limit,))
        self.services, self.max_age, self.min_retention = rules.services, rules.max_age, rules.min_retention
        self.environment = require_text("environment", environment)
        self.latest, self.limit, self.successful_only = latest, limit, successful_only


def find_backups(client, application, environment=None, latest=True, successful_only=True, services=None,
                 max_age=None, limit=DEFAULT_LIMIT, now=None, min_retention=DEFAULT_MIN_RETENTION, warnings=None):
    """Backups of one application's environments, as ``backup_info`` returns them: ``find_backups_with`` with these
    options (``FindOptions``), checked before the first request.

    ``latest``: one entry per environment, its newest qualifying backup, or an entry with
    ``uuid: None`` when it has none (a gate must see "no backup", never "nothing to check").
    Otherwise every qualifying backup, newest first, at most ``limit`` per environment.
    ``min_retention``: a duration (``24h``; 0 turns it off) - see ``BackupRule``.
    Each entry's ``warnings`` lists the backups of its environment skipped as unusable
    (``"<app>/<env>: skipped backup ..."``). ``warnings``, a list, receives those of every environment, once
    each - also of an environment left without entries (``latest=False``, nothing qualified), which no entry
    can carry.
    """
    options = FindOptions(environment=environment, latest=latest, limit=limit, successful_only=successful_only,
                          services=services, max_age=max_age, min_retention=min_retention)
    return find_backups_with(client, application, options, now=now, warnings=warnings)


def find_backups_with(client, application, options, now=None, warnings=None):
    """``find_backups`` with its checked ``options`` (``FindOptions``); nothing is parsed here."""
    now = now or datetime.datetime.now(_UTC)
    rule = BackupRule(successful_only=options.successful_only, services=options.services,
                      min_retention=options.min_retention, now=now)
    max_age, latest, environment = options.max_age, options.latest, options.environment

    app = get_application(client, application)
    environments = list_environments(client, app) if environment is None else [get_environment(client, app, environment)]

    count = 1 if latest else options.limit
    candidates = scan_candidates(client, [env["uuid"] for env in environments], rule, keep=count + DEFAULT_KEEP)

    def resolve(env):
        instances = ServiceInstances(client, env["uuid"])
        found = candidates[env["uuid"]]
        picks = newest_backups(client, env["uuid"], found, rule, count, instances=instances)
        env_warnings = ["%s/%s: %s" % (app.get("slug"), env.get("slug"), warning) for warning in found.warnings]
        if latest:
            return env_warnings, [backup_entry(app, env, picks[0] if picks else None, instances, now, max_age, env_warnings)]
        return env_warnings, [backup_entry(app, env, pick, instances, now, max_age, env_warnings) for pick in picks]

    environments = sorted(environments, key=lambda e: str(e.get("slug") or ""))
    resolved = client.map(resolve, environments)
    if warnings is not None:
        warnings.extend(warning for env_warnings, _entries in resolved for warning in env_warnings)
    return [entry for _env_warnings, entries in resolved for entry in entries]
