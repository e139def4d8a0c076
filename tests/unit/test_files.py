"""The one atomic writer (files.py): the mode asked for, fsync only when asked, nothing left behind on failure."""

import os
import stat

import pytest

from ansible_collections.divio.cloud.plugins.module_utils import files


@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_the_file_gets_its_text_and_mode_and_no_temporary_file_stays(tmp_path, mode):
    tmp_path = tmp_path / "out"  # tmp_path holds the tests' HOME too
    tmp_path.mkdir()
    path = tmp_path / "out.json"
    path.write_text("old")
    files.write_atomically(str(path), "new \u2705", mode)
    assert path.read_text(encoding="utf-8") == "new \u2705"
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


@pytest.mark.parametrize("fsync", [True, False])
def test_fsync_only_when_asked(tmp_path, monkeypatch, fsync):
    synced = []
    monkeypatch.setattr(files.os, "fsync", synced.append)
    files.write_atomically(str(tmp_path / "out"), "x", 0o600, fsync=fsync)
    assert bool(synced) == fsync


def test_a_failed_commit_keeps_the_old_file_and_removes_the_temporary_one(tmp_path, monkeypatch):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    path = tmp_path / "out"
    path.write_text("old")
    seen = []

    def broken(source, target):
        seen.append(os.path.basename(source))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", broken)
    with pytest.raises(OSError):
        files.write_atomically(str(path), "new", 0o600, prefix=".tmp-", suffix="")
    assert seen[0].startswith(".tmp-") and not seen[0].endswith(".tmp")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and path.read_text() == "old"
