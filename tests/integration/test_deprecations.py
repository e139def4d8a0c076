"""Every playbook a test runs fails the test when a deprecation warning names this collection (tests/conftest.py's
PlaybookRun, testlib.our_deprecations): here a real deprecation, as the ansible-core under test prints it."""

import textwrap

import pytest

from testlib import deprecations, our_deprecations

# A module next to the playbook that deprecates an option the way a divio.cloud module would.
MODULE = textwrap.dedent('''\
    from ansible.module_utils.basic import AnsibleModule

    def main():
        module = AnsibleModule(argument_spec={"name": {"type": "str"}})
        module.deprecate("The %s option of divio.cloud.backup_info is deprecated" % module.params["name"],
                         version="2.0.0", collection_name="divio.cloud")
        module.exit_json(changed=False)

    main()
    ''')

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - deprecating:
        name: %s
"""


def test_a_deprecation_naming_the_collection_fails_the_run(run_playbook, tmp_path):
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "deprecating.py").write_text(MODULE)
    with pytest.raises(AssertionError) as info:
        run_playbook(PLAYBOOK % "max_age")
    # The run's output (ansible-core 2.16 wraps the warning's lines, so single words only).
    assert "[DEPRECATION WARNING]" in str(info.value) and "max_age" in str(info.value)


def test_deprecations_are_read_whole_and_only_ours_count():
    output = textwrap.dedent("""\
        TASK [x] ***
        [DEPRECATION WARNING]: Something in core is deprecated. This feature will be removed from ansible-core
        in version 2.23.
        [DEPRECATION WARNING]: The zone option is deprecated.

        Origin: /home/u/collections/ansible_collections/divio/cloud/plugins/modules/backup_info.py

        This feature will be removed from collection 'divio.cloud' version 2.0.0.
        ok: [localhost]
        """)
    assert len(deprecations(output)) == 2
    assert our_deprecations(output) == [deprecations(output)[1]]
    assert deprecations(output)[1].endswith("collection 'divio.cloud' version 2.0.0.")
