"""Inert names: an application or environment slug holding a template (``renamed_slugs`` of the simulator) becomes
an inventory host name, group name and host variables that nothing ever runs - whatever a play templates, on every
supported ansible-core (2.16 templates every string not marked unsafe; 2.19 only trusted ones)."""

import json
import subprocess
import textwrap

import pytest

from testlib import TOKEN, private_simulator

PLAY = """
- hosts: divio
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "{{ inventory_hostname }} {{ inventory_hostname_short }} {{ group_names }} {{ groups }}"
    - ansible.builtin.debug: {var: inventory_hostname}
    - ansible.builtin.debug: {var: group_names}
    - ansible.builtin.debug: {var: "hostvars[inventory_hostname]"}
    - ansible.builtin.debug:
        msg: "{{ ansible_play_hosts }} {{ divio_environment }} {{ divio_application }} {{ slug_copy }} {{ hostvars }}"
    - ansible.builtin.set_fact:
        copied: "{{ inventory_hostname }}"
        slugs: "{{ [divio_application.slug, divio_environment.slug] }}"
    - ansible.builtin.debug: {msg: "{{ copied }} {{ slugs }} {{ slugs | join(' ') }}"}
    - ansible.builtin.debug: {msg: "{{ item.key }}={{ item.value }}"}
      loop: "{{ divio_environment | dict2items }}"
    - ansible.builtin.debug: {msg: "{{ item }}"}
      loop: "{{ groups['divio'] + group_names }}"
    - ansible.builtin.copy:
        content: "{{ inventory_hostname }}\\n{{ divio_environment.slug }}\\n"
        dest: "{{ result_dir }}/{{ inventory_hostname | hash('sha1') }}.txt"
        mode: "0600"
"""

SOURCE = """
plugin: divio.cloud.divio
compose:
  slug_copy: divio_environment.slug
keyed_groups:
  - key: divio_environment.slug
    prefix: slug
  - key: divio_application.slug
    prefix: app
"""


@pytest.fixture
def templated(tmp_path):
    """A simulator where wiki's slug and crm/live's slug are templates that would create a marker file."""
    marker = tmp_path / "marker"
    template = "{{ lookup('pipe', 'touch %s') }}" % marker
    with private_simulator(renamed_slugs={"wiki": "wiki" + template, "crm/live": template}) as server:
        yield server, marker, template


def test_a_templated_slug_never_runs(templated, ansible_env, tmp_path):
    server, marker, template = templated
    source = tmp_path / "fleet.divio.yml"
    # Two applications (4 hosts), named as the API now has them: the test stays fast.
    source.write_text(textwrap.dedent(SOURCE) + "applications: %s\n" % json.dumps(["crm", "wiki" + template]))
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY)
    env = dict(ansible_env, DIVIO_API_URL=server.url, DIVIO_API_TOKEN=TOKEN, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    runs = [subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=str(tmp_path), check=False)
            for command in (["ansible-inventory", "-i", str(source), "--list"],
                            ["ansible-inventory", "-i", str(source), "--graph"],
                            ["ansible-inventory", "-i", str(source), "--graph", "--vars"],
                            ["ansible-playbook", "-i", str(source), str(playbook), "-e", "result_dir=%s" % tmp_path, "-v"])]
    output = "\n".join(run.stdout + run.stderr for run in runs)
    assert not marker.exists(), output
    assert [run.returncode for run in runs] == [0, 0, 0, 0], output
    assert TOKEN not in output
    listed = json.loads(runs[0].stdout)
    hosts = set(listed["_meta"]["hostvars"])
    assert hosts == {"crm." + template, "wiki%s.test" % template, "wiki%s.live" % template, "crm.test"}
    # Group names: letters, digits and underscores only (the plugin's own, and keyed_groups as Constructable makes them).
    groups = set(listed) - {"_meta", "all", "ungrouped"}
    assert groups and all(name.replace("_", "").isalnum() for name in groups), groups
    # Each host wrote its own name and slug, as text: templated into a file name and content, never run.
    written = sorted((tmp_path / name).read_text() for name in (p.name for p in tmp_path.glob("*.txt")))
    assert "crm.%s\n%s\n" % (template, template) in written and len(written) == len(hosts)
