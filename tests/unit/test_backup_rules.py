"""The pure helpers of backups.py: durations, service types, timestamps and the qualifying rule."""

import datetime

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.backups import (
    BackupRule,
    ServiceInstances,
    age_seconds,
    backup_entry,
)
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError, InvalidResponseError
from ansible_collections.divio.cloud.plugins.module_utils.values import (
    format_duration,
    parse_duration,
    parse_services,
    parse_timestamp,
)

UTC = datetime.timezone.utc


# -- parse_duration / format_duration ----------------------------------------------------------

@pytest.mark.parametrize("value, seconds", [
    (3600, 3600),
    ("3600", 3600),
    ("45s", 45),
    ("90m", 5400),
    ("36h", 129600),
    ("2d", 172800),
    ("1w", 604800),
    ("1d12h", 129600),
    ("1d 12h", 129600),
    (" 2D ", 172800),
    ("1w1d1h1m1s", 604800 + 86400 + 3600 + 60 + 1),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "   ", "abc", "10x", "-5", "h", "1d12", "1.5h", 0, "0m", -5,
                                   True, False, None, 1.5, [3600], "\u00b2"])
def test_parse_duration_rejects_with_a_helpful_message(value):
    with pytest.raises(InputError) as info:
        parse_duration(value)
    message = str(info.value)
    assert "max_age %r" % (value,) in message
    for form in ("86400", "90m", "36h", "2d", "1w"):
        assert form in message


def test_parse_duration_names_the_option():
    with pytest.raises(InputError, match="^older_than 'x' is not valid"):
        parse_duration("x", name="older_than")


@pytest.mark.parametrize("seconds, text", [
    (None, "unknown"),
    (0, "0s"),
    (59, "59s"),
    (60, "1m"),
    (2700, "45m"),
    (3599, "59m"),
    (3600, "1h"),
    (31 * 3600, "31h"),
    (3 * 86400 - 1, "71h"),
    (3 * 86400, "3d"),
    (3 * 86400 + 4 * 3600, "3d4h"),
    (14 * 86400, "14d"),
    (5400.7, "1h"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


# -- parse_services ----------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (None, None),
    ("database", ("DATABASE",)),
    (["Storage"], ("STORAGE",)),
    (["database", " STORAGE ", "Database"], ("DATABASE", "STORAGE")),
    ("storage, database", ("STORAGE", "DATABASE")),
    (("DATABASE",), ("DATABASE",)),
])
def test_parse_services(value, expected):
    assert parse_services(value) == expected


@pytest.mark.parametrize("value", ["media", ["DATABASE", "redis"], [5], "", [], "database,", {"DATABASE": 1}])
def test_parse_services_rejects_unknown_types_listing_the_known_ones(value):
    with pytest.raises(InputError) as info:
        parse_services(value)
    assert "DATABASE" in str(info.value) and "STORAGE" in str(info.value)


def test_parse_services_names_the_unknown_type():
    with pytest.raises(InputError, match="'redis' is not a known service type"):
        parse_services(["database", "redis"])


# -- parse_timestamp ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2021-03-01T02:36:37Z", datetime.datetime(2021, 3, 1, 2, 36, 37, tzinfo=UTC)),
    ("2021-03-01T02:11:22.025898Z", datetime.datetime(2021, 3, 1, 2, 11, 22, 25898, tzinfo=UTC)),
    ("2021-03-01T02:11:22.5Z", datetime.datetime(2021, 3, 1, 2, 11, 22, 500000, tzinfo=UTC)),
    ("2021-03-01T02:11:22.025898123Z", datetime.datetime(2021, 3, 1, 2, 11, 22, 25898, tzinfo=UTC)),
    ("2021-03-01T04:36:37+02:00", datetime.datetime(2021, 3, 1, 2, 36, 37, tzinfo=UTC)),
    ("2021-03-01T04:36:37+0200", datetime.datetime(2021, 3, 1, 2, 36, 37, tzinfo=UTC)),
    ("2021-02-28T23:06:37-03:30", datetime.datetime(2021, 3, 1, 2, 36, 37, tzinfo=UTC)),
    ("2021-03-01 02:36:37Z", datetime.datetime(2021, 3, 1, 2, 36, 37, tzinfo=UTC)),
])
def test_parse_timestamp(text, expected):
    parsed = parse_timestamp(text)
    assert parsed.tzinfo is not None and parsed.utcoffset() is not None
    assert parsed == expected


def test_parse_timestamp_keeps_the_offset():
    parsed = parse_timestamp("2021-03-01T04:36:37+02:00")
    assert parsed.utcoffset() == datetime.timedelta(hours=2)
    assert parsed.hour == 4


def test_parse_timestamp_none_is_none():
    assert parse_timestamp(None) is None


@pytest.mark.parametrize("value", ["yesterday", "", "2021-03-01T02:36:37", "2021-03-01", "2021-02-30T00:00:00Z",
                                   "2021-03-01T25:00:00Z", "2021-03-01T02:36:37.Z", 1614566197, ["2021"]])
def test_parse_timestamp_rejects_what_is_not_iso_8601(value):
    with pytest.raises(InvalidResponseError) as info:
        parse_timestamp(value, what="ended_at of backup b1")
    assert "ended_at of backup b1" in str(info.value)
    assert repr(value) in str(info.value)


# -- BackupRule --------------------------------------------------------------------------------

def backup(state="COMPLETED", success="SUCCESS"):
    return {"uuid": "b1", "state": state, "success": success}


def part(kind="DATABASE", errors=(), ended=True, taken=True):
    return {"uuid": "p-" + kind, "service_type": kind, "errors": list(errors),
            "ended_at": "2021-03-01T02:36:37Z" if ended else None,
            "taken_at": "2021-03-01T02:30:00Z" if taken else None}


@pytest.mark.parametrize("state, success, plain, with_services, any_backup", [
    ("COMPLETED", "SUCCESS", True, True, True),
    ("COMPLETED", "PARTIAL", False, True, True),
    ("COMPLETED", "FAILURE", False, True, True),
    ("COMPLETED", None, False, True, True),
    ("WORKING", None, False, False, True),
    ("WORKING", "SUCCESS", False, False, True),
    (None, None, False, False, True),
])
def test_may_qualify(state, success, plain, with_services, any_backup):
    item = backup(state, success)
    assert BackupRule(successful_only=True).may_qualify(item) is plain
    assert BackupRule(successful_only=True, services=["database"]).may_qualify(item) is with_services
    assert BackupRule(successful_only=False).may_qualify(item) is any_backup


GOOD_DB, GOOD_STORAGE = part("DATABASE"), part("STORAGE")
FAILED_STORAGE = part("STORAGE", errors=["disk full"])
RUNNING_DB = part("DATABASE", ended=False, taken=False)
UNTAKEN_DB = part("DATABASE", taken=False)


@pytest.mark.parametrize("parts, expected", [
    ([GOOD_DB, GOOD_STORAGE], [GOOD_DB, GOOD_STORAGE]),
    ([GOOD_DB, FAILED_STORAGE], None),
    ([RUNNING_DB, GOOD_STORAGE], None),
    ([UNTAKEN_DB], [UNTAKEN_DB]),  # dated by another field (see the dating tests)
    ([], None),
])
def test_successful_only_needs_every_part_usable(parts, expected):
    assert BackupRule(successful_only=True).counted_parts(parts) == expected


@pytest.mark.parametrize("parts", [[GOOD_DB, FAILED_STORAGE], [RUNNING_DB], []])
def test_not_successful_only_counts_every_part(parts):
    assert BackupRule(successful_only=False).counted_parts(parts) == parts


@pytest.mark.parametrize("services, parts, expected", [
    (["database"], [GOOD_DB, FAILED_STORAGE], [GOOD_DB]),
    (["database"], [RUNNING_DB, GOOD_STORAGE], None),
    (["database"], [GOOD_STORAGE], None),
    (["database"], [RUNNING_DB, GOOD_DB], [GOOD_DB]),
    (["storage"], [GOOD_DB, FAILED_STORAGE], None),
    (["database", "storage"], [GOOD_DB, GOOD_STORAGE], [GOOD_DB, GOOD_STORAGE]),
    (["storage", "database"], [GOOD_DB, FAILED_STORAGE], None),
])
def test_services_rule_needs_a_usable_part_of_each_type(services, parts, expected):
    assert BackupRule(successful_only=True, services=services).counted_parts(parts) == expected


def test_services_rule_without_successful_only_counts_failed_parts_of_the_types():
    rule = BackupRule(successful_only=False, services=["storage"])
    assert rule.counted_parts([GOOD_DB, FAILED_STORAGE]) == [FAILED_STORAGE]
    assert rule.counted_parts([GOOD_DB]) is None


def test_rule_validates_services():
    with pytest.raises(InputError):
        BackupRule(services=["media"])
    assert BackupRule(services="Database,storage").services == ("DATABASE", "STORAGE")


# -- durations of the new options -------------------------------------------------------------

def test_min_retention_accepts_zero_and_names_itself():
    assert parse_duration(0, "min_retention", allow_zero=True) == 0
    assert parse_duration("0", "min_retention", allow_zero=True) == 0
    with pytest.raises(InputError, match="^min_retention -1 is not valid: it must be longer than 0 seconds"):
        parse_duration(-1, "min_retention", allow_zero=True)


@pytest.mark.parametrize("value", [10 ** 12, "99999w", "5300w"])
def test_absurd_durations_are_rejected(value):
    with pytest.raises(InputError, match="max_age %r is not valid: it must be at most 100 years" % (value,)):
        parse_duration(value)


# -- services as TYPE or TYPE:PREFIX -----------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (["database:default"], ("DATABASE:DEFAULT",)),
    (["DATABASE", "database:Reporting"], ("DATABASE", "DATABASE:REPORTING")),
    ("storage:default, database", ("STORAGE:DEFAULT", "DATABASE")),
])
def test_parse_services_with_prefixes(value, expected):
    assert parse_services(value) == expected


@pytest.mark.parametrize("value, message", [
    (["DATABASE:"], "'DATABASE:' names no prefix; expected TYPE:PREFIX such as DATABASE:DEFAULT"),
    (["REDIS:DEFAULT"], "'REDIS:DEFAULT' is not a known service type; known types are DATABASE, STORAGE"),
    ([":DEFAULT"], "':DEFAULT' is not a known service type"),
])
def test_parse_services_rejects_bad_prefixed_entries(value, message):
    with pytest.raises(InputError, match=message):
        parse_services(value)


# -- judging whole backups: dating, time checks, retention, several instances ------------------

NOW = datetime.datetime(2021, 3, 2, 12, 0, 0, tzinfo=UTC)
DB1 = {"uuid": "x3rgfx4ycrpokelrawxfmmrewu", "environment": "env", "type": "DATABASE", "prefix": "DEFAULT", "service_status": "READY"}
DB2 = {"uuid": "q7mkv2ulpcbsjfz4wuqz5dgs7a", "environment": "env", "type": "DATABASE", "prefix": "REPORTING", "service_status": "READY"}
DB3 = {"uuid": "n2t5vm3gx6iqbzqpe3yqhtq7ee", "environment": "env", "type": "DATABASE", "prefix": "SPARE", "service_status": "NEW"}
MEDIA = {"uuid": "fk6hj4s3yw5xgmqx2lrajdybva", "environment": "env", "type": "STORAGE", "prefix": "DEFAULT", "service_status": "READY"}
INSTANCES = ServiceInstances(None, "env", preloaded={i["uuid"]: i for i in (DB1, DB2, DB3, MEDIA)})


def whole_backup(**fields):
    item = {"uuid": "vyn5jrwaenga7kzevilxs66hd4", "environment": "env", "state": "COMPLETED", "success": "SUCCESS",
            "created_at": "2021-03-01T02:10:00Z", "started_at": "2021-03-01T02:11:00Z", "ended_at": "2021-03-01T02:40:00Z",
            "scheduled_for_deletion_at": None}
    item.update(fields)
    return item


def documented_part(instance=None, uuid="bagztldeadfdhlilnmpzx3twly", **fields):
    """Shaped exactly like the one service-instance backup Divio's API page shows (no service_type); of DB1
    unless another instance is given."""
    item = {"uuid": uuid, "backup": "vyn5jrwaenga7kzevilxs66hd4", "service_instance": (instance or DB1)["uuid"],
            "queued_at": "2021-03-01T02:11:22.025898Z", "started_at": "2021-03-01T02:36:37Z",
            "ended_at": "2021-03-01T02:36:39Z", "taken_at": "2021-03-01T02:36:37Z", "size": 303780, "errors": []}
    item.update(fields)
    return item


def test_documented_part_counts_for_its_instance_type():
    pick, warning = BackupRule(services=["DATABASE:DEFAULT"], now=NOW).judge(whole_backup(), [documented_part()], INSTANCES)
    assert warning is None and pick.taken_at == datetime.datetime(2021, 3, 1, 2, 36, 37, tzinfo=UTC)
    assert pick.dated_by == "taken_at"
    # Without knowing the instance, a part without service_type is of no type.
    assert BackupRule(services=["DATABASE"], now=NOW).judge(whole_backup(), [documented_part()], {})[0] is None


@pytest.mark.parametrize("absent, backup_fields, expected, dated_by", [
    ((), {}, "2021-03-01T02:36:37Z", "taken_at"),
    (("taken_at",), {}, "2021-03-01T02:36:37Z", "started_at"),
    (("taken_at", "started_at"), {}, "2021-03-01T02:36:39Z", "ended_at"),
    (("taken_at", "started_at", "ended_at"), {}, "2021-03-01T02:11:00Z", "backup.started_at"),
    (("taken_at", "started_at", "ended_at"), {"started_at": None}, "2021-03-01T02:40:00Z", "backup.ended_at"),
])
def test_dating_falls_back_to_the_earliest_trustworthy_moment(absent, backup_fields, expected, dated_by):
    part = documented_part(service_type="DATABASE")
    for field in absent:
        del part[field]
    pick, warning = BackupRule(now=NOW).judge(whole_backup(**backup_fields), [part], INSTANCES)
    assert warning is None
    assert (pick.taken_at, pick.dated_by) == (parse_timestamp(expected), dated_by)


def test_a_backup_that_cannot_be_dated_is_skipped_with_a_warning_naming_it():
    part = documented_part(service_type="DATABASE", taken_at=None, started_at=None, ended_at=None)
    pick, warning = BackupRule(now=NOW).judge(whole_backup(started_at=None, ended_at=None), [part], INSTANCES)
    assert pick is None
    assert warning.startswith("skipped backup vyn5jrwaenga7kzevilxs66hd4: it cannot be dated")
    assert "bagztldeadfdhlilnmpzx3twly" in warning


def test_a_part_without_an_end_counts_only_in_a_backup_that_ended_successfully():
    part = documented_part(service_type="DATABASE", ended_at=None)
    rule = BackupRule(services=["DATABASE:DEFAULT"], now=NOW)
    assert rule.judge(whole_backup(), [part], INSTANCES)[0] is not None
    assert rule.counted_parts([part], whole_backup(success="PARTIAL"), INSTANCES) is None


def test_size_may_be_absent():
    part = documented_part(service_type="DATABASE")
    del part["size"]
    pick = BackupRule(now=NOW).judge(whole_backup(), [part, documented_part(MEDIA, "p2", service_type="STORAGE")], INSTANCES)[0]
    entry = backup_entry({"uuid": "a", "slug": "shop"}, {"uuid": "env", "slug": "live"}, pick, INSTANCES, NOW, None)
    assert entry["size"] is None  # unknown, not the sum of the sizes that were given
    assert {p["size"] for p in entry["service_instance_backups"]} == {None, 303780}
    assert entry["dated_by"] == "taken_at" and entry["scheduled_for_deletion_at"] is None


@pytest.mark.parametrize("parts, services, qualifies", [
    ([documented_part(DB1)], ["DATABASE"], False),  # DB2 is provisioned and not in the backup
    ([documented_part(DB1), documented_part(DB2, "p2")], ["DATABASE"], True),  # DB3 is NEW: not needed
    ([documented_part(DB1)], ["DATABASE:DEFAULT"], True),
    ([documented_part(DB1)], ["database:reporting"], False),
    ([documented_part(DB2, "p2")], ["DATABASE:REPORTING"], True),
    ([documented_part(DB1), documented_part(DB2, "p2", errors=["dump failed"])], ["DATABASE"], False),
    ([documented_part(DB1), documented_part(DB2, "p2")], ["DATABASE", "STORAGE"], False),
    ([documented_part(MEDIA, "p3")], ["STORAGE"], True),
])
def test_several_instances_of_one_type(parts, services, qualifies):
    counted = BackupRule(services=services, now=NOW).counted_parts(parts, whole_backup(success="PARTIAL"), INSTANCES)
    assert (counted is not None) is qualifies


def test_a_type_with_no_provisioned_instance_still_needs_a_part_of_it():
    only_new = ServiceInstances(None, "env", preloaded={DB3["uuid"]: DB3})
    rule = BackupRule(services=["DATABASE"], now=NOW)
    assert rule.counted_parts([], whole_backup(), only_new) is None
    assert rule.counted_parts([documented_part(DB3)], whole_backup(), only_new) is not None


def test_a_prefix_the_environment_lacks_is_said_once():
    rule = BackupRule(services=["DATABASE:ANALYTICS"], now=NOW)
    assert rule.missing_instances(INSTANCES) == (
        "no DATABASE:ANALYTICS service instance, so no backup can hold it; the environment has: "
        "DATABASE:DEFAULT, DATABASE:REPORTING, DATABASE:SPARE, STORAGE:DEFAULT.")
    assert BackupRule(services=["DATABASE:DEFAULT"], now=NOW).missing_instances(INSTANCES) is None


@pytest.mark.parametrize("deletion, retention, counts", [
    (None, 86400, True),
    ("2021-03-02T13:00:00Z", 86400, False),  # a pull backup: gone in an hour
    ("2021-03-03T11:59:59Z", 86400, False),
    ("2021-03-03T12:00:01Z", 86400, True),
    ("2021-03-02T13:00:00Z", 0, True),  # the rule turned off
    ("2021-03-02T13:00:00Z", None, True),
])
def test_min_retention(deletion, retention, counts):
    assert BackupRule(min_retention=retention, now=NOW).screen(whole_backup(scheduled_for_deletion_at=deletion)) == (counts, None)


@pytest.mark.parametrize("field", ["created_at", "queued_at", "started_at", "ended_at"])
def test_a_backup_dated_in_the_future_is_skipped_naming_field_and_value(field):
    usable, warning = BackupRule(now=NOW).screen(whole_backup(**{field: "2099-01-01T00:00:00Z"}))
    assert usable is False
    assert warning == ("skipped backup vyn5jrwaenga7kzevilxs66hd4: %s '2099-01-01T00:00:00Z' of backup vyn5jrwaenga7kzevilxs66hd4 "
                       "is in the future (more than the 5 min clock-skew allowance); the next older backup was judged." % field)


def test_the_clock_skew_allowance():
    rule = BackupRule(now=NOW)
    assert rule.screen(whole_backup(ended_at="2021-03-02T12:04:59Z")) == (True, None)
    assert rule.screen(whole_backup(ended_at="2021-03-02T12:05:01Z"))[0] is False


@pytest.mark.parametrize("field", ["queued_at", "started_at", "ended_at", "taken_at"])
def test_a_part_dated_in_the_future_makes_its_backup_unusable(field):
    part = documented_part(service_type="DATABASE", **{field: "2099-01-01T00:00:00Z"})
    pick, warning = BackupRule(now=NOW).judge(whole_backup(), [part], INSTANCES)
    assert pick is None
    assert "%s '2099-01-01T00:00:00Z' of service-instance backup bagztldeadfdhlilnmpzx3twly is in the future" % field in warning


@pytest.mark.parametrize("value", ["yesterday", "2021-02-30T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00"])
def test_a_date_that_is_no_date_names_object_and_field(value):
    usable, warning = BackupRule(now=NOW).screen(whole_backup(ended_at=value))
    assert usable is False
    assert "ended_at of backup vyn5jrwaenga7kzevilxs66hd4 %r" % value in warning
    usable, warning = BackupRule(min_retention=60, now=NOW).screen(whole_backup(scheduled_for_deletion_at=value))
    assert usable is False and "scheduled_for_deletion_at of backup vyn5jrwaenga7kzevilxs66hd4" in warning


def test_age_is_never_negative():
    assert age_seconds(NOW + datetime.timedelta(minutes=4), NOW) == 0
    assert age_seconds(NOW - datetime.timedelta(minutes=4), NOW) == 240
