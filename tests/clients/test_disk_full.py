"""A full data disk, then space coming back (issue 14, part 8).

On a small filesystem (a 1.2 GB ext4 loop mount, two shards, default segment size and reserve),
PUTs of 1 MiB are accepted until the disk is full, then refused with 507 InsufficientStorage;
after half of the objects are deleted the compactor returns their space and PUTs must be
accepted again within a minute (the reserve is proportional to the filesystem, so a small disk
is not kept refusing writes with hundreds of MiB free). Nothing acknowledged is lost, and the
server logs the state change once ("data disk full" / "writable again"), not every refusal.

The loop mount needs root and a kernel that allows it (CI runs as root on such a machine); where
it cannot be made the test is skipped, and the engine's simulated-disk tests (`cargo test -p
engine`) still cover a full disk recovering after deletes and compaction.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from helpers import MiB, err_status

FILESYSTEM_BYTES = 1_200_000_000
OBJECT_BYTES = 1 * MiB
RESUME_TIMEOUT_S = 60


@pytest.fixture
def small_filesystem(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("a loop mount needs root")
    image = tmp_path / "disk.img"
    mount = tmp_path / "mnt"
    mount.mkdir()
    with open(image, "wb") as f:
        f.truncate(FILESYSTEM_BYTES)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True, text=True)
    mounted = made.returncode == 0 and (
        subprocess.run(["mount", "-o", "loop", str(image), str(mount)], capture_output=True).returncode == 0
    )
    if not mounted:
        pytest.skip(f"cannot make a loop-mounted filesystem here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def put_until_full(s3, bucket: str) -> dict[str, str]:
    """PUTs distinct 1 MiB objects from 8 threads until every thread got 507; returns the
    acknowledged keys with their MD5."""
    acked: dict[str, str] = {}

    def writer(thread_no: int) -> None:
        n = 0
        while True:
            key = f"t{thread_no}/{n:05d}"
            body = os.urandom(OBJECT_BYTES)
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=body)
            except ClientError as exc:
                assert err_status(exc) == 507, exc.response
                assert exc.response["Error"]["Code"] == "InsufficientStorage"
                return
            acked[key] = hashlib.md5(body).hexdigest()
            n += 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(writer, range(8)))
    return acked


def test_full_disk_recovers_after_deletes(server_factory, small_filesystem: Path):
    srv = server_factory(
        data_dir=small_filesystem / "data",
        env={"MAXIOFS_COMPACT_INTERVAL_S": "2", "MAXIOFS_SCRUB_RATE_MIB": "0"},
    )
    s3 = srv.client()
    s3.create_bucket(Bucket="fills")
    acked = put_until_full(s3, "fills")
    assert len(acked) > 500, f"only {len(acked)} MiB fit on a 1.2 GB filesystem"

    deleted = sorted(acked)[::2]
    for key in deleted:
        s3.delete_object(Bucket="fills", Key=key)
        del acked[key]

    deadline = time.monotonic() + RESUME_TIMEOUT_S
    resumed_after_s = None
    started = time.monotonic()
    body = os.urandom(OBJECT_BYTES)
    while time.monotonic() < deadline:
        try:
            s3.put_object(Bucket="fills", Key="after-delete", Body=body)
        except ClientError as exc:
            assert err_status(exc) == 507, exc.response
            time.sleep(1)
            continue
        resumed_after_s = time.monotonic() - started
        acked["after-delete"] = hashlib.md5(body).hexdigest()
        break
    assert resumed_after_s is not None, (
        f"PUTs still refused {RESUME_TIMEOUT_S} s after deleting half of the objects "
        f"({os.statvfs(small_filesystem).f_bavail * os.statvfs(small_filesystem).f_frsize} bytes free)"
    )

    for key, md5 in acked.items():
        got = s3.get_object(Bucket="fills", Key=key)["Body"].read()
        assert hashlib.md5(got).hexdigest() == md5, key

    log = srv.stderr_tail(100_000)
    full_logs = log.count("data disk full")
    assert 1 <= full_logs <= srv.shards, f"'data disk full' logged {full_logs} times"
    assert "writable again" in log
