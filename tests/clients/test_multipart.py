"""Multipart uploads through real clients: boto3 (transfer manager and the raw API) and aws cli.

Unlike the rest of the suite, every client here is configured to split its transfers into parts.
Expected error codes and statuses are the ones Amazon S3 documents for each operation.

Part sizes: every part but the last must be at least 5 MiB (checked at Complete), so the tests
build objects from 5 MiB parts and a short final part.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from awscrt import checksums as crt_checksums
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from helpers import (
    MiB,
    aws_cli_env,
    expect_client_error,
    md5_hex,
    object_absent,
    rand_bytes,
)

PART_SIZE_MIN = 5 * MiB

# The large transfers (boto3 and aws cli) share one file: 64 full 16 MiB chunks and a short final
# one, so the last part is below the 5 MiB minimum that only non-final parts must meet.
BIG_CHUNK = 16 * MiB
BIG_SIZE = 1024 * MiB + 3 * MiB + 77
BIG_PARTS = -(-BIG_SIZE // BIG_CHUNK)

# An upload id in the shape AWS documents, and one in this server's own shape (32 hex digits);
# neither names an upload.
BOGUS_UPLOAD_IDS = [
    "VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA",
    "0123456789abcdef0123456789abcdef",
]


# --------------------------------------------------------------------------- digests


def multipart_etag(part_md5s: list[bytes]) -> str:
    """S3's ETag of a completed upload: MD5 of the concatenated binary part MD5s, then -N."""
    return f'"{hashlib.md5(b"".join(part_md5s)).hexdigest()}-{len(part_md5s)}"'


def multipart_etag_of(parts: list[bytes]) -> str:
    return multipart_etag([hashlib.md5(part).digest() for part in parts])


def crc32_raw(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


def crc32c_raw(data: bytes) -> bytes:
    return crt_checksums.crc32c(data).to_bytes(4, "big")


def crc64nvme_raw(data: bytes) -> bytes:
    return crt_checksums.crc64nvme(data).to_bytes(8, "big")


CRC_RAW = {"CRC32": crc32_raw, "CRC32C": crc32c_raw, "CRC64NVME": crc64nvme_raw}


def checksum_b64(algorithm: str, data: bytes) -> str:
    return base64.b64encode(CRC_RAW[algorithm](data)).decode()


def composite_checksum(algorithm: str, parts: list[bytes]) -> str:
    """A COMPOSITE checksum: the algorithm over the concatenated binary part checksums, then -N."""
    raw = b"".join(CRC_RAW[algorithm](part) for part in parts)
    return f"{checksum_b64(algorithm, raw)}-{len(parts)}"


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- multipart steps


def create_upload(s3, bucket: str, key: str, **kw) -> str:
    return s3.create_multipart_upload(Bucket=bucket, Key=key, **kw)["UploadId"]


def upload_parts(s3, bucket: str, key: str, upload_id: str, parts: list[bytes], **kw) -> list[dict]:
    """Uploads parts 1..N in order; returns the part list for Complete."""
    listed = []
    for number, body in enumerate(parts, start=1):
        resp = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, **kw)
        assert resp["ETag"] == f'"{md5_hex(body)}"', f"part {number}: an UploadPart ETag is the part's MD5"
        listed.append({"PartNumber": number, "ETag": resp["ETag"]})
    return listed


def complete_upload(s3, bucket: str, key: str, upload_id: str, parts: list[dict], **kw) -> dict:
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **kw
    )


def multipart_object(s3, bucket: str, key: str, parts: list[bytes], **kw) -> dict:
    """Create, upload every part, complete: returns the Complete response."""
    upload_id = create_upload(s3, bucket, key, **kw)
    return complete_upload(s3, bucket, key, upload_id, upload_parts(s3, bucket, key, upload_id, parts))


def get_body(s3, bucket: str, key: str, **kw) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


@pytest.fixture
def bucket(bucket, s3):
    """conftest's bucket, with unfinished uploads aborted first so that its cleanup can delete it."""
    yield bucket
    try:
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    except ClientError:
        pass  # best effort, like the bucket cleanup itself


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """A BIG_SIZE file of random bytes, with its SHA-256 and the MD5 of each BIG_CHUNK."""
    path = tmp_path_factory.mktemp("multipart-big") / "big.bin"
    sha256 = hashlib.sha256()
    chunk_md5s = []
    with open(path, "wb") as f:
        for start in range(0, BIG_SIZE, BIG_CHUNK):
            chunk = os.urandom(min(BIG_CHUNK, BIG_SIZE - start))
            sha256.update(chunk)
            chunk_md5s.append(hashlib.md5(chunk).digest())
            f.write(chunk)
    yield path, sha256.hexdigest(), chunk_md5s
    path.unlink()


# --------------------------------------------------------------------------- large transfers


def test_transfer_manager_upload_download_1gib(s3, bucket, big_file, tmp_path):
    path, sha256, chunk_md5s = big_file
    config = TransferConfig(
        multipart_threshold=8 * MiB,
        multipart_chunksize=BIG_CHUNK,
        max_concurrency=8,
        # The CRT transfer client is only picked on some EC2 types; pin the classic one so that
        # every machine runs the same requests.
        preferred_transfer_client="classic",
    )
    s3.upload_file(str(path), bucket, "big/1gib.bin", Config=config)

    head = s3.head_object(Bucket=bucket, Key="big/1gib.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == BIG_SIZE
    assert head["ETag"] == multipart_etag(chunk_md5s), f"expected a {BIG_PARTS}-part upload"
    # With the default checksum settings s3transfer asks for CRC32 on Create and sends it with
    # every part, so the object carries a COMPOSITE CRC32 over BIG_PARTS parts.
    assert head.get("ChecksumCRC32", "").endswith(f"-{BIG_PARTS}"), head
    assert head.get("ChecksumType") == "COMPOSITE", head

    dst = tmp_path / "down.bin"
    try:
        s3.download_file(bucket, "big/1gib.bin", str(dst), Config=config)
        assert dst.stat().st_size == BIG_SIZE
        assert sha256_file(dst) == sha256, "downloaded bytes differ from the uploaded file"
    finally:
        dst.unlink(missing_ok=True)


@pytest.fixture
def aws_multipart(server, tmp_path):
    """aws cli v1 configured to upload in BIG_CHUNK parts, 8 at a time."""
    s3_settings = {
        "multipart_threshold": "8MB",
        "multipart_chunksize": f"{BIG_CHUNK // MiB}MB",
        "max_concurrent_requests": "8",
    }
    env = aws_cli_env(tmp_path / "awscfg", server.access_key, server.secret_key, s3_settings)

    def run(*args):
        cmd = [sys.executable, "-m", "awscli", "--endpoint-url", server.endpoint, *map(str, args)]
        proc = subprocess.run(
            cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, f"{cmd} failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}"
        return proc.stdout

    return run


def test_awscli_cp_up_and_down_1gib(aws_multipart, s3, bucket, big_file, tmp_path):
    path, sha256, chunk_md5s = big_file
    aws_multipart("s3", "cp", "--only-show-errors", path, f"s3://{bucket}/cli/1gib.bin")

    head = s3.head_object(Bucket=bucket, Key="cli/1gib.bin")
    assert head["ContentLength"] == BIG_SIZE
    assert head["ETag"] == multipart_etag(chunk_md5s), f"expected a {BIG_PARTS}-part upload"

    dst = tmp_path / "down.bin"
    try:
        aws_multipart("s3", "cp", "--only-show-errors", f"s3://{bucket}/cli/1gib.bin", dst)
        assert dst.stat().st_size == BIG_SIZE
        assert sha256_file(dst) == sha256, "downloaded bytes differ from the uploaded file"
    finally:
        dst.unlink(missing_ok=True)


# --------------------------------------------------------------------------- errors


def test_complete_with_small_non_final_part_is_entity_too_small(s3, bucket):
    parts = [rand_bytes(1 * MiB, "small-1"), rand_bytes(PART_SIZE_MIN, "small-2")]
    upload_id = create_upload(s3, bucket, "small")
    listed = upload_parts(s3, bucket, "small", upload_id, parts)
    expect_client_error(
        complete_upload, s3, bucket, "small", upload_id, listed, code="EntityTooSmall", status=400
    )
    assert object_absent(s3, bucket, "small")
    # A failed Complete leaves the upload in place: completing with the small part last works.
    resp = complete_upload(s3, bucket, "small", upload_id, listed[:1])
    assert resp["ETag"] == multipart_etag_of(parts[:1])
    assert get_body(s3, bucket, "small") == parts[0]


def test_complete_with_wrong_or_missing_part_is_invalid_part(s3, bucket):
    # Both parts are big enough to be non-final, so that only the part lookup can fail.
    parts = [rand_bytes(PART_SIZE_MIN, "ip-1"), rand_bytes(PART_SIZE_MIN, "ip-2")]
    upload_id = create_upload(s3, bucket, "ip")
    listed = upload_parts(s3, bucket, "ip", upload_id, parts)

    wrong_etag = [listed[0], {"PartNumber": 2, "ETag": f'"{md5_hex(b"other bytes")}"'}]
    expect_client_error(complete_upload, s3, bucket, "ip", upload_id, wrong_etag, code="InvalidPart", status=400)
    never_uploaded = [*listed, {"PartNumber": 3, "ETag": listed[1]["ETag"]}]
    expect_client_error(
        complete_upload, s3, bucket, "ip", upload_id, never_uploaded, code="InvalidPart", status=400
    )
    assert object_absent(s3, bucket, "ip")


def test_complete_with_parts_out_of_order_is_invalid_part_order(s3, bucket):
    parts = [rand_bytes(PART_SIZE_MIN, "order-1"), rand_bytes(PART_SIZE_MIN, "order-2")]
    upload_id = create_upload(s3, bucket, "order")
    listed = upload_parts(s3, bucket, "order", upload_id, parts)
    expect_client_error(
        complete_upload, s3, bucket, "order", upload_id, listed[::-1], code="InvalidPartOrder", status=400
    )
    assert object_absent(s3, bucket, "order")


@pytest.mark.parametrize("upload_id", BOGUS_UPLOAD_IDS)
def test_unknown_upload_id_is_no_such_upload(s3, bucket, upload_id):
    ids = {"Bucket": bucket, "Key": "nope", "UploadId": upload_id}
    expect_client_error(s3.upload_part, **ids, PartNumber=1, Body=b"x", code="NoSuchUpload", status=404)
    parts = [{"PartNumber": 1, "ETag": f'"{md5_hex(b"x")}"'}]
    expect_client_error(
        s3.complete_multipart_upload, **ids, MultipartUpload={"Parts": parts}, code="NoSuchUpload", status=404
    )
    expect_client_error(s3.abort_multipart_upload, **ids, code="NoSuchUpload", status=404)
    expect_client_error(s3.list_parts, **ids, code="NoSuchUpload", status=404)


def test_upload_id_of_another_key_is_no_such_upload(s3, bucket):
    upload_id = create_upload(s3, bucket, "owner")
    ids = {"Bucket": bucket, "Key": "someone-else", "UploadId": upload_id}
    expect_client_error(s3.upload_part, **ids, PartNumber=1, Body=b"x", code="NoSuchUpload", status=404)
    expect_client_error(s3.list_parts, **ids, code="NoSuchUpload", status=404)
    expect_client_error(s3.abort_multipart_upload, **ids, code="NoSuchUpload", status=404)
    assert s3.list_parts(Bucket=bucket, Key="owner", UploadId=upload_id).get("Parts", []) == []


@pytest.mark.parametrize("part_number", [0, 10001])
def test_part_number_out_of_range_is_invalid_argument(s3, bucket, part_number):
    upload_id = create_upload(s3, bucket, "pn")
    expect_client_error(
        s3.upload_part,
        Bucket=bucket,
        Key="pn",
        UploadId=upload_id,
        PartNumber=part_number,
        Body=b"x",
        code="InvalidArgument",
        status=400,
    )
    assert s3.list_parts(Bucket=bucket, Key="pn", UploadId=upload_id).get("Parts", []) == []


def test_part_number_10000_is_accepted(s3, bucket):
    upload_id = create_upload(s3, bucket, "pn-max")
    resp = s3.upload_part(Bucket=bucket, Key="pn-max", UploadId=upload_id, PartNumber=10000, Body=b"last")
    parts = [{"PartNumber": 10000, "ETag": resp["ETag"]}]
    complete_upload(s3, bucket, "pn-max", upload_id, parts)
    assert get_body(s3, bucket, "pn-max") == b"last"


def test_complete_with_empty_part_list_is_malformed_xml(s3, bucket):
    upload_id = create_upload(s3, bucket, "empty-list")
    upload_parts(s3, bucket, "empty-list", upload_id, [b"one part"])
    expect_client_error(complete_upload, s3, bucket, "empty-list", upload_id, [], code="MalformedXML", status=400)
    assert object_absent(s3, bucket, "empty-list")


# --------------------------------------------------------------------------- completion


def test_retried_complete_returns_the_same_result(s3, bucket):
    parts = [rand_bytes(PART_SIZE_MIN, "retry-1"), rand_bytes(12345, "retry-2")]
    upload_id = create_upload(s3, bucket, "retry")
    listed = upload_parts(s3, bucket, "retry", upload_id, parts)
    first = complete_upload(s3, bucket, "retry", upload_id, listed)
    # Clients retry a Complete whose response they lost; AWS answers 200 with the same result.
    again = complete_upload(s3, bucket, "retry", upload_id, listed)
    for resp in (first, again):
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert resp["ETag"] == multipart_etag_of(parts)
        assert resp["Bucket"] == bucket and resp["Key"] == "retry"
    assert get_body(s3, bucket, "retry") == b"".join(parts)


def test_completed_etag_is_md5_of_part_md5s(s3, bucket):
    parts = [rand_bytes(PART_SIZE_MIN, "etag-1"), rand_bytes(6 * MiB + 1, "etag-2"), rand_bytes(123, "etag-3")]
    resp = multipart_object(s3, bucket, "etag", parts)
    expected = multipart_etag_of(parts)
    assert resp["ETag"] == expected
    assert s3.head_object(Bucket=bucket, Key="etag")["ETag"] == expected
    got = s3.get_object(Bucket=bucket, Key="etag")
    assert got["ETag"] == expected
    assert got["ContentLength"] == sum(map(len, parts))
    assert got["Body"].read() == b"".join(parts)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="etag")["Contents"]
    assert [(o["Key"], o["ETag"], o["Size"]) for o in listed] == [("etag", expected, sum(map(len, parts)))]


# --------------------------------------------------------------------------- listings and abort


def test_list_parts_paginates_with_max_parts_and_marker(s3, bucket):
    upload_id = create_upload(s3, bucket, "lp")
    bodies = {number: rand_bytes(1000 + number, f"lp-{number}") for number in (1, 2, 4, 7, 9)}
    for number, body in bodies.items():
        s3.upload_part(Bucket=bucket, Key="lp", UploadId=upload_id, PartNumber=number, Body=b"stale")
        s3.upload_part(Bucket=bucket, Key="lp", UploadId=upload_id, PartNumber=number, Body=body)

    seen = []
    marker = 0
    pages = 0
    while True:
        page = s3.list_parts(Bucket=bucket, Key="lp", UploadId=upload_id, MaxParts=2, PartNumberMarker=marker)
        pages += 1
        assert page["UploadId"] == upload_id and page["Key"] == "lp"
        assert page["MaxParts"] == 2
        assert page["PartNumberMarker"] == marker
        numbers = [part["PartNumber"] for part in page["Parts"]]
        assert len(numbers) <= 2
        seen.extend(page["Parts"])
        if not page["IsTruncated"]:
            break
        assert page["NextPartNumberMarker"] == numbers[-1]
        marker = page["NextPartNumberMarker"]
        assert pages < 10, "ListParts pagination does not end"
    assert pages == 3
    # A re-uploaded part number replaces the earlier part.
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in seen] == [
        (number, f'"{md5_hex(body)}"', len(body)) for number, body in bodies.items()
    ]

    everything = s3.list_parts(Bucket=bucket, Key="lp", UploadId=upload_id)
    assert not everything["IsTruncated"]
    assert [p["PartNumber"] for p in everything["Parts"]] == list(bodies)


def listed_uploads(s3, bucket: str, **kw) -> tuple[list[tuple[str, str]], list[str]]:
    """One ListMultipartUploads page: its (key, upload id) pairs and its common prefixes."""
    page = s3.list_multipart_uploads(Bucket=bucket, **kw)
    return (
        [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])],
        [p["Prefix"] for p in page.get("CommonPrefixes", [])],
    )


def test_list_multipart_uploads_prefix_delimiter_and_key_marker(s3, bucket):
    keys = ["a/1", "a/2", "a/sub/x", "b/1", "c", "c", "d"]
    uploads = [(key, create_upload(s3, bucket, key)) for key in keys]

    everything, prefixes = listed_uploads(s3, bucket)
    assert sorted(everything) == sorted(uploads) and prefixes == []
    assert [key for key, _ in everything] == keys, "uploads are listed in key order"

    found, prefixes = listed_uploads(s3, bucket, Prefix="a/")
    assert sorted(found) == sorted(u for u in uploads if u[0].startswith("a/")) and prefixes == []

    found, prefixes = listed_uploads(s3, bucket, Prefix="a/", Delimiter="/")
    assert sorted(found) == sorted(u for u in uploads if u[0] in ("a/1", "a/2"))
    assert prefixes == ["a/sub/"]

    found, prefixes = listed_uploads(s3, bucket, Delimiter="/")
    assert sorted(found) == sorted(u for u in uploads if u[0] in ("c", "d"))
    assert prefixes == ["a/", "b/"]

    found, _ = listed_uploads(s3, bucket, KeyMarker="c")
    assert found == [u for u in uploads if u[0] == "d"], "key-marker alone skips every upload of that key"


@pytest.mark.parametrize("page_size", [1, 2])
def test_list_multipart_uploads_pages_with_upload_id_marker(s3, bucket, page_size):
    """Paging by NextKeyMarker/NextUploadIdMarker, as the SDK paginators do, lists each upload once.

    AWS lists the uploads of one key in the order they were initiated; upload ids are random, so
    the upload-id-marker has to mean "after this upload in that order". Four uploads share key
    "c", so page boundaries fall inside that key.
    """
    uploads = [("b", create_upload(s3, bucket, "b"))]
    for _ in range(4):
        time.sleep(0.01)  # distinct initiation times make the expected order unambiguous
        uploads.append(("c", create_upload(s3, bucket, "c")))
    uploads.append(("d", create_upload(s3, bucket, "d")))

    everything, _ = listed_uploads(s3, bucket)
    assert everything == uploads, "uploads of one key are listed in the order they were initiated"

    collected = []
    markers = {}
    for _ in range(len(uploads)):
        page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=page_size, **markers)
        assert page["MaxUploads"] == page_size
        page_uploads = [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        assert 0 < len(page_uploads) <= page_size, f"page after {markers}: {page_uploads}"
        collected.extend(page_uploads)
        if not page["IsTruncated"]:
            break
        assert (page["NextKeyMarker"], page["NextUploadIdMarker"]) == page_uploads[-1]
        markers = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    else:
        raise AssertionError("ListMultipartUploads pagination does not end")
    assert collected == uploads, "paging with key-marker/upload-id-marker must list each upload once"


def test_abort_removes_the_upload(s3, bucket):
    upload_id = create_upload(s3, bucket, "aborted")
    listed = upload_parts(s3, bucket, "aborted", upload_id, [rand_bytes(PART_SIZE_MIN, "abort-1"), b"tail"])
    resp = s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=upload_id)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204

    ids = {"Bucket": bucket, "Key": "aborted", "UploadId": upload_id}
    expect_client_error(s3.list_parts, **ids, code="NoSuchUpload", status=404)
    expect_client_error(s3.upload_part, **ids, PartNumber=3, Body=b"late", code="NoSuchUpload", status=404)
    expect_client_error(complete_upload, s3, bucket, "aborted", upload_id, listed, code="NoSuchUpload", status=404)
    assert object_absent(s3, bucket, "aborted")
    remaining = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert upload_id not in [u["UploadId"] for u in remaining]


# --------------------------------------------------------------------------- copy and part reads


def test_upload_part_copy_whole_and_ranges(s3, bucket):
    single = rand_bytes(12 * MiB + 7, "copy-src")
    s3.put_object(Bucket=bucket, Key="src/single", Body=single)
    source_parts = [rand_bytes(PART_SIZE_MIN, "copy-mp-1"), rand_bytes(3 * MiB, "copy-mp-2")]
    multipart_object(s3, bucket, "src/multipart", source_parts)
    multipart_bytes = b"".join(source_parts)

    # (source key, range or None for the whole object, expected bytes)
    # 6 MiB across the source's part boundary: non-final parts must be at least 5 MiB.
    straddle = (PART_SIZE_MIN - 3 * MiB, PART_SIZE_MIN + 3 * MiB - 1)
    copies = [
        ("src/single", None, single),
        ("src/single", (1000, 1000 + 6 * MiB - 1), single[1000 : 1000 + 6 * MiB]),
        ("src/multipart", straddle, multipart_bytes[straddle[0] : straddle[1] + 1]),
        ("src/single", (len(single) - 100, len(single) - 1), single[-100:]),
    ]
    upload_id = create_upload(s3, bucket, "copied")
    listed = []
    for number, (source, span, expected) in enumerate(copies, start=1):
        kw = {"CopySourceRange": f"bytes={span[0]}-{span[1]}"} if span else {}
        resp = s3.upload_part_copy(
            Bucket=bucket,
            Key="copied",
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": bucket, "Key": source},
            **kw,
        )
        etag = resp["CopyPartResult"]["ETag"]
        assert etag == f'"{md5_hex(expected)}"', f"part {number}: a copied part's ETag is its MD5"
        listed.append({"PartNumber": number, "ETag": etag})
    resp = complete_upload(s3, bucket, "copied", upload_id, listed)
    expected_parts = [expected for _, _, expected in copies]
    assert resp["ETag"] == multipart_etag_of(expected_parts)
    assert get_body(s3, bucket, "copied") == b"".join(expected_parts)
    # The sources are untouched.
    assert get_body(s3, bucket, "src/single") == single
    assert get_body(s3, bucket, "src/multipart") == multipart_bytes


def test_get_and_head_by_part_number(s3, bucket):
    parts = [rand_bytes(PART_SIZE_MIN, "pn-1"), rand_bytes(6 * MiB, "pn-2"), rand_bytes(1024, "pn-3")]
    etag = multipart_object(s3, bucket, "parts", parts)["ETag"]
    total = sum(map(len, parts))
    start = 0
    for number, part in enumerate(parts, start=1):
        end = start + len(part) - 1
        head = s3.head_object(Bucket=bucket, Key="parts", PartNumber=number)
        got = s3.get_object(Bucket=bucket, Key="parts", PartNumber=number)
        for resp in (head, got):
            assert resp["ResponseMetadata"]["HTTPStatusCode"] == 206, f"part {number}"
            assert resp["ContentLength"] == len(part), f"part {number}"
            assert resp["ContentRange"] == f"bytes {start}-{end}/{total}", f"part {number}"
            assert resp["PartsCount"] == len(parts), f"part {number}: x-amz-mp-parts-count"
            assert resp["ETag"] == etag, f"part {number}: the ETag is the whole object's"
        assert got["Body"].read() == part, f"part {number}: wrong bytes"
        start = end + 1

    expect_client_error(
        s3.get_object, Bucket=bucket, Key="parts", PartNumber=len(parts) + 1, code="InvalidPartNumber", status=416
    )
    expect_client_error(s3.head_object, Bucket=bucket, Key="parts", PartNumber=len(parts) + 1, status=416)


# --------------------------------------------------------------------------- checksums


CHECKSUM_PARTS = [rand_bytes(PART_SIZE_MIN, "ck-1"), rand_bytes(PART_SIZE_MIN + 17, "ck-2"), rand_bytes(333, "ck-3")]


def upload_parts_with_checksum(s3, bucket, key, upload_id, algorithm) -> list[dict]:
    """Uploads CHECKSUM_PARTS with botocore computing `algorithm` per part; the list for Complete."""
    member = f"Checksum{algorithm}"
    listed = []
    for number, body in enumerate(CHECKSUM_PARTS, start=1):
        resp = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, ChecksumAlgorithm=algorithm
        )
        assert resp.get(member) == checksum_b64(algorithm, body), f"part {number}: {member} not echoed"
        listed.append({"PartNumber": number, "ETag": resp["ETag"], member: resp[member]})
    stored = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
    assert [p.get(member) for p in stored] == [p[member] for p in listed], "ListParts shows each part's checksum"
    return listed


def test_composite_crc32_checksum(s3, bucket):
    created = s3.create_multipart_upload(Bucket=bucket, Key="composite", ChecksumAlgorithm="CRC32")
    assert created.get("ChecksumAlgorithm") == "CRC32"
    upload_id = created["UploadId"]
    listed = upload_parts_with_checksum(s3, bucket, "composite", upload_id, "CRC32")
    expected = composite_checksum("CRC32", CHECKSUM_PARTS)

    done = complete_upload(s3, bucket, "composite", upload_id, listed)
    assert done.get("ChecksumCRC32") == expected
    assert done.get("ChecksumType") == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="composite", ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC32") == expected
    assert head.get("ChecksumType") == "COMPOSITE"
    assert get_body(s3, bucket, "composite") == b"".join(CHECKSUM_PARTS)


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_checksum(s3, bucket, algorithm):
    member = f"Checksum{algorithm}"
    key = f"full-{algorithm}"
    created = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm, ChecksumType="FULL_OBJECT"
    )
    assert created.get("ChecksumAlgorithm") == algorithm
    assert created.get("ChecksumType") == "FULL_OBJECT"
    upload_id = created["UploadId"]
    listed = upload_parts_with_checksum(s3, bucket, key, upload_id, algorithm)
    body = b"".join(CHECKSUM_PARTS)
    expected = checksum_b64(algorithm, body)

    done = complete_upload(s3, bucket, key, upload_id, listed, ChecksumType="FULL_OBJECT")
    assert done.get(member) == expected
    assert done.get("ChecksumType") == "FULL_OBJECT"
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head.get(member) == expected, "a FULL_OBJECT checksum is the checksum of the whole body"
    assert head.get("ChecksumType") == "FULL_OBJECT"
    # botocore checks the body against the returned full-object checksum while reading it.
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got.get(member) == expected
    assert got["Body"].read() == body


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC64NVME"])
def test_complete_with_full_object_checksum_header(s3, bucket, algorithm):
    """The SDKs' own multipart uploaders send the whole object's checksum with Complete.

    On CompleteMultipartUpload, x-amz-checksum-<algorithm> is the checksum of the object being
    completed (a check on the parts' data), not of the XML request body.
    """
    member = f"Checksum{algorithm}"
    key = f"full-header-{algorithm}"
    upload_id = create_upload(s3, bucket, key, ChecksumAlgorithm=algorithm, ChecksumType="FULL_OBJECT")
    listed = upload_parts_with_checksum(s3, bucket, key, upload_id, algorithm)
    body = b"".join(CHECKSUM_PARTS)
    expected = checksum_b64(algorithm, body)

    done = complete_upload(
        s3, bucket, key, upload_id, listed, ChecksumType="FULL_OBJECT", MpuObjectSize=len(body), **{member: expected}
    )
    assert done.get(member) == expected
    assert done.get("ChecksumType") == "FULL_OBJECT"
    assert get_body(s3, bucket, key) == body


def test_wrong_part_checksum_is_bad_digest(s3, bucket):
    upload_id = create_upload(s3, bucket, "bad-part", ChecksumAlgorithm="CRC32")
    body = rand_bytes(PART_SIZE_MIN, "bad-part")
    expect_client_error(
        s3.upload_part,
        Bucket=bucket,
        Key="bad-part",
        UploadId=upload_id,
        PartNumber=1,
        Body=body,
        ChecksumCRC32=checksum_b64("CRC32", body + b"x"),
        code="BadDigest",
        status=400,
    )
    assert s3.list_parts(Bucket=bucket, Key="bad-part", UploadId=upload_id).get("Parts", []) == []


def test_complete_with_wrong_listed_part_checksum_is_invalid_part(s3, bucket):
    """A checksum listed with a part in Complete must match the one stored with that part."""
    bodies = [rand_bytes(PART_SIZE_MIN, "listed-1"), rand_bytes(1000, "listed-2")]
    upload_id = create_upload(s3, bucket, "listed", ChecksumAlgorithm="CRC32")
    parts = []
    for number, body in enumerate(bodies, start=1):
        resp = s3.upload_part(
            Bucket=bucket, Key="listed", UploadId=upload_id, PartNumber=number, Body=body, ChecksumAlgorithm="CRC32"
        )
        assert resp["ChecksumCRC32"] == checksum_b64("CRC32", body)
        parts.append({"PartNumber": number, "ETag": resp["ETag"], "ChecksumCRC32": resp["ChecksumCRC32"]})
    wrong = [dict(p) for p in parts]
    wrong[1]["ChecksumCRC32"] = checksum_b64("CRC32", b"other bytes")
    expect_client_error(
        complete_upload, s3, bucket, "listed", upload_id, wrong, code="InvalidPart", status=400
    )
    assert object_absent(s3, bucket, "listed")
    done = complete_upload(s3, bucket, "listed", upload_id, parts)
    assert done["ChecksumCRC32"] == composite_checksum("CRC32", bodies)
    assert get_body(s3, bucket, "listed") == b"".join(bodies)


# --------------------------------------------------------------------------- conditional complete


def one_part_upload(s3, bucket, key, body) -> tuple[str, list[dict]]:
    upload_id = create_upload(s3, bucket, key)
    return upload_id, upload_parts(s3, bucket, key, upload_id, [body])


def test_conditional_complete(s3, bucket):
    old = s3.put_object(Bucket=bucket, Key="cond", Body=b"old body")

    upload_id, listed = one_part_upload(s3, bucket, "cond", b"new body 1")
    expect_client_error(
        complete_upload, s3, bucket, "cond", upload_id, listed, IfNoneMatch="*", code="PreconditionFailed", status=412
    )
    assert get_body(s3, bucket, "cond") == b"old body"

    upload_id, listed = one_part_upload(s3, bucket, "cond", b"new body 2")
    expect_client_error(
        complete_upload,
        s3,
        bucket,
        "cond",
        upload_id,
        listed,
        IfMatch=f'"{md5_hex(b"not the old body")}"',
        code="PreconditionFailed",
        status=412,
    )
    assert get_body(s3, bucket, "cond") == b"old body"

    upload_id, listed = one_part_upload(s3, bucket, "cond", b"new body 3")
    done = complete_upload(s3, bucket, "cond", upload_id, listed, IfMatch=old["ETag"])
    assert done["ETag"] == multipart_etag_of([b"new body 3"])
    assert get_body(s3, bucket, "cond") == b"new body 3"

    upload_id, listed = one_part_upload(s3, bucket, "fresh", b"fresh body")
    complete_upload(s3, bucket, "fresh", upload_id, listed, IfNoneMatch="*")
    assert get_body(s3, bucket, "fresh") == b"fresh body"


def test_conditional_complete_if_match_on_missing_key_is_no_such_key(s3, bucket):
    upload_id, listed = one_part_upload(s3, bucket, "missing", b"body")
    expect_client_error(
        complete_upload,
        s3,
        bucket,
        "missing",
        upload_id,
        listed,
        IfMatch=f'"{md5_hex(b"anything")}"',
        code="NoSuchKey",
        status=404,
    )
    assert object_absent(s3, bucket, "missing")


# --------------------------------------------------------------------------- completion cost


def test_complete_of_100_parts_is_metadata_only(s3, bucket):
    count = 100
    parts = [os.urandom(PART_SIZE_MIN) for _ in range(count)]
    upload_id = create_upload(s3, bucket, "hundred")

    def put(number: int) -> dict:
        body = parts[number - 1]
        resp = s3.upload_part(Bucket=bucket, Key="hundred", UploadId=upload_id, PartNumber=number, Body=body)
        return {"PartNumber": number, "ETag": resp["ETag"]}

    with ThreadPoolExecutor(max_workers=8) as pool:
        listed = list(pool.map(put, range(1, count + 1)))

    started = time.monotonic()
    done = complete_upload(s3, bucket, "hundred", upload_id, listed)
    elapsed = time.monotonic() - started
    print(f"CompleteMultipartUpload of {count} x 5 MiB parts took {elapsed * 1000:.1f} ms")
    # Completion moves no bytes, so it should take well under a second; 5 s keeps slow CI green
    # while still catching a Complete that copies 500 MiB.
    assert elapsed < 5.0, f"CompleteMultipartUpload took {elapsed:.2f} s"

    body = b"".join(parts)
    assert done["ETag"] == multipart_etag_of(parts)
    head = s3.head_object(Bucket=bucket, Key="hundred")
    assert head["ContentLength"] == len(body) == count * PART_SIZE_MIN
    assert head["ETag"] == done["ETag"]
    # Ranges across part boundaries, one spanning three parts, and the last bytes.
    boundary = PART_SIZE_MIN
    spans = [
        (boundary - 100, 200),
        (50 * boundary - 1, 2),
        (99 * boundary - 4096, 8192),
        (3 * boundary - 10, 2 * boundary + 20),
        (len(body) - 10, 10),
    ]
    for start, length in spans:
        got = s3.get_object(Bucket=bucket, Key="hundred", Range=f"bytes={start}-{start + length - 1}")
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["Body"].read() == body[start : start + length], f"range {start}+{length} differs"
