"""Object and bucket tagging: `x-amz-tagging` on PutObject, CreateMultipartUpload and CopyObject
(`x-amz-tagging-directive`), Get/Put/DeleteObjectTagging, and `x-amz-tagging-count` on GET/HEAD.

Limits and error codes are AWS's: at most 10 tags (BadRequest), keys 1..128 and values 0..256
characters, unique keys, no `aws:` prefix (InvalidTag). Bucket tags: Get/Put/DeleteBucketTagging,
at most 50 (BadRequest), NoSuchTagSet when there are none.
"""

from __future__ import annotations

import json

import pytest

from helpers import MiB, expect_client_error, rand_bytes, unique_bucket_name


def tags_of(s3, bucket, key):
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def test_put_with_tagging_header_then_get_head_and_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"tagged", Tagging="team=backup&note=a%20b%26c&empty=")
    assert tags_of(s3, bucket, "k") == {"team": "backup", "note": "a b&c", "empty": ""}
    assert s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "3"
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["TagCount"] == 3 and got["Body"].read() == b"tagged"
    # The stored form is internal: it never shows up as a header.
    assert not any(h.startswith("x-maxiofs") for h in got["ResponseMetadata"]["HTTPHeaders"])


def test_untagged_object_has_empty_tag_set_and_no_count(s3, bucket):
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="plain")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="plain")


def test_put_object_tagging_replaces_and_keeps_bytes_and_etag(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"body", Tagging="a=1")
    before = s3.head_object(Bucket=bucket, Key="k")
    s3.put_object_tagging(
        Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "b", "Value": "2"}, {"Key": "é ü", "Value": "<&>"}]}
    )
    assert tags_of(s3, bucket, "k") == {"b": "2", "é ü": "<&>"}
    after = s3.head_object(Bucket=bucket, Key="k")
    assert after["ETag"] == put["ETag"] == before["ETag"]
    assert after["LastModified"] == before["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"body"


def test_delete_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    resp = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert tags_of(s3, bucket, "k") == {}
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_tagging_a_missing_key_is_no_such_key(s3, bucket):
    expect_client_error(s3.get_object_tagging, Bucket=bucket, Key="nope", code="NoSuchKey", status=404)
    expect_client_error(
        s3.put_object_tagging, Bucket=bucket, Key="nope", Tagging={"TagSet": []}, code="NoSuchKey", status=404
    )
    expect_client_error(s3.delete_object_tagging, Bucket=bucket, Key="nope", code="NoSuchKey", status=404)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


@pytest.mark.parametrize(
    "tagging, code",
    [
        ("&".join(f"k{i}=v" for i in range(11)), "BadRequest"),
        ("a=1&a=2", "InvalidTag"),
        ("aws:reserved=1", "InvalidTag"),
        ("k" * 129 + "=v", "InvalidTag"),
        ("k=" + "v" * 257, "InvalidTag"),
    ],
    ids=["eleven-tags", "duplicate-key", "aws-prefix", "long-key", "long-value"],
)
def test_invalid_tagging_header_refused_and_nothing_stored(s3, bucket, tagging, code):
    expect_client_error(s3.put_object, Bucket=bucket, Key="bad", Body=b"x", Tagging=tagging, code=code, status=400)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_invalid_put_object_tagging_keeps_old_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=me")
    eleven = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
    expect_client_error(
        s3.put_object_tagging, Bucket=bucket, Key="k", Tagging={"TagSet": eleven}, code="BadRequest", status=400
    )
    ten = eleven[:10]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": ten})
    assert len(tags_of(s3, bucket, "k")) == 10
    dup = [{"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}]
    expect_client_error(
        s3.put_object_tagging, Bucket=bucket, Key="k", Tagging={"TagSet": dup}, code="InvalidTag", status=400
    )
    assert len(tags_of(s3, bucket, "k")) == 10


def test_copy_tagging_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", Tagging="from=source")
    s3.copy_object(Bucket=bucket, Key="copy-default", CopySource={"Bucket": bucket, "Key": "src"})
    assert tags_of(s3, bucket, "copy-default") == {"from": "source"}
    s3.copy_object(
        Bucket=bucket, Key="copy-replace", CopySource={"Bucket": bucket, "Key": "src"},
        TaggingDirective="REPLACE", Tagging="from=request",
    )
    assert tags_of(s3, bucket, "copy-replace") == {"from": "request"}
    s3.copy_object(
        Bucket=bucket, Key="copy-cleared", CopySource={"Bucket": bucket, "Key": "src"}, TaggingDirective="REPLACE"
    )
    assert tags_of(s3, bucket, "copy-cleared") == {}
    # Replacing metadata does not touch tags (they have their own directive).
    s3.copy_object(
        Bucket=bucket, Key="copy-meta", CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE", Metadata={"m": "1"},
    )
    assert tags_of(s3, bucket, "copy-meta") == {"from": "source"}
    expect_client_error(
        s3.copy_object, Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src"},
        TaggingDirective="MERGE", code="InvalidArgument", status=400,
    )


def test_multipart_upload_carries_tags(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="kind=multipart")
    data = rand_bytes(5 * MiB + 7, "tagged-multipart")
    parts = []
    for number, chunk in enumerate([data[: 5 * MiB], data[5 * MiB :]], start=1):
        etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=number, Body=chunk)
        parts.append({"PartNumber": number, "ETag": etag["ETag"]})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    assert tags_of(s3, bucket, "mp") == {"kind": "multipart"}
    assert s3.get_object(Bucket=bucket, Key="mp")["TagCount"] == 1


def test_overwrite_without_tagging_drops_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v1", Tagging="a=1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"v2")
    assert tags_of(s3, bucket, "k") == {}


def test_bucket_tagging_round_trips_with_aws_errors(s3):
    bucket = unique_bucket_name("btag")
    s3.create_bucket(Bucket=bucket)
    err = expect_client_error(s3.get_bucket_tagging, Bucket=bucket, code="NoSuchTagSet", status=404)
    assert err.response["Error"]["Message"] == "The TagSet does not exist"
    tags = [{"Key": "team", "Value": "storage"}, {"Key": "cost center", "Value": "42/ä"}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags
    # A PUT replaces the whole set.
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "only", "Value": ""}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "only", "Value": ""}]
    # 50 tags are fine; 51 are not.
    fifty = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": fifty})
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50
    expect_client_error(s3.put_bucket_tagging, Bucket=bucket, code="BadRequest",
                        Tagging={"TagSet": fifty + [{"Key": "k50", "Value": "v"}]})
    for bad in ([{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}],
                [{"Key": "k" * 129, "Value": "x"}],
                [{"Key": "k", "Value": "v" * 257}],
                [{"Key": "aws:reserved", "Value": "x"}]):
        expect_client_error(s3.put_bucket_tagging, Bucket=bucket, code="InvalidTag", Tagging={"TagSet": bad})
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50, "a refused PUT changes nothing"
    s3.delete_bucket_tagging(Bucket=bucket)
    expect_client_error(s3.get_bucket_tagging, Bucket=bucket, code="NoSuchTagSet")
    expect_client_error(s3.get_bucket_tagging, Bucket=unique_bucket_name("none"), code="NoSuchBucket")
    # Object tags are a separate set.
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", Tagging="a=1")
    assert s3.get_object_tagging(Bucket=bucket, Key="o")["TagSet"] == [{"Key": "a", "Value": "1"}]
    expect_client_error(s3.get_bucket_tagging, Bucket=bucket, code="NoSuchTagSet")


def test_bucket_tagging_with_the_aws_cli(s3, aws):
    bucket = unique_bucket_name("btagcli")
    s3.create_bucket(Bucket=bucket)
    aws("s3api", "put-bucket-tagging", "--bucket", bucket, "--tagging", "TagSet=[{Key=env,Value=prod}]")
    shown = json.loads(aws("s3api", "get-bucket-tagging", "--bucket", bucket).stdout)
    assert shown["TagSet"] == [{"Key": "env", "Value": "prod"}]
