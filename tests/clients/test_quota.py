"""Exact quotas (issue 16): concurrent uploads never overshoot a tenant's quota, every refused
write is 403 QuotaExceeded, usage always equals what the listings show (also after kill -9),
and overwrite, delete, versioned delete, abort and lifecycle expiry give the space back.
Bandwidth limits hold a tenant to its rate without slowing another tenant."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time

import pytest
from botocore.exceptions import ClientError

from admin_api import AdminApi

MiB = 1 << 20


def error_code(err: ClientError) -> str:
    return err.response["Error"]["Code"]


def listed_bytes(s3, bucket: str) -> tuple[int, int]:
    """(objects, bytes) over every version in the bucket."""
    count = total = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            count += 1
            total += version["Size"]
    return count, total


def put_all(s3, bucket: str, keys: list[str], size: int, threads: int = 16) -> list[str]:
    """PUTs every key concurrently; returns 'ok' or the error code per key."""
    body = b"q" * size

    def put(key):
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            return "ok"
        except ClientError as err:
            return error_code(err)

    with cf.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(put, keys))


@pytest.fixture(scope="module")
def quota_server(request):
    from conftest import MaxioServer

    srv = MaxioServer("quota", env={"MAXIOFS_LIFECYCLE_DAY_S": "1", "MAXIOFS_LIFECYCLE_INTERVAL_S": "1"})
    srv.start()
    yield srv
    if srv.running():
        srv.kill9()
    srv.cleanup_data()


@pytest.fixture(scope="module")
def admin(quota_server):
    return AdminApi(quota_server)


def test_concurrent_uploads_store_exactly_what_fits(admin):
    tenant, s3, _ = admin.tenant_with_key("race", quota={"storage_bytes": 10 * MiB})
    s3.create_bucket(Bucket="race-a")
    s3.create_bucket(Bucket="race-b")
    # Two buckets (owned by whichever shards their names hash to) share the tenant's quota.
    keys = [f"k{i}" for i in range(16)]
    with cf.ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda bucket: put_all(s3, bucket, keys, MiB, threads=8), ["race-a", "race-b"])
    outcomes = a + b
    assert outcomes.count("ok") == 10, outcomes
    assert set(outcomes) == {"ok", "QuotaExceeded"}, outcomes
    objects = sum(listed_bytes(s3, bucket)[0] for bucket in ("race-a", "race-b"))
    stored = sum(listed_bytes(s3, bucket)[1] for bucket in ("race-a", "race-b"))
    assert (objects, stored) == (10, 10 * MiB)
    usage = admin.usage("race")
    assert (usage["objects"], usage["storage_bytes"]) == (10, 10 * MiB)
    # The refusal is AWS-shaped: 403 with a message naming the quota.
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="race-a", Key="one-more", Body=b"x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error_code(refused.value) == "QuotaExceeded"
    assert "storage quota (10485760 bytes)" in refused.value.response["Error"]["Message"]
    # Small objects (stored inline by the commit) are held to the quota too.
    stored_a = [o["Key"] for o in s3.list_objects_v2(Bucket="race-a").get("Contents", [])]
    stored_b = [o["Key"] for o in s3.list_objects_v2(Bucket="race-b").get("Contents", [])]
    freed = ("race-a", stored_a[0]) if stored_a else ("race-b", stored_b[0])
    s3.delete_object(Bucket=freed[0], Key=freed[1])
    small = put_all(s3, "race-b", [f"small{i}" for i in range(300)], 4096)
    assert small.count("ok") == 256 and set(small) == {"ok", "QuotaExceeded"}
    assert admin.usage("race")["storage_bytes"] == 10 * MiB


def test_multipart_parts_count_and_abort_returns_them(admin):
    _, s3, _ = admin.tenant_with_key("parts", quota={"storage_bytes": 24 * MiB})
    s3.create_bucket(Bucket="parts-a")
    uploads = [s3.create_multipart_upload(Bucket="parts-a", Key=f"big{i}")["UploadId"] for i in range(4)]
    body = b"p" * (5 * MiB)

    def part(job):
        upload, number = job
        key = f"big{uploads.index(upload)}"
        try:
            s3.upload_part(Bucket="parts-a", Key=key, UploadId=upload, PartNumber=number, Body=body)
            return "ok"
        except ClientError as err:
            return error_code(err)

    jobs = [(upload, number) for upload in uploads for number in (1, 2)]
    with cf.ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(part, jobs))
    # 24 MiB holds four 5 MiB parts, not five.
    assert outcomes.count("ok") == 4 and set(outcomes) == {"ok", "QuotaExceeded"}, outcomes
    usage = admin.usage("parts")
    assert usage["multipart_bytes"] == 20 * MiB
    assert usage["storage_bytes"] == 20 * MiB
    for upload in uploads:
        s3.abort_multipart_upload(Bucket="parts-a", Key=f"big{uploads.index(upload)}", UploadId=upload)
    usage = admin.usage("parts")
    assert (usage["multipart_bytes"], usage["storage_bytes"]) == (0, 0)
    # The space is usable again, and a completed upload counts its object once.
    upload = s3.create_multipart_upload(Bucket="parts-a", Key="done")["UploadId"]
    etags = []
    for number in (1, 2, 3, 4):
        etag = s3.upload_part(Bucket="parts-a", Key="done", UploadId=upload, PartNumber=number, Body=body)["ETag"]
        etags.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(Bucket="parts-a", Key="done", UploadId=upload, MultipartUpload={"Parts": etags})
    usage = admin.usage("parts")
    assert (usage["objects"], usage["storage_bytes"], usage["multipart_bytes"]) == (1, 20 * MiB, 0)


def test_overwrite_delete_versions_and_lifecycle_return_the_space(admin):
    _, s3, _ = admin.tenant_with_key("space", quota={"storage_bytes": 3 * MiB, "objects": 3})
    s3.create_bucket(Bucket="space-a")
    one = b"o" * MiB
    # Overwriting replaces: the same key can be written again and again.
    for _ in range(5):
        s3.put_object(Bucket="space-a", Key="same", Body=one)
    assert admin.usage("space")["storage_bytes"] == MiB
    s3.put_object(Bucket="space-a", Key="two", Body=one)
    s3.put_object(Bucket="space-a", Key="three", Body=one)
    with pytest.raises(ClientError) as full:
        s3.put_object(Bucket="space-a", Key="four", Body=b"x")
    assert error_code(full.value) == "QuotaExceeded"
    # Delete returns the space.
    s3.delete_object(Bucket="space-a", Key="three")
    s3.put_object(Bucket="space-a", Key="four", Body=one)

    # Versioned: a delete marker keeps the bytes; deleting the version returns them.
    s3.put_bucket_versioning(Bucket="space-a", VersioningConfiguration={"Status": "Enabled"})
    s3.delete_object(Bucket="space-a", Key="four")
    with pytest.raises(ClientError) as still_full:
        s3.put_object(Bucket="space-a", Key="five", Body=b"x")
    assert error_code(still_full.value) == "QuotaExceeded"
    versions = s3.list_object_versions(Bucket="space-a", Prefix="four")["Versions"]
    s3.delete_object(Bucket="space-a", Key="four", VersionId=versions[0]["VersionId"])
    s3.put_object(Bucket="space-a", Key="five", Body=b"x" * 1000)
    usage = admin.usage("space")
    assert usage["objects"] == 3
    assert usage["storage_bytes"] == 2 * MiB + 1000

    # Lifecycle expiry (a "day" is one second on this server) returns the space too.
    s3.create_bucket(Bucket="space-life")
    s3.put_bucket_lifecycle_configuration(
        Bucket="space-life",
        LifecycleConfiguration={"Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
                                           "Expiration": {"Days": 1}}]},
    )
    for key in ("same", "two", "five"):
        s3.delete_object(Bucket="space-a", Key=key)
    for version in s3.list_object_versions(Bucket="space-a").get("Versions", []):
        s3.delete_object(Bucket="space-a", Key=version["Key"], VersionId=version["VersionId"])
    for marker in s3.list_object_versions(Bucket="space-a").get("DeleteMarkers", []):
        s3.delete_object(Bucket="space-a", Key=marker["Key"], VersionId=marker["VersionId"])
    assert admin.usage("space")["storage_bytes"] == 0
    for i in range(3):
        s3.put_object(Bucket="space-life", Key=f"old{i}", Body=one)
    with pytest.raises(ClientError):
        s3.put_object(Bucket="space-life", Key="new", Body=b"x")
    deadline = time.monotonic() + 30
    while admin.usage("space")["storage_bytes"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert admin.usage("space")["storage_bytes"] == 0
    s3.put_object(Bucket="space-life", Key="new", Body=one)


def test_bucket_quota_is_exact_and_reported_to_veeam(admin, quota_server):
    _, s3, _ = admin.tenant_with_key("bq")
    s3.create_bucket(Bucket="bq-a")
    admin.call("PUT", "/buckets/bq-a/quota", expect=200, json={"storage_bytes": 5 * MiB, "objects": None})
    outcomes = put_all(s3, "bq-a", [f"k{i}" for i in range(12)], MiB, threads=12)
    assert outcomes.count("ok") == 5 and set(outcomes) == {"ok", "QuotaExceeded"}, outcomes
    bucket = admin.call("GET", "/buckets/bq-a", expect=200).json()
    assert bucket["quota"]["storage_bytes"] == 5 * MiB
    assert bucket["usage"]["storage_bytes"] == 5 * MiB and bucket["usage"]["objects"] == 5
    # Veeam's capacity.xml reports the bucket quota.
    capacity = s3.get_object(Bucket="bq-a", Key=".system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c/capacity.xml")
    text = capacity["Body"].read().decode()
    assert f"<Capacity>{5 * MiB}</Capacity>" in text and "<Available>0</Available>" in text
    assert f"<Used>{5 * MiB}</Used>" in text


def test_usage_equals_the_listing_after_kill9_during_uploads(server_factory):
    srv = server_factory("quota-crash")
    api = AdminApi(srv)
    _, s3, key = api.tenant_with_key("crash", quota={"storage_bytes": 40 * MiB})
    s3.create_bucket(Bucket="crash-a")
    s3.create_bucket(Bucket="crash-b")
    stop = threading.Event()

    def writer(n):
        body = b"c" * MiB
        i = 0
        while not stop.is_set():
            try:
                s3.put_object(Bucket=("crash-a", "crash-b")[n % 2], Key=f"w{n}-{i % 30}", Body=body)
            except Exception:  # noqa: BLE001 - the server dies under us; outcomes are checked after.
                pass
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    srv.kill9()
    stop.set()
    for thread in threads:
        thread.join()
    srv.restart()
    api = AdminApi(srv)
    from helpers import make_client

    s3 = make_client(srv.endpoint, key["access_key_id"], key["secret_access_key"], "path")
    objects = sum(listed_bytes(s3, bucket)[0] for bucket in ("crash-a", "crash-b"))
    stored = sum(listed_bytes(s3, bucket)[1] for bucket in ("crash-a", "crash-b"))
    usage = api.usage("crash")
    assert (usage["objects"], usage["storage_bytes"]) == (objects, stored)
    assert stored <= 40 * MiB
    # The quota is still exact after the restart: fill it, and not a byte more.
    free = 40 * MiB - stored
    outcomes = put_all(s3, "crash-a", [f"fill{i}" for i in range(free // MiB + 6)], MiB)
    assert outcomes.count("ok") == free // MiB, outcomes
    assert api.usage("crash")["storage_bytes"] == stored + (free // MiB) * MiB
    # `maxiofs check` recounts every bucket's usage from the objects and agrees.
    assert srv.terminate() == 0
    import subprocess

    from conftest import SERVER_BIN

    check = subprocess.run([str(SERVER_BIN), "check", "--data-dir", str(srv.data_dir)],
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "usage" not in check.stdout + check.stderr


def test_bandwidth_limit_holds_one_tenant_and_spares_another(admin):
    rate = 20 * MiB
    _, slow, _ = admin.tenant_with_key("slow", bandwidth={"in_bytes_per_second": rate})
    _, fast, _ = admin.tenant_with_key("fast")
    slow.create_bucket(Bucket="slow-a")
    fast.create_bucket(Bucket="fast-a")
    body = b"b" * MiB
    count = 80  # 80 MiB: four seconds at the limit

    def fast_uploads(deadline):
        done = 0
        while time.monotonic() < deadline:
            fast.put_object(Bucket="fast-a", Key=f"f{done % 20}", Body=body)
            done += 1
        return done

    with cf.ThreadPoolExecutor(12) as pool:
        started = time.monotonic()
        fast_futures = [pool.submit(fast_uploads, started + 3.0) for _ in range(4)]
        slow_futures = [pool.submit(lambda i=i: slow.put_object(Bucket="slow-a", Key=f"s{i}", Body=body))
                        for i in range(count)]
        for future in slow_futures:
            future.result()
        slow_elapsed = time.monotonic() - started
        fast_done = sum(future.result() for future in fast_futures)
    slow_rate = count * MiB / slow_elapsed
    assert 0.9 * rate <= slow_rate <= 1.1 * rate, f"{slow_rate / MiB:.1f} MiB/s"
    # The unlimited tenant ran beside it well above the other's limit.
    assert fast_done * MiB / 3.0 > 2 * rate, f"{fast_done} MiB in 3 s"


def test_traffic_per_day_counts_requests_and_bytes(admin):
    _, s3, _ = admin.tenant_with_key("traffic")
    s3.create_bucket(Bucket="traffic-a")
    for i in range(3):
        s3.put_object(Bucket="traffic-a", Key=f"k{i}", Body=b"t" * MiB)
    assert len(s3.get_object(Bucket="traffic-a", Key="k0")["Body"].read()) == MiB
    # Shards hand their counts over every 5 s.
    deadline = time.monotonic() + 20
    while True:
        days = admin.usage("traffic")["days"]
        if days and days[0]["bytes_in"] >= 3 * MiB and days[0]["bytes_out"] >= MiB:
            break
        assert time.monotonic() < deadline, days
        time.sleep(0.5)
    today = days[0]
    assert today["date"] == time.strftime("%Y-%m-%d", time.gmtime())
    assert today["requests"] >= 4
    # Body bytes as sent (aws-chunked framing, when used, counts too).
    assert 3 * MiB <= today["bytes_in"] < 3 * MiB + 64 * 1024, today
    assert MiB <= today["bytes_out"] < MiB + 64 * 1024, today
