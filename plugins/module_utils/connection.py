# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Connection options: the one table that names them, and the one place that reads and validates them.

``CONNECTION_OPTIONS`` is the source of the module argument spec (``CONNECTION_ARGUMENT_SPEC``), of the
plugin options' sources (environment variable, ``ansible.cfg`` key, variable) and of the ``connection``
doc fragment (``tests/unit/test_options.py`` proves the fragment agrees). ``resolve_connection`` is the
only code of the collection that reads the environment; modules hand it their parameters, plugins the
values Ansible found with their origins, so precedence and validation are identical everywhere:
option > environment variable > default; the token: option > DIVIO_API_TOKEN > netrc.
No Ansible imports here.
"""

import ipaddress
import math
import netrc
import os
import re
import stat
import unicodedata
from urllib.parse import urlsplit

from ansible_collections.divio.cloud.plugins.module_utils.errors import ConfigurationError

DEFAULT_ZONE = "divio.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 6
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_PAGES = 20000
DEFAULT_MAX_ITEMS = 1000000
DEFAULT_MAX_CONCURRENCY = 8
DEFAULT_MAX_REREAD = 5

TOKEN_ENV = "DIVIO_API_TOKEN"
API_URL_ENV = "DIVIO_API_URL"
ZONE_ENV = "DIVIO_ZONE"
NETRC_ENV = "NETRC_PATH"

#: ``settings.sources`` value of an option that nobody set.
DEFAULT_SOURCE = "default"


class ConnectionOption:
    """One row of the option table. The environment variable, ``ansible.cfg`` key (section ``[divio]``)
    and variable of an option follow from its name: ``timeout`` -> ``DIVIO_TIMEOUT``, ``timeout``,
    ``divio_timeout``."""

    INI_SECTION = "divio"

    def __init__(self, name, type, default, parse, no_log=False):
        self.name = name
        self.type = type
        self.default = default
        self.parse = parse  # parse(value, name, where) -> value, or raises ConfigurationError
        self.no_log = no_log
        self.env = "DIVIO_" + name.upper()
        self.variable = "divio_" + name
        self.ini_key = name

    def is_unset(self, value):
        # An empty string means "not set" for text options (as for environment variables): a blank
        # api_url in module_defaults falls back like an absent one. Numbers and booleans only when None.
        return value is None or (self.type == "str" and isinstance(value, str) and not value.strip())

    def argument_spec(self):
        # No default here: an unset option must still be able to fall back to its environment variable.
        spec = dict(type=self.type)
        if self.no_log:
            spec["no_log"] = True
        return spec

    def __repr__(self):
        return "ConnectionOption(%r)" % self.name


def _shown(value):
    """A value as messages quote it; text that looks like a URL loses its credentials first."""
    return repr(hide_url_credentials(value) if isinstance(value, str) else value)


def _invalid(name, value, where, expected):
    """``timeout 'soon' from the DIVIO_TIMEOUT environment variable is not valid: expected ...``"""
    return ConfigurationError("%s %s%s is not valid: expected %s." % (name, _shown(value), where, expected))


def _text(value, name, where):
    if not isinstance(value, str):
        raise _invalid(name, value, where, "a string")
    return value


_TRUE = ("1", "true", "yes", "on", "y", "t")
_FALSE = ("0", "false", "no", "off", "n", "f")


def _boolean(value, name, where):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise _invalid(name, value, where, "true or false")


def _seconds(maximum):
    """A parser for a positive, finite number of seconds up to ``maximum`` (int, float or numeric string)."""
    expected = "a number of seconds greater than 0 and at most %d" % maximum

    def parse(value, name, where):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _invalid(name, value, where, expected)
        try:
            number = float(value)
        except ValueError:
            raise _invalid(name, value, where, expected) from None
        if not math.isfinite(number) or not 0 < number <= maximum:
            raise _invalid(name, value, where, expected)
        return number

    return parse


def _whole(unit, maximum, note=""):
    """A parser for a whole number from 1 to ``maximum`` (int, integral float or digits)."""
    expected = "a whole number of %s from 1%s to %d" % (unit, note, maximum)

    def parse(value, name, where):
        number = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
            number = int(value)
        if number is None or not 1 <= number <= maximum:
            raise _invalid(name, value, where, expected)
        return number

    return parse


# The option table. Its order is the order of the docs and of the lookup's option list.
CONNECTION_OPTIONS = (
    ConnectionOption("api_token", "str", None, _text, no_log=True),
    ConnectionOption("api_url", "str", None, _text),
    ConnectionOption("zone", "str", DEFAULT_ZONE, _text),
    ConnectionOption("validate_certs", "bool", True, _boolean),
    # Limits (issue 14): each bounds what a broken or hostile server can cost; the client enforces them.
    # The maxima only catch typos and absurd values ("timeout: 3e9"), far above any sensible setting.
    ConnectionOption("timeout", "float", DEFAULT_TIMEOUT, _seconds(3600)),
    ConnectionOption("retries", "int", DEFAULT_RETRIES, _whole("tries", 100, " (no retry)")),
    ConnectionOption("deadline", "float", None, _seconds(86400)),
    ConnectionOption("allow_plain_http", "bool", False, _boolean),
    ConnectionOption("max_response_bytes", "int", DEFAULT_MAX_RESPONSE_BYTES, _whole("bytes", 1024 ** 3)),
    ConnectionOption("max_pages", "int", DEFAULT_MAX_PAGES, _whole("pages", 10 ** 7)),
    ConnectionOption("max_items", "int", DEFAULT_MAX_ITEMS, _whole("items", 10 ** 9)),
    ConnectionOption("max_concurrency", "int", DEFAULT_MAX_CONCURRENCY, _whole("requests", 64)),
    ConnectionOption("max_reread", "int", DEFAULT_MAX_REREAD, _whole("re-reads", 1000)),
)
OPTIONS_BY_NAME = dict((option.name, option) for option in CONNECTION_OPTIONS)
CONNECTION_OPTION_NAMES = tuple(option.name for option in CONNECTION_OPTIONS)
CONNECTION_ARGUMENT_SPEC = dict((option.name, option.argument_spec()) for option in CONNECTION_OPTIONS)

_ZONE_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$")
# A token is sent verbatim in a header: anything but visible ASCII would break or split it.
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")


class ConnectionSettings:
    """Everything a client needs to talk to one API, validated. ``repr`` never shows the token.

    ``sources`` maps each option name to where its value came from (``"the timeout option"``,
    ``"the DIVIO_TIMEOUT environment variable"``, ``"netrc /home/me/.netrc (machine api.divio.com)"``,
    ``"default"``); ``token_source`` is ``sources["api_token"]``, the words a 401 message uses.
    """

    def __init__(self, base_url, token, token_source, validate_certs=True, timeout=DEFAULT_TIMEOUT,
                 retries=DEFAULT_RETRIES, deadline=None, allow_plain_http=False,
                 max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES, max_pages=DEFAULT_MAX_PAGES,
                 max_items=DEFAULT_MAX_ITEMS, max_concurrency=DEFAULT_MAX_CONCURRENCY, max_reread=DEFAULT_MAX_REREAD,
                 sources=None):
        self.base_url = base_url
        self.token = token
        self.validate_certs = validate_certs
        self.timeout = timeout  # seconds for one whole request: connect, headers and complete body
        self.retries = retries  # tries per request, the first included
        self.deadline = deadline  # seconds for all of a task's API work, or None
        self.allow_plain_http = allow_plain_http
        self.max_response_bytes = max_response_bytes
        self.max_pages = max_pages  # per listing
        self.max_items = max_items  # per listing
        self.max_concurrency = max_concurrency  # requests in flight for the whole task
        self.max_reread = max_reread  # re-reads in a row of one stretch of a list that changes while read
        self.sources = dict(sources or {})
        self.sources["api_token"] = token_source

    @property
    def token_source(self):
        return self.sources["api_token"]

    @token_source.setter
    def token_source(self, value):
        self.sources["api_token"] = value

    def __repr__(self):
        shown = ", ".join("%s=%r" % (option.name, getattr(self, option.name)) for option in CONNECTION_OPTIONS
                          if option.name not in ("api_token", "api_url", "zone"))
        return "ConnectionSettings(base_url=%r, token=<from %s>, %s)" % (self.base_url, self.token_source, shown)


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _credentials_span(text):
    """(start, end) of what may be URL credentials in ``text``, or None.

    Everything between the scheme's ``//`` (or the start) and the LAST ``@``: a password may hold
    ``@ / # ? %`` (encoded or not), which ends the user-info early for a URL parser, not for a reader.
    """
    at = text.rfind("@")
    if at < 0:
        return None
    scheme_end = text.find("//")
    return (scheme_end + 2 if 0 <= scheme_end < at else 0), at


def hide_url_credentials(text):
    """``text`` with anything that may be URL credentials replaced by ``***``."""
    span = _credentials_span(text)
    return text if span is None else text[:span[0]] + "***" + text[span[1]:]


def url_credentials(text):
    """The part of ``text`` that ``hide_url_credentials`` hides (to register it as a secret), or None.

    Shorter than 4 characters it is not returned: masking such a string everywhere in a task's output
    would garble the output and protect nothing (our own messages hide it whatever its length)."""
    if not isinstance(text, str):
        return None
    span = _credentials_span(text.strip())
    secret = text.strip()[span[0]:span[1]] if span else ""
    return secret if len(secret) >= 4 else None


def _character_problem(url):
    """Why a URL with whitespace or control characters cannot be used (a URL parser would silently drop
    tabs and line breaks, or stop at a space, and talk to another host than the one the user meant)."""
    for position, char in enumerate(url, 1):
        if unicodedata.category(char) == "Cc" or char in "\u2028\u2029":
            return "it contains the control character U+%04X at character %d" % (ord(char), position)
        if char.isspace():
            return "it contains a space (U+%04X) at character %d" % (ord(char), position)
    return None


def normalize_api_url(api_url, option="api_url", where=""):
    """Return ``scheme://host[:port]`` or raise: the API paths are fixed, so a path is a mistake.

    Spaces around the URL are trimmed; any other whitespace or control character is an error."""
    url = api_url.strip(" ")
    problem = _character_problem(url)
    parts = port = None
    if problem is None:
        try:
            parts = urlsplit(url)
            port = parts.port  # raises ValueError on a non-numeric port
        except ValueError as exc:
            problem = str(exc)
    if parts is not None:
        if parts.scheme not in ("http", "https"):
            problem = "it needs an http:// or https:// scheme"
            if "://" in url:
                problem += ", not %s://" % hide_url_credentials(url.split("://", 1)[0])
        elif not parts.hostname:
            problem = "it has no host name"
        elif parts.username or parts.password or "@" in parts.netloc:
            problem = "credentials in the URL are not supported; use api_token"
        elif parts.path not in ("", "/") or parts.query or parts.fragment:
            problem = "it must not have a path, query or fragment (the client adds /apps/v3/...)"
    if problem:
        # Whatever else is wrong, credentials in the URL are never repeated.
        raise ConfigurationError(
            "%s %r%s is not valid: %s. Expected a base URL such as https://api.divio.com "
            "or http://127.0.0.1:8000." % (option, hide_url_credentials(api_url), where, problem))
    netloc = parts.hostname if port is None else "%s:%d" % (parts.hostname, port)
    if ":" in parts.hostname:  # IPv6 literal
        netloc = "[%s]" % parts.hostname if port is None else "[%s]:%d" % (parts.hostname, port)
    return "%s://%s" % (parts.scheme, netloc)


def is_loopback(host):
    """127.0.0.0/8, ::1 or localhost: traffic that never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    # Python 3.13 calls an IPv4-mapped address (::ffff:127.0.0.1) loopback, older ones do not: the same answer
    # on every Python, the one documented above.
    return address.is_loopback and getattr(address, "ipv4_mapped", None) is None


def _check_plain_http(base_url, option, where):
    """The token travels in a header: over http:// only to this machine, unless the user opted in."""
    parts = urlsplit(base_url)
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            "%s %r%s is refused: plain http:// would send the API token unencrypted to %s, which is not a "
            "loopback address (127.0.0.0/8, ::1, localhost). Use https://, or set allow_plain_http: true "
            "(or DIVIO_ALLOW_PLAIN_HTTP=true) if the network between is trusted. Nothing was sent."
            % (option, base_url, where, parts.hostname))


def _base_url_from_zone(zone, where=""):
    zone = zone.strip()
    # divio-cli accepts a full URL as the zone (e.g. a local server); so do we.
    if zone.startswith(("http://", "https://")):
        return normalize_api_url(zone, option="zone", where=where)
    if not _ZONE_RE.match(zone):
        raise ConfigurationError(
            "zone %r%s is not valid: expected a domain name such as divio.com (the API is then "
            "https://api.<zone>)." % (hide_url_credentials(zone), where))
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


def _netrc_file(environ):
    """(path, how it was chosen, whether it must exist): ``$NETRC_PATH`` if set, else ``~/.netrc``."""
    path = environ.get(NETRC_ENV)
    if not _blank(path):
        return os.path.expanduser(path), "named by %s" % NETRC_ENV, True
    return os.path.join(os.path.expanduser("~"), ".netrc"), "", False


def _token_from_netrc(base_url, environ):
    path, chosen, required = _netrc_file(environ)
    described = "the netrc file %s%s" % (path, " (%s)" % chosen if chosen else "")
    advice = "; fix %s or remove it, or set the api_token option or %s." % ("NETRC_PATH" if required else "it", TOKEN_ENV)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if required:
            raise ConfigurationError("no API token: %s does not exist%s" % (described, advice)) from None
        return None, None
    except OSError as exc:  # a symlink loop, a path through a file, no permission on a folder ...
        raise ConfigurationError("no API token: %s cannot be read (%s)%s" % (described, exc.strerror, advice)) from None
    if stat.S_ISDIR(mode):
        raise ConfigurationError("no API token: %s is a folder, not a file%s" % (described, advice))
    if not stat.S_ISREG(mode):  # a FIFO would block the read forever
        raise ConfigurationError("no API token: %s is not a regular file%s" % (described, advice))
    try:
        entries = netrc.netrc(path)
    except netrc.NetrcParseError as exc:
        # The parser's message can quote a line of the file, i.e. a token: report only where.
        line = getattr(exc, "lineno", None)
        raise ConfigurationError(
            "could not read the netrc file %s%s; fix or remove it, or set api_token / %s."
            % (path, " (line %s)" % line if line else "", TOKEN_ENV)) from None
    except OSError as exc:
        raise ConfigurationError("no API token: %s cannot be read (%s)%s" % (described, exc.strerror, advice)) from None
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


def option_source(name):
    """How messages name an option set directly (module parameter, lookup keyword argument)."""
    return "the %s option" % name


def env_source(variable):
    return "the %s environment variable" % variable


def _pick(option, options, origins, environ):
    """(raw value, source) of one option: the option, else its environment variable, else (None, default)."""
    value = options.get(option.name)
    if not option.is_unset(value):
        return value, origins.get(option.name) or option_source(option.name)
    value = environ.get(option.env)
    if not _blank(value):
        return value, env_source(option.env)
    return None, DEFAULT_SOURCE


def _where(name, source):
    """"" or " from the DIVIO_TIMEOUT environment variable": where a bad value came from, unless obvious."""
    return "" if source in (option_source(name), DEFAULT_SOURCE) else " from %s" % source


def resolve_connection(options, environ=None, origins=None):
    """Turn connection options into validated ``ConnectionSettings``; nothing is sent before this passed.

    ``options``: option name -> value (unset: None; text options also blank). ``environ``: the
    environment to fall back to (default ``os.environ``). ``origins``: option name -> how to name where a
    given value came from, for plugins whose values Ansible found (``"the divio_timeout variable"``);
    an option without an origin is named ``"the <name> option"``.
    Precedence for each setting: the option, then its environment variable, then the default.
    The token: ``api_token``, then ``DIVIO_API_TOKEN``, then netrc (``$NETRC_PATH`` or ~/.netrc).
    """
    environ = os.environ if environ is None else environ
    origins = origins or {}
    values, sources = {}, {}
    for option in CONNECTION_OPTIONS:
        value, source = _pick(option, options, origins, environ)
        sources[option.name] = source
        if value is None:
            values[option.name] = option.default
        elif option.name == "api_token":
            values[option.name] = value  # checked below, in words that never quote it
        else:
            values[option.name] = option.parse(value, option.name, _where(option.name, source))

    url_option = "api_url" if values["api_url"] is not None else "zone"
    where = _where(url_option, sources[url_option])
    if url_option == "api_url":
        base_url = normalize_api_url(values["api_url"], where=where)
    else:
        base_url = _base_url_from_zone(values["zone"], where=where)
    if not values["allow_plain_http"]:
        _check_plain_http(base_url, url_option, where)

    token, token_source = values["api_token"], sources["api_token"]
    if token is None:
        token, token_source = _token_from_netrc(base_url, environ)
    if _blank(token):
        raise ConfigurationError(
            "no Divio API token found for %s. Set it in one of three ways: the api_token option "
            "(e.g. through module_defaults), the %s environment variable, or a netrc entry for "
            "machine %s (what `divio login` writes; file: $%s or ~/.netrc)."
            % (base_url, TOKEN_ENV, " or ".join(netrc_machines(base_url)), NETRC_ENV))
    if not isinstance(token, str):
        raise ConfigurationError("the API token from %s is not valid: expected a string." % token_source)
    _check_token(token, token_source)
    sources["api_token"] = token_source
    limits = dict((name, value) for name, value in values.items() if name not in ("api_token", "api_url", "zone"))
    return ConnectionSettings(base_url, token, token_source, sources=sources, **limits)
