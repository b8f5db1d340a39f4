"""Multipart corner cases: re-uploaded parts, `?partNumber=` reads, and ListParts / ListMultipartUploads paging.

What AWS answers, and where it is written down:

* UploadPart: "If you upload a new part using the same part number that was used with a previous part, the
  previously uploaded part is overwritten." Complete then needs the new part's ETag; the old one is InvalidPart.
* GetObject/HeadObject `partNumber`: a part past the object's part count is 416 InvalidPartNumber; AWS's error
  document names the request and the count (<PartNumberRequested>, <ActualPartCount>). An object that was not
  uploaded in parts has one part: partNumber=1 reads all of it as a range, any other number is 416.
  `x-amz-mp-parts-count` is sent only for multipart objects read by part number (boto3 issue #3137 and moto
  issue #4839, observed on AWS).
* ListParts: max-parts, part-number-marker, NextPartNumberMarker (the last part listed), IsTruncated.
* ListMultipartUploads: uploads sorted by key, then by initiation time; max-uploads counts uploads and
  CommonPrefixes together; NextKeyMarker/NextUploadIdMarker resume after the last entry, and a key-marker that is
  a common prefix resumes after every key under it (as ListObjects does with a marker), so paging with a
  delimiter ends; encoding-type=url encodes Key, Prefix, Delimiter, KeyMarker and NextKeyMarker.

test_multipart.py holds the basic paging tests; these are the corners.
"""

from __future__ import annotations

import hashlib
import json
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_plus

import pytest
import requests
from helpers import MiB, expect_client_error, md5_hex, rand_bytes, sign_request, xml_error_code


PART_MIN = 5 * MiB


def multipart_etag(parts: list[bytes]) -> str:
    return f'"{hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()}-{len(parts)}"'


def xml_doc(text: str) -> ET.Element:
    """The document with namespaces stripped from the tags."""
    root = ET.fromstring(text)
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]
    return root


def raw_call(server, method: str, path: str, query: str = "", headers: dict | None = None) -> requests.Response:
    url, signed = sign_request(server.endpoint, server.access_key, server.secret_key, method, path, query=query,
                               headers=headers)  # fmt: skip
    return requests.request(method, url, headers=signed, timeout=60)


@pytest.fixture
def bucket(bucket, s3):
    """conftest's bucket, with unfinished uploads aborted first so that its cleanup can delete it."""
    yield bucket
    try:
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    except Exception:  # noqa: BLE001 - best effort
        pass


def create(s3, bucket, key, **kw) -> str:
    return s3.create_multipart_upload(Bucket=bucket, Key=key, **kw)["UploadId"]


def put_part(s3, bucket, key, upload_id, number, body, **kw) -> dict:
    resp = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, **kw)
    return {"PartNumber": number, "ETag": resp["ETag"]}


def complete(s3, bucket, key, upload_id, parts) -> dict:
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})


# --------------------------------------------------------------------------- re-uploaded parts


def test_reuploaded_part_replaces_it_and_complete_takes_the_new_etag(s3, bucket):
    old, new, tail = rand_bytes(PART_MIN, "old"), rand_bytes(PART_MIN + 3, "new"), b"tail"
    upload_id = create(s3, bucket, "k")
    stale = put_part(s3, bucket, "k", upload_id, 1, old)
    last = put_part(s3, bucket, "k", upload_id, 2, tail)
    fresh = put_part(s3, bucket, "k", upload_id, 1, new)
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [
        (1, f'"{md5_hex(new)}"', len(new)),
        (2, f'"{md5_hex(tail)}"', len(tail)),
    ]
    # The replaced part is gone: naming it is InvalidPart, and the upload stays open.
    expect_client_error(complete, s3, bucket, "k", upload_id, [stale, last], code="InvalidPart", status=400)
    done = complete(s3, bucket, "k", upload_id, [fresh, last])
    assert done["ETag"] == multipart_etag([new, tail])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == new + tail


def test_reuploads_in_any_order_keep_one_part_per_number(s3, bucket):
    upload_id = create(s3, bucket, "order")
    final = {}
    for round_, number in enumerate([3, 1, 2, 3, 1, 2, 1]):
        body = rand_bytes(PART_MIN if number < 3 else 100 + round_, f"order-{round_}")
        final[number] = (put_part(s3, bucket, "order", upload_id, number, body), body)
    listed = s3.list_parts(Bucket=bucket, Key="order", UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2, 3]
    assert [p["ETag"] for p in listed] == [final[n][0]["ETag"] for n in (1, 2, 3)]
    done = complete(s3, bucket, "order", upload_id, [final[n][0] for n in (1, 2, 3)])
    assert done["ETag"] == multipart_etag([final[n][1] for n in (1, 2, 3)])
    assert s3.get_object(Bucket=bucket, Key="order")["Body"].read() == b"".join(final[n][1] for n in (1, 2, 3))


def test_reupload_that_shrinks_a_middle_part_is_entity_too_small(s3, bucket):
    upload_id = create(s3, bucket, "shrink")
    put_part(s3, bucket, "shrink", upload_id, 1, rand_bytes(PART_MIN, "s1"))
    second = put_part(s3, bucket, "shrink", upload_id, 2, b"end")
    first = put_part(s3, bucket, "shrink", upload_id, 1, b"now small")
    expect_client_error(complete, s3, bucket, "shrink", upload_id, [first, second], code="EntityTooSmall", status=400)
    big = put_part(s3, bucket, "shrink", upload_id, 1, rand_bytes(PART_MIN, "s1-again"))
    complete(s3, bucket, "shrink", upload_id, [big, second])


def test_upload_part_copy_and_upload_part_replace_each_other(s3, bucket):
    source = rand_bytes(PART_MIN, "copy-source")
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = create(s3, bucket, "mixed")
    ids = {"Bucket": bucket, "Key": "mixed", "UploadId": upload_id}
    put_part(s3, bucket, "mixed", upload_id, 1, rand_bytes(PART_MIN, "uploaded-first"))
    copied = s3.upload_part_copy(**ids, PartNumber=1, CopySource={"Bucket": bucket, "Key": "source"})
    copied_part = {"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]}
    s3.upload_part_copy(
        **ids, PartNumber=2, CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange="bytes=0-9"
    )
    last = put_part(s3, bucket, "mixed", upload_id, 2, b"uploaded-last")
    listed = s3.list_parts(**ids)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in listed] == [(1, f'"{md5_hex(source)}"'), (2, last["ETag"])]
    complete(s3, bucket, "mixed", upload_id, [copied_part, last])
    assert s3.get_object(Bucket=bucket, Key="mixed")["Body"].read() == source + b"uploaded-last"


def test_concurrent_reuploads_of_one_part_leave_one_complete_part(s3, bucket):
    upload_id = create(s3, bucket, "race")
    bodies = [rand_bytes(PART_MIN, f"race-{i}") for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda body: put_part(s3, bucket, "race", upload_id, 1, body), bodies))
    listed = s3.list_parts(Bucket=bucket, Key="race", UploadId=upload_id)["Parts"]
    assert len(listed) == 1 and listed[0]["PartNumber"] == 1
    winner = next(body for body in bodies if f'"{md5_hex(body)}"' == listed[0]["ETag"])
    tail = put_part(s3, bucket, "race", upload_id, 2, b"tail")
    done = complete(s3, bucket, "race", upload_id, [{"PartNumber": 1, "ETag": listed[0]["ETag"]}, tail])
    assert done["ETag"] == multipart_etag([winner, b"tail"])
    assert s3.get_object(Bucket=bucket, Key="race")["Body"].read() == winner + b"tail"


def test_reuploaded_checksum_part_replaces_its_checksum(s3, bucket):
    upload_id = create(s3, bucket, "ck", ChecksumAlgorithm="CRC32")
    ids = {"Bucket": bucket, "Key": "ck", "UploadId": upload_id}
    first = s3.upload_part(**ids, PartNumber=1, Body=b"first body", ChecksumAlgorithm="CRC32")
    second = s3.upload_part(**ids, PartNumber=1, Body=b"second body", ChecksumAlgorithm="CRC32")
    listed = s3.list_parts(**ids)["Parts"]
    assert [(p["ETag"], p.get("ChecksumCRC32")) for p in listed] == [(second["ETag"], second["ChecksumCRC32"])]
    stale = [{"PartNumber": 1, "ETag": second["ETag"], "ChecksumCRC32": first["ChecksumCRC32"]}]
    expect_client_error(complete, s3, bucket, "ck", upload_id, stale, code="InvalidPart", status=400)
    current = {"PartNumber": 1, "ETag": second["ETag"], "ChecksumCRC32": second["ChecksumCRC32"]}
    complete(s3, bucket, "ck", upload_id, [current])
    assert s3.get_object(Bucket=bucket, Key="ck")["Body"].read() == b"second body"


def test_reuploaded_parts_survive_a_restart(server_factory):
    """The part that replaced another is the one found after the server reopens its index."""
    srv = server_factory("mp-reupload-restart")
    s3 = srv.client()
    s3.create_bucket(Bucket="reupload")
    upload_id = create(s3, "reupload", "k")
    bodies = {}
    for round_, number in enumerate([1, 2, 1, 2, 1]):
        bodies[number] = rand_bytes(PART_MIN if number == 1 else 1000, f"restart-{round_}")
        put_part(s3, "reupload", "k", upload_id, number, bodies[number])
    srv.terminate()
    srv.restart()
    s3 = srv.client()
    listed = s3.list_parts(Bucket="reupload", Key="k", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in listed] == [(n, f'"{md5_hex(bodies[n])}"') for n in (1, 2)]
    complete(s3, "reupload", "k", upload_id, [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed])
    assert s3.get_object(Bucket="reupload", Key="k")["Body"].read() == bodies[1] + bodies[2]


# --------------------------------------------------------------------------- partNumber reads


@pytest.fixture
def two_part_object(s3, bucket):
    parts = [rand_bytes(PART_MIN, "pn-1"), b"second part"]
    upload_id = create(s3, bucket, "mp")
    listed = [put_part(s3, bucket, "mp", upload_id, n, body) for n, body in enumerate(parts, start=1)]
    complete(s3, bucket, "mp", upload_id, listed)
    return parts


@pytest.mark.parametrize("part_number", [3, 4, 10000])
def test_part_number_past_the_count_is_416_invalid_part_number(s3, bucket, two_part_object, part_number):
    expect_client_error(
        s3.get_object, Bucket=bucket, Key="mp", PartNumber=part_number, code="InvalidPartNumber", status=416
    )
    expect_client_error(s3.head_object, Bucket=bucket, Key="mp", PartNumber=part_number, status=416)


def test_invalid_part_number_error_names_request_and_count(server, bucket, two_part_object):
    """AWS's 416 document: <PartNumberRequested> and <ActualPartCount>, and no Content-Range."""
    r = raw_call(server, "GET", f"/{bucket}/mp", query="partNumber=5")
    assert r.status_code == 416, r.text
    doc = xml_doc(r.text)
    assert doc.findtext("Code") == "InvalidPartNumber"
    assert doc.findtext("PartNumberRequested") == "5"
    assert doc.findtext("ActualPartCount") == "2"


@pytest.mark.parametrize("part_number", [0, 10001])
def test_part_number_out_of_range_on_read_is_invalid_argument(s3, bucket, two_part_object, part_number):
    expect_client_error(
        s3.get_object, Bucket=bucket, Key="mp", PartNumber=part_number, code="InvalidArgument", status=400
    )


def test_part_number_with_range_is_invalid_request(s3, bucket, two_part_object):
    expect_client_error(
        s3.get_object, Bucket=bucket, Key="mp", PartNumber=1, Range="bytes=0-1", code="InvalidRequest", status=400
    )


def test_whole_multipart_read_has_no_parts_count(s3, bucket, two_part_object):
    assert "PartsCount" not in s3.head_object(Bucket=bucket, Key="mp")
    assert "PartsCount" not in s3.get_object(Bucket=bucket, Key="mp", Range="bytes=0-3")


def test_part_number_1_of_a_single_part_object_reads_it_all(s3, bucket):
    body = b"not uploaded in parts"
    etag = s3.put_object(Bucket=bucket, Key="single", Body=body)["ETag"]
    got = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
    head = s3.head_object(Bucket=bucket, Key="single", PartNumber=1)
    assert got["Body"].read() == body
    for resp in (got, head):
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert resp["ContentLength"] == len(body)
        assert resp["ContentRange"] == f"bytes 0-{len(body) - 1}/{len(body)}"
        assert resp["ETag"] == etag


def test_single_part_object_has_no_parts_count(s3, bucket):
    """x-amz-mp-parts-count is for multipart objects only (observed on AWS: boto3 #3137, moto #4839)."""
    s3.put_object(Bucket=bucket, Key="single", Body=b"one piece")
    assert "PartsCount" not in s3.head_object(Bucket=bucket, Key="single", PartNumber=1)
    assert "PartsCount" not in s3.get_object(Bucket=bucket, Key="single", PartNumber=1)


@pytest.mark.parametrize("part_number", [2, 3, 10000])
def test_other_part_numbers_of_a_single_part_object_are_416(s3, bucket, part_number):
    s3.put_object(Bucket=bucket, Key="single", Body=b"one piece")
    expect_client_error(
        s3.get_object, Bucket=bucket, Key="single", PartNumber=part_number, code="InvalidPartNumber", status=416
    )
    expect_client_error(s3.head_object, Bucket=bucket, Key="single", PartNumber=part_number, status=416)


# --------------------------------------------------------------------------- ListParts paging


@pytest.fixture
def sparse_upload(s3, bucket):
    """An upload with parts 1, 2, 3, 5 and 8 (sent out of order)."""
    upload_id = create(s3, bucket, "sparse")
    for number in (8, 1, 5, 3, 2):
        put_part(s3, bucket, "sparse", upload_id, number, b"x" * number)
    return upload_id


def list_parts_page(s3, bucket, upload_id, **kw):
    page = s3.list_parts(Bucket=bucket, Key="sparse", UploadId=upload_id, **kw)
    return [p["PartNumber"] for p in page.get("Parts", [])], page


@pytest.mark.parametrize(
    "marker, numbers, next_marker, truncated",
    [
        (0, [1, 2], 2, True),
        (2, [3, 5], 5, True),
        (4, [5, 8], 8, False),  # a marker between parts starts at the next one
        (5, [8], 8, False),
    ],
)
def test_list_parts_pages(s3, bucket, sparse_upload, marker, numbers, next_marker, truncated):
    got, page = list_parts_page(s3, bucket, sparse_upload, MaxParts=2, PartNumberMarker=marker)
    assert got == numbers
    assert page["PartNumberMarker"] == marker
    assert page["MaxParts"] == 2
    assert page["IsTruncated"] is truncated
    assert page["NextPartNumberMarker"] == next_marker
    assert [p["Size"] for p in page["Parts"]] == numbers


def test_list_parts_marker_past_the_last_part_is_an_empty_page(s3, bucket, sparse_upload):
    got, page = list_parts_page(s3, bucket, sparse_upload, MaxParts=2, PartNumberMarker=8)
    assert got == [] and page["IsTruncated"] is False


def test_list_parts_paginator_and_defaults(s3, bucket, sparse_upload):
    got, page = list_parts_page(s3, bucket, sparse_upload)
    assert got == [1, 2, 3, 5, 8]
    assert page["MaxParts"] == 1000 and page["IsTruncated"] is False and page["NextPartNumberMarker"] == 8
    assert page["Initiator"]["ID"] and page["Owner"]["ID"]
    pages = list(
        s3.get_paginator("list_parts").paginate(
            Bucket=bucket, Key="sparse", UploadId=sparse_upload, PaginationConfig={"PageSize": 2}
        )
    )
    assert [[p["PartNumber"] for p in pg.get("Parts", [])] for pg in pages] == [[1, 2], [3, 5], [8]]


def test_awscli_list_parts_pages_through_every_part(aws, s3, bucket, sparse_upload):
    out = aws("s3api", "list-parts", "--bucket", bucket, "--key", "sparse", "--upload-id", sparse_upload,
              "--page-size", "2", timeout=60)  # fmt: skip
    assert [p["PartNumber"] for p in json.loads(out.stdout)["Parts"]] == [1, 2, 3, 5, 8]


@pytest.mark.parametrize("query", ["max-parts=-1", "max-parts=two", "part-number-marker=x", "part-number-marker=-1"])
def test_list_parts_bad_arguments_are_invalid_argument(server, bucket, sparse_upload, query):
    r = raw_call(server, "GET", f"/{bucket}/sparse", query=f"uploadId={sparse_upload}&{query}")
    assert r.status_code == 400, r.text
    assert xml_error_code(r.text) == "InvalidArgument"


def test_list_parts_reports_the_uploads_storage_class(s3, bucket):
    upload_id = create(s3, bucket, "ia", StorageClass="STANDARD_IA")
    assert s3.list_parts(Bucket=bucket, Key="ia", UploadId=upload_id)["StorageClass"] == "STANDARD_IA"


# --------------------------------------------------------------------------- ListMultipartUploads paging


@pytest.fixture
def uploads(s3, bucket):
    """Five uploads: keys b, "c d", a/2, b, a/1 started in that order; returns name -> upload id."""
    ids = {}
    for name, key in [("b1", "b"), ("cd", "c d"), ("a2", "a/2"), ("b2", "b"), ("a1", "a/1")]:
        ids[name] = create(s3, bucket, key)
        time.sleep(0.01)  # distinct initiation times
    return ids


def uploads_page(s3, bucket, **kw):
    page = s3.list_multipart_uploads(Bucket=bucket, **kw)
    return [u["UploadId"] for u in page.get("Uploads", [])], [p["Prefix"] for p in page.get("CommonPrefixes", [])], page


def test_key_marker_that_is_a_common_prefix_resumes_after_it(s3, bucket, uploads):
    ids, prefixes, page = uploads_page(s3, bucket, Delimiter="/", MaxUploads=1)
    assert (ids, prefixes) == ([], ["a/"])
    assert page["IsTruncated"] is True and page["NextKeyMarker"] == "a/"
    ids, prefixes, page = uploads_page(s3, bucket, Delimiter="/", MaxUploads=1, KeyMarker="a/")
    assert (ids, prefixes) == ([uploads["b1"]], []), "key-marker a/ must skip every key under a/"
    assert (page["NextKeyMarker"], page["NextUploadIdMarker"]) == ("b", uploads["b1"])


def test_paging_with_delimiter_ends_and_lists_each_entry_once(s3, bucket, uploads):
    """Follow NextKeyMarker/NextUploadIdMarker one entry at a time, as the SDK paginators do."""
    seen = []
    markers: dict = {}
    for _ in range(10):
        ids, prefixes, page = uploads_page(s3, bucket, Delimiter="/", MaxUploads=1, **markers)
        seen.extend(prefixes + ids)
        if not page["IsTruncated"]:
            break
        markers = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page.get("NextUploadIdMarker", "")}
    else:
        raise AssertionError(f"ListMultipartUploads paging with a delimiter does not end: {seen}")
    assert seen == ["a/", uploads["b1"], uploads["b2"], uploads["cd"]]


def test_boto3_paginator_with_delimiter(s3, bucket, uploads):
    pages = s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}
    )
    seen = []
    for page in pages:  # botocore raises PaginationError if a marker comes back twice
        seen.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
        seen.extend(u["UploadId"] for u in page.get("Uploads", []))
    assert seen == ["a/", uploads["b1"], uploads["b2"], uploads["cd"]]


def test_awscli_list_multipart_uploads_with_delimiter_pages(aws, bucket, uploads):
    out = aws("s3api", "list-multipart-uploads", "--bucket", bucket, "--delimiter", "/", "--page-size", "1",
              check=False, timeout=60)  # fmt: skip
    assert out.returncode == 0, out
    listed = json.loads(out.stdout)
    assert [u["UploadId"] for u in listed.get("Uploads", [])] == [uploads["b1"], uploads["b2"], uploads["cd"]]
    assert [p["Prefix"] for p in listed.get("CommonPrefixes", [])] == ["a/"]


def test_max_uploads_counts_uploads_and_prefixes_together(s3, bucket, uploads):
    ids, prefixes, page = uploads_page(s3, bucket, Delimiter="/", MaxUploads=2)
    assert (prefixes, ids) == (["a/"], [uploads["b1"]])
    assert page["IsTruncated"] is True and (page["NextKeyMarker"], page["NextUploadIdMarker"]) == ("b", uploads["b1"])


def test_key_and_upload_id_markers(s3, bucket, uploads):
    ids, _, page = uploads_page(s3, bucket, KeyMarker="b", UploadIdMarker=uploads["b1"])
    assert ids == [uploads["b2"], uploads["cd"]]
    assert page["KeyMarker"] == "b" and page["UploadIdMarker"] == uploads["b1"]
    ids, _, _ = uploads_page(s3, bucket, KeyMarker="b")
    assert ids == [uploads["cd"]], "key-marker alone skips every upload of that key"
    ids, _, _ = uploads_page(s3, bucket, UploadIdMarker=uploads["b1"])
    assert len(ids) == 5, "an upload-id-marker without key-marker is ignored"
    ids, _, page = uploads_page(s3, bucket, MaxUploads=3)
    assert ids == [uploads["a1"], uploads["a2"], uploads["b1"]]
    assert (page["NextKeyMarker"], page["NextUploadIdMarker"], page["IsTruncated"]) == ("b", uploads["b1"], True)


def test_max_uploads_above_1000_lists_everything(s3, bucket, uploads):
    ids, _, page = uploads_page(s3, bucket, MaxUploads=5000)
    assert len(ids) == 5 and page["IsTruncated"] is False


def test_max_uploads_zero_answers_and_the_server_stays_up(server_factory):
    """max-uploads=0 is a valid value (0..2147483647): an empty, well-formed answer. A dedicated server, as
    this request has taken a shard down."""
    srv = server_factory("mp-max-uploads-zero")
    s3 = srv.client(read_timeout=5)
    s3.create_bucket(Bucket="zero")
    upload_id = create(s3, "zero", "k")
    try:
        page = s3.list_multipart_uploads(Bucket="zero", MaxUploads=0)
        assert page.get("Uploads", []) == [] and page["MaxUploads"] == 0
    finally:
        # Whatever the answer, the server must still serve this bucket.
        assert srv.health_status(timeout=5) == 200
        assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="zero").get("Uploads", [])] == [upload_id]


def test_encoding_type_url_encodes_keys_and_markers(server, s3, bucket, uploads):
    r = raw_call(server, "GET", f"/{bucket}", query="uploads&encoding-type=url&key-marker=b%20%2A")
    assert r.status_code == 200, r.text
    doc = xml_doc(r.text)
    assert doc.findtext("EncodingType") == "url"
    key = doc.findtext("Upload/Key")
    assert " " not in key and unquote_plus(key) == "c d"
    assert unquote_plus(doc.findtext("KeyMarker")) == "b *" and " " not in doc.findtext("KeyMarker")
    r = raw_call(server, "GET", f"/{bucket}", query="uploads&encoding-type=url&prefix=c%20&delimiter=d")
    doc = xml_doc(r.text)
    assert [unquote_plus(p.text) for p in doc.findall("CommonPrefixes/Prefix")] == ["c d"]
    assert " " not in doc.findtext("CommonPrefixes/Prefix") and " " not in doc.findtext("Prefix")


@pytest.mark.parametrize("query", ["max-uploads=-1", "max-uploads=many", "encoding-type=base64"])
def test_list_uploads_bad_arguments_are_invalid_argument(server, bucket, query):
    r = raw_call(server, "GET", f"/{bucket}", query=f"uploads&{query}")
    assert r.status_code == 400, r.text
    assert xml_error_code(r.text) == "InvalidArgument"


def test_list_uploads_reports_each_uploads_storage_class(s3, bucket):
    create(s3, bucket, "ia", StorageClass="STANDARD_IA")
    create(s3, bucket, "std")
    classes = {u["Key"]: u["StorageClass"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]}
    assert classes == {"ia": "STANDARD_IA", "std": "STANDARD"}


def test_uploads_list_after_complete_and_abort(s3, bucket, uploads):
    s3.abort_multipart_upload(Bucket=bucket, Key="b", UploadId=uploads["b1"])
    part = put_part(s3, bucket, "c d", uploads["cd"], 1, b"x")
    complete(s3, bucket, "c d", uploads["cd"], [part])
    ids, _, _ = uploads_page(s3, bucket)
    assert ids == [uploads["a1"], uploads["a2"], uploads["b2"]]
    expect_client_error(s3.list_parts, Bucket=bucket, Key="b", UploadId=uploads["b1"], code="NoSuchUpload", status=404)
