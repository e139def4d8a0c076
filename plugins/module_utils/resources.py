# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Applications and environments: finding them by slug or UUID, re-checking what the server sent.

Filters are passed to the server to save requests, but every item that comes back is checked
again, so an ignored filter can cost time, never correctness. No Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import uuid as uuid_module

from ansible_collections.divio.cloud.plugins.module_utils.client import APPS
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError, InvalidResponseError, NotFoundError

APPLICATIONS = APPS + "applications/"
ENVIRONMENTS = APPS + "environments/"
SERVICE_INSTANCES = APPS + "service-instances/"

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def is_uuid(value):
    return isinstance(value, str) and bool(_UUID_RE.match(value))


def require_text(name, value, allow_none=True):
    """Reject empty or non-string values with a message that names the option."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError("%s %r is not valid: expected a non-empty string." % (name, value))
    return value.strip()


def require_uuid(name, value):
    value = require_text(name, value)
    if value is not None and not is_uuid(value):
        raise InputError("%s %r is not valid: expected a UUID such as 0b5e3d6c-6a4e-4c39-9f0e-8a1d2c3b4a59." % (name, value))
    # The API writes UUIDs hyphenated and lower-case; compare in that form whatever was typed.
    return str(uuid_module.UUID(value)) if value else value


def _checked(items, what, **expected):
    """Keep the items whose fields equal ``expected``; fail on items that are not API objects."""
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("uuid"), str):
            raise InvalidResponseError("GET %s returned an item that is not an object with a uuid." % what, path=what)
        if all(item.get(key) == value for key, value in expected.items() if value is not None):
            yield item


def _get_by_uuid(client, collection, uuid):
    try:
        return client.get("%s%s/" % (collection, uuid))
    except NotFoundError:
        return None


def list_applications(client, slug=None, uuid=None, organisation=None, name=None):
    """Applications visible to the token, narrowed by any of the given (exact-match) fields."""
    slug = require_text("slug", slug)
    name = require_text("name", name)
    uuid = require_uuid("uuid", uuid)
    organisation = require_uuid("organisation", organisation)
    if uuid:
        found = _get_by_uuid(client, APPLICATIONS, uuid)
        items = [found] if found else []
    else:
        items = client.paginate(APPLICATIONS, {"slug": slug, "organisation": organisation})
    return list(_checked(items, APPLICATIONS, uuid=uuid, slug=slug, organisation=organisation, name=name))


def get_application(client, application):
    """The application named by slug or UUID (told apart by shape), or ``NotFoundError``."""
    application = require_text("application", application, allow_none=False)
    if is_uuid(application):
        found = list_applications(client, uuid=require_uuid("application", application))
    else:
        found = list_applications(client, slug=application)
    if not found:
        raise NotFoundError("application %r not found: no application with this %s is visible to the token."
                            % (application, "UUID" if is_uuid(application) else "slug"))
    return found[0]


def list_environments(client, application, slug=None, uuid=None):
    """Environments of one application (an application object), narrowed by slug and/or UUID."""
    slug = require_text("slug", slug)
    uuid = require_uuid("uuid", uuid)
    items = client.paginate(ENVIRONMENTS, {"application": application["uuid"], "slug": slug})
    return [dict(env, application_slug=application.get("slug"))
            for env in _checked(items, ENVIRONMENTS, application=application["uuid"], slug=slug, uuid=uuid)]


def list_service_instances(client, environment_uuid):
    """Service instances of one environment, by UUID (documented ``?environment=`` filter)."""
    items = client.paginate(SERVICE_INSTANCES, {"environment": environment_uuid})
    return dict((item["uuid"], item) for item in _checked(items, SERVICE_INSTANCES, environment=environment_uuid))
