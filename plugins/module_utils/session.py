# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The one path from a task's options to a client and from a collection error to a failure, for every kind of
task: modules (module.py), the backup_report action and the controller plugins (plugin_utils/base.py).

``client_session`` opens the client, says whether its look-ups refuse a slug that names several objects
(``refuse_ambiguous_names``, read by resources.py) and hands on the warnings they noted; ``failure_of`` turns a
``DivioError`` into the message and details each Ansible layer reports its own way (``fail_json``, a failed
result, ``AnsibleLookupError``...); ``run_with_client`` is both for a task that takes its options as
parameters. No Ansible imports.
"""

import contextlib

from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.connection import CONNECTION_OPTION_NAMES, resolve_connection
from ansible_collections.divio.cloud.plugins.module_utils.errors import DivioError


def refuse_ambiguous_names(client):
    """Make every later look-up through ``client`` of a slug that names several objects raise ``AmbiguousNameError``
    (resources.py; for a task that changes something), instead of taking the first with a warning."""
    client.refuse_ambiguous_names = True


def refuses_ambiguous_names(client):
    """Whether the look-ups through ``client`` refuse a slug that names several objects (``refuse_ambiguous_names``)."""
    return getattr(client, "refuse_ambiguous_names", False)


def name_warnings(client):
    """The warnings the look-ups through ``client`` noted, one per slug that named several objects (the task shows them)."""
    found = getattr(client, "name_warnings", None)
    if found is None:
        found = client.name_warnings = []
    return found


def settings_from(params, origins=None):
    """``ConnectionSettings`` from the connection options among ``params`` (raises ``ConfigurationError``)."""
    return resolve_connection(dict((name, params.get(name)) for name in CONNECTION_OPTION_NAMES), origins=origins)


def failure_of(exc):
    """``(message, details)`` of a ``DivioError``: its message (the same wherever it is shown), its class name
    as ``error``, and the HTTP status and API path of an API error, for tasks that want to branch on them."""
    details = dict((key, value) for key, value in exc.details.items() if key in ("status", "path") and value is not None)
    return str(exc), dict(details, error=type(exc).__name__)


@contextlib.contextmanager
def client_session(settings, warn, cache=None, refuse_ambiguous=False):
    """A ``DivioClient`` for ``settings``; ``warn(line)`` gets each slug that named several objects once the
    block ends, however it ends. ``refuse_ambiguous``: such a slug raises instead (a task that changes
    something)."""
    with DivioClient(settings, cache=cache) as client:
        if refuse_ambiguous:
            refuse_ambiguous_names(client)
        try:
            yield client
        finally:
            for warning in name_warnings(client):
                warn(warning)


def run_with_client(params, task, warn, refuse_ambiguous=False):
    """``(task(client), None)``, or ``(None, failure_of(error))`` when a ``DivioError`` stopped it - a bad
    connection option among ``params`` too."""
    try:
        with client_session(settings_from(params), warn, refuse_ambiguous=refuse_ambiguous) as client:
            return task(client), None
    except DivioError as exc:
        return None, failure_of(exc)
