# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The Divio API client: authentication, the one retry loop, the one fan-out. No Ansible imports.

Every HTTP call of the collection goes through ``DivioClient._send``: ``_attempt`` makes one try
and says how it ended (a result, a problem worth retrying, or a raised error), ``_send`` decides
whether to try again. Retries, redirects, limits, error mapping and token hygiene live in exactly
one place; the paginator (``pagination.py``) reads lists through it, ``transport.py`` bounds the
time and size of each request, ``http_rules.py`` decides where a redirect may go and what a failure was.

Bounds (README "Limits and guarantees"): one try takes at most ``timeout`` (connect, headers and
the whole body); one request at most ``timeout`` x ``retries`` + ``RetryPolicy.max_total`` of
waiting between tries; everything a client does at most ``deadline``. Bodies are read up to
``max_response_bytes``. A redirect is followed only within our origin, only for a GET.
"""

import collections
import contextlib
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
from urllib.parse import urlencode, urlsplit, urlunsplit

from ansible_collections.divio.cloud.plugins.module_utils.connection import resolve_connection
from ansible_collections.divio.cloud.plugins.module_utils.deadline import Deadline
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    ApiError,
    AuthenticationError,
    DeadlineExceededError,
    DescribedRequest,
    DivioError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    ResponseTooLargeError,
    TransportError,
    describe_request,
    excerpt,
)
from ansible_collections.divio.cloud.plugins.module_utils import http_rules, pagination, transport

try:
    import requests
    from requests.auth import AuthBase
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    AuthBase = object
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

USER_AGENT = "ansible-collection-divio.cloud"
APPS = "/apps/v3/"
IAM = "/iam/v3/"
# Ask for big pages; the server caps page_size and we follow whatever it hands out.
DEFAULT_PAGE_SIZE = 1000
RETRY_STATUSES = frozenset((429, 502, 503, 504))
# A request that changes something is repeated only when the server said it did not process it.
RETRY_STATUSES_NOT_IDEMPOTENT = frozenset((429, 503))
# Calls a fan-out keeps started or unread, per allowed request in flight (see ``imap``); measured on the
# 1,000-application fleet check: 2 keeps about a quarter more requests in flight than 1.
FAN_OUT_AHEAD = 2


class RetryPolicy:
    """When to try again: capped exponential backoff with jitter, bounded in tries and waiting time.

    ``max_attempts`` (None: the ``retries`` setting) counts every try, the first included.
    ``max_total`` bounds the seconds spent waiting between tries, in sum. A server's ``Retry-After``
    wins over the computed backoff (it knows its own limits), but never beyond that budget: then we
    give up at once and say so.
    """

    def __init__(self, max_attempts=None, backoff_base=0.5, backoff_max=20.0, max_total=120.0,
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
    we are too many); it creeps back by one after a run of successes, never above the maximum.
    While a thread waits out a 429 or a ``Retry-After`` (``closed()``), no thread starts a request.
    Requests start in the order they asked (first come, first served): a request that was just told
    to wait queues behind the others, so a run of 429s is shared out rather than spent on one request."""

    RECOVER_AFTER = 20

    def __init__(self, maximum):
        self.maximum = max(1, int(maximum))
        self.limit = self.maximum
        self._in_flight = 0
        self._successes = 0
        self._closed_by = 0  # threads waiting out a server's "slow down"
        self._queue = collections.deque()  # one token per thread waiting to start a request, in order
        self._cond = threading.Condition()

    def __enter__(self):
        token = object()
        with self._cond:
            self._queue.append(token)
            try:
                while self._closed_by or self._in_flight >= self.limit or self._queue[0] is not token:
                    self._cond.wait()
            finally:
                self._queue.remove(token)
                self._cond.notify_all()  # the next in line may start too
            self._in_flight += 1
        return self

    @contextlib.contextmanager
    def closed(self):
        """No request starts, in any thread, while the block runs (requests in flight finish)."""
        with self._cond:
            self._closed_by += 1
        try:
            yield
        finally:
            with self._cond:
                self._closed_by -= 1
                self._cond.notify_all()

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


def _detail(body):
    """A short server explanation from an error body (bytes): its ``detail``, else an excerpt (masked, then cut)."""
    decoded = _decode(body)
    if decoded is None:
        text = body.decode("utf-8", "replace").strip()
    elif isinstance(decoded, dict) and isinstance(decoded.get("detail"), str):
        text = decoded["detail"]
    else:
        text = json.dumps(decoded, sort_keys=True)
    return excerpt(text, 300)


def _no_redirect_target(response):
    return None


def _show_origin(origin):
    scheme, host, port = origin
    return excerpt("%s://%s:%s" % (scheme, "[%s]" % host if ":" in host else host, port), 120)


class DivioClient:
    """One authenticated session against one Divio API base URL.

    Stats: ``request_count`` (HTTP exchanges sent, redirects included), ``retry_count`` (tries
    repeated after a problem that may pass).
    """

    def __init__(self, settings, retry=None, page_size=DEFAULT_PAGE_SIZE, session=None, cache=None,
                 max_concurrency=None):
        """Every limit comes from ``settings``; ``retry`` (backoff shape, waiting budget; tests) and
        ``max_concurrency`` (benchmarks) may override theirs."""
        if not HAS_REQUESTS:
            raise DivioError("the Python library 'requests' is required on the host that runs this task: pip install requests")
        DivioError.register_secret(settings.token)
        self.settings = settings
        self.base_url = settings.base_url
        self._route = http_rules.ApiRoute(self.base_url)
        self._base = self._route.base
        self.retry = retry or RetryPolicy()
        self.max_attempts = self.retry.max_attempts or settings.retries
        self.max_response_bytes = settings.max_response_bytes
        self.max_pages = settings.max_pages
        self.max_items = settings.max_items
        self.deadline = Deadline(settings.deadline, self.retry.clock) if settings.deadline else None
        self.page_size = page_size
        self._counter_lock = threading.Lock()
        self.request_count = 0
        self.retry_count = 0
        self.max_concurrency = max_concurrency or settings.max_concurrency
        self.concurrency = ConcurrencyLimit(self.max_concurrency)
        self._pool = None  # the fan-out's workers, started on first use
        self._closed = False
        # Optional store of decoded GET answers (``get(key)`` / ``set(key, value)``), e.g. the lookup's
        # per-run cache; keys hold a hash of the token, never the token.
        self.cache = cache
        self._token_hash = hashlib.sha256(settings.token.encode("utf-8")).hexdigest()
        self.session = session or requests.Session()
        # The session this client set up itself is driven below ``Session.request`` (see ``_send_once``);
        # a session handed in, or put in its place later, is used through its own ``request``.
        self._own_session = None if session is not None else self.session
        self._verify = settings.validate_certs
        if session is None:
            # requests re-reads proxy and CA-bundle variables from os.environ on every call (a sizeable
            # share of the client's CPU time per page); read them once instead, with the same meaning.
            self.session.trust_env = False
            self.session.proxies = requests.utils.get_environ_proxies(self.base_url)
            if settings.validate_certs:
                self._verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            # One keep-alive connection per concurrent request; block rather than open extra ones.
            adapter = transport.DeadlineAdapter(pool_connections=1, pool_maxsize=self.max_concurrency, pool_block=True)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
        self.session.auth = TokenAuth(settings.token)
        # Redirects are ours to judge (``_redirect_target``): requests must not even prepare the next
        # request, which would read a redirect's whole body past our size and time limits.
        self.session.get_redirect_target = _no_redirect_target
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
        """End the session. Calls an abandoned fan-out left running finish first (they stop retrying),
        so no request of this client is still in flight afterwards."""
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self.session.close()

    # -- URLs -------------------------------------------------------------------------------

    def url(self, path, params=None):
        """Absolute URL for an API path such as ``/apps/v3/backups/``."""
        query = urlencode(sorted((k, v) for k, v in (params or {}).items() if v is not None))
        return urlunsplit((self._base.scheme, self._base.netloc, path, query, ""))

    def own_url(self, url):
        """``url`` on our origin, ready to carry the token; None when it points elsewhere; ValueError when malformed
        (``http_rules.ApiRoute.place``: the one origin rule, for redirects and next links alike)."""
        try:
            return self._route.place(url)
        except http_rules.Refused:
            return None

    def cache_key(self, url):
        """The cache key of an answer: the URL and a hash of the token, never the token."""
        return (self._token_hash, url)

    # -- requests ---------------------------------------------------------------------------

    def get(self, path, params=None):
        """GET one API object (or one raw page); returns the decoded JSON body."""
        return self._request("GET", self.url(path, params))

    def get_page(self, url):
        """GET one page of a list by absolute URL (a checked next link); never from the cache, which
        holds only complete lists (see ``pagination.paginate``)."""
        return self._send("GET", url, None, True)

    def post(self, path, body):
        """POST a JSON body; never repeated once it may have reached the server (see ``_attempt``)."""
        return self._request("POST", self.url(path), body, idempotent=False)

    def paginate(self, path, params=None, max_items=None):
        """Every item of a paginated list, read completely or not at all (see ``pagination.paginate``)."""
        return pagination.paginate(self, path, params, max_items)

    def _request(self, method, url, body=None, idempotent=True):
        """``_send`` through the cache, if any (GETs of single answers; lists are cached by the paginator)."""
        if self.cache is None or method != "GET":
            return self._send(method, url, body, idempotent)
        key = self.cache_key(url)
        result = self.cache.get(key)
        if result is None:
            result = self._send(method, url, body, idempotent)
            self.cache.set(key, result)
        return result

    def _send(self, method, url, body, idempotent):
        """The one retry loop: try, and on a problem that may pass wait (backoff or Retry-After) and try again."""
        policy = self.retry
        what = DescribedRequest(method, url)
        started = policy.clock()
        attempt, waited, problem = 0, 0.0, None
        while True:
            attempt += 1
            outcome = self._attempt(method, url, body, idempotent, what, problem)
            if not isinstance(outcome, _Retryable):
                return outcome
            problem = problem if outcome.cut_short else outcome.problem
            wait = policy.backoff(attempt) if outcome.wait is None else outcome.wait
            if self.deadline is not None and (outcome.cut_short or wait >= self.deadline.remaining()):
                raise self._deadline_error(what, problem or outcome.problem)
            if attempt >= self.max_attempts or waited + wait > policy.max_total or self._closed:
                raise outcome.error("%s: %s; %s." % (what, outcome.problem, self._gave_up(attempt, started, waited, outcome)))
            if outcome.status == 429 or outcome.wait is not None:
                with self.concurrency.closed():  # the server said "slow down": to every thread of this task
                    policy.sleep(wait)
            else:
                policy.sleep(wait)
            waited += wait
            with self._counter_lock:
                self.retry_count += 1

    def _gave_up(self, attempt, started, waited, outcome):
        reason = "gave up after %d tries in %.1f s" % (attempt, self.retry.clock() - started)
        if outcome.wait is not None and waited + outcome.wait > self.retry.max_total:
            reason += " (the server asked to wait %.0f s more, beyond the retry budget of %g s)" % (
                outcome.wait, self.retry.max_total)
        timeout = self.settings.timeout
        bound = timeout * self.max_attempts + self.retry.max_total
        return reason + "; a request takes at most timeout x tries + waiting = %g s x %d + %g s = %g s" % (
            timeout, self.max_attempts, self.retry.max_total, bound)

    def _deadline_error(self, what, problem=None):
        return DeadlineExceededError(
            "%s: the deadline of %g s for this task's API requests passed (%d requests sent, %d of them retries)%s. "
            "Raise the deadline option, or look into why the API is slow." % (
                what, self.deadline.seconds, self.request_count, self.retry_count,
                "; last problem: %s" % problem if problem else ""))

    def _attempt(self, method, url, body, idempotent, what, last_problem=None):
        """One try: returns the decoded body or a ``_Retryable``; raises errors that retrying cannot fix.
        ``last_problem``: the previous try's, for the error when the deadline passes before this one starts."""
        try:
            with self.concurrency:  # the try's time starts once it may send, not while it queues
                with transport.bounded_by(self._try_deadline(what, last_problem)) as deadline:
                    response, answer = self._exchange(method, url, body, deadline, what)
        except (requests.exceptions.RequestException, transport.BodyTimeout) as exc:
            problem, may_have_arrived = self._transport_problem(exc, what, deadline)
            cut_short = self.deadline is not None and self.deadline.passed()
            if may_have_arrived and not idempotent:
                raise (DeadlineExceededError if cut_short else TransportError)(
                    "%s: %s; not retried because it may have been carried out." % (what, problem)) from exc
            return _Retryable(problem, TransportError, cut_short=cut_short)
        status = response.status_code
        if status == 429:
            self.concurrency.throttled()
        elif status < 400:
            self.concurrency.succeeded()
        if status >= 400:
            if status not in (RETRY_STATUSES if idempotent else RETRY_STATUSES_NOT_IDEMPOTENT):
                raise self._status_error(response, answer, what)
            detail = _detail(answer).rstrip(".")
            return _Retryable("HTTP %d%s" % (status, (": " + detail) if detail else ""),
                              RateLimitError if status == 429 else ApiError, status, urlsplit(url).path,
                              parse_retry_after(response.headers.get("Retry-After")))
        result = _decode(answer)
        if result is not None:
            return result
        problem = "the body is not valid JSON (status %d)" % status
        if not idempotent:  # it was carried out; asking again could do it twice
            raise InvalidResponseError("%s: %s." % (what, problem), status=status, path=urlsplit(url).path)
        return _Retryable(problem, InvalidResponseError, status, urlsplit(url).path)

    def _try_deadline(self, what, last_problem):
        """When one try must end: ``timeout`` from now, or the task's deadline if that comes first. The deadline
        may pass while a retry waits its turn or sleeps (longer than asked, on a loaded machine): the error then
        still names the problem that asked for the retry."""
        budget = self.settings.timeout
        if self.deadline is not None:
            if self.deadline.passed():
                raise self._deadline_error(what, last_problem)
            budget = min(budget, self.deadline.remaining())
        return Deadline(budget, self.retry.clock)

    def _exchange(self, method, url, body, deadline, what):
        """Send, follow same-origin redirects of a GET (``http_rules.follow``), read the whole body; returns the final
        response and its body (bytes)."""
        hops = []

        def send(hop):
            hops.append(hop)
            with self._counter_lock:
                self.request_count += 1
            left = max(deadline.remaining(), 0.001)
            return self._send_once(method, hop, body, (left, left))

        try:
            response = http_rules.follow(send, method, url, self._route)
        except http_rules.Refused as refused:
            refused.response.close()
            raise self._redirect_error(method, refused, what) from None
        if 300 <= response.status_code < 400:
            response.close()
            raise RedirectError("%s: the server answered HTTP %d%s, not an API answer." % (
                what, response.status_code, "" if response.headers.get("Location") else " without a Location"),
                status=response.status_code, path=urlsplit(url).path)
        try:
            return response, transport.read_body(response, deadline, self.max_response_bytes)
        except transport.BodyTooLarge as exc:
            raise ResponseTooLargeError(
                "%s: the answer is larger than the max_response_bytes limit of %d bytes (%s %d bytes); it "
                "was not read further. Raise max_response_bytes if such answers are expected."
                % (what, self.max_response_bytes, "announced" if exc.announced else "more than", exc.size),
                status=response.status_code, path=urlsplit(hops[-1]).path) from None

    def _send_once(self, method, url, body, timeout):
        """One HTTP exchange, redirects not followed, body not read yet.

        For the session it set up, the client does what ``Session.request`` would do with that
        session's settings, minus the work that could not change the outcome: requests would merge
        the session's settings into every request anew (headers, params, hooks - the client sets
        none -, cookies, proxies, a netrc and environment lookup that ``trust_env = False`` already
        turns off), about a quarter of the CPU time of a request. The request gets the session's
        headers, cookies and auth (the token, only through ``TokenAuth``) and goes to the session's
        adapter for its URL with the session's proxies; cookies the server sets are kept in the
        session as requests keeps them. ``test_requests_are_what_the_session_would_have_prepared``
        holds the two ways to the same request."""
        session = self.session
        if session is not self._own_session:
            return session.request(method, url, json=body, timeout=timeout, verify=self._verify,
                                   allow_redirects=False, stream=True)
        request = requests.PreparedRequest()
        request.prepare(method=method, url=url, headers=session.headers, json=body, auth=session.auth,
                        cookies=session.cookies)
        response = session.get_adapter(request.url).send(
            request, stream=True, timeout=timeout, verify=self._verify, cert=session.cert, proxies=session.proxies)
        if "Set-Cookie" in response.headers:
            requests.cookies.extract_cookies_to_jar(session.cookies, request, response.raw)
        return response

    def _redirect_error(self, method, refused, what):
        """The ``RedirectError`` for a redirect ``http_rules.follow`` did not follow: a 3xx is never retried."""
        status, path = refused.response.status_code, urlsplit(refused.seen[0]).path
        if refused.reason == http_rules.MALFORMED:
            message = "the server redirected (HTTP %d) to a malformed URL; not followed." % status
        elif refused.reason == http_rules.OTHER_ORIGIN:
            message = ("the server redirected (HTTP %d) to another origin, %s; the token is only ever sent to %s, so the "
                       "redirect was not followed. Check api_url." % (
                           status, _show_origin(http_rules.origin(urlsplit(refused.url))), _show_origin(self._route.origin)))
        elif refused.reason == http_rules.NOT_GET:
            message = ("the server redirected the %s (HTTP %d) to %s; it was not sent again, because it may already have "
                       "been carried out." % (method, status, describe_request(method, refused.url)))
        elif refused.reason == http_rules.LOOP:
            message = "the server's redirects loop (back to %s); not followed further." % describe_request(method, refused.target)
        else:
            message = "more than %d redirects; not followed further." % http_rules.MAX_REDIRECTS
        return RedirectError("%s: %s" % (what, message), status=status, path=path)

    def _transport_problem(self, exc, what, deadline):
        """``(problem, may have arrived)`` for a failed send (``http_rules.failure``); a TLS failure is raised
        (retrying cannot fix it)."""
        timeout = self.settings.timeout
        within = "the timeout of %g s" % timeout if deadline.seconds >= timeout else (
            "the %.2g s left before the deadline" % deadline.seconds)
        kind = http_rules.failure(exc).kind
        if kind == http_rules.TLS:
            raise TransportError(
                "%s: TLS certificate verification failed for %s. Check the URL; for a test server with "
                "a self-signed certificate set validate_certs: false." % (what, self._base.netloc))
        if kind == http_rules.CONNECT_TIMEOUT:
            return "no connection within %s" % within, False
        if kind == http_rules.NO_ANSWER:
            return "no answer within %s" % within, True
        if kind == http_rules.BODY_TIMEOUT:
            return ("the answer did not arrive completely within %s (it bounds connecting, the headers and the "
                    "whole body)" % within), True
        if kind == http_rules.NO_CONNECTION:
            return "could not connect to %s (%s)" % (self._base.netloc, type(exc.args[0].reason).__name__), False
        if kind == http_rules.CLOSED:
            return "the connection to %s was closed or reset before an answer arrived" % self._base.netloc, True
        return "the connection failed while reading the answer (%s)" % type(exc).__name__, True

    def _status_error(self, response, body, what):
        status, path, detail = response.status_code, urlsplit(response.url or "").path, _detail(body)
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

    # -- fan-out ----------------------------------------------------------------------------

    def imap(self, function, items, return_errors=False):
        """``function(item)`` for each item, run concurrently, results yielded in order as they are needed.

        All calls share the client's one pool of ``max_concurrency`` workers, however they nest: a
        caller that reaches a call no worker has started runs it itself, so a nested fan-out never
        waits for a worker held by its own parent. At most ``FAN_OUT_AHEAD`` x ``max_concurrency`` calls
        per fan-out run or wait unread: enough ahead that requests keep flowing while the caller works
        through earlier results (a page of backups), few enough that memory stays bounded. HTTP
        requests are bounded by ``concurrency``.

        Errors, the one way: raised when their result is reached (so everything before it has been
        seen and nothing after it is started), or with ``return_errors`` yielded as ``(result, None)``
        / ``(None, DivioError)`` pairs so one item's failure does not stop the others.
        """
        if return_errors:
            function = _returning_errors(function)
        if self.max_concurrency < 2:
            yield from (function(item) for item in items)
            return
        pending = collections.deque()
        try:
            for item in items:
                pending.append((self._executor().submit(function, item), function, item))
                if len(pending) >= FAN_OUT_AHEAD * self.max_concurrency:
                    yield _outcome(*pending.popleft())
            while pending:
                yield _outcome(*pending.popleft())
        finally:
            # Abandoned early (an error, or the caller stopped reading): calls not started never will;
            # calls already running finish on their own (waiting here could block a worker).
            for future, _function, _item in pending:
                future.cancel()

    def map(self, function, items, return_errors=False):
        """``list(imap(function, items, return_errors))``."""
        return list(self.imap(function, items, return_errors))

    def _executor(self):
        with self._counter_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="divio")
            return self._pool


class _Retryable:
    """How a try failed when trying again may help: what to say, which error to raise if it keeps failing."""

    def __init__(self, problem, error_class, status=None, path=None, wait=None, cut_short=False):
        self.problem = problem
        self.error_class = error_class
        self.status = status
        self.path = path
        self.wait = wait  # seconds the server asked for (Retry-After), else None: our backoff
        self.cut_short = cut_short  # the task's deadline ended this try

    def error(self, message):
        if self.error_class is TransportError:
            return TransportError(message)
        return self.error_class(message, status=self.status, path=self.path)


def _outcome(future, function, item):
    """The result of a submitted call; one no worker has picked up yet runs in this thread instead."""
    if future.cancel():
        return function(item)
    return future.result()


def _returning_errors(function):
    def attempt(item):
        try:
            return function(item), None
        except DivioError as exc:
            return None, exc
    return attempt


def _decode(body):
    """The JSON body (bytes) decoded, or None when it is not JSON (a proxy's HTML page, a cut-off body, absurd
    nesting)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
