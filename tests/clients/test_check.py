"""`maxiofs check`: the offline integrity check of a stopped server's data directory.

A clean directory checks OK; a flipped byte inside an object's segment record is found and named;
`--repair` drops exactly the damaged object (saying its data is lost) and the server then serves
everything else as before. The check refuses a directory a running server holds.
"""

from __future__ import annotations

import subprocess

from conftest import SERVER_BIN
from helpers import MiB, object_absent, rand_bytes

CHECK_TIMEOUT_S = 120


def run_check(data_dir, *extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SERVER_BIN), "check", "--data-dir", str(data_dir), *extra],
        capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )


def flip_byte_in_segments(data_dir, needle: bytes) -> None:
    """Flips one byte in the middle of the (first) segment record holding `needle`."""
    for path in sorted(data_dir.glob("shard-*/seg-*")):
        content = path.read_bytes()
        at = content.find(needle)
        if at >= 0:
            with open(path, "r+b") as f:
                f.seek(at + len(needle) // 2)
                f.write(bytes([content[at + len(needle) // 2] ^ 0xFF]))
            return
    raise AssertionError("object bytes not found in any segment file")


def test_check_finds_and_repairs_a_corrupt_object(server_factory, tmp_path):
    # Stored in clear so the test can find the object's bytes in the segment files; the
    # check verifies the crc32c of what is stored, encrypted or not.
    srv = server_factory(env={"MAXIOFS_ENCRYPTION": "off"})
    s3 = srv.client()
    s3.create_bucket(Bucket="checked")
    small = b"inline and safe"
    big = rand_bytes(3 * MiB + 5, "check-big")
    other = rand_bytes(2 * MiB, "check-other")
    s3.put_object(Bucket="checked", Key="small", Body=small)
    s3.put_object(Bucket="checked", Key="dir/big", Body=big)
    s3.put_object(Bucket="checked", Key="dir/other", Body=other)
    upload = s3.create_multipart_upload(Bucket="checked", Key="pending")
    s3.upload_part(Bucket="checked", Key="pending", UploadId=upload["UploadId"], PartNumber=1,
                   Body=rand_bytes(MiB, "check-part"))

    busy = run_check(srv.data_dir)
    assert busy.returncode == 2 and "in use" in busy.stderr, busy

    assert srv.terminate() == 0
    clean = run_check(srv.data_dir)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "check: OK" in clean.stdout
    # Every shard reports its counts: three objects and one multipart part in all.
    shard_lines = [line for line in clean.stdout.splitlines() if line.startswith("shard ")]
    assert sum(int(line.split(": ")[1].split(" objects")[0]) for line in shard_lines) == 3, clean.stdout
    assert sum(int(line.split("objects, ")[1].split(" multipart")[0]) for line in shard_lines) == 1

    # A byte flipped in the second MiB of "dir/big" (well inside one chunk's payload).
    flip_byte_in_segments(srv.data_dir, big[MiB + 4096 : MiB + 8192])
    found = run_check(srv.data_dir)
    assert found.returncode == 1, found.stdout + found.stderr
    problems = [line for line in found.stdout.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 1 and "checked/dir/big" in problems[0] and "checksum" in problems[0], found.stdout

    repaired = run_check(srv.data_dir, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert any(line.startswith("REPAIRED") and "dir/big" in line for line in repaired.stdout.splitlines())
    again = run_check(srv.data_dir)
    assert again.returncode == 0 and "check: OK" in again.stdout, again.stdout

    srv.restart()
    s3 = srv.client()
    assert object_absent(s3, "checked", "dir/big")
    assert s3.get_object(Bucket="checked", Key="small")["Body"].read() == small
    assert s3.get_object(Bucket="checked", Key="dir/other")["Body"].read() == other
    parts = s3.list_parts(Bucket="checked", Key="pending", UploadId=upload["UploadId"])["Parts"]
    assert [p["PartNumber"] for p in parts] == [1]


def test_check_refuses_what_is_not_a_data_directory(tmp_path):
    result = run_check(tmp_path / "nothing-here")
    assert result.returncode == 2 and "not a maxiofs data directory" in result.stderr
    assert not (tmp_path / "nothing-here").exists()


def test_check_passes_an_encrypted_store(server_factory):
    """Encrypted objects (the default), inline and chunked, check clean and survive --repair."""
    srv = server_factory()
    s3 = srv.client()
    s3.create_bucket(Bucket="sealed")
    s3.put_object(Bucket="sealed", Key="folder/", Body=b"")
    s3.put_object(Bucket="sealed", Key="tiny", Body=b"a hundred bytes" * 7)
    s3.put_object(Bucket="sealed", Key="big", Body=rand_bytes(2 * MiB + 1, "sealed-big"))
    assert srv.terminate() == 0
    for extra in [(), ("--repair",)]:
        result = run_check(srv.data_dir, *extra)
        assert result.returncode == 0 and "check: OK" in result.stdout, result.stdout + result.stderr
        assert "PROBLEM" not in result.stdout and "REPAIRED" not in result.stdout
    srv.restart()
    assert srv.client().get_object(Bucket="sealed", Key="tiny")["Body"].read() == b"a hundred bytes" * 7


def test_repair_drops_only_the_damaged_version(server_factory):
    srv = server_factory(env={"MAXIOFS_ENCRYPTION": "off"})
    s3 = srv.client()
    s3.create_bucket(Bucket="versioned-check", ObjectLockEnabledForBucket=True)
    old = rand_bytes(2 * MiB, "check-old-version")
    new = rand_bytes(2 * MiB, "check-new-version")
    old_id = s3.put_object(Bucket="versioned-check", Key="doc", Body=old, ObjectLockLegalHoldStatus="ON")["VersionId"]
    new_id = s3.put_object(Bucket="versioned-check", Key="doc", Body=new)["VersionId"]
    assert srv.terminate() == 0
    flip_byte_in_segments(srv.data_dir, old[MiB // 2 : MiB // 2 + 4096])
    found = run_check(srv.data_dir)
    problems = [line for line in found.stdout.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 1 and f"(version {old_id})" in problems[0], found.stdout
    # The damaged version goes even under a legal hold: its data is lost either way.
    repaired = run_check(srv.data_dir, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    srv.restart()
    s3 = srv.client()
    assert s3.get_object(Bucket="versioned-check", Key="doc", VersionId=new_id)["Body"].read() == new
    versions = s3.list_object_versions(Bucket="versioned-check")["Versions"]
    assert [v["VersionId"] for v in versions] == [new_id]
