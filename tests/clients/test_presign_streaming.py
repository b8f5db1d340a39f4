"""Presigned URLs (SigV4 from boto3, SigV2 computed here) used with curl, hand-written
STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER) uploads, conditional PutObject and
GetObjectAttributes.

The streaming bodies are built here byte by byte: the request's own SigV4 signature (botocore's
signer, through helpers.sign_request) seeds a chain of chunk signatures, and the trailer variant
ends with a signed `x-amz-checksum-crc32` trailer. Any broken link must refuse the upload and
leave the key's previous object in place.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import (
    KiB,
    MiB,
    REGION,
    crc32_b64,
    err_code,
    err_status,
    expect_client_error,
    md5_hex,
    object_path,
    rand_bytes,
    sign_request,
    xml_error_code,
)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"


# --------------------------------------------------------------------------- curl


class CurlResult:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def code(self) -> str | None:
        return xml_error_code(self.body.decode("utf-8", "replace"))

    def __repr__(self):
        return f"<curl {self.status} {self.headers} {self.body[:600]!r}>"


def curl(method: str, url: str, tmp_path: Path, upload: bytes | None = None, headers: dict | None = None) -> CurlResult:
    """One request with curl (no retries, 30 s cap); HEAD is sent as a real HEAD (-I)."""
    exe = shutil.which("curl")
    if exe is None:
        pytest.fail("curl is not installed")
    body_file = tmp_path / "curl-body"
    head_file = tmp_path / "curl-headers"
    cmd = [exe, "-sS", "--max-time", "30", "-o", str(body_file), "-D", str(head_file)]
    if method == "HEAD":
        cmd.append("-I")
    elif upload is not None:
        src = tmp_path / "curl-upload"
        src.write_bytes(upload)
        cmd += ["-T", str(src)]  # PUT without a Content-Type of curl's own
    else:
        cmd += ["-X", method]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    proc = subprocess.run(cmd, capture_output=True, timeout=60)
    assert proc.returncode == 0, f"curl failed ({proc.returncode}): {proc.stderr.decode()}"
    raw_headers = head_file.read_bytes().decode("latin-1")
    # The last response block (after any 100 Continue).
    block = [b for b in re.split(r"\r\n\r\n", raw_headers) if b.startswith("HTTP/")][-1]
    lines = block.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    # With -I curl writes the headers to -o as well; a HEAD has no body to read.
    body = body_file.read_bytes() if body_file.exists() and method != "HEAD" else b""
    return CurlResult(status, headers, body)


def presign(s3, op: str, bucket: str, key: str, expires: int = 300) -> str:
    return s3.generate_presigned_url(op, Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)


def replace_query_value(url: str, name: str, new_value: str) -> str:
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    assert any(k == name for k, _ in pairs), f"{name} not in {url}"
    pairs = [(k, new_value if k == name else v) for k, v in pairs]
    return urlunsplit(parts._replace(query=urlencode(pairs, quote_via=quote, safe="")))


# --------------------------------------------------------------------------- SigV4 presigned URLs


def test_presigned_put_get_head_delete_with_curl(s3, bucket, tmp_path):
    key = "presigned/with space+plus.bin"
    data = rand_bytes(200 * KiB, "presign-crud")

    put = curl("PUT", presign(s3, "put_object", bucket, key), tmp_path, upload=data)
    assert put.status == 200, put
    assert put.headers.get("etag") == f'"{md5_hex(data)}"', put

    get = curl("GET", presign(s3, "get_object", bucket, key), tmp_path)
    assert get.status == 200, get
    assert get.body == data

    head = curl("HEAD", presign(s3, "head_object", bucket, key), tmp_path)
    assert head.status == 200, head
    assert head.headers.get("content-length") == str(len(data)), head
    assert head.headers.get("etag") == f'"{md5_hex(data)}"', head

    delete = curl("DELETE", presign(s3, "delete_object", bucket, key), tmp_path)
    assert delete.status == 204, delete

    gone = curl("GET", presign(s3, "get_object", bucket, key), tmp_path)
    assert gone.status == 404, gone
    assert gone.code == "NoSuchKey", gone


def test_presigned_put_with_signed_content_type(s3, bucket, tmp_path):
    """Browser-upload style: the Content-Type is a signed header of the URL and must be sent as signed."""
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "typed.png", "ContentType": "image/png"}, ExpiresIn=300
    )
    assert "content-type" in dict(parse_qsl(urlsplit(url).query))["X-Amz-SignedHeaders"], url
    r = curl("PUT", url, tmp_path, upload=b"not really html", headers={"Content-Type": "text/html"})
    assert r.status == 403, r
    assert r.code == "SignatureDoesNotMatch", r
    expect_client_error(s3.head_object, Bucket=bucket, Key="typed.png", status=404)
    r = curl("PUT", url, tmp_path, upload=b"\x89PNG fake", headers={"Content-Type": "image/png"})
    assert r.status == 200, r
    head = s3.head_object(Bucket=bucket, Key="typed.png")
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == len(b"\x89PNG fake")


def test_presigned_get_with_response_overrides(s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="report", Body=b"col1,col2\n", ContentType="text/plain")
    url = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": "report",
            "ResponseContentType": "text/csv",
            "ResponseContentDisposition": 'attachment; filename="report 2024.csv"',
            "ResponseCacheControl": "no-store",
        },
        ExpiresIn=300,
    )
    r = curl("GET", url, tmp_path)
    assert r.status == 200, r
    assert r.body == b"col1,col2\n"
    assert r.headers.get("content-type") == "text/csv", r
    assert r.headers.get("content-disposition") == 'attachment; filename="report 2024.csv"', r
    assert r.headers.get("cache-control") == "no-store", r
    # The overrides are signed: changing one breaks the URL.
    r = curl("GET", replace_query_value(url, "response-content-type", "text/html"), tmp_path)
    assert r.status == 403, r
    assert r.code == "SignatureDoesNotMatch", r


def test_presigned_url_is_bound_to_its_method(s3, bucket, tmp_path):
    """A GET URL used for a PUT is a different canonical request."""
    s3.put_object(Bucket=bucket, Key="bound", Body=b"original")
    r = curl("PUT", presign(s3, "get_object", bucket, "bound"), tmp_path, upload=b"hijacked")
    assert r.status == 403, r
    assert r.code == "SignatureDoesNotMatch", r
    assert s3.get_object(Bucket=bucket, Key="bound")["Body"].read() == b"original"


def test_presigned_url_expires(s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="soon", Body=b"short-lived")
    url = presign(s3, "get_object", bucket, "soon", expires=1)
    time.sleep(2.2)
    r = curl("GET", url, tmp_path)
    assert r.status == 403, r
    assert r.code == "AccessDenied", r
    assert b"short-lived" not in r.body


def test_presigned_put_after_expiry_stores_nothing(s3, bucket, tmp_path):
    url = presign(s3, "put_object", bucket, "late-put", expires=1)
    time.sleep(2.2)
    r = curl("PUT", url, tmp_path, upload=b"too late")
    assert r.status == 403, r
    assert r.code == "AccessDenied", r
    expect_client_error(s3.head_object, Bucket=bucket, Key="late-put", status=404)


def test_presigned_expiry_limit_is_one_week(s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="week", Body=b"seven days of data")
    ok = curl("GET", presign(s3, "get_object", bucket, "week", expires=604800), tmp_path)
    assert ok.status == 200, ok
    assert ok.body == b"seven days of data"
    # AWS: 400 AuthorizationQueryParametersError "X-Amz-Expires must be less than a week
    # (in seconds) that is 604800".
    r = curl("GET", presign(s3, "get_object", bucket, "week", expires=604801), tmp_path)
    assert r.status == 400, r
    assert r.code == "AuthorizationQueryParametersError", r
    assert b"seven days" not in r.body


@pytest.mark.parametrize("param, value", [("X-Amz-Expires", "abc"), ("X-Amz-Expires", "-1"),
                                          ("X-Amz-Credential", "AKIA"), ("X-Amz-Date", "2026")])
def test_malformed_presigned_parameters_are_authorization_query_parameters_errors(s3, bucket, tmp_path,
                                                                                   param, value):
    s3.put_object(Bucket=bucket, Key="malformed", Body=b"guarded")
    url = presign(s3, "get_object", bucket, "malformed", expires=3600)
    r = curl("GET", replace_query_value(url, param, value), tmp_path)
    assert r.status == 400, r
    assert r.code == "AuthorizationQueryParametersError", r
    assert b"guarded" not in r.body


@pytest.mark.parametrize(
    "param, value",
    [
        ("X-Amz-Expires", "3601"),
        ("X-Amz-Signature", "0" * 64),
        ("X-Amz-Date", None),  # one second off the signed time
    ],
)
def test_tampered_presigned_url_is_signature_does_not_match(s3, bucket, tmp_path, param, value):
    s3.put_object(Bucket=bucket, Key="tamper", Body=b"guarded")
    url = presign(s3, "get_object", bucket, "tamper", expires=3600)
    if value is None:
        signed = dict(parse_qsl(urlsplit(url).query))["X-Amz-Date"]
        signed_unix = calendar.timegm(time.strptime(signed, "%Y%m%dT%H%M%SZ"))
        # One second off, staying on the same day so that only the signature can fail.
        delta = 1 if signed.endswith("T000000Z") else -1
        value = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(signed_unix + delta))
    r = curl("GET", replace_query_value(url, param, value), tmp_path)
    assert r.status == 403, r
    assert r.code == "SignatureDoesNotMatch", r
    assert b"guarded" not in r.body


def test_presigned_url_with_extra_unsigned_query_param_rejected(s3, bucket, tmp_path):
    """Every query parameter but X-Amz-Signature is part of the signed canonical request."""
    s3.put_object(Bucket=bucket, Key="extra", Body=b"guarded")
    url = presign(s3, "get_object", bucket, "extra") + "&response-content-type=text%2Fhtml"
    r = curl("GET", url, tmp_path)
    assert r.status == 403, r
    assert r.code == "SignatureDoesNotMatch", r


# --------------------------------------------------------------------------- SigV2 presigned URLs


def presign_v2(server, method: str, bucket: str, key: str, expires_unix: int, secret: str | None = None) -> str:
    """`?AWSAccessKeyId=&Expires=&Signature=`: HMAC-SHA1 over the V2 string to sign.

    StringToSign = VERB \\n Content-MD5 \\n Content-Type \\n Expires \\n CanonicalizedResource,
    the resource being the request path exactly as sent (percent-encoded).
    """
    path = object_path(bucket, key)
    string_to_sign = f"{method}\n\n\n{expires_unix}\n{path}"
    mac = hmac.new((secret or server.secret_key).encode(), string_to_sign.encode(), hashlib.sha1)
    signature = base64.b64encode(mac.digest()).decode()
    query = urlencode(
        {"AWSAccessKeyId": server.access_key, "Expires": str(expires_unix), "Signature": signature},
        quote_via=quote,
        safe="",
    )
    return f"{server.endpoint}{path}?{query}"


def test_sigv2_presigned_get_and_put(server, s3, bucket, tmp_path):
    key = "v2/plain key+1.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"sigv2 body")
    r = curl("GET", presign_v2(server, "GET", bucket, key, int(time.time()) + 300), tmp_path)
    assert r.status == 200, r
    assert r.body == b"sigv2 body"

    r = curl("PUT", presign_v2(server, "PUT", bucket, "v2/uploaded", int(time.time()) + 300), tmp_path, b"via v2")
    assert r.status == 200, r
    assert s3.get_object(Bucket=bucket, Key="v2/uploaded")["Body"].read() == b"via v2"


def test_sigv2_presigned_expired(server, s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="v2-old", Body=b"old")
    r = curl("GET", presign_v2(server, "GET", bucket, "v2-old", int(time.time()) - 5), tmp_path)
    assert r.status == 403, r
    assert r.code == "AccessDenied", r
    assert r.body != b"old"


def test_sigv2_presigned_wrong_secret_or_tampered(server, s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="v2-guarded", Body=b"guarded")
    expires = int(time.time()) + 300
    r = curl("GET", presign_v2(server, "GET", bucket, "v2-guarded", expires, secret="w" * 40), tmp_path)
    assert r.status == 403, r
    assert r.code == "SignatureDoesNotMatch", r
    url = presign_v2(server, "GET", bucket, "v2-guarded", expires)
    r = curl("GET", replace_query_value(url, "Expires", str(expires + 1)), tmp_path)
    assert r.status == 403, r
    assert r.code == "SignatureDoesNotMatch", r


# --------------------------------------------------------------------------- streaming signatures


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str = REGION) -> bytes:
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, "s3")
    return _hmac(k, "aws4_request")


class StreamingUpload:
    """One aws-chunked PUT with signed chunks (and optionally a signed CRC32 trailer).

    tamper: None, "chunk-signature" (second chunk's signature), "chunk-data" (a byte of the
    second chunk changed after signing), "final-chunk-signature" (the zero-size chunk's),
    "trailer-signature", or "trailer-checksum" (a wrong CRC32 value, correctly signed).
    """

    SIG_HEX = 64

    def __init__(self, server, bucket, key, data, chunk_bytes=64 * KiB, trailer=False, tamper=None):
        self.server = server
        self.path = object_path(bucket, key)
        self.data = data
        self.chunks = [data[i : i + chunk_bytes] for i in range(0, len(data), chunk_bytes)] + [b""]
        self.trailer = trailer
        self.tamper = tamper
        self.crc32 = crc32_b64(b"wrong checksum value" if tamper == "trailer-checksum" else data)

    def _body(self, sign_chunk, sign_trailer) -> bytes:
        out = bytearray()
        for i, chunk in enumerate(self.chunks):
            sig = sign_chunk(chunk)
            last = i == len(self.chunks) - 1
            if (self.tamper == "chunk-signature" and i == 1) or (self.tamper == "final-chunk-signature" and last):
                sig = ("f" if sig[0] != "f" else "e") + sig[1:]
            sent = chunk
            if self.tamper == "chunk-data" and i == 1:
                sent = bytes([chunk[0] ^ 0x01]) + chunk[1:]
            out += f"{len(chunk):x};chunk-signature={sig}\r\n".encode()
            if chunk:
                out += sent + b"\r\n"
        # After the zero-size chunk's header line: the trailer lines, then an empty line.
        if self.trailer:
            trailer = f"x-amz-checksum-crc32:{self.crc32}"
            sig = sign_trailer(trailer + "\n")
            if self.tamper == "trailer-signature":
                sig = ("f" if sig[0] != "f" else "e") + sig[1:]
            out += f"{trailer}\r\nx-amz-trailer-signature:{sig}\r\n\r\n".encode()
        else:
            out += b"\r\n"
        return bytes(out)

    def send(self) -> requests.Response:
        mode = STREAMING_SIGNED_TRAILER if self.trailer else STREAMING_SIGNED
        dummy = "0" * self.SIG_HEX
        content_length = len(self._body(lambda _c: dummy, lambda _t: dummy))
        headers = {
            "Content-Encoding": "aws-chunked",
            "Content-Type": "application/x-streamed",
            "Content-Length": str(content_length),
            "x-amz-decoded-content-length": str(len(self.data)),
        }
        if self.trailer:
            headers["x-amz-trailer"] = "x-amz-checksum-crc32"
        url, signed = sign_request(
            self.server.endpoint,
            self.server.access_key,
            self.server.secret_key,
            "PUT",
            self.path,
            headers=headers,
            payload_hash=mode,
        )
        auth = signed["Authorization"]
        seed = re.search(r"Signature=([0-9a-f]{64})", auth).group(1)
        scope = re.search(r"Credential=[^/]+/([^,]+)", auth).group(1)
        timestamp = signed["X-Amz-Date"]
        key = signing_key(self.server.secret_key, scope.split("/")[0])
        previous = [seed]

        def sign_chunk(chunk: bytes) -> str:
            sts = "\n".join(
                [
                    "AWS4-HMAC-SHA256-PAYLOAD",
                    timestamp,
                    scope,
                    previous[0],
                    EMPTY_SHA256,
                    hashlib.sha256(chunk).hexdigest(),
                ]
            )
            previous[0] = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            return previous[0]

        def sign_trailer(canonical_trailer: str) -> str:
            sts = "\n".join(
                [
                    "AWS4-HMAC-SHA256-TRAILER",
                    timestamp,
                    scope,
                    previous[0],
                    hashlib.sha256(canonical_trailer.encode()).hexdigest(),
                ]
            )
            return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()

        body = self._body(sign_chunk, sign_trailer)
        assert len(body) == content_length
        return requests.put(url, headers=signed, data=body, timeout=60)


def assert_stored_plain(s3, bucket, key, data):
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == data
    assert got["ETag"] == f'"{md5_hex(data)}"'
    assert got["ContentLength"] == len(data)
    assert got["ContentType"] == "application/x-streamed"
    headers = got["ResponseMetadata"]["HTTPHeaders"]
    assert "aws-chunked" not in headers.get("content-encoding", ""), headers
    assert "content-encoding" not in headers, headers
    head = s3.head_object(Bucket=bucket, Key=key)
    assert "content-encoding" not in head["ResponseMetadata"]["HTTPHeaders"], head


@pytest.mark.parametrize(
    "size, chunk_bytes",
    [(0, 64 * KiB), (1, 64 * KiB), (200 * KiB + 7, 64 * KiB), (3 * MiB, 1 * MiB)],
    ids=["empty", "one-byte", "partial-last-chunk", "1MiB-chunks"],
)
def test_streaming_signed_upload_stored(server, s3, bucket, size, chunk_bytes):
    data = rand_bytes(size, f"stream-{size}")
    r = StreamingUpload(server, bucket, "streamed", data, chunk_bytes=chunk_bytes).send()
    assert r.status_code == 200, r.text
    assert r.headers.get("ETag") == f'"{md5_hex(data)}"'
    assert_stored_plain(s3, bucket, "streamed", data)


@pytest.mark.parametrize("tamper", ["chunk-signature", "chunk-data", "final-chunk-signature"])
def test_streaming_signed_tampered_chunk_refused_previous_kept(server, s3, bucket, tamper):
    s3.put_object(Bucket=bucket, Key="streamed", Body=b"previous version")
    data = rand_bytes(300 * KiB, "stream-tamper")
    r = StreamingUpload(server, bucket, "streamed", data, tamper=tamper).send()
    assert r.status_code == 403, (r.status_code, r.text)
    assert xml_error_code(r.text) == "SignatureDoesNotMatch", r.text
    assert s3.get_object(Bucket=bucket, Key="streamed")["Body"].read() == b"previous version"
    expect_client_error(s3.head_object, Bucket=bucket, Key="streamed-new", status=404)
    r = StreamingUpload(server, bucket, "streamed-new", data, tamper=tamper).send()
    assert r.status_code == 403, (r.status_code, r.text)
    expect_client_error(s3.head_object, Bucket=bucket, Key="streamed-new", status=404)


def test_streaming_signed_missing_final_chunk_refused(server, s3, bucket):
    """A body that stops after a data chunk (Content-Length agreeing) is incomplete: nothing stored."""
    s3.put_object(Bucket=bucket, Key="cut", Body=b"previous version")
    upload = StreamingUpload(server, bucket, "cut", rand_bytes(200 * KiB, "stream-cut"))
    full_body = upload._body

    def without_final_chunk(sign_chunk, sign_trailer):
        raw = full_body(sign_chunk, sign_trailer)
        return raw[: raw.rindex(b"0;chunk-signature=")]

    upload._body = without_final_chunk
    r = upload.send()
    assert r.status_code == 400, (r.status_code, r.text)
    assert xml_error_code(r.text) == "IncompleteBody", r.text
    assert s3.get_object(Bucket=bucket, Key="cut")["Body"].read() == b"previous version"


def test_streaming_signed_trailer_upload_stored(server, s3, bucket):
    data = rand_bytes(256 * KiB + 11, "stream-trailer")
    r = StreamingUpload(server, bucket, "trailed", data, trailer=True).send()
    assert r.status_code == 200, r.text
    assert r.headers.get("x-amz-checksum-crc32") in (None, crc32_b64(data)), r.headers
    assert_stored_plain(s3, bucket, "trailed", data)
    got = s3.get_object(Bucket=bucket, Key="trailed", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == crc32_b64(data)
    attrs = s3.get_object_attributes(Bucket=bucket, Key="trailed", ObjectAttributes=["Checksum", "ObjectSize"])
    assert attrs["Checksum"]["ChecksumCRC32"] == crc32_b64(data)
    assert attrs["ObjectSize"] == len(data)


def test_streaming_signed_trailer_wrong_checksum_refused(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="trailed", Body=b"previous version")
    data = rand_bytes(150 * KiB, "stream-bad-crc")
    r = StreamingUpload(server, bucket, "trailed", data, trailer=True, tamper="trailer-checksum").send()
    # AWS: 400 BadDigest "The CRC32 you specified did not match the calculated checksum."
    assert r.status_code == 400, (r.status_code, r.text)
    assert xml_error_code(r.text) == "BadDigest", r.text
    assert s3.get_object(Bucket=bucket, Key="trailed")["Body"].read() == b"previous version"


def test_streaming_signed_trailer_tampered_signature_refused(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="trailed", Body=b"previous version")
    data = rand_bytes(150 * KiB, "stream-bad-trailer-sig")
    r = StreamingUpload(server, bucket, "trailed", data, trailer=True, tamper="trailer-signature").send()
    assert r.status_code == 403, (r.status_code, r.text)
    assert xml_error_code(r.text) == "SignatureDoesNotMatch", r.text
    assert s3.get_object(Bucket=bucket, Key="trailed")["Body"].read() == b"previous version"


def test_streaming_trailer_missing_signature_refused(server, s3, bucket):
    """A signed-trailer upload whose trailer carries no x-amz-trailer-signature is not accepted."""
    upload = StreamingUpload(server, bucket, "no-trailer-sig", b"abc" * 1000, trailer=True)
    original_body = upload._body

    def body_without_signature(sign_chunk, sign_trailer):
        raw = original_body(sign_chunk, sign_trailer)
        return re.sub(rb"x-amz-trailer-signature:[0-9a-f]{64}\r\n", b"", raw)

    upload._body = body_without_signature
    # Content-Length is computed from the same function, so the framing stays consistent.
    r = upload.send()
    assert r.status_code in (400, 403), (r.status_code, r.text)
    expect_client_error(s3.head_object, Bucket=bucket, Key="no-trailer-sig", status=404)


def test_streaming_decoded_length_mismatch_refused(server, s3, bucket):
    """x-amz-decoded-content-length that disagrees with the chunks: nothing stored."""
    upload = StreamingUpload(server, bucket, "short", b"z" * 5000)
    upload.data = b"z" * 4000  # only the announced decoded length changes
    r = upload.send()
    assert r.status_code == 400, (r.status_code, r.text)
    expect_client_error(s3.head_object, Bucket=bucket, Key="short", status=404)


# --------------------------------------------------------------------------- conditional writes


def test_put_if_none_match_star(s3, bucket):
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    expect_client_error(
        s3.put_object, Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*", code="PreconditionFailed", status=412
    )
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


def test_put_if_none_match_etag_writes_unless_the_current_etag_matches(s3, bucket):
    """AWS answers 501 for an ETag here; other S3 servers write unless the current ETag matches,
    and so does this one."""
    first = s3.put_object(Bucket=bucket, Key="unless", Body=b"v1", IfNoneMatch='"0123456789abcdef0123456789abcdef"')
    expect_client_error(s3.put_object, Bucket=bucket, Key="unless", Body=b"v2", IfNoneMatch=first["ETag"],
                        code="PreconditionFailed", status=412)
    assert s3.get_object(Bucket=bucket, Key="unless")["Body"].read() == b"v1"
    s3.put_object(Bucket=bucket, Key="unless", Body=b"v3", IfNoneMatch='"ffffffffffffffffffffffffffffffff"')
    assert s3.get_object(Bucket=bucket, Key="unless")["Body"].read() == b"v3"


def test_put_if_match(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="cas", Body=b"v1")["ETag"]
    new = s3.put_object(Bucket=bucket, Key="cas", Body=b"v2", IfMatch=etag)
    assert new["ETag"] == f'"{md5_hex(b"v2")}"'
    # The old ETag no longer matches.
    expect_client_error(
        s3.put_object, Bucket=bucket, Key="cas", Body=b"v3", IfMatch=etag, code="PreconditionFailed", status=412
    )
    assert s3.get_object(Bucket=bucket, Key="cas")["Body"].read() == b"v2"


def test_put_if_match_missing_key_is_no_such_key(s3, bucket):
    expect_client_error(
        s3.put_object,
        Bucket=bucket,
        Key="absent",
        Body=b"x",
        IfMatch=f'"{md5_hex(b"x")}"',
        code="NoSuchKey",
        status=404,
    )
    expect_client_error(s3.head_object, Bucket=bucket, Key="absent", status=404)


def _racing_puts(s3, bucket, key, count, **condition):
    """count concurrent conditional PutObjects of distinct bodies; returns [(body, status, code)].

    The bodies differ from every earlier one on the key: a compare-and-swap racer writing the
    current bytes again would keep the ETag and let a second racer match it.
    """
    tag = "-".join(f"{name}={value}" for name, value in condition.items())

    def put(i):
        body = f"racer-{i} {tag}".encode()
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, **condition)
            return body, 200, ""
        except ClientError as exc:
            return body, err_status(exc), err_code(exc)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(put, range(count)))


def assert_one_winner(s3, bucket, key, results):
    winners = [body for body, status, _ in results if status == 200]
    assert len(winners) == 1, results
    # AWS answers a loser 412, or 409 ConditionalRequestConflict while the winner is in flight.
    losers = {(status, code) for _, status, code in results if status != 200}
    assert losers <= {(412, "PreconditionFailed"), (409, "ConditionalRequestConflict")}, results
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == winners[0]


def test_put_conditional_races_have_one_winner(s3, bucket):
    """Create-if-absent and compare-and-swap are atomic under concurrent writers."""
    for round_no in range(3):
        key = f"race-{round_no}"
        assert_one_winner(s3, bucket, key, _racing_puts(s3, bucket, key, 12, IfNoneMatch="*"))
        etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
        assert_one_winner(s3, bucket, key, _racing_puts(s3, bucket, key, 12, IfMatch=etag))


# --------------------------------------------------------------------------- GetObjectAttributes


def test_get_object_attributes_simple_object(s3, bucket):
    data = rand_bytes(123_457, "attributes")
    s3.put_object(Bucket=bucket, Key="attrs", Body=data, ChecksumAlgorithm="CRC32")
    out = s3.get_object_attributes(
        Bucket=bucket, Key="attrs", ObjectAttributes=["ETag", "ObjectSize", "StorageClass", "Checksum"]
    )
    # GetObjectAttributes returns the ETag without quotes.
    assert out["ETag"] == md5_hex(data)
    assert out["ObjectSize"] == len(data)
    assert out["StorageClass"] == "STANDARD"
    assert out["Checksum"]["ChecksumCRC32"] == crc32_b64(data)
    assert "ObjectParts" not in out
    assert out["LastModified"]


def test_get_object_attributes_only_what_is_asked_and_missing_key(s3, bucket):
    s3.put_object(Bucket=bucket, Key="attrs", Body=b"12345")
    out = s3.get_object_attributes(Bucket=bucket, Key="attrs", ObjectAttributes=["ObjectSize"])
    assert out["ObjectSize"] == 5
    assert "ETag" not in out and "StorageClass" not in out
    expect_client_error(
        s3.get_object_attributes,
        Bucket=bucket,
        Key="no-such-key",
        ObjectAttributes=["ETag"],
        code="NoSuchKey",
        status=404,
    )
