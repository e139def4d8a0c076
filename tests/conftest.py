"""Shared fixtures: the Divio API simulator over real HTTP, and real ansible-playbook runs against it."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The inventory shipped for the playbooks: localhost, local connection, ansible-playbook's own Python.
INVENTORY = REPO / "playbooks" / "inventory"
sys.path.insert(0, str(REPO / "tests" / "simulator"))
sys.path.insert(0, str(REPO / "tests"))

from divio_simulator import generate_dataset, run_simulator
from testlib import TOKEN, our_deprecations, record_run


def pytest_sessionfinish(session, exitstatus):
    record_run(session, exitstatus)


# The files of the long tests (a minute or more each, or several of half a minute) run first: pytest -n 2 hands
# tests out in the order collected, and one long test started near the end keeps one core busy while the other
# has nothing left to do (tests/stress/ came last but for the unit tests: minutes with one core idle).
LONG_FIRST = ("tests/integration/test_quality_gates.py", "tests/stress/", "tests/integration/test_bad_input.py",
              "tests/integration/test_token_safety.py", "tests/integration/test_pull_cli.py")


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        return next((i for i, prefix in enumerate(LONG_FIRST) if item.nodeid.startswith(prefix)), len(LONG_FIRST))

    items.sort(key=rank)  # stable: the tests of a file, and the others, keep their order


@pytest.fixture(scope="session")
def dataset():
    """The multi-application data set most tests read (the simulator's ``demo`` preset, seed 1)."""
    return generate_dataset(seed=1, organisations=2, applications=6, environments=2, days=14)


@pytest.fixture(scope="session")
def simulator(dataset):
    """One simulator for the session. Tests that change its config must use ``fresh_simulator``."""
    with run_simulator(dataset=dataset, token=TOKEN) as server:
        yield server


@pytest.fixture
def sim(simulator):
    """The session simulator with counters reset and the default config restored after the test."""
    simulator.reset_stats()
    yield simulator
    simulator.configure(honour_backup_environment_filter=True, latency_ms=0)


def _standin(kind, tmp_path_factory):
    """Start a storage stand-in (divio_simulator/standins.py) for the session, or fail the test in one line."""
    from divio_simulator.standins import StandInError

    try:
        return kind(folder=tmp_path_factory.mktemp(kind.name)).start()
    except (StandInError, ImportError) as exc:
        pytest.fail("the %s stand-in for the upload tests could not start: %s" % (kind.name, exc), pytrace=False)


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory):
    """moto's S3 (with IAM enforced) serving the simulator's ``s3-sts-v1`` uploads; clients set
    ``AWS_ENDPOINT_URL_S3=moto_s3.endpoint``. Pass it as ``private_simulator(s3=moto_s3, ...)``."""
    from divio_simulator.standins import MotoS3

    standin = _standin(MotoS3, tmp_path_factory)
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """Azurite serving the simulator's ``az-sas-v1`` uploads (SAS URLs carry its endpoint). Pass it as
    ``private_simulator(azure=azurite, ...)``."""
    from divio_simulator.standins import Azurite

    standin = _standin(Azurite, tmp_path_factory)
    yield standin
    standin.stop()


@pytest.fixture
def upload_standins(request):
    """``upload_standins(handler)``: the simulator arguments an upload handler needs, its stand-in started once a
    session: ``private_simulator(uploads={"handler": h}, **upload_standins(h))``; ``{}`` for exo-presigned-v1."""
    def pick(handler):
        if handler == "s3-sts-v1":
            return {"s3": request.getfixturevalue("moto_s3")}
        if handler == "az-sas-v1":
            return {"azure": request.getfixturevalue("azurite")}
        return {}
    return pick


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory):
    """A collections tree where ``ansible_collections/divio/cloud`` links to this repository."""
    root = tmp_path_factory.mktemp("collections")
    target = root / "ansible_collections" / "divio"
    target.mkdir(parents=True)
    (target / "cloud").symlink_to(REPO, target_is_directory=True)
    return root


@pytest.fixture
def ansible_env(collections_path, tmp_path):
    """Environment for ansible-playbook: this collection, this Python, no user config, no token around."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DIVIO_", "ANSIBLE_"))}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(collections_path),
        # make test's module run (test-modules-py39) runs the modules on another Python than the controller's.
        ANSIBLE_PYTHON_INTERPRETER=os.environ.get("DIVIO_TEST_MODULE_PYTHON") or sys.executable,
        ANSIBLE_DEPRECATION_WARNINGS="true",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_HOME=str(tmp_path / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        ANSIBLE_RETRY_FILES_ENABLED="false",
        HOME=str(tmp_path),
        NETRC_PATH=str(tmp_path / "no-netrc"),
        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    )
    return env


class PlaybookRun:
    def __init__(self, proc, result_file):
        self.proc = proc
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        self.result = json.loads(result_file.read_text()) if result_file.exists() else None
        # Every playbook a test runs: no deprecation warning names this collection (on 2.21 as on 2.16).
        assert our_deprecations(self.output) == [], self.output[-4000:]

    def __repr__(self):
        return "PlaybookRun(rc=%d)\n%s" % (self.rc, self.output[-4000:])


@pytest.fixture
def run_playbook(ansible_env, tmp_path):
    """Run a playbook for real: ``run_playbook(yaml_text, extra_vars={}, env={}, args=[])``.

    A task may write its outcome to ``{{ result_file }}`` (as JSON); it is returned as ``run.result``.
    """

    def run(playbook, extra_vars=None, env=None, args=(), playbook_path=None):
        result_file = tmp_path / "result.json"
        if result_file.exists():
            result_file.unlink()
        if playbook_path is None:
            playbook_path = tmp_path / "playbook.yml"
            playbook_path.write_text(textwrap.dedent(playbook))
        variables = dict(result_file=str(result_file), **(extra_vars or {}))
        if os.environ.get("DIVIO_TEST_MODULE_PYTHON"):  # beats the inventory's ansible_playbook_python
            variables.setdefault("ansible_python_interpreter", os.environ["DIVIO_TEST_MODULE_PYTHON"])
        command = ["ansible-playbook", "-i", str(INVENTORY), str(playbook_path),
                   "-e", json.dumps(variables)] + list(args)
        proc = subprocess.run(command, env=dict(ansible_env, **(env or {})), capture_output=True, text=True,
                              timeout=300, cwd=str(tmp_path), check=False)
        return PlaybookRun(proc, result_file)

    return run


@pytest.fixture
def sim_env(sim):
    """Environment variables that point a playbook at the session simulator."""
    return {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
