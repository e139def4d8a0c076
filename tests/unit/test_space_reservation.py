"""Downloads running at once hold their disk space (space.SpaceReservation): each checks the free space beside what
the others still need, so the backup check's concurrent verifications cannot together fill the disk."""

import collections
import threading

import pytest

from ansible_collections.divio.cloud.plugins.module_utils import space
from ansible_collections.divio.cloud.plugins.module_utils.errors import DownloadError

GIB = 1024 ** 3
Usage = collections.namedtuple("Usage", "total used free")


@pytest.fixture
def free_3_gib(monkeypatch):
    monkeypatch.setattr(space.shutil, "disk_usage", lambda path: Usage(10 * GIB, 7 * GIB, 3 * GIB))


def test_two_downloads_that_fit_only_one_at_a_time(free_3_gib, tmp_path):
    first, second = space.SpaceReservation(str(tmp_path), "dump 1"), space.SpaceReservation(str(tmp_path), "dump 2")
    first.hold(2 * GIB)
    with pytest.raises(DownloadError, match=r"dump 2: .* the file needs 2147483648 bytes plus a margin of 67108864, "
                                            r"and other downloads in progress there hold 2147483648\. Nothing was downloaded"):
        second.hold(2 * GIB)
    first.release()
    second.hold(2 * GIB)  # the first one's space is free again (on disk, its file now counts in the free space)
    second.release()
    assert space.SpaceReservation._held == {}


def test_a_refused_hold_holds_nothing_and_nothing_is_held_twice(free_3_gib, tmp_path):
    reservation = space.SpaceReservation(str(tmp_path), "dump")
    reservation.hold(None)  # no size known: nothing to hold
    with pytest.raises(DownloadError):
        reservation.hold(4 * GIB)
    assert space.SpaceReservation._held == {}
    reservation.hold(GIB)
    reservation.release()
    reservation.release()
    assert space.SpaceReservation._held == {}


def test_concurrent_holds_never_overcommit(free_3_gib, tmp_path):
    """Eight threads each ask for 1 GiB of 3 GiB free (less the margin): exactly two get it."""
    granted, barrier = [], threading.Barrier(8)

    def ask():
        reservation = space.SpaceReservation(str(tmp_path), "dump")
        barrier.wait()
        try:
            reservation.hold(GIB)
            granted.append(reservation)
        except DownloadError:
            pass

    threads = [threading.Thread(target=ask) for _index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(granted) == 2
    for reservation in granted:
        reservation.release()
    assert space.SpaceReservation._held == {}
