"""Fixtures for the unit tests of the API client layer.

- ``isolated_env`` (autouse): HOME is an empty temp dir and no DIVIO_*/NETRC* variable is set, so a
  real ``~/.netrc`` or token of whoever runs the tests never takes part.
- ``leak_guard`` (autouse): records every ``DivioError`` created during a test plus captured
  stdout/stderr, and fails the test if any of it contains a token. Every token used by these tests
  contains the marker ``sekrit``, so a leak of any part of one is found. The scrubbing in
  ``DivioError.__str__`` is bypassed on purpose (the raw ``args`` are checked): it must not hide leaks.
- ``fake_time`` / ``make_policy``: a ``RetryPolicy`` whose sleeps are recorded and advance a fake clock.
- ``api``: a ``responses`` mock of the HTTP layer; unregistered URLs raise ``ConnectionError``.
- ``make_client`` / ``client``: a client on that mocked API (mock_api.py: its address, token and DRF pages).
"""

import os
import sys

import pytest
import responses

# The helper modules beside this file (mock_api.py, scripted_list.py), also under ansible-test units, which
# starts pytest with a root and import mode of its own.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Imports from ansible_collections happen inside the fixtures: when pytest is started with
# ``tests/unit`` this file is loaded before pytest-ansible has put the collection on sys.path.

SECRET_MARK = "sekrit"
_ENV_TO_CLEAR = ("DIVIO_API_TOKEN", "DIVIO_API_URL", "DIVIO_ZONE", "NETRC", "NETRC_PATH",
                 "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """An empty HOME (no ~/.netrc) and none of the variables the client or requests would read."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(autouse=True)
def leak_guard(monkeypatch, capsys):
    """Fail the test if a token shows up in any DivioError or in captured output. Yields the errors."""
    from ansible_collections.divio.cloud.plugins.module_utils.errors import DivioError

    created = []
    original_init = DivioError.__init__

    def recording_init(self, message, **details):
        original_init(self, message, **details)
        created.append(self)

    monkeypatch.setattr(DivioError, "__init__", recording_init)
    monkeypatch.setattr(DivioError, "_secrets", set())  # no secrets registered by earlier tests
    yield created
    out, err = capsys.readouterr()
    texts = {"stdout": out, "stderr": err}
    for number, exc in enumerate(created):
        texts["%s #%d" % (type(exc).__name__, number)] = "%s %r %r" % (exc, exc.args, exc.details)
    leaks = sorted(name for name, text in texts.items() if SECRET_MARK in text.lower())
    assert not leaks, "a token leaked into: %s" % ", ".join(leaks)


class FakeTime:
    """Stands in for ``time.sleep`` and ``time.monotonic``: sleeping records the wait and moves the clock."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self):
        return self.now


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def make_policy(fake_time):
    """``make_policy(**RetryPolicy kwargs)``: a policy that never really sleeps."""

    from ansible_collections.divio.cloud.plugins.module_utils.client import RetryPolicy

    def make(**kwargs):
        return RetryPolicy(sleep=fake_time.sleep, clock=fake_time.monotonic, **kwargs)

    return make


@pytest.fixture
def api():
    """The mocked HTTP layer (``responses``); ``api.calls`` lists every request that was sent."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def make_client(make_policy):
    """``make_client(options=None, environ=None, max_concurrency=1, limits=None, **RetryPolicy kwargs)``; the
    token is an option by default; ``limits`` overrides settings (``max_pages``, ``deadline``, ...) after they
    were resolved. Sequential unless asked: the order of requests is then part of what tests check."""

    from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
    from ansible_collections.divio.cloud.plugins.module_utils.connection import resolve_connection
    from mock_api import BASE, TOKEN

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
