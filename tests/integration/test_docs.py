"""Every plugin's documentation renders with ansible-doc, and the action group lists every module."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.divio.cloud.plugins.plugin_utils import backup_reports

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py"))
LOOKUPS = sorted(p.stem for p in (REPO / "plugins" / "lookup").glob("*.py"))


def test_action_group_lists_exactly_the_modules():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert sorted(runtime["action_groups"]["divio"]) == MODULES


@pytest.mark.parametrize("kind, name", [("module", m) for m in MODULES] + [("lookup", lk) for lk in LOOKUPS])
def test_ansible_doc_renders(ansible_env, kind, name):
    proc = subprocess.run(["ansible-doc", "-t", kind, "divio.cloud." + name], env=ansible_env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "divio.cloud." + name in proc.stdout
    assert "EXAMPLES" in proc.stdout and "[WARNING]" not in proc.stderr
    if kind == "module":
        assert "api_token" in proc.stdout and "RETURN VALUES" in proc.stdout


def test_readme_monitoring_names_the_metrics_the_playbook_writes():
    """README's metric table and alert rules use exactly the metric families backups.prom can hold."""
    written = set(backup_reports._HELP)
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("\n## Monitoring\n"):]
    section = section[:section.index("\n## ", 1)]
    assert set(re.findall(r"^\| `(divio_\w+)` \|", section, re.M)) == written
    [rules] = re.findall(r"```yaml\n# divio-backups.rules.yml\n(.*?)```", section, re.S)
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
