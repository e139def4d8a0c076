"""The pure helpers of backups.py: durations, service types, timestamps and the qualifying rule."""

import datetime

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.backups import (
    BackupRule,
    format_duration,
    parse_duration,
    parse_services,
    parse_timestamp,
)
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError, InvalidResponseError

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
    ([UNTAKEN_DB], None),
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
