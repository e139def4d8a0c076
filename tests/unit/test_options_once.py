"""Each task's options are declared once (issue 31): its options class (``values.TaskOptions``) holds the argument
spec, the module's spec is built from it, and the constructor takes the same options with the same defaults. So a
default or a choice changed in one place cannot leave the module and a Python caller disagreeing."""

import importlib
import inspect
from pathlib import Path

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.values import TaskOptions

PLUGINS = "ansible_collections.divio.cloud.plugins."
# module -> (its module class, the options class whose spec it uses)
TASKS = {
    "backup": ("Backup", "taking.TakeOptions"),
    "backup_copy": ("BackupCopy", "copies.CopyOptions"),
    "backup_download": ("BackupDownload", "download_options.DownloadOptions"),
    "backup_info": ("BackupInfo", "backups.FindOptions"),
    "backup_restore": ("BackupRestore", "restores.RestoreOptions"),
    "backup_upload": ("BackupUpload", "uploads.PushOptions"),
    "deployment": ("Deployment", "deployments.DeployOptions"),
}

# The other modules: readers whose options are filters handed to one read (backup_check's are planned once by
# checks.plan_fleet_check from CHECK_ARGUMENT_SPEC), and the documentation of action plugins (their options are
# read by the action).
READERS = ("application_info", "backup_check", "deployment_info", "environment_info", "environment_variable_info")
ACTIONS = ("backup_gate_variables", "backup_report", "gate_outcome", "refresh_outcome")
MODULES = Path(__file__).resolve().parents[2] / "plugins" / "modules"


def test_every_module_that_changes_something_has_an_options_class():
    modules = set(path.stem for path in MODULES.glob("*.py") if path.stem != "__init__")
    assert modules - set(READERS) - set(ACTIONS) == set(TASKS)


def options_class(path):
    room, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(PLUGINS + "module_utils." + room), name)


def constructor_options(cls):
    """``{name: default}`` of the constructor's options (``inspect.Parameter.empty``: required)."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return dict((p.name, p.default) for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD)


@pytest.mark.parametrize("module", sorted(TASKS))
def test_the_module_spec_is_the_options_spec(module):
    module_class, path = TASKS[module]
    cls = options_class(path)
    assert issubclass(cls, TaskOptions)
    spec = getattr(importlib.import_module(PLUGINS + "modules." + module), module_class).argument_spec
    assert cls.ARGUMENT_SPEC, path
    for name, entry in cls.ARGUMENT_SPEC.items():
        assert spec.get(name) == entry, "%s: option %s differs from %s's spec" % (module, name, path)


@pytest.mark.parametrize("path", sorted(set(path for _module, path in TASKS.values())))
def test_the_constructor_takes_the_spec_with_its_defaults(path):
    cls = options_class(path)
    taken = constructor_options(cls)
    assert set(cls.ARGUMENT_SPEC) <= set(taken), "%s: spec options the constructor does not take" % path
    for name, entry in cls.ARGUMENT_SPEC.items():
        default = taken[name]
        if entry.get("required"):
            assert default is inspect.Parameter.empty, "%s: %s is required by the spec, not by the constructor" % (
                path, name)
        else:  # a tuple default (immutable) is the spec's list
            assert (list(default) if isinstance(default, tuple) else default) == entry.get("default"), "%s: %s defaults to %r, the spec says %r" % (
                path, name, default, entry.get("default"))
    extra = set(taken) - set(cls.ARGUMENT_SPEC)
    assert all(taken[name] is not inspect.Parameter.empty for name in extra), "%s: %s" % (path, extra)


def test_from_params_takes_exactly_the_spec():
    class Example(TaskOptions):
        ARGUMENT_SPEC = dict(size=dict(type="int", default=3), name=dict(type="str", required=True))

        def __init__(self, name, size=3, check_mode=False):
            self.name, self.size, self.check_mode = name, size, check_mode

    made = Example.from_params(dict(name="x", size=5, unrelated="ignored"), check_mode=True)
    assert (made.name, made.size, made.check_mode) == ("x", 5, True)
    with pytest.raises(KeyError):
        Example.from_params(dict(size=5))
