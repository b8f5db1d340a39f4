"""Space reclamation under a running server: 10,000 PUT/overwrite/DELETE cycles from boto3,
after which the compactor brings the segment files back within a bounded factor of the live
data; deleting everything returns them to nothing; every object reads back throughout, and a
GET racing the compactor never fails. Small (8 MiB) segments and a one-second idle interval
make the compactor's work visible within seconds.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import KiB, MiB, wait_for_segments_at_most

SEGMENT_MIB = 8
COMPACT_ENV = {
    "MAXIOFS_SEGMENT_MIB": str(SEGMENT_MIB),
    "MAXIOFS_COMPACT_INTERVAL_S": "1",
    "MAXIOFS_COMPACT_SEAL_IDLE_S": "1",
    "MAXIOFS_COMPACT_RATE_MIB": "256",
    "MAXIOFS_RESERVE_MIB": "0",
}
CYCLES = 10_000
THREADS = 8
KEYS_PER_THREAD = 24
# Seconds the compactor gets to bring the disk down (passes run every second when idle).
SHRINK_TIMEOUT_S = 90


def churn(s3, bucket: str, thread_no: int, cycles: int) -> dict[str, bytes]:
    """PUTs (new keys and overwrites) and DELETEs over this thread's own keys; what remains."""
    rng = random.Random(thread_no)
    model: dict[str, bytes] = {}
    for _ in range(cycles):
        key = f"t{thread_no}/k{rng.randrange(KEYS_PER_THREAD):02d}"
        if rng.random() < 0.3:
            s3.delete_object(Bucket=bucket, Key=key)
            model.pop(key, None)
        else:
            # Above the 4 KiB inline limit, so every object lives in segment records.
            body = rng.randbytes(rng.randrange(5 * KiB, 96 * KiB))
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            model[key] = body
    return model


def assert_reads_back(s3, bucket: str, model: dict[str, bytes]) -> None:
    for key, body in model.items():
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.md5(got).digest() == hashlib.md5(body).digest(), key


def test_churn_then_compaction_returns_the_space(server_factory):
    srv = server_factory(env=COMPACT_ENV)
    s3 = srv.client()
    bucket = "churned"
    s3.create_bucket(Bucket=bucket)

    with ThreadPoolExecutor(THREADS) as pool:
        parts = list(pool.map(lambda n: churn(s3, bucket, n, CYCLES // THREADS), range(THREADS)))
    model = {key: body for part in parts for key, body in part.items()}
    live_bytes = sum(len(body) for body in model.values())
    segment = SEGMENT_MIB * MiB
    # Live data (plus record headers and 4 KiB padding: at most 2x for objects of 5 KiB
    # and more), the active segment, and the one compaction writes into, per shard.
    bound = 2 * live_bytes + 2 * segment * srv.shards
    used = wait_for_segments_at_most(srv.data_dir, bound, SHRINK_TIMEOUT_S)
    assert used <= bound, f"{used} bytes of segments for {live_bytes} live bytes"
    assert_reads_back(s3, bucket, model)

    for key in model:
        s3.delete_object(Bucket=bucket, Key=key)
    used = wait_for_segments_at_most(srv.data_dir, 0, SHRINK_TIMEOUT_S)
    assert used == 0, f"{used} bytes of segments left after deleting everything"
    assert "compaction pass failed" not in srv.stderr_tail(200)

    body = os.urandom(300 * KiB)
    s3.put_object(Bucket=bucket, Key="after", Body=body)
    assert s3.get_object(Bucket=bucket, Key="after")["Body"].read() == body
    s3.delete_object(Bucket=bucket, Key="after")
    s3.delete_bucket(Bucket=bucket)


def test_reads_racing_the_compactor_never_fail(server_factory):
    """Objects whose segments are being compacted and removed are read in a loop meanwhile:
    every GET returns the right bytes (a request holds its segments until it is done)."""
    srv = server_factory(env=COMPACT_ENV)
    s3 = srv.client()
    bucket = "raced"
    s3.create_bucket(Bucket=bucket)
    kept = {f"kept/{n:03d}": os.urandom(200 * KiB + n) for n in range(40)}
    for n in range(400):
        # Interleave kept objects with garbage so every segment ends up mostly dead.
        if n % 10 == 0:
            key = f"kept/{n // 10:03d}"
            s3.put_object(Bucket=bucket, Key=key, Body=kept[key])
        s3.put_object(Bucket=bucket, Key=f"garbage/{n}", Body=os.urandom(200 * KiB))
    stop = threading.Event()
    failures: list[str] = []
    reads = [0]

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        keys = sorted(kept)
        while not stop.is_set():
            key = rng.choice(keys)
            try:
                got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                if got != kept[key]:
                    failures.append(f"{key}: wrong bytes")
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                failures.append(f"{key}: {exc!r}")
            reads[0] += 1

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        for n in range(400):
            s3.delete_object(Bucket=bucket, Key=f"garbage/{n}")
        live_bytes = sum(len(body) for body in kept.values())
        bound = 2 * live_bytes + 2 * SEGMENT_MIB * MiB * srv.shards
        used = wait_for_segments_at_most(srv.data_dir, bound, SHRINK_TIMEOUT_S)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[:5]
    assert reads[0] > 0
    assert used <= bound, f"{used} bytes of segments for {live_bytes} live bytes"
    assert_reads_back(s3, bucket, kept)


def shard_of(bucket: str, shards: int) -> int:
    """engine::shard_for: FNV-1a 64 of the name, modulo the shard count."""
    h = 0xCBF29CE484222325
    for byte in bucket.encode():
        h ^= byte
        h = (h * 0x100000001B3) % (1 << 64)
    return h % shards


def test_copies_across_shards_survive_compaction_of_the_source(server_factory):
    """A copy into a bucket of another shard has its own records: deleting the source and
    compacting its shard away leaves the copy readable."""
    srv = server_factory(env=COMPACT_ENV)
    if srv.shards < 2:
        pytest.skip("needs two shards")
    s3 = srv.client()
    source = next(f"src-{n}" for n in range(100) if shard_of(f"src-{n}", srv.shards) == 0)
    dest = next(f"dst-{n}" for n in range(100) if shard_of(f"dst-{n}", srv.shards) == 1)
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=dest)
    body = os.urandom(3 * MiB + 17)
    s3.put_object(Bucket=source, Key="orig", Body=body)
    s3.copy_object(Bucket=dest, Key="copy", CopySource={"Bucket": source, "Key": "orig"})
    # Fill the source shard past a few segments, then delete everything there.
    for n in range(24):
        s3.put_object(Bucket=source, Key=f"filler/{n}", Body=os.urandom(MiB))
    for n in range(24):
        s3.delete_object(Bucket=source, Key=f"filler/{n}")
    s3.delete_object(Bucket=source, Key="orig")
    shard_dir = srv.data_dir / "shard-0"
    used = wait_for_segments_at_most(shard_dir, 0, SHRINK_TIMEOUT_S)
    assert used == 0, f"{used} bytes of segments left on the source shard"
    assert s3.get_object(Bucket=dest, Key="copy")["Body"].read() == body
