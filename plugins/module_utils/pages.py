# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The pages of a DRF list: where windows of them lie, and the page source the paginator reads them through.

A window of ``page=p&page_size=s`` holds items ``[(p - 1) * s, p * s)``: it starts at a multiple of its size.
To confirm the boundary at ``end`` a window must hold items ``end - 1`` and ``end``, so some size up to the
server's cap must not divide ``end``: windows of at most 7 items cannot straddle item 420 (every size from 2 to
7 divides it), of 13 items item 360,360. ``chains`` says whether a list is shorter than its first such barrier,
``plan_window`` where the next window lies, ``requests_needed`` what a read costs. ``PageSource`` is the seam:
it fetches one page through the client and checks it - its shape, a next link that stays on our origin, no
empty page that links on - and keeps the read within ``max_pages`` and ``max_items``. No Ansible imports.
"""

import math
import threading
from collections import namedtuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    DescribedRequest, InvalidResponseError, ListTooLongError, NotFoundError, PaginationError)

INCOMPLETE = "; the list could not be read completely."
Page = namedtuple("Page", "url results next count")


class Window:
    """Items ``[start, start + size)`` of the list: page ``start // size + 1`` of ``page_size=size``."""

    __slots__ = ("start", "size")

    def __init__(self, start, size):
        self.start, self.size = start, size

    end = property(lambda self: self.start + self.size)
    page = property(lambda self: self.start // self.size + 1)


def plan_window(end, cap):
    """The window of at most ``cap`` items that holds the item before ``end`` and reaches furthest past it
    (sizes from ``cap`` down to half of it first: a window starts at a multiple of its size). Where every size
    up to ``cap`` divides ``end``, a boundary no window can straddle, the window that starts there."""
    best = None
    for sizes in (range(cap, (cap - 1) // 2, -1), range((cap - 1) // 2, 1, -1)):
        for size in sizes:
            start = (end - 1) // size * size
            if start + size > end and (best is None or start + size > best.end):
                best = Window(start, size)
        if best:
            return best
    return Window(end, cap)


def chains(count, cap):
    """Whether windows of at most ``cap`` items overlap every boundary of ``count`` items (None: unknown)."""
    multiple = 1
    for size in range(2, cap + 1):
        multiple = multiple * size // math.gcd(multiple, size)
        if count is None or multiple >= count:
            return cap >= 3
    return False


def requests_needed(count, page, limit=None):
    """Requests a read of ``count`` items in pages of at most ``page`` takes while nothing changes: the chain
    of windows (the fewest there are), or two passes of plain pages where windows cannot overlap every
    boundary. Counting stops once past ``limit``."""
    if count <= page:
        return 1
    if not chains(count, page):
        return 2 * -(-count // page)
    end, windows = page, 1
    while end < count and (limit is None or windows <= limit):
        end, windows = plan_window(end, page).end, windows + 1
    return windows


def page_number(url):
    """The ``page`` a link asks for, as text (None without one)."""
    return dict(parse_qsl(urlsplit(url).query)).get("page") if url else None


class PageSource:
    """The pages of one list through the client, each checked, and the read's limits: the seam the reader
    stands on (``first``, ``window``, ``get``)."""

    def __init__(self, client, first_url, path, max_items=None):
        self.client, self.first_url, self.path, self.max_items = client, first_url, path, max_items
        self.what, self.requests, self._lock = DescribedRequest("GET", first_url), 0, threading.Lock()

    def fail(self, error, text, what=None, limit=None):
        """``error`` naming the request (the list's first by default), and the option to raise for a limit."""
        return error("%s%s%s" % (what or self.what, text, " Raise %s to read longer lists." % limit if limit else ""),
                     path=self.path)

    def first(self):
        return self.get(self.first_url)

    def window(self, window, link=None):
        """``(window, page)``; page None when the window lies beyond the end of the list now (404)."""
        return window, self.get(self.window_url(window, link).url, missing=None)

    def window_url(self, window, link=None):
        """The window's page with ``page_size`` its size, or as ``link`` (the server's next link) asks for it."""
        parts = urlsplit(link or self.first_url)
        query = [kv for kv in parse_qsl(parts.query, keep_blank_values=True) if kv[0] != "page" and (
            link or kv[0] != "page_size")] + ([] if link else [("page_size", str(window.size))])
        return DescribedRequest("GET", urlunsplit(parts[:3] + (urlencode(query + [("page", str(window.page))]), "")))

    def get(self, url, missing=NotFoundError):
        with self._lock:
            self.requests += 1
            requests = self.requests
        if requests > self.client.max_pages:
            raise self.fail(ListTooLongError, ": more than %d pages (the max_pages limit), re-reads included; refusing "
                            "to read on." % self.client.max_pages, limit="max_pages")
        try:
            return self._check(self.client.get_page(url), DescribedRequest("GET", url))
        except NotFoundError:
            if missing is NotFoundError:
                raise
            return missing

    def _check(self, body, what):
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise self.fail(InvalidResponseError, ": expected a paginated list ({count, next, results}), got "
                            "something else.", what)
        given, count = body.get("next"), body.get("count")
        if given is not None and not isinstance(given, str):
            raise self.fail(InvalidResponseError, ": the page's next link is not a URL.", what)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise self.fail(InvalidResponseError, ": the page's count is not a number.", what)
        try:
            next_url = self.client.own_url(given) if given else None
        except ValueError:
            raise self.fail(PaginationError, " returned a malformed next link" + INCOMPLETE, what) from None
        if given and next_url is None:
            raise self.fail(PaginationError, " returned a next link to another server (%s); it was not followed, so "
                            "the token is only ever sent to %s" % (urlsplit(given).netloc, urlsplit(self.first_url)
                                                                   .netloc) + INCOMPLETE, what)
        if given and not body["results"]:
            raise self.fail(PaginationError, ": an empty page that still links to a next one" + INCOMPLETE, what)
        return Page(what.url, body["results"], next_url, count)

    def check_announced(self, first, requests):
        """Refuse at once a list announced beyond the limits, before reading on."""
        if first.count > self.client.max_items:
            raise self.fail(ListTooLongError, ": the server announces %d items, more than the max_items limit of %d; "
                            "refusing to read them." % (first.count, self.client.max_items), limit="max_items")
        if requests > self.client.max_pages:
            raise self.fail(ListTooLongError, ": the server announces %d items in pages of %d; reading them so that a "
                            "change during the read is seen takes more requests than the max_pages limit of %d; "
                            "refusing to read them." % (first.count, len(first.results), self.client.max_pages),
                            limit="max_pages")

    def check_total(self, items):
        """Refuse a list once ``items`` of it have arrived beyond the caller's or the option's limit."""
        if self.max_items is not None and items > self.max_items:
            raise self.fail(PaginationError, ": more than %d items; refusing to continue (raise the limit to read them "
                            "all)." % self.max_items)
        if items > self.client.max_items:
            raise self.fail(ListTooLongError, ": more than %d items (the max_items limit); refusing to read on."
                            % self.client.max_items, limit="max_items")
