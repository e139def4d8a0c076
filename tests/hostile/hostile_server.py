"""A deliberately hostile HTTP server for tests: stdlib ``http.server`` on 127.0.0.1 in a thread.

Each server answers every request with one *behaviour*, a function ``behaviour(exchange)`` that uses the
``Exchange`` helpers below: JSON answers, redirects, bodies dripped a byte at a time, endless or huge
bodies, headers that never end, and echoes of the Authorization header into bodies, headers and
redirect locations. Everything it does is bounded: a dripping or streaming answer stops after
``MAX_SECONDS`` or when the client hangs up, and ``stop()`` ends the server at once.
"""

import gzip
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_SECONDS = 20.0  # no answer of this server lasts longer, whatever the behaviour
MAX_RECORDED = 10000
# Distinctive in whole and in every 6-character piece, so output can be searched for any part of it.
TOKEN = "Zq7vXw-h0st1le-4c1e9b0d5a7f"


class Exchange:
    """One request and the ways to answer it."""

    def __init__(self, handler, server):
        self.handler = handler
        self.server = server
        self.method = handler.command
        self.url = handler.path
        parts = urlsplit(handler.path)
        self.path = parts.path
        self.query = dict((k, v[0]) for k, v in parse_qs(parts.query).items())
        self.headers = handler.headers
        self.authorization = handler.headers.get("Authorization", "")
        self.token = self.authorization.split(" ", 1)[-1] if self.authorization else ""
        self.started = time.monotonic()

    @property
    def origin(self):
        return self.server.url

    def _start(self, status, headers):
        self.handler.send_response_only(status)
        for name, value in headers:
            self.handler.send_header(name, value)
        self.handler.end_headers()

    def send(self, status=200, body=b"", headers=(), content_type="application/json"):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self._start(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))] + list(headers))
        self.handler.wfile.write(body)

    def json(self, obj, status=200, headers=()):
        self.send(status, json.dumps(obj), headers)

    def page(self, results, next_url=None, count=None, status=200):
        self.json({"count": count, "next": next_url, "previous": None, "results": results}, status)

    def redirect(self, location, status=302, headers=()):
        self.send(status, b"", [("Location", location)] + list(headers))

    def drip(self, body, interval, status=200, headers=(), announce=True):
        """Headers at once, then the body one byte per ``interval`` seconds."""
        body = body.encode("utf-8") if isinstance(body, str) else body
        length = [("Content-Length", str(len(body)))] if announce else [("Connection", "close")]
        self._start(status, [("Content-Type", "application/json")] + length + list(headers))
        for index in range(len(body)):
            if not self._alive():
                return
            self.handler.wfile.write(body[index:index + 1])
            self.handler.wfile.flush()
            time.sleep(interval)

    def drip_headers(self, interval):
        """A status line, then header bytes one per ``interval`` seconds, never finishing the headers."""
        self.handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        while self._alive():
            self.handler.wfile.write(b"X-Slow: " + b"a" * 4 + b"\r\n")
            self.handler.wfile.flush()
            time.sleep(interval)

    def stall(self):
        """Say nothing until the client hangs up (or the server's time limit)."""
        while self._alive():
            time.sleep(0.05)

    def endless(self, chunk=b" " * 65536, announce=None, encoding=None):
        """A body that never ends (chunked), or announces ``announce`` bytes and streams until hung up."""
        headers = [("Content-Type", "application/json")]
        if encoding:
            headers.append(("Content-Encoding", encoding))
        headers.append(("Content-Length", str(announce)) if announce else ("Transfer-Encoding", "chunked"))
        self._start(200, headers)
        while self._alive():
            data = chunk if announce else b"%x\r\n%s\r\n" % (len(chunk), chunk)
            self.handler.wfile.write(data)
            self.server.bytes_sent += len(chunk)

    def gzip_bomb(self, size):
        """``size`` bytes of JSON whitespace, gzip-compressed to a few kB."""
        body = gzip.compress(b"[" + b" " * size + b"]", 9)
        self.send(200, body, [("Content-Encoding", "gzip")])

    def _alive(self):
        return not self.server.stopping.is_set() and time.monotonic() - self.started < MAX_SECONDS


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        server = self.server.hostile
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1 << 20)) if length else b""
        exchange = Exchange(self, server)
        with server.lock:
            if len(server.requests) < MAX_RECORDED:
                server.requests.append((self.command, self.path, dict(self.headers), body))
        try:
            server.behaviour(exchange)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hung up on a hostile answer is what these tests expect


class HostileServer:
    """``HostileServer(behaviour, tls=None).start()``; ``url``, ``port``, ``requests`` (method, path, headers,
    body). ``tls``: (certificate file, key file) to serve https."""

    def __init__(self, behaviour, tls=None):
        self.behaviour = behaviour
        self.requests = []
        self.bytes_sent = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.hostile = self
        if tls:  # (certificate file, key file): serve https
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def paths(self):
        return [path for _method, path, _headers, _body in self.requests]


def token_pieces(text):
    """The pieces of the token that show in ``text`` (6 characters or more, any case)."""
    lowered = text.lower()
    token = TOKEN.lower()
    return sorted(set(token[i:i + 6] for i in range(len(token) - 5) if token[i:i + 6] in lowered))


def assert_no_token(*texts):
    for text in texts:
        assert not token_pieces(text), "token pieces %s in: %s" % (token_pieces(text), text[-2000:])
