"""The answer to "latest backup", computed by brute force straight from the simulator's data set.

Deliberately independent of plugins/module_utils: it reads every backup and every part in memory,
with no pruning, no filters and no parsing helpers of the collection. The rules, as the README states
them:

- successful only: the backup is COMPLETED; without services it is SUCCESS and every part is usable;
  a part is usable when it has no errors and has ended (its ended_at, or its backup ended SUCCESS).
- services ``TYPE``: a usable part for every provisioned (not NEW) instance of that type in the
  environment, and at least one usable part of the type; ``TYPE:PREFIX``: a usable part of that instance.
  A part without service_type has the type of the instance it names.
- a part is dated by its taken_at, else started_at, else ended_at, else the backup's started_at, else
  ended_at; the backup by the oldest of its counted usable parts.
- a backup due for deletion within ``min_retention`` of now does not count.
"""

from datetime import datetime, timedelta, timezone

DAY = 86400


def ts(value):
    """ISO 8601 'Z' timestamps, with or without fractions."""
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def part_ok(part, backup):
    ended_well = backup["state"] == "COMPLETED" and backup["success"] == "SUCCESS"
    return not part.get("errors") and (bool(part.get("ended_at")) or ended_well)


def part_time(part, backup):
    for field in ("taken_at", "started_at", "ended_at"):
        if part.get(field):
            return ts(part[field]), field
    for field in ("started_at", "ended_at"):
        if backup.get(field):
            return ts(backup[field]), "backup." + field
    return None, None


def part_type(dataset, part):
    return part.get("service_type") or dataset.by_uuid["service_instances"].get(part.get("service_instance"), {}).get("type")


def _counted(dataset, backup, parts, services, successful_only):
    def counts(part):
        return not successful_only or part_ok(part, backup)

    instances = [si for si in dataset.service_instances if si["environment"] == backup["environment"]]
    counted = []
    for entry in services:
        kind, _sep, prefix = entry.partition(":")
        if prefix:
            wanted = {si["uuid"] for si in instances if si["type"] == kind and si["prefix"].upper() == prefix.upper()}
            of_kind = [p for p in parts if p["service_instance"] in wanted and counts(p)]
            if not of_kind:
                return None
        else:
            of_kind = [p for p in parts if part_type(dataset, p) == kind and counts(p)]
            provisioned = {si["uuid"] for si in instances if si["type"] == kind and si["service_status"] != "NEW"}
            if not of_kind or not provisioned <= {p["service_instance"] for p in of_kind}:
                return None
        counted += [p for p in of_kind if p not in counted]
    return counted


def qualifying(dataset, env_uuid, services=None, successful_only=True, min_retention=DAY, now=None):
    """Every qualifying backup of an environment as (taken_at, backup, counted parts), newest first."""
    now = now or dataset.now
    parts_by_backup = {}
    for part in dataset.service_instance_backups:
        parts_by_backup.setdefault(part["backup"], []).append(part)
    found = []
    for backup in dataset.backups:
        if backup["environment"] != env_uuid:
            continue
        deletion = ts(backup.get("scheduled_for_deletion_at"))
        if min_retention and deletion is not None and deletion < now + timedelta(seconds=min_retention):
            continue
        parts = parts_by_backup.get(backup["uuid"], [])
        if successful_only and backup["state"] != "COMPLETED":
            continue
        if services:
            counted = _counted(dataset, backup, parts, services, successful_only)
            if counted is not None:
                found.append((backup, counted))
        else:
            if successful_only and (backup["success"] != "SUCCESS" or not parts or not all(part_ok(p, backup) for p in parts)):
                continue
            found.append((backup, parts))
    result = []
    for backup, counted in found:
        taken = [part_time(p, backup)[0] for p in counted if part_ok(p, backup)]
        taken = [moment for moment in taken if moment is not None]
        result.append((min(taken) if taken else None, backup, counted))
    result.sort(key=lambda item: item[0] or ts(item[1]["created_at"]), reverse=True)
    return result


def latest(dataset, env_uuid, services=None, successful_only=True, min_retention=DAY):
    """(backup uuid, taken_at) of the newest qualifying backup, or (None, None)."""
    found = qualifying(dataset, env_uuid, services, successful_only, min_retention)
    if not found:
        return None, None
    taken_at, backup, _unused = found[0]
    return backup["uuid"], taken_at


def environments(dataset):
    """(application slug, environment slug, environment uuid) for every environment."""
    apps = {app["uuid"]: app["slug"] for app in dataset.applications}
    return sorted((apps[env["application"]], env["slug"], env["uuid"]) for env in dataset.environments)
