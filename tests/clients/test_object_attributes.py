"""GetObjectAttributes (`GET /bucket/key?attributes`) as AWS answers it.

S3 API reference, GetObjectAttributes and GetObjectAttributesParts:
* `x-amz-object-attributes` picks among ETag, Checksum, ObjectParts, StorageClass, ObjectSize; only those come
  back. An unknown name, or none, is 400 InvalidArgument.
* ETag is returned without its quotes.
* ObjectParts (multipart objects): TotalPartsCount (XML <PartsCount>), PartNumberMarker, NextPartNumberMarker
  (the last part listed), MaxParts (default 1000, `x-amz-max-parts`), IsTruncated, and Parts with each part's
  PartNumber, Size and checksum. `x-amz-part-number-marker` starts after that part. "For GetObjectAttributes, if
  an additional checksum isn't applied to the object specified in the request, the response doesn't return the
  Part element" (general purpose buckets): only TotalPartsCount then.
* Checksum: the object's checksum and its ChecksumType. For a COMPOSITE multipart checksum AWS gives the
  checksum of the part checksums without the "-<parts>" suffix that HeadObject and CompleteMultipartUpload
  show (S3 user guide, "Checking object integrity", get-object-attributes example; same in responses recorded
  from AWS).
* StorageClass: the class the object was written with.

test_presign_streaming.py checks a simple object; these are the multipart and paging cases.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib

import pytest
import requests
from awscrt import checksums as crt_checksums

from helpers import MiB, expect_client_error, make_client, md5_hex, rand_bytes, sign_request, xml_error_code


ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
PARTS = [rand_bytes(5 * MiB, "attr-1"), rand_bytes(5 * MiB + 17, "attr-2"), b"attr tail " * 33]


def raw_checksum(algorithm: str, data: bytes) -> bytes:
    return {
        "CRC32": lambda d: zlib.crc32(d).to_bytes(4, "big"),
        "CRC32C": lambda d: crt_checksums.crc32c(d).to_bytes(4, "big"),
        "CRC64NVME": lambda d: crt_checksums.crc64nvme(d).to_bytes(8, "big"),
        "SHA1": lambda d: hashlib.sha1(d).digest(),
        "SHA256": lambda d: hashlib.sha256(d).digest(),
    }[algorithm](data)


def b64_checksum(algorithm: str, data: bytes) -> str:
    return base64.b64encode(raw_checksum(algorithm, data)).decode()


def composite_base(algorithm: str, parts: list[bytes]) -> str:
    """The checksum of the concatenated part checksums (no "-N")."""
    return b64_checksum(algorithm, b"".join(raw_checksum(algorithm, p) for p in parts))


def multipart_etag_bare(parts: list[bytes]) -> str:
    return f'{hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()}-{len(parts)}'


def multipart_object(s3, bucket, key, parts=PARTS, algorithm=None, checksum_type=None, **create_kw) -> dict:
    kw = dict(create_kw)
    if algorithm:
        kw["ChecksumAlgorithm"] = algorithm
    if checksum_type:
        kw["ChecksumType"] = checksum_type
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **kw)["UploadId"]
    listed = []
    for number, body in enumerate(parts, start=1):
        part_kw = {"ChecksumAlgorithm": algorithm} if algorithm else {}
        resp = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, **part_kw)
        entry = {"PartNumber": number, "ETag": resp["ETag"]}
        if algorithm:
            entry[f"Checksum{algorithm}"] = resp[f"Checksum{algorithm}"]
        listed.append(entry)
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed})


def attributes(s3, bucket, key, names=ALL, **kw) -> dict:
    out = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=names, **kw)
    out.pop("ResponseMetadata")
    return out


def expected_parts(algorithm, numbers) -> list[dict]:
    out = []
    for number in numbers:
        part = {"PartNumber": number, "Size": len(PARTS[number - 1])}
        if algorithm:
            part[f"Checksum{algorithm}"] = b64_checksum(algorithm, PARTS[number - 1])
        out.append(part)
    return out


# --------------------------------------------------------------------------- simple objects


def test_simple_object_attributes(s3, bucket):
    body = b"simple attributes"
    s3.put_object(Bucket=bucket, Key="plain", Body=body, ChecksumAlgorithm="SHA256")
    out = attributes(s3, bucket, "plain")
    assert out["ETag"] == md5_hex(body), "GetObjectAttributes gives the ETag without quotes"
    assert out["ObjectSize"] == len(body)
    assert out["StorageClass"] == "STANDARD"
    assert out["Checksum"] == {"ChecksumSHA256": b64_checksum("SHA256", body), "ChecksumType": "FULL_OBJECT"}
    assert "ObjectParts" not in out, "ObjectParts is for multipart objects"
    assert out["LastModified"]


def test_storage_class_is_the_one_written(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ia", Body=b"infrequent", StorageClass="STANDARD_IA")
    assert attributes(s3, bucket, "ia", ["StorageClass"])["StorageClass"] == "STANDARD_IA"
    multipart_object(s3, bucket, "ia-mp", parts=[b"one part"], StorageClass="ONEZONE_IA")
    assert attributes(s3, bucket, "ia-mp", ["StorageClass"])["StorageClass"] == "ONEZONE_IA"


def test_only_asked_attributes_come_back(s3, bucket):
    s3.put_object(Bucket=bucket, Key="few", Body=b"12345")
    out = attributes(s3, bucket, "few", ["ObjectSize", "ETag"])
    assert set(out) - {"LastModified", "VersionId"} == {"ObjectSize", "ETag"}


def test_versions_have_their_own_attributes(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"first version")
    s3.put_object(Bucket=bucket, Key="v", Body=b"second, longer version")
    out = attributes(s3, bucket, "v", ["ETag", "ObjectSize"], VersionId=v1["VersionId"])
    assert out["ETag"] == md5_hex(b"first version") and out["ObjectSize"] == len(b"first version")
    assert out["VersionId"] == v1["VersionId"]
    s3.delete_object(Bucket=bucket, Key="v")
    exc = expect_client_error(s3.get_object_attributes, Bucket=bucket, Key="v", ObjectAttributes=["ETag"], status=404)
    assert exc.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker") == "true"


def test_bad_attribute_names_are_invalid_argument(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    expect_client_error(
        s3.get_object_attributes, Bucket=bucket, Key="k", ObjectAttributes=["Size"], code="InvalidArgument", status=400
    )
    url, headers = sign_request(server.endpoint, server.access_key, server.secret_key, "GET", f"/{bucket}/k",
                                query="attributes")  # fmt: skip
    r = requests.get(url, headers=headers, timeout=30)
    assert r.status_code == 400 and xml_error_code(r.text) == "InvalidArgument", r.text


# --------------------------------------------------------------------------- multipart objects


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA256"])
def test_composite_multipart_attributes(s3, bucket, algorithm):
    done = multipart_object(s3, bucket, "mp", algorithm=algorithm)
    expected_composite = f"{composite_base(algorithm, PARTS)}-{len(PARTS)}"
    assert done[f"Checksum{algorithm}"] == expected_composite
    out = attributes(s3, bucket, "mp")
    expected_etag = multipart_etag_bare(PARTS)
    assert out["ETag"] == expected_etag
    assert out["ObjectSize"] == sum(len(p) for p in PARTS)
    assert out["StorageClass"] == "STANDARD"
    assert out["ObjectParts"] == {
        "TotalPartsCount": 3,
        "PartNumberMarker": 0,
        "NextPartNumberMarker": 3,
        "MaxParts": 1000,
        "IsTruncated": False,
        "Parts": expected_parts(algorithm, [1, 2, 3]),
    }


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA256"])
def test_composite_checksum_has_type_composite(s3, bucket, algorithm):
    multipart_object(s3, bucket, "mp", algorithm=algorithm)
    expected_base = composite_base(algorithm, PARTS)
    checksum = attributes(s3, bucket, "mp", ["Checksum"])["Checksum"]
    assert checksum["ChecksumType"] == "COMPOSITE"
    assert checksum[f"Checksum{algorithm}"].split("-")[0] == expected_base


def test_composite_checksum_is_given_without_the_part_count(s3, bucket):
    multipart_object(s3, bucket, "mp", algorithm="SHA256")
    expected_base = composite_base("SHA256", PARTS)
    assert attributes(s3, bucket, "mp", ["Checksum"])["Checksum"]["ChecksumSHA256"] == expected_base


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_multipart_attributes(s3, bucket, algorithm):
    multipart_object(s3, bucket, "full", algorithm=algorithm, checksum_type="FULL_OBJECT")
    expected = {f"Checksum{algorithm}": b64_checksum(algorithm, b"".join(PARTS)), "ChecksumType": "FULL_OBJECT"}
    out = attributes(s3, bucket, "full", ["Checksum", "ObjectParts"])
    assert out["Checksum"] == expected
    assert out["ObjectParts"]["TotalPartsCount"] == 3
    assert out["ObjectParts"].get("Parts") == expected_parts(algorithm, [1, 2, 3])


@pytest.mark.parametrize(
    "marker, max_parts, numbers, next_marker, truncated",
    [
        (None, 1, [1], 1, True),
        (1, 1, [2], 2, True),
        (2, 1, [3], 3, False),
        (None, 2, [1, 2], 2, True),
        (2, 5, [3], 3, False),
        (3, 5, [], None, False),
    ],
)
def test_object_parts_paging(s3, bucket, marker, max_parts, numbers, next_marker, truncated):
    multipart_object(s3, bucket, "paged", algorithm="CRC32")
    kw = {"MaxParts": max_parts}
    if marker is not None:
        kw["PartNumberMarker"] = marker
    parts = attributes(s3, bucket, "paged", ["ObjectParts"], **kw)["ObjectParts"]
    assert parts["TotalPartsCount"] == 3
    assert parts.get("MaxParts") == max_parts
    assert int(parts.get("PartNumberMarker", -1)) == (marker or 0)
    assert [p["PartNumber"] for p in parts.get("Parts", [])] == numbers
    assert parts.get("IsTruncated") is truncated
    if next_marker is not None:
        assert int(parts["NextPartNumberMarker"]) == next_marker


def test_object_parts_paging_collects_every_part(s3, bucket):
    multipart_object(s3, bucket, "walk", algorithm="CRC32C")
    collected, marker = [], 0
    for _ in range(10):
        parts = attributes(s3, bucket, "walk", ["ObjectParts"], MaxParts=2, PartNumberMarker=marker)["ObjectParts"]
        collected.extend(parts.get("Parts", []))
        if not parts.get("IsTruncated"):
            break
        marker = int(parts["NextPartNumberMarker"])
    else:
        raise AssertionError("ObjectParts paging does not end")
    assert collected == expected_parts("CRC32C", [1, 2, 3])


def test_multipart_without_checksums_gives_the_part_count(server, bucket):
    """No additional checksum: AWS returns TotalPartsCount and no Part elements."""
    plain = make_client(
        server.endpoint, server.access_key, server.secret_key, request_checksum_calculation="when_required"
    )
    multipart_object(plain, bucket, "nock", parts=[rand_bytes(5 * MiB, "nock"), b"end"])
    parts = attributes(plain, bucket, "nock", ["ObjectParts"])["ObjectParts"]
    assert parts["TotalPartsCount"] == 2


def test_awscli_get_object_attributes_pages_parts(aws, s3, bucket):
    multipart_object(s3, bucket, "cli", algorithm="SHA1")
    out = aws("s3api", "get-object-attributes", "--bucket", bucket, "--key", "cli", "--object-attributes",
              "ObjectParts", "ObjectSize", "ETag", "--max-parts", "1", "--part-number-marker", "1")  # fmt: skip
    doc = json.loads(out.stdout)
    expected_etag = multipart_etag_bare(PARTS)
    assert doc["ETag"] == expected_etag
    assert doc["ObjectSize"] == sum(len(p) for p in PARTS)
    assert doc["ObjectParts"]["TotalPartsCount"] == 3
    assert doc["ObjectParts"].get("Parts") == expected_parts("SHA1", [2])
    assert doc["ObjectParts"].get("IsTruncated") is True
