"""Consistent reads of a list that changes while it is read (plugins/module_utils/pagination.py, issue 13).

The HTTP layer is mocked (``responses``) by a scripted DRF page-number server over a Python list that
changes between (or during) page reads exactly as each test says: items inserted or deleted in front of a
page boundary, a change hidden from ``count`` (one insert plus one delete), random churn. The properties
checked are the guarantee: every item that exists for the whole read is yielded exactly once, nothing is
yielded twice, nothing is yielded that never existed; a list that keeps changing ends in a clear error
after ``max_reread`` re-reads; a server that serves one item twice and another never is an error naming
the list.
"""

import json
import random

import pytest
import responses
from scripted_list import BACKUPS, BASE, ScriptedList

from ansible_collections.divio.cloud.plugins.module_utils import pagination, pages
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.connection import resolve_connection
from ansible_collections.divio.cloud.plugins.module_utils.errors import ListChangingError, PaginationError

TOKEN = "tok-sekrit-91c0e3a4b7d25f68"


@pytest.fixture
def serve():
    """``serve(scripted)``: answer GET /apps/v3/backups/ from a ScriptedList."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        def install(scripted):
            mock.add_callback(responses.GET, BASE + BACKUPS, callback=scripted)
            return scripted
        yield install


def make_client(max_concurrency=1, **limits):
    settings = resolve_connection({"api_url": BASE, "api_token": TOKEN}, {})
    for name, value in limits.items():
        setattr(settings, name, value)
    return DivioClient(settings, max_concurrency=max_concurrency)


def read(max_concurrency=1, **limits):
    with make_client(max_concurrency, **limits) as client:
        return [item["uuid"] for item in client.paginate(BACKUPS)]


def assert_guarantee(got, before, after, created_meanwhile, deleted_meanwhile=()):
    """Every item there from start to end exactly once; nothing twice; nothing that never existed.

    ``before``/``after``: the list when the read began and ended; an item deleted and created again in
    between is not "there throughout" (``deleted_meanwhile``)."""
    assert len(got) == len(set(got)), "an item was yielded twice: %s" % sorted(u for u in set(got) if got.count(u) > 1)[:5]
    throughout = (set(before) & set(after)) - set(deleted_meanwhile)
    missing = throughout - set(got)
    assert not missing, "missed items that existed for the whole read: %s" % sorted(missing)[:5]
    assert set(got) <= set(before) | set(after) | set(created_meanwhile) | set(deleted_meanwhile)


# -- planning windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [20, 25, 100, 1000])
def test_windows_overlap_start_on_their_grid_and_get_on(cap):
    end, windows = cap, 1
    while end < 60000:
        window = pages.plan_window(end, cap)
        assert window.start % window.size == 0 and window.page == window.start // window.size + 1
        assert (cap + 1) // 2 <= window.size <= cap
        assert window.start <= end - 1 < window.end  # holds the last item read, and more
        end, windows = window.end, windows + 1
    # What the overlap costs over pages that only touch: the figure the README quotes for pages of 100.
    print("pages of %d: %d windows for 60000 items, %.1f %% more than %d pages"
          % (cap, windows, 100.0 * windows / -(-60000 // cap) - 100, -(-60000 // cap)))
    assert windows <= -(-60000 // cap) * (1.45 if cap < 50 else 1.16)


def fewest_windows(count, cap):
    """By dynamic programming over every chain: the fewest windows (any page size from 2 to ``cap``, each
    starting on its own grid and holding the last item of the one before) that read ``count`` items."""
    best = {cap: 1}
    for end in range(cap, count):
        if end in best:
            for size in range(2, cap + 1):
                reach = min(count, (end - 1) // size * size + size)
                if reach > end and best[end] + 1 < best.get(reach, count):
                    best[reach] = best[end] + 1
    return best[count]


@pytest.mark.parametrize("cap", [20, 25, 100])
@pytest.mark.parametrize("count", [101, 999, 2000, 4321])
def test_the_plan_takes_the_fewest_windows_there_are(cap, count):
    # The benchmark's "minimum with consistent reads" and the max_pages check rest on this.
    assert pages.requests_needed(count, cap) == fewest_windows(count, cap)


# -- a still list ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 6])
@pytest.mark.parametrize("count", [0, 7, 100, 101, 198, 250, 1000])
def test_a_still_list_is_read_once_in_order(serve, count, concurrency):
    scripted = serve(ScriptedList(count))
    assert read(concurrency) == [item["uuid"] for item in scripted.items]
    planned, end = 1, 100
    while end < count:
        end, planned = pages.plan_window(end, 100).end, planned + 1
    assert len(scripted.requests) == planned


def test_items_without_a_uuid_are_told_apart_by_value(serve):
    scripted = serve(ScriptedList(300))
    scripted.items = list(range(300))
    with make_client(4) as client:
        assert list(client.paginate(BACKUPS)) == list(range(300))


# -- changes at a page boundary ----------------------------------------------------------------------


def test_a_deletion_in_front_of_a_boundary_is_caught_and_that_stretch_re_read(serve):
    """Page 1 read; then an item of page 1 is deleted, pulling page 2's first item onto page 1. Read naively,
    that item would never arrive; here the next window holds no item of the first, so both are read again."""
    def before(number, page, size):
        if number == 2:
            del scripted.items[10]

    scripted = serve(ScriptedList(300, before=before))
    original = [item["uuid"] for item in scripted.items]
    got = read()
    assert_guarantee(got, original, [item["uuid"] for item in scripted.items], set())
    # item 10 came with the first page, before it was deleted; item 100 moved onto page 1 after it was read.
    assert "item-00100" in got and len(got) == 300
    assert (1, 100) in scripted.requests[2:]  # the first window again


def test_an_insertion_in_front_of_a_boundary_yields_nothing_twice(serve):
    def before(number, page, size):
        if number == 2:
            scripted.items.insert(5, scripted.new_item())

    scripted = serve(ScriptedList(300, before=before))
    original = [item["uuid"] for item in scripted.items]
    got = read()
    assert_guarantee(got, original, [item["uuid"] for item in scripted.items], {"new-00001"})
    assert len(scripted.requests) == 4  # no re-read needed: the shifted item is the anchor's neighbour


def test_a_change_hidden_from_count_is_caught(serve):
    """One deletion in front of the boundary and one insertion behind it: every count says 300."""
    def before(number, page, size):
        if number == 2:
            del scripted.items[50]
            scripted.items.insert(250, scripted.new_item())

    scripted = serve(ScriptedList(300, before=before))
    original = [item["uuid"] for item in scripted.items]
    got = read()
    assert_guarantee(got, original, [item["uuid"] for item in scripted.items], {"new-00001"})
    assert "item-00100" in got  # the item pulled onto page 1 after it was read


@pytest.mark.parametrize("concurrency", [1, 8])
def test_a_window_read_before_its_neighbour_sees_the_shift_the_other_way(serve, concurrency):
    """Pages read concurrently arrive in any order: an insertion between the two reads pushes an item from
    the window read first into the one read later, where it is already past."""
    def before(number, page, size):
        if number in (3, 5, 9):
            scripted.items.insert(number * 7, scripted.new_item())
            del scripted.items[-number]

    scripted = serve(ScriptedList(2000, before=before))
    original = [item["uuid"] for item in scripted.items]
    got = read(concurrency)
    assert_guarantee(got, original, [item["uuid"] for item in scripted.items], {"new-%05d" % n for n in (1, 2, 3)})


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("seed", range(8))
def test_random_churn_keeps_the_guarantee(serve, seed, concurrency):
    rng = random.Random(seed)
    created = set()

    def before(number, page, size):
        for _unused in range(rng.randint(0, 3)):
            if rng.random() < 0.5 and scripted.items:
                del scripted.items[rng.randrange(len(scripted.items))]
            else:
                item = scripted.new_item()
                created.add(item["uuid"])
                scripted.items.insert(rng.randrange(len(scripted.items) + 1), item)

    scripted = serve(ScriptedList(3000, cap=rng.choice([20, 50, 100]), before=before))
    original = [item["uuid"] for item in scripted.items]
    deleted = set()
    real_before = scripted.before

    def tracking(number, page, size):
        present = set(item["uuid"] for item in scripted.items)
        real_before(number, page, size)
        deleted.update(present - set(item["uuid"] for item in scripted.items))

    scripted.before = tracking
    got = read(concurrency, max_reread=50)
    assert_guarantee(got, original, [item["uuid"] for item in scripted.items], created, deleted)


# -- bounds and errors -----------------------------------------------------------------------------


def test_a_list_that_keeps_changing_ends_in_a_clear_error(serve):
    def before(number, page, size):
        if number > 1:  # before every window: one item fewer in front of it
            del scripted.items[0]

    scripted = serve(ScriptedList(500, before=before))
    with pytest.raises(ListChangingError) as info:
        read(max_reread=3)
    message = str(info.value)
    assert BACKUPS in message and "kept changing" in message and "max_reread (now 3)" in message
    assert "the count moved between" in message
    assert info.value.path == BACKUPS
    # first page, one window, the probe that rules out an ignored page_size, two per re-read (the first window
    # again, then the one after it)
    assert len(scripted.requests) == 2 + 1 + 2 * 3


def test_max_reread_defaults_to_five(serve):
    def before(number, page, size):
        if number > 1:
            del scripted.items[0]

    scripted = serve(ScriptedList(500, before=before))
    with pytest.raises(ListChangingError, match=r"max_reread \(now 5\)"):
        read()
    assert pagination.DEFAULT_MAX_REREAD == 5


def test_one_item_twice_and_another_never_is_an_error_naming_the_list(serve):
    """A server whose count never changes, but that serves item 150 in place of item 160 - every time."""
    scripted = serve(ScriptedList(300))
    scripted.items[160] = dict(scripted.items[150])
    with pytest.raises(PaginationError) as info:
        read(4)
    message = str(info.value)
    assert "GET %s" % BACKUPS in message and "announced 300 items but 299 distinct items arrived" in message
    assert "also when it was read again" in message and "arrived twice" in message


def test_a_short_still_read_is_read_again_and_passes_when_the_second_agrees(serve):
    """An insertion and a deletion both missed look like "short" on a still read; the second read says the
    list is fine, and the first answer stands (it holds every item that was there throughout)."""
    def before(number, page, size):
        if number == 3:  # between the second window and the third, count unchanged
            del scripted.items[205]
            scripted.items.insert(120, scripted.new_item())

    scripted = serve(ScriptedList(300, before=before))
    original = [item["uuid"] for item in scripted.items]
    got = read()
    assert_guarantee(got, original, [item["uuid"] for item in scripted.items], {"new-00001"})


def test_a_single_page_is_read_again_when_it_disagrees_with_its_count():
    scripted = ScriptedList(30)
    real = scripted.__call__
    calls = []

    def once_wrong(request):
        status, headers, body = real(request)
        calls.append(1)
        if len(calls) == 1:
            data = json.loads(body)
            data["count"] += 2
            body = json.dumps(data)
        return status, headers, body

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, BASE + BACKUPS, callback=once_wrong)
        assert len(read()) == 30
    assert len(calls) == 2


def test_a_single_page_with_an_item_twice_is_an_error(serve):
    scripted = serve(ScriptedList(30))
    scripted.items[3] = dict(scripted.items[2])
    with pytest.raises(PaginationError, match=r"announced 30 items but 29 distinct items arrived \(1 arrived twice\), also when it was read again"):
        read()
    assert len(scripted.requests) == 2


def test_the_list_growing_past_the_plan_is_read_to_its_end(serve):
    def before(number, page, size):
        if number == 2:
            scripted.items.extend(scripted.new_item() for _unused in range(250))

    scripted = serve(ScriptedList(150, before=before))
    got = read(4)
    assert got[:150] == ["item-%05d" % n for n in range(150)] and len(got) == 400


def test_the_list_shrinking_under_the_plan_ends_where_it_ends(serve):
    def before(number, page, size):
        if number == 2:
            del scripted.items[250:]

    scripted = serve(ScriptedList(600, before=before))
    assert read(8) == ["item-%05d" % n for n in range(250)]


def test_a_next_link_to_another_page_is_an_error():
    scripted = ScriptedList(400)
    real = scripted.__call__

    def wrong_next(request):
        status, headers, body = real(request)
        data = json.loads(body)
        if data["next"] and "page=1" not in request.url and "page=" in request.url:
            data["next"] = data["next"].replace("page=", "page=9")
        return status, headers, json.dumps(data)

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, BASE + BACKUPS, callback=wrong_next)
        with pytest.raises(PaginationError, match="does not lead to page"):
            read()


def test_a_server_that_ignores_page_size_is_read_page_by_page(serve):
    scripted = serve(ScriptedList(450, cap=100, ignore_page_size=True))
    assert read(4) == ["item-%05d" % n for n in range(450)]
    # two reads of its own pages, and the windows asked for (4 in flight) before it showed
    assert 2 * 5 <= len(scripted.requests) <= 2 * 5 + 8


def test_small_pages_are_chained_too(serve):
    """Pages of 10 overlap as pages of 100 do: an item added during the read costs nothing (issue 23; it was an
    error while pages under 20 items were read as cut)."""
    def before(number, page, size):
        if number == 2:
            scripted.items.insert(3, scripted.new_item())

    scripted = serve(ScriptedList(100, cap=10, before=before))
    original = [item["uuid"] for item in scripted.items]
    got = read()
    assert_guarantee(got, original, [item["uuid"] for item in scripted.items], {"new-00001"})
    assert len(scripted.requests) == pages.requests_needed(101, 10)


def test_re_reads_count_against_max_pages(serve):
    def before(number, page, size):
        if number > 1:
            del scripted.items[0]

    scripted = serve(ScriptedList(500, before=before))
    with pytest.raises(PaginationError) as info:
        read(max_reread=50, max_pages=8)
    assert "max_pages" in str(info.value) and len(scripted.requests) <= 8


def test_max_pages_is_checked_against_the_windows_a_consistent_read_takes(serve):
    # 2,000 items in pages of 100 are 20 pages, but 23 overlapping windows: refused before the second
    # request rather than after reading 20 of them; with max_pages at the windows needed, read whole.
    needed = pages.requests_needed(2000, 100)
    assert needed > 20
    scripted = serve(ScriptedList(2000))
    refused = r"announces 2000 items in pages of 100; reading them so that a change during the read is seen takes more "
    refused += r"requests than the max_pages limit of 20;"
    with pytest.raises(PaginationError, match=refused):
        read(4, max_pages=20)
    assert len(scripted.requests) == 1
    scripted.requests.clear()
    assert read(4, max_pages=needed) == [item["uuid"] for item in scripted.items]
    assert len(scripted.requests) == needed


def test_max_reread_comes_from_the_option_table(serve):
    from ansible_collections.divio.cloud.plugins.module_utils.errors import ConfigurationError

    settings = resolve_connection({"api_url": BASE, "api_token": TOKEN}, {"DIVIO_MAX_REREAD": "2"})
    assert settings.max_reread == 2 and settings.sources["max_reread"] == "the DIVIO_MAX_REREAD environment variable"
    assert resolve_connection({"api_url": BASE, "api_token": TOKEN}, {}).max_reread == 5
    for bad in (0, -1, "often", 1.5, 10 ** 6):
        with pytest.raises(ConfigurationError, match="max_reread"):
            resolve_connection({"api_url": BASE, "api_token": TOKEN, "max_reread": bad}, {})

    def before(number, page, size):
        if number > 1:
            del scripted.items[0]

    scripted = serve(ScriptedList(500, before=before))
    with DivioClient(settings, max_concurrency=1) as client, pytest.raises(ListChangingError, match=r"now 2\)"):
        list(client.paginate(BACKUPS))


def test_a_last_page_that_does_not_reach_its_count_does_not_end_the_list():
    """A server counts, then slices: an item added in between makes the page the count calls last hold one
    item more... or, added after the slice, leaves an item beyond what looks like the end. The last page must
    end at its own count, else the stretch is read again."""
    scripted = ScriptedList(250)
    real = scripted.__call__
    calls = []

    def stale_count(request):
        status, headers, body = real(request)
        calls.append(request.url)
        data = json.loads(body)
        if len(calls) == 3:  # the window that holds the end: claims to be last, one item short of the end
            data["results"] = data["results"][:-1]
        return status, headers, json.dumps(data)

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, BASE + BACKUPS, callback=stale_count)
        assert read() == ["item-%05d" % n for n in range(250)]
    assert len(calls) > 3


def test_a_count_that_never_matches_where_the_list_ends_is_an_error():
    scripted = ScriptedList(250)
    real = scripted.__call__

    def wrong_count(request):
        status, headers, body = real(request)
        data = json.loads(body)
        if "count" in data:
            data["count"] = 252  # always, and always two more than there are
        return status, headers, json.dumps(data)

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, BASE + BACKUPS, callback=wrong_count)
        with pytest.raises(PaginationError, match="the list is inconsistent: it ends before or after the 252 items"):
            read(max_reread=2)
