"""How the fleet check treats the API at scale (issue 18), over real HTTP against a private simulator:
few listings, no repeated whole-account passes, and a server's 429s slowing the whole task."""

import pytest

from divio_simulator import generate_dataset, run_simulator
from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient

from testlib import TOKEN

BACKUPS = "/apps/v3/backups/"
ENVIRONMENTS = "/apps/v3/environments/"


@pytest.fixture
def server():
    dataset = generate_dataset(seed=1, organisations=2, applications=6, environments=2, days=14)
    with run_simulator(dataset=dataset, token=TOKEN) as server:
        yield server


def check(server, **options):
    with DivioClient.from_options(dict({"api_url": server.url, "api_token": TOKEN}, **options), environ={}) as client:
        records, summary = check_backups(client)
        return {(r["application_slug"], r["environment_slug"]): (r["status"], r["uuid"]) for r in records}, client


def test_environments_of_every_application_come_from_one_listing(server):
    answers, _client = check(server)
    assert len(answers) == len(server.dataset.environments) == 12
    # A look at the first page (is the whole list shorter than one listing per application?), then the list:
    # 2 requests, not 6.
    assert server.stats()["by_path"][ENVIRONMENTS] == 2


def test_a_failed_pass_over_an_ignored_filter_is_not_repeated_for_every_environment(server):
    """Once backups of other environments arrived, the pass was over every backup of the account; a pass per
    environment would read the whole account again, 12 times. The failure is every environment's instead."""
    server.configure(honour_backup_environment_filter=False, max_page_size=20,
                     faults={"kinds": ["500"], "on_requests": [3], "only_paths": [BACKUPS]})
    pages = -(-len(server.dataset.backups) // 20)
    answers, _client = check(server)
    assert {status for status, _uuid in answers.values()} == {"error"}
    assert server.stats()["by_path"][BACKUPS] < 2 * pages  # one pass (its windows overlap), cut short


def test_one_pass_over_every_backup_is_not_planned_beyond_max_pages(server):
    """One pass over every backup would be fewer requests than a filtered pass per environment, but more
    pages than max_pages allows: the filtered passes are read instead of the whole check failing."""
    expected, _client = check(server)
    server.configure(max_page_size=20)
    pages = -(-len(server.dataset.backups) // 20)
    answers, _client = check(server, max_pages=pages - 1)
    assert answers == expected


@pytest.mark.parametrize("limit", ["max_pages", "max_items"])
def test_one_pass_is_planned_as_read_consistently_and_within_max_items(server, limit):
    """The single pass is planned by the requests a consistent read takes (its windows overlap, so there are
    more than plain pages) and by the items it holds: just beyond either limit, the filtered passes are read."""
    from ansible_collections.divio.cloud.plugins.module_utils.pages import requests_needed
    expected, _client = check(server)
    server.configure(max_page_size=20)
    backups = len(server.dataset.backups)
    windows = requests_needed(backups, 20)
    assert windows > -(-backups // 20)
    server.reset_stats()
    answers, _client = check(server, **{limit: windows - 1 if limit == "max_pages" else backups - 1})
    assert answers == expected
    assert server.stats()["by_path"][BACKUPS] > windows  # one filtered pass per environment, not one pass


@pytest.mark.parametrize("burst, retry_after", [(6, 1), (24, 0)], ids=["6x429-wait-1s", "24x429-wait-0s"])
def test_429_bursts_slow_the_task_and_the_answers_stay_right(server, burst, retry_after):
    """A run of 429s longer than one request's tries (6) is shared out among the task's requests: none
    gives up, the answers are those of a quiet server, and every 429 is counted as a retry."""
    expected, _client = check(server)
    server.configure(faults={"kinds": ["429-seconds"], "retry_after": retry_after,
                             "on_requests": list(range(20, 20 + burst))})
    server.reset_stats()
    answers, client = check(server)
    assert answers == expected
    throttled = server.stats()["faults"]["429-seconds"]
    assert throttled == burst and client.retry_count == throttled
