# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Connection options: the one place that names them, validates them and finds the token.

Modules build their argument spec from ``CONNECTION_ARGUMENT_SPEC``; the lookup reads the same
option names through ``get_option``. Both then call ``resolve_connection`` with a plain dict, so
precedence (option > environment > netrc) and validation are identical everywhere.
No Ansible imports here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import netrc
import os
import re

from ansible_collections.divio.cloud.plugins.module_utils.errors import ConfigurationError

from urllib.parse import urlsplit

DEFAULT_ZONE = "divio.com"
DEFAULT_TIMEOUT = 30

TOKEN_ENV = "DIVIO_API_TOKEN"
API_URL_ENV = "DIVIO_API_URL"
ZONE_ENV = "DIVIO_ZONE"
NETRC_ENV = "NETRC_PATH"

# Defaults are applied in resolve_connection, not in the spec, so that an unset option can still
# fall back to its environment variable.
CONNECTION_ARGUMENT_SPEC = dict(
    api_token=dict(type="str", no_log=True),
    api_url=dict(type="str"),
    zone=dict(type="str"),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="float"),
)

CONNECTION_OPTION_NAMES = tuple(CONNECTION_ARGUMENT_SPEC)

_ZONE_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$")
# A token is sent verbatim in a header: anything but visible ASCII would break or split it.
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")


class ConnectionSettings:
    """Everything a client needs to talk to one API. ``repr`` never shows the token."""

    def __init__(self, base_url, token, token_source, validate_certs=True, timeout=DEFAULT_TIMEOUT):
        self.base_url = base_url
        self.token = token
        self.token_source = token_source
        self.validate_certs = validate_certs
        self.timeout = timeout

    def __repr__(self):
        return "ConnectionSettings(base_url=%r, token=<%s>, validate_certs=%r, timeout=%r)" % (
            self.base_url, self.token_source, self.validate_certs, self.timeout)


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def normalize_api_url(api_url, option="api_url"):
    """Return ``scheme://host[:port]`` or raise: the API paths are fixed, so a path is a mistake."""
    url = api_url.strip()
    problem = None
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a non-numeric port
    except ValueError as exc:
        parts, port, problem = None, None, str(exc)
    if parts is not None:
        if parts.scheme not in ("http", "https"):
            problem = "it needs an http:// or https:// scheme"
        elif not parts.hostname:
            problem = "it has no host name"
        elif parts.username or parts.password:
            problem = "credentials in the URL are not supported; use api_token"
        elif parts.path not in ("", "/") or parts.query or parts.fragment:
            problem = "it must not have a path, query or fragment (the client adds /apps/v3/...)"
    if problem:
        # Whatever else is wrong, credentials in the URL are never repeated.
        shown = re.sub(r"//[^/@]*@", "//***@", api_url)
        raise ConfigurationError(
            "%s %r is not valid: %s. Expected a base URL such as https://api.divio.com "
            "or http://127.0.0.1:8000." % (option, shown, problem))
    netloc = parts.hostname if port is None else "%s:%d" % (parts.hostname, port)
    if ":" in parts.hostname:  # IPv6 literal
        netloc = "[%s]" % parts.hostname if port is None else "[%s]:%d" % (parts.hostname, port)
    return "%s://%s" % (parts.scheme, netloc)


def _base_url_from_zone(zone):
    zone = zone.strip()
    # divio-cli accepts a full URL as the zone (e.g. a local server); so do we.
    if zone.startswith(("http://", "https://")):
        return normalize_api_url(zone, option="zone")
    if not _ZONE_RE.match(zone):
        raise ConfigurationError(
            "zone %r is not valid: expected a domain name such as divio.com (the API is then "
            "https://api.<zone>)." % zone)
    return "https://api.%s" % zone.lower()


def netrc_machines(base_url):
    """The netrc entries that may hold the token for ``base_url``, most specific first.

    ``divio login`` writes ``machine control.<zone>`` (and newer versions ``api.<zone>``); for a
    server given by URL (a local simulator) divio-cli looks up the bare host name.
    """
    host = urlsplit(base_url).hostname
    machines = [host]
    if host.startswith("api."):
        machines.append("control." + host[len("api."):])
    return machines


def _token_from_netrc(base_url, environ):
    path = environ.get(NETRC_ENV) or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.isfile(path):
        return None, None
    try:
        entries = netrc.netrc(path)
    except (netrc.NetrcParseError, IOError, OSError) as exc:
        # The parser's message can quote a line of the file, i.e. a token: report only where.
        line = getattr(exc, "lineno", None)
        raise ConfigurationError(
            "could not read the netrc file %s%s; fix or remove it, or set api_token / %s."
            % (path, " (line %s)" % line if line else "", TOKEN_ENV))
    for machine in netrc_machines(base_url):
        # Not authenticators(): it falls back to a netrc "default" entry, another service's secret.
        auth = entries.hosts.get(machine)
        if auth and auth[2]:
            return auth[2], "netrc %s (machine %s)" % (path, machine)
    return None, None


def _check_token(token, source):
    if not _TOKEN_RE.fullmatch(token):
        raise ConfigurationError(
            "the API token from %s contains whitespace or control characters; it was not sent. "
            "Copy the token again without spaces or line breaks." % source)


def resolve_connection(options, environ=None):
    """Turn connection options (a dict, unset = None) into ``ConnectionSettings``.

    Precedence for each setting: the option, then its environment variable, then the default.
    The token: ``api_token``, then ``DIVIO_API_TOKEN``, then netrc (``$NETRC_PATH`` or ~/.netrc).
    """
    environ = os.environ if environ is None else environ
    api_url = options.get("api_url")
    if _blank(api_url):
        api_url = environ.get(API_URL_ENV)
    zone = options.get("zone")
    if _blank(zone):
        zone = environ.get(ZONE_ENV)
    if not _blank(api_url):
        base_url = normalize_api_url(api_url)
    else:
        base_url = _base_url_from_zone(zone if not _blank(zone) else DEFAULT_ZONE)

    timeout = options.get("timeout")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        raise ConfigurationError("timeout %r is not valid: expected a number of seconds greater than 0." % (timeout,))
    if not timeout > 0:
        raise ConfigurationError("timeout %r is not valid: expected a number of seconds greater than 0." % (timeout,))

    validate_certs = options.get("validate_certs")
    validate_certs = True if validate_certs is None else bool(validate_certs)

    token, source = options.get("api_token"), "the api_token option"
    if _blank(token):
        token, source = environ.get(TOKEN_ENV), "the %s environment variable" % TOKEN_ENV
    if _blank(token):
        token, source = _token_from_netrc(base_url, environ)
    if _blank(token):
        raise ConfigurationError(
            "no Divio API token found for %s. Set it in one of three ways: the api_token option "
            "(e.g. through module_defaults), the %s environment variable, or a netrc entry for "
            "machine %s (what `divio login` writes; file: $%s or ~/.netrc)."
            % (base_url, TOKEN_ENV, " or ".join(netrc_machines(base_url)), NETRC_ENV))
    _check_token(token, source)
    return ConnectionSettings(base_url, token, source, validate_certs=validate_certs, timeout=timeout)
