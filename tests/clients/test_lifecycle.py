"""Bucket lifecycle with boto3: configurations round-trip and bad ones are refused; with a "day"
scaled to one second (MAXIOFS_LIFECYCLE_DAY_S=1) the background worker expires current versions
(delete markers in versioned buckets, deletes otherwise), expires noncurrent versions beyond
NewerNoncurrentVersions, removes delete markers left alone, aborts stale multipart uploads, honours
prefix/tag/size filters, and never removes a locked version.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from helpers import err_code, expect_client_error

FAST_ENV = {"MAXIOFS_LIFECYCLE_DAY_S": "1", "MAXIOFS_LIFECYCLE_INTERVAL_S": "1"}
# Rules of 2 "days" (2 s) with passes every second: done well within this.
SETTLE_TIMEOUT_S = 20


def wait_until(predicate, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError("lifecycle did not act in time")


def rule(rule_id: str, **parts) -> dict:
    return {"ID": rule_id, "Status": "Enabled", **parts}


def versions_of(s3, bucket: str, key: str) -> list[tuple[str, bool]]:
    page = s3.list_object_versions(Bucket=bucket, Prefix=key)
    entries = [(v["VersionId"], False) for v in page.get("Versions", []) if v["Key"] == key]
    entries += [(m["VersionId"], True) for m in page.get("DeleteMarkers", []) if m["Key"] == key]
    return entries


def test_configuration_round_trip_and_validation(s3, bucket):
    expect_client_error(s3.get_bucket_lifecycle_configuration, Bucket=bucket, code="NoSuchLifecycleConfiguration")
    config = {
        "Rules": [
            rule("logs", Filter={"Prefix": "logs/"}, Expiration={"Days": 30}),
            rule(
                "old-versions",
                Filter={"And": {"Prefix": "data/", "Tags": [{"Key": "tier", "Value": "cold"}]}},
                NoncurrentVersionExpiration={"NoncurrentDays": 7, "NewerNoncurrentVersions": 2},
            ),
            rule("mpu", Filter={"Prefix": ""}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 3}),
        ]
    }
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=config)
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == ["logs", "old-versions", "mpu"]
    assert got[1]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2}
    for bad in (
        {"Rules": [rule("x", Filter={"Prefix": ""}, Expiration={"Days": 0})]},
        {"Rules": [rule("x", Filter={"Prefix": ""})]},
        {"Rules": [rule("x", Filter={"Prefix": ""}, Expiration={"Days": 1}), rule("x", Filter={"Prefix": ""}, Expiration={"Days": 2})]},
    ):
        err = expect_client_error(s3.put_bucket_lifecycle_configuration, Bucket=bucket, LifecycleConfiguration=bad)
        assert err_code(err) in ("InvalidArgument", "MalformedXML")
    transition = {"Rules": [rule("t", Filter={"Prefix": ""}, Transitions=[{"Days": 1, "StorageClass": "GLACIER"}])]}
    err = expect_client_error(s3.put_bucket_lifecycle_configuration, Bucket=bucket, LifecycleConfiguration=transition)
    assert err_code(err) == "NotImplemented"
    s3.delete_bucket_lifecycle(Bucket=bucket)
    expect_client_error(s3.get_bucket_lifecycle_configuration, Bucket=bucket, code="NoSuchLifecycleConfiguration")


@pytest.fixture
def fast(server_factory):
    srv = server_factory(env=FAST_ENV)
    return srv.client()


def test_expiration_in_an_unversioned_bucket_with_filters(fast):
    s3 = fast
    s3.create_bucket(Bucket="lc-plain")
    s3.put_object(Bucket="lc-plain", Key="logs/small", Body=b"x")
    s3.put_object(Bucket="lc-plain", Key="logs/big", Body=b"x" * 5000)
    s3.put_object(Bucket="lc-plain", Key="keep/one", Body=b"x")
    s3.put_object(Bucket="lc-plain", Key="logs/tagged", Body=b"x", Tagging="purge=yes")
    s3.put_bucket_lifecycle_configuration(
        Bucket="lc-plain",
        LifecycleConfiguration={
            "Rules": [
                rule("small-logs", Filter={"And": {"Prefix": "logs/", "ObjectSizeLessThan": 1000}}, Expiration={"Days": 2}),
            ]
        },
    )

    def keys():
        return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lc-plain").get("Contents", []))

    wait_until(lambda: keys() == ["keep/one", "logs/big"])


def test_versioned_expiration_noncurrent_and_lone_markers(fast):
    s3 = fast
    bucket = "lc-versioned"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for n in range(4):
        s3.put_object(Bucket=bucket, Key="doc", Body=str(n).encode())
    s3.put_object(Bucket=bucket, Key="solo", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="solo")  # marker over one version
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                rule("nc", Filter={"Prefix": "doc"}, NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}),
                rule("expire", Filter={"Prefix": "doc"}, Expiration={"Days": 2}),
                rule("solo-nc", Filter={"Prefix": "solo"}, NoncurrentVersionExpiration={"NoncurrentDays": 1}),
                rule("markers", Filter={"Prefix": "solo"}, Expiration={"ExpiredObjectDeleteMarker": True}),
            ]
        },
    )
    # "doc": its current version expires behind a marker; of the noncurrent ones only the
    # newest (NewerNoncurrentVersions=1) stays once old enough.
    def doc_settled():
        entries = versions_of(s3, bucket, "doc")
        markers = [e for e in entries if e[1]]
        return len(markers) == 1 and len(entries) <= 3

    wait_until(doc_settled)
    # "solo": the version under the marker expires, then the lone marker goes too.
    wait_until(lambda: versions_of(s3, bucket, "solo") == [])


def test_lifecycle_never_removes_locked_versions_and_aborts_uploads(fast):
    s3 = fast
    bucket = "lc-locked"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    locked = s3.put_object(
        Bucket=bucket, Key="held", Body=b"x", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until
    )["VersionId"]
    s3.put_object(Bucket=bucket, Key="held", Body=b"newer")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="pending")["UploadId"]
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                rule("all", Filter={"Prefix": ""}, NoncurrentVersionExpiration={"NoncurrentDays": 1}),
                rule("mpu", Filter={"Prefix": ""}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1}),
            ]
        },
    )
    wait_until(lambda: not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"))
    expect_client_error(s3.list_parts, Bucket=bucket, Key="pending", UploadId=upload, code="NoSuchUpload")
    time.sleep(3)  # several more passes
    assert s3.get_object(Bucket=bucket, Key="held", VersionId=locked)["Body"].read() == b"x"
