# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""One part of a backup downloaded and proven, and the typed verdict of a part that did not pass.

The flow of one part: the platform prepares its ``download_url`` and gives its current size (resolution.py), the
file is fetched under a temporary name (fetch.py), its format sniffed and the file verified at the level asked for
(verify.py) while it still has that name, and only a file that passed (or was not to be verified) is committed
under its final name in ``dest``: ``<application>-<environment>-<backup>-<TYPE>-<PREFIX>.<ext>``. The part's
record goes into the manifest it is given (manifest.py). A part that did not pass is a ``PartProblem``:
``FailedVerification``, ``UncheckedVerification`` or ``FailedDownload``. No Ansible imports.
"""

import datetime
import errno
import os
import re

from ansible_collections.divio.cloud.plugins.module_utils.errors import DownloadError, VerificationFailed, VerificationUnavailable
from ansible_collections.divio.cloud.plugins.module_utils.fetch import fetch_file
from ansible_collections.divio.cloud.plugins.module_utils.resolution import current_size, prepare_download
from ansible_collections.divio.cloud.plugins.module_utils.verify import EXTENSIONS, sniff, verify_file

_UTC = datetime.timezone.utc
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


# -- verdicts ------------------------------------------------------------------------------------

class PartProblem:
    """A part that did not pass, as ``download_backup`` reports it: the class says how, ``message`` says why (it starts
    with the part's ``TYPE:PREFIX``); ``error`` is the exception a task that got it fails with. The collection decides
    by class (``isinstance``, ``failure``); for Python callers and tests it also unpacks as ``(kind, message)``,
    ``kind`` the outcome's name (``verification_failed``, ...), as the results of earlier releases read."""

    kind = error = None

    def __init__(self, part, reason):
        self.message = "%s:%s: %s" % (part.get("service_type"), part.get("prefix"), reason)

    def __iter__(self):
        return iter((self.kind, self.message))

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.message)


class FailedVerification(PartProblem):
    """The file was found broken: a verdict on the backup (and one the manifest holds stands)."""

    kind, error = "verification_failed", VerificationFailed


class UncheckedVerification(PartProblem):
    """The file could not be verified here (a bound reached, a program missing): no verdict."""

    kind, error = "verification_unavailable", VerificationUnavailable


class FailedDownload(PartProblem):
    """The file did not arrive (the platform, the object storage, the disk)."""

    kind, error = "download_failed", DownloadError


PROBLEMS = (FailedVerification, UncheckedVerification, FailedDownload)  # worst first


def failure(problems):
    """The exception a task that got ``problems`` (not empty) fails with: the worst problem's."""
    return next(kind.error for kind in PROBLEMS if any(isinstance(problem, kind) for problem in problems))


def describe_problems(entry_uuid, name, problems):
    """One message for the parts that failed, verdicts first."""
    return "backup %s of %s: %s" % (entry_uuid, name, " | ".join(problem.message for problem in problems))


# -- one part ------------------------------------------------------------------------------------

def file_name(app, env, backup_uuid, part, fmt):
    pieces = [app.get("slug") or app["uuid"], env.get("slug") or env["uuid"], backup_uuid,
              part.get("service_type") or "UNKNOWN", part.get("prefix") or "DEFAULT"]
    return "-".join(_UNSAFE.sub("_", str(piece)) for piece in pieces) + "." + EXTENSIONS.get(fmt, "bin")


def try_part(client, chosen, part, manifest, options, sleep, clock, problems):
    """The part downloaded and verified: its record. A part that did not pass adds its ``PartProblem`` to
    ``problems``; its record, if it has one, is returned all the same."""
    try:
        return download_part(client, chosen, part, manifest, options, sleep, clock)
    except (VerificationFailed, VerificationUnavailable, DownloadError) as exc:
        problems.append(next(kind for kind in PROBLEMS if isinstance(exc, kind.error))(part, exc))
        return exc.details.get("record")


def download_part(client, chosen, part, manifest, options, sleep, clock):
    """Download, verify and commit one part of ``chosen``; its record, also put in ``manifest``. Raises
    ``DownloadError``, ``VerificationFailed`` or ``VerificationUnavailable`` with the record in ``details``."""
    app, env, entry = chosen.application, chosen.environment, chosen.backup
    name = "%s/%s" % (app.get("slug"), env.get("slug"))
    what = "backup %s of %s, %s:%s part" % (entry["uuid"], name, part.get("service_type"), part.get("prefix"))
    base = {"application": app.get("slug"), "environment": env.get("slug"), "environment_uuid": env["uuid"],
            "backup": entry["uuid"], "taken_at": entry.get("taken_at"), "part": part["uuid"],
            "service_type": part.get("service_type"), "prefix": part.get("prefix")}
    try:
        url = prepare_download(client, entry["uuid"], part, options.wait_timeout, options.poll_interval, sleep, clock)
        size = current_size(client, part)
        fetched = fetch_file(url, options.dest, size, options.download_timeout, options.max_download_bytes,
                             client.settings.validate_certs, client.settings.allow_plain_http, what)
    except DownloadError as exc:
        exc.details["record"] = dict(base, file=None, size=None, sha256=None, format=None, verified=None,
                                     verification={"level": "none", "reason": str(exc), "status": "download_failed"})
        raise
    fmt = sniff(fetched.temp_path)
    record = dict(base, file=None, size=fetched.size, sha256=fetched.sha256, format=fmt,
                  downloaded_at=_now(), content_encoding=fetched.content_encoding)
    try:
        verification = verify_file(fetched.temp_path, fmt, part, options.verify, options.restore_timeout,
                                   options.read_limits, options.scratch_dir, options.max_restore_bytes)
    except (VerificationFailed, VerificationUnavailable) as exc:
        fetched.discard()  # never under the final name unverified; nor left behind
        failed = isinstance(exc, VerificationFailed)
        record.update(verified=False if failed else None, verified_at=_now(),
                      verification={"level": options.verify, "reason": str(exc), "checks": [],
                                    "status": "failed" if failed else "could_not_check"})
        manifest.parts[part["uuid"]] = record
        exc.details["record"] = record
        raise
    except BaseException:
        fetched.discard()
        raise
    final = file_name(app, env, entry["uuid"], part, fmt)
    try:
        fetched.commit(os.path.join(options.dest, final), 0o600)
    except OSError as exc:
        raise DownloadError("%s: the file could not be put in place: %s" % (what, os.strerror(exc.errno or errno.EIO))) from None
    record.update(file=final, verified=None if options.verify == "none" else True,
                  verified_at=_now() if options.verify != "none" else None, verification=verification)
    manifest.parts[part["uuid"]] = record
    return record


def _now():
    return datetime.datetime.now(_UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
