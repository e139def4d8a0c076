# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Typed errors raised by the Divio API client and the backup logic.

Nothing here imports Ansible: modules turn these into ``fail_json`` and the lookup into
``AnsibleLookupError``. Messages name what went wrong and what to check, and never contain the
API token (the client never puts it into a message; ``DivioError`` also scrubs it defensively).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from urllib.parse import urlsplit


class DivioError(Exception):
    """Base class of every error the collection raises on purpose."""

    #: secrets registered by clients, replaced in every message as a last line of defence
    _secrets = set()

    def __init__(self, message, **details):
        super(DivioError, self).__init__(message)
        self.details = details

    @classmethod
    def register_secret(cls, secret):
        if secret:
            cls._secrets.add(secret)

    def __str__(self):
        text = super(DivioError, self).__str__()
        for secret in self._secrets:
            text = text.replace(secret, "********")
        return text


class ConfigurationError(DivioError):
    """An option is missing or malformed (token, URL, timeout, ...). Nothing was sent."""


class InputError(DivioError):
    """A task argument has a value the collection cannot use (bad duration, unknown service type)."""


class TransportError(DivioError):
    """The API could not be reached or did not answer in time, also after retrying."""


class ApiError(DivioError):
    """The API answered with an HTTP error status, or with a body that is not what it should be."""

    def __init__(self, message, status=None, path=None, **details):
        super(ApiError, self).__init__(message, status=status, path=path, **details)
        self.status = status
        self.path = path


class AuthenticationError(ApiError):
    """401: the token was rejected."""


class PermissionDeniedError(ApiError):
    """403: the token is valid but may not see this resource."""


class NotFoundError(ApiError):
    """404, or a named application/environment that does not exist."""


class RateLimitError(ApiError):
    """429 that kept coming after every retry."""


class InvalidResponseError(ApiError):
    """A body that is not JSON, truncated, or not shaped like the API's answers."""


class PaginationError(ApiError):
    """A list could not be read completely: a looping or foreign ``next`` link, a count that disagrees
    with what arrived, or more items than the caller allowed. A partial list is never returned."""


class BackupFailed(DivioError):
    """A backup ended, but not with success; the message lists its parts' errors and names its uuid."""


class BackupTimeout(DivioError):
    """A backup did not finish in time; the message names its uuid so it can be followed up."""


def describe_request(method, url):
    """``GET /apps/v3/backups/?page=2`` - how messages name a request: never a host credential or header."""
    parts = urlsplit(url)
    return "%s %s%s" % (method, parts.path, "?" + parts.query if parts.query else "")
