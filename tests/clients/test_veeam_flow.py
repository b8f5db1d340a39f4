"""A scripted Veeam-like session against one server, with boto3: SOSAPI documents, a versioned
Object Lock bucket, 64 concurrent PUTs of 1-4 MiB blocks with per-object COMPLIANCE retention,
bulk retention extension of every version, DeleteObjects in batches of 1000 (locked versions
refused per key), and ListObjectVersions of the whole bucket and of deep checkpoint prefixes.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

from helpers import KiB, MiB

SOSAPI = ".system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c"
BLOCKS = 256
CONCURRENCY = 64


def client(server):
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(max_pool_connections=CONCURRENCY, retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def all_versions(s3, bucket: str, prefix: str = "") -> list[dict]:
    out: list[dict] = []
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = s3.list_object_versions(**kwargs)
        out += page.get("Versions", []) + [dict(m, Marker=True) for m in page.get("DeleteMarkers", [])]
        if not page["IsTruncated"]:
            return out
        kwargs["KeyMarker"] = page["NextKeyMarker"]
        kwargs["VersionIdMarker"] = page["NextVersionIdMarker"]


def test_veeam_like_session(server, bucket_name):
    s3 = client(server)
    bucket = bucket_name
    # Veeam's first calls: the service and the bucket.
    assert s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    head = s3.head_bucket(Bucket=bucket)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"

    system = ET.fromstring(s3.get_object(Bucket=bucket, Key=f"{SOSAPI}/system.xml")["Body"].read())
    assert system.findtext("ProtocolVersion") == '"1.0"'
    assert system.findtext("ProtocolCapabilities/CapacityInfo") == "true"
    assert int(system.findtext("SystemRecommendations/S3MultiObjectDeleteLimit")) == 1000
    capacity = ET.fromstring(s3.get_object(Bucket=bucket, Key=f"{SOSAPI}/capacity.xml")["Body"].read())
    assert int(capacity.findtext("Capacity")) >= int(capacity.findtext("Available")) > 0

    # Backup: 64 concurrent block PUTs with COMPLIANCE retention, deep keys as Veeam writes them.
    retain = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    rng = random.Random(7)
    sizes = [rng.randrange(1 * MiB, 4 * MiB) for _ in range(BLOCKS)]
    prefix = "Veeam/Backup/Job1/Clients/{6f1c}/9a7e/CloudStg/Data/blocks"

    def put_block(n: int) -> tuple[str, str]:
        key = f"{prefix}/{n % 16:02x}/{n:08d}.blk"
        body = random.Random(n).randbytes(sizes[n])
        put = s3.put_object(
            Bucket=bucket, Key=key, Body=body, ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=retain
        )
        assert put["VersionId"], "Veeam fails on an empty versionId"
        return key, put["VersionId"]

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        written = list(pool.map(put_block, range(BLOCKS)))
    put_seconds = time.monotonic() - started
    checkpoint = "Veeam/Backup/Job1/Clients/{6f1c}/9a7e/CloudStg/Meta/Blocks/History/CheckpointHistory.{0001}"
    s3.put_object(Bucket=bucket, Key=checkpoint, Body=b"checkpoint", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=retain)

    # Block generation: extend the retention of every version in bulk.
    extended = retain + dt.timedelta(days=10)

    def extend(item: tuple[str, str]) -> None:
        key, version = item
        s3.put_object_retention(
            Bucket=bucket, Key=key, VersionId=version, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": extended}
        )

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(extend, written))
    extend_seconds = time.monotonic() - started
    sample_key, sample_version = written[17]
    got = s3.get_object_retention(Bucket=bucket, Key=sample_key, VersionId=sample_version)["Retention"]
    assert abs((got["RetainUntilDate"] - extended).total_seconds()) < 2

    # A locked key still takes new versions (repository takeover rewrites metadata).
    newer = s3.put_object(Bucket=bucket, Key=written[0][0], Body=b"rewritten")["VersionId"]
    assert newer != written[0][1]

    # Retention housekeeping: DeleteObjects in batches of 1000, locked versions refused per key.
    unlocked = []
    for n in range(1200):
        key = f"Veeam/Backup/Job1/tmp/{n:05d}"
        unlocked.append((key, s3.put_object(Bucket=bucket, Key=key, Body=b"t")["VersionId"]))
    targets = [{"Key": k, "VersionId": v} for k, v in unlocked + written]
    refused = 0
    deleted = 0
    for start in range(0, len(targets), 1000):
        result = s3.delete_objects(Bucket=bucket, Delete={"Objects": targets[start : start + 1000], "Quiet": False})
        deleted += len(result.get("Deleted", []))
        refused += sum(1 for e in result.get("Errors", []) if e["Code"] == "AccessDenied")
    assert deleted == 1200 and refused == BLOCKS

    # The whole bucket, and Veeam's checkpoint prefix with the "/" delimiter.
    versions = all_versions(s3, bucket)
    keys = {(v["Key"], v["VersionId"]) for v in versions}
    assert len(versions) == len(keys) == BLOCKS + 2  # the blocks, the checkpoint, the rewrite
    for key, version in written:
        assert (key, version) in keys
    page = s3.list_object_versions(
        Bucket=bucket, Prefix="Veeam/Backup/Job1/Clients/{6f1c}/9a7e/CloudStg/Meta/Blocks/History/", Delimiter="/"
    )
    assert [v["Key"] for v in page["Versions"]] == [checkpoint]
    page = s3.list_object_versions(Bucket=bucket, Prefix="Veeam/", Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["Veeam/Backup/"]
    assert "Versions" not in page, "no synthetic directory entries"
    print(f"\n64-way PUT of {BLOCKS} blocks: {put_seconds:.2f}s; bulk retention extension: {extend_seconds:.2f}s")
