"""The divio.cloud.divio inventory plugin, run for real by ansible-inventory and ansible-playbook against the
simulator: hosts, groups and variables against the data set, latest_backup against backup_check's own records,
constructed features, the cache, a forked per-host play, bad input, token safety and request counts."""

import json
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import datetime

import pytest
import yaml

from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.resources import fleet

from divio_simulator import generate_dataset, run_simulator
from testlib import ANSIBLE_CORE, TOKEN

SOURCE = "plugin: divio.cloud.divio\n"
BACKUPS = SOURCE + "latest_backup: true\n"
STATUS_GROUPS = ("divio_backup_fresh", "divio_backup_stale", "divio_backup_missing", "divio_backup_error",
                 "divio_backup_unverified")
WRONG_TOKEN = "wrong-Tok3n-INVENTORY-4d5e6f"


def plain(value):
    """``--list`` output with ansible-inventory's ``{"__ansible_unsafe": text}`` markers (values that are never
    templated: all the API data) replaced by the text."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return dict((key, plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


class InventoryRun:
    def __init__(self, proc, source):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.output = proc.stdout + proc.stderr
        # ansible-core 2.16 wraps warnings at 79 columns (where a failed source's reason is shown), so
        # messages are matched with whitespace runs made one space, and secrets with whitespace removed.
        self.text = " ".join(self.output.split())
        self.squeezed = "".join(self.output.split())
        self.source = source

    @property
    def data(self):
        return json.loads(self.stdout)

    @property
    def hostvars(self):
        return plain(self.data["_meta"]["hostvars"])

    def group(self, name):
        """Hosts of a group in ``--list`` output (a group without hosts may be left out of it)."""
        return set(self.data.get(name, {}).get("hosts", []))

    def __repr__(self):
        return "InventoryRun(rc=%d)\n%s" % (self.rc, self.output[-4000:])


@pytest.fixture
def divio_env(ansible_env, sim):
    """ansible_env pointed at the session simulator; an inventory source that fails is an error."""
    return dict(ansible_env, DIVIO_API_URL=sim.url, DIVIO_API_TOKEN=TOKEN, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")


@pytest.fixture
def inventory(divio_env, tmp_path):
    """``inventory(source_yaml, *args, env={}, name=...)`` runs ``ansible-inventory -i <source> --list`` (or args)."""

    def run(source, *args, env=None, name="fleet.divio.yml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        proc = subprocess.run(["ansible-inventory", "-i", str(path)] + list(args or ["--list"]),
                              env=dict(divio_env, **(env or {})), capture_output=True, text=True, timeout=300,
                              cwd=str(tmp_path), check=False)
        return InventoryRun(proc, path)

    return run


@pytest.fixture
def client(sim):
    with DivioClient.from_options({"api_url": sim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


def expected_hosts(dataset, applications=None, environments=None):
    """host name -> (application, environment) straight from the data set."""
    apps = dict((app["uuid"], app) for app in dataset.applications)
    hosts = {}
    for env in dataset.environments:
        app = apps[env["application"]]
        if applications is not None and app["slug"] not in applications:
            continue
        if environments is not None and env["slug"] not in environments:
            continue
        hosts["%s.%s" % (app["slug"], env["slug"])] = (app, env)
    return hosts


def group_part(slug):
    return "".join(c if c.isalnum() or c == "_" else "_" for c in slug)


# -- hosts, groups, variables ------------------------------------------------------------------

def test_every_environment_is_a_host(inventory, sim, dataset):
    run = inventory(SOURCE)
    assert run.rc == 0, run
    expected = expected_hosts(dataset)
    assert set(run.hostvars) == set(expected)
    for name, (app, env) in expected.items():
        hostvars = run.hostvars[name]
        assert hostvars["ansible_connection"] == "local"
        assert hostvars["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
        assert hostvars["divio_application"] == dict((key, app[key]) for key in ("uuid", "slug", "name", "organisation"))
        assert hostvars["divio_environment"] == env
        assert datetime.strptime(hostvars["divio_read_at"], "%Y-%m-%dT%H:%M:%SZ")
        assert "divio_backup" not in hostvars
    assert run.group("divio") == set(expected)
    for app in dataset.applications:
        assert run.group("divio_app_" + group_part(app["slug"])) == {n for n, (a, e) in expected.items() if a is app}
    for slug in set(env["slug"] for env in dataset.environments):
        assert run.group("divio_env_" + group_part(slug)) == {n for n, (a, e) in expected.items() if e["slug"] == slug}
    assert not [group for group in run.data if group.startswith("divio_backup_")]
    # Without latest_backup only applications and environments are read.
    assert set(sim.stats()["by_path"]) == {"/apps/v3/applications/", "/apps/v3/environments/"}


def test_graph(inventory, dataset):
    run = inventory(SOURCE, "--graph")
    assert run.rc == 0, run
    lines = [line.strip(" |-") for line in run.stdout.splitlines()]
    app = dataset.applications[0]["slug"]
    for group in ("@all:", "@divio:", "@divio_app_%s:" % group_part(app), "@divio_env_live:"):
        assert group in lines, run.stdout
    assert "%s.live" % app in lines


def test_as_an_awx_inventory_update_runs_it(inventory):
    """AWX and AAP run ``ansible-inventory --list`` with --export semantics (ANSIBLE_INVENTORY_EXPORT) and
    ANSIBLE_VERBOSE_TO_STDERR: the same hosts, variables and groups come out, and stdout stays JSON at -vvv."""
    plain_run = inventory(SOURCE)
    awx_run = inventory(SOURCE, "--list", "-vvv", env={"ANSIBLE_INVENTORY_EXPORT": "True", "ANSIBLE_VERBOSE_TO_STDERR": "True"})
    assert plain_run.rc == 0 and awx_run.rc == 0, awx_run
    for run in (plain_run, awx_run):
        hostvars = run.hostvars
        for host in hostvars.values():
            # What moves between two reads: the time, and the simulator's deployments finishing.
            host.pop("divio_read_at")
            host["divio_environment"].pop("last_finished_deployment")
        run.compared = hostvars
    assert awx_run.compared == plain_run.compared
    assert set(awx_run.data) == set(plain_run.data)
    for group in set(plain_run.data) - {"_meta"}:
        assert awx_run.group(group) == plain_run.group(group)


@pytest.mark.parametrize("honoured", [True, False], ids=["filter-honoured", "filter-ignored"])
def test_latest_backup_groups_and_records_are_backup_checks(inventory, sim, dataset, client, honoured):
    sim.configure(honour_backup_environment_filter=honoured)
    run = inventory(BACKUPS + "services: [DATABASE, STORAGE]\nmax_age: 36h\n")
    assert run.rc == 0, run
    records, _unused = check_backups(client, services=["DATABASE", "STORAGE"], max_age="36h")
    assert len(records) == len(run.hostvars) == len(dataset.environments)
    for expected in records:
        name = "%s.%s" % (expected["application_slug"], expected["environment_slug"])
        got = run.hostvars[name]["divio_backup"]
        # The same record; only the ages moved on by the seconds between the two reads.
        assert set(got) == set(expected)
        for key in set(expected) - {"age_seconds", "services", "problems"}:
            assert got[key] == expected[key], (name, key)
        assert [s["uuid"] for s in got["services"]] == [s["uuid"] for s in expected["services"]]
        assert name in run.group("divio_backup_" + expected["status"])
    statuses = set(r["status"] for r in records)
    assert len(statuses) > 1, "the data set should show more than one backup status"
    for status in ("fresh", "stale", "missing", "error"):
        assert run.group("divio_backup_" + status) == set(
            n for n, v in run.hostvars.items() if v["divio_backup"]["status"] == status)


def test_backup_groups_exist_even_when_empty(inventory):
    run = inventory(BACKUPS + "max_age: 1000d\nmin_retention: 0\n", "--graph")
    assert run.rc == 0, run
    for group in STATUS_GROUPS:
        assert "@%s:" % group in run.stdout
    assert run.stdout.count("@divio_backup_stale:\n") == 1


def test_environments_whose_backups_cannot_be_read_are_hosts_in_the_error_group(inventory, sim, dataset):
    sim.configure(faults={"rate": 1.0, "kinds": ["500"], "only_paths": ["/apps/v3/backups/"]})
    try:
        run = inventory(BACKUPS)
    finally:
        sim.configure(faults=None)
    assert run.rc == 0, run
    assert set(run.hostvars) == set(expected_hosts(dataset))
    assert run.group("divio_backup_error") == set(run.hostvars)
    for hostvars in run.hostvars.values():
        assert "500" in hostvars["divio_backup"]["error"]


@pytest.mark.parametrize("source", [SOURCE, BACKUPS], ids=["fleet", "latest_backup"])
def test_an_application_that_cannot_be_read_fails_the_source(inventory, sim, dataset, source):
    """Its environments cannot be listed: an inventory without them would look complete."""
    app = dataset.applications[0]["slug"]
    sim.configure(fail_applications=[app])
    try:
        run = inventory(source + "applications: [%s, %s]\n" % (app, dataset.applications[1]["slug"]))
    finally:
        sim.configure(fail_applications=[])
    assert run.rc != 0, run
    assert "application %r" % app in run.output and "no inventory was built" in run.output, run


# -- filters -----------------------------------------------------------------------------------

def test_applications_and_environments(inventory, dataset):
    apps = [dataset.applications[0]["slug"], dataset.applications[1]["uuid"]]
    run = inventory(SOURCE + "applications: %s\nenvironments: [live, stage]\n" % json.dumps(apps))
    assert run.rc == 0, run
    wanted = [dataset.applications[0]["slug"], dataset.applications[1]["slug"]]
    assert set(run.hostvars) == set(expected_hosts(dataset, applications=wanted, environments=["live"]))
    assert run.group("divio_env_test") == set()


def test_organisation(inventory, dataset):
    org = dataset.applications[0]["organisation"]
    run = inventory(SOURCE + "organisation: %s\n" % org)
    assert run.rc == 0, run
    slugs = [app["slug"] for app in dataset.applications if app["organisation"] == org]
    assert 0 < len(slugs) < len(dataset.applications)
    assert set(run.hostvars) == set(expected_hosts(dataset, applications=slugs))


@pytest.mark.parametrize("source, message", [
    (SOURCE + "applications: [no-such-app]\n", "application 'no-such-app' not found"),
    (SOURCE + "max_age: 2d\n", "max_age applies only with latest_backup: true"),
    (BACKUPS + "max_age: soon\n", "max_age 'soon' is not valid"),
    (BACKUPS + "services: [MEDIA]\n", "'MEDIA' is not a known service type"),
    (SOURCE + "latest_backup: maybe\n", "latest_backup"),
])
def test_bad_input_fails_the_source_with_a_clear_message(inventory, sim, source, message):
    run = inventory(source)
    assert run.rc != 0, run
    assert message in run.text, run
    assert "Traceback" not in run.output
    if "not found" not in message:
        assert sim.stats()["requests"] == 0


def test_no_token_and_a_wrong_token(inventory, sim):
    run = inventory(SOURCE, env={"DIVIO_API_TOKEN": ""})
    assert run.rc != 0 and "no API token" in run.text, run
    run = inventory(SOURCE, env={"DIVIO_API_TOKEN": WRONG_TOKEN})
    assert run.rc != 0, run
    assert "401" in run.text or "rejected" in run.text.lower(), run
    assert WRONG_TOKEN not in run.squeezed


# -- constructed features ----------------------------------------------------------------------

CONSTRUCTED = BACKUPS + """
compose:
  divio_branch: divio_environment.branch
  backup_age_hours: (divio_backup.age_seconds or 0) // 3600
groups:
  production: divio_environment.slug == 'live'
  needs_attention: divio_backup.status != 'fresh'
keyed_groups:
  - key: divio_backup.status
    prefix: backup
  - key: divio_environment.branch
    prefix: branch
"""


def test_compose_groups_and_keyed_groups(inventory, dataset):
    run = inventory(CONSTRUCTED)
    assert run.rc == 0, run
    for name, hostvars in run.hostvars.items():
        assert hostvars["divio_branch"] == hostvars["divio_environment"]["branch"]
        hours = (hostvars["divio_backup"]["age_seconds"] or 0) // 3600
        # ansible-core 2.16 (without jinja2_native) renders every template to text: compose gives "115", 2.19 115.
        assert hostvars["backup_age_hours"] == (hours if ANSIBLE_CORE >= (2, 19) else str(hours))
        assert (name in run.group("production")) is (hostvars["divio_environment"]["slug"] == "live")
        assert (name in run.group("needs_attention")) is (hostvars["divio_backup"]["status"] != "fresh")
        assert name in run.group("backup_" + hostvars["divio_backup"]["status"])
        assert name in run.group("branch_" + group_part(hostvars["divio_environment"]["branch"]))


def test_strict(inventory):
    lenient = inventory(SOURCE + "compose:\n  x: divio_backup.status\nkeyed_groups:\n  - key: divio_backup.status\n")
    assert lenient.rc == 0, lenient
    assert not any("x" in hostvars for hostvars in lenient.hostvars.values())
    strict = inventory(SOURCE + "strict: true\ncompose:\n  x: divio_backup.status\n")
    assert strict.rc != 0, strict
    assert "divio_backup" in strict.output


# -- cache -------------------------------------------------------------------------------------

def cached_source(tmp_path, extra=""):
    return SOURCE + "cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: %s\n%s" % (
        tmp_path / "inventory-cache", extra)


def test_cache_serves_the_fleet_and_holds_no_token(inventory, divio_env, sim, tmp_path):
    source = cached_source(tmp_path)
    first = inventory(source)
    assert first.rc == 0 and sim.stats()["requests"] > 0, first
    sim.reset_stats()
    second = inventory(source)
    assert second.rc == 0, second
    assert sim.stats()["requests"] == 0
    assert second.data == first.data
    files = list((tmp_path / "inventory-cache").iterdir())
    assert files
    for path in files:
        assert TOKEN not in path.name and TOKEN not in path.read_text()
    # Another token is another account: not served from this cache.
    sim.reset_stats()
    other = inventory(source, env={"DIVIO_API_TOKEN": WRONG_TOKEN})
    assert other.rc != 0 and sim.stats()["requests"] > 0, other
    # ansible-playbook --flush-cache reads the API again; so does ansible-inventory's, from ansible-core 2.19 on.
    sim.reset_stats()
    playbook = tmp_path / "nothing.yml"
    playbook.write_text("- hosts: divio\n  gather_facts: false\n  tasks: []\n")
    proc = subprocess.run(["ansible-playbook", "-i", str(first.source), "--flush-cache",
                           str(playbook)], env=divio_env, capture_output=True, text=True, timeout=300,
                          cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sim.stats()["requests"] > 0
    if ANSIBLE_CORE >= (2, 19):
        sim.reset_stats()
        assert inventory(source, "--list", "--flush-cache").rc == 0
        assert sim.stats()["requests"] > 0


def test_latest_backup_is_not_cached_unless_asked(inventory, sim, tmp_path):
    source = cached_source(tmp_path, "latest_backup: true\n")
    assert inventory(source).rc == 0
    sim.reset_stats()
    assert inventory(source).rc == 0
    assert sim.stats()["by_path"].get("/apps/v3/backups/", 0) > 0

    source = cached_source(tmp_path, "latest_backup: true\nlatest_backup_cache: true\n")
    first = inventory(source)
    assert first.rc == 0, first
    sim.reset_stats()
    second = inventory(source)
    assert second.rc == 0 and sim.stats()["requests"] == 0, second
    assert second.hostvars == first.hostvars


# -- a play against the hosts ------------------------------------------------------------------

PER_HOST_PLAY = """
- hosts: divio_env_live
  gather_facts: false
  tasks:
    - name: Latest database backup of each live environment, in parallel forks
      divio.cloud.backup_info:
        application: "{{ divio_application.uuid }}"
        environment: "{{ divio_environment.slug }}"
        services: [DATABASE]
      throttle: 3
      register: latest
    - name: Save what each host saw
      ansible.builtin.copy:
        content: "{{ {'backups': latest.backups, 'python': ansible_python_interpreter} | to_json }}"
        dest: "{{ result_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"
"""


@pytest.mark.parametrize("token_by", ["environment", "module_defaults"])
def test_a_forked_play_runs_backup_info_per_host(divio_env, tmp_path, sim, dataset, client, token_by):
    source = tmp_path / "fleet.divio.yml"
    playbook = tmp_path / "play.yml"
    results = tmp_path / "results"
    results.mkdir()
    env = dict(divio_env)
    extra = {"result_dir": str(results)}
    if token_by == "environment":
        source.write_text(SOURCE)
        playbook.write_text(PER_HOST_PLAY)
    else:
        # No token in the environment: the source file and module_defaults take it from an extra variable.
        env.pop("DIVIO_API_TOKEN")
        extra["vault_divio_token"] = TOKEN
        source.write_text(SOURCE + 'api_token: "{{ vault_divio_token }}"\n')
        playbook.write_text(PER_HOST_PLAY.replace("  gather_facts: false\n", (
            "  gather_facts: false\n"
            "  module_defaults:\n"
            "    group/divio.cloud.divio:\n"
            "      api_token: \"{{ vault_divio_token }}\"\n")))
    proc = subprocess.run(["ansible-playbook", "-i", str(source), "--forks", "4", str(playbook),
                           "-e", json.dumps(extra)], env=env, capture_output=True, text=True, timeout=300,
                          cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr
    live = expected_hosts(dataset, environments=["live"])
    assert sorted(p.stem for p in results.iterdir()) == sorted(live)
    records = dict((r["environment"], r) for r in check_backups(client, environments=["live"])[0])
    for name, (app, env_object) in live.items():
        saw = json.loads((results / (name + ".json")).read_text())
        assert saw["python"] == sys.executable
        [entry] = saw["backups"]
        assert (entry["application"], entry["environment"]) == (app["uuid"], env_object["uuid"])
        assert entry["uuid"] == records[env_object["uuid"]]["uuid"]


def test_api_data_is_never_run_as_a_template(divio_env, tmp_path):
    """Whoever may rename an application must not get code run on the controller through its name."""
    dataset = generate_dataset(seed=1, organisations=1, applications=2, environments=1, days=2)
    dataset.applications[0]["name"] = "{{ 6 * 7 }}"
    source = tmp_path / "fleet.divio.yml"
    source.write_text(SOURCE)
    playbook = tmp_path / "play.yml"
    playbook.write_text(textwrap.dedent("""
        - hosts: divio
          gather_facts: false
          tasks:
            - ansible.builtin.copy:
                content: "{{ divio_application.name }}"
                dest: "{{ result_dir }}/{{ inventory_hostname }}.txt"
                mode: "0600"
    """))
    with run_simulator(dataset=dataset, token=TOKEN) as server:
        env = dict(divio_env, DIVIO_API_URL=server.url)
        listed = subprocess.run(["ansible-inventory", "-i", str(source), "--list"], env=env, capture_output=True,
                                text=True, timeout=300, check=False)
        played = subprocess.run(["ansible-playbook", "-i", str(source), str(playbook), "-e", "result_dir=%s" % tmp_path],
                                env=env, capture_output=True, text=True, timeout=300, check=False)
    assert listed.returncode == 0 and played.returncode == 0, listed.stderr + played.stdout + played.stderr
    app = dataset.applications[0]
    name = "%s.%s" % (app["slug"], dataset.environments[0]["slug"] if dataset.environments[0]["application"] == app["uuid"]
                      else dataset.environments[1]["slug"])
    assert (tmp_path / (name + ".txt")).read_text() == "{{ 6 * 7 }}"
    hostvars = json.loads(listed.stdout)["_meta"]["hostvars"][name]
    # Marked as never-a-template in the output; text without braces stays a plain string.
    assert hostvars["divio_application"]["name"] == {"__ansible_unsafe": "{{ 6 * 7 }}"}
    assert hostvars["divio_application"]["slug"] == app["slug"]


# -- documentation, token safety, request counts -----------------------------------------------

def test_ansible_doc_renders(ansible_env):
    proc = subprocess.run(["ansible-doc", "-t", "inventory", "divio.cloud.divio"], env=ansible_env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "[WARNING]" not in proc.stderr
    for text in ("divio.cloud.divio", "latest_backup_cache", "min_retention", "keyed_groups", "api_token",
                 "divio_backup_fresh", "EXAMPLES"):
        assert text in proc.stdout, text


def test_the_token_never_appears(inventory, tmp_path):
    """Successes and failures at -vvvv: every output, and the cache files, are searched for the tokens."""
    outputs = []
    for source, args, env, succeeds in [
        (CONSTRUCTED, ["--list", "-vvvv"], None, True),
        (BACKUPS, ["--graph", "--vars", "-vvvv"], None, True),
        (cached_source(tmp_path, "latest_backup: true\nlatest_backup_cache: true\n"), ["--list", "-vvvv"], None, True),
        (BACKUPS, ["--list", "-vvvv"], {"DIVIO_API_TOKEN": WRONG_TOKEN}, False),
        (BACKUPS + "max_age: soon\n", ["--list", "-vvvv"], None, False),
        (SOURCE + "api_url: http://127.0.0.1:9\ntimeout: 1\nretries: 1\n", ["--list", "-vvvv"], None, False),
        (SOURCE + "api_url: http://127.0.0.1:9\nretries: 1\napi_token: %s\n" % WRONG_TOKEN, ["--list", "-vvvv"], None, False),
    ]:
        run = inventory(source, *args, env=env)
        assert (run.rc == 0) is succeeds, run
        outputs.append(run.squeezed)
    outputs.extend("".join(path.read_text().split()) for path in (tmp_path / "inventory-cache").iterdir())
    for text in outputs:
        assert TOKEN not in text and WRONG_TOKEN not in text


@pytest.mark.parametrize("latest_backup", [False, True], ids=["fleet", "latest_backup"])
def test_requests_grow_with_pages_not_hosts(divio_env, tmp_path, latest_backup):
    """Two fleets, 6 applications x 2 environments and 30 x 3 (12 and 90 hosts), each one page of applications
    and of environments: reading the fleet costs the same requests; with latest_backup the backups, the one
    list that grows with time, are read in one pass (its pages), never once per host."""
    runs = {}
    for applications, environments in ((6, 2), (30, 3)):
        dataset = generate_dataset(seed=3, organisations=2, applications=applications, environments=environments, days=3)
        with run_simulator(dataset=dataset, token=TOKEN) as server:
            server.configure(honour_backup_environment_filter=False)
            source = tmp_path / ("%d.divio.yml" % applications)
            source.write_text(BACKUPS if latest_backup else SOURCE)
            proc = subprocess.run(["ansible-inventory", "-i", str(source), "--list"],
                                  env=dict(divio_env, DIVIO_API_URL=server.url), capture_output=True, text=True,
                                  timeout=300, check=False)
            assert proc.returncode == 0, proc.stderr
            hosts = len(json.loads(proc.stdout)["_meta"]["hostvars"])
            assert hosts == len(dataset.environments) <= server.max_page_size
            runs[hosts] = (server.stats(), -(-len(dataset.backups) // server.max_page_size))
    assert sorted(runs) == [12, 90]
    if not latest_backup:
        assert runs[12][0]["requests"] == runs[90][0]["requests"], runs
        return
    for hosts, (stats, backup_pages) in runs.items():
        assert backup_pages < hosts / 2  # per-host reads of the backups would cost more than their pages
        assert stats["by_path"]["/apps/v3/backups/"] <= backup_pages + 2, (stats, backup_pages)


def _requests(sim):
    """The requests the simulator answered since its counters were reset: ``Counter((method, path and query))``."""
    return Counter((method, target) for method, target, _status in sim.requests)


FLEET_PATHS = ("/apps/v3/applications/", "/apps/v3/environments/")


@pytest.mark.parametrize("honoured", [True, False], ids=["filter-honoured", "filter-ignored"])
@pytest.mark.parametrize("scope", ["", "applications: [%(app0)s, %(app1)s]\nenvironments: [live]\n"], ids=["all", "named"])
def test_latest_backup_reads_the_fleet_once(inventory, sim, dataset, client, honoured, scope):
    """With latest_backup the inventory makes exactly the requests of the backup check alone - applications and
    environments listed once, not once for the check and again for the hosts - and each host carries the record
    of its own environment."""
    sim.configure(honour_backup_environment_filter=honoured)
    scope = scope % dict(app0=dataset.applications[0]["slug"], app1=dataset.applications[1]["uuid"])
    options = yaml.safe_load(scope) or {}
    sim.reset_stats()
    fleet(client, **options)
    fleet_read = _requests(sim)
    sim.reset_stats()
    records, _unused = check_backups(client, **options)
    check = _requests(sim)
    sim.reset_stats()
    run = inventory(BACKUPS + scope)
    assert run.rc == 0, run
    made = _requests(sim)
    assert sum(made.values()) == sim.stats()["requests"] == sum(check.values()), (made, check)
    assert made == check
    for path in FLEET_PATHS:
        listing = dict((request, count) for request, count in made.items() if request[1].split("?")[0] == path)
        assert listing == dict((request, count) for request, count in fleet_read.items() if request[1].split("?")[0] == path)
    # Hosts and records: the same environments, each host with its own environment's record.
    assert sorted(run.hostvars) == sorted("%s.%s" % (r["application_slug"], r["environment_slug"]) for r in records)
    for hostvars in run.hostvars.values():
        assert hostvars["divio_backup"]["environment"] == hostvars["divio_environment"]["uuid"]
        assert hostvars["divio_backup"]["application"] == hostvars["divio_application"]["uuid"]
