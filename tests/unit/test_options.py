"""The option table is the one source of the connection options: the module argument spec, the plugins'
option sources and the ``connection`` doc fragment (a static string, as ansible-test wants) must agree with it."""

import pytest
import yaml

from ansible_collections.divio.cloud.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.divio.cloud.plugins.module_utils.connection import (
    CONNECTION_ARGUMENT_SPEC,
    CONNECTION_OPTION_NAMES,
    CONNECTION_OPTIONS,
)

DOCUMENTED = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
PLUGIN_SOURCES = yaml.safe_load(ModuleDocFragment.PLUGINS)["options"]


def _doc_value(value):
    """How the docs write a default: V(true), V(30), V(divio.com), V(33554432)."""
    if isinstance(value, bool):
        return "V(%s)" % str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return "V(%d)" % value
    return "V(%s)" % value


def test_the_fragment_documents_exactly_the_table():
    assert list(DOCUMENTED) == list(CONNECTION_OPTION_NAMES)


def test_the_plugin_sources_cover_exactly_the_table():
    assert list(PLUGIN_SOURCES) == list(CONNECTION_OPTION_NAMES)


@pytest.mark.parametrize("option", CONNECTION_OPTIONS, ids=lambda option: option.name)
def test_documented_type_and_default_agree_with_the_table(option):
    doc = DOCUMENTED[option.name]
    assert doc["type"] == option.type
    # Defaults are applied after the environment variable, so no default: key (Ansible would apply it first
    # and the environment variable would never be read) - the description states it instead.
    assert "default" not in doc
    text = " ".join(doc["description"])
    assert "E(%s)" % option.env in text, "the description must name the environment variable"
    if option.default is not None:
        assert "then %s" % _doc_value(option.default) in text, \
            "the description must state the default %s" % _doc_value(option.default)


@pytest.mark.parametrize("option", CONNECTION_OPTIONS, ids=lambda option: option.name)
def test_plugin_sources_agree_with_the_table(option):
    assert PLUGIN_SOURCES[option.name] == {
        "env": [{"name": option.env}],
        "ini": [{"section": "divio", "key": option.ini_key}],
        "vars": [{"name": option.variable}],
    }


@pytest.mark.parametrize("option", CONNECTION_OPTIONS, ids=lambda option: option.name)
def test_argument_spec_comes_from_the_table(option):
    spec = CONNECTION_ARGUMENT_SPEC[option.name]
    assert spec["type"] == option.type
    assert "default" not in spec  # else the module could never fall back to the environment variable
    assert spec.get("no_log", False) is option.no_log


def test_only_the_token_is_secret_and_the_token_is():
    assert [option.name for option in CONNECTION_OPTIONS if option.no_log] == ["api_token"]
    assert CONNECTION_ARGUMENT_SPEC["api_token"]["no_log"] is True


def test_sources_follow_one_naming_rule():
    for option in CONNECTION_OPTIONS:
        assert (option.env, option.variable, option.ini_key) == (
            "DIVIO_" + option.name.upper(), "divio_" + option.name, option.name)
