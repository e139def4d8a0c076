# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one paginator: reads a DRF page-number list completely, or raises. No Ansible imports.

``DivioClient.paginate`` is the public entry; pages are fetched through the client, so retries,
limits and token hygiene are the client's. This module holds what makes a list *complete*: next
links that stay on our server and never loop, a ``count`` that matches what arrived, caps.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    InvalidResponseError,
    ListTooLongError,
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

    When the server numbers its pages (``next`` of page 1 is ``...page=2``) and ``count`` says how
    many follow, the rest are fetched concurrently, a window at a time, and checked the same way.
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
    yield from listing.take(results)
    next_url = same_origin_url(client.base_url, next_url, listing.what, path) if next_url else None
    last = _last_page_number(next_url, listing.count, len(results), client.max_concurrency)
    if last:
        listing.check_announced(last)
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
            next_url = same_origin_url(client.base_url, following, describe_request("GET", next_url), path) if following else None
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
        self.what = describe_request("GET", first_url)
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

    def check_announced(self, last_page):
        """Refuse at once a list the server announces beyond the caps, before fetching its pages."""
        if last_page > self.page_cap:
            raise ListTooLongError("%s: the server announces %d items in %d pages, more than the max_pages limit of "
                                   "%d; refusing to read them. Raise max_pages to read longer lists."
                                   % (self.what, self.count, last_page, self.page_cap), path=self.path)

    def read(self, page, url):
        """Validate one page; returns ``(results, next)``."""
        what = describe_request("GET", url)
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
            if self.max_items is not None and self.received > self.max_items:
                raise PaginationError("%s: more than %d items; refusing to continue (raise the limit to read "
                                      "them all)." % (self.what, self.max_items), path=self.path)
            if self.received > self.item_cap:
                raise ListTooLongError("%s: more than %d items (the max_items limit); refusing to read on. Raise "
                                       "max_items to read longer lists." % (self.what, self.item_cap), path=self.path)
            yield item

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
