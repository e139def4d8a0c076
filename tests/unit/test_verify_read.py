"""The readers of ``verify: read`` on crafted local files (verify.py): the tar walker's header rules (checksums,
base-256 and pax sizes, sparse maps, the end-of-archive blocks), the SQL dump structure of pg_dump and mysqldump,
and the part's type deciding the reader. The hostile files over real HTTP: tests/integration/test_verify_read_hostile.py."""

import gzip
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.errors import VerificationFailed, VerificationUnavailable
from ansible_collections.divio.cloud.plugins.module_utils.verify import ReadLimits, sniff, verify_read

STORAGE, DATABASE = {"service_type": "STORAGE"}, {"service_type": "DATABASE"}
PG_FIXTURE = Path(__file__).resolve().parents[1] / "simulator" / "divio_simulator" / "fixtures" / "shop.pgdump"
END = bytes(1024)


def header(name, size=0, kind=b"0", patch=None):
    """A ustar header; ``patch`` ``{offset: bytes}`` is applied before the checksum is set."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.type = size, 1700000000, 0o644, kind
    block = bytearray(info.tobuf(tarfile.USTAR_FORMAT)[:512])
    for offset, value in (patch or {}).items():
        block[offset:offset + len(value)] = value
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def member(name, data, **kwargs):
    return header(name, len(data), **kwargs) + data + bytes(-len(data) % 512)


def read(tmp_path, data, part=None, name="file", **limits):
    path = tmp_path / name
    path.write_bytes(data)
    return verify_read(str(path), sniff(str(path)), part or STORAGE, ReadLimits(**limits))


def test_a_plain_and_a_gzip_tar(tmp_path):
    data = member("a.txt", b"hello") + member("b.bin", bytes(1000)) + END
    checks, details = read(tmp_path, data)
    assert details == {"members": 2} and "(2 members, 1005 bytes)" in checks[0]
    checks, details = read(tmp_path, gzip.compress(data), name="file.gz")
    assert details == {"members": 2} and checks[0].startswith("the whole gzip stream")


def test_a_wrong_checksum_is_damage(tmp_path):
    good = member("a.txt", b"hello")
    broken = good[:10] + b"X" + good[11:]
    with pytest.raises(VerificationFailed, match="the tar header at byte 0 has a wrong checksum"):
        read(tmp_path, broken + END)


def test_a_lone_zero_block_or_a_cut_in_the_data_is_a_cut(tmp_path):
    with pytest.raises(VerificationFailed, match="a single zero block at byte 1024 after 1 member"):
        read(tmp_path, member("a.txt", b"hello") + bytes(512) + member("b.txt", b"x"))
    with pytest.raises(VerificationFailed, match="ends inside the data of member 1"):
        read(tmp_path, header("a.txt", 5000) + bytes(1000))


def test_a_base256_size_and_a_pax_size_say_where_the_next_header_is(tmp_path):
    big = header("big.bin", 0, patch={124: b"\x80" + (1536).to_bytes(11, "big")}) + bytes(1536)
    pax_record = b"15 size=000700\n"
    pax = header("././@PaxHeader", len(pax_record), kind=b"x") + pax_record + bytes(512 - len(pax_record))
    sized = pax + header("sized.bin", 0) + bytes(1024)  # 700 bytes of data, padded to 1024
    _checks, details = read(tmp_path, big + sized + member("last.txt", b"z") + END)
    assert details == {"members": 3}


def test_a_malformed_pax_header_is_damage(tmp_path):
    record = b"99 size=12\n"
    with pytest.raises(VerificationFailed, match="malformed record"):
        read(tmp_path, member("././@PaxHeader", record, kind=b"x") + member("a", b"") + END)


def test_an_old_gnu_sparse_member_and_its_extension_blocks(tmp_path):
    sparse = header("sparse.bin", 512, kind=b"S", patch={482: b"\x01"})
    extension = bytearray(512)
    extension[504] = 1  # another follows
    last_extension = bytes(512)
    data = sparse + bytes(extension) + last_extension + bytes(512) + member("after.txt", b"ok") + END
    _checks, details = read(tmp_path, data)
    assert details == {"members": 2}


def test_directories_and_links_carry_no_data(tmp_path):
    directory = header("media/", 4096, kind=tarfile.DIRTYPE)  # a size, but no data follows a directory
    _checks, details = read(tmp_path, directory + member("media/a", b"a") + END)
    assert details == {"members": 2}


def test_a_pax_header_past_the_cap_is_no_verdict(tmp_path):
    record = b"size=1\n"
    with pytest.raises(VerificationUnavailable, match="a pax header at byte 0 is 300000 bytes long"):
        read(tmp_path, header("././@PaxHeader", 300000, kind=b"x") + record)


def test_the_expanded_bytes_bound_applies_to_a_plain_tar_too(tmp_path):
    data = member("a.bin", bytes(3 * 1024 * 1024)) + END
    with pytest.raises(VerificationUnavailable, match="more than 1048576 bytes uncompressed, the bound of max_expanded_bytes"):
        read(tmp_path, data, max_expanded_bytes=1024 * 1024)


def test_a_gzip_stream_cut_short_is_broken(tmp_path):
    data = gzip.compress(member("a.bin", bytes(range(256)) * 400) + END)
    with pytest.raises(VerificationFailed, match="the gzip stream is broken"):
        read(tmp_path, data[:len(data) // 2], name="file.gz")


# -- SQL dumps ----------------------------------------------------------------------------------------------------

MYSQL = ("-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n-- Host: db    Database: app\n"
         "-- ------------------------------------------------------\n-- Server version\t8.0.36\n\n"
         "/*!40101 SET NAMES utf8mb4 */;\nDROP TABLE IF EXISTS `t`;\n")


def test_a_mysqldump_needs_its_header_and_its_closing_line(tmp_path):
    checks, _details = read(tmp_path, (MYSQL + "-- Dump completed on 2026-12-01 10:00:00\n").encode(), DATABASE)
    assert "mysqldump header and its closing '-- Dump completed' line" in checks[0]
    with pytest.raises(VerificationFailed, match="no closing '-- Dump completed' line: it was cut short"):
        read(tmp_path, MYSQL.encode(), DATABASE)
    with pytest.raises(VerificationFailed, match="its header stops before the first statement"):
        read(tmp_path, b"-- MySQL dump 10.13\n-- Dump completed\n", DATABASE)


@pytest.mark.parametrize("text", [b"-- dump\n", b"-- a dump of sorts\nSELECT 1;\n", b"/* dump */\n",
                                  b"--\n-- PostgreSQL database dump complete\n--\n"])
def test_sql_text_without_a_tools_header_is_no_dump(tmp_path, text):
    with pytest.raises(VerificationFailed, match=r"the SQL text \(\d+ bytes\) is no pg_dump or mysqldump dump"):
        read(tmp_path, text, DATABASE)


@pytest.mark.skipif(not shutil.which("pg_restore"), reason="pg_restore (PostgreSQL client) is not installed")
def test_a_pg_dump_text_dump_and_cut_versions_of_it(tmp_path):
    """The plain dump pg_restore writes from the simulator's fixture (what pg_dump -Fp writes, \\restrict included)."""
    text = subprocess.run(["pg_restore", "-f", "-", str(PG_FIXTURE)], capture_output=True, check=True).stdout
    checks, _details = read(tmp_path, text, DATABASE)
    assert "pg_dump header and its closing '-- PostgreSQL database dump complete' line" in checks[0]
    closing = text.index(b"-- PostgreSQL database dump complete")
    with pytest.raises(VerificationFailed, match="no closing '-- PostgreSQL database dump complete' line"):
        read(tmp_path, text[:closing], DATABASE)
    header_only = text[:text.index(b"-- Dumped by pg_dump version")] + b"-- PostgreSQL database dump complete\n"
    with pytest.raises(VerificationFailed, match="its header stops before the first statement"):
        read(tmp_path, header_only, DATABASE)


# -- the part's type decides the reader ---------------------------------------------------------------------------

def test_a_storage_part_holding_a_dump_fails_naming_it(tmp_path):
    data = PG_FIXTURE.read_bytes()
    with pytest.raises(VerificationFailed, match=r"a STORAGE part must be a media archive .*; this file is a pg_dump "
                                                 r"custom-format archive \(\d+ bytes, starting with b'PGDMP"):
        read(tmp_path, data, STORAGE)
    with pytest.raises(VerificationFailed, match="this file is in no format a backup part comes in"):
        read(tmp_path, b"\x00\x01 binary", DATABASE)


def test_a_part_of_another_type_is_no_verdict(tmp_path):
    with pytest.raises(VerificationUnavailable, match="service type 'CACHE' is neither DATABASE nor STORAGE"):
        read(tmp_path, member("a", b"") + END, {"service_type": "CACHE"})
