"""Listing (V1 and V2), pagination over 10,000 objects, delimiters, encoding, DeleteObjects."""

from __future__ import annotations

import random
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.handlers import set_list_objects_encoding_type_url

from helpers import (
    empty_and_delete_bucket,
    expect_client_error,
    make_client,
    md5_hex,
    unique_bucket_name,
)

N_OBJECTS = 10_000
UPLOAD_THREADS = 32


def utf8_sorted(keys):
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def _gen_keys(n: int, seed: int = 20250101) -> list[str]:
    """Deterministic keys that exercise byte-wise order, XML escaping and shared prefixes."""
    rng = random.Random(seed)
    alphabet = list("abcxyzABCXYZ0189-_.~!'()*&<>\"=+,; %") + ["é", "ß", "ж", "日", "本", "😀", "\u00a0"]
    dirs = ["", "d0/", "d1/", "d1/sub/", "D1/", "d1-", "d1.", "日本/", "a&b/", "zz/"]
    keys = set()
    while len(keys) < n:
        length = rng.randint(1, 24)
        name = "".join(rng.choice(alphabet) for _ in range(length))
        keys.add(rng.choice(dirs) + name)
    return list(keys)


@pytest.fixture(scope="module")
def big_bucket(server):
    """10,000 small objects, uploaded by 32 threads. Body = the key's UTF-8 bytes."""
    client = server.client("path")
    name = unique_bucket_name("list10k")
    client.create_bucket(Bucket=name)
    keys = _gen_keys(N_OBJECTS)
    failures = []

    def put(key):
        try:
            client.put_object(Bucket=name, Key=key, Body=key.encode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            failures.append((key, repr(exc)))

    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        list(pool.map(put, keys))
    assert not failures, f"{len(failures)} uploads failed, e.g. {failures[:3]}"
    yield name, utf8_sorted(keys)
    empty_and_delete_bucket(client, name)


def _raw_client(server):
    """A client that does NOT add encoding-type=url to listings (boto3 does by default)."""
    client = server.client("path")
    for op in ("ListObjects", "ListObjectsV2"):
        client.meta.events.unregister(f"before-parameter-build.s3.{op}", set_list_objects_encoding_type_url)
    return client


def _list_v2_all(client, bucket, max_keys=1000, **kw):
    keys, pages, token = [], 0, None
    while True:
        args = dict(Bucket=bucket, MaxKeys=max_keys, **kw)
        if token:
            args["ContinuationToken"] = token
        page = client.list_objects_v2(**args)
        pages += 1
        contents = page.get("Contents", [])
        assert len(contents) <= max_keys
        assert page["KeyCount"] == len(contents) + len(page.get("CommonPrefixes", []))
        assert page["MaxKeys"] == max_keys
        keys.extend(o["Key"] for o in contents)
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            break
        assert contents or page.get("CommonPrefixes"), "a truncated page must not be empty"
        token = page["NextContinuationToken"]
        assert token
        assert pages <= 10 * N_OBJECTS, "listing does not terminate"
    return keys, pages


def _first_diff(got, expected):
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            return f"first difference at #{i}: got {g!r}, expected {e!r}"
    return f"lengths differ: got {len(got)}, expected {len(expected)}"


def test_list_v2_pagination_10k(s3, big_bucket):
    bucket, expected = big_bucket
    keys, pages = _list_v2_all(s3, bucket, max_keys=1000)
    assert len(keys) == len(set(keys)), "a key was repeated"
    assert keys == expected, _first_diff(keys, expected)
    assert pages >= N_OBJECTS // 1000


def test_list_v2_pagination_10k_without_url_encoding(server, big_bucket):
    bucket, expected = big_bucket
    keys, _ = _list_v2_all(_raw_client(server), bucket, max_keys=1000)
    assert keys == expected, _first_diff(keys, expected)


def test_list_v2_sizes_and_etags(s3, big_bucket):
    bucket, expected = big_bucket
    seen = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            body = obj["Key"].encode("utf-8")
            assert obj["Size"] == len(body)
            assert obj["ETag"] == f'"{md5_hex(body)}"'
            assert obj["LastModified"]
            seen += 1
    assert seen == len(expected)


def test_list_v1_markers_10k(s3, big_bucket):
    bucket, expected = big_bucket
    keys, marker, pages = [], None, 0
    while True:
        args = dict(Bucket=bucket, MaxKeys=1000)
        if marker is not None:
            args["Marker"] = marker
        page = s3.list_objects(**args)
        pages += 1
        contents = page.get("Contents", [])
        assert len(contents) <= 1000
        keys.extend(o["Key"] for o in contents)
        if not page["IsTruncated"]:
            break
        assert contents
        # Without a delimiter NextMarker is optional; the next marker is then the last key.
        marker = page.get("NextMarker") or contents[-1]["Key"]
        assert pages <= N_OBJECTS
    assert len(keys) == len(set(keys)), "a key was repeated"
    assert keys == expected, _first_diff(keys, expected)


def test_list_v2_small_pages_with_prefix(s3, big_bucket):
    bucket, expected = big_bucket
    want = [k for k in expected if k.startswith("d1/")]
    assert len(want) > 50
    keys, pages = _list_v2_all(s3, bucket, max_keys=7, Prefix="d1/")
    assert keys == want, _first_diff(keys, want)
    assert pages >= -(-len(want) // 7)


def test_list_max_keys_capped_at_1000(s3, big_bucket):
    bucket, expected = big_bucket
    page = s3.list_objects_v2(Bucket=bucket, MaxKeys=5000)
    assert len(page["Contents"]) <= 1000
    assert page["IsTruncated"] is True
    assert [o["Key"] for o in page["Contents"]] == expected[: len(page["Contents"])]


def test_list_invalid_continuation_token(s3, big_bucket):
    bucket, _ = big_bucket
    expect_client_error(s3.list_objects_v2, Bucket=bucket, ContinuationToken="not-a-token!!", status=400)


def test_list_start_after_in_big_bucket(s3, big_bucket):
    bucket, expected = big_bucket
    pivot = expected[4321]
    keys, _ = _list_v2_all(s3, bucket, max_keys=1000, StartAfter=pivot)
    assert keys == expected[4322:], _first_diff(keys, expected[4322:])


def test_list_delimiter_in_big_bucket(s3, big_bucket):
    bucket, expected = big_bucket
    want_keys = [k for k in expected if "/" not in k]
    want_prefixes = sorted({k.split("/", 1)[0] + "/" for k in expected if "/" in k}, key=lambda p: p.encode())
    keys, prefixes, token = [], [], None
    while True:
        args = dict(Bucket=bucket, Delimiter="/", MaxKeys=100)
        if token:
            args["ContinuationToken"] = token
        page = s3.list_objects_v2(**args)
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert keys == want_keys, _first_diff(keys, want_keys)
    assert prefixes == want_prefixes


# --------------------------------------------------------------------------- delimiter, small

DELIM_KEYS = ["a", "a/", "a//b", "a/b/c", "a/b/d", "a/c", "b/x", "b/y/z", "c", "c.d/e"]


@pytest.fixture
def delim_bucket(s3, bucket):
    for k in DELIM_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    return bucket


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize(
    "prefix,delimiter,want_keys,want_prefixes",
    [
        ("", "/", ["a", "c"], ["a/", "b/", "c.d/"]),
        ("a/", "/", ["a/", "a/c"], ["a//", "a/b/"]),
        ("a/b/", "/", ["a/b/c", "a/b/d"], []),
        ("b", "/", [], ["b/"]),
        ("", ".", ["a", "a/", "a//b", "a/b/c", "a/b/d", "a/c", "b/x", "b/y/z", "c"], ["c."]),
        ("a", "b", ["a", "a/", "a/c"], ["a//b", "a/b"]),
        ("zzz", "/", [], []),
    ],
)
def test_delimiter_and_prefix(s3, delim_bucket, version, prefix, delimiter, want_keys, want_prefixes):
    if version == "v2":
        page = s3.list_objects_v2(Bucket=delim_bucket, Prefix=prefix, Delimiter=delimiter)
    else:
        page = s3.list_objects(Bucket=delim_bucket, Prefix=prefix, Delimiter=delimiter)
    assert [o["Key"] for o in page.get("Contents", [])] == want_keys
    assert [p["Prefix"] for p in page.get("CommonPrefixes", [])] == want_prefixes
    assert page["IsTruncated"] is False
    assert page.get("Delimiter") == delimiter
    assert page.get("Prefix", "") == prefix


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_delimiter_pagination_max_keys_1(s3, delim_bucket, version):
    """Common prefixes count toward max-keys; paging one entry at a time loses and repeats nothing."""
    entries, token, marker = [], None, None
    for _ in range(50):
        if version == "v2":
            args = dict(Bucket=delim_bucket, Delimiter="/", MaxKeys=1)
            if token:
                args["ContinuationToken"] = token
            page = s3.list_objects_v2(**args)
        else:
            args = dict(Bucket=delim_bucket, Delimiter="/", MaxKeys=1)
            if marker:
                args["Marker"] = marker
            page = s3.list_objects(**args)
        got = [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert len(got) <= 1, page
        entries += got
        if not page["IsTruncated"]:
            break
        if version == "v2":
            token = page["NextContinuationToken"]
        else:
            assert page.get("NextMarker"), "V1 with a delimiter must return NextMarker when truncated"
            marker = page["NextMarker"]
    assert entries == ["a", "a/", "b/", "c", "c.d/"]


def test_start_after(s3, delim_bucket):
    page = s3.list_objects_v2(Bucket=delim_bucket, StartAfter="a/b/c")
    assert [o["Key"] for o in page["Contents"]] == ["a/b/d", "a/c", "b/x", "b/y/z", "c", "c.d/e"]
    page = s3.list_objects_v2(Bucket=delim_bucket, StartAfter="a/b")  # not a key itself
    assert [o["Key"] for o in page["Contents"]] == ["a/b/c", "a/b/d", "a/c", "b/x", "b/y/z", "c", "c.d/e"]
    page = s3.list_objects_v2(Bucket=delim_bucket, StartAfter="zzz")
    assert page.get("Contents", []) == [] and page["KeyCount"] == 0
    page = s3.list_objects(Bucket=delim_bucket, Marker="b/x")
    assert [o["Key"] for o in page["Contents"]] == ["b/y/z", "c", "c.d/e"]


def test_continuation_token_wins_over_start_after(s3, delim_bucket):
    first = s3.list_objects_v2(Bucket=delim_bucket, MaxKeys=3)
    assert [o["Key"] for o in first["Contents"]] == ["a", "a/", "a//b"]
    second = s3.list_objects_v2(
        Bucket=delim_bucket, MaxKeys=3, StartAfter="a", ContinuationToken=first["NextContinuationToken"]
    )
    assert [o["Key"] for o in second["Contents"]] == ["a/b/c", "a/b/d", "a/c"]


def test_fetch_owner(s3, delim_bucket):
    page = s3.list_objects_v2(Bucket=delim_bucket, FetchOwner=True, MaxKeys=1)
    assert page["Contents"][0].get("Owner", {}).get("ID")


# --------------------------------------------------------------------------- encoding-type=url

ENC_KEYS = ["with space", "plus+sign", "percent%41", "ключ/日本語", "amp&<>", "tilde~", "dir one/file two"]


def test_encoding_type_url(server, s3, bucket):
    for k in ENC_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    raw = _raw_client(server)  # no automatic decoding: we see what the server sent
    for version in ("v1", "v2"):
        if version == "v2":
            page = raw.list_objects_v2(Bucket=bucket, EncodingType="url")
        else:
            page = raw.list_objects(Bucket=bucket, EncodingType="url")
        assert page.get("EncodingType") == "url"
        got = [o["Key"] for o in page["Contents"]]
        for k in got:
            assert " " not in k and "<" not in k and "&" not in k, f"{version}: key not url-encoded: {k!r}"
            assert all(ord(c) < 128 for c in k), f"{version}: key not url-encoded: {k!r}"
        # botocore decodes with unquote_plus, so "+" must come as %2B and a space as %20 or "+".
        assert [urllib.parse.unquote_plus(k) for k in got] == utf8_sorted(ENC_KEYS), got

        if version == "v2":
            page = raw.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/")
        else:
            page = raw.list_objects(Bucket=bucket, EncodingType="url", Delimiter="/")
        prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert [urllib.parse.unquote_plus(p) for p in prefixes] == ["dir one/", "ключ/"], prefixes
        assert all(" " not in p and all(ord(c) < 128 for c in p) for p in prefixes), prefixes

    # and the default boto3 path (auto encoding-type=url + decoding) gives the real keys
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == utf8_sorted(ENC_KEYS)


def test_encoding_type_invalid(s3, bucket):
    raw_client = make_client(
        s3.meta.endpoint_url, s3._request_signer._credentials.access_key, s3._request_signer._credentials.secret_key
    )
    raw_client.meta.events.unregister("before-parameter-build.s3.ListObjectsV2", set_list_objects_encoding_type_url)
    expect_client_error(raw_client.list_objects_v2, Bucket=bucket, EncodingType="base64", status=400)


# --------------------------------------------------------------------------- DeleteObjects


def test_delete_objects_verbose(s3, bucket):
    keys = ["d/1", "d/2", "with space", "amp&<>", "ключ"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    s3.put_object(Bucket=bucket, Key="survivor", Body=b"stay")
    resp = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys + ["never-existed"]], "Quiet": False}
    )
    assert sorted(d["Key"] for d in resp.get("Deleted", [])) == sorted(keys + ["never-existed"])
    assert not resp.get("Errors")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["survivor"]


def test_delete_objects_quiet(s3, bucket):
    keys = [f"q/{i}" for i in range(20)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
    assert not resp.get("Deleted"), "Quiet mode reports only errors"
    assert not resp.get("Errors")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_1000_ok(s3, bucket):
    keys = [f"k{i:04d}" for i in range(1000)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b""), keys[:50]))
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
    assert not resp.get("Errors")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_1001_is_malformed(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k0000", Body=b"x")
    keys = [f"k{i:04d}" for i in range(1001)]
    expect_client_error(
        s3.delete_objects,
        Bucket=bucket,
        Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
        code="MalformedXML",
        status=400,
    )
    assert s3.get_object(Bucket=bucket, Key="k0000")["Body"].read() == b"x", "nothing may be deleted"


def test_delete_objects_missing_bucket(s3, bucket_name):
    expect_client_error(
        s3.delete_objects, Bucket=bucket_name, Delete={"Objects": [{"Key": "k"}]}, code="NoSuchBucket", status=404
    )
