"""Galaxy-grade quality gates: the Ansible project's own checks, and the collection the way users get it.

- ``ansible-test sanity`` (every test that runs without containers, on the Python of the venv running this, the
  newest make found) and ``ansible-test units`` through ``hacking/ansible-test.sh``, with no
  ``tests/sanity/ignore-*.txt`` entries; ansible-test is the one of that venv (make test: ansible-core 2.21);
- ``ansible-lint`` with ``profile: production`` (``.ansible-lint``) on roles, playbooks, galaxy.yml, meta, changelogs;
- ``antsibull-docs lint-collection-docs`` and ``ansible-doc`` for the role's argument spec (the modules and the
  lookup: ``test_docs.py``);
- ``ansible-galaxy collection build``: no caches, venvs or reports in the tarball; installed into an empty path,
  its modules, lookup and playbooks run against the simulator;
- ``changelogs/`` (``antsibull-changelog lint``) and a ``CHANGELOG.md`` generated from it;
- the execution environment for AWX / AAP (``meta/execution-environment.yml``, ``docs/docsite/rst/awx.rst``):
  ``ansible-builder create`` makes a valid build context, and ansible-builder's introspection finds ``requests``.

The tools come from a tool venv that ``hacking/ansible-test.sh tools`` creates (``tools/`` in the venv running the
tests, from the package index, version ranges pinned there: the newest releases that Python gets). Tests marked
``quality`` need it or ansible-test (minutes cold, about one and a half warm); ``-m "not quality"`` leaves them out.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import jinja2
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "hacking" / "ansible-test.sh"
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
VERSION = GALAXY["version"]
TARBALL = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], VERSION)
ROLE_SPEC = REPO / "roles" / "backup_gate" / "meta" / "argument_specs.yml"
AWX_DOC = REPO / "docs" / "docsite" / "rst" / "awx.rst"

quality = pytest.mark.quality


def tool_env(**extra):
    """This environment without Ansible or Divio settings; this venv first on PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "DIVIO_"))}
    env.update(VENV=sys.prefix, NO_COLOR="1", PY_COLORS="0",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    env.update(extra)
    return env


def run(command, timeout, **kwargs):
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, check=False,
                          timeout=timeout, **kwargs)


def report(proc, keep=6000):
    """What a failed command said: its error lines first, then the end of its output."""
    output = proc.stdout + proc.stderr
    errors = [line for line in output.splitlines() if line.startswith(("ERROR", "FATAL"))]
    return "exit %d\n%s\n...\n%s" % (proc.returncode, "\n".join(errors), output[-keep:])


def doc_blocks(path):
    """The ``code-block`` blocks of a reStructuredText guide that start with a ``# <name>`` line, by name."""
    blocks = {}
    for body in re.findall(r"^\.\. code-block:: [\w+-]+\n\n((?:    .*\n|\n)+)", path.read_text(), flags=re.M):
        body = textwrap.dedent(body).strip("\n") + "\n"
        lines = body.split("\n", 1)
        if lines[0].startswith("# ") and len(lines) == 2:
            blocks[lines[0][2:].strip()] = lines[1]
    return blocks


@pytest.fixture(scope="session")
def tools_bin():
    """bin/ of the tool venv (ansible-lint, antsibull-docs, antsibull-changelog, ansible-builder)."""
    proc = run([SCRIPT, "tools"], timeout=1200, env=tool_env())
    assert proc.returncode == 0, report(proc)
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def built_collection(tmp_path_factory):
    """``ansible-galaxy collection build`` of the work tree: the tarball's path."""
    out = tmp_path_factory.mktemp("build")
    proc = run(["ansible-galaxy", "collection", "build", REPO, "--output-path", out], timeout=300,
               env=tool_env(ANSIBLE_HOME=str(out / "ansible-home")), cwd=str(out))
    assert proc.returncode == 0, report(proc)
    tarball = out / TARBALL
    assert tarball.is_file(), proc.stdout
    return tarball


@pytest.fixture(scope="session")
def installed_collection(built_collection, tmp_path_factory):
    """The tarball installed with ``ansible-galaxy collection install`` into an empty collections path."""
    root = tmp_path_factory.mktemp("installed")
    proc = run(["ansible-galaxy", "collection", "install", "--offline", "-p", root, built_collection], timeout=300,
               env=tool_env(ANSIBLE_HOME=str(root / ".ansible-home"), ANSIBLE_COLLECTIONS_PATH=str(root)),
               cwd=str(root))
    assert proc.returncode == 0, report(proc)
    assert (root / "ansible_collections" / "divio" / "cloud" / "MANIFEST.json").is_file()
    return root


# --- ansible-test ------------------------------------------------------------------------------------------


def test_no_sanity_ignore_entries():
    """Sanity passes without ignore files: any tests/sanity/ignore-*.txt there is must be empty."""
    entries = ["%s: %s" % (path.name, line) for path in sorted((REPO / "tests" / "sanity").glob("ignore-*.txt"))
               for line in path.read_text().splitlines() if line.strip()]
    assert entries == []


@quality
def test_ansible_test_sanity():
    """``ansible-test sanity --requirements --venv --python X.Y`` (this venv's ansible-test and Python) on a copy
    of the work tree."""
    proc = run([SCRIPT, "sanity"], timeout=1800, env=tool_env())
    assert proc.returncode == 0, report(proc)
    output = proc.stdout + proc.stderr
    assert 'Running sanity test "validate-modules"' in output
    # Every test ran: none left out for a missing tool, Python or virtual environment support.
    assert [line for line in output.splitlines() if "Skipping" in line] == []


@quality
def test_ansible_test_units(tmp_path):
    """``ansible-test units --requirements --venv --python X.Y``: tests/unit/ under ansible-test's harness
    (its collection loader and pytest configuration), with the requirements of tests/unit/requirements.txt.
    ansible-test's cache and venvs stay in the checkout: nothing lands in the user's home (pip's download cache
    aside, which is pointed at the usual one here)."""
    assert (REPO / "tests" / "unit" / "requirements.txt").is_file(), \
        "tests/unit/requirements.txt must list what the unit tests import besides pytest (responses)"
    home = tmp_path / "home"
    home.mkdir()
    pip_cache = os.environ.get("PIP_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "pip")
    proc = run([SCRIPT, "units"], timeout=1800, env=tool_env(HOME=str(home), PIP_CACHE_DIR=pip_cache))
    assert proc.returncode == 0, report(proc)
    assert re.search(r"\d+ passed", proc.stdout), proc.stdout[-3000:]
    assert sorted(p.name for p in home.iterdir()) == []


# --- ansible-lint, antsibull-docs, ansible-doc -------------------------------------------------------------


def work_tree_copy(dest):
    """The files a fresh clone has (tracked, and untracked ones git does not ignore), as they are now in the work
    tree: what a newcomer's checkout holds, without the caches and venvs of this one."""
    listed = run(["git", "-C", REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], timeout=60)
    assert listed.returncode == 0, report(listed)
    for name in sorted(set(listed.stdout.split("\0")) - {""}):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


@quality
def test_ansible_lint_production(tools_bin, tmp_path):
    """Plain ``ansible-lint`` in a clean checkout, with no Ansible or ansible-lint settings in the environment:
    it finds the collection's own modules and roles by itself (``.ansible-lint``: not offline)."""
    config = yaml.safe_load((REPO / ".ansible-lint").read_text())
    assert config["profile"] == "production" and config.get("offline") is not True
    assert not {"skip_list", "warn_list", "enable_list"} & set(config), "no rule is skipped or only warned"
    checkout = work_tree_copy(tmp_path / "checkout")
    proc = run([tools_bin / "ansible-lint"], timeout=600, cwd=str(checkout), env={
        "HOME": str(tmp_path / "home"), "PATH": str(tools_bin) + os.pathsep + "/usr/bin:/bin", "NO_COLOR": "1"})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "Profile 'production' was required, and it passed" in output, output[-3000:]


@quality
def test_antsibull_docs_lint(tools_bin, collections_path):
    """The docs as docs.ansible.com would build them: schema, markup and every reference."""
    proc = run([tools_bin / "antsibull-docs", "lint-collection-docs", "--plugin-docs",
                "--validate-collection-refs", "all", "--disallow-unknown-collection-refs", REPO],
               timeout=600, env=tool_env(PATH=str(tools_bin) + os.pathsep + os.environ.get("PATH", ""),
                                         ANSIBLE_COLLECTIONS_PATH=str(collections_path)))
    assert proc.returncode == 0 and not proc.stdout.strip(), report(proc)


def test_role_argument_spec_renders(ansible_env):
    # A missing spec is a failure, not a skip: without it the role's options go unchecked and undocumented.
    assert ROLE_SPEC.is_file(), "%s is missing: the backup_gate role must declare its options" % ROLE_SPEC.relative_to(REPO)
    proc = run(["ansible-doc", "-t", "role", "divio.cloud.backup_gate"], timeout=120, env=ansible_env)
    assert proc.returncode == 0, proc.stderr
    # ansible-core 2.21's ansible-doc -t role warns about its own internal collection (ansible._protomatter, in
    # ansible/_internal/, has no MANIFEST.json): Ansible's warning, not about this collection.
    warnings = [line for line in proc.stderr.splitlines()
                if line.startswith("[WARNING]") and "/ansible/_internal/ansible_collections/" not in line]
    assert warnings == [], proc.stderr
    spec = yaml.safe_load(ROLE_SPEC.read_text())["argument_specs"]
    assert "main" in spec
    for entry_point, body in spec.items():
        assert re.search(r"ENTRY POINT: \W*%s\b" % entry_point, proc.stdout), proc.stdout
        for option in body.get("options") or {}:
            assert option in proc.stdout


# --- the collection as users get it ------------------------------------------------------------------------

# Never in the tarball (relative paths, matched against every path component or the whole path).
FORBIDDEN = re.compile(r"(^|/)(\.venv[^/]*|__pycache__|\.pytest_cache|\.ansible|\.git|\.benchmarks|\.mypy_cache"
                       r"|\.ruff_cache|\.tox|\.coverage|htmlcov)(/|$)"
                       r"|^(collections|reports|tests/output|\.ci)(/|$)|\.py[co]$|\.tar\.gz$|(^|/)\.")
REQUIRED = ["MANIFEST.json", "FILES.json", "README.md", "LICENSE", "CHANGELOG.md", "changelogs/changelog.yaml",
            "meta/runtime.yml", "meta/execution-environment.yml", "requirements.txt",
            "plugins/modules/backup_info.py", "plugins/lookup/divio.py", "playbooks/check_backups.yml",
            "playbooks/inventory/localhost.yml", "tests/simulator/simulator.py", "hacking/with-simulator.sh",
            "tests/config.yml", "tests/unit/requirements.txt"]
# galaxy.yml's build_ignore, decided: what a user runs or reads, plus what ansible-test needs in an installed
# collection. A new top-level entry, or anything new under tests/ or hacking/, needs a decision there first.
TOP_LEVEL = {"MANIFEST.json", "FILES.json", "README.md", "LICENSE", "CHANGELOG.md", "requirements.txt", "changelogs",
             "docs", "hacking", "meta", "playbooks", "plugins", "roles", "tests"}
SHIPPED_TESTS = re.compile(r"^tests/(simulator/|unit/|config\.yml$)")
SHIPPED_HACKING = {"hacking/with-simulator.sh"}


def tarball_files(tarball):
    with tarfile.open(tarball) as tar:
        return {member.name: member for member in tar.getmembers() if not member.isdir()}


def test_build_keeps_dev_files_out(built_collection):
    files = tarball_files(built_collection)
    names = sorted(files)
    assert [name for name in names if FORBIDDEN.search(name)] == []
    assert [name for name in REQUIRED if name not in names] == []
    assert {name.split("/")[0] for name in names} == TOP_LEVEL
    assert [name for name in names if name.startswith("tests/") and not SHIPPED_TESTS.match(name)] == []
    assert {name for name in names if name.startswith("hacking/")} == SHIPPED_HACKING
    assert files["hacking/with-simulator.sh"].mode & 0o111, "the wrapper stays executable"
    assert [name for name in names if name.startswith("changelogs/")] == [
        "changelogs/changelog.yaml", "changelogs/config.yaml"]
    # Nothing that git ignores: every file is tracked or untracked-but-not-ignored.
    listed = run(["git", "-C", REPO, "ls-files", "--cached", "--others", "--exclude-standard"], timeout=60)
    if listed.returncode == 0:
        known = set(listed.stdout.splitlines())
        assert sorted(set(names) - known - {"MANIFEST.json", "FILES.json"}) == []
    assert built_collection.stat().st_size < 1_000_000


def test_installed_simulator_serves_users_ci(installed_collection, tmp_path):
    """README offers the simulator for users' own CI: from the installed collection, the wrapper starts it and the
    command gets DIVIO_API_URL and DIVIO_API_TOKEN that answer (no .venv there: the Python on PATH runs it)."""
    root = installed_collection / "ansible_collections" / "divio" / "cloud"
    probe = ("import json, os, urllib.request; request = urllib.request.Request(os.environ['DIVIO_API_URL'] + "
             "'/apps/v3/applications/', headers={'Authorization': 'Token ' + os.environ['DIVIO_API_TOKEN']}); "
             "print(json.load(urllib.request.urlopen(request, timeout=30))['count'])")
    proc = run([root / "hacking" / "with-simulator.sh", "python3", "-c", probe], timeout=120, cwd=str(tmp_path),
               env={"HOME": str(tmp_path), "SIMULATOR_ARGS": "--size tiny",
                    "PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin"})
    assert proc.returncode == 0, report(proc)
    assert int(proc.stdout.strip().splitlines()[-1]) > 0
    assert "Divio API simulator running at http://127.0.0.1:" in proc.stderr


def test_installed_collection_runs_against_simulator(installed_collection, run_playbook, ansible_env, sim_env,
                                                     dataset, tmp_path):
    """A playbook using divio.cloud.* from the installed tarball, and nothing else, against the simulator."""
    env = dict(sim_env, ANSIBLE_COLLECTIONS_PATH=str(installed_collection), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    listing = run(["ansible-galaxy", "collection", "list", "divio.cloud", "--format", "json"], timeout=120,
                  env=dict(ansible_env, **env), cwd=str(tmp_path))
    assert listing.returncode == 0, report(listing)
    assert json.loads(listing.stdout) == {str(installed_collection / "ansible_collections"):
                                          {"divio.cloud": {"version": VERSION}}}
    run_ = run_playbook("""
    - hosts: localhost
      gather_facts: false
      tasks:
        - divio.cloud.application_info:
          register: apps
        - ansible.builtin.copy:
            dest: "{{ result_file }}"
            mode: "0600"
            content: >-
              {{ {'module': apps.applications | map(attribute='slug') | sort,
                  'lookup': query('divio.cloud.divio', 'applications') | map(attribute='slug') | sort} | to_json }}
    """, env=env)
    assert run_.rc == 0, run_
    slugs = sorted(app["slug"] for app in dataset.applications)
    assert run_.result == {"module": slugs, "lookup": slugs}


# --- AWX / AAP ---------------------------------------------------------------------------------------------


def test_awx_credential_type_injects_what_the_collection_reads():
    blocks = doc_blocks(AWX_DOC)
    inputs = yaml.safe_load(blocks["Input configuration"])
    injectors = yaml.safe_load(blocks["Injector configuration"])
    fields = {field["id"]: field for field in inputs["fields"]}
    assert inputs["required"] == ["api_token"] and fields["api_token"]["secret"] is True
    assert set(injectors) == {"env"}
    assert set(injectors["env"]) == {"DIVIO_API_TOKEN", "DIVIO_ZONE", "DIVIO_API_URL"}
    fragment = (REPO / "plugins" / "doc_fragments" / "connection.py").read_text()
    for name, template in injectors["env"].items():
        assert name in fragment, "%s is not an environment variable the collection documents" % name
        assert set(re.findall(r"{{\s*(\w+)\s*}}", template)) <= set(fields)


def awx_job_env(api_token, **inputs):
    """The environment AWX gives a job with a credential of the documented type (empty fields included)."""
    injectors = yaml.safe_load(doc_blocks(AWX_DOC)["Injector configuration"])
    values = dict({field: "" for field in ("zone", "api_url")}, api_token=api_token, **inputs)
    return {name: jinja2.Template(template).render(**values) for name, template in injectors["env"].items()}


def test_awx_project_playbook_from_installed_collection(installed_collection, run_playbook, sim_env, tmp_path):
    """the AWX guide's project playbook, the installed collection and the credential's environment, as an AWX job
    would run them (no zone given: the injector sets DIVIO_ZONE to an empty string)."""
    playbook = tmp_path / "project" / "playbooks" / "divio_backups.yml"
    playbook.parent.mkdir(parents=True)
    playbook.write_text(doc_blocks(AWX_DOC)["playbooks/divio_backups.yml"])
    env = dict(awx_job_env(sim_env["DIVIO_API_TOKEN"], api_url=sim_env["DIVIO_API_URL"]), ANSIBLE_COLLECTIONS_PATH=str(installed_collection),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    assert env["DIVIO_ZONE"] == ""
    reports = tmp_path / "reports"
    run_ = run_playbook(None, playbook_path=playbook, env=env,
                        extra_vars={"environments": ["live"], "report_only": True, "report_dir": str(reports)})
    assert run_.rc == 0, run_
    records = json.loads((reports / "backups.json").read_text())
    assert records, "the report lists the live environments"


@quality
def test_execution_environment_build_context(tools_bin, built_collection, installed_collection, tmp_path):
    """the AWX guide's EE definition: ``ansible-builder create`` makes a build context (no container engine needed),
    and ansible-builder's introspection of the installed collection finds its Python requirements."""
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "meta/bindep.txt"}
    blocks = doc_blocks(AWX_DOC)
    definition = yaml.safe_load(blocks["execution-environment.yml"])
    assert definition["version"] == 3
    assert [entry["src"] for entry in definition["additional_build_files"]] == [TARBALL], \
        "the AWX guide (docs/docsite/rst/awx.rst) must name the current tarball (galaxy.yml version %s)" % VERSION
    (tmp_path / "execution-environment.yml").write_text(blocks["execution-environment.yml"])
    (tmp_path / "requirements.yml").write_text(blocks["requirements.yml"])
    shutil.copy(built_collection, tmp_path / TARBALL)

    proc = run([tools_bin / "ansible-builder", "create", "--file", "execution-environment.yml", "--context", "context",
                "--output-filename", "Containerfile"], timeout=300, cwd=str(tmp_path), env=tool_env())
    assert proc.returncode == 0, report(proc)
    context = tmp_path / "context"
    containerfile = (context / "Containerfile").read_text()
    assert definition["images"]["base_image"]["name"] in containerfile
    assert "ansible-galaxy collection install" in containerfile and "introspect" in containerfile
    assert definition["dependencies"]["ansible_core"]["package_pip"] in containerfile
    assert yaml.safe_load((context / "_build" / "requirements.yml").read_text()) == \
        yaml.safe_load(blocks["requirements.yml"])
    assert (context / "_build" / "collections" / TARBALL).is_file()

    # What the image's builder stage runs on /usr/share/ansible/collections, here on the installed tarball.
    pip_file, bindep_file = tmp_path / "pip.txt", tmp_path / "bindep.txt"
    proc = run([tools_bin / "python", context / "_build" / "scripts" / "introspect.py", "introspect", "--sanitize",
                "--write-pip", pip_file, "--write-bindep", bindep_file, installed_collection], timeout=120, env=tool_env())
    assert proc.returncode == 0, report(proc)
    requirements = [line for line in (REPO / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    written = pip_file.read_text()
    for requirement in requirements:
        assert requirement.split("#")[0].strip() in written, written
    # backup_download's verify: read / restore: the PostgreSQL client and server from meta/bindep.txt.
    assert "postgresql-client" in bindep_file.read_text(), bindep_file.read_text()


# --- changelog ---------------------------------------------------------------------------------------------


@quality
def test_antsibull_changelog_lint(tools_bin):
    """The newest antsibull-changelog (the tool venv's; sanity's changelog test pins an older one) on the fragments
    and on changelogs/changelog.yaml."""
    env = tool_env(PATH=str(tools_bin) + os.pathsep + os.environ.get("PATH", ""))
    for command in (["lint"], ["lint-changelog-yaml", "changelogs/changelog.yaml"]):
        proc = run([tools_bin / "antsibull-changelog"] + command, timeout=300, cwd=str(REPO), env=env)
        assert proc.returncode == 0 and not proc.stdout.strip(), report(proc)


@quality
def test_changelog_is_generated_and_current(tools_bin, tmp_path):
    """changelogs/changelog.yaml has the galaxy.yml version (or fragments for it), and CHANGELOG.md is what
    ``antsibull-changelog generate`` makes of it (fragments are checked by sanity's ``changelog`` test)."""
    changes = yaml.safe_load((REPO / "changelogs" / "changelog.yaml").read_text())
    fragments = list((REPO / "changelogs" / "fragments").glob("*.y*ml"))
    assert VERSION in changes["releases"] or fragments, \
        "galaxy.yml's version %s has no release in changelogs/changelog.yaml and there are no fragments" % VERSION

    release = changes["releases"].get(VERSION)
    if release is not None:
        # Everything new in this version is in its release entry (new content after the entry was made is not
        # added by itself): modules and plugins by version_added; for the first release every role and playbook.
        refresh = ("run: PATH=\"$(hacking/ansible-test.sh tools):$PATH\" ANSIBLE_COLLECTIONS_PATH=.venv/collections "
                   "antsibull-changelog release --version %s --update-existing --reload-plugins" % VERSION)
        listed = {"module": {entry["name"] for entry in release.get("modules", [])}}
        listed.update({kind: {entry["name"] for entry in entries}
                       for kind, entries in (release.get("plugins") or {}).items()})
        added = re.compile(r"^version_added:\s*['\"]?%s['\"]?\s*$" % re.escape(VERSION), re.M)
        for kind, folder in (("module", "modules"), ("lookup", "lookup")):
            new = {path.stem for path in (REPO / "plugins" / folder).glob("*.py") if added.search(path.read_text())}
            assert new <= listed.get(kind, set()), "%s %s missing in changelogs/changelog.yaml; %s" % (
                kind, sorted(new - listed.get(kind, set())), refresh)
        if list(changes["releases"]) == [VERSION]:
            objects = release.get("objects") or {}
            for kind, found in (("role", {p.name for p in (REPO / "roles").iterdir() if p.is_dir()}),
                                ("playbook", {p.stem for p in (REPO / "playbooks").glob("*.yml")})):
                names = {entry["name"] for entry in objects.get(kind) or []}
                assert found <= names, "%s %s missing in the first release (an 'add object.%s' fragment, then %s)" % (
                    kind, sorted(found - names), kind, refresh)

    copy = tmp_path / "collection"
    shutil.copytree(REPO / "changelogs", copy / "changelogs")
    for name in ("galaxy.yml", "CHANGELOG.md"):
        shutil.copy(REPO / name, copy / name)
    proc = run([tools_bin / "antsibull-changelog", "generate"], timeout=300, cwd=str(copy),
               env=tool_env(PATH=str(tools_bin) + os.pathsep + os.environ.get("PATH", "")))
    assert proc.returncode == 0, report(proc)
    assert (copy / "CHANGELOG.md").read_text() == (REPO / "CHANGELOG.md").read_text(), textwrap.dedent("""\
        CHANGELOG.md is not what changelogs/changelog.yaml generates: run
        PATH="$(hacking/ansible-test.sh tools):$PATH" antsibull-changelog generate""")
