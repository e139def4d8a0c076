# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Fetching one backup file from object storage: streamed to a temporary file, bounded in time and size.

The download URL is presigned and points at another origin than the API, so the file never goes through the API
client's session: a bare request sends no ``Authorization`` header and no cookie (the API's cookies would match
the storage host too, since cookies ignore ports), on the first request and on each of at most ``MAX_REDIRECTS``
redirects (``http_rules``: the storage route and the one redirect loop). The bytes are stored as served -
``Content-Encoding`` is not decoded, so the sha256 and size are those of the object - and the file is written
with mode 0600 (a dump holds production data). The body may be no longer than the API's size for the part (or
``max_download_bytes`` when the API gives none): the download stops at the first byte past it. On any failure
the temporary file is removed; the name of one carries its run (leftovers.py), so that a later run removes those
of a run that was killed. Messages name the URL's host and path, never its query (the signature). No Ansible
imports.
"""

import hashlib
import os
import re
import tempfile
from urllib.parse import urlsplit

from ansible_collections.divio.cloud.plugins.module_utils import http_rules, leftovers, transport
from ansible_collections.divio.cloud.plugins.module_utils.client import USER_AGENT
from ansible_collections.divio.cloud.plugins.module_utils.deadline import Deadline
from ansible_collections.divio.cloud.plugins.module_utils.errors import DownloadError, excerpt
from ansible_collections.divio.cloud.plugins.module_utils.files import commit_file, remove_quietly
from ansible_collections.divio.cloud.plugins.module_utils.space import SpaceReservation

try:
    import requests
except ImportError:  # the module reports the missing library before it gets here
    requests = None

CHUNK_BYTES = 1024 * 1024
TEMP_PREFIX = ".divio-download-"
TEMP_SUFFIX = ".part"
# <prefix><pid>-<start time>-<boot>-<mkstemp's random part>.part, as fetch_file names its temporary file.
_TEMP_NAME = re.compile(r"^%s([0-9]+)-([0-9]+)-([0-9a-f]+)-[A-Za-z0-9_]+%s$" % (re.escape(TEMP_PREFIX), re.escape(TEMP_SUFFIX)))


def show_url(url):
    """``https://host/path``: how messages name a presigned URL - never its query, which holds the signature."""
    parts = urlsplit(url)
    return excerpt("%s://%s%s" % (parts.scheme, parts.netloc.rpartition("@")[2], parts.path), 200)


def plain_http_refused(what, name, url):
    """How a download or an upload refuses a plain http:// URL off this machine (``http_rules.PLAIN_HTTP``)."""
    return ("%s: the %s %s is plain http:// to a host that is not this machine; refused (set allow_plain_http: true if "
            "the network between is trusted)." % (what, name, show_url(url)))


class Fetched:
    """A file fetched into ``temp_path`` (mode 0600): its ``size``, ``sha256`` and the ``content_encoding`` it
    was served with. The caller keeps it (``commit``) or drops it (``discard``)."""

    def __init__(self, temp_path, size, sha256, content_encoding):
        self.temp_path = temp_path
        self.size = size
        self.sha256 = sha256
        self.content_encoding = content_encoding

    def discard(self):
        remove_quietly(self.temp_path)

    def commit(self, path, mode):
        """Put the file in place as ``path`` (in the same folder) with ``mode``; on failure it is removed and the
        error raised."""
        try:
            commit_file(self.temp_path, path, mode)
        except BaseException:
            self.discard()
            raise


def fetch_file(url, directory, expected_size, timeout, max_bytes, validate_certs=True, allow_plain_http=False,
               what="download"):
    """Fetch ``url`` into a new temporary file in ``directory``; returns a ``Fetched``.

    ``timeout``: seconds for the whole download (connect, redirects, every byte); ``max_bytes``: the most
    that is read; ``expected_size``: the size the API gave, or None. Raises ``DownloadError``."""
    if requests is None:
        raise DownloadError("the Python library 'requests' is required")
    if expected_size is not None and expected_size > max_bytes:
        raise DownloadError("%s: the API says the part is %d bytes, more than max_download_bytes (%d); not downloaded."
                            % (what, expected_size, max_bytes))
    space = SpaceReservation(directory, what)
    space.hold(expected_size)
    try:
        handle, temp_path = tempfile.mkstemp(prefix="%s%s-" % (TEMP_PREFIX, leftovers.run_token()), suffix=TEMP_SUFFIX,
                                             dir=directory)
    except BaseException:
        space.release()
        raise
    adapter = transport.DeadlineAdapter(pool_connections=1, pool_maxsize=1)
    deadline = Deadline(timeout)
    try:
        with os.fdopen(handle, "wb") as out, transport.bounded_by(deadline):
            response = _open(adapter, url, deadline, validate_certs, allow_plain_http, what)
            try:
                size, digest = _stream(response, out, expected_size, max_bytes, deadline, space, what)
            finally:
                response.close()
            out.flush()
            os.fsync(out.fileno())
        return Fetched(temp_path, size, digest, response.headers.get("Content-Encoding"))
    except BaseException as exc:
        remove_quietly(temp_path)
        if isinstance(exc, DownloadError) or not isinstance(exc, Exception):
            raise
        raise DownloadError("%s from %s failed: %s" % (what, show_url(url), _problem(exc, timeout))) from None
    finally:
        space.release()
        adapter.close()


def _problem(exc, timeout):
    failed = http_rules.failure(exc)
    if failed.timed_out:
        return "it did not complete within download_timeout (%g s)" % timeout
    if failed.kind == http_rules.CUT_SHORT:
        return "the connection ended before the whole file arrived"
    if failed.kind == http_rules.TLS:
        return "TLS certificate verification failed"
    if failed.kind in (http_rules.NO_CONNECTION, http_rules.CLOSED):
        return "the connection failed or was closed (%s)" % type(exc).__name__
    if failed.kind == http_rules.OS_ERROR:
        return "writing the file failed: %s" % os.strerror(exc.errno)
    return "%s: %s" % (type(exc).__name__, excerpt(str(exc), 200))


def _open(adapter, url, deadline, validate_certs, allow_plain_http, what):
    """The answer to ``url`` after at most ``MAX_REDIRECTS`` redirects, none of them with credentials (the storage
    route of ``http_rules``)."""
    route, hops = http_rules.StorageRoute(allow_plain_http), []
    # A bare request: no session auth, no cookie jar, nothing but these headers.
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}

    def send(hop):
        hops.append(hop)
        left = max(deadline.remaining(), 0.001)
        return http_rules.send_bare(adapter, http_rules.bare_request("GET", hop, headers), (left, left), validate_certs)

    try:
        response = http_rules.follow(send, "GET", route.place(url), route)
    except http_rules.Refused as refused:
        if refused.response is not None:
            refused.response.close()
        if refused.reason == http_rules.MALFORMED:
            raise refused.error from None  # worded as any other failure: the URL's own error
        raise DownloadError(_refusal(refused, what)) from None
    if response.status_code != 200:
        response.close()
        raise DownloadError("%s: the object storage answered HTTP %d for %s (an expired or refused link?)." % (
            what, response.status_code, show_url(hops[-1])))
    return response


def _refusal(refused, what):
    if refused.reason == http_rules.NOT_HTTP:
        return "%s: the download URL %s is not http(s); not followed." % (what, show_url(refused.url))
    if refused.reason == http_rules.PLAIN_HTTP:
        return plain_http_refused(what, "download URL", refused.url)
    if refused.reason == http_rules.LOOP:
        return "%s: the object storage's redirects loop (back to %s)." % (what, show_url(refused.url))
    return "%s: more than %d redirects from %s; not followed further." % (
        what, http_rules.MAX_REDIRECTS, show_url(refused.seen[0]))


def _stream(response, out, expected_size, max_bytes, deadline, space, what):
    """Copy the body as served into ``out`` in bounded chunks; returns ``(size, sha256 hex)``."""
    announced = response.headers.get("Content-Length", "")
    announced = int(announced) if announced.isdigit() else None
    if announced is not None and announced > max_bytes:
        raise DownloadError("%s: the file is %d bytes, more than max_download_bytes (%d); not downloaded." % (
            what, announced, max_bytes))
    if announced is not None and expected_size is not None and announced != expected_size:
        raise DownloadError("%s: the object storage announces %d bytes, the API says the part is %d bytes; not "
                            "downloaded." % (what, announced, expected_size))
    if expected_size is None:
        space.hold(announced)
    # The API's size is that of the object as stored, and the body is kept as served (Content-Encoding is not
    # decoded, Accept-Encoding asks for none), so a complete body is exactly that long: no allowance is needed, and
    # the first byte past it ends the download. Nothing past the ceiling is written.
    ceiling = expected_size if expected_size is not None else max_bytes
    digest, size = hashlib.sha256(), 0
    while True:
        chunk = response.raw.read(min(CHUNK_BYTES, ceiling - size + 1), decode_content=False)
        if not chunk:
            break
        if size + len(chunk) > ceiling:
            raise DownloadError(_too_long(what, expected_size, max_bytes, size + len(chunk)))
        size += len(chunk)
        if deadline.passed():
            raise transport.BodyTimeout()
        digest.update(chunk)
        out.write(chunk)
    if announced is not None and size != announced:
        raise DownloadError("%s: the connection ended after %d of the %d bytes announced." % (what, size, announced))
    if expected_size is not None and size != expected_size:
        raise DownloadError("%s: %d bytes arrived, the API says the part is %d bytes." % (what, size, expected_size))
    return size, digest.hexdigest()


def _too_long(what, expected_size, max_bytes, received):
    if expected_size is not None:
        limit = "the %d bytes the API says the part is" % expected_size
    else:
        limit = "max_download_bytes (%d; the API gives no size for the part)" % max_bytes
    return ("%s: the object storage sent more than %s - %d bytes had arrived when the download was stopped; the "
            "partial file was removed." % (what, limit, received))


def remove_leftover_parts(directory):
    """Remove the temporary files of downloads into ``directory`` whose run is gone (a killed run removes nothing).

    Returns ``(removed paths, warnings)``. Only a file named by ``fetch_file`` is removed, and only when it is a
    regular file (not a link) owned by this account and its run has ended; one named like ours that fails a rule
    is left alone, with a warning naming it. One whose run still goes is left alone silently."""
    removed, warnings = [], []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return removed, warnings
    for name in names:
        if not (name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)):
            continue
        path, found = os.path.join(directory, name), _TEMP_NAME.match(name)
        problem = leftovers.not_ours(path) or (None if found else "its name does not say which run it belongs to")
        if problem is None and leftovers.process_gone(int(found.group(1)), found.group(2), found.group(3)):
            try:
                os.unlink(path)  # (a link swapped in since the lstat is removed itself, never what it points to)
                removed.append(path)
            except FileNotFoundError:
                pass  # another run removed it meanwhile
            except OSError as exc:
                problem = "it could not be removed (%s)" % (exc.strerror or exc)
        if problem is not None and problem != leftovers.GONE:
            warnings.append("%s looks like a partial download but was left alone: %s." % (path, problem))
    return removed, warnings
