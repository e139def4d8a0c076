"""DivioClient against a mocked HTTP layer: authentication, retries, error mapping, pagination."""

import datetime
import email.utils
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError
import responses
from responses import matchers

from ansible_collections.divio.cloud.plugins.module_utils.client import (
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
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    ResponseTooLargeError,
    TransportError,
    excerpt,
    scrub,
)

from mock_api import BACKUPS, BASE, ME, PAGE_SIZE, TOKEN, add_json, call_hosts, page


class EdgeRng:
    """A ``random.Random`` stand-in whose ``uniform`` always returns the low or the high end."""

    def __init__(self, high):
        self.high = high

    def uniform(self, low, high):
        return high if self.high else low


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


# -- the leak guard itself --------------------------------------------------------------------

def test_leak_guard_sees_the_errors_of_a_test(api, client, leak_guard):
    add_json(api, ME, status=401)
    with pytest.raises(AuthenticationError):
        client.get(ME)
    assert any(isinstance(exc, AuthenticationError) for exc in leak_guard)
    assert all(isinstance(exc, DivioError) for exc in leak_guard)


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
    ("http://api.divio.com:8080/iam/v3/me/", "http://api.divio.com:8080"),
    ("https://api.divio.com:8443/iam/v3/me/", "https://api.divio.com:8443"),
    ("//evil.example/iam/v3/me/", "https://evil.example:443"),
    ("https://api.divio.com.evil.example/", "https://api.divio.com.evil.example:443"),
    ("https://api.divio.com@evil.example/", "https://evil.example:443"),
])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_cross_origin_redirect_is_an_error_naming_both_origins(api, client, fake_time, location, shown, status):
    api.add(responses.GET, BASE + ME, status=status, headers={"Location": location})
    for host in ("https://evil.example", "http://api.divio.com:8080", "https://api.divio.com:8443",
                 "https://api.divio.com.evil.example"):
        api.add(responses.GET, host + "/iam/v3/me/", json={"stolen": True})
    with pytest.raises(RedirectError) as info:
        client.get(ME)
    message = str(info.value)
    assert shown in message and "https://api.divio.com:443" in message and "not followed" in message
    assert call_hosts(api) == ["api.divio.com"] and fake_time.sleeps == []
    assert info.value.status == status


def test_a_same_host_http_redirect_is_followed_over_https_never_down(api, client):
    """The one origin rule of redirects and next links (``DivioClient.own_url``): a proxy that forgot the scheme
    says http://, the request goes to https://."""
    api.add(responses.GET, BASE + ME, status=301, headers={"Location": "http://api.divio.com/iam/v3/me/?x=1"})
    api.add(responses.GET, "http://api.divio.com/iam/v3/me/", json={"stolen": True})
    api.add(responses.GET, BASE + ME, json={"uuid": "u"}, match=[matchers.query_param_matcher({"x": "1"})])
    assert client.get(ME) == {"uuid": "u"}
    assert [call.request.url.split(":")[0] for call in api.calls] == ["https", "https"]


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


def test_a_deadline_passed_during_an_oversleep_still_names_the_last_problem(api, make_client, fake_time, monkeypatch):
    """A loaded machine sleeps longer than asked: the deadline then passes between the decision to retry and the
    next try. The error still says what the server last answered (the hostile suite once saw it without)."""
    asleep = fake_time.sleep
    monkeypatch.setattr(fake_time, "sleep", lambda seconds: asleep(seconds + 1))
    client = make_client(max_attempts=100, limits={"deadline": 3.5})
    add_json(api, ME, {"detail": "busy"}, status=503, headers={"Retry-After": "1"})
    with pytest.raises(DeadlineExceededError, match="2 requests sent.*last problem: HTTP 503: busy"):
        client.get(ME)
    assert len(api.calls) == 2


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
