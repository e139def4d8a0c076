# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: divio
short_description: Divio environments as inventory hosts, grouped by application, environment and backup state
version_added: 0.2.0
author:
  - divio.cloud contributors (@divio)
description:
  - Reads the Divio applications and environments the API token can see and makes one inventory host per
    environment, named C(<application slug>.<environment slug>) (a slug has no dot, so names never collide).
  - These hosts are API objects, not machines. Each host gets C(ansible_connection=local) and
    C(ansible_python_interpreter={{ ansible_playbook_python }}), so a play against them runs its modules on the
    controller, one fork per host, each fork with its own API client.
  - "Groups: C(divio) (every host), C(divio_app_<application slug>), C(divio_env_<environment slug>) - in group
    names every character that is not a letter, digit or underscore becomes C(_), so C(my-shop) is
    C(divio_app_my_shop). With O(latest_backup): C(divio_backup_fresh), C(divio_backup_stale),
    C(divio_backup_missing), C(divio_backup_error) and C(divio_backup_unverified) (always defined, possibly empty;
    C(divio_backup_unverified) has hosts only with O(verify=read))."
  - "Host variables: C(divio_application) (C(uuid), C(slug), C(name), C(organisation)), C(divio_environment) (the
    environment as the API sends it - C(uuid), C(slug), C(branch), C(last_finished_deployment), ...),
    C(divio_read_at) (when the API was read, UTC), and with O(latest_backup) C(divio_backup): exactly the record
    M(divio.cloud.backup_check) returns for the environment (RV(divio.cloud.backup_check#module:checks)), with its
    C(status)."
  - The inventory holds no token. Tasks that run against these hosts find the token the way every module of the
    collection does - the E(DIVIO_API_TOKEN) environment variable, netrc, or C(module_defaults) - see the examples.
  - "It reads the whole fleet in one pass per listing: the number of API requests grows with the number of list
    pages, not with the number of hosts."
  - The source file name must end in C(divio.yml) or C(divio.yaml).
options:
  plugin:
    description: Marks this file as a source for this plugin.
    required: true
    choices: [divio.cloud.divio]
    type: str
  organisation:
    description: Only applications of the organisation with this id.
    type: str
  applications:
    description:
      - Only these applications, by slug or id. Omitted, every application the token can see (narrowed by
        O(organisation)).
      - A listed application that cannot be found or read fails the inventory source with a message naming it
        - an inventory silently missing hosts would look complete.
    type: list
    elements: str
  environments:
    description:
      - Only environments with these slugs, for example V([live]). Omitted, every environment.
      - An application without one of them simply has no host for it.
    type: list
    elements: str
  latest_backup:
    description:
      - Also judge each environment's newest backups, as M(divio.cloud.backup_check) does, and put the result in the
        C(divio_backup) host variable and the C(divio_backup_*) groups.
      - The whole fleet is checked in one scan over the backups; an environment whose backups could not be read is
        put in C(divio_backup_error) with the message in C(divio_backup.error), the others are still judged.
    type: bool
    default: false
  services:
    description:
      - With O(latest_backup) - the service types that must each have a recent successful backup,
        as O(divio.cloud.backup_check#module:services).
      - Setting it without O(latest_backup) is an error.
    type: list
    elements: str
    default: [DATABASE]
  max_age:
    description:
      - With O(latest_backup) - the oldest a backup may be and still count as fresh, as
        O(divio.cloud.backup_check#module:max_age).
      - Seconds as a number, or a string with units V(s), V(m), V(h), V(d), V(w), such as V(36h) or V(2d).
      - Setting it without O(latest_backup) is an error.
    type: raw
    default: 24h
  min_retention:
    description:
      - With O(latest_backup) - a backup counts only if it is kept at least this long from now, as
        O(divio.cloud.backup_check#module:min_retention); temporary backups (for example those of
        C(divio app pull), deleted after an hour) then do not make an environment look backed up. V(0) turns the
        rule off.
      - Setting it without O(latest_backup) is an error.
    type: raw
    default: 24h
  verify:
    description:
      - With O(latest_backup) - V(read) also downloads the DATABASE parts of the backup judged for each environment's
        DATABASE entries of O(services), and reads each with the format's own tool, as O(divio.cloud.backup_check#module:verify) does (C(pg_restore -f
        /dev/null) for a PostgreSQL dump; the PostgreSQL client must be installed on the controller). An environment
        whose backup fails verification gets the status V(unverified) and is in C(divio_backup_unverified); one whose
        verification could not run (no C(pg_restore), a download that failed) is in C(divio_backup_error) with the
        reason. C(divio_backup) then has C(verified), C(verified_at), C(verified_age_seconds) and C(verification).
      - This creates a download link on the platform and downloads a dump for every environment B(each time the
        inventory is read) - every C(ansible-playbook) and C(ansible-inventory) run - unless the result comes from the
        cache (O(latest_backup_cache)) or O(verify_dir) already holds the verdict on that backup. It changes no
        backup. Dumps hold production data; they are removed once read.
      - Setting it without O(latest_backup) is an error.
    type: str
    choices: [none, read]
    default: none
  verify_dir:
    description:
      - With O(verify=read) - a folder on the controller for the downloads, whose manifest (C(.divio-downloads.json))
        keeps each verdict by backup and part, so that a later read of the inventory does not download a backup
        already verified. Unset, a temporary folder is used and removed, and every read verifies again.
      - It must exist. Setting it without O(verify=read) is an error.
    type: path
  verify_timeout:
    description:
      - With O(verify=read) - the seconds the read of one dump may take, as
        O(divio.cloud.backup_check#module:verify_timeout); then that environment is in C(divio_backup_error) ("could
        not verify").
      - Setting it without O(latest_backup) is an error.
    type: float
    default: 600
  latest_backup_cache:
    description:
      - Whether the cache (O(cache)) may also serve O(latest_backup) results. Off by default, so that a cache
        turned on for every inventory (C(ANSIBLE_INVENTORY_CACHE), C([inventory] cache) in C(ansible.cfg)) never
        answers a backup question with an old answer - with O(latest_backup) and this off, the API is read every
        time.
      - Cached backup groups are as old as the cache entry - up to O(cache_timeout) seconds (default one hour).
        Within that time an environment cached as V(fresh) may have become stale (its C(age_seconds) does not grow
        in the cache), a backup taken since is not seen, and a backup deleted since still counts. C(divio_read_at)
        tells when the data was read. Run C(ansible-playbook) with C(--flush-cache) to read it again now
        (C(ansible-inventory) takes C(--flush-cache) from ansible-core 2.19 on).
    type: bool
    default: false
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - divio.cloud.connection
  - divio.cloud.connection.plugins
notes:
  - Connection options are taken from the source file, then the E(DIVIO_*) environment variables, then the
    C([divio]) section of C(ansible.cfg), the token finally from netrc - as for the lookup. In the source file,
    O(api_token) may be a template such as C("{{ vault_divio_token }}") fed by C(--extra-vars); better keep it out of the
    file altogether and use E(DIVIO_API_TOKEN) or netrc.
  - Cached data (O(cache)) holds the hosts, groups and variables built from the API - never the token. Its key
    includes a hash of the API URL and the token, so two accounts never share a cached inventory.
  - "Each task against these hosts runs in its own fork with its own client, which sends at most
    O(max_concurrency) requests at a time: at most C(forks) x O(max_concurrency) requests are in flight. Bound it
    with C(--forks), the task keyword C(throttle), or C(serial) on the play."
  - An inventory source that fails is, by Ansible's default, only a warning and the run goes on with the other
    sources. Set C(ANSIBLE_INVENTORY_UNPARSED_FAILED=true) (C([inventory] unparsed_is_failed) in C(ansible.cfg))
    to make it an error; AWX and AAP inventory updates already do.
seealso:
  - module: divio.cloud.backup_check
  - module: divio.cloud.backup_info
  - plugin: divio.cloud.divio
    plugin_type: lookup
"""

EXAMPLES = r"""
# divio.yml - every environment of every application the token can see.
# The token comes from DIVIO_API_TOKEN or the netrc entry `divio login` wrote.
plugin: divio.cloud.divio

---
# live.divio.yml - the live environments of one organisation, with their backup state,
# extra groups and variables built from the host variables.
plugin: divio.cloud.divio
organisation: 0b5e3d6c-6a4e-4c39-9f0e-8a1d2c3b4a59
environments: [live]
latest_backup: true
services: [DATABASE, STORAGE]
max_age: 36h
# Also read each judged backup's database dump back (hosts whose dump does not read are in
# divio_backup_unverified); verdicts kept in verify_dir are not downloaded again.
verify: read
verify_dir: /var/lib/divio-inventory/verified
compose:
  divio_branch: divio_environment.branch
keyed_groups:
  - key: divio_environment.branch
    prefix: branch
groups:
  needs_attention: divio_backup.status != 'fresh'

---
# cached.divio.yml - cache the fleet for ten minutes in JSON files (applications and environments;
# latest_backup results only with latest_backup_cache: true).
plugin: divio.cloud.divio
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/divio-inventory
cache_timeout: 600

# A play against these hosts: each host's module call runs on the controller, in its own fork.
# The token reaches the modules from the environment (DIVIO_API_TOKEN), netrc, or module_defaults:
#
# - hosts: divio_env_live
#   gather_facts: false
#   module_defaults:
#     group/divio.cloud.divio:
#       api_token: "{{ vault_divio_token }}"
#   tasks:
#     - name: Latest database backup of each live environment
#       divio.cloud.backup_info:
#         application: "{{ divio_application.uuid }}"
#         environment: "{{ divio_environment.slug }}"
#         services: [DATABASE]
#       throttle: 4
#       register: latest
"""

import datetime
import hashlib
import json
import re

from ansible.errors import AnsibleParserError
from ansible.module_utils.parsing.convert_bool import BOOLEANS
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.divio.cloud.plugins.module_utils.checks import ERROR, FRESH, MISSING, STALE, UNVERIFIED, FleetCheck
from ansible_collections.divio.cloud.plugins.module_utils.errors import DivioError, InputError
from ansible_collections.divio.cloud.plugins.module_utils.resources import fleet
from ansible_collections.divio.cloud.plugins.plugin_utils.base import DivioPlugin

try:
    # ansible-core >= 2.19: a string a plugin sets is never templated unless marked as trusted.
    from ansible.template import trust_as_template
    _mark_unsafe = None
except ImportError:  # older ansible-core templates every string that is not marked unsafe
    from ansible.utils.unsafe_proxy import wrap_var as _mark_unsafe

    def trust_as_template(value):
        return value

ALL_GROUP = "divio"
# The options the cached hosts depend on (besides the account).
SHAPING_OPTIONS = ("applications", "organisation", "environments", "latest_backup", "services", "max_age",
                   "min_retention", "verify", "verify_dir", "verify_timeout")
BACKUP_STATUSES = (FRESH, STALE, MISSING, ERROR, UNVERIFIED)
BACKUP_OPTIONS = ("services", "max_age", "min_retention", "verify", "verify_dir", "verify_timeout")
BOOL_OPTIONS = ("latest_backup", "latest_backup_cache")
TEMPLATED_OPTIONS = ("api_token", "api_url", "zone")
APPLICATION_FIELDS = ("uuid", "slug", "name", "organisation")
# Hosts are API objects: modules run on the controller, with the Python that runs Ansible.
CONNECTION_VARS = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
_NOT_WORD = re.compile(r"[^A-Za-z0-9_]")


def group_name(prefix, slug):
    """``divio_app_my_shop`` from ``divio_app_`` and ``my-shop``: valid as a group and variable name."""
    return prefix + _NOT_WORD.sub("_", slug)


def host_name(application_slug, environment_slug):
    return "%s.%s" % (application_slug, environment_slug)


def host_groups(application_slug, environment_slug, backup_status=None):
    groups = [ALL_GROUP, group_name("divio_app_", application_slug), group_name("divio_env_", environment_slug)]
    if backup_status is not None:
        groups.append("divio_backup_%s" % backup_status)
    return groups


def fleet_environments(entries):
    """``(application, environment)`` pairs from ``resources.fleet`` entries.

    An application that could not be found or read fails the whole source: an inventory without its hosts
    would look complete. Environments named in ``environments`` that an application lacks are no hosts.
    """
    failed = [entry for entry in entries if entry["error"] is not None]
    if failed:
        raise DivioError("could not read %s; no inventory was built. %s" % (
            ", ".join("application %r" % (entry["reference"],) for entry in failed),
            " ".join("%s: %s" % (entry["reference"], entry["error"]) for entry in failed)))
    return [(entry["application"], environment) for entry in entries for environment in entry["environments"]]


def build_hosts(environments, backup_records=None, read_at=None):
    """Hosts from ``(application, environment)`` pairs and, with latest_backup, backup_check's records.

    Returns ``[{"name", "groups", "vars"}]`` sorted by name: plain data, so it can be cached as it is.
    """
    by_environment = dict((record["environment"], record) for record in backup_records or () if record["environment"])
    hosts = []
    for application, environment in environments:
        name = host_name(application["slug"], environment["slug"])
        variables = {
            "divio_application": dict((field, application.get(field)) for field in APPLICATION_FIELDS),
            "divio_environment": dict((key, value) for key, value in environment.items() if key != "application_slug"),
            "divio_read_at": read_at,
        }
        status = None
        if backup_records is not None:
            record = by_environment.get(environment["uuid"])
            if record is None:
                # Every environment must have been judged; a gap must not pass as "no problem".
                raise DivioError("the backup check has no result for %s; no inventory was built." % name)
            variables["divio_backup"] = record
            status = record["status"]
        hosts.append({"name": name, "groups": host_groups(application["slug"], environment["slug"], status),
                      "vars": variables})
    hosts.sort(key=lambda host: host["name"])
    twice = sorted(set(a["name"] for a, b in zip(hosts, hosts[1:]) if a["name"] == b["name"]))
    if twice:
        # Slugs have no dots, so this needs a server that breaks that rule; one host must not hide another.
        raise DivioError("several environments would be the host %s; no inventory was built." % ", ".join(twice))
    return hosts


def api_data(value):
    """A value read from the API, as a host variable that is never templated.

    Anyone who may rename an application could otherwise have ``{{ lookup('pipe', ...) }}`` run on the
    controller. Strings without a brace cannot be templates, so they are left plain: ansible-inventory then
    prints them as plain strings, not as ``__ansible_unsafe`` markers, which some AWX versions fail to import.
    Keys too (``dict2items`` makes a key a value that ansible-core 2.16 templates).
    """
    if isinstance(value, dict):
        return dict((inert(key), api_data(item)) for key, item in value.items())
    if isinstance(value, list):
        return [api_data(item) for item in value]
    if not isinstance(value, str):
        return value
    if _maybe_template(value):
        return inert(value)
    return trust_as_template(value)


def inert(value):
    """``value`` (API text: a host name, a key) marked never to be templated where ansible-core needs it marked
    (before 2.19, which templates every string that is not marked unsafe; 2.19 only trusted ones)."""
    if _mark_unsafe and isinstance(value, str) and _maybe_template(value):
        return _mark_unsafe(value)
    return value


def _maybe_template(text):
    return "{" in text or "}" in text


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class InventoryModule(DivioPlugin, BaseInventoryPlugin, Constructable, Cacheable):

    NAME = "divio.cloud.divio"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("divio.yml", "divio.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        self._template_connection_options()
        with self.divio_errors(AnsibleParserError):
            self._check_options(config)
            hosts = self._hosts(path, cache)
        self._populate(hosts)

    def _template_connection_options(self):
        """``api_token: "{{ vault_divio_token }}"`` in the source file, rendered with --extra-vars.

        Only values written in the source file: a value from the environment or ansible.cfg is used as it is.
        """
        self.templar.available_variables = self._vars
        for name in TEMPLATED_OPTIONS:
            value, origin = self.get_option_and_origin(name)
            if origin == "Direct" and isinstance(value, str) and "{{" in value:
                self.set_option(name, self.templar.template(value))

    def _check_options(self, config):
        """What Ansible would let pass silently: ``latest_backup: maybe`` read as false, and backup rules
        without latest_backup."""
        for name in BOOL_OPTIONS:
            value = config.get(name)
            if value is not None and not isinstance(value, bool) and str(value).lower() not in BOOLEANS:
                raise InputError("%s %r is not valid: expected true or false." % (name, value))
        if self.get_option("latest_backup"):
            if self.get_option("verify_dir") is not None and self.get_option("verify") != "read":
                raise InputError("verify_dir applies only with verify: read; set verify: read or remove verify_dir.")
            return
        given = [name for name in BACKUP_OPTIONS if self.get_option_and_origin(name)[1] != "default"]
        if given:
            raise InputError("%s appl%s only with latest_backup: true; set latest_backup: true or remove %s."
                             % (", ".join(given), "ies" if len(given) == 1 else "y", "it" if len(given) == 1 else "them"))

    def _cache_key(self, path):
        """Per source file, per account (the API URL and a hash of the token, never the token) and per the options
        that shape the hosts, so a source changed to, say, verify: read never gets an entry made without it."""
        settings = self.divio_settings()
        shaping = json.dumps([self.get_option(name) for name in SHAPING_OPTIONS], sort_keys=True, default=str)
        account = hashlib.sha256(("%s\n%s\n%s" % (settings.base_url, settings.token, shaping)).encode("utf-8")).hexdigest()[:16]
        return "%s_%s" % (self.get_cache_key(path), account)

    def _use_cache(self):
        return self.get_option("cache") and (not self.get_option("latest_backup") or self.get_option("latest_backup_cache"))

    def _hosts(self, path, cache):
        use_cache = self._use_cache()
        if self.get_option("cache") and not use_cache:
            self.display.vv("divio.cloud.divio: latest_backup is on and latest_backup_cache is off; reading the API, not the cache.")
        key = self._cache_key(path) if use_cache else None
        if use_cache and cache:
            try:
                return self._cache[key]
            except KeyError:
                pass  # not cached yet, or expired
        hosts = self._read_hosts()
        if use_cache:
            self._cache[key] = hosts
        return hosts

    def _read_hosts(self):
        """The fleet, and with latest_backup its backup check, from the API."""
        read_at = _utc_now()
        scope = dict(applications=self.get_option("applications"), organisation=self.get_option("organisation"),
                     environments=self.get_option("environments"))
        check = None
        if self.get_option("latest_backup"):
            # Made first: it checks every backup option before the first request.
            check = FleetCheck(services=self.get_option("services"), max_age=self.get_option("max_age"),
                               min_retention=self.get_option("min_retention"), verify=self.get_option("verify"),
                               verify_dir=self.get_option("verify_dir"), verify_timeout=self.get_option("verify_timeout"))
        with self.divio_client() as client:
            # One read of the fleet: the hosts and the backup check are the same environments.
            entries = fleet(client, **scope)
            environments = fleet_environments(entries)
            records = check.judge(client, entries)[0] if check is not None else None
        return build_hosts(environments, records, read_at)

    def _populate(self, hosts):
        strict = self.get_option("strict")
        if self.get_option("latest_backup"):
            for status in BACKUP_STATUSES:
                self.inventory.add_group("divio_backup_%s" % status)
        self.inventory.add_group(ALL_GROUP)
        for host in hosts:
            # A slug holding a template must stay text in inventory_hostname, groups and play_hosts too; group
            # names are made of letters, digits and underscores (group_name; keyed_groups: Constructable).
            name = inert(host["name"])
            for group in host["groups"]:
                self.inventory.add_group(group)
                self.inventory.add_host(name, group=group)
            for key, value in CONNECTION_VARS.items():
                self.inventory.set_variable(name, key, trust_as_template(value))
            for key, value in host["vars"].items():
                self.inventory.set_variable(name, key, api_data(value))
            variables = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
