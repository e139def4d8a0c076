# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The ground floor of option values: durations, sizes, service entries, directories and timestamps, parsed the one way the house
parses them (imports nothing above errors.py). No Ansible imports.

A task parses its options once, where it starts (``RuleOptions`` for ``services``, ``max_age`` and
``min_retention``); below that line the typed values travel: ``Services`` and ``Duration`` pass through
``parse_services`` and ``parse_duration`` as they are, so nothing below re-reads what the user wrote.
"""

import datetime
import math
import os
import re
import sys

from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError, InvalidResponseError

SERVICE_TYPES = ("DATABASE", "STORAGE")
DEFAULT_SERVICES = ("DATABASE",)  # a task's services when none are given (download, copy, check)
LEVELS = ("none", "read", "restore")  # a download's verify option, weakest first (what a manifest record reached)
DEFAULT_MIN_RETENTION = "24h"
MAX_DURATION = 100 * 365 * 86400  # longer is a typo, and would overflow date arithmetic

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"^(\d+)([smhdw])")
_TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$")
_UTC = datetime.timezone.utc


# -- durations ---------------------------------------------------------------------------------

class Duration(int):
    """Seconds parsed from an option, keeping the value it was given (``given``): it prints as given, so a
    message shows what the user wrote (``min_retention 24h``), while arithmetic sees seconds."""

    def __new__(cls, seconds, given=None):
        duration = super().__new__(cls, seconds)
        duration.given = given
        return duration

    def __str__(self):
        return str(self.given)


def parse_duration(value, name="max_age", allow_zero=False):
    """Seconds (a ``Duration``) from an int or a string such as ``3600``, ``90m``, ``36h``, ``2d``, ``1w`` or
    ``1d12h``; a ``Duration`` is returned as it is.

    ``allow_zero``: 0 is accepted (for options where 0 turns a rule off)."""
    if isinstance(value, Duration) and (value or allow_zero):
        return value
    expected = ("expected a number of seconds (e.g. 86400) or numbers with units s, m, h, d, w "
                "(e.g. 90m, 36h, 2d, 1w, 1d12h)")
    if isinstance(value, bool) or value is None:
        raise InputError("%s %r is not valid: %s." % (name, value, expected))
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and re.match(r"^[0-9]+$", value.strip()):
        seconds = int(value.strip())
    elif isinstance(value, str) and value.strip():
        rest, seconds = value.strip().lower().replace(" ", ""), 0
        while rest:
            match = _DURATION_RE.match(rest)
            if not match:
                raise InputError("%s %r is not valid: %s." % (name, value, expected))
            seconds += int(match.group(1)) * _DURATION_UNITS[match.group(2)]
            rest = rest[match.end():]
    else:
        raise InputError("%s %r is not valid: %s." % (name, value, expected))
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise InputError("%s %r is not valid: it must be longer than 0 seconds; %s." % (name, value, expected))
    if seconds > MAX_DURATION:
        raise InputError("%s %r is not valid: it must be at most 100 years (%d seconds); %s."
                         % (name, value, MAX_DURATION, expected))
    return Duration(seconds, value)


def format_duration(seconds):
    """``31h``, ``3d4h``, ``45m``: short, for messages and reports."""
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    if seconds < 3600:
        return "%dm" % (seconds // 60) if seconds >= 60 else "%ds" % seconds
    if seconds < 3 * 86400:
        return "%dh" % (seconds // 3600)
    days, hours = divmod(seconds // 3600, 24)
    return "%dd%dh" % (days, hours) if hours else "%dd" % days


# -- sizes and counts --------------------------------------------------------------------------

def check_seconds(name, value, maximum=None):
    """``value`` as float seconds, or ``InputError`` naming ``name``, the value and what is expected.

    Rejects booleans, non-numbers, inf, nan, zero and negatives (a wait that can never end or never
    start), and anything above ``maximum``; meant to run before the first request of a task.
    """
    bound = " and at most %g" % maximum if maximum is not None else ""
    expected = "expected a finite number of seconds greater than 0%s" % bound
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError("%s %r is not valid: %s." % (name, value, expected))
    if not math.isfinite(value) or value <= 0 or (maximum is not None and value > maximum):
        raise InputError("%s %r is not valid: %s." % (name, value, expected))
    return float(value)


def parse_count(name, value, unit):
    """``value``, a whole number of ``unit`` (``bytes``, ``members``) of at least 1; ``InputError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError("%s %r is not valid: expected a whole number of %s of at least 1." % (name, value, unit))
    return value


# -- paths -------------------------------------------------------------------------------------

def writable_directory(name, value, not_a_directory="is not a directory the user running the task can write to",
                       not_writable=None):
    """The absolute path of ``value``, a directory the task's user can write to; else ``InputError`` naming ``name``
    and the value: ``"<name> <value> <not_a_directory>."`` (``not_writable``, when given, for a directory that
    cannot be written to). Checked before the first request of a task."""
    if not isinstance(value, str) or not value.strip():
        raise InputError("%s %r is not valid: expected the path of a directory." % (name, value))
    path = os.path.abspath(os.path.expanduser(value))
    if not os.path.isdir(path):
        raise InputError("%s %r %s." % (name, value, not_a_directory))
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError("%s %r %s." % (name, value, not_writable or not_a_directory))
    return path


# -- services ----------------------------------------------------------------------------------

class Services(tuple):
    """Parsed ``services`` entries (``TYPE`` or ``TYPE:PREFIX``, upper-cased, each once), as ``parse_services``
    makes them."""


def parse_services(services):
    """Upper-cased ``TYPE`` or ``TYPE:PREFIX`` entries (``Services``), or None for "no rule"; unknown types are an
    error; ``Services`` are returned as they are.

    ``DATABASE`` means every provisioned database instance; ``DATABASE:DEFAULT`` the one with that prefix."""
    if services is None or isinstance(services, Services):
        return services
    if isinstance(services, str):
        services = services.split(",")
    if not isinstance(services, (list, tuple)) or not services:
        raise InputError("services %r is not valid: expected a non-empty list of service types from %s "
                         "(or TYPE:PREFIX such as DATABASE:DEFAULT)." % (services, ", ".join(SERVICE_TYPES)))
    result = []
    for item in services:
        text = item.strip().upper() if isinstance(item, str) else item
        kind, _sep, prefix = text.partition(":") if isinstance(text, str) else (text, "", "")
        if kind not in SERVICE_TYPES:
            raise InputError("services: %r is not a known service type; known types are %s (or TYPE:PREFIX such as "
                             "DATABASE:DEFAULT)." % (item, ", ".join(SERVICE_TYPES)))
        if _sep and not prefix.strip():
            raise InputError("services: %r names no prefix; expected TYPE:PREFIX such as DATABASE:DEFAULT." % (item,))
        entry = kind + (":" + prefix.strip() if _sep else "")
        if entry not in result:
            result.append(entry)
    return Services(result)


def split_service(entry):
    """``("DATABASE", None)`` for ``DATABASE``, ``("DATABASE", "DEFAULT")`` for ``DATABASE:DEFAULT``."""
    kind, sep, prefix = entry.partition(":")
    return kind, (prefix if sep else None)


# -- the options of a backup rule, parsed once ---------------------------------------------------

class RuleOptions:
    """A task's ``services``, ``max_age`` and ``min_retention``, parsed where the task starts (the one place each
    is parsed): ``services`` (``Services`` or None: no rule), ``max_age`` (a ``Duration``, or None: no limit;
    ``max_age_name`` names it in messages, ``require_max_age`` refuses None) and ``min_retention`` (a ``Duration``;
    0 when None: off). A ``Duration`` keeps its text as given (``max_age: 36h`` in messages and reports)."""

    def __init__(self, services=None, max_age=None, min_retention=DEFAULT_MIN_RETENTION, max_age_name="max_age",
                 require_max_age=False):
        self.services = parse_services(services)
        self.max_age = parse_duration(max_age, max_age_name) if max_age is not None or require_max_age else None
        self.min_retention = (parse_duration(min_retention, "min_retention", allow_zero=True)
                              if min_retention is not None else Duration(0, None))


class TaskOptions:
    """A task's options object, the one declaration of its options. ``ARGUMENT_SPEC`` gives each option's type,
    choices and default once: the module's argument spec is built from it, and the constructor takes the same names
    with the same defaults (``tests/unit/test_options_once.py`` holds both). Ansible checks the types; the
    constructor checks what a spec cannot say (durations, paths, sizes), also for Python callers, and raises
    ``InputError`` naming the value. Below the task nothing parses an option again."""

    ARGUMENT_SPEC = {}

    @classmethod
    def from_params(cls, params, **extra):
        """The options a module's ``params`` (validated by the spec) give; ``extra``: what is not an option
        (``check_mode``)."""
        return cls(**dict(((name, params[name]) for name in cls.ARGUMENT_SPEC), **extra))


# -- timestamps --------------------------------------------------------------------------------

def parse_timestamp(value, what="timestamp"):
    """Timezone-aware datetime from the API's ISO 8601 (``Z`` or offset, with or without fractions)."""
    if value is None:
        return None
    try:
        return read_timestamp(value)
    except _NotATimestamp:
        raise InvalidResponseError("the API sent %s %r, which is not an ISO 8601 timestamp." % (what, value)) from None
    except (ValueError, OverflowError):
        raise InvalidResponseError("the API sent %s %r, which is not a valid date." % (what, value)) from None


class _NotATimestamp(ValueError):
    pass


def parse_exception(value, what):
    """The ``InvalidResponseError`` ``parse_timestamp`` raises for ``value`` (which must be one it rejects)."""
    try:
        parse_timestamp(value, what)
    except InvalidResponseError as exc:
        return exc
    raise AssertionError("%r is a valid timestamp" % (value,))


def _from_z_as_offset(value):
    """``fromisoformat`` of Python 3.10, which does not read "Z": the same moment written as +00:00."""
    return datetime.datetime.fromisoformat(value[:-1] + "+00:00")


_from_usual_form = datetime.datetime.fromisoformat if sys.version_info >= (3, 11) else _from_z_as_offset


def read_timestamp(value):
    """``parse_timestamp`` without the message: raises ``_NotATimestamp``, or ``ValueError`` for a date that
    does not exist. Backups' times are read while scanning, so the common case is kept cheap."""
    if isinstance(value, str):
        length = len(value)
        # The API's usual forms, YYYY-MM-DDTHH:MM:SSZ and YYYY-MM-DDTHH:MM:SS.ffffffZ, by the C parser (several
        # times faster than the pattern below). fromisoformat reads more forms than the pattern, so only these
        # shapes go to it; for them both give the same moment or both refuse (checked on 3.10 to 3.13).
        if length == 20 and value[4:20:3] == "--T::Z" or \
                length == 27 and value[4:20:3] == "--T::." and value[26] == "Z" and value[20:26].isdigit():
            try:
                return _from_usual_form(value)
            except ValueError:
                pass  # no such date: the pattern below says how it is wrong
    match = _TIMESTAMP_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise _NotATimestamp(value)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if zone == "Z":
        tz = _UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = datetime.timezone(sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz)
    if moment.year in (1, 9999):
        moment.astimezone(_UTC)  # at the edge of the calendar a local time may not exist in UTC (OverflowError)
    return moment
