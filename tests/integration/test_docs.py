"""Every plugin's documentation renders with ansible-doc, and the action group lists every module."""

import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from ansible_collections.divio.cloud.plugins.plugin_utils import backup_reports

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py"))
LOOKUPS = sorted(p.stem for p in (REPO / "plugins" / "lookup").glob("*.py"))
# The modules that talk to the API take the connection options; the others (gate_outcome, backup_gate_variables)
# are controller-side decisions of the playbooks and the role.
API_MODULES = sorted(m for m in MODULES if "divio.cloud.connection" in (REPO / "plugins" / "modules" / (m + ".py")).read_text())


def test_action_group_lists_exactly_the_modules_that_talk_to_the_api():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert sorted(runtime["action_groups"]["divio"]) == API_MODULES
    assert sorted(set(MODULES) - set(API_MODULES)) == ["backup_gate_variables", "gate_outcome", "refresh_outcome"]


@pytest.mark.parametrize("kind, name", [("module", m) for m in MODULES] + [("lookup", lk) for lk in LOOKUPS])
def test_ansible_doc_renders(ansible_env, kind, name):
    proc = subprocess.run(["ansible-doc", "-t", kind, "divio.cloud." + name], env=ansible_env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "divio.cloud." + name in proc.stdout
    assert "EXAMPLES" in proc.stdout and "[WARNING]" not in proc.stderr
    if kind == "module":
        assert "RETURN VALUES" in proc.stdout
        assert ("api_token" in proc.stdout) == (name in API_MODULES)


def test_readme_monitoring_names_the_metrics_the_playbook_writes():
    """The monitoring guide's metric table and alert rules use exactly the metric families backups.prom can hold."""
    written = set(backup_reports._HELP)
    guide = (REPO / "docs" / "docsite" / "rst" / "monitoring.rst").read_text()
    section = guide[guide.index("\nMonitoring\n----------\n"):]
    assert set(re.findall(r"^   \* - ``(divio_\w+)``$", section, re.M)) == written
    [rules] = re.findall(r"\.\. code-block:: yaml\n\n    # divio-backups.rules.yml\n((?:    .*\n|\n)+)", section)
    rules = textwrap.dedent(rules)
    exprs = [rule["expr"] for group in yaml.safe_load(rules)["groups"] for rule in group["rules"]]
    used = {name for expr in exprs for name in re.findall(r"\bdivio_\w+", expr)}
    assert used and used <= written


def test_readme_lists_every_playbook_role_and_plugin():
    """README's "What's inside" table names every playbook, role, module and plugin by its FQCN."""
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## What's inside"):]
    table = table[:table.index("\n## ", 1)]
    listed = set(re.findall(r"^\| `divio\.cloud\.(\w+)` \|", table, re.M))
    names = {p.stem for p in (REPO / "playbooks").glob("*.yml")} | {p.name for p in (REPO / "roles").iterdir()}
    names |= {p.stem for kind in ("modules", "lookup", "inventory") for p in (REPO / "plugins" / kind).glob("*.py")}
    assert sorted(names - listed) == []


GUIDES = REPO / "docs" / "docsite"


def test_readme_is_an_entry_page_that_links_every_guide():
    """At most 200 lines, the two commands on the first screen; the guides are antsibull-docs extra docs (listed in
    extra-docs.yml, each with its docsite label) and README links every one."""
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    first_screen = "\n".join(readme.splitlines()[:25])
    assert "make demo" in first_screen and "make test" in first_screen
    [section] = yaml.safe_load((GUIDES / "extra-docs.yml").read_text())["sections"]
    listed = section["toctree"]
    assert sorted(listed) == sorted(p.stem for p in (GUIDES / "rst").glob("*.rst"))
    for name in listed:
        text = (GUIDES / "rst" / ("%s.rst" % name)).read_text()
        assert text.startswith(".. _ansible_collections.divio.cloud.docsite.%s:\n" % name), name
        assert "(docs/docsite/rst/%s.rst)" % name in readme, name


def test_python_versions_agree():
    """ansible-test's python_requires for the modules, make's minimum for the controller, and what README says."""
    config = yaml.safe_load((REPO / "tests" / "config.yml").read_text())
    modules = config["modules"]["python_requires"]
    assert modules == ">=3.9"
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "need Python 3.9 or newer and `requests` there" in readme
    assert "MINIMUM = (3, 10)" in (REPO / "hacking" / "check-python.py").read_text()
    assert "Python 3.10 or newer on the controller" in readme


def test_lookup_docs_say_how_an_application_is_found(ansible_env):
    """Slug first, then id - never by the id's shape (resources.application)."""
    proc = subprocess.run(["ansible-doc", "-t", "lookup", "--json", "divio.cloud.divio"], env=ansible_env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)["divio.cloud.divio"]["doc"]
    text = " ".join(doc["options"]["application"]["description"])
    assert "shape" not in text.replace("never judged by their shape", "")
    assert "as a slug first" in text and "by id only when no application has that slug" in text
