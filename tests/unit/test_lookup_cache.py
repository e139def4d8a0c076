"""The lookup's per-run cache of API answers (plugins/plugin_utils/lookup_cache.py)."""

import hashlib
import json
import multiprocessing
import os
import stat
import time

import pytest

from ansible_collections.divio.cloud.plugins.plugin_utils.lookup_cache import CACHE_DIR_NAME, LookupCache, run_cache_dir

TOKEN_HASH = hashlib.sha256(b"sekrit-token-one").hexdigest()
OTHER_TOKEN_HASH = hashlib.sha256(b"sekrit-token-two").hexdigest()
URL = "http://127.0.0.1:8000/apps/v3/applications/?page_size=1000"
PAGE = {"count": 1, "next": None, "previous": None, "results": [{"uuid": "a", "slug": "shop"}]}


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def directory(tmp_path):
    return str(tmp_path / CACHE_DIR_NAME)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def entries(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".json"))


def test_round_trip_and_miss(directory, clock):
    cache = LookupCache(directory, ttl=300, clock=clock)
    key = (TOKEN_HASH, URL)
    assert cache.get(key) is None
    cache.set(key, PAGE)
    assert cache.get(key) == PAGE
    assert LookupCache(directory, ttl=300, clock=clock).get(key) == PAGE  # another instance (another worker) sees it
    assert (cache.hits, cache.misses) == (1, 1)


def test_entries_expire_after_the_ttl(directory, clock):
    cache = LookupCache(directory, ttl=300, clock=clock)
    key = (TOKEN_HASH, URL)
    cache.set(key, PAGE)
    clock.now += 299.5
    assert cache.get(key) == PAGE
    clock.now += 1
    assert cache.get(key) is None
    assert entries(directory) == []  # an expired entry is removed when it is met


def test_entry_from_the_future_is_not_trusted(directory, clock):
    cache = LookupCache(directory, ttl=300, clock=clock)
    cache.set((TOKEN_HASH, URL), PAGE)
    clock.now -= 10  # the wall clock was set back
    assert cache.get((TOKEN_HASH, URL)) is None


def test_ttl_zero_disables_the_cache(directory, clock):
    cache = LookupCache(directory, ttl=0, clock=clock)
    cache.set((TOKEN_HASH, URL), PAGE)
    assert cache.get((TOKEN_HASH, URL)) is None
    assert not os.path.exists(directory)


def test_keys_are_separated_by_token_hash_and_url(directory, clock):
    cache = LookupCache(directory, ttl=300, clock=clock)
    other_url = URL.replace("8000", "8001")
    cache.set((TOKEN_HASH, URL), {"who": "one"})
    assert cache.get((OTHER_TOKEN_HASH, URL)) is None
    assert cache.get((TOKEN_HASH, other_url)) is None
    assert cache.get((TOKEN_HASH, URL + "&page=2")) is None
    cache.set((OTHER_TOKEN_HASH, URL), {"who": "two"})
    cache.set((TOKEN_HASH, other_url), {"who": "three"})
    assert cache.get((TOKEN_HASH, URL)) == {"who": "one"}
    assert cache.get((OTHER_TOKEN_HASH, URL)) == {"who": "two"}
    assert cache.get((TOKEN_HASH, other_url)) == {"who": "three"}
    assert len(entries(directory)) == 3


def test_files_hold_neither_token_hash_nor_url_in_their_names(directory, clock):
    cache = LookupCache(directory, ttl=300, clock=clock)
    cache.set((TOKEN_HASH, URL), PAGE)
    [name] = entries(directory)
    assert TOKEN_HASH not in name and "127.0.0.1" not in name
    with open(os.path.join(directory, name)) as handle:
        content = handle.read()
    assert TOKEN_HASH not in content and "sekrit" not in content
    assert json.loads(content)["value"] == PAGE


def test_permissions_are_private_even_with_a_permissive_umask(directory, clock):
    old = os.umask(0)
    try:
        cache = LookupCache(directory, ttl=300, clock=clock)
        cache.set((TOKEN_HASH, URL), PAGE)
    finally:
        os.umask(old)
    assert mode(directory) == 0o700
    [name] = entries(directory)
    assert mode(os.path.join(directory, name)) == 0o600


def test_a_directory_others_can_read_is_not_used(directory, clock):
    os.mkdir(directory)
    os.chmod(directory, 0o755)
    cache = LookupCache(directory, ttl=300, clock=clock)
    cache.set((TOKEN_HASH, URL), PAGE)
    assert cache.get((TOKEN_HASH, URL)) is None
    assert entries(directory) == []


def test_a_symlinked_directory_is_not_used(tmp_path, clock):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / CACHE_DIR_NAME
    link.symlink_to(target, target_is_directory=True)
    cache = LookupCache(str(link), ttl=300, clock=clock)
    cache.set((TOKEN_HASH, URL), PAGE)
    assert cache.get((TOKEN_HASH, URL)) is None
    assert os.listdir(str(target)) == []


def test_a_corrupt_entry_is_a_miss_and_is_removed(directory, clock):
    cache = LookupCache(directory, ttl=300, clock=clock)
    key = (TOKEN_HASH, URL)
    cache.set(key, PAGE)
    path = os.path.join(directory, LookupCache.filename(key))
    with open(path, "w") as handle:
        handle.write('{"stored_at": 1000, "val')
    assert cache.get(key) is None
    assert not os.path.exists(path)


@pytest.mark.parametrize("planted", ["nested", "fifo", "symlink"])
def test_a_planted_entry_is_a_miss_without_waiting_or_recursing(directory, clock, tmp_path, planted):
    """An entry that is absurdly nested JSON, a FIFO (a plain open would wait on it for ever) or a symlink is a miss,
    and removed (the link, never its target)."""
    cache = LookupCache(directory, ttl=300, clock=clock)
    key = (TOKEN_HASH, URL)
    assert cache.get(key) is None  # creates the directory
    path = os.path.join(directory, LookupCache.filename(key))
    target = tmp_path / "target"
    target.write_text(json.dumps({"stored_at": 1000, "value": PAGE}))
    if planted == "nested":
        with open(path, "w") as handle:
            handle.write("[" * 100000 + "]" * 100000)
    elif planted == "fifo":
        os.mkfifo(path)
    else:
        os.symlink(str(target), path)
    assert cache.get(key) is None
    assert not os.path.lexists(path) and target.exists()


def test_the_directory_is_bounded(directory, clock):
    cache = LookupCache(directory, ttl=300, max_entries=3, clock=clock)
    for number in range(5):
        key = (TOKEN_HASH, "%s&n=%d" % (URL, number))
        cache.set(key, {"n": number})
        path = os.path.join(directory, LookupCache.filename(key))
        os.utime(path, (1000 + number, 1000 + number))  # distinct ages, oldest first
    assert len(entries(directory)) == 3
    assert cache.get((TOKEN_HASH, URL + "&n=0")) is None
    assert cache.get((TOKEN_HASH, URL + "&n=4")) == {"n": 4}


def test_an_answer_larger_than_the_bound_is_not_stored(directory, clock):
    cache = LookupCache(directory, ttl=300, max_bytes=100, clock=clock)
    cache.set((TOKEN_HASH, URL), {"results": ["x" * 200]})
    assert cache.get((TOKEN_HASH, URL)) is None
    assert entries(directory) == []


def test_a_failed_write_leaves_no_entry_and_no_temp_file(directory, clock, monkeypatch):
    cache = LookupCache(directory, ttl=300, clock=clock)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    cache.set((TOKEN_HASH, URL), PAGE)
    monkeypatch.undo()
    assert os.listdir(directory) == []
    assert cache.get((TOKEN_HASH, URL)) is None


def _writer(directory, number, rounds):
    cache = LookupCache(directory, ttl=300)
    for _round in range(rounds):
        cache.set((TOKEN_HASH, URL), {"writer": number, "blob": [number] * 20000})


def test_parallel_writers_never_expose_a_partial_entry(directory):
    """Ansible's workers are forks that may write the same entry at once: a reader sees a whole answer or none."""
    LookupCache(directory, ttl=300).get((TOKEN_HASH, URL))  # creates the directory
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(directory, number, 30)) for number in range(4)]
    for process in writers:
        process.start()
    reader = LookupCache(directory, ttl=300)
    seen, deadline = 0, time.monotonic() + 120
    # Bounded: a fork of a threaded pytest worker could in principle hang on a lock another thread held.
    while any(process.is_alive() for process in writers) and time.monotonic() < deadline:
        value = reader.get((TOKEN_HASH, URL))
        if value is not None:
            assert value["blob"] == [value["writer"]] * 20000
            seen += 1
    for process in writers:
        process.join(timeout=max(0.1, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
        assert process.exitcode == 0, "a writer did not finish within 120 s"
    assert reader.get((TOKEN_HASH, URL)) is not None
    assert seen > 0
    assert os.listdir(directory) == [LookupCache.filename((TOKEN_HASH, URL))]  # no temp files left behind


def test_run_cache_dir_is_under_the_runs_local_tmp():
    from ansible import constants as C

    assert run_cache_dir() == os.path.join(C.DEFAULT_LOCAL_TMP, CACHE_DIR_NAME)
