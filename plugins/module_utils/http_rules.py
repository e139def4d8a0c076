# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The one set of rules for every request sent with requests: the API (client.py), the storage a download comes
from (fetch.py) and the storage an upload goes to (uploads.py).

Decided here, once: where a request may go (``ApiRoute``: the token only ever to the API's origin; ``StorageRoute``:
a presigned URL, any http(s) origin, plain http only to this machine unless allowed), what it carries there (the
storage gets a ``bare_request``: no token, no cookie, no netrc), which redirects are followed (``follow``: a GET's,
within the route, no loop, at most ``MAX_REDIRECTS``), and what a failed exchange was (``failure``). The rooms
word a ``Refused`` or a ``Failure`` in their own terms (their messages name their options), or say a ``Failure``
as it is (``Failure.said``). No Ansible imports.
"""

import socket
from urllib.parse import urljoin, urlsplit, urlunsplit

from ansible_collections.divio.cloud.plugins.module_utils import transport
from ansible_collections.divio.cloud.plugins.module_utils.connection import is_loopback

try:
    import requests
    from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout
except ImportError:  # the client reports the missing library
    requests = None

REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Why a URL is not sent to, or a redirect not followed (``Refused.reason``), in the order they are checked.
MALFORMED, OTHER_ORIGIN, NOT_HTTP, PLAIN_HTTP, NOT_GET, LOOP, TOO_MANY = (
    "malformed", "other origin", "not http(s)", "plain http", "not a GET", "loop", "too many")

# What a failed exchange was (``Failure.kind``), whichever layer raised it.
TLS, CONNECT_TIMEOUT, NO_ANSWER, BODY_TIMEOUT, NO_CONNECTION, CLOSED, CUT_SHORT, OS_ERROR, OTHER = (
    "tls", "connect timeout", "no answer", "body timeout", "no connection", "closed", "cut short", "os error", "other")
_TIMEOUTS = (CONNECT_TIMEOUT, NO_ANSWER, BODY_TIMEOUT)
# Each kind in words, for a room that has none of its own (uploads.py); the client and fetch.py name their options.
_SAID = {TLS: "a failed TLS certificate verification", CONNECT_TIMEOUT: "no connection within the timeout",
         NO_ANSWER: "no answer within the timeout", BODY_TIMEOUT: "no complete answer within the timeout",
         NO_CONNECTION: "no connection", CLOSED: "the connection closed or reset before an answer",
         CUT_SHORT: "an answer cut short", OS_ERROR: "a system error", OTHER: "a failed exchange"}


class Refused(Exception):
    """A URL a route does not send to, or a redirect not followed: the ``reason``, the ``url`` refused (a redirect's
    target as given), the ``target`` it would have been sent as, the redirect's ``response`` (left open: the caller
    reads what it words, then closes it) and the URLs sent so far (``seen``, the first first)."""

    def __init__(self, reason, url, target=None, response=None, seen=(), error=None):
        super().__init__(reason)
        self.reason, self.url, self.target, self.response, self.seen = reason, url, target, response, list(seen)
        self.error = error  # MALFORMED: the ValueError that made the redirect's URL unusable


class ApiRoute:
    """The API's origin: the only place the token goes."""

    def __init__(self, base_url):
        self.base = urlsplit(base_url)
        self.origin = origin(self.base)

    def place(self, url):
        """``url`` on our origin, ready to carry the token; ``Refused(OTHER_ORIGIN)`` when it points elsewhere. The
        one origin rule, for redirects and next links alike: the API's host and port; an ``http://`` URL without a
        port under an ``https://`` API (a proxy that forgot the scheme) goes over https, never down. ValueError when
        malformed."""
        parts = urlsplit(url)
        where = origin(parts)
        if where[0] not in _DEFAULT_PORTS or not where[1]:
            raise ValueError(url)
        upgraded = where[:2] == ("http", self.origin[1]) and self.origin[0] == "https" and parts.port is None
        if where != self.origin and not upgraded:
            raise Refused(OTHER_ORIGIN, url)
        return urlunsplit((self.base.scheme, self.base.netloc, parts.path or "/", parts.query, ""))


class StorageRoute:
    """A presigned storage URL (a download, an upload, a finish_url): http(s) to a host; plain http only to this
    machine unless ``allow_plain_http``. Nothing of ours goes there (``bare_request``)."""

    def __init__(self, allow_plain_http=False):
        self.allow_plain_http = allow_plain_http

    def place(self, url):
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
            raise Refused(NOT_HTTP, url)
        if parts.scheme == "http" and not self.allow_plain_http and not is_loopback(parts.hostname):
            raise Refused(PLAIN_HTTP, url)
        return url


def origin(parts):
    """``(scheme, host, port)`` of a split URL: where a token may go. Raises ValueError on a bad port."""
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())


def follow(send, method, url, route):
    """The one redirect loop. ``send(url)`` makes one exchange (its body not read yet); returns the first answer that
    is not a redirect with a Location. A redirect is followed only for a GET, only where ``route`` places it, never
    back to a URL already sent and at most ``MAX_REDIRECTS`` times; any other raises ``Refused``."""
    seen = [url]
    while True:
        response = send(url)
        if response.status_code not in REDIRECT_STATUSES or not response.headers.get("Location"):
            return response
        url = _next_hop(method, response, seen, route)
        response.close()
        seen.append(url)


def _next_hop(method, response, seen, route):
    try:
        url = urljoin(seen[-1], response.headers["Location"].strip())
        target = route.place(url)
    except ValueError as exc:
        raise Refused(MALFORMED, None, response=response, seen=seen, error=exc) from exc
    except Refused as exc:
        raise Refused(exc.reason, url, response=response, seen=seen) from None
    reason = NOT_GET if method != "GET" else LOOP if target in seen else TOO_MANY if len(seen) > MAX_REDIRECTS else None
    if reason is not None:
        raise Refused(reason, url, target, response, seen)
    return target


def bare_request(method, url, headers, data=None):
    """A request that carries nothing but ``headers`` (and ``data``): no token, no cookie, no netrc credentials."""
    return requests.Request(method, url, headers=headers, data=data).prepare()


def send_bare(adapter, request, timeout, verify, stream=True):
    """``request`` through ``adapter``, redirects not followed; proxies as the environment says (HTTPS_PROXY,
    NO_PROXY), read once per request."""
    return adapter.send(request, stream=stream, timeout=timeout, verify=verify,
                        proxies=requests.utils.get_environ_proxies(request.url))


class Failure:
    """What a failed exchange was: its ``kind``, whether it ``timed_out`` by any sign (a timeout class, or a
    message that says so), and ``said``: the kind in words with the exception's class ("no connection
    (ConnectionError)"), never its text, which may hold a signed URL."""

    def __init__(self, kind, timed_out, said):
        self.kind, self.timed_out, self.said = kind, timed_out, said


def failure(exc):
    """The one classifier of transport errors, for requests' exceptions, urllib3's from a raw read, ours
    (``transport.BodyTimeout``) and the system's."""
    kind = _kind(exc)
    return Failure(kind, kind in _TIMEOUTS or "timed out" in str(exc).lower(), "%s (%s)" % (_SAID[kind], type(exc).__name__))


def _kind(exc):
    if isinstance(exc, requests.exceptions.SSLError):
        return TLS
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return CONNECT_TIMEOUT
    if isinstance(exc, requests.exceptions.Timeout):
        return NO_ANSWER
    # A read timeout in the body, which requests reports as a connection error.
    if isinstance(exc, (transport.BodyTimeout, socket.timeout, Urllib3Timeout)) or \
            (exc.args and isinstance(exc.args[0], ReadTimeoutError)):
        return BODY_TIMEOUT
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return NO_CONNECTION if isinstance(reason, NewConnectionError) else CLOSED
    if isinstance(exc, (ProtocolError, requests.exceptions.ChunkedEncodingError)):
        return CUT_SHORT
    if isinstance(exc, OSError) and exc.errno is not None:
        return OS_ERROR
    return OTHER
