"""SigV2 header-signed requests that AWS refuses, and how (status, error code, XML).

SigV2 (`Authorization: AWS AccessKeyId:Signature`) signs
VERB \\n Content-MD5 \\n Content-Type \\n Date \\n CanonicalizedAmzHeaders CanonicalizedResource
(S3 developer guide, "Authenticating requests using the REST API", signature version 2), so Date and
Content-MD5 are part of what is signed and the requests below are validly signed unless said otherwise.

AWS's answers (S3 API reference, "Error responses" list of codes, and the SigV2 guide):
* Date (or x-amz-date, which takes precedence) more than 15 minutes from the server's clock: 403
  RequestTimeTooSkewed, the body carrying <RequestTime>, <ServerTime> and <MaxAllowedSkewMilliseconds>900000.
* Neither Date nor x-amz-date, or one that is not a date: 403 AccessDenied ("AWS authentication requires a valid
  Date or x-amz-date header").
* A PUT without Content-Length: 411 MissingContentLength; a Content-Length that is not a number: 400; fewer
  bytes than Content-Length: 400 IncompleteBody.
* Content-MD5 that is not the base64 of 16 bytes: 400 InvalidDigest; one that does not match the body: 400
  BadDigest. Neither stores anything.
* `Expect: 100-continue`: the server answers "100 Continue" before reading the body, or its final answer
  (such as an authentication error) without waiting for a body.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import socket
import time
import xml.etree.ElementTree as ET

import pytest
import requests

from helpers import expect_client_error, http_status, md5_b64, object_absent, raw_exchange, xml_error_code


def http_date(offset_s: float = 0.0) -> str:
    return email.utils.formatdate(time.time() + offset_s, usegmt=True)


def sigv2_authorization(server, method: str, resource: str, *, date: str = "", content_md5: str = "",
                        content_type: str = "", amz: dict | None = None, secret: str | None = None) -> str:  # fmt: skip
    amz_sorted = sorted((amz or {}).items(), key=lambda kv: kv[0].lower())
    amz_lines = "".join(f"{k.lower()}:{v.strip()}\n" for k, v in amz_sorted)
    string_to_sign = f"{method}\n{content_md5}\n{content_type}\n{date}\n{amz_lines}{resource}"
    mac = hmac.new((secret or server.secret_key).encode(), string_to_sign.encode(), hashlib.sha1)
    return f"AWS {server.access_key}:{base64.b64encode(mac.digest()).decode()}"


def put_v2(server, bucket: str, key: str, body: bytes, *, date: str | None = None, content_md5: str | None = None,
           amz: dict | None = None) -> requests.Response:  # fmt: skip
    """A SigV2 PutObject. date=None sends no Date header (and signs an empty Date line)."""
    headers = dict(amz or {})
    if date is not None:
        headers["Date"] = date
    if content_md5 is not None:
        headers["Content-MD5"] = content_md5
    headers["Authorization"] = sigv2_authorization(
        server, "PUT", f"/{bucket}/{key}", date="" if (amz and "x-amz-date" in amz) else (date or ""),
        content_md5=content_md5 or "", amz=amz,
    )  # fmt: skip
    return requests.put(f"{server.endpoint}/{bucket}/{key}", data=body, headers=headers, timeout=30)


def error_doc(response_text: str) -> ET.Element:
    root = ET.fromstring(response_text)
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]
    return root


def raw_request(server, lines: list[str], body: bytes = b"") -> bytes:
    head = "\r\n".join(lines + ["Host: 127.0.0.1", "Connection: close"]) + "\r\n\r\n"
    return raw_exchange("127.0.0.1", server.port, head.encode() + body, timeout=15, shutdown_write=True)


# --------------------------------------------------------------------------- the date


def test_fresh_date_accepted(server, s3, bucket):
    r = put_v2(server, bucket, "fresh", b"v2 body", date=http_date())
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="fresh")["Body"].read() == b"v2 body"


@pytest.mark.parametrize("minutes", [-14, 14])
def test_date_within_15_minutes_accepted(server, bucket, minutes):
    r = put_v2(server, bucket, "near", b"x", date=http_date(minutes * 60))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("offset_s", [-16 * 60, 16 * 60, -86400, 86400 * 365])
def test_date_outside_15_minutes_is_request_time_too_skewed(server, s3, bucket, offset_s):
    r = put_v2(server, bucket, "skewed", b"x", date=http_date(offset_s))
    assert r.status_code == 403, r.text
    assert xml_error_code(r.text) == "RequestTimeTooSkewed"
    assert object_absent(s3, bucket, "skewed")


def test_request_time_too_skewed_body_names_the_times(server, bucket):
    """AWS's body: <RequestTime> (the request's Date as sent), <ServerTime>, <MaxAllowedSkewMilliseconds>."""
    date = http_date(-3600)
    r = put_v2(server, bucket, "skewed", b"x", date=date)
    assert r.status_code == 403, r.text
    doc = error_doc(r.text)
    assert doc.findtext("Code") == "RequestTimeTooSkewed"
    assert doc.findtext("MaxAllowedSkewMilliseconds") == "900000"
    assert doc.findtext("RequestTime") == date
    assert doc.findtext("ServerTime"), r.text


def test_x_amz_date_takes_precedence_over_date(server, s3, bucket):
    # A stale Date does not matter when x-amz-date is fresh (and signed among the amz headers) ...
    r = put_v2(server, bucket, "amz", b"x", date=http_date(-3600), amz={"x-amz-date": http_date()})
    assert r.status_code == 200, r.text
    # ... and a stale x-amz-date is refused even with a fresh Date.
    r = put_v2(server, bucket, "amz-stale", b"x", date=http_date(), amz={"x-amz-date": http_date(-3600)})
    assert r.status_code == 403, r.text
    assert xml_error_code(r.text) == "RequestTimeTooSkewed"
    assert object_absent(s3, bucket, "amz-stale")


def test_missing_date_is_access_denied(server, s3, bucket):
    r = put_v2(server, bucket, "undated", b"x", date=None)
    assert r.status_code == 403, r.text
    assert xml_error_code(r.text) == "AccessDenied"
    assert "Date or x-amz-date" in r.text
    assert object_absent(s3, bucket, "undated")
    # A read too.
    auth = sigv2_authorization(server, "GET", f"/{bucket}/")
    r = requests.get(f"{server.endpoint}/{bucket}/", headers={"Authorization": auth}, timeout=30)
    assert r.status_code == 403 and xml_error_code(r.text) == "AccessDenied", r.text


@pytest.mark.parametrize("date", ["yesterday", "Mon, 99 Foo 2024 99:99:99 GMT", "0"])
def test_unparsable_date_is_access_denied(server, s3, bucket, date):
    r = put_v2(server, bucket, "bad-date", b"x", date=date)
    assert r.status_code == 403, r.text
    assert xml_error_code(r.text) == "AccessDenied"
    assert object_absent(s3, bucket, "bad-date")


# --------------------------------------------------------------------------- Content-Length


def test_put_without_content_length_is_411_missing_content_length(server, s3, bucket):
    date = http_date()
    auth = sigv2_authorization(server, "PUT", f"/{bucket}/no-length", date=date)
    raw = raw_request(server, [f"PUT /{bucket}/no-length HTTP/1.1", f"Date: {date}", f"Authorization: {auth}"])
    assert http_status(raw) == 411, raw[:400]
    assert b"<Code>MissingContentLength</Code>" in raw
    assert object_absent(s3, bucket, "no-length")


@pytest.mark.parametrize("length", ["abc", "-1", "5, 6", "99999999999999999999999", "0x5"])
def test_bad_content_length_is_400(server, s3, bucket, length):
    date = http_date()
    auth = sigv2_authorization(server, "PUT", f"/{bucket}/bad-length", date=date)
    raw = raw_request(
        server,
        [f"PUT /{bucket}/bad-length HTTP/1.1", f"Date: {date}", f"Authorization: {auth}", f"Content-Length: {length}"],
        b"hello",
    )
    assert http_status(raw) == 400, raw[:400]
    assert object_absent(s3, bucket, "bad-length")


def test_body_shorter_than_content_length_is_incomplete_body(server, s3, bucket):
    date = http_date()
    auth = sigv2_authorization(server, "PUT", f"/{bucket}/short", date=date)
    raw = raw_request(
        server, [f"PUT /{bucket}/short HTTP/1.1", f"Date: {date}", f"Authorization: {auth}", "Content-Length: 10"],
        b"hello",
    )  # fmt: skip
    assert http_status(raw) == 400, raw[:400]
    assert b"<Code>IncompleteBody</Code>" in raw
    assert object_absent(s3, bucket, "short")


# --------------------------------------------------------------------------- Content-MD5


def test_matching_content_md5_stores_the_object(server, s3, bucket):
    body = b"checked by md5"
    r = put_v2(server, bucket, "md5", body, date=http_date(), content_md5=md5_b64(body))
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'


@pytest.mark.parametrize(
    "content_md5",
    ["not base64!", base64.b64encode(b"15 bytes only..").decode(), base64.b64encode(b"x" * 17).decode(), ""],
    ids=["not-base64", "15-bytes", "17-bytes", "empty"],
)
def test_malformed_content_md5_is_invalid_digest(server, s3, bucket, content_md5):
    s3.put_object(Bucket=bucket, Key="md5", Body=b"previous")
    r = put_v2(server, bucket, "md5", b"new body", date=http_date(), content_md5=content_md5)
    assert r.status_code == 400, r.text
    assert xml_error_code(r.text) == "InvalidDigest"
    assert s3.get_object(Bucket=bucket, Key="md5")["Body"].read() == b"previous"


def test_mismatching_content_md5_is_bad_digest(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="md5", Body=b"previous")
    r = put_v2(server, bucket, "md5", b"new body", date=http_date(), content_md5=md5_b64(b"other body"))
    assert r.status_code == 400, r.text
    assert xml_error_code(r.text) == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="md5")["Body"].read() == b"previous"


def test_boto3_sigv2_client_content_md5_errors(server, s3, bucket):
    """What a SigV2 boto3 user sees (signature_version="s3")."""
    v2 = server.client(signature_version="s3")
    v2.put_object(Bucket=bucket, Key="boto-md5", Body=b"abc", ContentMD5=md5_b64(b"abc"))
    expect_client_error(v2.put_object, Bucket=bucket, Key="boto-md5", Body=b"abc", ContentMD5=md5_b64(b"xyz"),
                        code="BadDigest", status=400)  # fmt: skip
    expect_client_error(v2.put_object, Bucket=bucket, Key="boto-md5", Body=b"abc", ContentMD5="zzz",
                        code="InvalidDigest", status=400)  # fmt: skip
    assert s3.get_object(Bucket=bucket, Key="boto-md5")["Body"].read() == b"abc"


# --------------------------------------------------------------------------- Expect: 100-continue


def _expect_continue_exchange(server, bucket, key, date, auth, body: bytes):
    """Sends the head with Expect: 100-continue; returns (first answer, answer after the body or None)."""
    head = (
        f"PUT /{bucket}/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\nDate: {date}\r\nAuthorization: {auth}\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        first = sock.recv(65536)
        if not first.startswith(b"HTTP/1.1 100"):
            while chunk := sock.recv(65536):
                first += chunk
            return first, None
        sock.sendall(body)
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
        return first, rest


def test_expect_100_continue_then_body_is_stored(server, s3, bucket):
    date = http_date()
    auth = sigv2_authorization(server, "PUT", f"/{bucket}/continued", date=date)
    first, final = _expect_continue_exchange(server, bucket, "continued", date, auth, b"after continue")
    assert first.startswith(b"HTTP/1.1 100 Continue"), first
    assert http_status(final) == 200, final
    assert s3.get_object(Bucket=bucket, Key="continued")["Body"].read() == b"after continue"


@pytest.mark.parametrize("problem", ["bad-signature", "skewed-date", "no-date"])
def test_expect_100_continue_refused_before_the_body(server, s3, bucket, problem):
    """The final error comes instead of 100 Continue: the client never has to send the body."""
    date = {"skewed-date": http_date(-3600), "no-date": ""}.get(problem, http_date())
    secret = "wrong" if problem == "bad-signature" else None
    auth = sigv2_authorization(server, "PUT", f"/{bucket}/refused", date=date, secret=secret)
    first, final = _expect_continue_exchange(server, bucket, "refused", date, auth, b"never sent")
    assert final is None, f"got 100 Continue for a request that fails authentication: {first!r}"
    expected = {"bad-signature": "SignatureDoesNotMatch", "skewed-date": "RequestTimeTooSkewed",
                "no-date": "AccessDenied"}[problem]  # fmt: skip
    assert http_status(first) == 403, first
    assert f"<Code>{expected}</Code>".encode() in first, first
    assert object_absent(s3, bucket, "refused")
