"""Object Lock with boto3: buckets created with lock enabled (versioning forced on, never
suspendable), default retention, per-version retention and legal hold (XML with or without the S3
namespace), COMPLIANCE never shortened nor deleted early even by the root user, GOVERNANCE deleted
or shortened only with x-amz-bypass-governance-retention, locked keys still taking new versions,
DeleteObjects refusing locked versions per key, and RestoreObject accepted.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import requests

from helpers import err_code, expect_client_error, sign_request, xml_error_code

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def future(seconds: int) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)


def iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def lock_bucket(s3, name: str) -> str:
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def test_lock_enabled_bucket_configuration(s3, bucket_name):
    bucket = lock_bucket(s3, bucket_name)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    config = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert config == {"ObjectLockEnabled": "Enabled"}
    err = expect_client_error(
        s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
    )
    assert err_code(err) == "InvalidBucketState"
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    config = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert config["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}
    put = s3.put_object(Bucket=bucket, Key="defaulted", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="defaulted")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert future(23 * 3600) < until < future(25 * 3600)
    # A configuration without a Rule is valid and removes the default.
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert "Rule" not in s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    s3.delete_object(Bucket=bucket, Key="defaulted", VersionId=put["VersionId"], BypassGovernanceRetention=True)


def test_lock_configuration_needs_versioning(s3, bucket):
    err = expect_client_error(s3.get_object_lock_configuration, Bucket=bucket)
    assert err_code(err) == "ObjectLockConfigurationNotFoundError"
    err = expect_client_error(
        s3.put_object_lock_configuration, Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
    )
    assert err_code(err) == "InvalidBucketState"
    err = expect_client_error(
        s3.put_object,
        Bucket=bucket,
        Key="k",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=future(60),
    )
    assert err_code(err) == "InvalidRequest"
    # Enabling it on a versioned bucket works, as AWS allows since 2023.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"


def test_compliance_cannot_be_deleted_or_shortened_by_anyone(s3, bucket_name):
    bucket = lock_bucket(s3, bucket_name)
    until = future(3600)
    put = s3.put_object(
        Bucket=bucket, Key="c", Body=b"immutable", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until
    )
    version = put["VersionId"]
    for bypass in (False, True):
        err = expect_client_error(
            s3.delete_object, Bucket=bucket, Key="c", VersionId=version, BypassGovernanceRetention=bypass
        )
        assert err_code(err) == "AccessDenied"
    err = expect_client_error(
        s3.put_object_retention,
        Bucket=bucket,
        Key="c",
        VersionId=version,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": future(60)},
        BypassGovernanceRetention=True,
    )
    assert err_code(err) == "AccessDenied"
    err = expect_client_error(
        s3.put_object_retention,
        Bucket=bucket,
        Key="c",
        VersionId=version,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(7200)},
    )
    assert err_code(err) == "AccessDenied"
    # Extending is always allowed.
    later = future(7200)
    s3.put_object_retention(
        Bucket=bucket, Key="c", VersionId=version, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later}
    )
    retention = s3.get_object_retention(Bucket=bucket, Key="c", VersionId=version)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert abs((retention["RetainUntilDate"] - later).total_seconds()) < 2
    # The key still takes new versions, and a plain DELETE only adds a marker.
    s3.put_object(Bucket=bucket, Key="c", Body=b"newer")
    marker = s3.delete_object(Bucket=bucket, Key="c")
    assert marker["DeleteMarker"] is True
    assert s3.get_object(Bucket=bucket, Key="c", VersionId=version)["Body"].read() == b"immutable"
    expect_client_error(s3.delete_bucket, Bucket=bucket, code="BucketNotEmpty")


def test_governance_needs_bypass(s3, bucket_name):
    bucket = lock_bucket(s3, bucket_name)
    put = s3.put_object(
        Bucket=bucket, Key="g", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=future(3600)
    )
    version = put["VersionId"]
    expect_client_error(s3.delete_object, Bucket=bucket, Key="g", VersionId=version, code="AccessDenied")
    err = expect_client_error(
        s3.put_object_retention,
        Bucket=bucket,
        Key="g",
        VersionId=version,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(60)},
    )
    assert err_code(err) == "AccessDenied"
    s3.put_object_retention(
        Bucket=bucket,
        Key="g",
        VersionId=version,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(60)},
        BypassGovernanceRetention=True,
    )
    s3.delete_object(Bucket=bucket, Key="g", VersionId=version, BypassGovernanceRetention=True)
    expect_client_error(s3.get_object, Bucket=bucket, Key="g", VersionId=version, code="NoSuchVersion")


def test_legal_hold_blocks_deletes(s3, bucket_name):
    bucket = lock_bucket(s3, bucket_name)
    version = s3.put_object(Bucket=bucket, Key="h", Body=b"x", ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert s3.get_object_legal_hold(Bucket=bucket, Key="h", VersionId=version)["LegalHold"]["Status"] == "ON"
    assert s3.head_object(Bucket=bucket, Key="h")["ObjectLockLegalHoldStatus"] == "ON"
    for bypass in (False, True):
        expect_client_error(
            s3.delete_object,
            Bucket=bucket,
            Key="h",
            VersionId=version,
            BypassGovernanceRetention=bypass,
            code="AccessDenied",
        )
    s3.put_object_legal_hold(Bucket=bucket, Key="h", VersionId=version, LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=bucket, Key="h", VersionId=version)["LegalHold"]["Status"] == "OFF"
    s3.delete_object(Bucket=bucket, Key="h", VersionId=version)


def test_retention_xml_without_namespace_is_accepted(server, s3, bucket_name):
    """Veeam sends PutObjectRetention without the S3 xmlns."""
    bucket = lock_bucket(s3, bucket_name)
    version = s3.put_object(Bucket=bucket, Key="veeam.blk", Body=b"block")["VersionId"]
    until = iso(future(3600))
    for body in (
        f"<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>{until}</RetainUntilDate></Retention>",
        f'<Retention xmlns="{NS}"><Mode>COMPLIANCE</Mode><RetainUntilDate>{until}</RetainUntilDate></Retention>',
    ):
        data = body.encode()
        # As AWS, an integrity header is required on PutObjectRetention (Veeam sends Content-MD5).
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        for extra, status in (({}, 400), ({"Content-MD5": md5}, 200)):
            url, headers = sign_request(
                server.endpoint,
                server.access_key,
                server.secret_key,
                "PUT",
                f"/{bucket}/veeam.blk",
                query=f"retention=&versionId={version}",
                headers=extra,
                body=data,
            )
            response = requests.put(url, data=data, headers=headers, timeout=30)
            assert response.status_code == status, response.text
            if status == 400:
                assert xml_error_code(response.text) == "InvalidRequest", response.text
    retention = s3.get_object_retention(Bucket=bucket, Key="veeam.blk", VersionId=version)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    expect_client_error(s3.get_object_retention, Bucket=bucket, Key="none", code="NoSuchKey")


def test_delete_objects_refuses_locked_versions_per_key(s3, bucket_name):
    bucket = lock_bucket(s3, bucket_name)
    locked = s3.put_object(
        Bucket=bucket, Key="locked", Body=b"x", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=future(3600)
    )["VersionId"]
    free = s3.put_object(Bucket=bucket, Key="free", Body=b"x")["VersionId"]
    result = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "locked", "VersionId": locked}, {"Key": "free", "VersionId": free}]},
    )
    assert [d["Key"] for d in result.get("Deleted", [])] == ["free"]
    errors = result.get("Errors", [])
    assert [(e["Key"], e["Code"]) for e in errors] == [("locked", "AccessDenied")]


def test_restore_object_is_accepted(s3, bucket):
    s3.put_object(Bucket=bucket, Key="archived", Body=b"x")
    response = s3.restore_object(Bucket=bucket, Key="archived", RestoreRequest={"Days": 1})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    expect_client_error(s3.restore_object, Bucket=bucket, Key="missing", RestoreRequest={"Days": 1}, code="NoSuchKey")
