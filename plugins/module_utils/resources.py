# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""Applications and environments: finding them by slug or id, re-checking what the server sent.

Ids are opaque strings (Divio hands out 26-character base32 ids such as ``bagztldeadfdhlilnmpzx3twly``;
older objects or other servers may use RFC 4122 UUIDs): they are compared exactly, as the API wrote
them, and never checked for shape or re-formatted. A reference that may be a slug or an id is asked
as a slug first (the documented ``?slug=`` filter, the common case: one request) and read by id only
when no application has that slug.

Filters are passed to the server to save requests, but every item that comes back is checked
again, so an ignored filter can cost time, never correctness. No Ansible imports.

A slug may name more than one object: two organisations may each have an application ``shop`` (whether the API
keeps slugs unique per organisation or across all of them is not documented), and a server may list two
environments of one application with one slug. A look-up then takes the first the API listed and notes a warning
naming every match (``session.name_warnings``), or, for a task that changes something (the session's
``refuse_ambiguous_names``), raises ``AmbiguousNameError`` asking for the id.
"""

from urllib.parse import quote

from ansible_collections.divio.cloud.plugins.module_utils.client import APPS
from ansible_collections.divio.cloud.plugins.module_utils.errors import ApiError, DivioError, InputError, InvalidResponseError, NotFoundError
from ansible_collections.divio.cloud.plugins.module_utils.pagination import ignores_page_size, read_cost
from ansible_collections.divio.cloud.plugins.module_utils.session import name_warnings, refuses_ambiguous_names

APPLICATIONS = APPS + "applications/"
ENVIRONMENTS = APPS + "environments/"
SERVICE_INSTANCES = APPS + "service-instances/"


class AmbiguousNameError(InputError):
    """A slug names several applications (or several environments of one application) and the task changes
    something, so it must not guess: ``details["matches"]`` holds their ids."""


def _the_one(client, found, kind, reference, where=""):
    """The object of ``found`` (the matches of ``reference``, in the API's order) - the first with a warning, or
    ``AmbiguousNameError`` when ``client`` refuses ambiguous names - and none of that when there is one."""
    if len(found) < 2:
        return found[0]
    ids = [item["uuid"] for item in found]
    named = "%s %r%s names %d %ss: %s" % (kind, reference, where, len(found), kind, ", ".join(
        "%s%s" % (item["uuid"], " (organisation %s)" % item["organisation"] if item.get("organisation") else "")
        for item in found))
    if refuses_ambiguous_names(client):
        raise AmbiguousNameError("%s; this task changes something, so nothing was done: name the %s by its id."
                                 % (named, kind), matches=ids)
    warning = "%s; using %s, the first the API listed - name the %s by its id to choose another." % (named, ids[0], kind)
    notes = name_warnings(client)
    if warning not in notes:
        notes.append(warning)
    return found[0]


def require_text(name, value, allow_none=True):
    """Reject empty or non-string values with a message that names the option."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError("%s %r is not valid: expected a non-empty string." % (name, value))
    return value.strip()


def require_id(name, value, allow_none=True):
    """An id as the API wrote it: any non-empty string (ids are opaque; their shape is never checked)."""
    return require_text(name, value, allow_none=allow_none)


def _checked(items, what, **expected):
    """Keep the items whose fields equal ``expected``; fail on items that are not API objects."""
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("uuid"), str):
            raise InvalidResponseError("GET %s returned an item that is not an object with a uuid." % what, path=what)
        if all(item.get(key) == value for key, value in expected.items() if value is not None):
            yield item


def get_by_id(client, collection, object_id):
    """One object of ``collection`` by id, or None when the server has no object with that id.

    The id goes into the path quoted, so a slug tried as an id cannot reach another path; a 400
    (a server that finds the id malformed) means "no such object" too."""
    try:
        return client.get("%s%s/" % (collection, quote(object_id, safe="")))
    except ApiError as exc:
        if exc.status in (400, 404):
            return None
        raise


def list_applications(client, slug=None, uuid=None, organisation=None, name=None):
    """Applications visible to the token, narrowed by any of the given (exact-match) fields;
    ``uuid`` and ``organisation`` are ids."""
    slug = require_text("slug", slug)
    name = require_text("name", name)
    uuid = require_id("uuid", uuid)
    organisation = require_id("organisation", organisation)
    if uuid:
        found = get_by_id(client, APPLICATIONS, uuid)
        items = [found] if found is not None else []
    else:
        items = client.paginate(APPLICATIONS, {"slug": slug, "organisation": organisation})
    return list(_checked(items, APPLICATIONS, uuid=uuid, slug=slug, organisation=organisation, name=name))


def get_application(client, application):
    """The application named by slug or id, or ``NotFoundError`` saying both were tried.

    Asked as a slug first (one request); only when no application has that slug, read by id. A slug of several
    applications: see the module docstring."""
    application = require_text("application", application, allow_none=False)
    found = list_applications(client, slug=application) or list_applications(client, uuid=application)
    if not found:
        raise NotFoundError("application %r not found: no application with this slug (%s?slug=) or this id (%s<id>/) "
                            "is visible to the token." % (application, APPLICATIONS, APPLICATIONS))
    return _the_one(client, found, "application", application)


def list_environments(client, application, slug=None, uuid=None):
    """Environments of one application (an application object), narrowed by slug and/or id."""
    slug = require_text("slug", slug)
    uuid = require_id("uuid", uuid)
    items = client.paginate(ENVIRONMENTS, {"application": application["uuid"], "slug": slug})
    return [dict(env, application_slug=application.get("slug"))
            for env in _checked(items, ENVIRONMENTS, application=application["uuid"], slug=slug, uuid=uuid)]


def get_environment(client, application, slug):
    """The environment ``slug`` (or id, when no environment has that slug) of ``application`` (an application
    object, or a slug or id to look up).

    A missing environment is always ``NotFoundError`` naming the environments the application has. The
    whole (short) list is read so that the error can name them; no filter is trusted with the answer.
    A slug of several environments: see the module docstring.
    """
    slug = require_text("environment", slug, allow_none=False)
    app = application if isinstance(application, dict) else get_application(client, application)
    environments = list_environments(client, app)
    found = [env for env in environments if env.get("slug") == slug] or [env for env in environments if env["uuid"] == slug]
    if found:
        return _the_one(client, found, "environment", slug, " of application %r" % app.get("slug"))
    known = sorted(str(env.get("slug")) for env in environments)
    raise NotFoundError("environment %r not found in application %r; it has: %s."
                        % (slug, app.get("slug"), ", ".join(known) or "no environments"))


def fleet(client, applications=None, organisation=None, environments=None):
    """The applications -> environments fan-out shared by ``backup_check``, the inventory and playbooks.

    ``applications``: slugs or ids to read (each may fail on its own), or None for every application
    the token can see (narrowed by ``organisation``; a failing list of applications raises, since then
    nothing can be answered). ``organisation``: an organisation id; a *named* application outside it is
    an error entry, never silently left out. ``environments``: slugs to keep in each application, or
    None for all. Every argument is checked before the first request (``InputError``).

    Returns a list with one dict per application, in the order named (all applications: by slug)::

        {"reference": str,            # as named in ``applications``; all applications: the slug
         "application": dict | None,  # the application object; None when it could not be found
         "environments": [dict],      # its environment objects (each with ``application_slug``): the
                                      # slugs of ``environments`` in that order, else all by slug
         "missing": [str],            # slugs of ``environments`` the application does not have
         "error": DivioError | None}  # why this application (or its environments) could not be read;
                                      # then ``environments`` and ``missing`` are empty

    Requests: one list of applications (or one look-up per named application) and one list of
    environments per application, run concurrently under the client's one request limit.
    """
    refs, organisation, environments = _fleet_arguments(applications, organisation, environments)
    if refs is None:
        apps = sorted(list_applications(client, organisation=organisation), key=lambda a: str(a.get("slug") or ""))
        entries = [_fleet_entry(app.get("slug"), app) for app in apps]
    else:
        entries = _named_applications(client, refs, organisation)
    readable = [item for item in entries if item["error"] is None]
    listed = _environments_of(client, [item["application"] for item in readable])
    for item, (envs, error) in zip(readable, listed):
        if error is not None:
            item["error"] = error
            continue
        by_slug = dict((env.get("slug"), env) for env in envs)
        wanted = environments or sorted(by_slug, key=str)
        item["environments"] = [by_slug[slug] for slug in wanted if slug in by_slug]
        item["missing"] = [slug for slug in wanted if slug not in by_slug]
    return entries


def _fleet_arguments(applications, organisation, environments):
    """``fleet``'s arguments checked: ``(application references or None, organisation, environment slugs or None)``."""
    if applications is not None and not isinstance(applications, (list, tuple)):
        raise InputError("applications %r is not valid: expected a list of application slugs or ids." % (applications,))
    # Named twice (or by slug and by id) is asked for once: one record per environment, one series per metric.
    refs = None if applications is None else list(dict.fromkeys(require_text("applications item", ref, allow_none=False)
                                                                for ref in applications))
    organisation = require_id("organisation", organisation)
    if environments is not None:
        if not isinstance(environments, (list, tuple)) or not environments:
            raise InputError("environments %r is not valid: expected a non-empty list of environment slugs." % (environments,))
        environments = list(dict.fromkeys(require_text("environments item", slug, allow_none=False) for slug in environments))
    return refs, organisation, environments


def _fleet_entry(reference, app=None, error=None):
    return {"reference": reference, "application": app, "environments": [], "missing": [], "error": error}


def _named_applications(client, refs, organisation):
    """``fleet``'s entries of the applications named by ``refs``, in order, each read on its own (concurrently)."""
    entries = []
    for ref, (app, error) in zip(refs, client.map(lambda ref: get_application(client, ref), refs, return_errors=True)):
        if error is None and organisation is not None and app.get("organisation") != organisation:
            error = NotFoundError("application %r is not in organisation %s" % (app.get("slug"), organisation))
        if error is None and any(item["application"] and item["application"].get("uuid") == app.get("uuid")
                                 for item in entries):
            continue
        entries.append(_fleet_entry(ref, app, error))
    return entries


def _environments_of(client, apps):
    """``[(environments, None) or (None, DivioError)]`` for each application object of ``apps``, in order.

    One listing of every environment when its pages are fewer than the applications (a fleet of many
    small applications: 3,000 environments are 30 pages, not 1,000 listings), else one filtered listing
    per application, concurrently. A failed whole listing falls back to the per-application ones, so
    each application reports its own error."""
    if len(apps) > 2 and one_read_is_cheaper(client, ENVIRONMENTS, len(apps)):
        by_app = dict((app["uuid"], []) for app in apps)
        try:
            for env in _checked(client.paginate(ENVIRONMENTS), ENVIRONMENTS):
                if env.get("application") in by_app:
                    by_app[env["application"]].append(env)
        except DivioError:
            pass
        else:
            return [([dict(env, application_slug=app.get("slug")) for env in by_app[app["uuid"]]], None) for app in apps]
    return client.map(lambda app: list_environments(client, app), apps, return_errors=True)


def list_service_instances(client, environment_uuid):
    """Service instances of one environment (by its id), by id (documented ``?environment=`` filter)."""
    items = client.paginate(SERVICE_INSTANCES, {"environment": environment_uuid})
    return dict((item["uuid"], item) for item in _checked(items, SERVICE_INSTANCES, environment=environment_uuid))


def service_instances_of(client, environment_uuids):
    """``({environment id: {instance id: instance}}, {environment id: DivioError})`` for many environments.

    One listing of every service instance when its pages are fewer than the environments (estimated
    from its first page, which also shows the page size the server really serves), else one filtered
    listing per environment, concurrently; an environment whose listing fails gets an error, the
    others are unaffected."""
    wanted = list(dict.fromkeys(environment_uuids))
    found, errors = {}, {}
    if len(wanted) > 2 and one_read_is_cheaper(client, SERVICE_INSTANCES, len(wanted)):
        try:
            found = dict((uuid, {}) for uuid in wanted)
            for item in _checked(client.paginate(SERVICE_INSTANCES), SERVICE_INSTANCES):
                if item.get("environment") in found:
                    found[item["environment"]][item["uuid"]] = item
            return found, errors
        except DivioError:
            found = {}  # each environment is asked on its own below, and reports its own error
    for uuid, (instances, error) in zip(wanted, client.map(lambda uuid: list_service_instances(client, uuid), wanted,
                                                           return_errors=True)):
        if error is None:
            found[uuid] = instances
        else:
            errors[uuid] = error
    return found, errors


def one_read_is_cheaper(client, collection, listings, items_each=None):
    """Would one read of the whole of ``collection`` take fewer requests than ``listings`` filtered ones of
    ``items_each`` items each (None: one page each)?

    Estimated from one page of the whole list: its count, and the page size the server really served; where the
    server was seen to ignore ``page_size`` (a page longer than asked, or an earlier read through ``client``), each
    read counts plain pages read twice rather than overlapping windows. A whole read beyond ``max_pages`` or
    ``max_items`` is never cheaper: it would be refused, while the filtered listings can still be read."""
    try:
        page = client.get(collection, {"page_size": client.page_size})
    except DivioError:
        return False  # no estimate: the filtered listings report their own errors
    if not isinstance(page, dict):
        return False
    total, cap = page.get("count"), len(page.get("results") or [])
    max_items, max_pages = getattr(client, "max_items", None), getattr(client, "max_pages", None)
    if not isinstance(total, int) or isinstance(total, bool) or not cap or (max_items is not None and total > max_items):
        return False
    fixed = cap > client.page_size or ignores_page_size(client)
    whole = read_cost(total, cap, fixed, max_pages)
    each = 1 if items_each is None else read_cost(items_each, cap, fixed)
    return whole < each * listings and (max_pages is None or whole <= max_pages)
