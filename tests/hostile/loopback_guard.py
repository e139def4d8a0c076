"""Refuse, and record, every attempt to resolve or connect to anything but loopback.

Installed in the test process by the ``loopback_only`` fixture and, through ``guard/sitecustomize.py``
(``PYTHONPATH``), in every Python process a playbook run starts; those append refusals to the file
named by ``HOSTILE_GUARD_LOG``. A test of a refusal then proves that nothing was even attempted.
"""

import ipaddress
import os
import socket

LOOPBACK_NAMES = ("localhost", "localhost.", "ip6-localhost")


def is_loopback(host):
    if host is None:
        return True  # a passive lookup (binding), not a destination
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def install(record):
    """Patch socket so that non-loopback destinations call ``record(text)`` and fail; returns an undo."""
    original = (socket.getaddrinfo, socket.create_connection, socket.socket.connect, socket.socket.connect_ex)

    def refuse(what, host):
        text = "%s %s" % (what, host)
        record(text)
        return OSError("loopback guard: refused %s" % text)

    def getaddrinfo(host, *args, **kwargs):
        if not is_loopback(host):
            record("resolve %s" % (host,))
            raise socket.gaierror(socket.EAI_NONAME, "loopback guard: refused to resolve %s" % (host,))
        return original[0](host, *args, **kwargs)

    def create_connection(address, *args, **kwargs):
        if not is_loopback(address[0]):
            raise refuse("connect", address[0])
        return original[1](address, *args, **kwargs)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0]):
            raise refuse("connect", address[0])
        return original[2](self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0]):
            refuse("connect", address[0])
            return 111
        return original[3](self, address)

    socket.getaddrinfo, socket.create_connection = getaddrinfo, create_connection
    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex

    def undo():
        socket.getaddrinfo, socket.create_connection, socket.socket.connect, socket.socket.connect_ex = original

    return undo


def install_from_environment():
    path = os.environ.get("HOSTILE_GUARD_LOG")
    if not path:
        return

    def record(text):
        with open(path, "a") as log:
            log.write("%d %s\n" % (os.getpid(), text))

    install(record)
