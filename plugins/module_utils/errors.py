# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Typed errors raised by the Divio API client and the backup logic, and how messages show text.

Nothing here imports Ansible: modules turn these into ``fail_json`` and the lookup into
``AnsibleLookupError``. Messages name what went wrong and what to check, and never contain the
API token: every ``DivioError`` masks registered secrets - whole, in pieces, in any case, percent-
encoded - in its message and details when it is made, and again when it is shown. Text a server
chose (an error detail, a link) goes through ``excerpt``: masked first, then cut.
"""

from urllib.parse import quote, quote_plus, urlsplit

MASK = "********"
#: the shortest piece of a secret that is masked wherever it shows: a server may echo a prefix
SECRET_FRAGMENT = 6


def scrub(text):
    """``text`` with every registered secret, and every piece of one ``SECRET_FRAGMENT`` long or longer,
    replaced by ``MASK``. Matching ignores case and also finds the percent-encoded forms."""
    if not isinstance(text, str) or not DivioError._secrets or not text:
        return text
    lowered = text.lower()
    hidden = [False] * len(text)
    for secret in DivioError._secrets:
        for form in set((secret, quote(secret, safe=""), quote_plus(secret, safe=""))):
            form = form.lower()
            size = min(SECRET_FRAGMENT, len(form))
            pieces = set(form[i:i + size] for i in range(len(form) - size + 1))
            for start in range(len(text) - size + 1):
                if lowered[start:start + size] in pieces:
                    hidden[start:start + size] = [True] * size
    if not any(hidden):
        return text
    shown, previous = [], False
    for char, masked in zip(text, hidden):
        if not masked:
            shown.append(char)
        elif not previous:
            shown.append(MASK)
        previous = masked
    return "".join(shown)


def excerpt(text, limit=300):
    """Text a server chose, as a message may quote it: secrets masked first, control and format
    characters (terminal escapes, line breaks, bidi overrides) made spaces, then cut to ``limit``."""
    text = scrub(text if isinstance(text, str) else str(text))
    text = "".join(char if char.isprintable() else " " for char in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class DivioError(Exception):
    """Base class of every error the collection raises on purpose."""

    #: secrets registered by clients (the token), masked in every message and detail
    _secrets = set()

    def __init__(self, message, **details):
        super().__init__(scrub(message))
        self.details = dict((key, scrub(value)) for key, value in details.items())

    @classmethod
    def register_secret(cls, secret):
        if secret:
            cls._secrets.add(secret)

    def __str__(self):
        # Again when shown: a secret may have been registered after this error was made.
        return scrub(super().__str__())


class ConfigurationError(DivioError):
    """An option is missing or malformed (token, URL, timeout, ...). Nothing was sent."""


class InputError(DivioError):
    """A task argument has a value the collection cannot use (bad duration, unknown service type)."""


class TransportError(DivioError):
    """The API could not be reached or did not answer in time, also after retrying."""


class ApiError(DivioError):
    """The API answered with an HTTP error status, or with a body that is not what it should be."""

    def __init__(self, message, status=None, path=None, **details):
        super().__init__(message, status=status, path=path, **details)
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


class ListTooLongError(PaginationError):
    """A list passes the ``max_pages`` or ``max_items`` limit (also as announced by its ``count``)."""


class ListChangingError(PaginationError):
    """A list kept changing where it was read, more often in a row than ``max_reread`` allows."""


class ResponseTooLargeError(InvalidResponseError):
    """A response body passes the ``max_response_bytes`` limit; it was not read further."""


class RedirectError(ApiError):
    """A redirect that was not followed: to another origin (scheme, host, port), of a POST, a loop,
    or too many. Never retried."""


class DeadlineExceededError(TransportError):
    """The task's ``deadline`` for API time passed; the message says what was being done."""


class BackupFailed(DivioError):
    """A backup ended, but not with success; the message lists its parts' errors and names its uuid."""


class BackupTimeout(DivioError):
    """A backup did not finish in time; the message names its uuid so it can be followed up."""


class WaitTimeout(DivioError):
    """Polling gave up before the thing waited for ended (``waiting.poll_until``); the message names it and
    ``details["uuid"]`` is the uuid of the object last seen, so a later task can pick it up."""


def describe_request(method, url):
    """``GET /apps/v3/backups/?page=2`` - how messages name a request: never a host, credential or
    header; a URL a server chose (a next link, a redirect) is masked and cut like any server text."""
    parts = urlsplit(url)
    return "%s %s" % (method, excerpt(parts.path + ("?" + parts.query if parts.query else ""), 200))


class DescribedRequest:
    """``describe_request(method, url)``, worked out when a message first shows it: masking the URL costs
    about as much as preparing the request, and almost every request (every page) ends without a message."""

    __slots__ = ("method", "url", "_text")

    def __init__(self, method, url):
        self.method = method
        self.url = url
        self._text = None

    def __str__(self):
        if self._text is None:
            self._text = describe_request(self.method, self.url)
        return self._text


class DownloadError(DivioError):
    """A backup's file could not be downloaded whole (object storage refused, too large, too slow, too many
    redirects, no disk space, or the size disagrees with what the API said). No file is left behind."""


class VerificationFailed(DivioError):
    """A downloaded file is broken: its format's own reader rejected it. A verdict on the backup."""


class VerificationUnavailable(DivioError):
    """A verification could not run (no pg_restore, a dump from a newer PostgreSQL, no scratch server). Not a
    verdict on the backup; the message says what is missing."""


class RestoreFailed(DivioError):
    """A restore through the API ended without success; the message names the restore, backup and environment."""


class UploadError(DivioError):
    """A file could not be put into an environment as a backup (an unknown handler, a missing optional library, the
    object storage refused it, ``finish_url`` got no answer, the uploaded backup failed); the message names the step
    and the backup."""
