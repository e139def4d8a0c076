# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: divio
short_description: Divio applications, environments, latest backups and environment variables in templates and conditions
version_added: 0.1.0
author:
  - divio.cloud contributors (@divio)
description:
  - Answers the questions of M(divio.cloud.application_info), M(divio.cloud.environment_info),
    M(divio.cloud.backup_info) and M(divio.cloud.environment_variable_info) inline - in C(when), C(assert), C(vars)
    and templates - without a registered task.
  - Takes exactly one term, the kind of answer - V(applications), V(environments), V(latest_backup) or
    V(environment_variables) - and the options of that kind as keyword arguments. An option that does not belong
    to the term is an error.
  - Uses the same client, the same latest-backup logic and the same error messages as the modules.
  - Runs on the controller, like every lookup. It needs network access to the Divio API from there and the
    Python library C(requests) in the controller's Python.
  - Within one C(ansible-playbook) run, identical API requests made within O(cache_ttl) seconds are answered
    from a small cache instead of being sent again, because templates re-evaluate lookups (each C(when), each
    use of a variable, each task).
options:
  _terms:
    description:
      - The kind of answer, exactly one of V(applications), V(environments), V(latest_backup),
        V(environment_variables).
      - V(applications) - application objects as in RV(divio.cloud.application_info#module:applications);
        options O(organisation), O(slug), O(uuid), O(name).
      - V(environments) - environment objects as in RV(divio.cloud.environment_info#module:environments);
        options O(application) (required), O(slug), O(uuid).
      - V(latest_backup) - entries as in RV(divio.cloud.backup_info#module:backups), one per
        environment; options O(application) (required), O(environment), O(services), O(max_age), O(min_retention),
        O(successful_only), O(latest), O(limit).
      - V(environment_variables) - entries as in
        RV(divio.cloud.environment_variable_info#module:environment_variables) (C(name), C(value), C(is_sensitive));
        options O(application) and O(environment) (both required), O(name), O(reveal_sensitive). A sensitive value is
        null unless O(reveal_sensitive=true). These answers are never cached (see O(cache_ttl)).
    type: list
    elements: str
    required: true
  application:
    description:
      - Terms V(environments), V(latest_backup) and V(environment_variables) - the application, by slug or by id.
        It is asked for as a slug first (one request) and read by id only when no application has that slug; ids
        are never judged by their shape.
    type: str
  organisation:
    description: Term V(applications) - only applications of the organisation with this id.
    type: str
  slug:
    description:
      - Term V(applications) - only the application with this slug.
      - Term V(environments) - only the environment with this slug, for example V(live).
    type: str
  uuid:
    description:
      - Term V(applications) - only the application with this UUID.
      - Term V(environments) - only the environment with this UUID.
    type: str
  name:
    description:
      - Term V(applications) - only applications with exactly this name.
      - Term V(environment_variables) - only the variable with exactly this name.
    type: str
  environment:
    description:
      - Term V(latest_backup) - environment slug, for example V(live). Omitted, there is one entry per environment
        of the application.
      - Term V(environment_variables) - environment slug, required.
      - An environment the application does not have is an error that names the ones it has.
    type: str
  services:
    description:
      - Term V(latest_backup) - service types the backup must hold, for example V([DATABASE]); see
        O(divio.cloud.backup_info#module:services).
    type: list
    elements: str
  max_age:
    description:
      - Term V(latest_backup) - adds RV(divio.cloud.backup_info#module:backups[].fresh) to each entry.
      - Seconds as a number, or a string with units V(s), V(m), V(h), V(d), V(w), such as V(90m), V(36h), V(2d) or V(1d12h).
    type: raw
  min_retention:
    description:
      - Term V(latest_backup) - a backup the platform will delete (C(scheduled_for_deletion_at)) sooner than this
        from now does not qualify - the temporary backups C(divio app pull db) makes, deleted an hour later, are
        no restore point. See O(divio.cloud.backup_info#module:min_retention).
      - V(0) turns the rule off. Same forms as O(max_age).
    type: raw
    default: 24h
  successful_only:
    description:
      - Term V(latest_backup) - V(true), only finished good backups qualify; V(false), any backup qualifies.
    type: bool
    default: true
  latest:
    description:
      - Term V(latest_backup) - V(true), one entry per environment (its newest qualifying backup, or an entry with
        C(uuid=null) when it has none). V(false), every qualifying backup, newest first, at most O(limit) per environment.
    type: bool
    default: true
  limit:
    description: Term V(latest_backup) with O(latest=false) - the most backups returned per environment.
    type: int
    default: 100
  reveal_sensitive:
    description:
      - Term V(environment_variables) - also return the values of sensitive variables.
      - A lookup's value ends up in a task's arguments or a variable, which Ansible prints like any other (C(-v),
        failures, C(debug)) and cannot mask without also replacing the value the lookup returns. Set
        C(no_log=true) on every task that uses the value.
    type: bool
    default: false
  cache_ttl:
    description:
      - Seconds an API answer is reused by later lookups of the same C(ansible-playbook) run, with the same
        token and the same request. V(0) turns the cache off, so every lookup asks the API again.
      - The cache lives in the run's local temporary directory (C(DEFAULT_LOCAL_TMP)), which Ansible removes when
        the run ends; so it never outlives the run. It holds the decoded answers and a hash of the token,
        never the token.
      - Term V(environment_variables) is never cached, so no variable value is written to disk.
    type: int
    default: 300
    env:
      - name: DIVIO_LOOKUP_CACHE_TTL
    ini:
      - section: divio
        key: lookup_cache_ttl
extends_documentation_fragment:
  - divio.cloud.connection
  - divio.cloud.connection.plugins
notes:
  - Each connection option is taken from, in this order - the keyword argument, an inventory or play variable
    (C(divio_api_token), C(divio_api_url), C(divio_zone), ...), the environment variable (E(DIVIO_API_TOKEN),
    E(DIVIO_API_URL), E(DIVIO_ZONE), ...), the C([divio]) section of C(ansible.cfg); the token finally from netrc,
    as for the modules.
  - Lookups run on the controller, in the environment C(ansible-playbook) was started with. A play's or task's
    C(environment:) keyword does B(not) reach them - set C(DIVIO_API_TOKEN) before starting the run, or use the
    variables.
  - Use C(query) (or C(lookup) with C(wantlist=true)) to always get a list. C(lookup) follows Ansible's rules for
    a list result - a single element is returned as that element (one C(latest_backup) entry comes back as a dict,
    one application as a dict), several dicts as the list, no element as an empty list.
  - Because answers are cached for O(cache_ttl) seconds, a lookup right after something changed a backup may
    still see the earlier state; pass O(cache_ttl=0) where that matters.
seealso:
  - module: divio.cloud.application_info
  - module: divio.cloud.environment_info
  - module: divio.cloud.backup_info
  - module: divio.cloud.environment_variable_info
"""

EXAMPLES = r"""
- name: Refuse to deploy unless live has a database backup younger than a day
  ansible.builtin.assert:
    that:
      - backup.uuid is not none
      - backup.age_seconds <= 86400
    fail_msg: "shop/live: the latest database backup is {{ backup.age_seconds }} s old"
  vars:
    backup: "{{ lookup('divio.cloud.divio', 'latest_backup', application='shop', environment='live', services=['DATABASE']) }}"

- name: The same with max_age, in a condition
  ansible.builtin.debug:
    msg: "shop/live is fresh"
  when: lookup('divio.cloud.divio', 'latest_backup', application='shop', environment='live', max_age='24h').fresh

- name: Every application of one organisation
  ansible.builtin.debug:
    msg: "{{ query('divio.cloud.divio', 'applications', organisation='5d0f1b7e-0c4e-4d5b-9d63-2a1c7f4e8b90') | map(attribute='slug') }}"

- name: Environments of shop
  ansible.builtin.debug:
    msg: "{{ query('divio.cloud.divio', 'environments', application='shop') | map(attribute='slug') | sort }}"

- name: Age of the latest backup of every environment of shop
  ansible.builtin.debug:
    msg: "{{ item.environment_slug }}: {{ item.age_seconds }} s"
  loop: "{{ query('divio.cloud.divio', 'latest_backup', application='shop') }}"

- name: Refuse to deploy shop/live with DEBUG on
  ansible.builtin.assert:
    that: debug.value == 'False'
  vars:
    debug: "{{ lookup('divio.cloud.divio', 'environment_variables', application='shop', environment='live', name='DEBUG') }}"

- name: A secret for one task, never printed
  ansible.builtin.uri:
    url: https://hooks.example.com/deploy
    headers:
      Authorization: "Bearer {{ shipping_token.value }}"
  vars:
    shipping_token: >-
      {{ lookup('divio.cloud.divio', 'environment_variables', application='shop', environment='live',
                name='SHIPPING_API_TOKEN', reveal_sensitive=true) }}
  no_log: true

- name: Connection options as keyword arguments (else variables, environment, ansible.cfg or netrc)
  ansible.builtin.debug:
    msg: "{{ query('divio.cloud.divio', 'applications', api_url='http://127.0.0.1:8000', api_token=my_token) }}"

# Or once for the whole play, through variables:
#   vars:
#     divio_api_url: http://127.0.0.1:8000
#     divio_api_token: "{{ vault_divio_token }}"
# or in ansible.cfg:
#   [divio]
#   api_url = http://127.0.0.1:8000
"""

RETURN = r"""
_list:
  description:
    - V(applications) - application objects, as M(divio.cloud.application_info) returns them.
    - V(environments) - environment objects, as M(divio.cloud.environment_info) returns them.
    - V(latest_backup) - entries exactly as M(divio.cloud.backup_info) returns them (C(uuid), C(taken_at),
      C(age_seconds), C(fresh) with O(max_age), C(services), C(service_instance_backups), ...), environments by slug.
    - V(environment_variables) - entries exactly as M(divio.cloud.environment_variable_info) returns them.
    - With C(lookup) a single element comes back as that element, not as a list (see the notes).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.divio.cloud.plugins.module_utils.backups import FindOptions, find_backups_with
from ansible_collections.divio.cloud.plugins.module_utils.connection import CONNECTION_OPTION_NAMES
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError
from ansible_collections.divio.cloud.plugins.module_utils.resources import (
    get_application,
    list_applications,
    list_environments,
)
from ansible_collections.divio.cloud.plugins.module_utils.variables import environment_variables
from ansible_collections.divio.cloud.plugins.plugin_utils.base import DivioPlugin
from ansible_collections.divio.cloud.plugins.plugin_utils.lookup_cache import LookupCache, run_cache_dir

display = Display()


def _applications(client, o):
    return list_applications(client, slug=o["slug"], uuid=o["uuid"], organisation=o["organisation"], name=o["name"])


def _environments(client, o):
    return list_environments(client, get_application(client, o["application"]), slug=o["slug"], uuid=o["uuid"])


def _latest_backup(client, o):
    warnings = []  # apart from the entries: with latest=false an environment may end with none to carry them
    # The term's options (backup_info's own) checked where its task starts, as the module does.
    entries = find_backups_with(client, o["application"], FindOptions.from_params(o), warnings=warnings)
    for warning in warnings:
        display.warning(warning)
    return entries


def _environment_variables(client, o):
    return environment_variables(client, o["application"], o["environment"], name=o["name"],
                                 reveal_sensitive=o["reveal_sensitive"])


# term -> (function, options it takes, options it requires)
TERMS = {
    "applications": (_applications, ("organisation", "slug", "uuid", "name"), ()),
    "environments": (_environments, ("application", "slug", "uuid"), ("application",)),
    "latest_backup": (_latest_backup, ("application", "environment", "services", "max_age", "min_retention",
                                       "successful_only", "latest", "limit"), ("application",)),
    "environment_variables": (_environment_variables, ("application", "environment", "name", "reveal_sensitive"),
                              ("application", "environment")),
}
# Terms whose answers hold values that must not reach the disk cache (it stores decoded answers).
UNCACHED_TERMS = ("environment_variables",)
TERM_OPTIONS = sorted(set(name for spec in TERMS.values() for name in spec[1]))
GENERAL_OPTIONS = tuple(CONNECTION_OPTION_NAMES) + ("cache_ttl",)


def _term(terms):
    valid = ", ".join(sorted(TERMS))
    if len(terms) != 1 or not isinstance(terms[0], str) or terms[0].strip() not in TERMS:
        got = "no term" if not terms else "%d terms" % len(terms) if len(terms) > 1 else "%r" % (terms[0],)
        raise AnsibleLookupError("divio.cloud.divio takes exactly one term, the kind of answer: %s (got %s)." % (valid, got))
    return terms[0].strip()


def _check_options(term, kwargs):
    """Options given as keyword arguments must exist and belong to the term; required ones must be there."""
    takes, requires = TERMS[term][1:]
    given = set(name for name, value in kwargs.items() if value is not None)
    unknown = sorted(given - set(TERM_OPTIONS) - set(GENERAL_OPTIONS))
    if unknown:
        raise InputError("unknown option%s %s; term %r takes %s, plus the connection options %s."
                         % ("s" if len(unknown) > 1 else "", ", ".join(unknown), term, ", ".join(takes) or "no options",
                            ", ".join(GENERAL_OPTIONS)))
    misplaced = sorted(given & set(TERM_OPTIONS) - set(takes))
    if misplaced:
        raise InputError("option%s %s do%s not apply to term %r, which takes %s."
                         % ("s" if len(misplaced) > 1 else "", ", ".join(misplaced), "" if len(misplaced) > 1 else "es",
                            term, ", ".join(takes) or "no options"))
    missing = [name for name in requires if name not in given]
    if missing:
        raise InputError("term %r needs the option %s, e.g. %s='shop'." % (term, missing[0], missing[0]))


class LookupModule(DivioPlugin, LookupBase):

    def _connection_variables(self, variables):
        """The variables our options read (``divio_api_token``, ...), templated.

        A lookup receives variables raw, so ``divio_api_token: "{{ vault_token }}"`` would otherwise arrive as
        that text - and a bool or float variable would fail its type check before it could be templated.
        """
        if not variables or self._templar is None:
            return variables
        names = set(entry["name"] for definition in self.option_definitions.values() for entry in definition.get("vars") or ())
        return dict((name, self._templar.template(variables[name])) for name in names if name in variables)

    def run(self, terms, variables=None, **kwargs):
        term = _term(terms)
        self.set_options(var_options=self._connection_variables(variables), direct=kwargs)
        # The one place where collection errors become lookup errors; the message is the modules' own.
        with self.divio_errors(AnsibleLookupError):
            _check_options(term, kwargs)
            ttl = self.get_option("cache_ttl")
            if ttl is not None and ttl < 0:
                raise InputError("cache_ttl %r is not valid: expected 0 (no cache) or a number of seconds." % (ttl,))
            cache = LookupCache(run_cache_dir(), ttl=ttl or 0) if term not in UNCACHED_TERMS else None
            with self.divio_client(cache=cache) as client:
                return TERMS[term][0](client, dict((name, self.get_option(name)) for name in TERM_OPTIONS))
