"""The answer to "latest backup", computed by brute force straight from the simulator's data set.

Deliberately independent of plugins/module_utils: it reads every backup and every part in memory,
with no pruning, no filters and no parsing helpers of the collection.
"""

from datetime import datetime, timezone


def ts(value):
    """ISO 8601 'Z' timestamps, with or without fractions."""
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def part_ok(part):
    return bool(part["ended_at"]) and not part["errors"] and bool(part["taken_at"])


def qualifying(dataset, env_uuid, services=None, successful_only=True):
    """Every qualifying backup of an environment as (taken_at, backup, counted parts), newest first."""
    parts_by_backup = {}
    for part in dataset.service_instance_backups:
        parts_by_backup.setdefault(part["backup"], []).append(part)
    found = []
    for backup in dataset.backups:
        if backup["environment"] != env_uuid:
            continue
        parts = parts_by_backup.get(backup["uuid"], [])
        if successful_only and backup["state"] != "COMPLETED":
            continue
        if services:
            counted = []
            for kind in services:
                of_kind = [p for p in parts if p["service_type"] == kind and (part_ok(p) or not successful_only)]
                if not of_kind:
                    break
                counted += of_kind
            else:
                found.append((backup, counted))
        else:
            if successful_only and (backup["success"] != "SUCCESS" or not parts or not all(part_ok(p) for p in parts)):
                continue
            found.append((backup, parts))
    result = []
    for backup, counted in found:
        taken = [ts(p["taken_at"]) for p in counted if p["taken_at"]]
        result.append((min(taken) if taken else None, backup, counted))
    result.sort(key=lambda item: item[0] or ts(item[1]["created_at"]), reverse=True)
    return result


def latest(dataset, env_uuid, services=None, successful_only=True):
    """(backup uuid, taken_at) of the newest qualifying backup, or (None, None)."""
    found = qualifying(dataset, env_uuid, services, successful_only)
    if not found:
        return None, None
    taken_at, backup, _unused = found[0]
    return backup["uuid"], taken_at


def environments(dataset):
    """(application slug, environment slug, environment uuid) for every environment."""
    apps = {app["uuid"]: app["slug"] for app in dataset.applications}
    return sorted((apps[env["application"]], env["slug"], env["uuid"]) for env in dataset.environments)
