"""Scanning a list of backups (backups.py): which backups are screened, kept and let go while the list is read
(``Candidates.offer``), and the timestamp parser's fast path for the API's usual forms."""

import collections
import datetime
import random
import sys
from pathlib import Path

import pytest

from ansible_collections.divio.cloud.plugins.module_utils import backups, values
from ansible_collections.divio.cloud.plugins.module_utils.backups import BackupRule, Candidates
from ansible_collections.divio.cloud.plugins.module_utils.errors import InvalidResponseError
from ansible_collections.divio.cloud.plugins.module_utils.values import parse_timestamp

UTC = datetime.timezone.utc
NOW = datetime.datetime(2021, 3, 2, 12, 0, 0, tzinfo=UTC)
FUTURE = "2099-01-01T00:00:00Z"
SLACK = datetime.timedelta(hours=1)  # backups.CLOCK_SLACK: a snapshot is never later than its backup's end + this


def stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def backup(name, hours_ago, **fields):
    """A successful backup that ended ``hours_ago`` hours before NOW (its other times a little earlier)."""
    ended = NOW - datetime.timedelta(hours=hours_ago)
    item = {"uuid": name, "environment": "env", "state": "COMPLETED", "success": "SUCCESS",
            "created_at": stamp(ended - datetime.timedelta(minutes=30)), "started_at": stamp(ended - datetime.timedelta(minutes=29)),
            "ended_at": stamp(ended), "scheduled_for_deletion_at": None}
    item.update(fields)
    return item


def bound(item):
    return parse_timestamp(item["ended_at"]) + SLACK


def scan(items, keep=2, rule=None):
    candidates = Candidates(keep)
    for item in items:
        candidates.offer(item, rule or BackupRule(now=NOW))
    return candidates


def kept(candidates):
    return sorted(item["uuid"] for item in candidates)


# -- screened only once it could be kept -------------------------------------------------------

@pytest.mark.parametrize("field", ["created_at", "queued_at", "started_at", "ended_at"])
def test_a_skipped_backup_that_would_be_the_newest_is_said_and_the_next_older_one_kept(field):
    """The candidates are full when a backup dated in the future arrives: it ends later than the kept ones, so it
    is screened, skipped with the same warning as ever, and the next older backup still takes its place."""
    skewed = backup("skewed", 1, **{field: FUTURE})
    candidates = scan([backup("b5", 5), backup("b6", 6), skewed, backup("b2", 2)])
    assert kept(candidates) == ["b2", "b5"]
    assert candidates.warnings == [BackupRule(now=NOW).screen(skewed)[1]]
    assert candidates.warnings[0].startswith("skipped backup skewed: %s %r of backup skewed is in the future" % (field, FUTURE))
    assert candidates.dropped_bound == bound(backup("b6", 6))


def test_a_backup_too_old_to_be_kept_is_let_go_on_its_end_alone():
    """Older than every kept candidate, it can never be the answer: let go without a look at its other dates (so
    their problems go unsaid), its latest possible snapshot still counted in ``dropped_bound``."""
    old_and_skewed = backup("old", 10, created_at=FUTURE)
    old_and_broken = backup("broken", 11, started_at="2021-02-30T00:00:00Z")
    candidates = scan([backup("b1", 1), backup("b2", 2), old_and_skewed, old_and_broken, backup("b20", 20)])
    assert kept(candidates) == ["b1", "b2"]
    assert candidates.warnings == []
    assert candidates.dropped_bound == bound(old_and_skewed)
    assert candidates.seen == 5


def test_while_the_candidates_are_not_full_every_backup_is_screened():
    skewed = backup("old", 10, created_at=FUTURE)
    candidates = scan([skewed, backup("b1", 1), backup("b2", 2)])
    assert kept(candidates) == ["b1", "b2"] and candidates.dropped_bound is None
    assert candidates.warnings == [BackupRule(now=NOW).screen(skewed)[1]]


@pytest.mark.parametrize("ended_at", ["yesterday", "2021-02-30T00:00:00Z", 1614686400, ""])
def test_an_end_that_is_no_date_is_screened_and_said_even_when_the_candidates_are_full(ended_at):
    broken = backup("broken", 9, ended_at=ended_at)
    candidates = scan([backup("b1", 1), backup("b2", 2), broken])
    assert kept(candidates) == ["b1", "b2"] and candidates.dropped_bound is None
    assert candidates.warnings == [BackupRule(now=NOW).screen(broken)[1]]
    assert "ended_at of backup broken %r" % (ended_at,) in candidates.warnings[0]


def test_a_running_backup_is_screened_and_kept_when_the_candidates_are_full():
    running = backup("running", 0, state="WORKING", success=None, ended_at=None)
    candidates = scan([backup("b1", 1), backup("b2", 2), running, dict(running, uuid="skewed", created_at=FUTURE)],
                      rule=BackupRule(successful_only=False, now=NOW))
    assert kept(candidates) == ["b1", "b2", "running"]
    assert [pair[1]["uuid"] for pair in candidates.newest_first()] == ["running", "b1", "b2"]
    assert candidates.newest_first()[0][0] is None and len(candidates.warnings) == 1


def test_min_retention_when_the_candidates_are_full():
    """A temporary backup newer than the kept ones is left out, silently; one with a deletion date that is no
    date is said; an old temporary one is let go like any old backup."""
    rule = BackupRule(min_retention=86400, now=NOW)
    temporary = backup("pull", 0.5, scheduled_for_deletion_at=stamp(NOW + datetime.timedelta(hours=1)))
    broken = backup("broken", 0.7, scheduled_for_deletion_at="soon")
    old_temporary = backup("old-pull", 30, scheduled_for_deletion_at=stamp(NOW - datetime.timedelta(hours=1)))
    candidates = scan([backup("b1", 1), backup("b2", 2), temporary, broken, old_temporary], rule=rule)
    assert kept(candidates) == ["b1", "b2"]
    assert candidates.warnings == [rule.screen(broken)[1]] and "scheduled_for_deletion_at of backup broken 'soon'" in candidates.warnings[0]
    assert candidates.dropped_bound == bound(old_temporary)


def test_each_timestamp_is_parsed_at_most_once_and_a_backup_let_go_costs_one(monkeypatch):
    parsed = collections.Counter()
    parse = backups.read_timestamp

    def counting(value):
        parsed[value] += 1
        return parse(value)

    monkeypatch.setattr(backups, "read_timestamp", counting)
    items = [backup("b%03d" % n, n + n / 997.0) for n in range(1, 101)]  # newest first, every time distinct
    candidates = scan(items, keep=3, rule=BackupRule(min_retention=86400, now=NOW))
    assert kept(candidates) == ["b001", "b002", "b003"]
    assert max(parsed.values()) == 1
    # created_at, started_at and ended_at of the 3 kept (no deletion date), ended_at of the 97 let go
    assert sum(parsed.values()) == 3 * 3 + 97

    parsed.clear()
    shuffled = list(items)
    random.Random(5).shuffle(shuffled)
    assert kept(scan(shuffled, keep=3)) == ["b001", "b002", "b003"]
    assert max(parsed.values()) == 1


def test_the_same_backups_are_kept_in_any_order_and_screening_only_tightens_the_bound():
    """Which backups are kept does not depend on when their dates are screened; ``dropped_bound`` may count a
    let-go backup that screening would have skipped, never less than screening everything would."""
    rng = random.Random(11)
    items = []
    for n in range(200):
        fields = {}
        roll = rng.random()
        if roll < 0.1:
            fields["created_at"] = FUTURE
        elif roll < 0.15:
            fields["started_at"] = "not a date"
        elif roll < 0.2:
            fields["success"] = "FAILURE"
        items.append(backup("b%03d" % n, rng.uniform(0, 500), **fields))
    rule = BackupRule(now=NOW)
    usable = [item for item in items if rule.screen(item)[0]]
    newest = sorted(usable, key=bound, reverse=True)
    for keep in (1, 4, 16):
        rng.shuffle(items)
        candidates = scan(items, keep=keep, rule=rule)
        assert kept(candidates) == sorted(item["uuid"] for item in newest[:keep])
        assert candidates.dropped_bound >= bound(newest[keep])
        assert candidates.dropped_bound <= min(bound(item) for item in newest[:keep])
        # every warning is one screening everything gives; the ones for backups that could be kept are all there
        everything = [rule.screen(item)[1] for item in items if rule.screen(item)[1]]
        assert set(candidates.warnings) <= set(everything)
        newer = [rule.screen(item)[1] for item in items
                 if rule.screen(item)[1] and bound(item) > min(bound(i) for i in newest[:keep])]
        assert set(newer) <= set(candidates.warnings)


# -- the parser's fast path ---------------------------------------------------------------------

PARSER_CASES = [
    "2021-03-01T02:36:37Z", "2021-03-01T02:11:22.025898Z", "2021-03-01T02:11:22.000000Z", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z", "2024-02-29T00:00:00Z",
    # the usual shapes, but no such date or time
    "2021-02-29T00:00:00Z", "2021-13-01T00:00:00Z", "2021-03-01T24:00:00Z", "2021-03-01T02:36:60Z",
    "0000-01-01T00:00:00.000000Z",
    # what fromisoformat reads and the API's format is not
    "2021-03-01T02:36:37.Z", "2021-03-01T02:36:37 Z", "2021-03-01T02:36:371Z", "2021-03-01T02:36:37,5Z",
    "2021-03-01T02:36:37:000000Z", "2021-03-01T02:11:22.025898W2Z", "2021-03-01T02:11:22.0258\u06638Z",
    "2021-03-01T02:11:22.025898z", "2021-03-01t02:36:37Z", "20210301T023637Z", "2021-W09-1T02:36:37Z",
    "2021-03-01T02:36Z", "\uff12021-03-01T02:36:37Z",
    # other forms the pattern reads
    "2021-03-01T02:11:22.5Z", "2021-03-01T02:11:22.025898123Z", "2021-03-01 02:36:37Z", "2021-03-01T04:36:37+02:00",
]


def outcome(value):
    try:
        moment = parse_timestamp(value, "ended_at of backup b1")
    except InvalidResponseError as exc:
        return "refused", str(exc)
    return moment, moment.utcoffset()


def refuse(value):
    raise ValueError(value)


FAST_PATHS = {"python-3.10": values._from_z_as_offset}
if sys.version_info >= (3, 11):
    FAST_PATHS["python-3.11-on"] = datetime.datetime.fromisoformat  # reads "Z" itself


@pytest.mark.parametrize("fast_path", sorted(FAST_PATHS))
def test_the_fast_path_reads_exactly_what_the_pattern_reads(monkeypatch, fast_path):
    """Each case gives the same moment and offset, or the same refusal, with the fast path as without it."""
    monkeypatch.setattr(values, "_from_usual_form", refuse)
    expected = [outcome(value) for value in PARSER_CASES]
    monkeypatch.setattr(values, "_from_usual_form", FAST_PATHS[fast_path])
    assert [outcome(value) for value in PARSER_CASES] == expected
    assert 0 < sum(result[0] == "refused" for result in expected) < len(PARSER_CASES)


# -- a backup list from a server that sends what is no id --------------------------------------

def test_an_environment_that_is_no_id_is_a_clear_error_not_a_traceback():
    """Over real HTTP (the tests' hostile server on 127.0.0.1): a backup whose environment is a list."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hostile"))
    from hostile_server import TOKEN, HostileServer
    from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient

    item = {"uuid": "b1", "environment": ["env"], "state": "COMPLETED", "success": "SUCCESS"}
    server = HostileServer(lambda ex: ex.page([item], None, 1)).start()
    try:
        with DivioClient.from_options({"api_url": server.url, "api_token": TOKEN}, environ={}) as client:
            with pytest.raises(InvalidResponseError, match=r"backup b1 whose environment \['env'\] is not an id"):
                backups.scan_candidates(client, ["env"], BackupRule(now=NOW))
    finally:
        server.stop()
