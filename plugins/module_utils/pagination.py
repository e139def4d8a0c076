# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one paginator: every item that exists for the whole read comes back exactly once, or it raises.

``_Reader`` reads a list in passes over one ``PageSource``, which fetches and checks each page (its shape, a
next link that stays on our origin, no empty page that links on, the ``max_pages`` / ``max_items`` limits);
a ``_Pass`` records what one pass saw (distinct ids in order, items twice, counts) and hands on the items not
yielded before. Where the server honours ``page_size`` and windows of its cap can overlap every boundary of
the list, a pass is a ``_Chain`` of overlapping windows: a window counts once it holds an item of the window
before it, so every item between two such anchors was in a window when that window was read, and the pass
proves itself; a window without an anchor is read again from further back, ``max_reread`` times in a row at
most. Where windows cannot overlap (``page_size`` ignored, next links that are not numbered, a cap too small
for the list), a pass follows the pages as the server cuts them (``_pages``) and proves nothing alone: it
stands once the next pass brings the same ids in the same order with no item twice. (A pass can lose an item
only to a deletion in front of a page boundary; the deleted item is then in no later pass - or, when it was
inserted behind the read and deleted again, its insertion first showed an item twice.) A list that never
holds still that long raises ``ListChangingError``; one that comes back the same but disagrees with its own
``count`` or serves an item twice raises ``PaginationError``.
"""

import hashlib
import json
import math
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ansible_collections.divio.cloud.plugins.module_utils.connection import DEFAULT_MAX_REREAD
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    DescribedRequest, InvalidResponseError, ListChangingError, ListTooLongError, NotFoundError, PaginationError)

RAISE_LIMIT = " Raise %s to read longer lists."


def paginate(client, path, params=None, max_items=None):
    """Yield every item of a DRF-paginated list, the caller's ``max_items`` included in the limits."""
    params = dict(params or {})
    params.setdefault("page_size", client.page_size)
    first_url = client.url(path, params)
    if client.cache is None:
        yield from _Reader(PageSource(client, first_url, path, max_items)).items()
        return
    # Cached only once complete: pages cached one by one could combine reads of different moments.
    key = client.cache_key(first_url + "#complete-list")
    items = client.cache.get(key)
    if items is None:
        items = list(_Reader(PageSource(client, first_url, path, max_items)).items())
        client.cache.set(key, items)
    yield from items


class _Window:
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
                best = _Window(start, size)
        if best:
            return best
    return _Window(end, cap)


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


def _identity(item):
    """What tells two items apart: an object's uuid, else the item itself."""
    if isinstance(item, dict) and isinstance(item.get("uuid"), str):
        return item["uuid"]
    return json.dumps(item, sort_keys=True, default=str)


def _page_number(url):
    return dict(parse_qsl(urlsplit(url).query)).get("page") if url else None


def _page_key(url):
    parts = urlsplit(url)
    return parts.path, tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))


def _close(iterator):
    getattr(iterator, "close", lambda: None)()  # here, not in whichever thread garbage-collects it


class _Page:
    __slots__ = ("url", "results", "next", "count")

    def __init__(self, url, results, next_url, count):
        self.url, self.results, self.next, self.count = url, results, next_url, count

    def ends(self, window):
        """Whether this answer to ``window`` ends the list: it links nowhere and reaches its own count (a
        server counts, then slices: a change in between can make a page look like the last)."""
        return not self.next and (self.count is None or window.start + len(self.results) == self.count)


class PageSource:
    """The pages of one list through the client, each checked, and the limits of the read: the seam the
    reader stands on (``first``, ``window``, ``get``)."""

    def __init__(self, client, first_url, path, max_items=None):
        self.client, self.first_url, self.path, self.max_items = client, first_url, path, max_items
        self.what = DescribedRequest("GET", first_url)
        self.requests, self._lock = 0, threading.Lock()
        self._parts = urlsplit(first_url)
        self._query = [(k, v) for k, v in parse_qsl(self._parts.query, keep_blank_values=True)
                       if k not in ("page", "page_size")]

    def first(self):
        return self.get(self.first_url)

    def window(self, window):
        """``(window, page)``; page None when the window lies beyond the end of the list now (404)."""
        query = urlencode(self._query + [("page", str(window.page)), ("page_size", str(window.size))])
        return window, self.get(urlunsplit(self._parts[:3] + (query, "")), missing=None)

    def get(self, url, missing=NotFoundError):
        with self._lock:
            self.requests += 1
            requests = self.requests
        if requests > self.client.max_pages:
            raise ListTooLongError("%s: more than %d pages (the max_pages limit), re-reads included; refusing to read "
                                   "on.%s" % (self.what, self.client.max_pages, RAISE_LIMIT % "max_pages"), path=self.path)
        try:
            return self._check(self.client.get_page(url), DescribedRequest("GET", url))
        except NotFoundError:
            if missing is NotFoundError:
                raise
            return missing

    def _check(self, body, what):
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise InvalidResponseError("%s: expected a paginated list ({count, next, results}), got something else."
                                       % what, path=self.path)
        next_url, count = body.get("next"), body.get("count")
        if next_url is not None and not isinstance(next_url, str):
            raise InvalidResponseError("%s: the page's next link is not a URL." % what, path=self.path)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise InvalidResponseError("%s: the page's count is not a number." % what, path=self.path)
        if next_url:
            try:
                own = self.client.own_url(next_url)
            except ValueError:
                raise PaginationError("%s returned a malformed next link; the list could not be read completely."
                                      % what, path=self.path) from None
            if own is None:
                raise PaginationError("%s returned a next link to another server (%s); it was not followed, so the "
                                      "token is only ever sent to %s. The list could not be read completely."
                                      % (what, urlsplit(next_url).netloc, self._parts.netloc), path=self.path)
            if not body["results"]:
                raise PaginationError("%s: an empty page that still links to a next one; the list could not be read "
                                      "completely." % what, path=self.path)
        return _Page(what.url, body["results"], own if next_url else None, count)

    def check_announced(self, first, requests):
        """Refuse at once a list announced beyond the limits, before reading on."""
        if first.count > self.client.max_items:
            raise ListTooLongError("%s: the server announces %d items, more than the max_items limit of %d; refusing "
                                   "to read them.%s" % (self.what, first.count, self.client.max_items,
                                                        RAISE_LIMIT % "max_items"), path=self.path)
        if requests > self.client.max_pages:
            raise ListTooLongError("%s: the server announces %d items in pages of %d; reading them so that a change "
                                   "during the read is seen takes more requests than the max_pages limit of %d; "
                                   "refusing to read them.%s" % (self.what, first.count, len(first.results),
                                                                 self.client.max_pages, RAISE_LIMIT % "max_pages"),
                                   path=self.path)

    def check_total(self, items):
        """Refuse a list once ``items`` of it have arrived beyond the caller's or the option's limit."""
        if self.max_items is not None and items > self.max_items:
            raise PaginationError("%s: more than %d items; refusing to continue (raise the limit to read them all)."
                                  % (self.what, self.max_items), path=self.path)
        if items > self.client.max_items:
            raise ListTooLongError("%s: more than %d items (the max_items limit); refusing to read on.%s"
                                   % (self.what, self.client.max_items, RAISE_LIMIT % "max_items"), path=self.path)


class _PageSizeIgnored(Exception):
    """The server showed that it answers ``page_size`` with pages of its own size."""


class _Pass:
    """What one pass over the list saw; ``take`` hands on the items the read has not yielded yet."""

    def __init__(self, source, yielded):
        self.source, self.yielded = source, yielded
        self.seen = set()  # hashes of ids: half the memory of ids, and a collision costs a re-read, not an item
        self.digest = hashlib.sha1()
        self.duplicates, self.counts = 0, set()
        self.unproven = 0  # page boundaries no overlap proved
        self.moved = False  # the chain saw the list change under it
        self.problem = None

    def take(self, page, start=0):
        self.counts.add(page.count)
        for item in page.results[start:]:
            ident = _identity(item)
            key = hash(ident)
            if key in self.seen:
                self.duplicates += 1
                continue
            self.seen.add(key)
            self.digest.update(ident.encode("utf-8", "replace") + b"\0")
            self.source.check_total(len(self.seen))
            if key not in self.yielded:
                self.yielded.add(key)
                yield item

    def finish(self):
        """A pass of plain pages must keep one count; a pass that saw nothing move must match its count and hold
        no item twice."""
        count = next(iter(self.counts)) if len(self.counts) == 1 else None
        if self.problem is None and self.unproven and len(self.counts) > 1:
            self.problem = "the count changed while it was read (%s)" % ", ".join(map(str, sorted(self.counts, key=str)))
        if self.problem is None and not self.moved and (self.duplicates or count not in (None, len(self.seen))):
            self.problem = "the server announced %d items but %d distinct items arrived%s" % (
                len(self.seen) + self.duplicates if count is None else count, len(self.seen),
                " (%d arrived twice)" % self.duplicates if self.duplicates else "")
        return self

    def confirms(self, other):
        return other is not None and (self.digest.digest(), self.problem) == (other.digest.digest(), other.problem)


class _Reader:
    """One read of one list, pass after pass, until one proves itself or two agree (see the module docstring)."""

    def __init__(self, source):
        self.source, self.path, self.what = source, source.path, source.what
        self.max_reread = getattr(source.client.settings, "max_reread", None) or DEFAULT_MAX_REREAD
        self.yielded = set()  # hashes of the ids handed on, over every pass
        self.fixed = None  # whether the server ignores page_size, once it showed

    def items(self):
        first, previous = self.source.first(), None
        for _attempt in range(self.max_reread + 1):
            read = _Pass(self.source, self.yielded)
            try:
                yield from (_Chain(self, read, first).items() if self._windowed(first) else _pages(self, read, first))
            except _PageSizeIgnored:
                read, self.fixed = _Pass(self.source, self.yielded), True
                yield from _pages(self, read, first)
            if read.finish().problem is None and not read.unproven:
                return
            if read.confirms(previous):
                if not (read.problem or read.duplicates or previous.duplicates):
                    return  # the same ids in the same order, nothing twice
                raise PaginationError("%s: the list is inconsistent: %s, also when it was read again; it cannot be "
                                      "trusted." % (self.what, read.problem), path=self.path)
            previous, first = read, self.source.first()
        raise ListChangingError("%s: the list kept changing while it was read: %d reads in a row came back different%s."
                                " Raise max_reread (now %d) to keep trying longer, or read it when the account is "
                                "quieter." % (self.what, self.max_reread + 1, " (the last: %s)" % previous.problem
                                              if previous.problem else "", self.max_reread), path=self.path)

    def _windowed(self, first):
        """Whether this pass can choose its windows: numbered next links, ``page_size`` honoured so far, and
        windows of the first page's length that overlap every boundary of the list."""
        cap, asked = len(first.results), dict(parse_qsl(urlsplit(first.url).query)).get("page_size", "")
        windowed = (_page_number(first.next) == "2" and not self.fixed and chains(first.count, cap)
                    and (not asked.isdigit() or cap <= int(asked)))
        if first.count is not None:
            self.source.check_announced(first, requests_needed(first.count, cap, self.source.client.max_pages)
                                        if windowed else 2 * -(-first.count // cap) if first.next else 1)
        return windowed


def _pages(reader, read, first):
    """A pass that follows the server's next links (fetched ahead, all at once, where they are numbered and the
    count says how many); it proves nothing alone unless the list is one page."""
    source, read.unproven = reader.source, int(bool(first.next))
    yield from read.take(first)
    page, visited, ahead = first, set([_page_key(first.url)]), iter(())
    if first.count and _page_number(first.next) == "2" and source.client.max_concurrency > 1:
        parts = urlsplit(first.next)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
        urls = (urlunsplit(parts[:3] + (urlencode(query + [("page", str(number))]), ""))
                for number in range(2, -(-first.count // len(first.results)) + 1))
        ahead = source.client.imap(lambda url: (url, source.get(url, missing=None)), urls)
    try:
        while page.next:
            link = page.next
            if _page_key(link) in visited:
                raise PaginationError("%s: the server's next links loop back to a page already read; the list could "
                                      "not be read completely." % DescribedRequest("GET", link), path=reader.path)
            visited.add(_page_key(link))
            url, page = next(ahead, (None, None))
            if url is None or _page_key(url) != _page_key(link):  # off the plan: follow the links one by one
                _close(ahead)
                ahead, page = iter(()), source.get(link, missing=None)
            if page is None:
                read.problem = "%s was gone (404) while the list was read" % DescribedRequest("GET", link)
                return
            yield from read.take(page)
            if page.count is not None and page.count == first.count < len(read.seen) + read.duplicates:
                read.problem = "more items arrived than the %d the server announced" % page.count
                return
    finally:
        _close(ahead)


class _Chain:
    """A pass as a chain of overlapping windows from the first page on (see the module docstring)."""

    def __init__(self, reader, read, first):
        self.reader, self.source, self.read, self.first = reader, reader.source, read, first
        self.cap = len(first.results)
        self.ahead, self.pending = iter(()), None
        if first.count is not None and self.source.client.max_concurrency > 1:
            self.ahead = self.source.client.imap(self.source.window, self._planned(first.count))

    def _planned(self, count):
        end = self.cap
        while end < count:  # lazily: count comes from the server
            window = plan_window(end, self.cap)
            yield window
            end = window.end

    def items(self):
        read, cap = self.read, self.cap
        yield from read.take(self.first)
        prev, prev_ids, page = _Window(0, cap), [_identity(item) for item in self.first.results], self.first
        misses, furthest = 0, cap
        try:
            while not page.ends(prev):
                target = plan_window(prev.end, cap)
                page = self._answer(target)
                linked, back = (yield from self._link(prev, prev_ids, target, page)), 0
                if linked is None and prev.start == 0:
                    self._probe_page_size()  # page 2 out of place: is page_size ignored?
                while linked is None:  # the list moved by more than the overlap: read back from prev
                    misses, back, read.moved = misses + 1, back + 1, True
                    if misses > self.reader.max_reread:
                        raise self._changing(prev, misses - 1)
                    hold = prev.start - (back - 1) * max(1, cap // 2)
                    target, page = self.source.window(plan_window(hold + 1, cap) if hold >= cap else _Window(0, cap))
                    linked = yield from self._link(prev, prev_ids, target, page)
                prev, prev_ids = target, linked
                if prev.end > furthest:
                    misses, furthest = 0, prev.end
        finally:
            _close(self.ahead)

    def _answer(self, target):
        """The answer to ``target``: fetched ahead when it is the next window planned, else fetched now."""
        while True:
            self.pending = self.pending or next(self.ahead, None)
            if self.pending is None or self.pending[0].start > target.start:
                return self.source.window(target)[1]
            (window, page), self.pending = self.pending, None
            if (window.start, window.size) == (target.start, target.size):
                return page

    def _probe_page_size(self):
        """Raise ``_PageSizeIgnored`` when the first page, asked one item shorter, comes back as long."""
        if self.reader.fixed is None:
            page = self.source.window(_Window(0, self.cap - 1))[1]
            self.reader.fixed = page is not None and len(page.results) >= self.cap
        if self.reader.fixed:
            raise _PageSizeIgnored()

    def _link(self, prev, prev_ids, window, page):
        """Take ``window`` into the chain after ``prev``: its ids, or None when it holds no item of ``prev``."""
        if page is None:
            return None
        if len(page.results) > window.size:
            raise _PageSizeIgnored()
        if page.next and _page_number(page.next) != str(window.page + 1):
            raise PaginationError("%s: its next link (page %s) does not lead to page %d; the list could not be read "
                                  "completely." % (DescribedRequest("GET", page.url), _page_number(page.next),
                                                   window.page + 1), path=self.reader.path)
        ids, tail = [_identity(item) for item in page.results], set(prev_ids)
        anchor = next((index for index in range(len(ids) - 1, -1, -1) if ids[index] in tail), None)
        if anchor is None:
            if window.start and window.start < prev.end:
                return None
            self.read.unproven += window.start > 0  # a boundary no window can straddle: another pass confirms it
            anchor = -1
        low = max(window.start, prev.start)
        if ids[low - window.start:prev.end - window.start] != prev_ids[low - prev.start:]:
            self.read.moved = True
        yield from self.read.take(page, anchor + 1)
        return ids

    def _changing(self, prev, times):
        counts = sorted(count for count in self.read.counts if count is not None)
        if len(self.read.counts) == 1 and counts:
            return PaginationError("%s: the list is inconsistent: it ends before or after the %d items the server "
                                   "counts, also when read again %d times." % (self.reader.what, counts[0], times),
                                   path=self.reader.path)
        return ListChangingError(
            "%s: the list kept changing while it was read: the part after item %d moved %d times in a row while it "
            "was read again%s. Raise max_reread (now %d) to keep trying longer, or read it when the account is "
            "quieter." % (self.reader.what, prev.end, times, " (the count moved between %d and %d meanwhile)"
                          % (counts[0], counts[-1]) if len(counts) > 1 else "", self.reader.max_reread),
            path=self.reader.path)
