"""SigV4 header authentication, checked with raw requests signed by botocore's SigV4 signer."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import botocore.auth
import pytest
import requests

from helpers import (
    UNSIGNED_PAYLOAD,
    object_absent,
    object_path,
    sign_request,
    signed_requests_call,
    xml_error_code,
)


def _call(server, method, path, access=None, secret=None, **kw):
    return signed_requests_call(
        server.endpoint, access or server.access_key, secret or server.secret_key, method, path, **kw
    )


def test_valid_signature_lists_buckets(server, bucket):
    r = _call(server, "GET", "/")
    assert r.status_code == 200, r.text
    assert f"<Name>{bucket}</Name>" in r.text
    assert r.headers.get("x-amz-request-id")


def test_wrong_secret_is_signature_does_not_match(server, bucket):
    r = _call(server, "GET", "/", secret="x" * 40)
    assert r.status_code == 403, r.text
    assert xml_error_code(r.text) == "SignatureDoesNotMatch", r.text
    r = _call(server, "PUT", object_path(bucket, "forged"), secret="y" * 40, body=b"forged")
    assert r.status_code == 403 and xml_error_code(r.text) == "SignatureDoesNotMatch", r.text
    assert _call(server, "HEAD", object_path(bucket, "forged")).status_code == 404


def test_tampered_request_is_signature_does_not_match(server, bucket):
    """Sign one key, send to another: the canonical request differs."""
    url, headers = sign_request(
        server.endpoint, server.access_key, server.secret_key, "PUT", object_path(bucket, "signed-key"), body=b"data"
    )
    r = requests.put(url.replace("signed-key", "other-key"), headers=headers, data=b"data", timeout=30)
    assert r.status_code == 403, r.text
    assert xml_error_code(r.text) == "SignatureDoesNotMatch", r.text
    assert _call(server, "HEAD", object_path(bucket, "other-key")).status_code == 404


def test_unknown_access_key(server):
    r = _call(server, "GET", "/", access="AKIAUNKNOWNKEY000000", secret="z" * 40)
    assert r.status_code == 403, r.text
    assert xml_error_code(r.text) == "InvalidAccessKeyId", r.text


def test_anonymous_request_denied(server, bucket):
    r = requests.get(f"{server.endpoint}/", timeout=30)
    assert r.status_code == 403, r.text
    assert xml_error_code(r.text) == "AccessDenied", r.text
    r = requests.put(f"{server.endpoint}/{bucket}/anon", data=b"anon", timeout=30)
    assert r.status_code == 403, r.text
    assert _call(server, "HEAD", object_path(bucket, "anon")).status_code == 404


def test_malformed_authorization_header(server):
    r = requests.get(f"{server.endpoint}/", headers={"Authorization": "AWS4-HMAC-SHA256 garbage"}, timeout=30)
    assert r.status_code in (400, 403), r.text
    assert xml_error_code(r.text) in (
        "AuthorizationHeaderMalformed",
        "AccessDenied",
        "InvalidArgument",
        "SignatureDoesNotMatch",
    ), r.text


def test_content_sha256_mismatch_not_stored(server, bucket):
    body = b"the real body"
    r = _call(
        server,
        "PUT",
        object_path(bucket, "sha-mismatch"),
        body=body,
        payload_hash=hashlib.sha256(b"another body").hexdigest(),
    )
    assert r.status_code == 400, (r.status_code, r.text)
    assert xml_error_code(r.text) == "XAmzContentSHA256Mismatch", r.text
    assert _call(server, "HEAD", object_path(bucket, "sha-mismatch")).status_code == 404


def test_content_sha256_mismatch_large_body_not_stored(server, s3, bucket):
    """Mismatch found only at the end of a multi-MiB streamed body: still nothing stored."""
    body = b"0123456789abcdef" * (512 * 1024)  # 8 MiB
    s3.put_object(Bucket=bucket, Key="sha-big", Body=b"previous")
    r = _call(
        server,
        "PUT",
        object_path(bucket, "sha-big"),
        body=body,
        payload_hash=hashlib.sha256(body[:-1] + b"X").hexdigest(),
    )
    assert r.status_code == 400, (r.status_code, r.text[:500])
    assert xml_error_code(r.text) == "XAmzContentSHA256Mismatch", r.text[:500]
    assert s3.get_object(Bucket=bucket, Key="sha-big")["Body"].read() == b"previous"


def test_signed_payload_and_unsigned_payload_accepted(server, s3, bucket):
    body = b"signed payload body"
    r = _call(server, "PUT", object_path(bucket, "signed"), body=body)
    assert r.status_code == 200, r.text
    r = _call(server, "PUT", object_path(bucket, "unsigned"), body=body, payload_hash=UNSIGNED_PAYLOAD)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="signed")["Body"].read() == body
    assert s3.get_object(Bucket=bucket, Key="unsigned")["Body"].read() == body


@pytest.mark.parametrize("payload", ["unsigned", "sha256"])
def test_http_chunked_put_bodies_stored_whole(server, s3, bucket, payload):
    """A body sent with Transfer-Encoding: chunked (a streaming client that does not know
    the length), in chunks both smaller and larger than the server's reads: each chunk's
    data is read straight into the object's chunk buffers, the size lines between them
    through the connection's buffer, and the object comes back byte for byte."""
    sizes = [200 * 1024, 300 * 1024, 70_000, 1024 * 1024 + 5, 17, 64 * 1024]
    pieces = [bytes([i + 1]) * 3 + os.urandom(size - 3) for i, size in enumerate(sizes)]
    data = b"".join(pieces)
    payload_hash = UNSIGNED_PAYLOAD if payload == "unsigned" else hashlib.sha256(data).hexdigest()
    key = f"http-chunked-{payload}"
    url, headers = sign_request(
        server.endpoint, server.access_key, server.secret_key, "PUT", object_path(bucket, key),
        payload_hash=payload_hash,
    )
    headers = {name: value for name, value in headers.items() if name.lower() != "content-length"}
    # A generator body makes requests send each piece as one HTTP chunk.
    r = requests.put(url, headers=headers, data=iter(pieces), timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"].strip('"') == hashlib.md5(data).hexdigest()
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["ContentLength"] == len(data)
    assert got["Body"].read() == data


def test_wrong_region_in_scope_rejected(server):
    url, headers = sign_request(server.endpoint, server.access_key, server.secret_key, "GET", "/", region="eu-west-1")
    r = requests.get(url, headers=headers, timeout=30)
    assert r.status_code in (400, 403), r.text
    assert xml_error_code(r.text) in ("AuthorizationHeaderMalformed", "SignatureDoesNotMatch"), r.text


@pytest.mark.parametrize("minutes", [-20, 20])
def test_clock_skew_rejected(server, monkeypatch, minutes):
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() + dt.timedelta(minutes=minutes))
    r = _call(server, "GET", "/")
    assert r.status_code == 403, r.text
    assert xml_error_code(r.text) == "RequestTimeTooSkewed", r.text


def test_clock_skew_within_15_minutes_accepted(server, monkeypatch):
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() - dt.timedelta(minutes=10))
    r = _call(server, "GET", "/")
    assert r.status_code == 200, r.text


def test_special_characters_in_signed_path(server, s3, bucket):
    key = "sig/with space+plus%percent/ключ=~*'()!"
    r = _call(server, "PUT", object_path(bucket, key), body=b"special")
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"special"
    r = _call(server, "GET", f"/{bucket}", query="list-type=2&prefix=sig%2F&max-keys=5")
    assert r.status_code == 200, r.text
    assert not object_absent(s3, bucket, key)
