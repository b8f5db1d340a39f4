"""Object operations through boto3: metadata, Content-MD5, ranges, conditionals, key shapes."""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip

import pytest
from botocore.handlers import set_list_objects_encoding_type_url

from helpers import (
    MiB,
    empty_and_delete_bucket,
    err_code,
    err_status,
    expect_client_error,
    make_client,
    md5_b64,
    md5_hex,
    object_absent,
    rand_bytes,
)

# --------------------------------------------------------------------------- basics


def test_put_get_head_delete_with_metadata(s3, bucket):
    body = gzip.compress(b"hello maxiofs " * 500)
    expires = dt.datetime(2031, 5, 17, 8, 30, 0, tzinfo=dt.timezone.utc)
    put = s3.put_object(
        Bucket=bucket,
        Key="docs/readme.txt",
        Body=body,
        Metadata={"color": "blue", "multi-word": "Some Value With Spaces"},
        ContentType="text/plain; charset=utf-8",
        ContentDisposition='attachment; filename="readme.txt"',
        CacheControl="max-age=3600, must-revalidate",
        ContentEncoding="gzip",
        ContentLanguage="de-DE",
        Expires=expires,
    )
    assert put["ETag"] == f'"{md5_hex(body)}"'
    assert put["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")

    for resp in (
        s3.head_object(Bucket=bucket, Key="docs/readme.txt"),
        s3.get_object(Bucket=bucket, Key="docs/readme.txt"),
    ):
        assert resp["ETag"] == f'"{md5_hex(body)}"'
        assert resp["ContentLength"] == len(body)
        assert resp["Metadata"] == {"color": "blue", "multi-word": "Some Value With Spaces"}
        assert resp["ContentType"] == "text/plain; charset=utf-8"
        assert resp["ContentDisposition"] == 'attachment; filename="readme.txt"'
        assert resp["CacheControl"] == "max-age=3600, must-revalidate"
        assert resp["ContentEncoding"] == "gzip"
        assert resp["ContentLanguage"] == "de-DE"
        expires_str = resp.get("ExpiresString") or resp["ResponseMetadata"]["HTTPHeaders"].get("expires")
        assert expires_str, resp["ResponseMetadata"]["HTTPHeaders"]
        assert email.utils.parsedate_to_datetime(expires_str) == expires
        lm = resp["LastModified"]
        assert abs((dt.datetime.now(dt.timezone.utc) - lm).total_seconds()) < 600
        assert resp["ResponseMetadata"]["HTTPHeaders"].get("accept-ranges") == "bytes"
    got = s3.get_object(Bucket=bucket, Key="docs/readme.txt")["Body"].read()
    assert got == body  # stored bytes are returned as-is (no server-side decoding)

    r = s3.delete_object(Bucket=bucket, Key="docs/readme.txt")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert object_absent(s3, bucket, "docs/readme.txt")
    expect_client_error(s3.get_object, Bucket=bucket, Key="docs/readme.txt", code="NoSuchKey")


def test_default_content_type(s3, bucket):
    s3.put_object(Bucket=bucket, Key="noct", Body=b"abc")
    head = s3.head_object(Bucket=bucket, Key="noct")
    assert head.get("ContentType"), "a Content-Type must always be returned"


def test_metadata_keys_are_case_insensitive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="m", Body=b"1", Metadata={"CamelCase": "Value"})
    head = s3.head_object(Bucket=bucket, Key="m")
    assert head["Metadata"] == {"camelcase": "Value"}


def test_empty_object(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert put["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["ContentLength"] == 0
    assert got["Body"].read() == b""
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("empty", 0)]


def test_overwrite_replaces_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first version", Metadata={"v": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"second", ContentType="text/x-second")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second"
    assert got["Metadata"] == {}
    assert got["ContentType"] == "text/x-second"
    assert got["ETag"] == f'"{md5_hex(b"second")}"'
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed["Contents"]] == [("k", 6, f'"{md5_hex(b"second")}"')]


@pytest.mark.parametrize("size", [1, 4095, 4096, 4097, 1 * MiB + 3, 9 * MiB + 1])
def test_sizes_round_trip(s3, bucket, size):
    """Around the inline threshold (4 KiB) and across extents."""
    data = rand_bytes(size, size)
    put = s3.put_object(Bucket=bucket, Key=f"size-{size}", Body=data)
    assert put["ETag"] == f'"{md5_hex(data)}"'
    got = s3.get_object(Bucket=bucket, Key=f"size-{size}")
    assert got["ContentLength"] == size
    assert got["Body"].read() == data


def test_resource_api(s3_resource, bucket):
    obj = s3_resource.Object(bucket, "res/obj")
    obj.put(Body=b"resource body", Metadata={"a": "b"})
    obj.reload()
    assert obj.content_length == 13
    assert obj.metadata == {"a": "b"}
    assert obj.get()["Body"].read() == b"resource body"
    assert [o.key for o in s3_resource.Bucket(bucket).objects.all()] == ["res/obj"]
    obj.delete()
    assert list(s3_resource.Bucket(bucket).objects.all()) == []


# --------------------------------------------------------------------------- Content-MD5


def test_content_md5_good(s3, bucket):
    data = b"content-md5 checked body"
    put = s3.put_object(Bucket=bucket, Key="md5-good", Body=data, ContentMD5=md5_b64(data))
    assert put["ETag"] == f'"{md5_hex(data)}"'
    assert s3.get_object(Bucket=bucket, Key="md5-good")["Body"].read() == data


def test_content_md5_mismatch_is_bad_digest_and_not_stored(s3, bucket):
    data = b"content-md5 checked body"
    expect_client_error(
        s3.put_object,
        Bucket=bucket,
        Key="md5-bad",
        Body=data,
        ContentMD5=md5_b64(b"other"),
        code="BadDigest",
        status=400,
    )
    assert object_absent(s3, bucket, "md5-bad")


def test_content_md5_mismatch_keeps_previous_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"original")
    expect_client_error(
        s3.put_object,
        Bucket=bucket,
        Key="keep",
        Body=b"replacement",
        ContentMD5=md5_b64(b"nope"),
        code="BadDigest",
        status=400,
    )
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"original"


def test_content_md5_malformed_is_invalid_digest(s3, bucket):
    expect_client_error(
        s3.put_object,
        Bucket=bucket,
        Key="md5-malformed",
        Body=b"abc",
        ContentMD5="not-base64-md5!!",
        code="InvalidDigest",
        status=400,
    )
    assert object_absent(s3, bucket, "md5-malformed")


# --------------------------------------------------------------------------- ranges


@pytest.fixture
def hundred(s3, bucket):
    data = bytes(range(100))
    s3.put_object(Bucket=bucket, Key="hundred", Body=data)
    return bucket, data


@pytest.mark.parametrize(
    "rng,start,end",
    [
        ("bytes=0-9", 0, 9),
        ("bytes=-5", 95, 99),
        ("bytes=5-", 5, 99),
        ("bytes=99-99", 99, 99),
        ("bytes=90-1000", 90, 99),  # end past the object is clamped
        ("bytes=0-0", 0, 0),
        ("bytes=-1000", 0, 99),  # suffix longer than the object: whole object
    ],
)
def test_range_get(s3, hundred, rng, start, end):
    bucket, data = hundred
    got = s3.get_object(Bucket=bucket, Key="hundred", Range=rng)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {start}-{end}/100"
    assert got["ContentLength"] == end - start + 1
    assert got["Body"].read() == data[start : end + 1]
    assert got["ETag"] == f'"{md5_hex(data)}"'


@pytest.mark.parametrize("rng", ["bytes=100-", "bytes=100-200", "bytes=1000-2000"])
def test_range_unsatisfiable(s3, hundred, rng):
    bucket, _ = hundred
    exc = expect_client_error(s3.get_object, Bucket=bucket, Key="hundred", Range=rng, code="InvalidRange", status=416)
    headers = exc.response["ResponseMetadata"]["HTTPHeaders"]
    # RFC 9110 says a 416 should carry "Content-Range: bytes */<size>"; if it is sent, it must be right.
    assert headers.get("content-range", "bytes */100") == "bytes */100", headers


def test_range_across_extents(s3, bucket):
    """A range in the middle of a multi-MiB object (spans the engine's chunk boundaries)."""
    data = rand_bytes(9 * MiB + 12345, "range-extents")
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    for start, end in [(4 * MiB - 100, 5 * MiB + 100), (1, 8 * MiB), (9 * MiB, 9 * MiB + 12344), (3 * MiB, 3 * MiB)]:
        got = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={start}-{end}")
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        body = got["Body"].read()
        assert len(body) == end - start + 1
        assert body == data[start : end + 1], f"range {start}-{end} has wrong bytes"


# --------------------------------------------------------------------------- conditionals


@pytest.fixture
def cond(s3, bucket):
    s3.put_object(Bucket=bucket, Key="cond", Body=b"conditional body")
    head = s3.head_object(Bucket=bucket, Key="cond")
    return bucket, head["ETag"], head["LastModified"]


def test_if_match(s3, cond):
    bucket, etag, _ = cond
    assert s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag)["Body"].read() == b"conditional body"
    assert s3.get_object(Bucket=bucket, Key="cond", IfMatch="*")["ResponseMetadata"]["HTTPStatusCode"] == 200
    expect_client_error(
        s3.get_object,
        Bucket=bucket,
        Key="cond",
        IfMatch='"0123456789abcdef0123456789abcdef"',
        code="PreconditionFailed",
        status=412,
    )
    expect_client_error(
        s3.head_object, Bucket=bucket, Key="cond", IfMatch='"0123456789abcdef0123456789abcdef"', status=412
    )


def test_if_none_match(s3, cond):
    bucket, etag, _ = cond
    exc = expect_client_error(s3.get_object, Bucket=bucket, Key="cond", IfNoneMatch=etag, status=304)
    assert exc.response["ResponseMetadata"]["HTTPHeaders"].get("etag") == etag
    assert exc.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")
    expect_client_error(s3.head_object, Bucket=bucket, Key="cond", IfNoneMatch=etag, status=304)
    got = s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch='"0123456789abcdef0123456789abcdef"')
    assert got["Body"].read() == b"conditional body"


def test_if_modified_since(s3, cond):
    bucket, _, last_modified = cond
    future = last_modified + dt.timedelta(days=1)
    past = last_modified - dt.timedelta(days=1)
    expect_client_error(s3.get_object, Bucket=bucket, Key="cond", IfModifiedSince=future, status=304)
    # Same second as Last-Modified: not modified since.
    expect_client_error(s3.get_object, Bucket=bucket, Key="cond", IfModifiedSince=last_modified, status=304)
    assert s3.get_object(Bucket=bucket, Key="cond", IfModifiedSince=past)["Body"].read() == b"conditional body"


def test_if_unmodified_since(s3, cond):
    bucket, _, last_modified = cond
    future = last_modified + dt.timedelta(days=1)
    past = last_modified - dt.timedelta(days=1)
    expect_client_error(
        s3.get_object, Bucket=bucket, Key="cond", IfUnmodifiedSince=past, code="PreconditionFailed", status=412
    )
    assert s3.get_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=future)["Body"].read() == b"conditional body"
    assert (
        s3.get_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=last_modified)["ResponseMetadata"]["HTTPStatusCode"]
        == 200
    )


def test_conditional_precedence(s3, cond):
    """S3/RFC 7232: If-Match beats If-Unmodified-Since; If-None-Match beats If-Modified-Since."""
    bucket, etag, last_modified = cond
    past = last_modified - dt.timedelta(days=1)
    future = last_modified + dt.timedelta(days=1)
    got = s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag, IfUnmodifiedSince=past)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    expect_client_error(s3.get_object, Bucket=bucket, Key="cond", IfNoneMatch=etag, IfModifiedSince=past, status=304)
    got = s3.get_object(
        Bucket=bucket, Key="cond", IfNoneMatch='"ffffffffffffffffffffffffffffffff"', IfModifiedSince=future
    )
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_conditional_with_range(s3, cond):
    bucket, etag, _ = cond
    got = s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag, Range="bytes=0-10")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == b"conditional"


# --------------------------------------------------------------------------- key shapes

TRICKY_KEYS = [
    "a",
    "a/",
    "a//b",
    "a/b",
    "../x",
    "./y",
    "x/../y",
    "with space",
    "trailing space ",
    " leading space",
    "plus+sign",
    "percent%41",
    "percent%2F",
    "question?mark",
    "hash#tag",
    "amp&lt;<>\"'",
    "semicolon;equals=comma,",
    "tilde~star*paren()",
    "back\\slash",
    "ключ/日本語",
    "emoji/😀",
    "combining/e\u0301",  # e + combining acute: must not be normalised
    "combining/\u00e9",  # precomposed: a different key
    "//leading-slashes",
    "dots/...",
    "A",  # case-sensitive: distinct from "a"
]


def test_tricky_keys_distinct_and_round_trip(s3, bucket):
    assert len(set(TRICKY_KEYS)) == len(TRICKY_KEYS)
    for i, key in enumerate(TRICKY_KEYS):
        s3.put_object(Bucket=bucket, Key=key, Body=f"{i}:{key}".encode())
    for i, key in enumerate(TRICKY_KEYS):
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == f"{i}:{key}".encode(), f"key {key!r} returned another object's bytes"
        s3.head_object(Bucket=bucket, Key=key)

    expected = sorted(TRICKY_KEYS, key=lambda k: k.encode("utf-8"))
    # boto3 asks for encoding-type=url and decodes by default ...
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == expected
    listed_v1 = [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]]
    assert listed_v1 == expected
    # ... and without encoding-type the keys come back XML-escaped only.
    raw = _client_without_url_encoding(s3)
    listed_raw = [o["Key"] for o in raw.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed_raw == expected

    # deleting one never deletes a look-alike
    s3.delete_object(Bucket=bucket, Key="a/")
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == f"{TRICKY_KEYS.index('a')}:a".encode()
    assert object_absent(s3, bucket, "a/")
    assert s3.head_object(Bucket=bucket, Key="a//b")


def _client_without_url_encoding(s3):
    client = make_client(
        s3.meta.endpoint_url, s3._request_signer._credentials.access_key, s3._request_signer._credentials.secret_key
    )
    for op in ("ListObjects", "ListObjectsV2"):
        client.meta.events.unregister(f"before-parameter-build.s3.{op}", set_list_objects_encoding_type_url)
    return client


@pytest.mark.parametrize("key", ["k" * 1024, "я" * 512, "日" * 341 + "a"], ids=["ascii", "cyrillic", "cjk"])
def test_key_1024_bytes_ok(s3, bucket, key):
    assert len(key.encode()) == 1024
    s3.put_object(Bucket=bucket, Key=key, Body=b"long key")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"long key"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]


@pytest.mark.parametrize("key", ["k" * 1025, "я" * 512 + "a", "日" * 342], ids=["ascii", "cyrillic", "cjk"])
def test_key_over_1024_bytes_rejected(s3, bucket, key):
    assert len(key.encode()) > 1024
    exc = expect_client_error(s3.put_object, Bucket=bucket, Key=key, Body=b"x", code="KeyTooLongError", status=400)
    assert err_code(exc) == "KeyTooLongError" and err_status(exc) == 400
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


# --------------------------------------------------------------------------- concurrency and lifecycle


def test_concurrent_overwrites_and_reads_never_tear(s3, bucket):
    """8 writers overwrite one key while 4 readers GET it: every read is one whole version."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    versions = {}
    for w in range(8):
        for i in range(6):
            data = rand_bytes(200_000 + w * 1000 + i, f"ow-{w}-{i}")
            versions[md5_hex(data)] = data
    s3.put_object(Bucket=bucket, Key="hot", Body=next(iter(versions.values())))
    stop = threading.Event()
    torn = []

    def writer(w):
        for i in range(6):
            s3.put_object(Bucket=bucket, Key="hot", Body=rand_bytes(200_000 + w * 1000 + i, f"ow-{w}-{i}"))

    def reader(_):
        n = 0
        while not stop.is_set() or n == 0:
            got = s3.get_object(Bucket=bucket, Key="hot")
            body = got["Body"].read()
            digest = md5_hex(body)
            if digest not in versions or got["ETag"] != f'"{digest}"' or got["ContentLength"] != len(body):
                torn.append((got["ETag"], digest, len(body)))
            n += 1
        return n

    with ThreadPoolExecutor(12) as pool:
        readers = [pool.submit(reader, r) for r in range(4)]
        list(pool.map(writer, range(8)))
        stop.set()
        reads = sum(f.result() for f in readers)
    assert not torn, f"{len(torn)} of {reads} reads saw a torn or mismatched object: {torn[:3]}"
    final = s3.get_object(Bucket=bucket, Key="hot")
    body = final["Body"].read()
    assert md5_hex(body) in versions and final["ETag"] == f'"{md5_hex(body)}"'
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["ETag"], o["Size"]) for o in listed] == [("hot", final["ETag"], len(body))]


def test_recreated_bucket_is_empty(s3, bucket_name):
    """Objects of a deleted bucket never reappear in a new bucket with the same name."""
    s3.create_bucket(Bucket=bucket_name)
    for i in range(20):
        s3.put_object(Bucket=bucket_name, Key=f"old/{i}", Body=b"old generation" * (i + 1))
    s3.delete_objects(Bucket=bucket_name, Delete={"Objects": [{"Key": f"old/{i}"} for i in range(20)]})
    s3.delete_bucket(Bucket=bucket_name)
    s3.create_bucket(Bucket=bucket_name)
    try:
        assert s3.list_objects_v2(Bucket=bucket_name)["KeyCount"] == 0
        expect_client_error(s3.get_object, Bucket=bucket_name, Key="old/3", code="NoSuchKey")
        s3.put_object(Bucket=bucket_name, Key="new", Body=b"new generation")
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"]] == ["new"]
    finally:
        empty_and_delete_bucket(s3, bucket_name)


def test_head_error_has_no_body_and_keeps_connection(server, bucket):
    """A HEAD error must not carry a body, or the next response on the connection is garbled."""
    import http.client

    from helpers import sign_request

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for key in ("missing-1", "missing-2"):
            path = f"/{bucket}/{key}"
            _, headers = sign_request(server.endpoint, server.access_key, server.secret_key, "HEAD", path)
            conn.request("HEAD", path, headers=headers)
            resp = conn.getresponse()
            assert resp.status == 404
            assert resp.read() == b""
            assert resp.getheader("x-amz-request-id")
        _, headers = sign_request(server.endpoint, server.access_key, server.secret_key, "GET", "/")
        conn.request("GET", "/", headers=headers)
        resp = conn.getresponse()
        assert resp.status == 200
        assert b"ListAllMyBucketsResult" in resp.read()
    finally:
        conn.close()
