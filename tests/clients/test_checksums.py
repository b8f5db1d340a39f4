"""Flexible checksums as the current SDKs send them.

boto3 >= 1.36 sends a CRC32 on every upload by default. Over plain HTTP it sends it as an
`x-amz-checksum-crc32` header (payload also SHA-256 signed); over TLS it streams the body as
`aws-chunked` with the checksum in a trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER). The server
has no TLS yet, so the trailer tests flip boto3's own checksum context to "trailer" (exactly what
botocore decides on https) so that boto3's own aws-chunked encoder produces the body.
"""

from __future__ import annotations

import pytest

from helpers import (
    CHECKSUM_FUNCS,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    KiB,
    MiB,
    aws_chunked_body,
    crc32_b64,
    expect_client_error,
    md5_hex,
    object_absent,
    object_path,
    rand_bytes,
    signed_requests_call,
    xml_error_code,
)

ALGOS = ["CRC32", "CRC32C", "SHA1", "SHA256"]


@pytest.fixture
def client(server):
    """A fresh boto3 client: the tests below register event hooks on it."""
    return server.client("path")


def capture_sent_headers(client, op="PutObject"):
    sent = []

    def before_send(request, **kwargs):
        sent.append({k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()})

    client.meta.events.register(f"before-send.s3.{op}", before_send)
    return sent


def force_trailer(client):
    """Make botocore send the checksum as an aws-chunked trailer, as it does over https."""

    def flip(params, **kwargs):
        algorithm = params.get("context", {}).get("checksum", {}).get("request_algorithm")
        if isinstance(algorithm, dict):
            algorithm["in"] = "trailer"

    client.meta.events.register("before-call.s3.PutObject", flip)


def corrupt_checksum_header(client, header):
    """Replace a checksum header with a wrong value before signing (so the signature is valid)."""

    def before_sign(request, **kwargs):
        value = request.headers.get(header)
        assert value, f"{header} was not going to be sent: {dict(request.headers)}"
        del request.headers[header]
        request.headers[header] = CHECKSUM_FUNCS[header.rsplit("-", 1)[1].upper()](b"definitely not the body")

    client.meta.events.register("before-sign.s3.PutObject", before_sign)


def test_default_crc32_header_verified_stored_returned(client, bucket):
    sent = capture_sent_headers(client)
    data = rand_bytes(300 * KiB, "default-crc")
    put = client.put_object(Bucket=bucket, Key="crc-default", Body=data)
    assert sent and sent[-1].get("x-amz-checksum-crc32") == crc32_b64(data), "boto3 did not send CRC32?"
    assert put["ETag"] == f'"{md5_hex(data)}"'

    got = client.get_object(Bucket=bucket, Key="crc-default", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got.get("ChecksumCRC32") == crc32_b64(data), got["ResponseMetadata"]["HTTPHeaders"]
    head = client.head_object(Bucket=bucket, Key="crc-default", ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC32") == crc32_b64(data), head["ResponseMetadata"]["HTTPHeaders"]


@pytest.mark.parametrize("algo", ALGOS)
def test_checksum_algorithm_header(client, bucket, algo):
    sent = capture_sent_headers(client)
    data = rand_bytes(200 * KiB + 7, algo)
    expected = CHECKSUM_FUNCS[algo](data)
    client.put_object(Bucket=bucket, Key=f"alg-{algo}", Body=data, ChecksumAlgorithm=algo)
    assert sent[-1].get(f"x-amz-checksum-{algo.lower()}") == expected
    got = client.get_object(Bucket=bucket, Key=f"alg-{algo}", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got.get(f"Checksum{algo}") == expected, got["ResponseMetadata"]["HTTPHeaders"]
    head = client.head_object(Bucket=bucket, Key=f"alg-{algo}", ChecksumMode="ENABLED")
    assert head.get(f"Checksum{algo}") == expected, head["ResponseMetadata"]["HTTPHeaders"]


@pytest.mark.parametrize("algo", ALGOS)
def test_put_response_echoes_checksum(client, bucket, algo):
    """AWS returns the verified checksum in the PutObject response."""
    data = b"echo me " * 1000
    put = client.put_object(Bucket=bucket, Key=f"echo-{algo}", Body=data, ChecksumAlgorithm=algo)
    assert put.get(f"Checksum{algo}") == CHECKSUM_FUNCS[algo](data), put["ResponseMetadata"]["HTTPHeaders"]


@pytest.mark.parametrize("algo", ALGOS)
def test_wrong_checksum_header_is_bad_digest(client, s3, bucket, algo):
    corrupt_checksum_header(client, f"x-amz-checksum-{algo.lower()}")
    expect_client_error(
        client.put_object,
        Bucket=bucket,
        Key=f"bad-{algo}",
        Body=b"payload " * 100,
        ChecksumAlgorithm=algo,
        code="BadDigest",
        status=400,
    )
    assert object_absent(s3, bucket, f"bad-{algo}")


def test_wrong_default_crc32_keeps_previous_version(client, s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"version one")
    corrupt_checksum_header(client, "x-amz-checksum-crc32")
    expect_client_error(client.put_object, Bucket=bucket, Key="keep", Body=b"version two", code="BadDigest", status=400)
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"version one"


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("size", [0, 1, 3 * MiB + 17])
def test_aws_chunked_trailer_from_boto3(client, bucket, algo, size):
    sent = capture_sent_headers(client)
    force_trailer(client)
    data = rand_bytes(size, f"trailer-{algo}-{size}")
    key = f"trailer-{algo}-{size}"
    client.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm=algo)
    h = sent[-1]
    assert h.get("x-amz-content-sha256") == STREAMING_UNSIGNED_PAYLOAD_TRAILER, h
    assert "aws-chunked" in h.get("content-encoding", ""), h
    assert h.get("x-amz-trailer") == f"x-amz-checksum-{algo.lower()}", h
    assert h.get("x-amz-decoded-content-length") == str(size), h

    got = client.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got["ContentLength"] == size
    assert got["Body"].read() == data
    assert got["ETag"] == f'"{md5_hex(data)}"', "ETag must be the MD5 of the decoded payload"
    assert got.get(f"Checksum{algo}") == CHECKSUM_FUNCS[algo](data), got["ResponseMetadata"]["HTTPHeaders"]
    assert "aws-chunked" not in (got.get("ContentEncoding") or ""), "aws-chunked is a transfer detail"


def test_aws_chunked_trailer_keeps_real_content_encoding(client, bucket):
    force_trailer(client)
    data = b"\x1f\x8b pretend gzip"
    client.put_object(Bucket=bucket, Key="gz", Body=data, ContentEncoding="gzip")
    head = client.head_object(Bucket=bucket, Key="gz")
    assert head.get("ContentEncoding") == "gzip"
    assert client.get_object(Bucket=bucket, Key="gz")["Body"].read() == data


# --------------------------------------------------------------------------- raw aws-chunked


def _put_aws_chunked(server, bucket, key, data, trailer_name, trailer_value):
    body = aws_chunked_body(data, trailer_name, trailer_value, chunk=8 * KiB)
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(data)),
        "X-Amz-Trailer": trailer_name,
        "Content-Length": str(len(body)),
    }
    return signed_requests_call(
        server.endpoint,
        server.access_key,
        server.secret_key,
        "PUT",
        object_path(bucket, key),
        headers=headers,
        body=body,
        payload_hash=STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    )


def test_raw_aws_chunked_trailer_good(server, s3, bucket):
    data = rand_bytes(100 * KiB + 3, "raw-good")
    r = _put_aws_chunked(server, bucket, "raw-good", data, "x-amz-checksum-crc32", crc32_b64(data))
    assert r.status_code == 200, r.text
    got = s3.get_object(Bucket=bucket, Key="raw-good", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got.get("ChecksumCRC32") == crc32_b64(data)


@pytest.mark.parametrize("algo", ["CRC32", "CRC32C", "SHA256"])
def test_raw_aws_chunked_trailer_wrong_checksum(server, s3, bucket, algo):
    data = rand_bytes(100 * KiB + 3, "raw-bad")
    wrong = CHECKSUM_FUNCS[algo](data + b"x")
    r = _put_aws_chunked(server, bucket, f"raw-bad-{algo}", data, f"x-amz-checksum-{algo.lower()}", wrong)
    assert r.status_code == 400, (r.status_code, r.text)
    assert xml_error_code(r.text) == "BadDigest", r.text
    assert object_absent(s3, bucket, f"raw-bad-{algo}")


def test_raw_aws_chunked_decoded_length_mismatch(server, s3, bucket):
    """x-amz-decoded-content-length that disagrees with the chunks: rejected, nothing stored."""
    data = rand_bytes(20 * KiB, "raw-len")
    body = aws_chunked_body(data, "x-amz-checksum-crc32", crc32_b64(data), chunk=8 * KiB)
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(data) + 1),
        "X-Amz-Trailer": "x-amz-checksum-crc32",
    }
    r = signed_requests_call(
        server.endpoint,
        server.access_key,
        server.secret_key,
        "PUT",
        object_path(bucket, "raw-len"),
        headers=headers,
        body=body,
        payload_hash=STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    )
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert object_absent(s3, bucket, "raw-len")
