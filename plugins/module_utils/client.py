# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Divio API client: authentication, one retry loop, one paginator. No Ansible imports.

Every HTTP call of the collection goes through ``DivioClient._request``, so retries, error
mapping and token hygiene live in exactly one place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import email.utils
import hashlib
import json
import os
import random
import re
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from ansible_collections.divio.cloud.plugins.module_utils.connection import resolve_connection
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    ApiError,
    AuthenticationError,
    DivioError,
    InvalidResponseError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    TransportError,
)

try:
    import requests
    from requests.adapters import HTTPAdapter
    from requests.auth import AuthBase
    from urllib3.exceptions import NewConnectionError
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    AuthBase = object
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

USER_AGENT = "ansible-collection-divio.cloud"
DEFAULT_MAX_CONCURRENCY = 8
APPS = "/apps/v3/"
IAM = "/iam/v3/"
# Ask for big pages; the server caps page_size and we follow whatever it hands out.
DEFAULT_PAGE_SIZE = 1000
RETRY_STATUSES = frozenset((429, 502, 503, 504))
# A request that changes something is repeated only when the server said it did not process it.
RETRY_STATUSES_NOT_IDEMPOTENT = frozenset((429, 503))
_DEFAULT_PORTS = {"http": 80, "https": 443}


class RetryPolicy:
    """When to try again: capped exponential backoff with jitter, bounded in tries and total time.

    A server's ``Retry-After`` wins over the computed backoff (it knows its own limits), but never
    beyond the total time budget: then we give up and say so.
    """

    def __init__(self, max_attempts=6, backoff_base=0.5, backoff_max=20.0, max_total=120.0,
                 sleep=time.sleep, clock=time.monotonic, rng=None):
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_total = max_total
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()

    def backoff(self, attempt):
        """Seconds to wait after failed try number ``attempt`` (1-based), "equal jitter" style."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if re.match(r"^[0-9]+$", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


class ConcurrencyLimit:
    """At most ``limit`` requests in flight across threads. A 429 halves the limit (the server says
    we are too many); it creeps back by one after a run of successes, never above the maximum."""

    RECOVER_AFTER = 20

    def __init__(self, maximum):
        self.maximum = max(1, int(maximum))
        self.limit = self.maximum
        self._in_flight = 0
        self._successes = 0
        self._cond = threading.Condition()

    def __enter__(self):
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1
        return self

    def __exit__(self, *exc_info):
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def throttled(self):
        with self._cond:
            self.limit = max(1, self.limit // 2)
            self._successes = 0

    def succeeded(self):
        with self._cond:
            self._successes += 1
            if self._successes >= self.RECOVER_AFTER and self.limit < self.maximum:
                self.limit += 1
                self._successes = 0
                self._cond.notify_all()


class TokenAuth(AuthBase):
    """``Authorization: Token <token>``. As a requests auth object (not a session header) it stops
    requests from replacing it with netrc basic auth, and it is dropped on redirects to other hosts."""

    def __init__(self, token):
        self._token = token

    def __call__(self, request):
        request.headers["Authorization"] = "Token " + self._token
        return request

    def __repr__(self):
        return "TokenAuth(<hidden>)"


def _describe(method, url):
    """``GET /apps/v3/backups/?page=2`` - what messages show: never a host credential or header."""
    parts = urlsplit(url)
    return "%s %s%s" % (method, parts.path, "?" + parts.query if parts.query else "")


def _detail(response):
    """A short server explanation from an error body, if it has one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        text = body["detail"]
    else:
        text = json.dumps(body, sort_keys=True)
    return text if len(text) <= 300 else text[:297] + "..."


class DivioClient:
    """One authenticated session against one Divio API base URL."""

    def __init__(self, settings, retry=None, page_size=DEFAULT_PAGE_SIZE, session=None, cache=None,
                 max_concurrency=DEFAULT_MAX_CONCURRENCY):
        if not HAS_REQUESTS:
            raise DivioError("the Python library 'requests' is required on the host that runs this task: pip install requests")
        self.settings = settings
        self.base_url = settings.base_url
        self.retry = retry or RetryPolicy()
        self.page_size = page_size
        self._counter_lock = threading.Lock()
        self.request_count = 0
        self.max_concurrency = max(1, int(max_concurrency))
        self.concurrency = ConcurrencyLimit(self.max_concurrency)
        # Optional store of decoded GET answers (``get(key)`` / ``set(key, value)``), e.g. the lookup's
        # per-run cache; keys hold a hash of the token, never the token.
        self.cache = cache
        self._token_hash = hashlib.sha256(settings.token.encode("utf-8")).hexdigest()
        DivioError.register_secret(settings.token)
        self._base = urlsplit(self.base_url)
        self.session = session or requests.Session()
        self._verify = settings.validate_certs
        if session is None:
            # requests re-reads proxy and CA-bundle variables from os.environ on every call (a sizeable
            # share of the client's CPU time per page); read them once instead, with the same meaning.
            self.session.trust_env = False
            self.session.proxies = requests.utils.get_environ_proxies(self.base_url)
            if settings.validate_certs:
                self._verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            # One keep-alive connection per concurrent request; block rather than open extra ones.
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.max_concurrency, pool_block=True)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
        self.session.auth = TokenAuth(settings.token)
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})

    @classmethod
    def from_options(cls, options, environ=None, **kwargs):
        """Build a client from connection options (see ``connection.CONNECTION_ARGUMENT_SPEC``)."""
        return cls(resolve_connection(options, environ), **kwargs)

    def __repr__(self):
        return "DivioClient(%r)" % self.base_url

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self.session.close()

    # -- URLs -------------------------------------------------------------------------------

    def url(self, path, params=None):
        """Absolute URL for an API path such as ``/apps/v3/backups/``."""
        query = urlencode(sorted((k, v) for k, v in (params or {}).items() if v is not None))
        return urlunsplit((self._base.scheme, self._base.netloc, path, query, ""))

    def _same_origin_url(self, url, came_from, path):
        """Make a server-given link safe to follow with our token, or refuse it.

        Only our own host and port are accepted. A same-host ``http://`` link under an ``https://``
        base (a proxy that forgot the scheme) is followed over ``https://`` - never downgraded.
        """
        try:
            parts = urlsplit(url)
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            parts, port = None, None
        base_port = self._base.port or _DEFAULT_PORTS[self._base.scheme]
        if parts is None or parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise PaginationError("%s returned a malformed next link; the list could not be read completely." % came_from,
                                  path=path)
        same_host = (parts.hostname or "").lower() == (self._base.hostname or "").lower()
        downgraded = parts.scheme == "http" and self._base.scheme == "https" and parts.port is None
        if not same_host or (port != base_port and not downgraded):
            raise PaginationError(
                "%s returned a next link to another server (%s); it was not followed, so the token is only "
                "ever sent to %s. The list could not be read completely." % (came_from, parts.netloc, self._base.netloc),
                path=path)
        return urlunsplit((self._base.scheme, self._base.netloc, parts.path, parts.query, ""))

    # -- the one request loop ----------------------------------------------------------------

    def get(self, path, params=None):
        """GET one API object (or one raw page); returns the decoded JSON body."""
        return self._request("GET", self.url(path, params))

    def post(self, path, body):
        """POST a JSON body; never repeated once it may have reached the server (see ``_send``)."""
        return self._request("POST", self.url(path), body, idempotent=False)

    def imap(self, function, items):
        """``function(item)`` for each item, run concurrently, results yielded in order as they are needed.

        At most ``max_concurrency`` calls run or wait unread at a time (memory stays bounded), and the
        HTTP requests inside are bounded by the same limit however calls nest. An error is raised when
        its result is reached, so everything before it has been seen.
        """
        if self.max_concurrency < 2:
            yield from (function(item) for item in items)
            return
        # A pool per call: nested calls cannot starve each other of workers.
        pool = ThreadPoolExecutor(max_workers=self.max_concurrency)
        pending = collections.deque()
        finished = False
        try:
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) >= self.max_concurrency:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
            finished = True
        finally:
            for future in pending:
                future.cancel()
            # Abandoned early (an error, or the caller stopped reading): calls already running finish on
            # their own; waiting here could deadlock if this generator is closed from a worker thread.
            pool.shutdown(wait=finished)

    def map(self, function, items):
        """``list(imap(function, items))``."""
        return list(self.imap(function, items))

    def _request(self, method, url, body=None, idempotent=True):
        """``_send`` through the cache, if any (GETs of single answers; see ``paginate`` for lists)."""
        if self.cache is None or method != "GET":
            return self._send(method, url, body, idempotent)
        key = (self._token_hash, url)
        result = self.cache.get(key)
        if result is None:
            result = self._send(method, url, body, idempotent)
            self.cache.set(key, result)
        return result

    def _send(self, method, url, body, idempotent):
        policy = self.retry
        what = _describe(method, url)
        started = policy.clock()
        attempt = 0
        while True:
            attempt += 1
            problem, wait_hint, error_cls, status = None, None, TransportError, None
            try:
                with self._counter_lock:
                    self.request_count += 1
                with self.concurrency:
                    response = self.session.request(method, url, json=body, timeout=self.settings.timeout,
                                                    verify=self._verify)
            except requests.exceptions.SSLError:
                raise TransportError(
                    "%s: TLS certificate verification failed for %s. Check the URL; for a test server with "
                    "a self-signed certificate set validate_certs: false." % (what, self._base.netloc))
            except requests.exceptions.ConnectTimeout:
                problem = "no connection within the timeout of %g s" % self.settings.timeout
            except requests.exceptions.Timeout:
                problem = "no answer within the timeout of %g s" % self.settings.timeout
                if not idempotent:  # sent, maybe carried out: repeating it could do it twice
                    raise TransportError("%s: %s; not retried because it may have been carried out." % (what, problem))
            except requests.exceptions.ConnectionError as exc:
                reason = getattr(exc.args[0], "reason", None) if exc.args else None
                not_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(reason, NewConnectionError)
                if not_sent:
                    problem = "could not connect to %s (%s)" % (self._base.netloc, type(reason or exc).__name__)
                else:
                    problem = "the connection to %s was closed or reset before an answer arrived" % self._base.netloc
                if not idempotent and not not_sent:
                    # The request may have reached the server: repeating it could do it twice.
                    raise TransportError("%s: %s; not retried because it may have been carried out." % (what, problem))
            except requests.exceptions.RequestException as exc:
                problem = "the connection failed while reading the answer (%s)" % type(exc).__name__
                if not idempotent:
                    raise TransportError("%s: %s; not retried because it may have been carried out." % (what, problem))
            else:
                status = response.status_code
                if status == 429:
                    self.concurrency.throttled()
                elif status < 400:
                    self.concurrency.succeeded()
                if status < 400:
                    result = _decode(response)
                    if result is not None:
                        return result
                    problem, error_cls = "the body is not valid JSON (status %d)" % status, InvalidResponseError
                    if not idempotent:  # it was carried out; asking again could do it twice
                        raise InvalidResponseError("%s: %s." % (what, problem), status=status, path=urlsplit(url).path)
                elif status in (RETRY_STATUSES if idempotent else RETRY_STATUSES_NOT_IDEMPOTENT):
                    detail = _detail(response).rstrip(".")
                    problem = "HTTP %d%s" % (status, (": " + detail) if detail else "")
                    error_cls = RateLimitError if status == 429 else ApiError
                    wait_hint = parse_retry_after(response.headers.get("Retry-After"))
                else:
                    raise self._status_error(response, what)

            # Here the try failed in a way that may pass; decide whether and how long to wait.
            elapsed = policy.clock() - started
            wait = policy.backoff(attempt) if wait_hint is None else wait_hint
            if attempt >= policy.max_attempts or elapsed + wait > policy.max_total:
                reason = "gave up after %d tries in %.1f s" % (attempt, elapsed)
                if wait_hint is not None and elapsed + wait > policy.max_total:
                    reason += " (the server asked to wait %.0f s more, beyond the retry budget of %g s)" % (wait_hint, policy.max_total)
                message = "%s: %s; %s." % (what, problem, reason)
                if error_cls is TransportError:
                    raise TransportError(message)
                raise error_cls(message, status=status, path=urlsplit(url).path)
            policy.sleep(wait)

    def _status_error(self, response, what):
        status, path, detail = response.status_code, urlsplit(response.url or "").path, _detail(response)
        said = " Server said: %s" % detail if detail else ""
        if status == 401:
            return AuthenticationError(
                "%s: the Divio API rejected the token from %s (401).%s Check that it is current (run `divio login` "
                "again or renew DIVIO_API_TOKEN) and that it belongs to %s." % (what, self.settings.token_source, said, self.base_url),
                status=status, path=path)
        if status == 403:
            return PermissionDeniedError(
                "%s: the token is valid but its account may not access this (403).%s Check the account's "
                "organisation membership." % (what, said), status=status, path=path)
        if status == 404:
            return NotFoundError("%s: not found (404).%s" % (what, said), status=status, path=path)
        return ApiError("%s: the Divio API answered HTTP %d.%s" % (what, status, said), status=status, path=path)

    # -- the one paginator -------------------------------------------------------------------

    def paginate(self, path, params=None, max_items=None):
        """Yield every item of a DRF-paginated list, following ``next`` until it is null.

        Raises ``PaginationError`` rather than ever ending early: a looping or foreign ``next``, an
        empty page that claims a next one, a ``count`` that disagrees with what arrived, or more
        than ``max_items`` items (when given).

        When the server numbers its pages (``next`` of page 1 is ``...page=2``) and ``count`` says how
        many follow, the rest are fetched concurrently, a window at a time, and checked the same way.
        """
        params = dict(params or {})
        params.setdefault("page_size", self.page_size)
        first_url = self.url(path, params)
        if self.cache is None:
            yield from self._read_listing(first_url, path, max_items)
            return
        # Cached as one entry, only once complete and checked: pages cached (and expiring) one by one
        # could combine pages read at different times into a list that passes every check but is wrong.
        key = (self._token_hash, first_url + "#complete-list")
        items = self.cache.get(key)
        if items is None:
            items = list(self._read_listing(first_url, path, max_items))
            self.cache.set(key, items)
        yield from items

    def _read_listing(self, first_url, path, max_items):
        listing = _Listing(first_url, path, max_items)
        results, next_url = listing.read(self._send("GET", first_url, None, True), first_url)
        yield from listing.take(results)
        next_url = self._same_origin_url(next_url, listing.what, path) if next_url else None
        numbered = self._numbered_pages(next_url, listing.count, len(results))
        if numbered:
            fetched = self.imap(lambda url: (url, self._send("GET", url, None, True)), numbered)
            try:
                yield from self._numbered_items(listing, fetched, numbered)
            finally:
                fetched.close()  # here, not in whichever thread garbage-collects it
        else:
            while next_url:
                listing.visit(next_url)
                results, following = listing.read(self._send("GET", next_url, None, True), next_url)
                yield from listing.take(results)
                next_url = self._same_origin_url(following, _describe("GET", next_url), path) if following else None
        listing.finish()

    @staticmethod
    def _numbered_items(listing, fetched, numbered):
        """Items of pages 2..N fetched out of band; each page must link on to the next, the last to none."""
        for number, (url, page) in enumerate(fetched, start=2):
            results, next_url = listing.read(page, url)
            expected = number + 1 if url != numbered[-1] else None
            if _page_number(next_url) != expected:
                raise PaginationError(
                    "%s: its next link (%s) does not lead to page %s as the announced count of %d implies; the "
                    "list could not be read completely."
                    % (_describe("GET", url), _page_number(next_url) or "none", expected or "none (the last page)", listing.count),
                    path=listing.path)
            yield from listing.take(results)

    def _numbered_pages(self, next_url, count, page_length):
        """URLs of pages 2..N when they can be computed (and it is worth it), else None."""
        if not next_url or count is None or not page_length or self.max_concurrency < 2:
            return None
        parts = urlsplit(next_url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if dict(query).get("page") != "2":
            return None
        pages = -(-count // page_length)
        if pages <= 2:
            return None
        others = [(k, v) for k, v in query if k != "page"]
        return [urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(others + [("page", str(n))]), ""))
                for n in range(2, pages + 1)]


class _Listing:
    """The checks one paginated read must pass, whichever way its pages are fetched."""

    def __init__(self, first_url, path, max_items):
        self.first_url = first_url
        self.what = _describe("GET", first_url)
        self.path = path
        self.max_items = max_items
        self.count = None
        self.received = 0
        self._seen = set([_page_key(first_url)])

    def visit(self, url):
        key = _page_key(url)
        if key in self._seen:
            raise PaginationError("%s: the server's next links loop back to a page already read; the list "
                                  "could not be read completely." % _describe("GET", url), path=self.path)
        self._seen.add(key)

    def read(self, page, url):
        """Validate one page; returns ``(results, next)``."""
        what = _describe("GET", url)
        results, next_url, page_count = _page_parts(page, what, self.path)
        if self.count is not None and page_count is not None and page_count != self.count:
            raise PaginationError("%s: the list changed while it was read (count went from %d to %d); try again."
                                  % (what, self.count, page_count), path=self.path)
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
            yield item

    def finish(self):
        if self.count is not None and self.received != self.count:
            raise PaginationError("%s: the server announced %d items but %d arrived; the list is incomplete."
                                  % (self.what, self.count, self.received), path=self.path)


def _decode(response):
    """The JSON body, or None when it is not JSON (a proxy's HTML page, a cut-off body)."""
    try:
        return response.json()
    except ValueError:
        return None


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
