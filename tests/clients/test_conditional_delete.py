"""Conditional deletes (issue 21): `If-Match` (an ETag or `*`), `x-amz-if-match-size` and
`x-amz-if-match-last-modified-time` on DeleteObject, and a per-key ETag, Size and
LastModifiedTime in DeleteObjects, checked on the owner shard inside the commit: 412
PreconditionFailed leaves the object (and adds no delete marker), 404 NoSuchKey when an ETag is
required of an object that is not there."""

from __future__ import annotations

from helpers import expect_client_error


def test_delete_if_match_etag_star_size_and_time(s3, bucket, aws):
    etag = s3.put_object(Bucket=bucket, Key="doc", Body=b"version one")["ETag"]
    head = s3.head_object(Bucket=bucket, Key="doc")
    expect_client_error(s3.delete_object, Bucket=bucket, Key="doc", IfMatch='"0123456789abcdef0123456789abcdef"',
                        code="PreconditionFailed", status=412)
    expect_client_error(s3.delete_object, Bucket=bucket, Key="doc", IfMatchSize=3,
                        code="PreconditionFailed", status=412)
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"version one"
    s3.delete_object(Bucket=bucket, Key="doc", IfMatch=etag, IfMatchSize=11,
                     IfMatchLastModifiedTime=head["LastModified"])
    expect_client_error(s3.head_object, Bucket=bucket, Key="doc", status=404)
    # An ETag (or "*") asks for an object that exists.
    expect_client_error(s3.delete_object, Bucket=bucket, Key="doc", IfMatch="*", code="NoSuchKey", status=404)
    s3.put_object(Bucket=bucket, Key="any", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="any", IfMatch="*")
    expect_client_error(s3.head_object, Bucket=bucket, Key="any", status=404)
    # The aws cli's --if-match.
    etag = s3.put_object(Bucket=bucket, Key="cli", Body=b"y")["ETag"]
    failed = aws("s3api", "delete-object", "--bucket", bucket, "--key", "cli", "--if-match", '"nope"', check=False)
    assert failed.returncode != 0 and "PreconditionFailed" in failed.stderr
    aws("s3api", "delete-object", "--bucket", bucket, "--key", "cli", "--if-match", etag)
    expect_client_error(s3.head_object, Bucket=bucket, Key="cli", status=404)


def test_a_failed_condition_adds_no_delete_marker(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    etag = s3.put_object(Bucket=bucket, Key="v", Body=b"1")["ETag"]
    expect_client_error(s3.delete_object, Bucket=bucket, Key="v", IfMatch='"ffffffffffffffffffffffffffffffff"',
                        code="PreconditionFailed")
    versions = s3.list_object_versions(Bucket=bucket, Prefix="v")
    assert "DeleteMarkers" not in versions and len(versions["Versions"]) == 1
    answer = s3.delete_object(Bucket=bucket, Key="v", IfMatch=etag)
    assert answer["DeleteMarker"] is True
    # A named version is checked as it is (it never changes).
    version_id = versions["Versions"][0]["VersionId"]
    expect_client_error(s3.delete_object, Bucket=bucket, Key="v", VersionId=version_id, IfMatchSize=99,
                        code="PreconditionFailed")
    s3.delete_object(Bucket=bucket, Key="v", VersionId=version_id, IfMatch=etag)
    assert len(s3.list_object_versions(Bucket=bucket, Prefix="v").get("Versions", [])) == 0


def test_delete_objects_with_per_key_etags(s3, bucket):
    kept_etag = s3.put_object(Bucket=bucket, Key="keep", Body=b"k")["ETag"]
    gone_etag = s3.put_object(Bucket=bucket, Key="gone", Body=b"g")["ETag"]
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "keep", "ETag": gone_etag},
        {"Key": "gone", "ETag": gone_etag, "Size": 1},
    ]})
    assert [d["Key"] for d in answer["Deleted"]] == ["gone"]
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("keep", "PreconditionFailed")]
    assert s3.head_object(Bucket=bucket, Key="keep")["ETag"] == kept_etag
