# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The Ansible side of every divio.cloud module: argument spec, client, errors -> fail_json."""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.divio.cloud.plugins.module_utils.client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.divio.cloud.plugins.module_utils.connection import CONNECTION_ARGUMENT_SPEC, url_credentials
from ansible_collections.divio.cloud.plugins.module_utils.session import run_with_client


class DivioModule:
    """Subclasses set ``argument_spec`` and implement ``run(client)``.

    ``run`` returns the module's results as a dict (info modules: one list under one key; ``changed``
    is false unless it says otherwise); every
    ``DivioError`` becomes a task failure with its message, so modules hold no try/except of their own.
    """

    argument_spec = {}
    module_kwargs = {}
    #: True for a task that changes something: a slug naming several applications or environments then fails it
    #: (asking for the id) instead of being taken as the first one with a warning.
    changes_something = False

    def __init__(self):
        spec = dict(CONNECTION_ARGUMENT_SPEC)
        spec.update(self.argument_spec)
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **self.module_kwargs)
        self.params = self.module.params
        # Credentials written into api_url / zone are refused, and must not come back in the task's
        # result either (Ansible echoes the module's arguments at -v and in failures).
        for name in ("api_url", "zone"):
            secret = url_credentials(self.params.get(name))
            if secret:
                self.module.no_log_values.add(secret)

    def run(self, client):
        raise NotImplementedError

    def execute(self):
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        result, failure = run_with_client(self.params, self.run, self.module.warn, refuse_ambiguous=self.changes_something)
        if failure is not None:
            message, details = failure
            self.module.fail_json(msg=message, **details)
        self.module.exit_json(**dict({"changed": False}, **result))
