"""Hostile and broken servers (issue 14): the token never shows, redirects never carry it elsewhere, plain
http is refused off loopback, and every run ends in bounded time and memory.

Every test talks real HTTP to ``HostileServer``s on 127.0.0.1 (``hostile_server.py``); the autouse guard
fails any test in which anything tried to resolve or connect to a non-loopback address. Each class has
several variants; the last tests sweep every error path, in-process and through ansible-playbook at
-vvvv, against servers that echo the Authorization header back, and search all output for any
6-character piece of the token.
"""

import json
import logging
import time
import tracemalloc

import pytest

from hostile_server import TOKEN, assert_no_token, token_pieces

from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    ApiError,
    ConfigurationError,
    DeadlineExceededError,
    DivioError,
    InvalidResponseError,
    ListTooLongError,
    PaginationError,
    RedirectError,
    ResponseTooLargeError,
    TransportError,
)

APPS = "/apps/v3/applications/"
BACKUPS = "/apps/v3/backups/"
SLACK = 2.0  # seconds allowed beyond a computed bound for thread scheduling on a loaded machine


def elapsed_of(function, *args):
    started = time.monotonic()
    try:
        function(*args)
    finally:
        elapsed_of.last = time.monotonic() - started


def answer(obj, status=200):
    return lambda ex: ex.json(obj, status)


def paged(total, per_page, with_count=True):
    """A DRF list of ``total`` applications in pages of at most ``per_page``, whatever page_size asks."""

    def behaviour(ex):
        number = int(ex.query.get("page", "1"))
        start = (number - 1) * per_page
        items = [{"uuid": "app%05d" % i, "slug": "app-%d" % i} for i in range(start, min(start + per_page, total))]
        more = start + per_page < total
        following = "%s%s?page=%d&page_size=%s" % (ex.origin, ex.path, number + 1, ex.query.get("page_size", "")) if more else None
        ex.page(items, following, total if with_count else None)

    return behaviour


# -- 1. secrets ---------------------------------------------------------------------------------

def echo(status, where="detail"):
    """Echo the Authorization header back: in the body, in headers, and a piece of it in a prefix field."""

    def behaviour(ex):
        headers = [("X-Echo", ex.authorization), ("WWW-Authenticate", 'Token realm="%s"' % ex.token),
                   ("Retry-After", "0")]
        if where == "detail":
            ex.json({"detail": "you sent %s (%s...)" % (ex.authorization, ex.token[:8])}, status, headers)
        else:
            ex.send(status, "<html><h1>Denied %s</h1>\x1b[2J%s</html>" % (ex.authorization, ex.token.upper()),
                    headers, content_type="text/html")

    return behaviour


@pytest.mark.parametrize("where", ["detail", "html"])
@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 503])
def test_a_server_echoing_the_token_never_gets_it_shown(hostile, make_client, status, where):
    server = hostile(echo(status, where))
    with pytest.raises(ApiError) as info:
        make_client(server.url).get(APPS)
    shown = "%s %r %r %r" % (info.value, info.value, info.value.args, info.value.details)
    assert_no_token(shown)
    assert all(headers["Authorization"] == "Token " + TOKEN for _m, _p, headers, _b in server.requests)
    assert "\x1b" not in shown


@pytest.mark.parametrize("location", [
    "/apps/v3/echo/{token}/",                 # same origin, token in the path: followed, then loops
    "http://127.0.0.1:1/?token={token}",       # another origin, token in the query
    "http://{token}.example/",                 # another origin, token as the host (never resolved)
    "http://[{token}/",                        # malformed
])
def test_a_token_echoed_into_a_redirect_never_shows(hostile, make_client, location):
    def behaviour(ex):
        ex.redirect(location.format(token=ex.token))

    server = hostile(behaviour)
    with pytest.raises(RedirectError) as info:
        make_client(server.url).get(APPS)
    assert_no_token("%s %r %r" % (info.value, info.value.args, info.value.details))


# -- 2. redirects -------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_loopback_port_is_never_followed(hostile, make_client, status):
    """Another port is another origin, even on the same host: the token must not go there."""
    thief = hostile(answer({"stolen": True}))
    server = hostile(lambda ex: ex.redirect(thief.url + APPS, status))
    client = make_client(server.url)
    with pytest.raises(RedirectError) as info:
        client.get(APPS)
    message = str(info.value)
    assert "http://127.0.0.1:%d" % thief.port in message and "http://127.0.0.1:%d" % server.port in message
    assert thief.requests == [] and len(server.requests) == 1 and client.retry_count == 0


@pytest.mark.parametrize("location", ["http://api.example.com/apps/v3/applications/",
                                      "https://api.example.com/apps/v3/applications/",
                                      "//10.9.8.7:8000/apps/v3/applications/"])
def test_a_redirect_off_loopback_is_refused_before_connecting(hostile, make_client, loopback_only, location):
    server = hostile(lambda ex: ex.redirect(location))
    with pytest.raises(RedirectError, match="another origin"):
        make_client(server.url).get(APPS)
    assert loopback_only.attempts == []  # not even resolved


@pytest.mark.parametrize("status", [307, 308])
def test_a_post_is_never_sent_again_on_307_or_308(hostile, make_client, status):
    def behaviour(ex):
        if ex.path == BACKUPS:
            ex.redirect("%s/apps/v3/backups-elsewhere/" % ex.origin, status)
        else:
            ex.json({"uuid": "b"}, 201)

    server = hostile(behaviour)
    with pytest.raises(RedirectError, match="it was not sent again"):
        make_client(server.url).post(BACKUPS, {"environment": "e"})
    assert [(method, path) for method, path, _h, _b in server.requests] == [("POST", BACKUPS)]


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_a_redirect_loop_ends_at_once_without_retries(hostile, make_client, hops):
    def behaviour(ex):
        number = int(ex.query.get("hop", "0"))
        ex.redirect("%s?hop=%d" % (APPS, (number + 1) % hops), 302 if number % 2 else 307)

    server = hostile(behaviour)
    client = make_client(server.url, retries=5)
    with pytest.raises(RedirectError, match="loop"):
        client.get(APPS, {"hop": 0})
    assert len(server.requests) == hops and client.retry_count == 0


def test_a_same_origin_redirect_of_a_get_is_followed(hostile, make_client):
    def behaviour(ex):
        if ex.path == APPS:
            ex.redirect("/apps/v3/applications-v2/?x=1", 308)
        else:
            ex.json({"uuid": "a", "followed": ex.query.get("x")})

    server = hostile(behaviour)
    assert make_client(server.url).get(APPS) == {"uuid": "a", "followed": "1"}
    assert [headers["Authorization"] for _m, _p, headers, _b in server.requests] == ["Token " + TOKEN] * 2


@pytest.mark.parametrize("status, headers", [(302, []), (300, [("Location", "/x/")]), (304, [])])
def test_other_3xx_are_never_retried(hostile, make_client, status, headers):
    server = hostile(lambda ex: ex.send(status, b"", headers))
    client = make_client(server.url, retries=5)
    with pytest.raises(RedirectError, match="HTTP %d" % status):
        client.get(APPS)
    assert len(server.requests) == 1


# -- 3. plain http --------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://api.example.com", "http://10.1.2.3:8000", "http://[2001:db8::1]:80",
                                 "http://127.0.0.1.example.com"])
def test_plain_http_off_loopback_is_refused_before_any_connection(make_client, loopback_only, url):
    with pytest.raises(ConfigurationError, match="allow_plain_http"):
        make_client(url)
    assert loopback_only.attempts == []


def test_opting_in_to_plain_http_really_connects_which_the_guard_stops(make_client, loopback_only):
    """The other side of the refusal tests: with the opt-in the client does try - and the guard sees it."""
    client = make_client("http://api.example.com", allow_plain_http=True, retries=1)
    with pytest.raises(TransportError):
        client.get(APPS)
    assert loopback_only.take() == ["resolve api.example.com"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_plain_http_to_loopback_is_allowed(hostile, make_client, host):
    server = hostile(answer({"uuid": "me"}))
    assert make_client("http://%s:%d" % (host, server.port)).get("/iam/v3/me/") == {"uuid": "me"}


@pytest.mark.parametrize("next_url", ["http://api.example.com/apps/v3/applications/?page=2",
                                      "http://10.0.0.1:%d/apps/v3/applications/?page=2"])
def test_a_next_link_to_plain_http_elsewhere_is_refused_before_connecting(hostile, make_client, loopback_only, next_url):
    def behaviour(ex):
        ex.page([{"uuid": "a"}], next_url % ex.server.port if "%d" in next_url else next_url, 2)

    server = hostile(behaviour)
    with pytest.raises(PaginationError, match="another server"):
        list(make_client(server.url).paginate(APPS))
    assert loopback_only.attempts == [] and len(server.requests) == 1


# -- 4. bounded time ------------------------------------------------------------------------------

def bound(timeout, tries, waiting=0.2):
    return timeout * tries + waiting + SLACK


def test_a_dripping_body_cannot_stretch_the_timeout(hostile, make_client):
    body = json.dumps({"results": ["x" * 400]})
    server = hostile(lambda ex: ex.drip(body, 0.02))  # 8 s of body, each byte well within any read timeout
    client = make_client(server.url, timeout=0.5, retries=2)
    with pytest.raises(TransportError) as info:
        elapsed_of(client.get, APPS)
    assert "did not arrive completely within the timeout of 0.5 s" in str(info.value)
    assert "a request takes at most timeout x tries + waiting = 0.5 s x 2" in str(info.value)
    assert elapsed_of.last < bound(0.5, 2) and len(server.requests) == 2


def test_dripping_headers_cannot_stretch_the_timeout(hostile, make_client):
    server = hostile(lambda ex: ex.drip_headers(0.05))
    client = make_client(server.url, timeout=0.5, retries=2)
    with pytest.raises(TransportError, match="within the timeout of 0.5 s"):
        elapsed_of(client.get, APPS)
    assert elapsed_of.last < bound(0.5, 2)


@pytest.fixture
def slow_resolver(monkeypatch):
    """``localhost`` resolves only when released (a resolver that hangs); other names as before (the guard)."""
    import socket
    import threading

    release, lookups = threading.Event(), []
    resolve = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "localhost":
            lookups.append(host)
            release.wait(10)
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield lookups
    release.set()


def test_a_hanging_name_lookup_cannot_stretch_the_timeout(hostile, make_client, slow_resolver):
    # Name resolution happens before any socket exists, so no socket timeout bounds it: without its own bound
    # each try would wait for the resolver (here 10 s).
    server = hostile(answer({"uuid": "me"}))
    client = make_client("http://localhost:%d" % server.port, timeout=0.5, retries=2)
    with pytest.raises(TransportError, match="no connection within the timeout of 0.5 s"):
        elapsed_of(client.get, "/iam/v3/me/")
    assert elapsed_of.last < bound(0.5, 2) and slow_resolver == ["localhost", "localhost"]
    assert server.requests == []


class Resolver:
    """Answers lookups of the names in ``names`` (name -> loopback addresses, in order) and records every lookup
    of a name (urllib3 looks the addresses up too, which asks no resolver)."""

    def __init__(self, names):
        self.names = names
        self.lookups = []


@pytest.fixture
def resolver(monkeypatch):
    import socket

    fake = Resolver({})
    resolve = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if not host[:1].isdigit():
            fake.lookups.append(host)
        if host in fake.names:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))
                    for address in fake.names[host]]
        return resolve(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return fake


def test_each_address_of_a_name_is_tried_in_turn(hostile, make_client, resolver):
    """The client resolves the name itself (within the timeout) and connects to its addresses one by one; the
    requests still name the host, the connection after the first one too."""
    server = hostile(lambda ex: ex.json({"host": ex.headers["Host"]}))
    resolver.names["localhost"] = ["127.0.0.2", "127.0.0.1"]  # nothing listens on 127.0.0.2: refused
    client = make_client("http://localhost:%d" % server.port, retries=1)
    assert [client.get("/iam/v3/me/") for _request in range(2)] == [{"host": "localhost:%d" % server.port}] * 2
    assert resolver.lookups == ["localhost"] and len(server.requests) == 2  # one connection, kept alive


def test_a_name_with_a_trailing_dot_is_looked_up_with_it(hostile, make_client, resolver):
    """A trailing dot says "fully qualified: no search domains" to the resolver; it is kept for the lookup."""
    server = hostile(answer({"uuid": "me"}))
    resolver.names["localhost."] = ["127.0.0.1"]
    client = make_client("http://localhost.:%d" % server.port, allow_plain_http=True)
    assert client.get("/iam/v3/me/") == {"uuid": "me"} and resolver.lookups == ["localhost."]


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_over_https_a_dripping_body_cannot_stretch_the_timeout_either(hostile, make_client, certificate):
    server = hostile(lambda ex: ex.drip(json.dumps({"x": "y" * 400}), 0.02), tls=certificate)
    client = make_client(server.url, timeout=0.5, retries=2, validate_certs=False)
    with pytest.raises(TransportError, match="did not arrive completely within the timeout of 0.5 s"):
        elapsed_of(client.get, APPS)
    assert elapsed_of.last < bound(0.5, 2) and len(server.requests) == 2


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_over_https_answers_arrive_and_a_downgrade_is_another_origin(hostile, make_client, certificate):
    def behaviour(ex):
        if ex.path == APPS:
            ex.redirect("http://127.0.0.1:%d/apps/v3/plain/" % ex.server.port)
        else:
            ex.json({"uuid": "me"})

    server = hostile(behaviour, tls=certificate)
    client = make_client(server.url, validate_certs=False)
    assert client.get("/iam/v3/me/") == {"uuid": "me"}
    with pytest.raises(RedirectError, match="another origin, http://127.0.0.1:%d" % server.port):
        client.get(APPS)
    with pytest.raises(TransportError, match="certificate verification failed"):
        make_client(server.url).get("/iam/v3/me/")  # validate_certs: a self-signed certificate is refused, not retried
    assert len(server.requests) == 2


def test_a_server_that_never_answers_ends_in_bounded_time(hostile, make_client):
    server = hostile(lambda ex: ex.stall())
    client = make_client(server.url, timeout=0.4, retries=3)
    with pytest.raises(TransportError, match="no answer within the timeout of 0.4 s"):
        elapsed_of(client.get, APPS)
    assert elapsed_of.last < bound(0.4, 3) and client.retry_count == 2


def test_the_deadline_bounds_all_retries(hostile, make_client):
    server = hostile(lambda ex: ex.json({"detail": "busy"}, 503, [("Retry-After", "0")]))
    client = make_client(server.url, retries=100, deadline=1)
    with pytest.raises(DeadlineExceededError, match="deadline of 1 s") as info:
        elapsed_of(client.get, APPS)
    assert "HTTP 503" in str(info.value)
    assert elapsed_of.last < 1 + SLACK and client.retry_count > 0


def test_the_deadline_cuts_a_dripping_answer_short(hostile, make_client):
    server = hostile(lambda ex: ex.drip(json.dumps({"x": "y" * 500}), 0.02))
    client = make_client(server.url, timeout=30, deadline=0.8)
    with pytest.raises(DeadlineExceededError):
        elapsed_of(client.get, APPS)
    assert elapsed_of.last < 0.8 + SLACK


def test_a_retry_after_beyond_the_budget_gives_up_at_once(hostile, make_client):
    server = hostile(lambda ex: ex.json({}, 429, [("Retry-After", "3600")]))
    client = make_client(server.url, retries=6)
    with pytest.raises(ApiError, match="asked to wait 3600 s"):
        elapsed_of(client.get, APPS)
    assert elapsed_of.last < SLACK and len(server.requests) == 1


# -- 5. bounded memory and size -------------------------------------------------------------------

def test_an_announced_huge_body_is_refused_unread(hostile, make_client):
    server = hostile(lambda ex: ex.endless(announce=10 ** 10))
    with pytest.raises(ResponseTooLargeError, match="announced 10000000000 bytes"):
        make_client(server.url, max_response_bytes=1024 * 1024).get(APPS)


def test_an_endless_body_is_cut_at_the_cap_in_bounded_memory(hostile, make_client):
    cap = 1024 * 1024
    server = hostile(lambda ex: ex.endless())
    client = make_client(server.url, max_response_bytes=cap)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError, match="limit of %d bytes" % cap):
            client.get(APPS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * cap, peak


def test_a_gzip_bomb_is_cut_at_the_cap(hostile, make_client):
    server = hostile(lambda ex: ex.gzip_bomb(64 * 1024 * 1024))
    with pytest.raises(ResponseTooLargeError):
        make_client(server.url, max_response_bytes=1024 * 1024).get(APPS)


@pytest.mark.parametrize("concurrency", [1, 8])
def test_an_absurd_count_is_refused_without_fetching_pages(hostile, make_client, concurrency):
    server = hostile(lambda ex: ex.page([{"uuid": "a"}], "%s%s?page=2" % (ex.origin, ex.path), 10 ** 12))
    with pytest.raises(ListTooLongError, match="announces 1000000000000 items"):
        list(make_client(server.url, max_concurrency=concurrency).paginate(APPS))
    assert len(server.requests) == 1


@pytest.mark.parametrize("count", [None, 1])
def test_endless_next_links_end_at_max_pages(hostile, make_client, count):
    """Without a count nothing else stops them; with one the count check does (even sooner)."""

    def behaviour(ex):
        number = int(ex.query.get("page", "1"))
        ex.page([{"uuid": "a%d" % number}], "%s%s?page=%d" % (ex.origin, ex.path, number + 1), count)

    server = hostile(behaviour)
    with pytest.raises(PaginationError) as info:
        list(make_client(server.url, max_pages=30).paginate(APPS))
    if count is None:
        assert isinstance(info.value, ListTooLongError) and "more than 30 pages" in str(info.value)
    assert len(server.requests) <= 30


@pytest.mark.parametrize("with_count", [True, False], ids=["numbered-pages", "next-links"])
def test_the_defaults_read_a_thousand_applications_in_pages_of_ten(hostile, with_count):
    """The fleet-scale account through a server that hands out small pages, with every default limit."""
    server = hostile(paged(1000, 10, with_count))
    with DivioClient.from_options({"api_url": server.url, "api_token": TOKEN}, environ={}) as client:
        slugs = [app["slug"] for app in client.paginate(APPS)]
    # Its pages are its own (page_size ignored): two reads of 100 pages that must agree, and the window or the
    # few asked for at once before that showed (pagination.py)
    assert slugs == ["app-%d" % i for i in range(1000)] and 200 < len(server.requests) <= 200 + 16


def test_items_beyond_max_items_are_refused(hostile, make_client):
    server = hostile(paged(50, 10, with_count=False))
    with pytest.raises(ListTooLongError, match="more than 25 items"):
        list(make_client(server.url, max_items=25).paginate(APPS))
    # page 1, the window that showed page_size ignored, then (no count to plan by) pages 2, and 3 and 4 together
    assert len(server.requests) == 5


# -- the sweep: every error path against servers that echo the token --------------------------------

def _echoing(kind):
    """Hostile behaviours for each error path; each puts the token (or a piece) wherever it can."""

    def behaviour(ex):
        token, auth = ex.token, ex.authorization
        piece = token[:8]
        headers = [("X-Echo", auth), ("Retry-After", "0")]
        number = int(ex.query.get("page", "1"))
        if kind == "status":
            ex.json({"detail": "%s %s" % (auth, piece)}, int(ex.query.get("status", "500")), headers)
        elif kind == "html":
            ex.send(200, "<p>%s</p>" % auth, headers, content_type="text/html")
        elif kind == "redirect-away":
            ex.redirect("http://127.0.0.1:1/%s?t=%s" % (token, token), 302, headers)
        elif kind == "redirect-host":
            ex.redirect("https://%s.example/" % token.lower(), 301, headers)
        elif kind == "redirect-loop":
            ex.redirect("/apps/v3/%s/?p=%s" % (piece, piece), 307, headers)
        elif kind == "post-redirect":
            ex.redirect("%s/apps/v3/%s/" % (ex.origin, token), 308, headers)
        elif kind == "next-away":
            ex.page([{"uuid": token}], "https://%s.example/apps/v3/?page=2" % token, 2)
        elif kind == "next-loop":
            ex.page([{"uuid": piece}], "%s%s?page=1&t=%s" % (ex.origin, ex.path, token) if number == 1 else
                    "%s%s?page=1&t=%s" % (ex.origin, ex.path, token), 9)
        elif kind == "count":
            ex.page([{"uuid": token}], None, 5)
        elif kind == "shape":
            ex.json({"count": token, "next": None, "results": [token]}, 200, headers)
        elif kind == "large":
            ex.send(200, json.dumps({"detail": auth * 200000}), headers)
        elif kind == "drip":
            ex.drip(json.dumps({"detail": auth * 50}), 0.02, headers=headers)
        elif kind == "busy":
            ex.json({"detail": "busy, %s" % auth}, 503, headers)

    return behaviour


SWEEP = [
    ("status", lambda c: c.get(APPS, {"status": 400}), ApiError),
    ("status", lambda c: c.get(APPS, {"status": 401}), ApiError),
    ("status", lambda c: c.get(APPS, {"status": 403}), ApiError),
    ("status", lambda c: c.get(APPS, {"status": 404}), ApiError),
    ("status", lambda c: c.get(APPS, {"status": 429}), ApiError),
    ("status", lambda c: c.get(APPS, {"status": 502}), ApiError),
    ("status", lambda c: c.post(BACKUPS, {"environment": "e"}), ApiError),
    ("html", lambda c: c.get(APPS), InvalidResponseError),
    ("html", lambda c: c.post(BACKUPS, {"environment": "e"}), InvalidResponseError),
    ("redirect-away", lambda c: c.get(APPS), RedirectError),
    ("redirect-host", lambda c: c.get(APPS), RedirectError),
    ("redirect-loop", lambda c: c.get(APPS), RedirectError),
    ("post-redirect", lambda c: c.post(BACKUPS, {"environment": "e"}), RedirectError),
    ("next-away", lambda c: list(c.paginate(APPS)), PaginationError),
    ("next-loop", lambda c: list(c.paginate(APPS)), PaginationError),
    ("count", lambda c: list(c.paginate(APPS)), PaginationError),
    ("shape", lambda c: list(c.paginate(APPS)), InvalidResponseError),
    ("large", lambda c: c.get(APPS), ResponseTooLargeError),
    ("drip", lambda c: c.get(APPS), TransportError),
    ("busy", lambda c: c.get(APPS), DeadlineExceededError),
]


def test_every_error_path_against_an_echoing_server_keeps_the_token_hidden(hostile, make_client, capsys, caplog):
    caplog.set_level(logging.WARNING)
    servers = {}
    seen = []
    for kind, call, error_class in SWEEP:
        server = servers.get(kind) or servers.setdefault(kind, hostile(_echoing(kind)))
        client = make_client(server.url, timeout=0.5, max_response_bytes=1024 * 1024, deadline=1 if kind == "busy" else None,
                             retries=100 if kind == "busy" else 2)
        with pytest.raises(DivioError) as info:
            call(client)
        assert isinstance(info.value, error_class), (kind, info.value)
        seen.append("%s | %s | %r | %r | %r" % (kind, info.value, info.value, info.value.args, info.value.details))
    out, err = capsys.readouterr()
    everything = "\n".join(seen + [out, err, caplog.text])
    assert not token_pieces(everything), everything
    assert all(server.requests for server in servers.values())  # every server really was asked
    assert sum(len(server.requests) for server in servers.values()) < 400  # and the loops stayed bounded


SWEEP_PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/divio.cloud.divio: {timeout: 0.5, retries: 2, max_response_bytes: 1048576}
  tasks:
%s
"""

SWEEP_TASK = """
    - block:
        - %s
      rescue:
        - ansible.builtin.debug: {var: ansible_failed_result}
"""


def test_modules_and_lookup_at_vvvv_never_show_the_token(hostile, run_playbook, guarded_env):
    """The same echoing servers behind the modules and the lookup, each task failing on purpose, at -vvvv,
    with the loopback guard in every Python process of the run."""
    ports = dict((kind, hostile(_echoing(kind)).port) for kind in
                 ("status", "html", "redirect-away", "redirect-host", "redirect-loop", "post-redirect",
                  "next-away", "next-loop", "count", "shape", "large", "drip"))

    def url(kind):
        return "http://127.0.0.1:%d" % ports[kind]

    tasks = []
    for kind in ports:  # the lookup runs in the controller, the modules in their own processes
        tasks.append("ansible.builtin.debug: {msg: \"{{ query('divio.cloud.divio', 'applications', api_url='%s', "
                     "timeout=0.5, retries=2) }}\"}" % url(kind))
    for kind in ("status", "html", "redirect-host", "next-away", "large", "drip"):
        tasks.append("divio.cloud.application_info: {api_url: '%s'}" % url(kind))
    tasks.append("divio.cloud.backup_check: {api_url: '%s'}" % url("status"))
    tasks.append("divio.cloud.backup: {api_url: '%s', application: shop, environment: live}" % url("post-redirect"))
    tasks.append("divio.cloud.application_info: {api_url: 'http://api.example.com'}")  # refused before connecting
    run = run_playbook(SWEEP_PLAY % "".join(SWEEP_TASK % task for task in tasks),
                       env=dict(guarded_env, DIVIO_API_TOKEN=TOKEN), args=["-vvvv"])
    assert run.rc == 0, run
    assert run.output.count("ansible_failed_result") >= len(tasks), run
    assert "allow_plain_http" in run.output and "another origin" in run.output and "within the timeout" in run.output
    assert_no_token(run.output)
