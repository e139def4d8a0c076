"""The divio.cloud.divio inventory plugin without a server: options, names, groups, host data, cache keys.

Everything that talks to the API is tested for real against the simulator in
tests/integration/test_inventory.py; nothing here sends a request.
"""

import textwrap

import pytest

from ansible.errors import AnsibleParserError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

from ansible_collections.divio.cloud.plugins.inventory.divio import (
    build_hosts,
    fleet_environments,
    group_name,
    host_groups,
    host_name,
)
from ansible_collections.divio.cloud.plugins.module_utils.errors import DivioError, InputError, NotFoundError
from testlib import ANSIBLE_CORE

SHOP = {"uuid": "bagztldeadfdhlilnmpzx3twly", "slug": "my-shop", "name": "My Shop", "organisation": "org-1",
        "repository": "repo-1"}
BLOG = {"uuid": "blog-uuid", "slug": "blog", "name": "Blog", "organisation": "org-2", "repository": None}
SHOP_LIVE = {"uuid": "shop-live", "slug": "live", "application": SHOP["uuid"], "branch": "main",
             "last_finished_deployment": {"uuid": "dep-1"}, "application_slug": "my-shop"}
SHOP_TEST = {"uuid": "shop-test", "slug": "test", "application": SHOP["uuid"], "branch": "develop",
             "last_finished_deployment": None, "application_slug": "my-shop"}
BLOG_LIVE = {"uuid": "blog-live", "slug": "live", "application": BLOG["uuid"], "branch": "main",
             "last_finished_deployment": None, "application_slug": "blog"}


def fleet_entry(app, environments=(), missing=(), error=None, reference=None):
    return {"reference": reference or app["slug"], "application": app, "environments": list(environments),
            "missing": list(missing), "error": error}


def record(environment, status):
    return {"environment": environment["uuid"], "environment_slug": environment["slug"], "status": status,
            "problems": [], "error": None}


# -- names and groups --------------------------------------------------------------------------

@pytest.mark.parametrize("slug, expected", [
    ("shop", "divio_app_shop"),
    ("my-shop", "divio_app_my_shop"),
    ("a.b c", "divio_app_a_b_c"),
    ("café", "divio_app_caf_"),
    ("2024-site", "divio_app_2024_site"),
])
def test_group_names_are_valid_ansible_names(slug, expected):
    assert group_name("divio_app_", slug) == expected
    assert expected.isidentifier()


def test_host_name_joins_slugs_with_a_dot():
    assert host_name("my-shop", "live") == "my-shop.live"


def test_host_groups():
    assert host_groups("my-shop", "live") == ["divio", "divio_app_my_shop", "divio_env_live"]
    assert host_groups("my-shop", "pre-prod", "stale") == ["divio", "divio_app_my_shop", "divio_env_pre_prod",
                                                           "divio_backup_stale"]


# -- from fleet entries to hosts ---------------------------------------------------------------

def test_fleet_environments_pairs_applications_with_their_environments():
    entries = [fleet_entry(BLOG, [BLOG_LIVE]), fleet_entry(SHOP, [SHOP_LIVE, SHOP_TEST], missing=["stage"])]
    assert fleet_environments(entries) == [(BLOG, BLOG_LIVE), (SHOP, SHOP_LIVE), (SHOP, SHOP_TEST)]


def test_an_application_that_could_not_be_read_fails_the_whole_source():
    entries = [fleet_entry(SHOP, [SHOP_LIVE]),
               fleet_entry(None, reference="ghost",
                           error=NotFoundError("application 'ghost' not found: no application with this slug is visible"))]
    with pytest.raises(DivioError) as caught:
        fleet_environments(entries)
    message = str(caught.value)
    assert "application 'ghost'" in message and "no inventory was built" in message
    assert "ghost: application 'ghost' not found" in message


def test_build_hosts_variables_and_groups():
    hosts = build_hosts([(SHOP, SHOP_TEST), (SHOP, SHOP_LIVE), (BLOG, BLOG_LIVE)], read_at="2026-01-02T03:04:05Z")
    assert [h["name"] for h in hosts] == ["blog.live", "my-shop.live", "my-shop.test"]
    shop_live = hosts[1]
    assert shop_live["groups"] == ["divio", "divio_app_my_shop", "divio_env_live"]
    assert shop_live["vars"] == {
        "divio_application": {"uuid": SHOP["uuid"], "slug": "my-shop", "name": "My Shop", "organisation": "org-1"},
        "divio_environment": {"uuid": "shop-live", "slug": "live", "application": SHOP["uuid"], "branch": "main",
                              "last_finished_deployment": {"uuid": "dep-1"}},
        "divio_read_at": "2026-01-02T03:04:05Z",
    }


def test_two_environments_that_would_be_one_host_are_an_error():
    first, second = dict(SHOP, uuid="app-1", slug="a.b"), dict(SHOP, uuid="app-2", slug="a")
    with pytest.raises(DivioError, match=r"several environments would be the host a\.b\.c; no inventory"):
        build_hosts([(first, dict(SHOP_LIVE, uuid="env-1", slug="c")), (second, dict(SHOP_LIVE, uuid="env-2", slug="b.c"))])


def test_build_hosts_with_backup_records():
    records = [record(SHOP_LIVE, "stale"), record(SHOP_TEST, "fresh"),
               {"environment": None, "environment_slug": "stage", "status": "missing", "problems": [], "error": None}]
    hosts = build_hosts([(SHOP, SHOP_LIVE), (SHOP, SHOP_TEST)], records)
    by_name = dict((h["name"], h) for h in hosts)
    assert by_name["my-shop.live"]["vars"]["divio_backup"] is records[0]
    assert by_name["my-shop.live"]["groups"][-1] == "divio_backup_stale"
    assert by_name["my-shop.test"]["groups"][-1] == "divio_backup_fresh"


def test_an_environment_without_a_backup_record_is_an_error_not_fresh():
    with pytest.raises(DivioError, match="no result for my-shop.test; no inventory was built"):
        build_hosts([(SHOP, SHOP_LIVE), (SHOP, SHOP_TEST)], [record(SHOP_LIVE, "fresh")])


# -- the plugin's options ----------------------------------------------------------------------

@pytest.fixture
def plugin():
    found = inventory_loader.get("divio.cloud.divio")
    assert found is not None, "the plugin is not found by the inventory loader"
    found.loader = DataLoader()
    found._vars = {}
    if not hasattr(found, "templar"):  # ansible-core 2.16 makes it in parse(), which these tests do not call
        from ansible.template import Templar
        found.templar = Templar(loader=found.loader)
    return found


@pytest.fixture
def source(tmp_path):
    """``source(yaml_text, name)`` -> path of an inventory source file."""
    def write(text, name="fleet.divio.yml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)
    return write


@pytest.mark.parametrize("name, accepted", [
    ("divio.yml", True), ("fleet.divio.yml", True), ("prod_divio.yaml", True),
    ("divio.json", False), ("hosts.yml", False), ("divio.yml.bak", False),
])
def test_verify_file_wants_a_name_ending_in_divio_yml(plugin, source, name, accepted):
    assert plugin.verify_file(source("plugin: divio.cloud.divio\n", name)) is accepted


def test_defaults(plugin, source):
    plugin._read_config_data(source("plugin: divio.cloud.divio\n"))
    assert plugin.get_option("latest_backup") is False
    assert plugin.get_option("latest_backup_cache") is False
    assert plugin.get_option("cache") is False
    assert plugin.get_option("services") == ["DATABASE"]
    assert plugin.get_option("max_age") == "24h"
    assert plugin.get_option("min_retention") == "24h"
    assert plugin.get_option("applications") is None
    assert plugin.get_option("environments") is None
    assert plugin.get_option("strict") is False


def test_options_from_the_file(plugin, source):
    plugin._read_config_data(source("""
        plugin: divio.cloud.divio
        organisation: org-1
        applications: [shop, blog]
        environments: [live]
        latest_backup: true
        services: [DATABASE, STORAGE]
        max_age: 36h
        min_retention: 0
        keyed_groups:
          - key: divio_environment.branch
            prefix: branch
    """))
    assert plugin.get_option("organisation") == "org-1"
    assert plugin.get_option("applications") == ["shop", "blog"]
    assert plugin.get_option("environments") == ["live"]
    assert plugin.get_option("latest_backup") is True
    assert plugin.get_option("services") == ["DATABASE", "STORAGE"]
    assert plugin.get_option("max_age") == "36h"
    assert plugin.get_option("min_retention") == 0
    assert plugin.get_option("keyed_groups") == [{"key": "divio_environment.branch", "prefix": "branch"}]


def test_another_plugins_file_is_refused(plugin, source):
    with pytest.raises(AnsibleParserError, match="Incorrect plugin name"):
        plugin._read_config_data(source("plugin: hetzner.hcloud.hcloud\n"))


@pytest.mark.parametrize("text, names", [
    ("max_age: 2d\n", "max_age applies"),
    ("services: [STORAGE]\nmin_retention: 1h\n", "services, min_retention apply"),
])
def test_backup_rules_without_latest_backup_are_an_error(plugin, source, text, names):
    config = plugin._read_config_data(source("plugin: divio.cloud.divio\n" + text))
    with pytest.raises(InputError, match=names + " only with latest_backup: true"):
        plugin._check_options(config)


@pytest.mark.parametrize("text", ["latest_backup: true\nmax_age: 2d\n", "latest_backup: 'yes'\n",
                                  "latest_backup: false\nlatest_backup_cache: off\n"])
def test_good_options_pass_the_checks(plugin, source, text):
    plugin._check_options(plugin._read_config_data(source("plugin: divio.cloud.divio\n" + text)))


@pytest.mark.parametrize("text, message", [
    ("latest_backup: maybe\n", "latest_backup 'maybe' is not valid: expected true or false"),
    ("latest_backup_cache: 2\n", "latest_backup_cache 2 is not valid: expected true or false"),
])
def test_a_bool_option_that_ansible_would_read_as_false_is_an_error(plugin, source, text, message):
    config = plugin._read_config_data(source("plugin: divio.cloud.divio\n" + text))
    with pytest.raises(InputError, match=message):
        plugin._check_options(config)


@pytest.mark.parametrize("text, used", [
    ("", False),
    ("cache: true\n", True),
    ("cache: true\nlatest_backup: true\n", False),
    ("cache: true\nlatest_backup: true\nlatest_backup_cache: true\n", True),
    ("latest_backup: true\nlatest_backup_cache: true\n", False),
])
def test_the_cache_serves_latest_backup_only_when_asked(plugin, source, text, used):
    plugin._read_config_data(source("plugin: divio.cloud.divio\n" + text))
    assert bool(plugin._use_cache()) is used


def test_a_cache_turned_on_for_every_inventory_does_not_serve_backups(plugin, source, monkeypatch):
    monkeypatch.setenv("ANSIBLE_INVENTORY_CACHE", "true")
    plugin._read_config_data(source("plugin: divio.cloud.divio\nlatest_backup: true\n"))
    assert plugin.get_option("cache") is True
    assert not plugin._use_cache()


def test_connection_options_from_the_file_and_the_environment(plugin, source, monkeypatch):
    monkeypatch.setenv("DIVIO_API_TOKEN", "env-sekrit-token")
    plugin._read_config_data(source("plugin: divio.cloud.divio\napi_url: http://127.0.0.1:8000\n"))
    settings = plugin.divio_settings()
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.token == "env-sekrit-token"


def test_api_token_template_in_the_file_is_rendered_with_extra_vars(plugin, source):
    plugin._vars = {"vault_divio_token": "vaulted-sekrit-token"}
    plugin._read_config_data(source("""
        plugin: divio.cloud.divio
        api_url: http://127.0.0.1:8000
        api_token: "{{ vault_divio_token }}"
    """))
    plugin._template_connection_options()
    assert plugin.divio_settings().token == "vaulted-sekrit-token"


def test_a_template_from_the_environment_is_not_rendered(plugin, source, monkeypatch):
    monkeypatch.setenv("DIVIO_API_URL", "{{ lookup('env', 'HOME') }}")
    plugin._vars = {}
    plugin._read_config_data(source("plugin: divio.cloud.divio\napi_token: file-sekrit-token\n"))
    plugin._template_connection_options()
    assert plugin.get_option("api_url") == "{{ lookup('env', 'HOME') }}"


def test_cache_key_holds_no_token_and_differs_per_account(plugin, source):
    path = source("plugin: divio.cloud.divio\napi_url: http://127.0.0.1:8000\napi_token: first-sekrit-token\n")
    plugin._read_config_data(path)
    first = plugin._cache_key(path)
    assert plugin._cache_key(path) == first
    plugin.set_option("api_token", "second-sekrit-token")
    second = plugin._cache_key(path)
    plugin.set_option("api_url", "http://127.0.0.2:8000")
    third = plugin._cache_key(path)
    assert len({first, second, third}) == 3
    for key in (first, second, third):
        assert "sekrit" not in key
        assert key.startswith(plugin.get_cache_key(path))


# -- API data is never a template --------------------------------------------------------------

def test_api_data_with_braces_is_never_templated_and_plain_text_stays_plain():
    from ansible_collections.divio.cloud.plugins.inventory.divio import api_data

    if ANSIBLE_CORE >= (2, 19):  # a string is a template only when marked trusted
        from ansible.template import is_trusted_as_template
    else:  # ansible-core 2.16: every string is a template unless marked unsafe
        from ansible.utils.unsafe_proxy import AnsibleUnsafe

        def is_trusted_as_template(value):
            return not isinstance(value, AnsibleUnsafe)

    value = api_data({"name": "{{ lookup('pipe', 'id') }}", "slug": "shop", "n": 3, "none": None,
                      "nested": [{"branch": "feature/{x}"}, "main"]})
    assert value == {"name": "{{ lookup('pipe', 'id') }}", "slug": "shop", "n": 3, "none": None,
                     "nested": [{"branch": "feature/{x}"}, "main"]}
    assert not is_trusted_as_template(value["name"])
    assert not is_trusted_as_template(value["nested"][0]["branch"])
    assert is_trusted_as_template(value["slug"]) and is_trusted_as_template(value["nested"][1])
