"""Fixtures of the hostile-server tests.

- ``loopback_only`` (autouse): nothing in the test process may resolve or connect to anything but
  loopback; an attempt fails where it happens and fails the test at its end unless the test took it
  (``loopback_only.take()``). Yields the guard.
- ``hostile``: ``hostile(behaviour, tls=None)`` starts a ``HostileServer`` on 127.0.0.1, stopped after the
  test; ``certificate`` is a self-signed (certificate, key) for ``tls``.
- ``make_client``: ``make_client(url, **options)`` a real ``DivioClient`` (real HTTP) with short
  backoffs; options are connection options (``timeout``, ``retries``, ``max_pages``, ...).
- ``guarded_env``: environment for ansible-playbook runs that installs the same guard in every
  Python process of the run; ``guarded_env.attempts()`` reads what they refused.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import loopback_guard
from hostile_server import TOKEN, HostileServer


class Guard:
    def __init__(self):
        self.attempts = []

    def take(self):
        taken, self.attempts[:] = list(self.attempts), []
        return taken


@pytest.fixture(autouse=True)
def loopback_only():
    guard = Guard()
    undo = loopback_guard.install(guard.attempts.append)
    try:
        yield guard
    finally:
        undo()
    assert not guard.attempts, "non-loopback network access was attempted: %s" % guard.attempts


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


@pytest.fixture
def hostile():
    """``hostile(behaviour, tls=None)``: a started ``HostileServer``, stopped after the test."""
    servers = []

    def start(behaviour, tls=None):
        server = HostileServer(behaviour, tls).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def make_client():
    from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient, RetryPolicy

    clients = []

    def make(url, **options):
        options = dict({"api_url": url, "api_token": TOKEN, "timeout": 2, "retries": 2}, **options)
        client = DivioClient.from_options(options, environ={}, retry=RetryPolicy(backoff_base=0.01, backoff_max=0.05))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


class GuardedEnv(dict):
    def __init__(self, log):
        super().__init__(PYTHONPATH=str(HERE / "guard"), HOSTILE_GUARD_LOG=str(log))
        self.log = log

    def attempts(self):
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def guarded_env(tmp_path):
    env = GuardedEnv(tmp_path / "guard.log")
    yield env
    assert not env.attempts(), "a playbook process attempted non-loopback network access: %s" % env.attempts()


os.environ.pop("HOSTILE_GUARD_LOG", None)  # never inherited from an outer run
