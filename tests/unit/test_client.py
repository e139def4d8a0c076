"""DivioClient against a mocked HTTP layer: authentication, retries, error mapping, pagination."""

import datetime
import email.utils
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError
import responses
from responses import matchers

from ansible_collections.divio.cloud.plugins.module_utils.client import (
    DEFAULT_PAGE_SIZE,
    DivioClient,
    RetryPolicy,
    TokenAuth,
    parse_retry_after,
)
from ansible_collections.divio.cloud.plugins.module_utils.connection import resolve_connection
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    ApiError,
    AuthenticationError,
    DeadlineExceededError,
    DivioError,
    InvalidResponseError,
    ListTooLongError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    ResponseTooLargeError,
    TransportError,
    excerpt,
    scrub,
)

TOKEN = "tok-sekrit-5f2c9a71e0d84b36"
BASE = "https://api.divio.com"
ME = "/iam/v3/me/"
BACKUPS = "/apps/v3/backups/"
PAGE_SIZE = str(DEFAULT_PAGE_SIZE)


class EdgeRng:
    """A ``random.Random`` stand-in whose ``uniform`` always returns the low or the high end."""

    def __init__(self, high):
        self.high = high

    def uniform(self, low, high):
        return high if self.high else low


@pytest.fixture
def make_client(make_policy):
    """``make_client(options=None, environ=None, max_concurrency=1, limits=None, **RetryPolicy kwargs)``; the
    token is an option by default; ``limits`` overrides settings (``max_pages``, ``deadline``, ...) after they
    were resolved. Sequential unless asked: the order of requests is then part of what tests check."""

    def make(options=None, environ=None, max_concurrency=1, limits=None, **policy):
        options = dict({"api_url": BASE, "api_token": TOKEN}, **(options or {}))
        settings = resolve_connection(options, environ or {})
        for name, value in (limits or {}).items():
            setattr(settings, name, value)
        return DivioClient(settings, retry=make_policy(**policy), max_concurrency=max_concurrency)

    return make


@pytest.fixture
def client(make_client):
    return make_client(max_attempts=3)


def add_json(api, path, body=None, status=200, query=None, **kwargs):
    match = [matchers.query_param_matcher(query)] if query is not None else []
    api.add(responses.GET, BASE + path, json=body if body is not None else {}, status=status, match=match, **kwargs)


def page(results, next_query=None, count=None, host=BASE, path=BACKUPS):
    """A DRF page; ``next_query`` is the next link's query string (absolute URL on ``host``)."""
    return {"count": count, "next": "%s%s?%s" % (host, path, next_query) if next_query else None,
            "previous": None, "results": results}


def call_hosts(api):
    return [urlsplit(call.request.url).netloc for call in api.calls]


def call_queries(api):
    return [{k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()} for call in api.calls]


# -- authentication and session ---------------------------------------------------------------

def test_authorization_header_is_the_token_even_with_a_netrc_entry_for_the_host(api, client, isolated_env, monkeypatch):
    netrc_path = isolated_env / ".netrc"
    netrc_path.write_text("machine api.divio.com login me@example.com password netrc-password\n")
    netrc_path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc_path))
    assert requests.utils.get_netrc_auth(BASE + ME) == ("me@example.com", "netrc-password")  # requests sees it
    add_json(api, ME, {"uuid": "u"})
    assert client.get(ME) == {"uuid": "u"}
    headers = api.calls[0].request.headers
    assert headers["Authorization"] == "Token " + TOKEN
    assert headers["Accept"] == "application/json"


def test_settings_reach_the_transport(api, make_client):
    client = make_client({"validate_certs": False, "timeout": 7.5})
    add_json(api, ME)
    client.get(ME)
    kwargs = api.calls[0].request.req_kwargs
    assert kwargs["verify"] is False
    assert kwargs["timeout"] == (7.5, 7.5)  # connect, and each read within what is left of the 7.5 s
    assert kwargs["stream"] is True  # the body is read by the client, under the deadline and the size cap


def test_one_session_is_reused(api, client, monkeypatch):
    used = []
    original = requests.Session.get_adapter

    def recording_get_adapter(self, url):
        adapter = original(self, url)
        used.append((self, adapter))
        return adapter

    monkeypatch.setattr(requests.Session, "get_adapter", recording_get_adapter)
    session = client.session
    add_json(api, ME)
    add_json(api, BACKUPS, page([1]), query={"page_size": PAGE_SIZE})
    client.get(ME)
    client.get(ME)
    list(client.paginate(BACKUPS))
    assert len(used) == 3
    assert all(s is session for s, _adapter in used)
    assert len(set(id(adapter) for _s, adapter in used)) == 1  # one adapter: one pool of kept-alive connections
    assert client.session is session


@pytest.mark.parametrize("method, body", [("GET", None), ("POST", {"environment": "env-1", "services": ["db"]})])
def test_requests_are_what_the_session_would_have_prepared(api, client, method, body):
    """The client prepares requests itself (cheaper than ``Session.request`` re-merging the session's settings
    each time); what goes out is what requests would have made of the same session, header for header."""
    url = client.url(BACKUPS, {"environment": "env 1/ü", "page": 2})
    api.add(method, url, json={"ok": True})
    assert client._request(method, url, body, idempotent=method == "GET") == {"ok": True}
    sent = api.calls[0].request
    expected = client.session.prepare_request(requests.Request(method, url, json=body))
    assert sent.method == expected.method
    assert sent.url == expected.url
    assert dict(sent.headers) == dict(expected.headers)
    assert sent.headers["Authorization"] == "Token " + TOKEN
    assert sent.body == expected.body
    kwargs = api.calls[0].request.req_kwargs
    assert kwargs["proxies"] == client.session.proxies and kwargs["cert"] is None


def test_cookies_the_server_sets_are_sent_back_as_a_session_would(api, client):
    api.add(responses.GET, BASE + ME, json={"uuid": "u"}, headers={"Set-Cookie": "lb=node-2; Path=/"})
    add_json(api, BACKUPS, page([1]), query={"page_size": PAGE_SIZE})
    client.get(ME)
    assert "Cookie" not in api.calls[0].request.headers
    list(client.paginate(BACKUPS))
    assert api.calls[1].request.headers["Cookie"] == "lb=node-2"


def test_a_session_handed_in_is_used_through_its_own_request(api, make_policy):
    """A caller's session (or one put in place of the client's later, as a benchmark does) may carry its own
    settings and overrides: it is called the ordinary way, with the same arguments as always."""
    calls = []

    class RecordingSession(requests.Session):
        def request(self, *args, **kwargs):
            calls.append((args, kwargs))
            return super().request(*args, **kwargs)

    settings = resolve_connection({"api_url": BASE, "api_token": TOKEN, "timeout": 9}, {})
    client = DivioClient(settings, retry=make_policy(), max_concurrency=1, session=RecordingSession())
    add_json(api, ME, {"uuid": "u"})
    assert client.get(ME) == {"uuid": "u"}
    sent = {"json": None, "timeout": (9, 9), "verify": True, "allow_redirects": False, "stream": True}
    assert calls == [(("GET", BASE + ME), sent)]
    assert api.calls[0].request.headers["Authorization"] == "Token " + TOKEN


def test_token_is_not_in_reprs_or_session_headers(client):
    assert TOKEN not in repr(client)
    assert TOKEN not in repr(client.session.auth)
    assert isinstance(client.session.auth, TokenAuth)
    assert TOKEN not in repr(dict(client.session.headers))


def test_registered_token_is_scrubbed_from_error_text(make_policy):
    """Last line of defence: a DivioError never prints a token a client registered."""
    from ansible_collections.divio.cloud.plugins.module_utils.connection import ConnectionSettings

    token = "scrub-me-0123456789"  # no leak-guard marker: this test leaks on purpose
    DivioClient(ConnectionSettings(BASE, token, "test"), retry=make_policy())
    assert token not in str(ApiError("the server said %s" % token))


# -- errors that are not retried --------------------------------------------------------------

@pytest.mark.parametrize("environ, options, source", [
    ({}, {}, "the api_token option"),
    ({"DIVIO_API_TOKEN": TOKEN}, {"api_token": None}, "the DIVIO_API_TOKEN environment variable"),
    ({"NETRC_PATH": "<netrc>"}, {"api_token": None}, "(machine api.divio.com)"),
])
def test_401_names_the_token_source_never_the_token(api, make_client, fake_time, tmp_path, environ, options, source):
    if "NETRC_PATH" in environ:
        path = tmp_path / "netrc"
        path.write_text("machine api.divio.com login me password %s\n" % TOKEN)
        environ = {"NETRC_PATH": str(path)}
        source = str(path) + " " + source
    client = make_client(options, environ)
    add_json(api, ME, {"detail": "Invalid token."}, status=401)
    with pytest.raises(AuthenticationError) as info:
        client.get(ME)
    message = str(info.value)
    assert source in message
    assert "divio login" in message and BASE in message and "Invalid token." in message
    assert TOKEN not in message and TOKEN not in repr(info.value.args)
    assert info.value.status == 401
    assert len(api.calls) == 1 and fake_time.sleeps == []


@pytest.mark.parametrize("status, error_cls", [
    (400, ApiError), (403, PermissionDeniedError), (404, NotFoundError), (405, ApiError),
    (500, ApiError), (501, ApiError),
])
def test_error_statuses_are_mapped_and_not_retried(api, client, fake_time, status, error_cls):
    path = "/apps/v3/applications/0b5e3d6c/"
    add_json(api, path, {"detail": "nope %d" % status}, status=status)
    with pytest.raises(ApiError) as info:
        client.get(path)
    assert info.type is error_cls
    assert info.value.status == status
    assert info.value.path == path
    assert path in str(info.value) and "nope %d" % status in str(info.value)
    assert len(api.calls) == 1 and fake_time.sleeps == []


def test_403_says_what_to_check(api, client):
    add_json(api, ME, status=403)
    with pytest.raises(PermissionDeniedError, match="organisation membership"):
        client.get(ME)


def test_ssl_error_is_not_retried_and_mentions_validate_certs(api, client, fake_time):
    api.add(responses.GET, BASE + ME, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(TransportError, match="validate_certs") as info:
        client.get(ME)
    assert "api.divio.com" in str(info.value)
    assert len(api.calls) == 1 and fake_time.sleeps == []


# -- retries ----------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_status_then_success(api, client, fake_time, status):
    add_json(api, ME, {"detail": "busy"}, status=status)
    add_json(api, ME, {"uuid": "u"})
    assert client.get(ME) == {"uuid": "u"}
    assert len(api.calls) == 2
    assert len(fake_time.sleeps) == 1
    assert 0.25 <= fake_time.sleeps[0] <= 0.5  # first backoff: ceiling 0.5, equal jitter


def test_retry_after_seconds_is_honoured_exactly(api, client, fake_time):
    add_json(api, ME, status=429, headers={"Retry-After": "3"})
    add_json(api, ME, {"ok": True})
    assert client.get(ME) == {"ok": True}
    assert fake_time.sleeps == [3.0]


def test_retry_after_http_date_is_honoured(api, client, fake_time):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=10)
    add_json(api, ME, status=503, headers={"Retry-After": email.utils.format_datetime(when, usegmt=True)})
    add_json(api, ME, {"ok": True})
    assert client.get(ME) == {"ok": True}
    assert len(fake_time.sleeps) == 1
    assert 8.0 <= fake_time.sleeps[0] <= 10.0


@pytest.mark.parametrize("value, expected", [
    ("3", 3.0),
    (" 120 ", 120.0),
    ("0", 0.0),
    ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),   # now = 07:28:00
    ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),    # in the past: no wait, never negative
    (None, None),
    ("", None),
    ("soon", None),
    ("-5", None),
    ("1.5", None),
    ("\u00b2", None),                          # isdigit() but not a number (a latin-1 byte 0xB2)
])
def test_parse_retry_after(value, expected):
    now = datetime.datetime(2015, 10, 21, 7, 28, tzinfo=datetime.timezone.utc).timestamp()
    assert parse_retry_after(value, now=now) == expected


def test_gives_up_after_max_attempts_and_says_how_many_tries(api, make_client, fake_time):
    client = make_client(max_attempts=4)
    add_json(api, ME, {"detail": "maintenance"}, status=503)
    with pytest.raises(ApiError) as info:
        client.get(ME)
    assert "gave up after 4 tries" in str(info.value)
    assert "HTTP 503" in str(info.value) and "maintenance" in str(info.value)
    assert info.value.status == 503
    assert len(api.calls) == 4 and len(fake_time.sleeps) == 3


def test_429_that_keeps_coming_is_a_rate_limit_error(api, client):
    add_json(api, ME, status=429, headers={"Retry-After": "1"})
    with pytest.raises(RateLimitError, match="gave up after 3 tries"):
        client.get(ME)
    assert len(api.calls) == 3


def test_retry_after_beyond_the_budget_gives_up_at_once(api, make_client, fake_time):
    client = make_client(max_total=120)
    add_json(api, ME, status=429, headers={"Retry-After": "600"})
    add_json(api, ME, {"ok": True})
    with pytest.raises(RateLimitError) as info:
        client.get(ME)
    assert "asked to wait 600 s" in str(info.value) and "gave up after 1 tries" in str(info.value)
    assert len(api.calls) == 1 and fake_time.sleeps == []


def test_total_time_budget_bounds_the_backoff(api, make_client, fake_time):
    client = make_client(max_attempts=100, backoff_base=1, backoff_max=8, max_total=20, rng=EdgeRng(high=True))
    add_json(api, ME, status=503)
    with pytest.raises(ApiError, match="gave up after 5 tries in 15.0 s"):
        client.get(ME)
    assert fake_time.sleeps == [1, 2, 4, 8]  # the next 8 s would pass the 20 s budget
    assert len(api.calls) == 5


def test_backoff_grows_exponentially_up_to_backoff_max(api, make_client, fake_time):
    client = make_client(max_attempts=7, backoff_base=0.5, backoff_max=5, rng=EdgeRng(high=True))
    add_json(api, ME, status=502)
    with pytest.raises(ApiError):
        client.get(ME)
    assert fake_time.sleeps == [0.5, 1, 2, 4, 5, 5]


@pytest.mark.parametrize("high", [False, True])
def test_backoff_jitter_stays_within_half_ceiling_and_ceiling(high):
    policy = RetryPolicy(backoff_base=0.5, backoff_max=20, rng=EdgeRng(high))
    for attempt in range(1, 12):
        ceiling = min(20, 0.5 * 2 ** (attempt - 1))
        assert policy.backoff(attempt) == (ceiling if high else ceiling / 2)


def test_backoff_random_samples_stay_in_bounds():
    policy = RetryPolicy(backoff_base=0.5, backoff_max=20, rng=random.Random(4))
    for attempt in range(1, 12):
        ceiling = min(20, 0.5 * 2 ** (attempt - 1))
        samples = [policy.backoff(attempt) for _unused in range(200)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 1  # there is jitter


@pytest.mark.parametrize("exc, expected", [
    (requests.exceptions.ConnectionError(MaxRetryError(None, "/", NewConnectionError(None, "refused"))),
     "could not connect to api.divio.com (NewConnectionError)"),
    (requests.exceptions.ConnectionError("reset by peer"), "the connection to api.divio.com was closed or reset before an answer arrived"),
    (requests.exceptions.ReadTimeout("slow"), "no answer within the timeout of 30 s"),
    (requests.exceptions.ConnectTimeout("slow"), "no connection within the timeout of 30 s"),
    (requests.exceptions.ChunkedEncodingError("cut"), "connection failed while reading"),
])
def test_transport_failures_are_retried_then_raise_transport_error(api, client, fake_time, exc, expected):
    api.add(responses.GET, BASE + ME, body=exc)
    with pytest.raises(TransportError) as info:
        client.get(ME)
    assert expected in str(info.value) and "gave up after 3 tries" in str(info.value)
    assert len(api.calls) == 3 and len(fake_time.sleeps) == 2


def test_timeout_then_success(api, client, fake_time):
    api.add(responses.GET, BASE + ME, body=requests.exceptions.ReadTimeout("slow"))
    add_json(api, ME, {"ok": True})
    assert client.get(ME) == {"ok": True}
    assert len(fake_time.sleeps) == 1


def test_non_idempotent_request_is_not_repeated_after_a_connection_error(api, client):
    api.add(responses.POST, BASE + BACKUPS, body=requests.exceptions.ConnectionError("reset"))
    with pytest.raises(TransportError, match="not retried"):
        client._request("POST", BASE + BACKUPS, body={"environment": "e"}, idempotent=False)
    assert len(api.calls) == 1


def test_html_body_is_retried_then_invalid_response(api, client):
    api.add(responses.GET, BASE + ME, body="<html><body>Bad gateway</body></html>", content_type="text/html")
    with pytest.raises(InvalidResponseError) as info:
        client.get(ME)
    assert ME in str(info.value) and "status 200" in str(info.value) and "not valid JSON" in str(info.value)
    assert info.value.path == ME
    assert len(api.calls) == 3


def test_html_body_then_json_recovers(api, client):
    api.add(responses.GET, BASE + ME, body="<html>proxy</html>", content_type="text/html")
    add_json(api, ME, {"ok": True})
    assert client.get(ME) == {"ok": True}


# -- pagination -------------------------------------------------------------------------------

def test_paginate_follows_absolute_next_links_over_three_pages(api, client):
    add_json(api, BACKUPS, page([1, 2], "page=2&page_size=%s" % PAGE_SIZE, count=5), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([3, 4], "page=3&page_size=%s" % PAGE_SIZE, count=5),
             query={"page": "2", "page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([5], None, count=5), query={"page": "3", "page_size": PAGE_SIZE})
    assert list(client.paginate(BACKUPS)) == [1, 2, 3, 4, 5]
    assert call_queries(api) == [{"page_size": PAGE_SIZE}, {"page": "2", "page_size": PAGE_SIZE},
                                 {"page": "3", "page_size": PAGE_SIZE}]


def test_paginate_passes_filters_and_drops_unset_ones(api, client):
    add_json(api, BACKUPS, page([1], count=1), query={"environment": "e1", "page_size": "50"})
    assert list(client.paginate(BACKUPS, {"environment": "e1", "slug": None, "page_size": 50})) == [1]


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
    with pytest.raises(PaginationError, match="loop"):
        list(client.paginate(BACKUPS, max_items=50))  # max_items: a backstop so a broken check cannot hang
    assert len(api.calls) == 2


def test_endless_fresh_next_links_stop_once_count_is_exceeded(api, client):
    """A server that links to page n+1 forever (here: capped at 30 pages) must not keep the client reading
    long after the announced ``count`` was passed."""

    def endless(request):
        number = int(parse_qs(urlsplit(request.url).query).get("page", ["1"])[0])
        body = page(["a", "b"], "page=%d" % (number + 1) if number < 30 else None, count=2)
        return 200, {}, json.dumps(body)

    api.add_callback(responses.GET, BASE + BACKUPS, callback=endless)
    with pytest.raises(PaginationError):
        list(client.paginate(BACKUPS))
    assert len(api.calls) <= 2


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
    assert [call.request.url.split("://")[0] for call in api.calls] == ["https", "https"]
    assert all(call.request.headers["Authorization"] == "Token " + TOKEN for call in api.calls)


def test_count_disagreeing_with_items_is_an_error(api, client):
    add_json(api, BACKUPS, page([1, 2], "page=2", count=5), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([3, 4], count=5), query={"page": "2"})
    with pytest.raises(PaginationError, match="announced 5 items but 4 arrived"):
        list(client.paginate(BACKUPS))


def test_count_changing_between_pages_is_an_error(api, client):
    add_json(api, BACKUPS, page([1, 2], "page=2", count=4), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, page([3, 4], count=5), query={"page": "2"})
    with pytest.raises(PaginationError, match="count went from 4 to 5"):
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


def test_page_error_stops_the_list(api, client):
    add_json(api, BACKUPS, page([1], "page=2", count=2), query={"page_size": PAGE_SIZE})
    add_json(api, BACKUPS, {"detail": "gone"}, status=404, query={"page": "2"})
    with pytest.raises(NotFoundError):
        list(client.paginate(BACKUPS))


# -- the leak guard itself --------------------------------------------------------------------

def test_leak_guard_sees_the_errors_of_a_test(api, client, leak_guard):
    add_json(api, ME, status=401)
    with pytest.raises(AuthenticationError):
        client.get(ME)
    assert any(isinstance(exc, AuthenticationError) for exc in leak_guard)
    assert all(isinstance(exc, DivioError) for exc in leak_guard)


# -- concurrent reading of numbered pages ---------------------------------------------------------

def numbered_pages(api, items, per_page, count=None, broken=None):
    """Register a DRF page-number listing of ``items``; ``broken`` maps a page number to a replacement page."""
    count = len(items) if count is None else count
    pages = [items[i:i + per_page] for i in range(0, len(items), per_page)]
    for number, chunk in enumerate(pages, start=1):
        next_query = "page=%d&page_size=%s" % (number + 1, PAGE_SIZE) if number < len(pages) else None
        body = (broken or {}).get(number) or page(chunk, next_query, count=count)
        query = {"page_size": str(PAGE_SIZE)} if number == 1 else {"page": str(number), "page_size": str(PAGE_SIZE)}
        add_json(api, BACKUPS, body, query=query)


def test_numbered_pages_are_read_concurrently_and_in_order(api, make_client):
    items = list(range(95))
    numbered_pages(api, items, per_page=10)
    client = make_client(max_concurrency=4)
    assert list(client.paginate(BACKUPS)) == items
    assert len(api.calls) == 10


def test_numbered_page_linking_back_is_an_error(api, make_client):
    items = list(range(40))
    numbered_pages(api, items, per_page=10, broken={3: page(items[20:30], "page=2&page_size=%s" % PAGE_SIZE, count=40)})
    with pytest.raises(PaginationError, match="does not lead to page 4"):
        list(make_client(max_concurrency=4).paginate(BACKUPS))


def test_numbered_pages_ending_before_the_count_is_an_error(api, make_client):
    items = list(range(30))
    numbered_pages(api, items, per_page=10, broken={2: page(items[10:20], None, count=30)})
    with pytest.raises(PaginationError, match="does not lead to page 3"):
        list(make_client(max_concurrency=4).paginate(BACKUPS))


def test_imap_keeps_order_and_raises_at_the_failing_item(make_client):
    client = make_client(max_concurrency=4)
    seen = []

    def work(n):
        if n == 5:
            raise ValueError("item 5")
        return n * 2

    with pytest.raises(ValueError, match="item 5"):
        for value in client.imap(work, range(10)):
            seen.append(value)
    assert seen == [0, 2, 4, 6, 8]


def test_nested_fan_outs_share_one_pool_and_cannot_deadlock(make_client):
    """Three levels of fan-out, each wider than the pool: every worker can be busy waiting on nested
    calls, and still everything finishes, on at most ``max_concurrency`` pool threads."""
    import threading

    client = make_client(max_concurrency=2)
    threads = set()

    def leaf(n):
        threads.add(threading.current_thread().name)
        return n

    def middle(n):
        return sum(client.imap(leaf, range(n, n + 5)))

    def top(n):
        return sum(client.imap(middle, range(n, n + 4)))

    done = []
    worker = threading.Thread(target=lambda: done.append(client.map(top, range(6))), daemon=True)
    worker.start()
    worker.join(10)
    assert done, "nested fan-out deadlocked"
    assert done[0] == [sum(sum(range(m, m + 5)) for m in range(n, n + 4)) for n in range(6)]
    assert len([name for name in threads if name.startswith("divio")]) <= 2
    client.close()


def test_return_errors_collects_each_items_error_and_goes_on(make_client):
    client = make_client(max_concurrency=4)

    def work(n):
        if n % 3 == 0:
            raise NotFoundError("item %d" % n)
        return n

    outcomes = client.map(work, range(7), return_errors=True)
    assert [value for value, error in outcomes] == [None, 1, 2, None, 4, 5, None]
    assert [str(error) for value, error in outcomes if error] == ["item 0", "item 3", "item 6"]


def test_429_halves_the_concurrency_limit(api, make_client):
    api.add(responses.GET, BASE + "/iam/v3/me/", status=429, headers={"Retry-After": "0"})
    api.add(responses.GET, BASE + "/iam/v3/me/", json={"uuid": "u"})
    client = make_client(max_concurrency=8)
    assert client.get("/iam/v3/me/") == {"uuid": "u"}
    assert client.concurrency.limit == 4


def test_proxy_and_ca_bundle_come_from_the_environment_once(monkeypatch, make_client, api):
    """requests' per-call environment lookups are replaced by one read at construction, same meaning."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company-ca.pem")
    client = make_client()
    assert client.session.trust_env is False
    assert client.session.proxies.get("https") == "http://proxy.internal:3128"
    api.add(responses.GET, BASE + "/iam/v3/me/", json={"uuid": "u"})
    client.get("/iam/v3/me/")
    assert api.calls[0].request.req_kwargs["verify"] == "/etc/ssl/company-ca.pem"
    assert api.calls[0].request.req_kwargs["proxies"]["https"] == "http://proxy.internal:3128"
    monkeypatch.setenv("NO_PROXY", "api.divio.com")
    assert make_client().session.proxies == {}


def test_requests_really_go_through_a_proxy_from_the_environment(monkeypatch, make_policy):
    """Real HTTP, loopback only: with HTTP_PROXY set, the request goes to the proxy in absolute form (the API
    host itself, 127.0.0.2:9 where nothing listens, is never contacted) and carries the token header."""
    seen = []

    class Proxy(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            body = b'{"uuid": "via-proxy"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        proxy = "http://127.0.0.1:%d" % server.server_port
        for name in ("http_proxy", "HTTP_PROXY"):
            monkeypatch.setenv(name, proxy)
        for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.delenv(name, raising=False)
        settings = resolve_connection({"api_url": "http://127.0.0.2:9", "api_token": TOKEN, "timeout": 5}, {})
        with DivioClient(settings, retry=make_policy(max_attempts=1), max_concurrency=1) as client:
            assert client.get(ME) == {"uuid": "via-proxy"}
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert seen == [("http://127.0.0.2:9" + ME, "Token " + TOKEN)]


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
    with pytest.raises(PaginationError, match="loop"):
        list(client.paginate(BACKUPS))
    assert cache == {}
    assert list(client.paginate(BACKUPS)) == [1, 2]
    assert len(cache) == 1  # the complete, checked list: never pages read at different times
    assert list(client.paginate(BACKUPS)) == [1, 2]
    assert len(api.calls) == 4  # the third read came from the cache


@pytest.mark.parametrize("exc", [requests.exceptions.ReadTimeout("slow"), requests.exceptions.ChunkedEncodingError("cut")])
def test_a_post_that_may_have_arrived_is_never_sent_twice(api, client, exc):
    api.add(responses.POST, BASE + BACKUPS, body=exc)
    api.add(responses.POST, BASE + BACKUPS, json={"uuid": "b"}, status=201)
    with pytest.raises(TransportError, match="not retried because it may have been carried out"):
        client.post(BACKUPS, {"environment": "e"})
    assert len(api.calls) == 1


# -- redirects: followed only within our origin, only for a GET; never retried -------------------

def test_same_origin_redirect_of_a_get_is_followed_with_the_token(api, client):
    api.add(responses.GET, BASE + ME, status=301, headers={"Location": "/iam/v3/me/?moved=1"},
            match=[matchers.query_param_matcher({})])
    add_json(api, ME, {"uuid": "u"}, query={"moved": "1"})
    assert client.get(ME) == {"uuid": "u"}
    assert client.request_count == 2 and client.retry_count == 0
    assert all(call.request.headers["Authorization"] == "Token " + TOKEN for call in api.calls)


@pytest.mark.parametrize("location, shown", [
    ("https://evil.example/iam/v3/me/", "https://evil.example:443"),
    ("http://api.divio.com/iam/v3/me/", "http://api.divio.com:80"),            # a downgrade is another origin
    ("https://api.divio.com:8443/iam/v3/me/", "https://api.divio.com:8443"),
    ("//evil.example/iam/v3/me/", "https://evil.example:443"),
    ("https://api.divio.com.evil.example/", "https://api.divio.com.evil.example:443"),
    ("https://api.divio.com@evil.example/", "https://evil.example:443"),
])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_cross_origin_redirect_is_an_error_naming_both_origins(api, client, fake_time, location, shown, status):
    api.add(responses.GET, BASE + ME, status=status, headers={"Location": location})
    for host in ("https://evil.example", "http://api.divio.com", "https://api.divio.com:8443",
                 "https://api.divio.com.evil.example"):
        api.add(responses.GET, host + "/iam/v3/me/", json={"stolen": True})
    with pytest.raises(RedirectError) as info:
        client.get(ME)
    message = str(info.value)
    assert shown in message and "https://api.divio.com:443" in message and "not followed" in message
    assert call_hosts(api) == ["api.divio.com"] and fake_time.sleeps == []
    assert info.value.status == status


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirected_post_is_never_sent_again(api, client, status):
    api.add(responses.POST, BASE + BACKUPS, status=status, headers={"Location": BASE + "/apps/v3/backups-v2/"})
    api.add(responses.POST, BASE + "/apps/v3/backups-v2/", json={"uuid": "b"}, status=201)
    api.add(responses.GET, BASE + "/apps/v3/backups-v2/", json={"uuid": "b"})
    with pytest.raises(RedirectError, match="it was not sent again"):
        client.post(BACKUPS, {"environment": "e"})
    assert len(api.calls) == 1


@pytest.mark.parametrize("hops", [["/iam/v3/me/"], ["/a/", "/iam/v3/me/"], ["/a/", "/b/", "/a/"]])
def test_a_redirect_loop_ends_at_once_without_retries(api, client, fake_time, hops):
    chain = ["/iam/v3/me/"] + hops
    for here, there in zip(chain, chain[1:]):
        api.add(responses.GET, BASE + here, status=302, headers={"Location": there})
    with pytest.raises(RedirectError, match="loop"):
        client.get(ME)
    assert len(api.calls) == len(chain) - 1 and fake_time.sleeps == [] and client.retry_count == 0


def test_too_many_redirects_end_without_retries(api, client, fake_time):
    for number in range(10):
        api.add(responses.GET, BASE + "/r%d/" % number, status=307, headers={"Location": "/r%d/" % (number + 1)})
    with pytest.raises(RedirectError, match="more than 5 redirects"):
        client.get("/r0/")
    assert len(api.calls) == 6 and fake_time.sleeps == []


@pytest.mark.parametrize("status, headers", [(300, {"Location": "/x/"}), (304, {}), (302, {}), (399, {"Location": "/x/"})])
def test_other_3xx_are_errors_not_retried(api, client, fake_time, status, headers):
    api.add(responses.GET, BASE + ME, status=status, headers=headers)
    with pytest.raises(RedirectError, match="HTTP %d" % status):
        client.get(ME)
    assert len(api.calls) == 1 and fake_time.sleeps == []


def test_malformed_location_is_an_error(api, client):
    api.add(responses.GET, BASE + ME, status=302, headers={"Location": "https://api.divio.com:99999/"})
    with pytest.raises(RedirectError, match="malformed"):
        client.get(ME)


# -- bounded size ---------------------------------------------------------------------------------

def test_a_body_announced_beyond_the_cap_is_not_read(api, make_client):
    client = make_client(limits={"max_response_bytes": 1000})
    api.add(responses.GET, BASE + ME, body=b"[" + b"1," * 1500 + b"1]", content_type="application/json")
    with pytest.raises(ResponseTooLargeError, match="max_response_bytes limit of 1000 bytes") as info:
        client.get(ME)
    assert len(api.calls) == 1 and info.value.path == ME


def test_a_body_within_the_cap_is_read(api, make_client):
    client = make_client(limits={"max_response_bytes": 1000})
    add_json(api, ME, {"uuid": "u" * 900})
    assert client.get(ME) == {"uuid": "u" * 900}


def test_absurdly_nested_json_is_invalid_not_a_crash(api, client):
    api.add(responses.GET, BASE + ME, body="[" * 100000 + "]" * 100000, content_type="application/json")
    with pytest.raises(InvalidResponseError, match="not valid JSON"):
        client.get(ME)


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
    numbered_pages(api, list(range(60)), per_page=2)
    client = make_client(max_concurrency=4, limits={"max_pages": 10})
    with pytest.raises(ListTooLongError, match="30 pages, more than the max_pages limit of 10"):
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
    numbered_pages(api, list(range(1000)), per_page=10)
    client = make_client(max_concurrency=4)
    assert list(client.paginate(BACKUPS)) == list(range(1000))
    assert client.request_count == 100


# -- bounded time ---------------------------------------------------------------------------------

def test_retry_count_counts_repeated_tries(api, client):
    add_json(api, ME, status=503)
    add_json(api, ME, status=502)
    add_json(api, ME, {"uuid": "u"})
    assert client.get(ME) == {"uuid": "u"}
    assert client.request_count == 3 and client.retry_count == 2


def test_giving_up_prints_the_bound_of_one_request(api, make_client):
    client = make_client({"timeout": 30}, max_attempts=4)
    add_json(api, ME, status=503)
    with pytest.raises(ApiError) as info:
        client.get(ME)
    assert "a request takes at most timeout x tries + waiting = 30 s x 4 + 120 s = 240 s" in str(info.value)


def test_retries_default_to_the_retries_setting(api, make_client):
    client = make_client(limits={"retries": 2})
    add_json(api, ME, status=503)
    with pytest.raises(ApiError, match="gave up after 2 tries"):
        client.get(ME)
    assert len(api.calls) == 2


def test_the_deadline_ends_retries_and_says_so(api, make_client, fake_time):
    client = make_client(max_attempts=100, backoff_base=1, backoff_max=1, rng=EdgeRng(high=True),
                         limits={"deadline": 3.5})
    add_json(api, ME, status=503)
    with pytest.raises(DeadlineExceededError, match="the deadline of 3.5 s .*last problem: HTTP 503"):
        client.get(ME)
    assert fake_time.sleeps == [1, 1, 1]  # a fourth wait would end after the deadline
    assert len(api.calls) == 4


def test_the_deadline_shortens_the_timeout_and_refuses_once_passed(api, make_client, fake_time):
    client = make_client({"timeout": 30}, limits={"deadline": 10})
    add_json(api, ME, {"uuid": "u"})
    fake_time.now += 8
    client.get(ME)
    assert api.calls[0].request.req_kwargs["timeout"] == (2, 2)
    fake_time.now += 2
    with pytest.raises(DeadlineExceededError, match="1 requests sent"):
        client.get(ME)
    assert len(api.calls) == 1


# -- secrets never shown --------------------------------------------------------------------------

@pytest.mark.parametrize("echo", [
    TOKEN, "Token " + TOKEN, TOKEN.upper(), TOKEN[:6], TOKEN[:10] + "...", TOKEN[-8:], "x" * 292 + TOKEN,
    "Token%20" + TOKEN.replace("-", "%2D"),
])
@pytest.mark.parametrize("status", [400, 401, 500, 503])
def test_a_token_echoed_by_the_server_never_shows(api, client, echo, status):
    add_json(api, ME, {"detail": "you sent %s, \x1b[31mdenied" % echo}, status=status,
             headers={"Retry-After": "0"})
    with pytest.raises(ApiError) as info:
        client.get(ME)
    shown = "%s %r %r" % (info.value, info.value.args, info.value.details)
    for piece in (TOKEN, TOKEN[:6], TOKEN[-6:], TOKEN[:5] if echo.startswith("x") else TOKEN):
        assert piece.lower() not in shown.lower()
    assert "\x1b" not in shown
    assert "********" in shown or len(echo) > 250  # a long detail is cut before the mask


@pytest.mark.parametrize("location", [
    "https://evil.example/?t=" + TOKEN,
    "https://%s.evil.example/" % TOKEN[:12],
    "/iam/v3/me/%s/" % TOKEN,
])
def test_a_token_echoed_in_a_redirect_never_shows(api, client, location):
    api.add(responses.GET, BASE + ME, status=302, headers={"Location": location})
    api.add(responses.GET, BASE + "/iam/v3/me/%s/" % TOKEN, status=302, headers={"Location": ME})
    with pytest.raises(RedirectError) as info:
        client.get(ME)
    assert TOKEN[:6] not in "%s %r" % (info.value, info.value.args)


def test_scrub_masks_whole_pieces_cases_and_encodings(monkeypatch):
    monkeypatch.setattr(DivioError, "_secrets", {"AbC/def+ghi=jkl"})
    assert scrub("Token AbC/def+ghi=jkl.") == "Token ********."
    assert scrub("abc/def") == "********"                      # a prefix, another case
    assert scrub("see AbC%2Fdef%2Bghi%3Djkl") == "see ********"  # percent-encoded
    assert scrub("ghi=jk and AbC/d") == "******** and AbC/d"   # five characters are not a piece
    assert scrub("nothing here") == "nothing here"


def test_excerpt_masks_before_it_cuts(monkeypatch):
    monkeypatch.setattr(DivioError, "_secrets", {"0123456789abcdef"})
    text = "x" * 292 + "0123456789abcdef"
    assert excerpt(text, 300) == "x" * 292 + "********"
    assert excerpt(text, 296) == "x" * 292 + "*..."  # cut only after masking: "0123" never shows
    assert excerpt("a\nb\x1b[2J\u202ec", 300) == "a b [2J c"
