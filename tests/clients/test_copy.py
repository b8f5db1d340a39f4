"""CopyObject through boto3: metadata directives, copy-source conditions, large and awkward keys.

CopyObject in maxiofs moves no bytes (the new object names the source's extents), so the tests
also check that a copy outlives its source being overwritten or deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from botocore.exceptions import ClientError

from helpers import (
    MiB,
    crc32_b64,
    empty_and_delete_bucket,
    err_code,
    expect_client_error,
    md5_hex,
    object_absent,
    rand_bytes,
    unique_bucket_name,
)


@pytest.fixture
def other_bucket(s3):
    """A second created bucket, for cross-bucket copies."""
    name = unique_bucket_name("copy-dst")
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(s3, name)


def put_source(s3, bucket, key, data, **kw):
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=data,
        ContentType=kw.pop("ContentType", "text/x-source"),
        Metadata=kw.pop("Metadata", {"colour": "blue", "origin": "source"}),
        **kw,
    )
    return s3.head_object(Bucket=bucket, Key=key)


def read(s3, bucket, key) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


# --------------------------------------------------------------------------- directives


def test_copy_same_bucket_copies_bytes_and_metadata(s3, bucket):
    data = rand_bytes(100_000, "copy-same")
    src = put_source(s3, bucket, "src", data, CacheControl="max-age=60", ContentDisposition="inline")
    out = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert out["CopyObjectResult"]["ETag"] == src["ETag"] == f'"{md5_hex(data)}"'
    assert out["CopyObjectResult"]["LastModified"]

    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == data
    assert got["ETag"] == src["ETag"]
    assert got["ContentType"] == "text/x-source"
    assert got["Metadata"] == {"colour": "blue", "origin": "source"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "inline"
    # The source is untouched.
    assert read(s3, bucket, "src") == data


def test_copy_cross_bucket(s3, bucket, other_bucket):
    data = rand_bytes(300_000, "copy-cross")
    src = put_source(s3, bucket, "dir/src.bin", data)
    out = s3.copy_object(
        Bucket=other_bucket,
        Key="elsewhere/dst.bin",
        CopySource={"Bucket": bucket, "Key": "dir/src.bin"},
        MetadataDirective="COPY",
    )
    assert out["CopyObjectResult"]["ETag"] == src["ETag"]
    got = s3.get_object(Bucket=other_bucket, Key="elsewhere/dst.bin")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"colour": "blue", "origin": "source"}
    assert got["ContentType"] == "text/x-source"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=other_bucket).get("Contents", [])]
    assert keys == ["elsewhere/dst.bin"]
    # boto3 sent a CRC32 with the source; the copy holds the same bytes and so the same checksum.
    head = s3.head_object(Bucket=other_bucket, Key="elsewhere/dst.bin", ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC32") == crc32_b64(data), head


def test_copy_metadata_replace(s3, bucket, other_bucket):
    data = b"replace me" * 1000
    put_source(s3, bucket, "src", data)
    s3.copy_object(
        Bucket=other_bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        ContentType="application/x-replaced",
        Metadata={"fresh": "yes"},
    )
    got = s3.get_object(Bucket=other_bucket, Key="dst")
    assert got["Body"].read() == data
    assert got["ContentType"] == "application/x-replaced"
    # REPLACE drops every old user-metadata key.
    assert got["Metadata"] == {"fresh": "yes"}
    src = s3.head_object(Bucket=bucket, Key="src")
    assert src["Metadata"] == {"colour": "blue", "origin": "source"}
    assert src["ContentType"] == "text/x-source"
    # REPLACE without a Content-Type: the copy gets S3's default, not the source's.
    s3.copy_object(
        Bucket=other_bucket, Key="dst2", CopySource={"Bucket": bucket, "Key": "src"}, MetadataDirective="REPLACE"
    )
    dst2 = s3.head_object(Bucket=other_bucket, Key="dst2")
    assert dst2["ContentType"] == "binary/octet-stream"
    assert dst2["Metadata"] == {}


def test_copy_onto_itself_without_replace_is_invalid_request(s3, bucket):
    data = b"self copy"
    before = put_source(s3, bucket, "self", data)
    expect_client_error(
        s3.copy_object,
        Bucket=bucket,
        Key="self",
        CopySource={"Bucket": bucket, "Key": "self"},
        code="InvalidRequest",
        status=400,
    )
    expect_client_error(
        s3.copy_object,
        Bucket=bucket,
        Key="self",
        CopySource={"Bucket": bucket, "Key": "self"},
        MetadataDirective="COPY",
        code="InvalidRequest",
        status=400,
    )
    after = s3.head_object(Bucket=bucket, Key="self")
    assert after["Metadata"] == before["Metadata"]
    assert after["LastModified"] == before["LastModified"]


def test_copying_an_older_version_over_its_key_restores_it(s3, bucket):
    """AWS's way to restore a previous version: copy it onto its own key, no other change."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="doc", Body=b"first", Metadata={"v": "1"})["VersionId"]
    latest = s3.put_object(Bucket=bucket, Key="doc", Body=b"second")["VersionId"]
    restored = s3.copy_object(Bucket=bucket, Key="doc", CopySource={"Bucket": bucket, "Key": "doc", "VersionId": old})
    assert restored["CopySourceVersionId"] == old and restored["VersionId"] not in (old, latest)
    got = s3.get_object(Bucket=bucket, Key="doc")
    assert got["Body"].read() == b"first" and got["Metadata"] == {"v": "1"}
    # Naming the latest version is still a copy onto itself.
    expect_client_error(s3.copy_object, Bucket=bucket, Key="doc", code="InvalidRequest",
                        CopySource={"Bucket": bucket, "Key": "doc", "VersionId": restored["VersionId"]})


def test_copy_onto_itself_with_replace_changes_metadata_keeps_bytes(s3, bucket):
    data = rand_bytes(50_000, "self-replace")
    before = put_source(s3, bucket, "self", data)
    s3.copy_object(
        Bucket=bucket,
        Key="self",
        CopySource={"Bucket": bucket, "Key": "self"},
        MetadataDirective="REPLACE",
        ContentType="image/x-new",
        Metadata={"generation": "2"},
    )
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Body"].read() == data
    assert got["ETag"] == before["ETag"]
    assert got["ContentType"] == "image/x-new"
    assert got["Metadata"] == {"generation": "2"}
    assert got["LastModified"] >= before["LastModified"]


def test_copy_unknown_metadata_directive_rejected(s3, bucket):
    put_source(s3, bucket, "src", b"x")
    # botocore checks only that the directive is a string; AWS answers 400 InvalidArgument.
    expect_client_error(
        s3.copy_object,
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="MERGE",
        code="InvalidArgument",
        status=400,
    )
    assert object_absent(s3, bucket, "dst")


@pytest.mark.parametrize("directive", ["COPY", "REPLACE"])
def test_copy_tagging_directive_accepted(s3, bucket, directive):
    data = b"tagged source"
    put_source(s3, bucket, "src", data)
    kw = {"Tagging": "team=storage&tier=hot"} if directive == "REPLACE" else {}
    s3.copy_object(
        Bucket=bucket,
        Key=f"dst-{directive}",
        CopySource={"Bucket": bucket, "Key": "src"},
        TaggingDirective=directive,
        **kw,
    )
    assert read(s3, bucket, f"dst-{directive}") == data


def test_copy_tagging_directive_tags_round_trip(s3, bucket):
    """With tagging supported, COPY keeps the source's tags and REPLACE sets the given ones."""
    try:
        s3.put_object(Bucket=bucket, Key="src", Body=b"t", Tagging="a=1")
        src_tags = s3.get_object_tagging(Bucket=bucket, Key="src")["TagSet"]
    except ClientError as exc:
        if err_code(exc) == "NotImplemented":
            pytest.skip(f"object tagging is not implemented by the server: {exc.response['Error']}")
        raise
    assert src_tags == [{"Key": "a", "Value": "1"}]
    src = {"Bucket": bucket, "Key": "src"}
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=src, TaggingDirective="COPY")
    assert s3.get_object_tagging(Bucket=bucket, Key="copy")["TagSet"] == [{"Key": "a", "Value": "1"}]
    s3.copy_object(Bucket=bucket, Key="repl", CopySource=src, TaggingDirective="REPLACE", Tagging="b=2")
    assert s3.get_object_tagging(Bucket=bucket, Key="repl")["TagSet"] == [{"Key": "b", "Value": "2"}]


# --------------------------------------------------------------------------- copy-source conditions


def test_copy_source_if_match(s3, bucket):
    src = put_source(s3, bucket, "src", b"if-match source")
    source = {"Bucket": bucket, "Key": "src"}
    s3.copy_object(Bucket=bucket, Key="ok", CopySource=source, CopySourceIfMatch=src["ETag"])
    assert read(s3, bucket, "ok") == b"if-match source"
    expect_client_error(
        s3.copy_object,
        Bucket=bucket,
        Key="refused",
        CopySource=source,
        CopySourceIfMatch='"0123456789abcdef0123456789abcdef"',
        code="PreconditionFailed",
        status=412,
    )
    assert object_absent(s3, bucket, "refused")


def test_copy_source_if_none_match(s3, bucket):
    src = put_source(s3, bucket, "src", b"if-none-match source")
    source = {"Bucket": bucket, "Key": "src"}
    # AWS answers a copy whose x-amz-copy-source-if-none-match matches with 412 (not 304).
    expect_client_error(
        s3.copy_object,
        Bucket=bucket,
        Key="refused",
        CopySource=source,
        CopySourceIfNoneMatch=src["ETag"],
        code="PreconditionFailed",
        status=412,
    )
    assert object_absent(s3, bucket, "refused")
    s3.copy_object(
        Bucket=bucket, Key="ok", CopySource=source, CopySourceIfNoneMatch='"0123456789abcdef0123456789abcdef"'
    )
    assert read(s3, bucket, "ok") == b"if-none-match source"


def test_copy_source_if_modified_since(s3, bucket):
    src = put_source(s3, bucket, "src", b"modified-since source")
    source = {"Bucket": bucket, "Key": "src"}
    last_modified = src["LastModified"]
    s3.copy_object(
        Bucket=bucket,
        Key="ok",
        CopySource=source,
        CopySourceIfModifiedSince=last_modified - dt.timedelta(days=1),
    )
    assert read(s3, bucket, "ok") == b"modified-since source"
    # Not modified since its own Last-Modified second: 412 for a copy.
    expect_client_error(
        s3.copy_object,
        Bucket=bucket,
        Key="refused",
        CopySource=source,
        CopySourceIfModifiedSince=last_modified,
        code="PreconditionFailed",
        status=412,
    )
    assert object_absent(s3, bucket, "refused")


def test_copy_source_if_unmodified_since(s3, bucket):
    src = put_source(s3, bucket, "src", b"unmodified-since source")
    source = {"Bucket": bucket, "Key": "src"}
    last_modified = src["LastModified"]
    s3.copy_object(
        Bucket=bucket,
        Key="ok",
        CopySource=source,
        CopySourceIfUnmodifiedSince=last_modified,
    )
    assert read(s3, bucket, "ok") == b"unmodified-since source"
    expect_client_error(
        s3.copy_object,
        Bucket=bucket,
        Key="refused",
        CopySource=source,
        CopySourceIfUnmodifiedSince=last_modified - dt.timedelta(days=1),
        code="PreconditionFailed",
        status=412,
    )
    assert object_absent(s3, bucket, "refused")


def test_copy_source_if_match_wins_over_if_unmodified_since(s3, bucket):
    """AWS: if-match true and if-unmodified-since false together copy the object (200)."""
    src = put_source(s3, bucket, "src", b"both conditions")
    s3.copy_object(
        Bucket=bucket,
        Key="ok",
        CopySource={"Bucket": bucket, "Key": "src"},
        CopySourceIfMatch=src["ETag"],
        CopySourceIfUnmodifiedSince=src["LastModified"] - dt.timedelta(days=1),
    )
    assert read(s3, bucket, "ok") == b"both conditions"


def test_copy_destination_if_none_match_and_if_match(s3, bucket):
    """Conditional writes apply to the copy's destination as to a PutObject."""
    put_source(s3, bucket, "src", b"new bytes")
    source = {"Bucket": bucket, "Key": "src"}
    dest_etag = s3.put_object(Bucket=bucket, Key="dst", Body=b"existing")["ETag"]
    expect_client_error(
        s3.copy_object, Bucket=bucket, Key="dst", CopySource=source, IfNoneMatch="*",
        code="PreconditionFailed", status=412,
    )  # fmt: skip
    expect_client_error(
        s3.copy_object, Bucket=bucket, Key="dst", CopySource=source, IfMatch='"0123456789abcdef0123456789abcdef"',
        code="PreconditionFailed", status=412,
    )  # fmt: skip
    assert read(s3, bucket, "dst") == b"existing"
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, IfMatch=dest_etag)
    assert read(s3, bucket, "dst") == b"new bytes"
    s3.copy_object(Bucket=bucket, Key="fresh", CopySource=source, IfNoneMatch="*")
    assert read(s3, bucket, "fresh") == b"new bytes"


# --------------------------------------------------------------------------- size, errors, keys


def test_copy_large_object_survives_source_overwrite_and_delete(s3, bucket, other_bucket):
    data = rand_bytes(64 * MiB, "copy-large")
    digest = hashlib.sha256(data).hexdigest()
    middle = data[33_000_000:34_200_001]
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    out = s3.copy_object(Bucket=other_bucket, Key="big-copy", CopySource={"Bucket": bucket, "Key": "big"})
    assert out["CopyObjectResult"]["ETag"] == f'"{md5_hex(data)}"'
    del data

    got = s3.get_object(Bucket=other_bucket, Key="big-copy")
    assert got["ContentLength"] == 64 * MiB
    assert hashlib.sha256(got["Body"].read()).hexdigest() == digest
    # 1.2 MB from the middle: longer than one stored chunk (about 1 MiB), so it crosses one.
    part = s3.get_object(Bucket=other_bucket, Key="big-copy", Range="bytes=33000000-34200000")["Body"].read()
    assert part == middle

    # The copy shares the source's stored bytes: it must outlive both an overwrite and a delete.
    s3.put_object(Bucket=bucket, Key="big", Body=b"overwritten")
    s3.delete_object(Bucket=bucket, Key="big")
    got = s3.get_object(Bucket=other_bucket, Key="big-copy")
    assert hashlib.sha256(got["Body"].read()).hexdigest() == digest


def test_copy_from_missing_key_is_no_such_key(s3, bucket):
    expect_client_error(
        s3.copy_object,
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "never-written"},
        code="NoSuchKey",
        status=404,
    )
    assert object_absent(s3, bucket, "dst")


def test_copy_from_missing_bucket_is_no_such_bucket(s3, bucket):
    missing = unique_bucket_name("copy-missing")
    expect_client_error(
        s3.copy_object,
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": missing, "Key": "k"},
        code="NoSuchBucket",
        status=404,
    )
    assert object_absent(s3, bucket, "dst")


def test_copy_into_missing_bucket_is_no_such_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    expect_client_error(
        s3.copy_object,
        Bucket=unique_bucket_name("copy-missing-dst"),
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        code="NoSuchBucket",
        status=404,
    )


SPECIAL_KEYS = [
    "dir with spaces/file name.txt",
    "plus+sign+key=1&x.txt",
    "percent%20literal%2F/100%.bin",
    "ключ/日本語/emoji-✓.txt",
    "tilde~star*quote'paren()!bang",
    "what?is#this&that.txt",
    "semi;colon,comma:colon@at$dollar",
]


@pytest.mark.parametrize("key", SPECIAL_KEYS, ids=range(len(SPECIAL_KEYS)))
def test_copy_source_with_special_characters(s3, bucket, other_bucket, key):
    data = f"bytes of {key}".encode()
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    # Dict form: botocore percent-encodes the key (space -> %20, + -> %2B, % -> %25).
    s3.copy_object(Bucket=other_bucket, Key=key, CopySource={"Bucket": bucket, "Key": key})
    assert read(s3, other_bucket, key) == data
    # String form "bucket/key": botocore quotes the whole string the same way.
    s3.copy_object(Bucket=other_bucket, Key=key + ".2", CopySource=f"{bucket}/{key}")
    assert read(s3, other_bucket, key + ".2") == data
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=other_bucket).get("Contents", []))
    assert keys == sorted([key, key + ".2"])
