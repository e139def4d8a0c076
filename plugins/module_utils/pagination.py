# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one paginator: reads a DRF page-number list completely, or raises. No Ansible imports.

``DivioClient.paginate`` is the public entry; pages are fetched through the client, so retries,
limits and token hygiene are the client's. This module holds what makes a list *complete*: next
links that stay on our server and never loop, a ``count`` that matches what arrived, caps, and reads
that stay correct while the list changes (see "consistent reads" below).
"""

import json
import re
import threading
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from ansible_collections.divio.cloud.plugins.module_utils.connection import DEFAULT_MAX_REREAD
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    DescribedRequest,
    InvalidResponseError,
    ListChangingError,
    ListTooLongError,
    NotFoundError,
    PaginationError,
    describe_request,
)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def paginate(client, path, params=None, max_items=None):
    """Yield every item of a DRF-paginated list, following ``next`` until it is null.

    Raises ``PaginationError`` rather than ever ending early: a looping or foreign ``next``, an
    empty page that claims a next one, a ``count`` that disagrees with what arrived, or more
    than ``max_items`` items (when given). ``ListTooLongError`` (a ``PaginationError``) when the
    list passes the client's ``max_pages`` / ``max_items`` limits, however the server paginates.

    When the server numbers its pages (``next`` of page 1 is ``...page=2``) in pages of at least
    ``MIN_CHAINED_PAGE`` items, the list is read consistently while it changes (``_read_chained``): every
    item that exists for the whole read is yielded exactly once. The pages after the first are fetched
    concurrently, a window at a time, and checked in order.
    """
    params = dict(params or {})
    params.setdefault("page_size", client.page_size)
    first_url = client.url(path, params)
    if client.cache is None:
        yield from _read_listing(client, first_url, path, max_items)
        return
    # Cached as one entry, only once complete and checked: pages cached (and expiring) one by one
    # could combine pages read at different times into a list that passes every check but is wrong.
    key = client.cache_key(first_url + "#complete-list")
    items = client.cache.get(key)
    if items is None:
        items = list(_read_listing(client, first_url, path, max_items))
        client.cache.set(key, items)
    yield from items


def _read_listing(client, first_url, path, max_items):
    listing = _Listing(first_url, path, max_items, client.max_items, client.max_pages)
    results, next_url = listing.read(client.get_page(first_url), first_url)
    if not next_url and not _whole(results, listing.count):
        # One page that disagrees with its own count, or holds an item twice: read it once more before
        # believing either (its count and its items may have been taken a moment apart).
        listing.count = None
        results, next_url = listing.read(client.get_page(first_url), first_url)
        if not next_url and not _whole(results, listing.count):
            announced = len(results) if listing.count is None else listing.count
            distinct = len(set(_identity(item) for item in results))
            raise PaginationError("%s: the server announced %d items but %d distinct items arrived, also when it was "
                                  "read again; the list is inconsistent." % (listing.what, announced, distinct),
                                  path=path)
    next_url = same_origin_url(client.base_url, next_url, listing.what, path) if next_url else None
    if next_url and len(results) >= MIN_CHAINED_PAGE and _page_number(next_url) == 2:
        yield from _read_chained(client, listing, first_url, results, next_url)
        return
    yield from listing.take(results)
    yield from _tiled(client, listing, next_url, len(results))


def _whole(results, count):
    """A single page that agrees with its count and holds no item twice."""
    distinct = len(set(_identity(item) for item in results))
    return distinct == len(results) and (count is None or count == len(results))


def _tiled(client, listing, next_url, page_length):
    """Pages 2.. of a list as the server cuts them (small pages, or not numbered): they must not change
    while they are read - a count that changes is an error."""
    last = _last_page_number(next_url, listing.count, page_length, client.max_concurrency)
    if last:
        listing.check_announced(last, page_length)
        fetched = client.imap(lambda url: (url, client.get_page(url)), _numbered_urls(next_url, last))
        try:
            yield from _numbered_items(listing, fetched, last)
        finally:
            fetched.close()  # here, not in whichever thread garbage-collects it
    else:
        while next_url:
            listing.visit(next_url)
            results, following = listing.read(client.get_page(next_url), next_url)
            yield from listing.take(results)
            next_url = (same_origin_url(client.base_url, following, DescribedRequest("GET", next_url), listing.path)
                        if following else None)
    listing.finish()


def _numbered_items(listing, fetched, last):
    """Items of pages 2..last fetched out of band; each page must link on to the next, the last to none."""
    for number, (url, page) in enumerate(fetched, start=2):
        results, next_url = listing.read(page, url)
        expected = number + 1 if number != last else None
        if _page_number(next_url) != expected:
            raise PaginationError(
                "%s: its next link (%s) does not lead to page %s as the announced count of %d implies; the "
                "list could not be read completely."
                % (describe_request("GET", url), _page_number(next_url) or "none", expected or "none (the last page)",
                   listing.count),
                path=listing.path)
        yield from listing.take(results)


def _last_page_number(next_url, count, page_length, concurrency):
    """The number of the last page when pages 2..N can be computed (and it is worth it), else None."""
    if not next_url or count is None or not page_length or concurrency < 2:
        return None
    if dict(parse_qsl(urlsplit(next_url).query, keep_blank_values=True)).get("page") != "2":
        return None
    pages = -(-count // page_length)
    return pages if pages > 2 else None


def _numbered_urls(next_url, last):
    """URLs of pages 2..last, made one at a time: ``last`` comes from the server and is never a list."""
    parts = urlsplit(next_url)
    others = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    for number in range(2, last + 1):
        yield urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(others + [("page", str(number))]), ""))


def same_origin_url(base_url, url, came_from, path):
    """Make a server-given next link safe to follow with our token, or refuse it.

    Only our own host and port are accepted. A same-host ``http://`` link under an ``https://``
    base (a proxy that forgot the scheme) is followed over ``https://`` - never downgraded.
    """
    base = urlsplit(base_url)
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        parts, port = None, None
    base_port = base.port or _DEFAULT_PORTS[base.scheme]
    if parts is None or parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise PaginationError("%s returned a malformed next link; the list could not be read completely." % came_from,
                              path=path)
    same_host = (parts.hostname or "").lower() == (base.hostname or "").lower()
    downgraded = parts.scheme == "http" and base.scheme == "https" and parts.port is None
    if not same_host or (port != base_port and not downgraded):
        raise PaginationError(
            "%s returned a next link to another server (%s); it was not followed, so the token is only "
            "ever sent to %s. The list could not be read completely." % (came_from, parts.netloc, base.netloc),
            path=path)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))


class _Listing:
    """The checks one paginated read must pass, whichever way its pages are fetched."""

    def __init__(self, first_url, path, max_items, item_cap, page_cap):
        self.first_url = first_url
        self.what = DescribedRequest("GET", first_url)
        self.path = path
        self.max_items = max_items  # the caller's
        self.item_cap = item_cap    # the max_items option's, for every list
        self.page_cap = page_cap    # the max_pages option's
        self.count = None
        self.received = 0
        self._seen = set([_page_key(first_url)])

    def visit(self, url):
        key = _page_key(url)
        if key in self._seen:
            raise PaginationError("%s: the server's next links loop back to a page already read; the list "
                                  "could not be read completely." % describe_request("GET", url), path=self.path)
        self._seen.add(key)
        if len(self._seen) > self.page_cap:
            # Also ends a server that hands out fresh next links forever without a count.
            raise ListTooLongError("%s: more than %d pages (the max_pages limit); refusing to read on. Raise "
                                   "max_pages to read longer lists." % (self.what, self.page_cap), path=self.path)

    def check_announced(self, requests, page_length):
        """Refuse at once a list the server announces beyond the caps, before fetching its pages."""
        if requests <= self.page_cap:
            return
        plain = -(-self.count // page_length)
        if requests == plain:
            raise ListTooLongError("%s: the server announces %d items in %d pages, more than the max_pages limit of "
                                   "%d; refusing to read them. Raise max_pages to read longer lists."
                                   % (self.what, self.count, plain, self.page_cap), path=self.path)
        raise ListTooLongError("%s: the server announces %d items in pages of %d (%d pages); read as overlapping "
                               "windows, so that a change during the read is seen, that is more requests than the "
                               "max_pages limit of %d; refusing to read them. Raise max_pages to read longer lists."
                               % (self.what, self.count, page_length, plain, self.page_cap), path=self.path)

    def read(self, page, url):
        """Validate one page; returns ``(results, next)``."""
        what = DescribedRequest("GET", url)
        results, next_url, page_count = _page_parts(page, what, self.path)
        if self.count is not None and page_count is not None and page_count != self.count:
            raise PaginationError("%s: the list changed while it was read (count went from %d to %d); try again."
                                  % (what, self.count, page_count), path=self.path)
        if page_count is not None and self.count is None and page_count > self.item_cap:
            raise ListTooLongError("%s: the server announces %d items, more than the max_items limit of %d; refusing "
                                   "to read them. Raise max_items to read longer lists."
                                   % (what, page_count, self.item_cap), path=self.path)
        if page_count is not None:
            self.count = page_count
        if not results and next_url:
            raise PaginationError("%s: an empty page that still links to a next one; the list could not be "
                                  "read completely." % what, path=self.path)
        return results, next_url

    def take(self, results):
        for item in results:
            self.received += 1
            if self.count is not None and self.received > self.count:
                # Checked per item, not at the end: a server handing out endless next links stops here.
                raise PaginationError("%s: more items arrived than the %d the server announced; the list is "
                                      "inconsistent." % (self.what, self.count), path=self.path)
            self.check_total(self.received)
            yield item

    def check_total(self, items):
        """Refuse a list once ``items`` of it have arrived beyond the caller's or the option's limit."""
        if self.max_items is not None and items > self.max_items:
            raise PaginationError("%s: more than %d items; refusing to continue (raise the limit to read "
                                  "them all)." % (self.what, self.max_items), path=self.path)
        if items > self.item_cap:
            raise ListTooLongError("%s: more than %d items (the max_items limit); refusing to read on. Raise "
                                   "max_items to read longer lists." % (self.what, self.item_cap), path=self.path)

    def finish(self):
        if self.count is not None and self.received != self.count:
            raise PaginationError("%s: the server announced %d items but %d arrived; the list is incomplete."
                                  % (self.what, self.count, self.received), path=self.path)


def _page_number(url):
    if not url:
        return None
    number = dict(parse_qsl(urlsplit(url).query)).get("page")
    return int(number) if number and re.match(r"^[0-9]+$", number) else number


def _page_key(url):
    parts = urlsplit(url)
    return parts.path, tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))


def _page_parts(page, what, path):
    """Validate one DRF page and return ``(results, next, count)``."""
    if not isinstance(page, dict) or not isinstance(page.get("results"), list):
        raise InvalidResponseError("%s: expected a paginated list ({count, next, results}), got something else." % what,
                                   path=path)
    next_url = page.get("next")
    count = page.get("count")
    if next_url is not None and not isinstance(next_url, str):
        raise InvalidResponseError("%s: the page's next link is not a URL." % what, path=path)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise InvalidResponseError("%s: the page's count is not a number." % what, path=path)
    return page["results"], next_url, count


# -- consistent reads of a list that changes while it is read ----------------------------------------
#
# Page-number pagination shifts items across page boundaries when items are added or removed in front of
# them: an item can arrive twice (pushed onto the next page) or never (pulled onto a page already read),
# and one addition plus one removal between two page reads leave ``count`` as it was. So a list is read as
# a chain of windows (``page`` and ``page_size`` chosen per request) in which every window overlaps the one
# before it, and a window counts only once it holds an item of the window before it - its anchor.
#
# The proof, given that the server keeps the relative order of the items it does not change (a stable
# ordering, as any database ordering by a key): a window is a contiguous run of the list at the moment it
# was read. The first window starts at the start of the list, the last one ends where ``next`` is null,
# and each other window holds an item of the one before, so every item between two anchors was in one
# window at the moment it was read: an item that exists for the whole read is in at least one window, and
# yielded once (the items up to a window's anchor were yielded before). Memory stays bounded: only the ids
# of the last window are kept (after a re-read also those read past it: at most four windows' worth) -
# items shifted by a change reappear only next to a window boundary.
#
# A window without an anchor means the list moved under the read by more than the overlap: the stretch of
# the previous window and this window are read again, together (from further back while none of the
# previous window's items is found), ``max_reread`` times in a row at most; then ``ListChangingError``
# says how much changed. Windows are planned from the first page's ``count`` and fetched concurrently;
# the chain is checked in list order. When every answer gave the same count and no stretch was re-read, the distinct
# items must add up to that count; if they do not, the list is read once more without yielding, and if it
# is still short, an item came twice while another never came: an error naming the list.

MIN_CHAINED_PAGE = 20  # items; smaller pages are read as the server cuts them and must not change (_tiled)


class _Window:
    """Items ``[start, start + size)`` of the list: page ``start // size + 1`` of ``page_size=size``."""

    __slots__ = ("start", "size")

    def __init__(self, start, size):
        self.start = start
        self.size = size

    @property
    def end(self):
        return self.start + self.size

    @property
    def page(self):
        return self.start // self.size + 1


def plan_window(end, cap):
    """The window that holds the item before ``end`` and reaches furthest past it, pages of at most ``cap``.

    A window must start at a multiple of its size, so the sizes from ``cap`` down to half of it are tried;
    the overlap with what was read is usually one or two items.
    """
    best = None
    smallest = max(2, (cap + 1) // 2)
    while best is None:
        for size in range(cap, smallest - 1, -1):
            start = (end - 1) // size * size
            if start + size > end and (best is None or start + size > best.end):
                best = _Window(start, size)
        smallest = 2  # an end that every size from cap/2 up divides: take any window that gets on
    return best


def requests_needed(count, page, limit=None):
    """Requests a read of ``count`` items in pages of at most ``page`` takes without re-reads: the chain of
    overlapping windows ``_ChainedRead`` plans (the fewest there are), or plain pages when it does not chain.
    Counting stops once past ``limit``."""
    plain = max(1, -(-count // page))
    if page < MIN_CHAINED_PAGE or count <= page:
        return plain
    end, windows = page, 1
    while end < count and (limit is None or windows <= limit):
        end, windows = plan_window(end, page).end, windows + 1
    return windows


def _identity(item):
    """What tells two items apart: an object's uuid, else the item itself."""
    if isinstance(item, dict) and isinstance(item.get("uuid"), str):
        return item["uuid"]
    return json.dumps(item, sort_keys=True, default=str)


class _Chained:
    """The last window taken into the chain: where it is, its items' ids in order, whether the list ends with it."""

    __slots__ = ("window", "ids", "last")

    def __init__(self, window, ids, last):
        self.window = window
        self.ids = ids
        self.last = last


class _PageSizeIgnored(Exception):
    """The server answers ``page_size`` with pages of its own size: windows cannot be chosen."""


class _ChainedRead:
    """One consistent read of a page-numbered list, given its first page (see the comment above)."""

    def __init__(self, client, listing, first_results, next_url, count):
        self.client = client
        self.listing = listing
        self.first_results = first_results
        self.count = count  # the first page's
        self.cap = len(first_results)
        parts = urlsplit(next_url)
        self._parts = parts
        self._query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("page", "page_size")]
        self.max_reread = getattr(client.settings, "max_reread", None) or DEFAULT_MAX_REREAD
        self._lock = threading.Lock()
        self.pages = 1  # requests for this list, the first page included
        self.counts = set([count])
        self.rereads = 0
        self.duplicates = 0
        self.distinct = 0
        self.chained = 0  # windows taken into the chain after the first page

    def url(self, window):
        query = urlencode(self._query + [("page", str(window.page)), ("page_size", str(window.size))])
        return urlunsplit((self._parts.scheme, self._parts.netloc, self._parts.path, query, ""))

    # -- fetching (in worker threads) ------------------------------------------------------------------

    def fetch(self, window):
        """``(window, page)``; page None when the window lies beyond the end of the list (404)."""
        with self._lock:
            self.pages += 1
            pages = self.pages
        if pages > self.listing.page_cap:
            raise ListTooLongError("%s: more than %d pages (the max_pages limit), re-read parts included; refusing to "
                                   "read on. Raise max_pages to read longer lists." % (self.listing.what, self.listing.page_cap),
                                   path=self.listing.path)
        try:
            return window, self.client.get_page(self.url(window))
        except NotFoundError:
            return window, None  # "Invalid page.": the list is shorter now than when the window was planned

    def planned(self, end, count):
        """The windows that read on from ``end`` to the ``count`` the first page announced (lazily:
        ``count`` comes from the server); without a count, until the consumer stops."""
        while count is None or end < count:
            window = plan_window(end, self.cap)
            yield window
            end = window.end

    # -- the chain ------------------------------------------------------------------------------------

    def items(self, emit=True):
        """Yield (``emit``) or just count the distinct items, the first page's included."""
        ids = [_identity(item) for item in self.first_results]
        first = self._distinct(self.first_results, ids, set())
        if emit:
            yield from first
        acc = _Chained(_Window(0, self.cap), ids, False)
        fetched = self.client.imap(self.fetch, self.planned(self.cap, self.count))
        try:
            for window, page in fetched:
                # acc follows the chain as _through extends it (it started from the one before).
                for new, acc in self._through(acc, window, page):  # noqa: B007, B020
                    if emit and new:
                        yield from new
                if acc.last:
                    break
        finally:
            fetched.close()
        while not acc.last:  # the list grew past the plan, or there was no count to plan by
            for new, acc in self._through(acc, plan_window(acc.window.end, self.cap), None):  # noqa: B007, B020
                if emit and new:
                    yield from new

    def _through(self, acc, window, page):
        """Extend the chain through ``window`` (its answer ``page``, or None: fetch it): yields
        ``(new items, acc)`` as it goes. A stretch that keeps failing counts against ``max_reread``."""
        attempts, furthest = 0, acc.window.end
        while not acc.last and acc.window.end < window.end:
            if acc.window.end > window.start:
                target, answer, page = window, page, None  # an answer is used once, then read afresh
            else:  # a re-read left the chain short of this window: bridge the gap first
                target, answer = plan_window(acc.window.end, self.cap), None
            acc, new = self._advance(acc, target, answer)
            if new is None:
                attempts += 1
                acc, new, attempts = self._reread(acc, target, attempts)
            if acc.window.end > furthest:
                attempts, furthest = 0, acc.window.end
            yield new, acc

    def _advance(self, acc, window, page):
        """Chain ``window`` (its answer ``page``, fetched now if None) onto ``acc``: ``(new acc, new items)``,
        or ``(acc, None)`` when it holds no item of ``acc`` (the list moved by more than the overlap)."""
        if page is None:
            window, page = self.fetch(window)
        if page is None:
            return acc, None
        results, last = self._read(window, page)
        ids = [_identity(item) for item in results]
        tail = dict((ident, position) for position, ident in enumerate(acc.ids))
        anchor, latest = None, -1
        for index, ident in enumerate(ids):
            position = tail.get(ident, -1)
            if position > latest:
                anchor, latest = index, position
        if anchor is None:
            return acc, None
        # Items up to the anchor were read before (or came after that part was read: not owed).
        new = self._distinct(results[anchor + 1:], ids[anchor + 1:], set(ids[:anchor + 1]), tail)
        self.chained += 1
        # What the previous tail held after the anchor was yielded too, and lies after this window (a window
        # read again from further back ends before it): keep it, so it is never yielded twice.
        remembered = ids + acc.ids[latest + 1:]
        return _Chained(window, remembered[-4 * self.cap:], last), new

    def _reread(self, acc, window, attempts):
        """The list moved under the read between ``acc`` and ``window``: read ``acc``'s stretch and ``window``
        again, together, until they chain (from further back while no item of ``acc`` is found);
        ``(acc, new items, attempts)``."""
        back, collected = acc.window.start, []
        while True:
            if attempts > self.max_reread:
                raise self._changing(acc, attempts - 1)
            self.rereads += 1
            again = plan_window(back + 1, self.cap) if back > 0 else _Window(0, self.cap)
            answers = self.client.map(self.fetch, [again, window])
            chained, new = self._advance(acc, *answers[0])
            if new is None:
                if back <= 0:
                    attempts = self.max_reread  # from the start of the list on, nothing of it is left
                back -= self.cap // 2
                attempts += 1
                continue
            acc, collected = chained, collected + new
            if acc.last or acc.window.end >= window.end:
                return acc, collected, attempts
            chained, more = self._advance(acc, *answers[1])
            if more is not None:
                return chained, collected + more, attempts
            back = acc.window.start  # it moved again between the two reads: that stretch once more
            attempts += 1

    def _read(self, window, page):
        """Validate a window's answer: ``(results, whether the list ends with it)``."""
        listing = self.listing
        what = DescribedRequest("GET", self.url(window))
        results, next_url, count = _page_parts(page, what, listing.path)
        with self._lock:
            self.counts.add(count)
        if not results and next_url:
            raise PaginationError("%s: an empty page that still links to a next one; the list could not be "
                                  "read completely." % what, path=listing.path)
        if len(results) > window.size:
            raise _PageSizeIgnored()
        if next_url:
            same_origin_url(self.client.base_url, next_url, what, listing.path)
            if _page_number(next_url) != window.page + 1:
                raise PaginationError("%s: its next link (%s) does not lead to page %d; the list could not be read "
                                      "completely." % (what, _page_number(next_url) or "none", window.page + 1),
                                      path=listing.path)
        # A server counts and then slices (two queries): a change in between can make a page look like the
        # last one when it is not. It ends the list only when it reaches its own count.
        return results, not next_url and (count is None or window.start + len(results) == count)

    def _distinct(self, results, ids, seen, tail=None):
        """The items not seen before, counted against the caps; an id seen twice is an item served twice."""
        new = []
        listing = self.listing
        for item, ident in zip(results, ids):
            if ident in seen or (tail is not None and ident in tail):
                self.duplicates += 1
                continue
            seen.add(ident)
            self.distinct += 1
            listing.check_total(self.distinct)
            new.append(item)
        return new

    @property
    def still(self):
        """Nothing seen changing: one count throughout and no stretch re-read (an item twice is then the
        server's doing, see ``short``)."""
        return len(self.counts) == 1 and not self.rereads

    def short(self):
        """The announced count when the distinct items of a still read do not add up to it, else None."""
        count = next(iter(self.counts)) if len(self.counts) == 1 else None
        if count is not None and (self.distinct != count or self.duplicates):
            return count
        return None

    def _changing(self, acc, times):
        if len(self.counts) == 1 and None not in self.counts:
            # Nothing moved, yet the stretch never chained: its last page does not end at its own count.
            return PaginationError("%s: the list is inconsistent: it ends before or after the %d items the server "
                                   "counts, also when read again %d times." % (self.listing.what, next(iter(self.counts)),
                                                                               times), path=self.listing.path)
        counts = sorted(count for count in self.counts if count is not None)
        moved = (" (the count moved between %d and %d meanwhile)" % (counts[0], counts[-1])) if len(counts) > 1 else ""
        return ListChangingError(
            "%s: the list kept changing while it was read: the part after item %d moved %d times in a row while it "
            "was read again%s; %d parts re-read in all. Raise max_reread (now %d) to keep trying longer, or read it "
            "when the account is quieter." % (self.listing.what, acc.window.end, times, moved, self.rereads,
                                              self.max_reread),
            path=self.listing.path)


def _read_chained(client, listing, first_url, first_results, next_url):
    """Every item of a page-numbered list, its first page's included, read consistently (see the comment
    above); falls back to ``_tiled`` for a server that ignores ``page_size``."""
    read = _ChainedRead(client, listing, first_results, next_url, listing.count)
    if listing.count is not None:
        listing.check_announced(requests_needed(listing.count, read.cap, listing.page_cap), read.cap)
    try:
        yield from read.items()
    except _PageSizeIgnored:
        if read.chained:
            raise PaginationError("%s: the server stopped honouring page_size in the middle of the list; it could "
                                  "not be read completely." % listing.what, path=listing.path) from None
        # Its pages are its own: read them one after the other, as numbered (nothing to prove overlaps with).
        listing.received = read.distinct
        yield from _tiled(client, listing, next_url, read.cap)
        return
    if read.still and read.short() is not None:
        # Still, yet short (or an item twice): a change the counts did not show, or a server that serves
        # one item twice and another never. A second read, yielding nothing, tells which.
        results, following, count = _page_parts(client.get_page(first_url), listing.what, listing.path)
        again = _ChainedRead(client, listing, results, following or next_url, count)
        if following:
            for _item in again.items(emit=False):
                pass
        else:
            again.distinct = len(set(_identity(item) for item in results))
        announced = again.short() if again.still else None
        if announced is not None:
            raise PaginationError(
                "%s: the list is inconsistent: the server announced %d items but %d distinct items arrived%s, "
                "also when it was read again; an item came twice while another never came, so the list cannot be "
                "trusted." % (listing.what, announced, again.distinct,
                              " (%d arrived twice)" % again.duplicates if again.duplicates else ""),
                path=listing.path)
