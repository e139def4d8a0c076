# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""HTTP below the client: every read of a request ends by its deadline, every body by a size cap.

requests applies its ``timeout`` to each socket read, so a server that sends one byte a second
could hold a request open for ever. Here the client sets a deadline per request (``bounded_by``)
and the connections of ``DeadlineAdapter`` give each read of the headers and the body only the
time that is left. ``read_body`` reads the body in chunks under the same deadline and a byte cap.
No Ansible imports.

Works on both urllib3 lines, 1.26 and 2.x; ``make test`` runs the client and hostile-server tests on each.
Public interfaces where they do the job: the socket's own ``makefile``, the connection's ``host``, the pool's
``ConnectionCls``, the pool manager's ``pool_classes_by_scheme`` (how urllib3's own SOCKS support brings its
connections). Below them, the same on both lines: the ``_new_conn`` hook where urllib3 opens the socket, and
its ``_dns_host`` (the name with a trailing dot kept), read only, with ``host`` to fall back on.
"""

import contextlib
import io
import ipaddress
import socket
import threading

try:
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
except ImportError:  # the client reports the missing library
    HTTPAdapter = HTTPConnection = HTTPSConnection = HTTPConnectionPool = HTTPSConnectionPool = object
    ConnectTimeoutError = NewConnectionError = Exception
try:
    from urllib3.exceptions import NameResolutionError
except ImportError:  # urllib3 1.x reports a failed lookup as a NewConnectionError
    NameResolutionError = None

CHUNK_BYTES = 64 * 1024
_current = threading.local()


class BodyTooLarge(Exception):
    """The body passed ``max_bytes``; ``size`` is what was known when reading stopped."""

    def __init__(self, size, announced):
        super().__init__(size)
        self.size = size
        self.announced = announced


class BodyTimeout(Exception):
    """The deadline passed before the whole body arrived."""


@contextlib.contextmanager
def bounded_by(deadline):
    """Reads on this thread's connections end by ``deadline`` while the block runs."""
    previous = getattr(_current, "deadline", None)
    _current.deadline = deadline
    try:
        yield deadline
    finally:
        _current.deadline = previous


def read_body(response, deadline, max_bytes):
    """The whole body of a streamed requests response, as bytes, or ``BodyTooLarge`` / ``BodyTimeout``;
    requests' own exceptions pass through. The response is spent afterwards: use the bytes."""
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        response.close()
        raise BodyTooLarge(int(announced), True)
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooLarge(size, False)
            if deadline.passed():
                raise BodyTimeout()
            chunks.append(chunk)
    except BaseException:
        response.close()
        raise
    return b"".join(chunks)


class _DeadlineReader(io.RawIOBase):
    """The raw reader under ``sock.makefile("rb")``: each read waits only for what is left of the deadline.
    It reads through the socket's own unbuffered reader, which keeps the socket open until it is closed too."""

    def __init__(self, sock):
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self):
        return True

    def fileno(self):
        return self._raw.fileno()

    def readinto(self, b):
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise socket.timeout("the request's time is up")
            self._sock.settimeout(remaining)
        return self._raw.readinto(b)

    def close(self):
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineSocket:
    """A connected socket whose response reader is a ``_DeadlineReader``; everything else is the socket's."""

    def __init__(self, sock):
        self._sock = sock

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def makefile(self, mode="r", buffering=None, **kwargs):
        if mode != "rb":
            return self._sock.makefile(mode, buffering, **kwargs)
        return io.BufferedReader(_DeadlineReader(self._sock))


def resolve_within(host, port, seconds):
    """``socket.getaddrinfo`` of ``host`` (TCP), waiting at most ``seconds``: the system resolver answers on its
    own schedule, which no socket timeout bounds. None for an IP address (nothing to resolve). A lookup that
    is given up on goes on in its daemon thread, and its answer is dropped."""
    try:
        ipaddress.ip_address(host.strip("[]").split("%")[0])
        return None
    except ValueError:
        pass
    answer = {}

    def lookup():
        try:
            answer["addresses"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except Exception as exc:  # handed to the caller's thread
            answer["error"] = exc

    worker = threading.Thread(target=lookup, name="divio-resolve", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise socket.timeout("resolving %s took longer than %g s" % (host, seconds))
    if "error" in answer:
        raise answer["error"]
    return answer["addresses"]


class _DeadlineConnection:
    def _new_conn(self):
        """Connect as urllib3 does, with the name resolved within the connect timeout first (then each of its
        addresses is tried in turn, as ``socket.create_connection`` would). urllib3 dials ``host``: it is set to
        each address while urllib3 connects, and back to the name after (TLS checks the certificate against it)."""
        # The name as written: ``host`` drops a trailing dot, which means "no search domains" to the resolver.
        name = getattr(self, "_dns_host", None) or self.host
        try:
            addresses = resolve_within(name, self.port, self.timeout if isinstance(self.timeout, (int, float)) else None)
        except socket.timeout as exc:
            raise ConnectTimeoutError(self, "Resolving %s took longer than the connect timeout (%s s)." % (name, self.timeout)) from exc
        except OSError as exc:  # reported as urllib3 reports a failed lookup
            if NameResolutionError is not None and isinstance(exc, socket.gaierror):
                raise NameResolutionError(self.host, self, exc) from exc
            raise NewConnectionError(self, "Failed to establish a new connection: %s" % exc) from exc
        if not addresses:
            return super()._new_conn()
        failure = None
        for family, _type, _proto, _name, address in addresses:
            literal = address[0] if family != socket.AF_INET6 or not address[3] else "%s%%%d" % (address[0], address[3])
            self.host = literal
            try:
                return super()._new_conn()
            except NewConnectionError as exc:  # refused or unreachable: the next address may answer (a timeout ends it)
                failure = exc
            finally:
                self.host = name
        raise failure

    def connect(self):
        # Connecting (and the TLS handshake, which Python bounds as a whole by the socket timeout)
        # gets the connect timeout the client passes: what is left of the request's time.
        super().connect()
        self.sock = _DeadlineSocket(self.sock)


class _HTTPConnection(_DeadlineConnection, HTTPConnection):
    pass


class _HTTPSConnection(_DeadlineConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter with connections whose reads end by the current request's deadline."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS managers bring their own connections
            manager.pool_classes_by_scheme = _POOLS
        return manager
