# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The one paginator: every item that exists for the whole read comes back exactly once, or it raises.

``_Reader`` reads a list in passes over one ``PageSource``, which fetches and checks each page (its shape, a
next link that stays on our origin, no empty page that links on, the ``max_pages`` / ``max_items`` limits);
a ``_Pass`` records what one pass saw (distinct ids in order, items twice, counts) and hands on the items not
yielded before. Where the server honours ``page_size`` and windows of its cap can overlap every boundary of
the list, a pass is a ``_Chain`` of overlapping windows: a window counts once it holds an item of the window
before it, so every item between two such anchors was in a window when that window was read, and the pass
proves itself; a window without an anchor is read again from further back, ``max_reread`` times in a row at
most. Where windows cannot overlap (``page_size`` ignored, a cap too small for the list), the chain takes
the server's pages side by side, and where next links are not numbered, ``_links`` follows them; such a
pass proves nothing alone: it stands once the next pass brings the same ids in the same order with no item
twice. (A pass can lose an item only to a deletion in front of a page boundary; the deleted item is then in
no later pass - or, when it was inserted behind the read and deleted again, its insertion first showed an
item twice.) A list that never holds still that long raises ``ListChangingError``; one that comes back the
same but disagrees with its own ``count`` or serves an item twice raises ``PaginationError``.
"""

import hashlib
import json
import weakref
from urllib.parse import parse_qsl, urlsplit

from ansible_collections.divio.cloud.plugins.module_utils.connection import DEFAULT_MAX_REREAD
from ansible_collections.divio.cloud.plugins.module_utils.errors import DescribedRequest, ListChangingError, PaginationError
from ansible_collections.divio.cloud.plugins.module_utils.pages import (
    INCOMPLETE, PageSource, Window, chains, page_number, plan_window, requests_needed)

QUIETER = " to keep trying longer, or read it when the account is quieter."
# The clients whose server a read saw answer page_size with pages of its own size (page_size is a server-wide
# setting of a DRF paginator): the cost estimate then counts plain pages read twice, as the reader does.
_FIXED_PAGES = weakref.WeakKeyDictionary()


def paginate(client, path, params=None, max_items=None):
    """Yield every item of a DRF-paginated list, the caller's ``max_items`` included in the limits."""
    first_url = client.url(path, dict({"page_size": client.page_size}, **(params or {})))
    items = _Reader(PageSource(client, first_url, path, max_items)).items
    if client.cache is None:
        yield from items()
        return
    # Cached only once complete: pages cached one by one could combine reads of different moments.
    key = client.cache_key(first_url + "#complete-list")
    cached = client.cache.get(key)
    if cached is None:
        cached = list(items())
        client.cache.set(key, cached)
    yield from cached


def ignores_page_size(client):
    """Whether a read through ``client`` saw its server ignore ``page_size`` (False: honoured, or not known yet)."""
    try:
        return _FIXED_PAGES.get(client, False)
    except TypeError:  # a client that cannot be weakly referenced: never recorded
        return False


def read_cost(count, cap, fixed=False, limit=None):
    """Requests a read of ``count`` items in pages of ``cap`` takes while the list holds still: one page, a chain of
    overlapping windows, or - where windows cannot overlap (``fixed``: ``page_size`` ignored) - two reads of the
    server's plain pages. Counting stops once past ``limit``."""
    if fixed:
        return 1 if count <= cap else 2 * -(-count // cap)
    return requests_needed(count, cap, limit)


def _identity(item):
    """What tells two items apart: an object's uuid, else the item itself."""
    if isinstance(item, dict) and isinstance(item.get("uuid"), str):
        return item["uuid"]
    return json.dumps(item, sort_keys=True, default=str)


def _page_key(url):
    parts = urlsplit(url)
    return parts.path, tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))


def _close(iterator):
    getattr(iterator, "close", lambda: None)()  # here, not in whichever thread garbage-collects it


class _PageSizeIgnored(Exception):
    """The server showed that it answers ``page_size`` with pages of its own size."""


class _Pass:
    """What one pass over the list saw; ``take`` hands on the items the read has not yielded yet."""

    def __init__(self, source, yielded):
        self.source, self.yielded, self.counts = source, yielded, set()
        self.seen = set()  # hashes of ids: half the memory of ids, and a collision costs a re-read, not an item
        self.digest, self.duplicates, self.problem = hashlib.sha1(), 0, None
        self.unproven = 0  # page boundaries no overlap proved
        self.moved = False  # the chain saw the list change under it

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
        """Plain pages must keep one count; a pass that saw nothing move must match it, with no item twice."""
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
        self.source = source
        self.max_reread = getattr(source.client.settings, "max_reread", None) or DEFAULT_MAX_REREAD
        self.yielded = set()  # hashes of the ids handed on, over every pass
        self._fixed = None  # whether the server ignores page_size, once it showed

    @property
    def fixed(self):
        return self._fixed

    @fixed.setter
    def fixed(self, value):
        self._fixed = value
        if value:
            try:
                _FIXED_PAGES[self.source.client] = True
            except TypeError:
                pass  # a client that cannot be weakly referenced: its estimates assume page_size honoured

    def items(self):
        first, previous = self.source.first(), None
        for _attempt in range(self.max_reread + 1):
            read = _Pass(self.source, self.yielded)
            try:
                yield from self._pass(read, first)
            except _PageSizeIgnored:
                read, self.fixed = _Pass(self.source, self.yielded), True
                yield from self._pass(read, first)
            if read.finish().problem is None and not read.unproven:
                return
            if read.confirms(previous):
                if not (read.problem or read.duplicates or previous.duplicates):
                    return  # the same ids in the same order, nothing twice
                raise self.source.fail(PaginationError, ": the list is inconsistent: %s, also when it was read again; "
                                       "it cannot be trusted." % read.problem)
            previous, first = read, self.source.first()
        last = " (the last: %s)" % previous.problem if previous.problem else ""
        text = ": the list kept changing while it was read: %d reads in a row came back different%s. Raise max_reread " \
            "(now %d)" % (self.max_reread + 1, last, self.max_reread)
        raise self.source.fail(ListChangingError, text + QUIETER)

    def ignores_page_size(self, cap):
        """Whether the first page, asked one item shorter, comes back as long (asked once per read)."""
        if self.fixed is None:
            page = self.source.window(Window(0, cap - 1))[1]
            self.fixed = page is not None and len(page.results) >= cap
        return self.fixed

    def _pass(self, read, first):
        """Windows that overlap where they can; else the server's numbered pages side by side, or its links."""
        cap, asked = len(first.results), dict(parse_qsl(urlsplit(first.url).query)).get("page_size", "")
        if asked.isdigit() and cap > int(asked):
            self.fixed = True
        numbered = page_number(first.next) == "2"
        overlap = numbered and not self.fixed and chains(first.count, cap)
        if first.count is not None:
            self.source.check_announced(first, 1 if not first.next else read_cost(
                first.count, cap, fixed=not overlap, limit=self.source.client.max_pages))
        return _Chain(self, read, first, overlap).items() if numbered else _links(self.source, read, first)


def _links(source, read, first):
    """A pass that follows the server's next links one by one (they are not numbered: nothing to plan)."""
    read.unproven, page, visited = int(bool(first.next)), first, set([_page_key(first.url)])
    yield from read.take(first)
    while page.next:
        link = page.next
        if _page_key(link) in visited:
            raise source.fail(PaginationError, ": the server's next links loop back to a page already read" + INCOMPLETE,
                              DescribedRequest("GET", link))
        visited.add(_page_key(link))
        page = source.get(link, missing=None)
        if page is None:
            read.problem = "%s was gone (404) while the list was read" % DescribedRequest("GET", link)
            return
        yield from read.take(page)


class _Chain:
    """A pass as a chain of windows from the first page on (see the module docstring): overlapping, or, with
    ``overlap`` False, the server's own pages side by side, as its next links ask for them, proving nothing."""

    def __init__(self, reader, read, first, overlap):
        self.reader, self.source, self.read, self.first = reader, reader.source, read, first
        self.cap, self.overlap, self.link = len(first.results), overlap, None if overlap else first.next
        self.ahead, self.pending = iter(()), None
        if self.source.client.max_concurrency > 1:
            self.ahead = self.source.client.imap(self.fetch, self._planned(first.count)) if first.count is not None \
                else self._batches()

    def plan(self, end):
        return plan_window(end, self.cap) if self.overlap else Window(end, self.cap)

    def fetch(self, window):
        return self.source.window(window, self.link)

    def _planned(self, count):
        end = self.cap
        while end < count:  # lazily: count comes from the server
            window = self.plan(end)
            yield window
            end = window.end

    def _batches(self):
        """Without a count the end is unknown: windows fetched together in batches of 1, 2, 4 ... up to
        ``max_concurrency``, so a short list costs no more than a request or two past its end."""
        end, size = self.cap, 1
        while True:
            batch = [self.plan(end)]
            while len(batch) < size:
                batch.append(self.plan(batch[-1].end))
            yield from self.source.client.map(self.fetch, batch)
            end, size = batch[-1].end, min(2 * size, self.source.client.max_concurrency)

    def ends(self, window, page):
        """A page links nowhere and reaches its own count (a server counts, then slices: a change in between can
        make a page look like the last); side by side, it links nowhere."""
        return not page.next and (page.count is None or window.start + len(page.results) == page.count
                                  or not self.overlap)

    def items(self):
        read, cap = self.read, self.cap
        yield from read.take(self.first)
        prev, prev_ids, page = Window(0, cap), [_identity(item) for item in self.first.results], self.first
        misses, furthest = 0, cap
        try:
            while not read.problem and not self.ends(prev, page):
                target = self.plan(prev.end)
                page = self._answer(target)
                linked, back = (yield from self._link(prev, prev_ids, target, page)), 0
                if linked is None and prev.start == 0 and self.overlap and self.reader.ignores_page_size(cap):
                    raise _PageSizeIgnored()  # page 2 was out of place: the server's pages are its own
                while linked is None:  # the list moved by more than the overlap: read back from prev
                    misses, back, read.moved = misses + 1, back + 1, True
                    if misses > self.reader.max_reread:
                        raise self._changing(prev, misses - 1)
                    hold = prev.start - (back - 1) * max(1, cap // 2)
                    target, page = self.source.window(plan_window(hold + 1, cap) if hold >= cap else Window(0, cap))
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
                return self.fetch(target)[1]
            (window, page), self.pending = self.pending, None
            if (window.start, window.size) == (target.start, target.size):
                return page

    def _link(self, prev, prev_ids, window, page):
        """Take ``window`` into the chain after ``prev``: its ids, or None when it holds no item of ``prev``."""
        read, side_by_side = self.read, window.start >= prev.end
        if page is None and side_by_side:
            read.problem = "%s was gone (404) while the list was read" % self.source.window_url(window, self.link)
        if page is None:
            return None if read.problem is None else []
        if len(page.results) > window.size and self.overlap:
            raise _PageSizeIgnored()
        if page.next and page_number(page.next) != str(window.page + 1):
            raise self.source.fail(PaginationError, ": its next link (page %s) does not lead to page %d" % (
                page_number(page.next), window.page + 1) + INCOMPLETE, DescribedRequest("GET", page.url))
        ids, tail = [_identity(item) for item in page.results], dict((ident, n) for n, ident in enumerate(prev_ids))
        # The anchor: the last of prev's items here in prev's order, each once. An item twice in one page, or prev's
        # items out of their order, is the server's doing (a page is one moment, and no change reorders a list): the
        # copy is taken as an item twice, never as the anchor, and the pass proves nothing - another must agree.
        anchor, latest, here, glitch = None, -1, set(), False
        for index, ident in enumerate(ids):
            glitch |= ident in here or -1 < tail.get(ident, -1) < latest
            if tail.get(ident, -1) > latest and ident not in here:
                anchor, latest = index, tail[ident]
            here.add(ident)
        read.unproven += glitch
        if side_by_side:
            anchor = None
        elif anchor is None and window.start:
            return None
        read.unproven += side_by_side  # a boundary no overlap proves: another pass confirms it
        low = max(window.start, prev.start)
        read.moved |= ids[low - window.start:prev.end - window.start] != prev_ids[low - prev.start:]
        yield from read.take(page, 0 if anchor is None else anchor + 1)
        if page.count is not None and page.count == self.first.count < len(read.seen) + read.duplicates:
            read.problem = "more items arrived than the %d the server announced" % page.count
        return ids

    def _changing(self, prev, times):
        counts = sorted(count for count in self.read.counts if count is not None)
        if len(self.read.counts) == 1 and counts:
            return self.source.fail(PaginationError, ": the list is inconsistent: it ends before or after the %d items "
                                    "the server counts, also when read again %d times." % (counts[0], times))
        moved = " (the count moved between %d and %d meanwhile)" % (counts[0], counts[-1]) if len(counts) > 1 else ""
        return self.source.fail(ListChangingError, ": the list kept changing while it was read: the part after item %d "
                                "moved %d times in a row while it was read again%s. Raise max_reread (now %d)"
                                % (prev.end, times, moved, self.reader.max_reread) + QUIETER)
