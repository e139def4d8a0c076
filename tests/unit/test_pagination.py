"""The paginator against a mocked HTTP layer (``responses``): next links, counts, limits, broken pages, and
what each page shape costs. Changes during a read: test_consistent_reads.py; the promise on every shape as a
property: test_pagination_property.py."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

from mock_api import BACKUPS, BASE, PAGE_SIZE, TOKEN, add_json, call_hosts, call_queries, page
from scripted_list import ScriptedList

from ansible_collections.divio.cloud.plugins.module_utils import pages
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    InvalidResponseError, ListTooLongError, PaginationError)


def fixed_pages(api, items, per_page, count=None, broken=None):
    """A server that cuts ``items`` into pages of ``per_page`` whatever ``page_size`` asks (Django REST
    framework without ``page_size_query_param``); ``broken`` maps a page number to a replacement page."""
    count = len(items) if count is None else count
    pages = [items[i:i + per_page] for i in range(0, len(items), per_page)] or [[]]

    def serve(request):
        number = int(parse_qs(urlsplit(request.url).query).get("page", ["1"])[0])
        if not 1 <= number <= len(pages):
            return 404, {}, json.dumps({"detail": "Invalid page."})
        next_query = "page=%d&page_size=%s" % (number + 1, PAGE_SIZE) if number < len(pages) else None
        return 200, {}, json.dumps((broken or {}).get(number) or page(pages[number - 1], next_query, count=count))

    api.add_callback(responses.GET, BASE + BACKUPS, callback=serve)


# -- next links and counts ----------------------------------------------------------------------------

def test_plain_pages_are_read_twice_and_stand_when_both_reads_agree(api, client):
    """Pages of two items cannot overlap: the second read confirms the first (same ids, same order)."""
    add_json(api, BACKUPS, page([1, 2], "page=2&page_size=%s" % PAGE_SIZE, count=5), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([3, 4], "page=3&page_size=%s" % PAGE_SIZE, count=5),
             query={"page": "2", "page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([5], None, count=5), query={"page": "3", "page_size": PAGE_SIZE})
    assert list(client.paginate(BACKUPS)) == [1, 2, 3, 4, 5]
    assert call_queries(api) == 2 * [{"page_size": PAGE_SIZE}, {"page": "2", "page_size": PAGE_SIZE},
                                     {"page": "3", "page_size": PAGE_SIZE}]


def test_paginate_passes_filters_and_drops_unset_ones(api, client):
    add_json(api, BACKUPS, page([1], count=1), query={"environment": "e1", "page_size": "50"})
    assert list(client.paginate(BACKUPS, {"environment": "e1", "slug": None, "page_size": 50})) == [1]
    assert len(api.calls) == 1  # one page proves itself


def test_paginate_without_count_reads_until_next_is_null(api, client):
    add_json(api, BACKUPS, page([1], "page=2"), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([2]), query={"page": "2"})
    assert list(client.paginate(BACKUPS)) == [1, 2]


def test_empty_list(api, client):
    add_json(api, BACKUPS, page([], count=0), query={"page_size": PAGE_SIZE})
    assert list(client.paginate(BACKUPS)) == []


def three_pages(api):
    add_json(api, BACKUPS, page([1, 2], "page=2", count=5), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([3, 4], "page=3", count=5), query={"page": "2"})
    add_json(api, BACKUPS, page([5], count=5), query={"page": "3"})


def test_max_items_exceeded_raises_instead_of_truncating(api, client):
    three_pages(api)
    with pytest.raises(PaginationError, match="more than 3 items"):
        list(client.paginate(BACKUPS, max_items=3))


def test_max_items_equal_to_the_total_is_fine(api, client):
    three_pages(api)
    assert list(client.paginate(BACKUPS, max_items=5)) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("second_next", [
    "page=2",            # links to itself
    "page_size=%s" % PAGE_SIZE,   # back to the first page
])
def test_next_that_loops_is_an_error(api, client, second_next):
    add_json(api, BACKUPS, page([1], "page=2", count=9), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([2], second_next, count=9), query={"page": "2"})
    with pytest.raises(PaginationError, match="its next link .page (2|None). does not lead to page 3"):
        list(client.paginate(BACKUPS, max_items=50))  # max_items: a backstop so a broken check cannot hang
    assert len(api.calls) == 2


def test_endless_fresh_next_links_stop_once_count_is_exceeded(api, client):
    """A server that links to page n+1 forever (here: capped at 30 pages) must not keep the client reading
    long after the announced ``count`` was passed: each read stops there, and two alike are an error."""

    def endless(request):
        number = int(parse_qs(urlsplit(request.url).query).get("page", ["1"])[0])
        body = page(["a", "b"], "page=%d" % (number + 1) if number < 30 else None, count=2)
        return 200, {}, json.dumps(body)

    api.add_callback(responses.GET, BASE + BACKUPS, callback=endless)
    with pytest.raises(PaginationError, match="more items arrived than the 2 the server announced, also when"):
        list(client.paginate(BACKUPS))
    assert len(api.calls) == 4


@pytest.mark.parametrize("next_url", [
    "https://evil.example/apps/v3/backups/?page=2",
    "https://api.divio.com.evil.example/apps/v3/backups/?page=2",
    "https://api.divio.com@evil.example/apps/v3/backups/?page=2",
    "https://api.divio.com:8443/apps/v3/backups/?page=2",
    "http://api.divio.com:8080/apps/v3/backups/?page=2",
    "ftp://api.divio.com/apps/v3/backups/?page=2",
    "/apps/v3/backups/?page=2",
    "https://api.divio.com:bad/apps/v3/backups/?page=2",
])
def test_next_to_another_server_is_refused_and_never_requested(api, client, next_url):
    first = page([1], None, count=2)
    first["next"] = next_url
    add_json(api, BACKUPS, first, query={"page_size": PAGE_SIZE})
    for host in ("https://evil.example", "https://api.divio.com.evil.example", "https://api.divio.com:8443",
                 "http://api.divio.com:8080"):
        api.add(responses.GET, host + BACKUPS, json=page([2], count=2))
    with pytest.raises(PaginationError, match="next link"):
        list(client.paginate(BACKUPS))
    assert call_hosts(api) == ["api.divio.com"]


def test_same_host_http_next_is_followed_over_https(api, client):
    add_json(api, BACKUPS, page([1], "page=2", count=2, host="http://api.divio.com"), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([2], count=2), query={"page": "2"})
    assert list(client.paginate(BACKUPS)) == [1, 2]
    assert {call.request.url.split("://")[0] for call in api.calls} == {"https"}
    assert all(call.request.headers["Authorization"] == "Token " + TOKEN for call in api.calls)


def test_count_disagreeing_with_items_is_an_error(api, client):
    add_json(api, BACKUPS, page([1, 2], "page=2", count=5), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([3, 4], count=5), query={"page": "2"})
    with pytest.raises(PaginationError, match="announced 5 items but 4 distinct items arrived, also when it was read"):
        list(client.paginate(BACKUPS))


def test_a_count_that_changes_between_pages_every_time_is_an_error(api, client):
    add_json(api, BACKUPS, page([1, 2], "page=2", count=4), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([3, 4], count=5), query={"page": "2"})
    with pytest.raises(PaginationError, match=r"the count changed while it was read \(4, 5\), also when it was read"):
        list(client.paginate(BACKUPS))


def test_empty_page_with_a_next_link_is_an_error(api, client):
    add_json(api, BACKUPS, page([], "page=2", count=3), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([1, 2, 3], count=3), query={"page": "2"})
    with pytest.raises(PaginationError, match="empty page"):
        list(client.paginate(BACKUPS))
    assert len(api.calls) == 1


@pytest.mark.parametrize("body", [
    [1, 2, 3],
    {"detail": "ok"},
    {"count": 1, "next": None, "results": {"a": 1}},
    {"count": 1, "next": 2, "results": [1]},
    {"count": "1", "next": None, "results": [1]},
    {"count": True, "next": None, "results": [1]},
    "results",
])
def test_page_not_shaped_like_drf_is_invalid(api, client, body):
    add_json(api, BACKUPS, body, query={"page_size": PAGE_SIZE})
    with pytest.raises(InvalidResponseError) as info:
        list(client.paginate(BACKUPS))
    assert info.value.path == BACKUPS and BACKUPS in str(info.value)


def test_a_page_that_is_gone_every_time_stops_the_list(api, client):
    add_json(api, BACKUPS, page([1], "page=2", count=2), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, {"detail": "gone"}, status=404, query={"page": "2"})
    with pytest.raises(PaginationError, match=r"page=2 was gone \(404\) while the list was read, also when"):
        list(client.paginate(BACKUPS))


# -- fixed pages, read concurrently -------------------------------------------------------------------

def test_fixed_pages_are_read_concurrently_and_in_order(api, make_client):
    items = list(range(95))
    fixed_pages(api, items, per_page=10)
    client = make_client(max_concurrency=4)
    assert list(client.paginate(BACKUPS)) == items
    # page 1, the window that showed page_size ignored (and whatever was sent with it), two reads of 10 pages
    assert 2 * 10 <= len(api.calls) <= 2 * 10 + 8


def test_a_fixed_page_linking_back_is_an_error(api, make_client):
    items = list(range(40))
    fixed_pages(api, items, per_page=10, broken={3: page(items[20:30], "page=2&page_size=%s" % PAGE_SIZE, count=40)})
    with pytest.raises(PaginationError, match="its next link .page 2. does not lead to page 4"):
        list(make_client(max_concurrency=4).paginate(BACKUPS))


def test_fixed_pages_ending_before_the_count_are_an_error(api, make_client):
    items = list(range(30))
    fixed_pages(api, items, per_page=10, broken={2: page(items[10:20], None, count=30)})
    with pytest.raises(PaginationError, match="announced 30 items but 20 distinct items arrived, also when"):
        list(make_client(max_concurrency=4).paginate(BACKUPS))


def test_a_bad_page_is_never_replayed_from_the_cache(api, make_client):
    """Pages go into the cache only once the whole list passed its checks: a server that looped once must
    not make every later read of the list fail for the cache's lifetime."""
    cache = {}

    class DictCache:
        def get(self, key):
            return cache.get(key)

        def set(self, key, value):
            cache[key] = value

    api.add(responses.GET, BASE + BACKUPS, json=page([1], "page=2&page_size=%s" % PAGE_SIZE, count=2),
            match=[matchers.query_param_matcher({"page_size": PAGE_SIZE})])
    api.add(responses.GET, BASE + BACKUPS, json=page([2], "page=2&page_size=%s" % PAGE_SIZE, count=2),  # loops
            match=[matchers.query_param_matcher({"page": "2", "page_size": PAGE_SIZE})])
    api.add(responses.GET, BASE + BACKUPS, json=page([2], None, count=2),
            match=[matchers.query_param_matcher({"page": "2", "page_size": PAGE_SIZE})])
    client = make_client()
    client.cache = DictCache()
    with pytest.raises(PaginationError, match="does not lead to page 3"):
        list(client.paginate(BACKUPS))
    assert cache == {}
    assert list(client.paginate(BACKUPS)) == [1, 2]
    assert len(cache) == 1  # the complete, checked list: never pages read at different times
    assert list(client.paginate(BACKUPS)) == [1, 2]
    assert len(api.calls) == 2 + 4  # the loop; two reads of two pages of one item; the third from the cache


# -- bounded pages and items ----------------------------------------------------------------------

def endless_pages(api, count=None):
    def serve(request):
        number = int(parse_qs(urlsplit(request.url).query).get("page", ["1"])[0])
        return 200, {}, json.dumps(page(["item-%d" % number], "page=%d" % (number + 1), count=count))

    api.add_callback(responses.GET, BASE + BACKUPS, callback=serve)


def test_endless_next_links_without_count_end_at_max_pages(api, make_client):
    endless_pages(api)
    client = make_client(limits={"max_pages": 5})
    with pytest.raises(ListTooLongError, match="more than 5 pages .the max_pages limit"):
        list(client.paginate(BACKUPS))
    assert len(api.calls) == 5


@pytest.mark.parametrize("max_concurrency", [1, 4])
def test_an_absurd_count_is_refused_before_any_further_page(api, make_client, max_concurrency):
    endless_pages(api, count=10 ** 12)
    client = make_client(max_concurrency=max_concurrency)
    with pytest.raises(ListTooLongError, match="announces 1000000000000 items"):
        list(client.paginate(BACKUPS))
    assert len(api.calls) == 1


def test_announced_pages_beyond_max_pages_are_refused_at_once(api, make_client):
    fixed_pages(api, list(range(60)), per_page=2)
    client = make_client(max_concurrency=4, limits={"max_pages": 10})
    with pytest.raises(ListTooLongError, match="announces 60 items in pages of 2; .* than the max_pages limit of 10"):
        list(client.paginate(BACKUPS))
    assert len(api.calls) == 1


def test_items_beyond_max_items_are_refused(api, make_client):
    three_pages(api)
    with pytest.raises(ListTooLongError, match="announces 5 items, more than the max_items limit of 4"):
        list(make_client(limits={"max_items": 4}).paginate(BACKUPS))
    add_json(api, "/apps/v3/regions/", page(["a"], "page=2", path="/apps/v3/regions/"), query={"page_size": PAGE_SIZE})
    add_json(api, "/apps/v3/regions/", page(["b", "c"], path="/apps/v3/regions/"), query={"page": "2"})
    with pytest.raises(ListTooLongError, match="more than 2 items .the max_items limit"):
        list(make_client(limits={"max_items": 2}).paginate("/apps/v3/regions/"))


def test_defaults_read_a_thousand_applications_in_pages_of_ten(api, make_client):
    scripted = ScriptedList(1000, cap=10)
    api.add_callback(responses.GET, BASE + BACKUPS, callback=scripted)
    client = make_client(max_concurrency=4)
    assert [item["uuid"] for item in client.paginate(BACKUPS)] == ["item-%05d" % n for n in range(1000)]
    assert client.request_count == pages.requests_needed(1000, 10) == 162  # windows of 10 down to 5 overlap


# -- what each shape costs on a quiet list ----------------------------------------------------------------

@pytest.mark.parametrize("cap, ignore, cursor, count, requests", [
    (100, False, False, 450, 5),       # honoured: windows of 100 and 99 chain, one item of overlap
    (13, False, False, 450, 51),       # a small cap: more windows, each proving its boundary (35 plain pages)
    (7, False, False, 300, 77),        # smaller still, below the first boundary no window straddles (420)
    (7, False, False, 450, 2 * 65),    # beyond it: two reads of plain pages
    (100, True, False, 450, 1 + 1 + 2 * 5 - 1),  # ignored: one window shows it, then two reads of its pages
    (100, False, True, 450, 2 * 5),    # cursor links: two reads
])
def test_what_a_quiet_read_costs_per_shape(api, make_client, cap, ignore, cursor, count, requests):
    scripted = ScriptedList(count, cap=cap, ignore_page_size=ignore, cursor=cursor)
    api.add_callback(responses.GET, BASE + BACKUPS, callback=scripted)
    assert [item["uuid"] for item in make_client().paginate(BACKUPS)] == ["item-%05d" % n for n in range(count)]
    assert len(scripted.requests) == requests
    if not (ignore or cursor):
        assert requests == pages.requests_needed(count, cap)  # the plan the limits and the benchmark use


@pytest.mark.parametrize("count, most", [
    (15, 2 * 2 + 2),       # two reads of 2 pages; the window out of place and page 1 asked shorter (page_size ignored)
    (95, 2 * 10 + 1 + 4),  # two reads of 10 pages; the window that showed it; two past the end in each read
])
def test_without_a_count_pages_are_fetched_in_growing_batches(api, make_client, count, most):
    """No count, so no end to plan to: batches of 1, 2, 4 ... up to max_concurrency, a few requests past the end
    at most (here: fixed pages of 10, read twice; the window that shows page_size ignored; the batch past the end)."""
    scripted = ScriptedList(count, cap=10, ignore_page_size=True, null_count=True)
    api.add_callback(responses.GET, BASE + BACKUPS, callback=scripted)
    client = make_client(max_concurrency=4)
    assert [item["uuid"] for item in client.paginate(BACKUPS)] == ["item-%05d" % n for n in range(count)]
    assert len(scripted.requests) <= most
