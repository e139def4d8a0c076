"""The inventory plugin's ``verify`` option (issue 25, part 5), run for real by ansible-inventory against a private
simulator whose download origin serves good or broken dumps: the divio_backup_unverified group, the verdicts kept
in verify_dir, and the options that make no sense without latest_backup."""

import json
import shutil
import subprocess
import textwrap

import pytest

from testlib import TOKEN, private_simulator

SOURCE = "plugin: divio.cloud.divio\napplications: [wiki]\n"
VERIFY = SOURCE + "latest_backup: true\nverify: read\n"
DOWNLOADS = "/apps/v3/backup-downloads/"

needs_pg_restore = pytest.mark.skipif(not shutil.which("pg_restore"),
                                      reason="pg_restore (PostgreSQL client) is not installed")


@pytest.fixture
def vsim():
    with private_simulator(downloads={"duration_seconds": 0.05}) as server:
        yield server


@pytest.fixture
def inventory(ansible_env, vsim, tmp_path):
    """``inventory(source_yaml)`` runs ``ansible-inventory -i <source> --list``: (returncode, output, --list data)."""

    def run(source):
        vsim.reset_stats()
        path = tmp_path / "fleet.divio.yml"
        path.write_text(textwrap.dedent(source))
        env = dict(ansible_env, DIVIO_API_URL=vsim.url, DIVIO_API_TOKEN=TOKEN, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
        proc = subprocess.run(["ansible-inventory", "-i", str(path), "--list"], env=env, capture_output=True, text=True,
                              timeout=300, cwd=str(tmp_path), check=False)
        output = proc.stdout + proc.stderr
        assert TOKEN not in output
        return proc.returncode, output, json.loads(proc.stdout) if proc.returncode == 0 else None

    return run


def group(data, name):
    return set(data.get(name, {}).get("hosts", []))


def posts(sim):
    return [path for method, path, _status in sim.requests if method == "POST"]


@needs_pg_restore
def test_good_dumps_are_verified_and_fresh(inventory, vsim):
    rc, output, data = inventory(VERIFY)
    assert rc == 0, output
    assert group(data, "divio_backup_fresh") == {"wiki.live", "wiki.test"}, output
    assert group(data, "divio_backup_unverified") == set()
    for name in ("wiki.live", "wiki.test"):
        backup = data["_meta"]["hostvars"][name]["divio_backup"]
        assert backup["verified"] is True and backup["verified_at"] and backup["verification"]
    assert posts(vsim) == [DOWNLOADS] * 2


@needs_pg_restore
def test_a_corrupt_dump_puts_the_host_in_divio_backup_unverified(inventory, vsim, tmp_path):
    vsim.configure(downloads={"duration_seconds": 0.05, "fault": "truncated"})
    kept = tmp_path / "verified"
    kept.mkdir()
    rc, output, data = inventory(VERIFY + "environments: [live]\nverify_dir: %s\n" % kept)
    assert rc == 0, output
    assert group(data, "divio_backup_unverified") == {"wiki.live"}, output
    assert group(data, "divio_backup_fresh") == set()
    backup = data["_meta"]["hostvars"]["wiki.live"]["divio_backup"]
    assert backup["status"] == "unverified" and backup["verified"] is False
    assert "failed verification" in backup["problems"][0] and "could not read the whole dump" in backup["problems"][0]
    assert posts(vsim) == [DOWNLOADS]
    # The verdict is kept in verify_dir: the next read downloads nothing, and says the same.
    vsim.configure(downloads={"duration_seconds": 0.05, "fault": None})
    rc, output, data = inventory(VERIFY + "environments: [live]\nverify_dir: %s\n" % kept)
    assert rc == 0, output
    assert group(data, "divio_backup_unverified") == {"wiki.live"} and posts(vsim) == []


@needs_pg_restore
def test_a_verification_that_cannot_run_puts_the_host_in_divio_backup_error(inventory, vsim):
    vsim.configure(downloads={"duration_seconds": 0.05, "fault": "part-errors"})
    rc, output, data = inventory(VERIFY + "environments: [live]\n")
    assert rc == 0, output
    assert group(data, "divio_backup_error") == {"wiki.live"} and group(data, "divio_backup_unverified") == set()
    backup = data["_meta"]["hostvars"]["wiki.live"]["divio_backup"]
    assert "could not be verified" in backup["error"] and backup["verified"] is None


def test_without_verify_nothing_is_downloaded_and_the_group_still_exists(inventory, vsim):
    vsim.configure(downloads={"duration_seconds": 0.05, "fault": "truncated"})  # would fail, were it read
    rc, output, data = inventory(SOURCE + "latest_backup: true\n")
    assert rc == 0, output
    assert group(data, "divio_backup_fresh") == {"wiki.live", "wiki.test"}
    assert "divio_backup_unverified" in data["all"]["children"]
    assert "verified" not in data["_meta"]["hostvars"]["wiki.live"]["divio_backup"]
    assert posts(vsim) == []


@pytest.mark.parametrize("source, message", [
    (SOURCE + "verify: read\n",
     "verify applies only with latest_backup: true; set latest_backup: true or remove it."),
    (SOURCE + "verify: read\nmax_age: 2d\n", "max_age, verify apply only with latest_backup: true"),
    (SOURCE + "latest_backup: true\nverify_dir: /tmp\n", "verify_dir applies only with verify: read"),
    # Ansible's own check of the option's choices (its words differ between ansible-core versions).
    (SOURCE + "latest_backup: true\nverify: restore\n", ("restore", "verify")),
    (VERIFY + "verify_dir: /nonexistent/divio-verified\n", "verify_dir '/nonexistent/divio-verified' is not a directory"),
])
def test_bad_verify_options_fail_the_source_before_any_request(inventory, vsim, source, message):
    rc, output, _data = inventory(source)
    assert rc != 0
    for said in (message,) if isinstance(message, str) else message:
        assert said in " ".join(output.split()), output
    assert "Traceback" not in output and vsim.stats()["requests"] == 0


@needs_pg_restore
def test_a_cached_source_changed_to_verify_is_read_again(inventory, vsim, tmp_path):
    """The cache key holds the options that shape the hosts: an entry made without verify never answers a source
    that asks for it (it would put an unverified dump in divio_backup_fresh)."""
    cache = "cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: %s\nlatest_backup_cache: true\n" % (
        tmp_path / "inventory-cache")
    vsim.configure(downloads={"duration_seconds": 0.05, "fault": "truncated"})
    rc, output, data = inventory(SOURCE + "latest_backup: true\n" + cache)
    assert rc == 0 and group(data, "divio_backup_fresh") == {"wiki.live", "wiki.test"}, output
    rc, output, data = inventory(VERIFY + cache)
    assert rc == 0, output
    assert group(data, "divio_backup_unverified") == {"wiki.live", "wiki.test"} and posts(vsim) == [DOWNLOADS] * 2
    rc, output, again = inventory(VERIFY + cache)  # now that entry is the one served
    assert rc == 0 and again == data and vsim.stats()["requests"] == 0, output
