# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Backup checks for a fleet: is every (application, environment, service) backed up recently?

Used by the ``backup_check`` module, hence by the ``backup_gate`` role and the ``check_backups``
playbook. Built on the same resolution as ``backup_info`` (``backups.py``), and one pass over
/backups/ serves every environment of every application when the server ignores the filter.
An application whose calls fail becomes ``error`` records; the rest of the fleet is still checked.
No Ansible imports.
"""

import datetime
import shutil
import tempfile
import time

from ansible_collections.divio.cloud.plugins.module_utils.backups import (
    DEFAULT_KEEP,
    BackupRule,
    ServiceInstances,
    age_seconds,
    format_timestamp,
    newest_backups,
    scan_candidates,
)
from ansible_collections.divio.cloud.plugins.module_utils.download_options import DownloadOptions
from ansible_collections.divio.cloud.plugins.module_utils.downloads import download_backup, recorded_verdicts
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError
from ansible_collections.divio.cloud.plugins.module_utils.manifest import Manifest
from ansible_collections.divio.cloud.plugins.module_utils.part_download import FailedVerification
from ansible_collections.divio.cloud.plugins.module_utils.resolution import ChosenBackup, resolve_backup
from ansible_collections.divio.cloud.plugins.module_utils.resources import fleet, service_instances_of
from ansible_collections.divio.cloud.plugins.module_utils.values import (
    DEFAULT_MIN_RETENTION,
    DEFAULT_SERVICES,
    RuleOptions,
    Services,
    format_duration,
    split_service,
    writable_directory,
)
from ansible_collections.divio.cloud.plugins.module_utils.verify import DEFAULT_VERIFY_TIMEOUT

FRESH, STALE, MISSING, ERROR, UNVERIFIED = "fresh", "stale", "missing", "error", "unverified"
STATUSES = (ERROR, MISSING, UNVERIFIED, STALE, FRESH)  # worst first; unverified only with verify: read
VERIFY_LEVELS = ("none", "read")
DEFAULT_MAX_AGE = "24h"
# Candidate backups kept while scanning, for the whole fleet (about 1.4 KB each, so ~35 MB): DEFAULT_KEEP per
# environment in a small fleet, fewer (at least MIN_KEEP) in a large one, so memory does not grow with the
# backups per environment. An environment whose kept candidates all fail the rule is re-read (newest_backups).
FLEET_CANDIDATES = 24000
MIN_KEEP = 4


class _Limit:
    def __init__(self, max_age):
        """``max_age``: a ``Duration``."""
        self.seconds = int(max_age)
        # Show the limit as the user wrote it ("2d" stays "2d").
        given = max_age.given
        self.text = given.strip() if isinstance(given, str) and not given.strip().isdigit() else format_duration(max_age)


def _record(app_ref, app=None, env=None, env_slug=None, limit=None):
    return {
        "application": app["uuid"] if app else None,
        "application_slug": app.get("slug") if app else app_ref,
        "environment": env["uuid"] if env else None,
        "environment_slug": env.get("slug") if env else env_slug,
        "status": FRESH,
        "problems": [],
        "error": None,
        "uuid": None,
        "taken_at": None,
        "age_seconds": None,
        "dated_by": None,
        "max_age_seconds": limit.seconds,
        "max_age": limit.text,
        "services": [],
        "warnings": [],
    }


def record_name(record):
    """``app/env``, or ``app`` when the application's environments could not be read (checks and reports)."""
    if record["environment_slug"] is None:
        return record["application_slug"]
    return "%s/%s" % (record["application_slug"], record["environment_slug"])


def _fail(record, status, problem):
    record["status"] = status
    record["problems"].append("%s: %s" % (record_name(record), problem))
    return record


def _error(record, exc):
    record["error"] = str(exc)
    return _fail(record, ERROR, "error: %s" % exc)


def _service_check(record, service, pick, limit, now, instances):
    """Judge one service of one environment and note a problem line on the record."""
    check = {"service": service, "status": MISSING, "uuid": None, "taken_at": None, "dated_by": None, "age_seconds": None,
             "fresh": False}
    if pick is not None and pick.taken_at is not None:
        age = age_seconds(pick.taken_at, now)
        check.update(uuid=pick.backup["uuid"], taken_at=format_timestamp(pick.taken_at), dated_by=pick.dated_by,
                     age_seconds=age, fresh=age <= limit.seconds, status=FRESH if age <= limit.seconds else STALE)
    if check["status"] == MISSING:
        record["problems"].append("%s: %s" % (record_name(record), _missing(service, instances)))
    elif check["status"] == STALE:
        record["problems"].append("%s: newest %s backup is %s old (limit %s)"
                                  % (record_name(record), service, format_duration(check["age_seconds"]), limit.text))
    return check


def _missing(service, instances):
    """What a missing service check says: the rule's instances, when that explains more than the type."""
    kind, prefix = split_service(service)
    if prefix is not None and not instances.named(kind, prefix):
        return "no %s service instance (it has: %s)" % (service, instances.describe())
    provisioned = instances.provisioned(kind) if prefix is None else []
    if len(provisioned) > 1:
        prefixes = sorted(str(instances.all()[uuid].get("prefix")) for uuid in provisioned)
        return "no successful backup holding every %s instance (%s)" % (service, ", ".join(prefixes))
    return "no successful %s backup" % service


def _judge(record, checks):
    record["services"] = checks
    record["status"] = min((c["status"] for c in checks), key=STATUSES.index)
    if record["status"] != MISSING:
        stalest = max(checks, key=lambda c: c["age_seconds"])
        record.update(uuid=stalest["uuid"], taken_at=stalest["taken_at"], dated_by=stalest["dated_by"],
                      age_seconds=stalest["age_seconds"])


class FleetCheck:
    """The rules of a fleet check, every option checked when it is made - before any request.

    ``judge(client, entries)`` judges the environments of ``resources.fleet`` entries, so a caller that
    needs the fleet itself (the inventory) reads it once and has the check judge exactly what it read."""

    def __init__(self, services=DEFAULT_SERVICES, max_age=DEFAULT_MAX_AGE, min_retention=DEFAULT_MIN_RETENTION, now=None,
                 verify="none", verify_dir=None, verify_timeout=DEFAULT_VERIFY_TIMEOUT):
        if verify not in VERIFY_LEVELS:
            raise InputError("verify %r is not valid: expected one of %s." % (verify, ", ".join(VERIFY_LEVELS)))
        if verify_dir is not None:
            writable_directory("verify_dir", verify_dir, "is not a directory (create it first)",
                               "is not writable by the user running the task")
        self.verify = verify
        self.verify_dir = verify_dir
        # The one place the check's rules are parsed; below, the typed values travel.
        options = RuleOptions(DEFAULT_SERVICES if services is None else services, max_age, min_retention,
                              require_max_age=True)
        self.services = options.services
        self.limit = _Limit(options.max_age)
        self.retention = options.min_retention
        self.now = now or datetime.datetime.now(datetime.timezone.utc)
        # The verify step's download options, checked once here: into verify_dir, else into a temporary directory
        # made in the system's (verify_records). The check reads DATABASE dumps only (never a media archive): of
        # the read's bounds, only verify_timeout applies. Each judged backup is handed down (verify_records).
        self.download = DownloadOptions(verify_dir or tempfile.gettempdir(), services=self.services,
                                        min_retention=self.retention, verify="read", verify_timeout=verify_timeout)

    def judge(self, client, entries):
        """``(records, summary)`` for ``resources.fleet`` entries, records sorted worst first."""
        limit = self.limit
        records = []
        targets = []  # (record, environment uuid) still to judge
        for item in entries:
            ref, app = item["reference"], item["application"]
            if item["error"] is not None:
                records.append(_error(_record(ref, app, limit=limit), item["error"]))
                continue
            for env in item["environments"]:
                record = _record(ref, app, env, env.get("slug"), limit)
                records.append(record)
                targets.append((record, env["uuid"]))
            for slug in item["missing"]:
                records.append(_fail(_record(ref, app, None, slug, limit), MISSING, "no such environment"))
        database_parts = self._judge_environments(client, targets)
        if self.verify != "none":
            verify_records(client, [record for record, _uuid in targets], self.download, self.verify_dir, self.now,
                           database_parts)
        records.sort(key=lambda r: (STATUSES.index(r["status"]), r["application_slug"] or "", r["environment_slug"] or ""))
        counted = STATUSES if self.verify != "none" else tuple(s for s in STATUSES if s != UNVERIFIED)
        summary = dict((status, sum(r["status"] == status for r in records)) for status in counted)
        summary.update(total=len(records), ok=bool(records) and summary[FRESH] == len(records))
        return records, summary

    def _judge_environments(self, client, targets):
        """Fill in the records of ``targets`` (``(record, environment uuid)``) from the environments' backups; returns
        the DATABASE parts each DATABASE rule counted, by backup id and part id (for the verify step)."""
        limit, now, retention, services = self.limit, self.now, self.retention, self.services
        errors = {}
        # One scan for all services (a backup that may hold any of them); each service is then judged on
        # its own, sharing the parts already fetched (memo) and the environment's service instances.
        keep = max(MIN_KEEP, min(DEFAULT_KEEP, FLEET_CANDIDATES // max(1, len(targets))))
        candidates = scan_candidates(client, [uuid for record, uuid in targets],
                                     BackupRule(services=services, min_retention=retention, now=now), errors, keep=keep)
        instances, instance_errors = service_instances_of(client, [uuid for record, uuid in targets if uuid not in errors])
        errors.update(instance_errors)
        rules = [(service, BackupRule(services=Services((service,)), min_retention=retention, now=now))
                 for service in services]
        memo, database_parts = {}, {}

        def newest_per_service(env_uuid):
            known = ServiceInstances(client, env_uuid, preloaded=instances[env_uuid])
            return known, [(service, newest_backups(client, env_uuid, candidates[env_uuid], rule, 1, memo, known))
                           for service, rule in rules]

        judged = client.map(newest_per_service, [uuid for record, uuid in targets if uuid not in errors], return_errors=True)
        for record, env_uuid in targets:
            error = errors.get(env_uuid)
            if error is None:
                result, error = judged.pop(0)
            if error is not None:
                _error(record, error)
                continue
            known, picks = result
            for service, found in picks:
                if found and split_service(service)[0] == "DATABASE":
                    # The parts this rule counted, typed as the download names them (the live API's parts
                    # carry no service_type, and never a prefix).
                    kept = database_parts.setdefault(found[0].backup["uuid"], {})
                    kept.update((part["uuid"], dict(part, service_type="DATABASE", prefix=known.prefix_of(part)))
                                for part in found[0].counted if known.type_of(part) == "DATABASE")
            record["warnings"] = ["%s: %s" % (record_name(record), warning) for warning in candidates[env_uuid].warnings]
            _judge(record, [_service_check(record, service, found[0] if found else None, limit, now, known)
                            for service, found in picks])
        return database_parts


def verify_records(client, records, options, verify_dir=None, now=None, database_parts=None):
    """The verify step: download and read-verify the DATABASE parts of the backups each record's DATABASE rules
    judged (never an older one; a backup judged only for STORAGE is not read), and mark the record ``unverified``
    (a file failed) or ``error`` (a verification could not run).

    ``options``: the check's ``DownloadOptions`` (``FleetCheck.download``), checked when the check was made, whose
    ``dest`` is ``verify_dir`` when it is given. Files go to ``verify_dir`` (or a temporary directory made in
    ``options.dest``, removed at the end) and are removed once verified; ``verify_dir``'s manifest keeps each
    verdict by backup and part, so the next run does not repeat it.
    Backups are verified concurrently, at most the client's ``max_concurrency`` at a time. Each record gains
    ``verified`` (true, false, or null when nothing could be verified), ``verified_at`` and
    ``verified_age_seconds`` (the age of the judged backup when it was verified, else null) and ``verification``.
    ``database_parts`` (the parts each DATABASE rule counted, by backup id and part id, as the check fetched them)
    lets a backup whose every such part has a verdict in the manifest be reported from it, without a request.

    A file system that fails (``verify_dir`` not writable, the disk full) fails the whole step with
    ``InputError`` naming the directory: verdicts that cannot be kept must not pass as kept."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    todo = [r for r in records if r["status"] in (FRESH, STALE)]
    for record in records:
        record.update(verified=None, verified_at=None, verified_age_seconds=None, verification=[])
    owned, directory = verify_dir is None, verify_dir
    try:
        if owned:
            directory = tempfile.mkdtemp(prefix="divio-check-verify-", dir=options.dest)
            options = options.with_dest(directory)
        _verify(client, todo, options, database_parts or {})
    except OSError as exc:
        where = "a temporary directory (%s)" % (directory or tempfile.gettempdir()) if owned else "verify_dir %r" % verify_dir
        problem = "%s: %s" % (exc.strerror, exc.filename) if exc.strerror and exc.filename else exc.strerror or exc
        raise InputError("The backups could not be verified in %s: %s" % (where, problem)) from None
    finally:
        if owned and directory:
            shutil.rmtree(directory, ignore_errors=True)


def _verify(client, todo, options, database_parts):
    manifest = Manifest(options.dest)

    def verify_one(record):
        results = []
        judged = {}  # judged backup -> the checks of the DATABASE services that judged it
        for check in record["services"]:
            if check.get("uuid") and split_service(check["service"])[0] == "DATABASE":
                judged.setdefault(check["uuid"], []).append(check)
        for uuid, checks in judged.items():
            parts = list((database_parts.get(uuid) or {}).values())
            recorded = recorded_verdicts(manifest, uuid, parts, "read")
            if recorded is not None:
                results.append(recorded)
                continue
            results.append(download_backup(client, record["application"], record["environment_slug"], options,
                                           manifest=manifest, keep_files=False,
                                           chosen=_judged_backup(client, record, uuid, checks, parts, options)))
        return results

    for record, (results, error) in zip(todo, client.map(verify_one, todo, return_errors=True)):
        if error is not None:
            _error(record, error)
            continue
        _apply_verification(record, results)
    manifest.save()


def _judged_backup(client, record, uuid, checks, parts, options):
    """The ``ChosenBackup`` to read: what the check judged, not looked up again (``parts``: the ones it counted); with
    no parts known, the backup resolved by id, with the parts of the services whose checks judged it."""
    if not parts:
        return resolve_backup(client, record["application"], record["environment_slug"], uuid,
                              Services(check["service"] for check in checks), options.min_retention)
    return ChosenBackup(dict(uuid=record["application"], slug=record["application_slug"]),
                        dict(uuid=record["environment"], slug=record["environment_slug"]),
                        dict(uuid=uuid, taken_at=checks[0]["taken_at"], dated_by=checks[0]["dated_by"]), parts)


def _apply_verification(record, results):
    files = [f for result in results for f in result["files"]]
    fields = ("part", "service_type", "prefix", "format", "size", "sha256", "verified", "verification")
    record["verification"] = [dict((k, f.get(k)) for k in fields) for f in files]
    problems = [(problem, result["backup"]["uuid"]) for result in results for problem in result["problems"]]
    failed = [(problem, uuid) for problem, uuid in problems if isinstance(problem, FailedVerification)]
    if failed:
        record["verified"] = False
        for problem, uuid in failed:
            _fail(record, UNVERIFIED, "backup %s failed verification: %s" % (uuid, problem.message))
    elif problems:
        problem, uuid = problems[0]
        record["error"] = "backup %s could not be verified: %s" % (uuid, problem.message)
        _fail(record, ERROR, "error: " + record["error"])
    elif files:
        record["verified"] = True
        record["verified_at"] = max(str(f.get("verified_at") or "") for f in files) or None
        record["verified_age_seconds"] = record["age_seconds"]


def check_backups(client, applications=None, organisation=None, environments=None, services=DEFAULT_SERVICES,
                  max_age=DEFAULT_MAX_AGE, now=None, min_retention=DEFAULT_MIN_RETENTION, verify="none", verify_dir=None,
                  verify_timeout=DEFAULT_VERIFY_TIMEOUT):
    """Check the fleet; returns ``(records, summary)``, records sorted worst first.

    Each service entry (``TYPE`` or ``TYPE:PREFIX``) is judged on its own by the rule of ``BackupRule``;
    ``min_retention`` (a duration, 0: off) leaves out backups due for deletion sooner. A record's
    ``warnings`` name the backups of its environment skipped as unusable."""
    check = FleetCheck(services=services, max_age=max_age, min_retention=min_retention, now=now, verify=verify,
                       verify_dir=verify_dir, verify_timeout=verify_timeout)
    return check.judge(client, fleet(client, applications=applications, organisation=organisation, environments=environments))


# The options of the backup_check module (and of the backup_report action, which runs the same check).
CHECK_ARGUMENT_SPEC = dict(
    applications=dict(type="list", elements="str"),
    organisation=dict(type="str"),
    environments=dict(type="list", elements="str"),
    services=dict(type="list", elements="str", default=list(DEFAULT_SERVICES)),
    max_age=dict(type="raw", default=DEFAULT_MAX_AGE),
    min_retention=dict(type="raw", default=DEFAULT_MIN_RETENTION),
    verify=dict(type="str", choices=list(VERIFY_LEVELS), default="none"),
    verify_dir=dict(type="path"),
    verify_timeout=dict(type="float", default=DEFAULT_VERIFY_TIMEOUT),
)


def plan_fleet_check(params, check_mode=False):
    """The ``FleetCheck`` that ``params`` (backup_check's options, validated) ask for, parsed once where the task
    starts (the module, or the backup_report action before it opens a client): ``(check, warnings)``.
    Verification is not done in check mode (it would create download links)."""
    verify, warnings = params.get("verify") or "none", []
    if verify != "none" and check_mode:
        warnings.append("verify: %s is not done in check mode (it would create download links)." % verify)
        verify = "none"
    check = FleetCheck(services=params["services"], max_age=params["max_age"], min_retention=params["min_retention"],
                       verify=verify, verify_dir=params.get("verify_dir"),
                       verify_timeout=params.get("verify_timeout", DEFAULT_VERIFY_TIMEOUT))
    if verify != "none" and not any(split_service(service)[0] == "DATABASE" for service in check.services):
        warnings.append("verify: %s reads DATABASE dumps, and services %s has none: nothing is verified."
                        % (verify, ", ".join(check.services)))
    return check, warnings


def run_fleet_check(client, params, check_mode=False, planned=None):
    """The backup_check module's results for ``params`` (its options, validated): ``(result, warnings)``.

    ``planned``: ``plan_fleet_check``'s answer when the task made it already. ``result`` holds ``checks``,
    ``summary`` (with ``result``: fresh, stale or failed), ``problems``, ``rules`` and ``stats``; ``warnings``
    name the backups skipped as unusable, each once."""
    started = time.monotonic()
    check, warnings = planned or plan_fleet_check(params, check_mode)
    warnings, verify = list(warnings), check.verify
    entries = fleet(client, applications=params["applications"], organisation=params["organisation"],
                    environments=params["environments"])
    records, summary = check.judge(client, entries)
    warnings += list(dict.fromkeys(w for record in records for w in record["warnings"]))
    # Ages as the problem lines write them, so reports and playbooks need no formatting of their own.
    for entry in records + [service for record in records for service in record["services"]]:
        entry["age"] = None if entry["age_seconds"] is None else format_duration(entry["age_seconds"])
    # One word for the outcome (the check_backups playbook's report contract): failed when some
    # application or environment could not be checked, or nothing matched at all.
    summary["result"] = "failed" if summary["error"] or not summary["total"] else "fresh" if summary["ok"] else "stale"
    # The rules the check judged by (not parsed again); the limit as each record writes it.
    limit = check.limit
    rules = dict(services=list(check.services), max_age_seconds=limit.seconds,
                 max_age=limit.text if records else format_duration(limit.seconds),
                 min_retention_seconds=int(check.retention))
    if verify != "none":  # only then, so a check without verification returns (and reports) what it always did
        rules["verify"] = verify
    stats = dict(requests=client.request_count, retries=getattr(client, "retry_count", 0),
                 seconds=round(time.monotonic() - started, 3))
    result = dict(checks=records, summary=summary, problems=[line for record in records for line in record["problems"]],
                  rules=rules, stats=stats)
    return result, warnings
