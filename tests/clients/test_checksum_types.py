"""Checksum types as the 2025 AWS SDKs use them: COMPOSITE and FULL_OBJECT multipart checksums, checksum mode
on reads, and checksums on CopyObject and UploadPartCopy.

What AWS answers (S3 user guide "Checking object integrity"; S3 API reference CreateMultipartUpload,
UploadPart, CompleteMultipartUpload, GetObject/HeadObject, CopyObject, UploadPartCopy, Checksum, ObjectPart):
* CreateMultipartUpload `x-amz-checksum-type`: CRC64NVME supports FULL_OBJECT only; CRC32 and CRC32C both
  types; SHA1 and SHA256 COMPOSITE only. Without a type, CRC64NVME is FULL_OBJECT and the others COMPOSITE.
  The answer echoes `x-amz-checksum-algorithm` and `x-amz-checksum-type`. A type the algorithm does not support,
  a type without an algorithm, or an unknown value: 400 InvalidRequest ("The FULL_OBJECT checksum type cannot
  be used with the sha256 checksum algorithm.", "The x-amz-checksum-type header can only be used with the
  x-amz-checksum-algorithm header.").
* UploadPart in an upload with an algorithm must carry that algorithm's checksum ("Checksum Type mismatch
  occurred, expected checksum Type: sha256, actual checksum Type: crc32", 400 InvalidRequest).
* COMPOSITE: the checksum of the concatenated binary part checksums, then "-<number of parts>"; FULL_OBJECT:
  the checksum of the whole object. Complete answers it with ChecksumType; HeadObject/GetObject give it with
  `x-amz-checksum-mode: ENABLED` (and only then); with `partNumber` they give that part's checksum.
* ListParts and ListMultipartUploads report the upload's ChecksumAlgorithm and ChecksumType.
* CopyObject keeps the source's checksum unless `x-amz-checksum-algorithm` asks for another one, which S3
  computes over the copied bytes (the user guide's way to change an object's algorithm); CopyObjectResult
  carries it. UploadPartCopy into an upload with an algorithm computes the part's checksum, returned in
  CopyPartResult.
* An object uploaded without any checksum gets S3's default CRC64NVME checksum (API reference, Checksum:
  "or if the object was uploaded without a checksum (and Amazon S3 added the default checksum, CRC64NVME ...)").
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib

import pytest
import requests
from awscrt import checksums as crt_checksums

from helpers import MiB, expect_client_error, make_client, object_absent, rand_bytes, sign_request, xml_error_code


PARTS = [rand_bytes(5 * MiB, "type-1"), rand_bytes(5 * MiB + 17, "type-2"), b"checksum tail " * 24]
BODY = b"".join(PARTS)


def raw_checksum(algorithm: str, data: bytes) -> bytes:
    return {
        "CRC32": lambda d: zlib.crc32(d).to_bytes(4, "big"),
        "CRC32C": lambda d: crt_checksums.crc32c(d).to_bytes(4, "big"),
        "CRC64NVME": lambda d: crt_checksums.crc64nvme(d).to_bytes(8, "big"),
        "SHA1": lambda d: hashlib.sha1(d).digest(),
        "SHA256": lambda d: hashlib.sha256(d).digest(),
    }[algorithm](data)


def b64(algorithm: str, data: bytes) -> str:
    return base64.b64encode(raw_checksum(algorithm, data)).decode()


def composite(algorithm: str, parts: list[bytes]) -> str:
    return f"{b64(algorithm, b''.join(raw_checksum(algorithm, p) for p in parts))}-{len(parts)}"


def checksums_of(resp: dict) -> dict:
    return {k: v for k, v in resp.items() if k.startswith("Checksum") and k != "ChecksumAlgorithm"}


def raw_call(server, method, path, query="", headers=None) -> requests.Response:
    url, signed = sign_request(server.endpoint, server.access_key, server.secret_key, method, path, query=query,
                               headers=headers)  # fmt: skip
    return requests.request(method, url, headers=signed, timeout=60)


@pytest.fixture
def bucket(bucket, s3):
    yield bucket
    try:
        for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    except Exception:  # noqa: BLE001 - best effort
        pass


@pytest.fixture
def plain(server):
    """A client that sends no checksum unless one is asked for."""
    return make_client(
        server.endpoint,
        server.access_key,
        server.secret_key,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


def upload_with_checksums(s3, bucket, key, algorithm, checksum_type=None, parts=PARTS) -> tuple[str, list[dict]]:
    kw = {"ChecksumType": checksum_type} if checksum_type else {}
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm, **kw)["UploadId"]
    listed = []
    for number, body in enumerate(parts, start=1):
        resp = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, ChecksumAlgorithm=algorithm
        )
        member = f"Checksum{algorithm}"
        listed.append({"PartNumber": number, "ETag": resp["ETag"], member: resp[member]})
    return upload_id, listed


def complete(s3, bucket, key, upload_id, listed, **kw) -> dict:
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}, **kw
    )


# --------------------------------------------------------------------------- CreateMultipartUpload


@pytest.mark.parametrize(
    "algorithm, requested, expected",
    [
        ("CRC32", None, "COMPOSITE"),
        ("CRC32", "COMPOSITE", "COMPOSITE"),
        ("CRC32", "FULL_OBJECT", "FULL_OBJECT"),
        ("CRC32C", None, "COMPOSITE"),
        ("CRC32C", "FULL_OBJECT", "FULL_OBJECT"),
        ("CRC64NVME", None, "FULL_OBJECT"),
        ("CRC64NVME", "FULL_OBJECT", "FULL_OBJECT"),
        ("SHA1", None, "COMPOSITE"),
        ("SHA1", "COMPOSITE", "COMPOSITE"),
        ("SHA256", None, "COMPOSITE"),
        ("SHA256", "COMPOSITE", "COMPOSITE"),
    ],
)
def test_create_multipart_upload_checksum_types(s3, bucket, algorithm, requested, expected):
    kw = {"ChecksumType": requested} if requested else {}
    created = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm=algorithm, **kw)
    assert created.get("ChecksumAlgorithm") == algorithm
    assert created.get("ChecksumType") == expected


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-checksum-algorithm": "SHA1", "x-amz-checksum-type": "FULL_OBJECT"},
        {"x-amz-checksum-algorithm": "SHA256", "x-amz-checksum-type": "FULL_OBJECT"},
        {"x-amz-checksum-algorithm": "CRC64NVME", "x-amz-checksum-type": "COMPOSITE"},
        {"x-amz-checksum-algorithm": "CRC32", "x-amz-checksum-type": "PARTS"},
        {"x-amz-checksum-algorithm": "MD5"},
    ],
    ids=["sha1-full", "sha256-full", "crc64nvme-composite", "unknown-type", "unknown-algorithm"],
)
def test_create_multipart_upload_refuses_unsupported_combinations(server, s3, bucket, headers):
    r = raw_call(server, "POST", f"/{bucket}/k", query="uploads", headers=headers)
    assert r.status_code == 400, r.text
    assert xml_error_code(r.text) == "InvalidRequest"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize("checksum_type", ["COMPOSITE", "FULL_OBJECT"])
def test_checksum_type_without_algorithm_is_invalid_request(server, s3, bucket, checksum_type):
    r = raw_call(server, "POST", f"/{bucket}/k", query="uploads", headers={"x-amz-checksum-type": checksum_type})
    assert r.status_code == 400, r.text
    assert xml_error_code(r.text) == "InvalidRequest"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize("algorithm, checksum_type", [("CRC32", "FULL_OBJECT"), ("SHA256", "COMPOSITE")])
def test_list_parts_and_uploads_report_algorithm_and_type(s3, bucket, algorithm, checksum_type):
    upload_id = s3.create_multipart_upload(
        Bucket=bucket, Key="k", ChecksumAlgorithm=algorithm, ChecksumType=checksum_type
    )["UploadId"]
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)
    assert (listed.get("ChecksumAlgorithm"), listed.get("ChecksumType")) == (algorithm, checksum_type)
    (upload,) = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert (upload.get("ChecksumAlgorithm"), upload.get("ChecksumType")) == (algorithm, checksum_type)


def test_awscli_create_multipart_upload_with_checksum_type(aws, s3, bucket):
    out = aws("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "cli", "--checksum-algorithm", "CRC32",
              "--checksum-type", "FULL_OBJECT")  # fmt: skip
    doc = json.loads(out.stdout)
    assert doc.get("ChecksumAlgorithm") == "CRC32" and doc.get("ChecksumType") == "FULL_OBJECT"
    refused = aws("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "cli2", "--checksum-algorithm",
                  "SHA256", "--checksum-type", "FULL_OBJECT", check=False)  # fmt: skip
    assert refused.returncode != 0 and "InvalidRequest" in refused.stderr, refused


# --------------------------------------------------------------------------- UploadPart


def test_part_with_another_algorithm_is_invalid_request(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA256")["UploadId"]
    expect_client_error(
        s3.upload_part, Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"part",
        ChecksumAlgorithm="CRC32", code="InvalidRequest", status=400,
    )  # fmt: skip
    assert s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id).get("Parts", []) == []


def test_part_without_checksum_in_composite_upload_is_invalid_request(s3, plain, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA256")["UploadId"]
    expect_client_error(
        plain.upload_part, Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"part",
        code="InvalidRequest", status=400,
    )  # fmt: skip
    assert s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id).get("Parts", []) == []


# --------------------------------------------------------------------------- CompleteMultipartUpload and reads


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_checksum_in_complete_head_and_get(s3, bucket, algorithm):
    upload_id, listed = upload_with_checksums(s3, bucket, "comp", algorithm)
    expected = composite(algorithm, PARTS)
    done = complete(s3, bucket, "comp", upload_id, listed)
    assert checksums_of(done) == {f"Checksum{algorithm}": expected, "ChecksumType": "COMPOSITE"}
    head = s3.head_object(Bucket=bucket, Key="comp", ChecksumMode="ENABLED")
    assert checksums_of(head) == {f"Checksum{algorithm}": expected, "ChecksumType": "COMPOSITE"}
    got = s3.get_object(Bucket=bucket, Key="comp", ChecksumMode="ENABLED")
    assert checksums_of(got) == {f"Checksum{algorithm}": expected, "ChecksumType": "COMPOSITE"}
    assert got["Body"].read() == BODY


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_checksum_in_complete_and_head(s3, bucket, algorithm):
    upload_id, listed = upload_with_checksums(s3, bucket, "full", algorithm, "FULL_OBJECT")
    done = complete(s3, bucket, "full", upload_id, listed)
    assert checksums_of(done) == {f"Checksum{algorithm}": b64(algorithm, BODY), "ChecksumType": "FULL_OBJECT"}
    head = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert checksums_of(head) == {f"Checksum{algorithm}": b64(algorithm, BODY), "ChecksumType": "FULL_OBJECT"}


def test_checksums_only_with_checksum_mode(s3, plain, bucket):
    upload_id, listed = upload_with_checksums(s3, bucket, "mode", "SHA256")
    complete(s3, bucket, "mode", upload_id, listed)
    assert checksums_of(plain.head_object(Bucket=bucket, Key="mode")) == {}
    assert checksums_of(plain.get_object(Bucket=bucket, Key="mode", Range="bytes=0-9")) == {}


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA256"])
def test_part_number_read_gives_that_parts_checksum(s3, bucket, algorithm):
    upload_id, listed = upload_with_checksums(s3, bucket, "bypart", algorithm)
    complete(s3, bucket, "bypart", upload_id, listed)
    for number, body in enumerate(PARTS, start=1):
        expected = b64(algorithm, body)
        for read in (s3.head_object, s3.get_object):
            resp = read(Bucket=bucket, Key="bypart", PartNumber=number, ChecksumMode="ENABLED")
            assert resp.get(f"Checksum{algorithm}") == expected, f"{read.__name__} part {number}"
        # botocore verifies the part's bytes against the checksum it was given.
        got = s3.get_object(Bucket=bucket, Key="bypart", PartNumber=number, ChecksumMode="ENABLED")
        assert got["Body"].read() == body


def test_complete_with_another_checksum_type_is_refused(s3, bucket):
    upload_id, listed = upload_with_checksums(s3, bucket, "k", "CRC32", parts=[b"only part"])
    # AWS: "The upload was created using the COMPOSITE checksum mode. The complete request must use the same
    # checksum mode." (versitygw and other AWS imitations disagree on the code: InvalidRequest or BadDigest).
    exc = expect_client_error(complete, s3, bucket, "k", upload_id, listed, ChecksumType="FULL_OBJECT", status=400)
    assert exc.response["Error"]["Code"] in ("InvalidRequest", "BadDigest")
    assert object_absent(s3, bucket, "k")


def test_complete_without_a_parts_checksum_is_invalid_request(s3, bucket):
    """"The upload was created using a sha256 checksum. The complete request must include the checksum for each
    part. It was missing for part 1 in the request." (400 InvalidRequest)"""
    upload_id, listed = upload_with_checksums(s3, bucket, "k", "SHA256", parts=[b"only part"])
    bare = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed]
    expect_client_error(complete, s3, bucket, "k", upload_id, bare, code="InvalidRequest", status=400)
    assert object_absent(s3, bucket, "k")
    complete(s3, bucket, "k", upload_id, listed)


def test_complete_with_wrong_full_object_checksum_is_bad_digest(s3, bucket):
    upload_id, listed = upload_with_checksums(s3, bucket, "k", "CRC32", "FULL_OBJECT", parts=[b"only part"])
    expect_client_error(
        complete, s3, bucket, "k", upload_id, listed, ChecksumType="FULL_OBJECT",
        ChecksumCRC32=b64("CRC32", b"something else"), code="BadDigest", status=400,
    )  # fmt: skip
    assert object_absent(s3, bucket, "k")


# --------------------------------------------------------------------------- default checksum


def test_object_without_checksum_gets_default_crc64nvme(s3, plain, bucket):
    body = b"uploaded without any checksum"
    plain.put_object(Bucket=bucket, Key="nock", Body=body)
    expected = {"ChecksumCRC64NVME": b64("CRC64NVME", body), "ChecksumType": "FULL_OBJECT"}
    head = s3.head_object(Bucket=bucket, Key="nock", ChecksumMode="ENABLED")
    assert checksums_of(head) == expected


# --------------------------------------------------------------------------- CopyObject


def test_copy_result_carries_the_source_checksum(s3, bucket):
    body = rand_bytes(100_000, "copy-ck")
    s3.put_object(Bucket=bucket, Key="src", Body=body, ChecksumAlgorithm="SHA256")
    expected = b64("SHA256", body)
    result = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})["CopyObjectResult"]
    assert result.get("ChecksumSHA256") == expected
    head = s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert head.get("ChecksumSHA256") == expected


@pytest.mark.parametrize("source_algorithm, algorithm", [("SHA256", "CRC32C"), (None, "SHA1"), ("CRC32", "CRC64NVME")])
def test_copy_with_checksum_algorithm_computes_it(s3, plain, bucket, source_algorithm, algorithm):
    body = rand_bytes(200_000, "copy-new-ck")
    if source_algorithm:
        s3.put_object(Bucket=bucket, Key="src", Body=body, ChecksumAlgorithm=source_algorithm)
    else:
        plain.put_object(Bucket=bucket, Key="src", Body=body)
    expected = b64(algorithm, body)
    result = s3.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, ChecksumAlgorithm=algorithm
    )["CopyObjectResult"]
    assert result.get(f"Checksum{algorithm}") == expected
    head = s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert checksums_of(head) == {f"Checksum{algorithm}": expected, "ChecksumType": "FULL_OBJECT"}
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == body


def test_copy_of_composite_object_with_algorithm_gets_full_object_checksum(s3, bucket):
    upload_id, listed = upload_with_checksums(s3, bucket, "mp", "SHA256")
    complete(s3, bucket, "mp", upload_id, listed)
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "mp"}, ChecksumAlgorithm="CRC32")
    expected = {"ChecksumCRC32": b64("CRC32", BODY), "ChecksumType": "FULL_OBJECT"}
    head = s3.head_object(Bucket=bucket, Key="copy", ChecksumMode="ENABLED")
    assert checksums_of(head) == expected


def test_copy_with_unknown_checksum_algorithm_is_refused(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    r = raw_call(server, "PUT", f"/{bucket}/dst",
                 headers={"x-amz-copy-source": f"/{bucket}/src", "x-amz-checksum-algorithm": "MD5"})  # fmt: skip
    assert r.status_code == 400, r.text
    assert xml_error_code(r.text) == "InvalidRequest"
    assert object_absent(s3, bucket, "dst")


# --------------------------------------------------------------------------- UploadPartCopy


@pytest.mark.parametrize(
    "algorithm, checksum_type", [("CRC32", "COMPOSITE"), ("SHA1", "COMPOSITE"), ("CRC64NVME", "FULL_OBJECT")]
)
def test_upload_part_copy_computes_the_uploads_checksum(s3, bucket, algorithm, checksum_type):
    s3.put_object(Bucket=bucket, Key="src", Body=PARTS[0] + PARTS[1], ChecksumAlgorithm="SHA256")
    upload_id = s3.create_multipart_upload(
        Bucket=bucket, Key="mp", ChecksumAlgorithm=algorithm, ChecksumType=checksum_type
    )["UploadId"]
    ids = {"Bucket": bucket, "Key": "mp", "UploadId": upload_id}
    copied = s3.upload_part_copy(
        **ids, PartNumber=1, CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes=0-{len(PARTS[0]) - 1}"
    )["CopyPartResult"]
    first = b64(algorithm, PARTS[0])
    assert copied.get(f"Checksum{algorithm}") == first
    rest = s3.upload_part(**ids, PartNumber=2, Body=PARTS[1] + PARTS[2], ChecksumAlgorithm=algorithm)
    listed_parts = s3.list_parts(**ids)["Parts"]
    assert [p.get(f"Checksum{algorithm}") for p in listed_parts] == [first, rest[f"Checksum{algorithm}"]]
    listed = [
        {"PartNumber": 1, "ETag": copied["ETag"], f"Checksum{algorithm}": first},
        {"PartNumber": 2, "ETag": rest["ETag"], f"Checksum{algorithm}": rest[f"Checksum{algorithm}"]},
    ]
    done = complete(s3, bucket, "mp", upload_id, listed)
    pieces = [PARTS[0], PARTS[1] + PARTS[2]]
    expected = composite(algorithm, pieces) if checksum_type == "COMPOSITE" else b64(algorithm, BODY)
    assert checksums_of(done) == {f"Checksum{algorithm}": expected, "ChecksumType": checksum_type}
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == BODY


# --------------------------------------------------------------------------- aws cli


def test_awscli_cp_with_checksum_algorithm_gives_composite_checksum(aws, s3, bucket, tmp_path):
    """aws s3 cp splits at 8 MiB: 17 MiB go up as three parts with SHA256 checksums."""
    data = rand_bytes(17 * MiB, "cli-ck")
    path = tmp_path / "up.bin"
    path.write_bytes(data)
    aws("s3", "cp", path, f"s3://{bucket}/cli.bin", "--checksum-algorithm", "SHA256")
    out = aws("s3api", "head-object", "--bucket", bucket, "--key", "cli.bin", "--checksum-mode", "ENABLED")
    doc = json.loads(out.stdout)
    parts = [data[i : i + 8 * MiB] for i in range(0, len(data), 8 * MiB)]
    assert doc.get("ChecksumSHA256") == composite("SHA256", parts)
    assert doc.get("ChecksumType") == "COMPOSITE"
