"""The option table is the one source of the connection options: the module argument spec, the plugins'
option sources and the ``connection`` doc fragment (a static string, as ansible-test wants) must agree with it.
``min_retention`` is described once, in its fragment, wherever it applies unconditionally."""

import importlib
from pathlib import Path

import pytest
import yaml
from ansible.plugins.loader import fragment_loader
from ansible.utils.plugin_docs import get_docstring

from ansible_collections.divio.cloud.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.divio.cloud.plugins.doc_fragments.min_retention import ModuleDocFragment as MinRetentionFragment
from ansible_collections.divio.cloud.plugins.module_utils.backups import DEFAULT_MIN_RETENTION
from ansible_collections.divio.cloud.plugins.module_utils.connection import (
    CONNECTION_ARGUMENT_SPEC,
    CONNECTION_OPTION_NAMES,
    CONNECTION_OPTIONS,
)

DOCUMENTED = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
PLUGIN_SOURCES = yaml.safe_load(ModuleDocFragment.PLUGINS)["options"]
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


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


# -- min_retention: one description, in the divio.cloud.min_retention fragment ----------------

MIN_RETENTION = yaml.safe_load(MinRetentionFragment.DOCUMENTATION)["options"]["min_retention"]
# Where min_retention always applies, the fragment describes it; the plugins below apply it only with another
# option and say so in their own description (the inventory also that it is an error without it).
MIN_RETENTION_MODULES = {"backup_info": "BackupInfo", "backup_check": "BackupCheck"}
MIN_RETENTION_ONLY_WITH = {"modules/backup.py": "O(only_if_older_than)", "lookup/divio.py": "V(latest_backup)",
                           "inventory/divio.py": "O(latest_backup)", "modules/backup_download.py": "O(backup=latest)",
                           "modules/backup_restore.py": "O(backup=latest)", "modules/backup_copy.py": "O(backup=latest)"}


@pytest.mark.parametrize("name", sorted(MIN_RETENTION_MODULES))
def test_min_retention_is_documented_by_its_fragment_and_agrees_with_the_argument_spec(name):
    module = importlib.import_module("ansible_collections.divio.cloud.plugins.modules." + name)
    own = yaml.safe_load(module.DOCUMENTATION)
    assert "min_retention" not in own["options"]
    assert "divio.cloud.min_retention" in own["extends_documentation_fragment"]
    # As ansible-doc and validate-modules read it: the module's docs with its fragments merged in.
    rendered = get_docstring(module.__file__, fragment_loader, collection_name="divio.cloud", is_module=True)[0]
    assert rendered["options"]["min_retention"] == MIN_RETENTION
    spec = getattr(module, MIN_RETENTION_MODULES[name]).argument_spec["min_retention"]
    assert spec == {"type": MIN_RETENTION["type"], "default": MIN_RETENTION["default"]}
    assert MIN_RETENTION["default"] == DEFAULT_MIN_RETENTION


def test_min_retention_is_described_by_the_plugin_only_where_it_depends_on_another_option():
    own = {}
    for path in sorted(PLUGINS.glob("*/*.py")):
        options = (yaml.safe_load(getattr(importlib.import_module(
            "ansible_collections.divio.cloud.plugins.%s.%s" % (path.parent.name, path.stem)), "DOCUMENTATION", "")
            or "{}") or {}).get("options") or {}
        if "min_retention" in options:
            own["%s/%s" % (path.parent.name, path.name)] = " ".join(options["min_retention"]["description"])
    assert sorted(own) == sorted(MIN_RETENTION_ONLY_WITH)
    for path, description in own.items():
        assert MIN_RETENTION_ONLY_WITH[path] in description, path
