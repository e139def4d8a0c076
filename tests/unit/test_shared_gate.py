"""The client's one request limit is shared by every thread, and so is a server's "slow down" (issue 18)."""

import threading

import responses

from ansible_collections.divio.cloud.plugins.module_utils.client import ConcurrencyLimit, DivioClient, RetryPolicy
from ansible_collections.divio.cloud.plugins.module_utils.connection import resolve_connection

TOKEN = "tok-sekrit-gate-0c9e"
BASE = "https://api.divio.com"
ME = "/iam/v3/me/"
BLOCKED = 0.3  # seconds another thread is given to get past a closed gate (it must not)


def starts_request(limit):
    """Whether another thread can start a request within ``BLOCKED`` seconds; it is let through later
    either way (the returned thread ends once it got in)."""
    entered = threading.Event()

    def request():
        with limit:
            entered.set()

    thread = threading.Thread(target=request, daemon=True)
    thread.start()
    return entered.wait(BLOCKED), thread, entered


def test_a_closed_gate_holds_every_other_thread_until_it_reopens():
    limit = ConcurrencyLimit(8)
    with limit.closed():
        started, thread, entered = starts_request(limit)
        assert not started
    thread.join(5)
    assert entered.is_set()


def test_a_closed_gate_lets_requests_in_flight_finish():
    limit = ConcurrencyLimit(2)
    with limit:
        with limit.closed():
            pass  # leaving the limit while closed must not block
    started, thread, _entered = starts_request(limit)
    assert started
    thread.join(5)


def test_requests_start_in_the_order_they_asked():
    """First come, first served: a request told to wait (it asks again afterwards) queues behind the others."""
    limit = ConcurrencyLimit(1)
    order = []

    def request(name):
        with limit:
            order.append(name)

    with limit:
        threads = []
        for name in ("first", "second", "third"):
            threads.append(threading.Thread(target=request, args=(name,), daemon=True))
            threads[-1].start()
            threads[-1].join(0.1)  # queued before the next one starts
    for thread in threads:
        thread.join(5)
    assert order == ["first", "second", "third"]


def client_sleeping_with(sleep):
    settings = resolve_connection({"api_url": BASE, "api_token": TOKEN}, {})
    return DivioClient(settings, retry=RetryPolicy(sleep=sleep), max_concurrency=8)


def test_a_429_retry_after_stops_every_thread_of_the_task_while_it_is_waited_out():
    seen = []

    def sleep(seconds):
        # While the thread that got the 429 waits, another thread of the same task may not send.
        started, thread, entered = starts_request(client.concurrency)
        seen.append((seconds, started, thread, entered))

    client = client_sleeping_with(sleep)
    with responses.RequestsMock() as api:
        api.add(responses.GET, BASE + ME, status=429, headers={"Retry-After": "2"}, json={"detail": "slow down"})
        api.add(responses.GET, BASE + ME, json={"uuid": "u"})
        assert client.get(ME) == {"uuid": "u"}
    [(seconds, started, thread, entered)] = seen
    assert seconds == 2.0 and not started
    thread.join(5)
    assert entered.is_set()  # and once it was waited out, it did
    assert client.retry_count == 1


def test_a_plain_server_error_slows_only_the_request_that_got_it():
    seen = []

    def sleep(seconds):
        started, thread, _entered = starts_request(client.concurrency)
        seen.append(started)
        thread.join(5)

    client = client_sleeping_with(sleep)
    with responses.RequestsMock() as api:
        api.add(responses.GET, BASE + ME, status=502, json={"detail": "bad gateway"})
        api.add(responses.GET, BASE + ME, json={"uuid": "u"})
        assert client.get(ME) == {"uuid": "u"}
    assert seen == [True]
