"""Bucket versioning with boto3, checked against AWS's documented semantics: version ids on every
write in a versioned bucket, the `null` version of objects written before versioning and while it
is suspended, delete markers (404 with x-amz-delete-marker on GET, 405 by version id), GET/HEAD/
DELETE/COPY/tagging by version id, and ListObjectVersions paging (5,000 versions of 50 keys, page
by page, nothing lost or repeated) with prefixes and delimiters.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from helpers import err_code, err_status, expect_client_error


def enable(s3, bucket: str, status: str = "Enabled") -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def body_of(s3, bucket: str, key: str, version_id: str | None = None) -> bytes:
    kwargs = {"VersionId": version_id} if version_id else {}
    return s3.get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read()


def all_versions(s3, bucket: str, prefix: str = "", page_size: int = 1000) -> list[dict]:
    """Every Version and DeleteMarker entry, following the markers page by page."""
    out: list[dict] = []
    kwargs = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
    while True:
        page = s3.list_object_versions(**kwargs)
        entries = [dict(v, Kind="Version") for v in page.get("Versions", [])]
        entries += [dict(m, Kind="DeleteMarker") for m in page.get("DeleteMarkers", [])]
        # boto3 splits the two kinds; the server's order is by key, newest first.
        entries.sort(key=lambda e: (e["Key"], -e["LastModified"].timestamp(), e["VersionId"]))
        out.extend(entries)
        if not page["IsTruncated"]:
            return out
        kwargs["KeyMarker"] = page["NextKeyMarker"]
        kwargs["VersionIdMarker"] = page["NextVersionIdMarker"]


def test_get_put_bucket_versioning(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    err = expect_client_error(
        s3.put_bucket_versioning,
        Bucket=bucket,
        VersioningConfiguration={"Status": "Off"},
    )
    assert err_code(err) == "MalformedXML"


def test_enabling_on_existing_objects_makes_them_null_versions(s3, bucket):
    s3.put_object(Bucket=bucket, Key="old", Body=b"before")
    head = s3.head_object(Bucket=bucket, Key="old")
    assert "VersionId" not in head, "an unversioned bucket sends no version id"
    enable(s3, bucket)
    put = s3.put_object(Bucket=bucket, Key="old", Body=b"after")
    new_id = put["VersionId"]
    assert new_id and new_id != "null"
    assert body_of(s3, bucket, "old") == b"after"
    assert body_of(s3, bucket, "old", "null") == b"before"
    assert body_of(s3, bucket, "old", new_id) == b"after"
    assert s3.head_object(Bucket=bucket, Key="old")["VersionId"] == new_id
    versions = all_versions(s3, bucket, "old")
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(new_id, True), ("null", False)]


def test_every_write_in_a_versioned_bucket_returns_a_version_id(s3, bucket):
    enable(s3, bucket)
    ids = [s3.put_object(Bucket=bucket, Key="k/", Body=str(n).encode())["VersionId"] for n in range(3)]
    assert len(set(ids)) == 3 and all(ids)
    copy = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k/", "VersionId": ids[0]})
    assert copy["VersionId"] and copy["CopySourceVersionId"] == ids[0]
    assert body_of(s3, bucket, "copy") == b"0"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"m" * 100)
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert done["VersionId"]
    # A key ending in "/" is a real key with real versions.
    versions = all_versions(s3, bucket, "k/")
    assert [v["VersionId"] for v in versions] == list(reversed(ids))


def test_suspended_overwrites_replace_only_the_null_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"unversioned")
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    enable(s3, bucket, "Suspended")
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"s1")
    assert put["VersionId"] == "null"
    s3.put_object(Bucket=bucket, Key="k", Body=b"s2")
    versions = all_versions(s3, bucket, "k")
    assert [v["VersionId"] for v in versions] == ["null", v1]
    assert body_of(s3, bucket, "k", "null") == b"s2"
    assert body_of(s3, bucket, "k", v1) == b"v1"
    # A delete while suspended puts a null delete marker in place of the null version.
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] == "null"
    kinds = [(v["Kind"], v["VersionId"]) for v in all_versions(s3, bucket, "k")]
    assert kinds == [("DeleteMarker", "null"), ("Version", v1)]


def test_delete_markers(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="gone", Body=b"data")["VersionId"]
    deleted = s3.delete_object(Bucket=bucket, Key="gone")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="gone")
    assert err_code(info.value) == "NoSuchKey"
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=bucket, Key="gone")
    assert err_status(info.value) == 404
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="gone", VersionId=marker)
    assert err_status(info.value) == 405
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    assert body_of(s3, bucket, "gone", v1) == b"data"
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert "gone" not in [o["Key"] for o in listed]
    # Removing the marker by version id brings the object back.
    removed = s3.delete_object(Bucket=bucket, Key="gone", VersionId=marker)
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker
    assert body_of(s3, bucket, "gone") == b"data"
    # Deleting a version for good.
    s3.delete_object(Bucket=bucket, Key="gone", VersionId=v1)
    expect_client_error(s3.get_object, Bucket=bucket, Key="gone", VersionId=v1, code="NoSuchVersion")
    expect_client_error(s3.get_object, Bucket=bucket, Key="gone", VersionId="not-a-version", code="InvalidArgument")
    # The bucket still holds versions: DeleteBucket refuses until they are all gone.
    s3.put_object(Bucket=bucket, Key="left", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="left")
    expect_client_error(s3.delete_bucket, Bucket=bucket, code="BucketNotEmpty")
    for entry in all_versions(s3, bucket):
        s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
    assert all_versions(s3, bucket) == []


def test_delete_objects_with_versions(s3, bucket):
    enable(s3, bucket)
    ids = {f"d{n}": s3.put_object(Bucket=bucket, Key=f"d{n}", Body=b"x")["VersionId"] for n in range(4)}
    result = s3.delete_objects(
        Bucket=bucket,
        Delete={
            "Objects": [{"Key": "d0"}, {"Key": "d1", "VersionId": ids["d1"]}],
        },
    )
    deleted = {d["Key"]: d for d in result["Deleted"]}
    assert deleted["d0"]["DeleteMarker"] is True and deleted["d0"]["DeleteMarkerVersionId"]
    assert deleted["d1"]["VersionId"] == ids["d1"] and "DeleteMarker" not in deleted["d1"]
    keys = {(v["Key"], v["Kind"]) for v in all_versions(s3, bucket)}
    assert ("d0", "DeleteMarker") in keys and ("d0", "Version") in keys
    assert not any(k == "d1" for k, _ in keys)


def test_tagging_by_version(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="t", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="t", Body=b"2")["VersionId"]
    s3.put_object_tagging(Bucket=bucket, Key="t", VersionId=v1, Tagging={"TagSet": [{"Key": "gen", "Value": "one"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t", VersionId=v1)["TagSet"] == [{"Key": "gen", "Value": "one"}]
    latest = s3.get_object_tagging(Bucket=bucket, Key="t")
    assert latest["TagSet"] == [] and latest["VersionId"] == v2
    attributes = s3.get_object_attributes(Bucket=bucket, Key="t", VersionId=v1, ObjectAttributes=["ObjectSize"])
    assert attributes["ObjectSize"] == 1 and attributes["VersionId"] == v1


def test_five_thousand_versions_list_page_by_page(s3, bucket):
    enable(s3, bucket)
    expected: dict[str, list[str]] = {}
    for round_no in range(100):
        objects = []
        for n in range(50):
            key = f"Veeam/Backup/job/Clients/{n:02d}/blocks.blk"
            version = s3.put_object(Bucket=bucket, Key=key, Body=f"{round_no}".encode())["VersionId"]
            expected.setdefault(key, []).insert(0, version)
            objects.append(key)
    want = [(key, version) for key in sorted(expected) for version in expected[key]]
    for page_size in (1000, 333, 7):
        if page_size == 7:
            # Smallest pages over one key's versions only, to keep the test quick.
            key = sorted(expected)[3]
            got = [(v["Key"], v["VersionId"]) for v in all_versions(s3, bucket, key, page_size)]
            assert got == [(key, version) for version in expected[key]]
            continue
        got = [(v["Key"], v["VersionId"]) for v in all_versions(s3, bucket, "Veeam/", page_size)]
        assert len(got) == 5000 and len(set(got)) == 5000
        assert got == want
        latest = [v for v in all_versions(s3, bucket, "Veeam/", page_size) if v["IsLatest"]]
        assert len(latest) == 50


def test_list_versions_with_delimiter_returns_real_keys_only(s3, bucket):
    enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="Veeam/Backup/a", Body=b"1")
    s3.put_object(Bucket=bucket, Key="Veeam/Backup/b", Body=b"1")
    s3.put_object(Bucket=bucket, Key="Veeam/", Body=b"")
    page = s3.list_object_versions(Bucket=bucket, Prefix="Veeam/", Delimiter="/")
    assert [p["Prefix"] for p in page.get("CommonPrefixes", [])] == ["Veeam/Backup/"]
    versions = page.get("Versions", [])
    assert [v["Key"] for v in versions] == ["Veeam/"], "a real key ending in / is listed with its version"
    assert versions[0]["VersionId"] not in ("", "null")
    page = s3.list_object_versions(Bucket=bucket, Prefix="Veeam/Backup/", Delimiter="/")
    assert sorted(v["Key"] for v in page["Versions"]) == ["Veeam/Backup/a", "Veeam/Backup/b"]
    assert "CommonPrefixes" not in page
    expect_client_error(
        s3.list_object_versions, Bucket=bucket, VersionIdMarker="0123456789abcdef", code="InvalidArgument"
    )


def test_acl_by_version_reports_the_owner_only(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="a", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="a", Body=b"2")
    acl = s3.get_object_acl(Bucket=bucket, Key="a", VersionId=v1)
    assert [(g["Grantee"]["Type"], g["Permission"]) for g in acl["Grants"]] == [("CanonicalUser", "FULL_CONTROL")]
    assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"]
    s3.put_object_acl(Bucket=bucket, Key="a", VersionId=v1, ACL="private")
    err = expect_client_error(s3.put_object_acl, Bucket=bucket, Key="a", VersionId=v1, ACL="public-read")
    assert err_code(err) == "AccessControlListNotSupported", "ACLs are disabled on a new bucket"
    expect_client_error(s3.get_object_acl, Bucket=bucket, Key="a", VersionId="0123456789abcdef", code="NoSuchVersion")
    bucket_acl = s3.get_bucket_acl(Bucket=bucket)
    assert [g["Permission"] for g in bucket_acl["Grants"]] == ["FULL_CONTROL"]
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    expect_client_error(s3.put_bucket_acl, Bucket=bucket, ACL="public-read-write", code="AccessControlListNotSupported")
