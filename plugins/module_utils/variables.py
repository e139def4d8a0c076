# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Environment variables: an environment's list (``GET /apps/v3/environment-variables/?environment=``) and
the variables a deployment ran with (``GET /apps/v3/deployments/<id>/environment-variables``), as entries
``{name, value, is_sensitive}``. No Ansible imports.

The API sends sensitive values like any other (divio-cli hides them only in its ``--txt`` output). Here a
value leaves this module only when it is known not to be sensitive, or when ``reveal_sensitive`` is true:

- a listed variable shows its value when ``is_sensitive`` is false; true, or missing (``is_sensitive``
  null), it shows null;
- a deployment's variables carry no sensitivity of their own, so each name is looked up in the
  environment's current list: a value shows only where that list marks the name not sensitive. Names the
  list does not hold (variables the platform provides, such as ``DEFAULT_DATABASE_DSN``, or ones removed
  since) get ``is_sensitive`` null and no value.

Held back, a value is never put into a result, message or error, so neither Ansible's output at -vvvv nor
a log can show it. Revealed, it is in the result, which Ansible cannot mask (see the modules' docs).
"""

from urllib.parse import quote

from ansible_collections.divio.cloud.plugins.module_utils.client import APPS
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError, InvalidResponseError
from ansible_collections.divio.cloud.plugins.module_utils.resources import get_application, get_environment, require_text

ENVIRONMENT_VARIABLES = APPS + "environment-variables/"
DEPLOYMENTS = APPS + "deployments/"


def check_bool(name, value):
    if not isinstance(value, bool):
        raise InputError("%s %r is not valid: expected true or false." % (name, value))
    return value


def entry(name, value, is_sensitive, reveal_sensitive):
    """One variable as the modules return it: the value only when known not sensitive, or revealed."""
    return {"name": name, "value": value if reveal_sensitive or is_sensitive is False else None,
            "is_sensitive": is_sensitive}


def list_variables(client, environment_uuid, name=None):
    """The variable items of one environment (by id), optionally of one name, as the API sends them.
    Items of other environments or names (a server that ignores a filter) are left out."""
    items = []
    for item in client.paginate(ENVIRONMENT_VARIABLES, {"environment": environment_uuid, "name": name}):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidResponseError("GET %s returned an item that is not an environment variable {name, value, "
                                       "is_sensitive}." % ENVIRONMENT_VARIABLES, path=ENVIRONMENT_VARIABLES)
        if item.get("environment") == environment_uuid and (name is None or item["name"] == name):
            items.append(item)
    return items


def _sensitivity(item):
    flag = item.get("is_sensitive")
    return flag if isinstance(flag, bool) else None  # missing or malformed: unknown, so held back


def environment_variables(client, application, environment, name=None, reveal_sensitive=False):
    """The variables of ``environment`` (a slug) of ``application`` (slug or id), sorted by name; with
    ``name``, only that one (an empty list when the environment has no such variable)."""
    require_text("application", application, allow_none=False)
    require_text("environment", environment, allow_none=False)
    name = require_text("name", name)
    reveal_sensitive = check_bool("reveal_sensitive", reveal_sensitive)
    env = get_environment(client, get_application(client, application), environment)
    items = list_variables(client, env["uuid"], name)
    return sorted((entry(item["name"], item.get("value"), _sensitivity(item), reveal_sensitive) for item in items),
                  key=lambda item: item["name"])


def read_variables(client, uuid):
    """``{name: value}`` of the environment variables deployment ``uuid`` ran with (no trailing slash, as
    divio-cli asks)."""
    path = "%s%s/environment-variables" % (DEPLOYMENTS, quote(uuid, safe=""))
    body = client.get(path)
    variables = body.get("environment_variables") if isinstance(body, dict) else None
    if not isinstance(variables, dict):
        raise InvalidResponseError("GET %s did not answer with {environment, environment_variables}." % path,
                                   path=DEPLOYMENTS)
    return variables


def sensitivity_by_name(client, environment_uuid):
    """``{name: True | False | None}`` from an environment's list; a name listed twice counts as sensitive
    unless every listing says otherwise."""
    found = {}
    for item in list_variables(client, environment_uuid):
        flag = _sensitivity(item)
        previous = found.get(item["name"], False)
        found[item["name"]] = flag if flag is not False else previous
    return found


def deployment_variables(client, deployments, reveal_sensitive=False):
    """``[[entry, ...], ...]``: the variables of each ``deployments`` item (``{uuid, environment}``), sorted by
    name, judged by its environment's current list (read once per environment)."""
    reveal_sensitive = check_bool("reveal_sensitive", reveal_sensitive)
    environments = list(dict.fromkeys(item["environment"] for item in deployments))
    flags = dict(zip(environments, client.map(lambda uuid: sensitivity_by_name(client, uuid), environments)))
    values = client.map(lambda item: read_variables(client, item["uuid"]), deployments)
    return [sorted((entry(name, value, flags[item["environment"]].get(name), reveal_sensitive)
                    for name, value in variables.items()), key=lambda variable: variable["name"])
            for item, variables in zip(deployments, values)]
