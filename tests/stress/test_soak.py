"""Soak: the latest-backup resolution (find_backups) and the fleet check (check_backups) against the simulator
with injected faults. Every run must return exactly the ground truth or fail with a DivioError that names
the injected cause; a wrong answer or a traceback fails the test.

The default run is short (60 resolutions, 30 fleet checks). The long soak::

    DIVIO_SOAK_RUNS=250 .venv/bin/python -m pytest tests/stress/test_soak.py -q -p no:xdist

(or ``.venv/bin/python tests/stress/soak.py --runs 250``). The summary line (``soak: N runs, C correct, ...``) is
written to stderr past pytest's capture, so it shows in the normal output with or without xdist, and is kept
as the ``soak`` property of the test report (e.g. ``--junitxml``).

Each test uses its own simulator, so fault settings never reach the session simulator other tests use.
"""

import os
import sys

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.backups import find_backups
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    ApiError,
    InvalidResponseError,
    PaginationError,
    RateLimitError,
    TransportError,
)

import ground_truth
import soak
from divio_simulator import run_simulator
from divio_simulator.faults import KINDS, LIST_KINDS, RETRIABLE_KINDS
from testlib import TOKEN

SOAK_RUNS = int(os.environ.get("DIVIO_SOAK_RUNS") or 60)
CHECK_ITERATIONS = int(os.environ.get("DIVIO_SOAK_CHECKS") or 30)
BACKUPS = "/apps/v3/backups/"
# What a failure after the client gave up on each retriable kind is raised as.
GIVE_UP_ERRORS = {
    "502": ApiError, "503": ApiError, "504": ApiError, "html": ApiError,
    "429-seconds": RateLimitError, "429-date": RateLimitError,
    "stall": TransportError, "reset": TransportError, "truncated": TransportError,
    "partial-json": InvalidResponseError, "html-200": InvalidResponseError,
}
assert set(GIVE_UP_ERRORS) == set(RETRIABLE_KINDS)
# A count that is off on one page: a single page is read again; a list read as a chain of overlapping
# windows proves itself complete without the count (pagination.py), so the answer is still right.
# An item served twice once (another missing) is read again, and the second read stands (issue 23).
SURVIVED_KINDS = set(RETRIABLE_KINDS) | {"count-mismatch", "duplicate-item"}


@pytest.fixture(scope="module")
def server(dataset):
    with run_simulator(dataset=dataset, token=TOKEN) as server:
        yield server


@pytest.fixture
def fault_server(server):
    """The module's simulator with counters reset; faults and settings back to normal afterwards."""
    server.configure(faults=None, honour_backup_environment_filter=True, max_page_size=100)
    server.reset_stats()
    yield server
    server.configure(faults=None, honour_backup_environment_filter=True, max_page_size=100)


def _report(capsys, record_property, name, line):
    """Show ``line`` in the normal output: stderr, past pytest's capture (xdist workers pass stderr through,
    not stdout), and keep it as a property of the test report."""
    record_property(name, line)
    with capsys.disabled():
        print("\n" + line, file=sys.stderr, flush=True)


# -- the soaks ----------------------------------------------------------------------------------------


def test_soak_latest_backup(fault_server, dataset, capsys, record_property):
    report = soak.run_soak(fault_server, dataset, TOKEN, SOAK_RUNS, seed=1)
    _report(capsys, record_property, "soak", report.summary())
    assert not report.wrong, "\n".join(run.describe() for run in report.wrong)
    assert len(report.runs) == SOAK_RUNS
    assert report.count("correct") + report.count("clean") == SOAK_RUNS
    # The soak means something: faults were injected at about the asked rate, and most runs still answered.
    total = sum(report.faults.values())
    assert 0.05 <= total / report.requests <= 0.16, report.summary()
    assert report.count("correct") >= SOAK_RUNS // 2, report.summary()
    # Every environment and every rule took part.
    assert {(run.app_slug, run.env_slug) for run in report.runs} == {env[:2] for env in ground_truth.environments(dataset)}
    assert {run.services for run in report.runs} == set(soak.SERVICE_RULES)


def test_soak_fleet_check(fault_server, dataset, capsys, record_property):
    counts, faults, wrong = soak.run_check_soak(fault_server, dataset, TOKEN, CHECK_ITERATIONS, seed=2)
    line = (f"check_backups soak: {CHECK_ITERATIONS} iterations, {counts['correct records']} correct records, "
            f"{counts['error records']} error records, {counts['failed cleanly']} whole calls failed cleanly, "
            f"{len(wrong)} wrong (faults injected: {sum(faults.values())} {dict(sorted(faults.items()))})")
    _report(capsys, record_property, "check_soak", line)
    assert not wrong, "\n".join(wrong)
    assert counts["correct records"] > counts["error records"] > 0, line


# -- one fault, on a chosen request ----------------------------------------------------------------------

# shop/test: the newest backup by created_at is not the newest snapshot, so a wrong answer would show.
APP, ENV = "shop", "test"


def _env_uuid(dataset):
    return next(uuid for app, env, uuid in ground_truth.environments(dataset) if (app, env) == (APP, ENV))


def _find(server, services=("DATABASE",), sleep=None, **client_args):
    with soak.make_client(server, TOKEN, retry=soak.fast_policy(sleep), **client_args) as client, soak.settled():
        return find_backups(client, APP, environment=ENV, services=list(services))


def _assert_ground_truth(entries, dataset, services=("DATABASE",)):
    expected_uuid, expected_taken = ground_truth.latest(dataset, _env_uuid(dataset), list(services))
    [entry] = entries
    assert expected_uuid is not None
    assert (entry["uuid"], ground_truth.ts(entry["taken_at"])) == (expected_uuid, expected_taken)


def _assert_names(exc, kind):
    message = str(exc)
    assert soak.names_cause(message, [kind]) == {kind}, message
    assert TOKEN not in message


@pytest.mark.parametrize("kind", KINDS)
def test_one_fault_is_survived_or_named(fault_server, dataset, kind):
    """The first request to the backups list goes wrong once: retriable kinds and a wrong count are recovered
    from, the others fail with an error that names the cause."""
    fault_server.configure(faults=dict(soak.fault_settings(seed=0), kinds=[kind], on_requests=[1], only_paths=[BACKUPS]))
    if kind in SURVIVED_KINDS:
        _assert_ground_truth(_find(fault_server), dataset)
    else:
        with pytest.raises(PaginationError if kind in LIST_KINDS else ApiError) as caught:
            _find(fault_server)
        _assert_names(caught.value, kind)
        assert caught.value.path == BACKUPS
        assert "gave up" not in str(caught.value)  # not retried: a broken list or a 500 is not passing trouble
    assert fault_server.stats()["faults"] == {kind: 1}


@pytest.mark.parametrize("kind", RETRIABLE_KINDS)
def test_fault_on_every_try_gives_up_naming_the_cause(fault_server, kind):
    fault_server.configure(faults=dict(soak.fault_settings(seed=0), kinds=[kind], on_requests=[1, 2, 3, 4],
                                       only_paths=[BACKUPS]))
    with pytest.raises(GIVE_UP_ERRORS[kind]) as caught:
        _find(fault_server)
    _assert_names(caught.value, kind)
    assert "gave up after 4 tries" in str(caught.value)
    assert "/apps/v3/backups/?environment=" in str(caught.value)  # which request
    assert fault_server.stats()["faults"] == {kind: 4}


@pytest.mark.parametrize("kind", ["429-seconds", "429-date"])
def test_retry_after_is_honoured(fault_server, dataset, kind):
    sleep = soak.CappedSleep(cap=0)
    fault_server.configure(faults=dict(soak.fault_settings(seed=0), kinds=[kind], on_requests=[1], only_paths=[BACKUPS],
                                       retry_after=1))
    _assert_ground_truth(_find(fault_server, sleep=sleep), dataset)
    [waited] = sleep.asked
    if kind == "429-seconds":
        assert waited == 1.0
    else:  # an HTTP-date has whole seconds; the simulator rounds it up
        assert 0.5 < waited <= 2.0


def test_retry_after_beyond_the_budget_fails_at_once(fault_server):
    sleep = soak.CappedSleep(cap=0)
    fault_server.configure(faults=dict(soak.fault_settings(seed=0), kinds=["429-seconds"], on_requests=[1],
                                       only_paths=[BACKUPS], retry_after=60))
    with pytest.raises(RateLimitError) as caught:
        _find(fault_server, sleep=sleep)
    assert "gave up after 1 tries" in str(caught.value) and "the server asked to wait 60 s" in str(caught.value)
    assert sleep.asked == []


def test_stall_longer_than_the_timeout_is_retried(fault_server, dataset):
    fault_server.configure(faults=dict(soak.fault_settings(seed=0), kinds=["stall"], on_requests=[1], only_paths=[BACKUPS],
                                       stall_seconds=2))
    _assert_ground_truth(_find(fault_server, timeout=0.3), dataset)
    assert fault_server.stats()["faults"] == {"stall": 1}


@pytest.mark.parametrize("concurrency", [8, 1], ids=["concurrent", "one-at-a-time"])
@pytest.mark.parametrize("request_number", [1, 2, 4, 7], ids=lambda n: f"request{n}")
@pytest.mark.parametrize("kind", sorted(set(LIST_KINDS) - SURVIVED_KINDS))
def test_broken_page_of_a_long_list_is_named(fault_server, kind, request_number, concurrency):
    """The unfiltered backups list in pages of 25 (7 pages and more): a broken first, middle or last page
    (fetched concurrently they come in any order) fails the whole resolution, never shortens the list."""
    fault_server.configure(honour_backup_environment_filter=False, max_page_size=25,
                           faults=dict(soak.fault_settings(seed=0), kinds=[kind], on_requests=[request_number],
                                       only_paths=[BACKUPS]))
    with pytest.raises(PaginationError) as caught:
        _find(fault_server, max_concurrency=concurrency)
    _assert_names(caught.value, kind)
    assert fault_server.stats()["faults"] == {kind: 1}


@pytest.mark.parametrize("concurrency", [8, 1], ids=["concurrent", "one-at-a-time"])
@pytest.mark.parametrize("request_number", [1, 2, 4, 7], ids=lambda n: f"request{n}")
def test_a_wrong_count_on_one_page_of_a_long_list_is_survived(fault_server, dataset, request_number, concurrency):
    fault_server.configure(honour_backup_environment_filter=False, max_page_size=25,
                           faults=dict(soak.fault_settings(seed=0), kinds=["count-mismatch"], on_requests=[request_number],
                                       only_paths=[BACKUPS]))
    _assert_ground_truth(_find(fault_server, max_concurrency=concurrency), dataset)
    assert fault_server.stats()["faults"] == {"count-mismatch": 1}


@pytest.mark.parametrize("kind", sorted(set(KINDS) - set(LIST_KINDS)))
def test_fault_on_a_detail_request(fault_server, dataset, kind):
    """Faults on the service-instance backups fetched by UUID: survived or named, like on lists."""
    fault_server.configure(faults=dict(soak.fault_settings(seed=0), kinds=[kind], on_requests=[1],
                                       only_paths=[f"/apps/v3/service-instance-backups/{part['uuid']}/"
                                                   for part in dataset.service_instance_backups]))
    if kind in RETRIABLE_KINDS:
        _assert_ground_truth(_find(fault_server), dataset)
    else:
        with pytest.raises(ApiError) as caught:
            _find(fault_server)
        _assert_names(caught.value, kind)
    assert fault_server.stats()["faults"] == {kind: 1}
