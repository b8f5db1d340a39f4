"""Bad input over raw sockets: the server answers with an error and keeps serving."""

from __future__ import annotations

import socket
import time

import pytest

from helpers import (
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    UNSIGNED_PAYLOAD,
    KiB,
    aws_chunked_body,
    crc32_b64,
    http_status,
    object_absent,
    object_path,
    raw_exchange,
    sign_request,
)


def _assert_still_serving(server, s3):
    assert server.running(), f"server died:\n{server.stderr_tail()}"
    assert server.health_status() == 200
    assert s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200


GARBAGE = {
    "words": b"GARBAGE\r\n\r\n",
    "method-only": b"GET\r\n\r\n",
    "binary": bytes(range(1, 32)).replace(b"\r", b"").replace(b"\n", b"") + b"\xff\xfe\r\n\r\n",
    "tls-client-hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32 + b"\r\n\r\n",
    "control-chars-in-target": b"GET /\x00\x01\x02 HTTP/1.1\r\nHost: x\r\n\r\n",
    "header-without-colon": b"GET / HTTP/1.1\r\nHost: x\r\nThis is not a header\r\n\r\n",
    "bad-content-length": b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "negative-content-length": b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "conflicting-content-length": (
        b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
    ),
    "space-before-colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_request_gets_400(server, s3, name):
    raw = raw_exchange("127.0.0.1", server.port, GARBAGE[name], timeout=15)
    assert http_status(raw) == 400, f"{name}: expected a 400 response, got {raw[:300]!r}"
    _assert_still_serving(server, s3)


def test_oversized_header_value(server, s3):
    req = b"GET /_maxiofs/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 * KiB) + b"\r\n\r\n"
    raw = _send_big(server, req)
    assert http_status(raw) in (400, 431), f"expected 431 or 400, got {raw[:300]!r}"
    _assert_still_serving(server, s3)


def test_too_many_headers(server, s3):
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
    req = b"GET /_maxiofs/health HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"
    raw = _send_big(server, req)
    assert http_status(raw) in (400, 431), f"expected 431 or 400, got {raw[:300]!r}"
    _assert_still_serving(server, s3)


def test_oversized_request_line(server, s3):
    req = b"GET /" + b"p" * (100 * KiB) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    raw = _send_big(server, req)
    assert http_status(raw) in (400, 414, 431), f"expected 414, 431 or 400, got {raw[:300]!r}"
    _assert_still_serving(server, s3)


def _send_big(server, req: bytes) -> bytes:
    """Send a request that the server will refuse part-way; read its answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        try:
            sock.sendall(req)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        chunks = []
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except ConnectionResetError:
            if not chunks:
                raise AssertionError(
                    "connection reset without a response (the server must answer 431/400 and close "
                    "gracefully, not reset with unread input)"
                )
        except socket.timeout:
            pass
        return b"".join(chunks)


def test_truncated_body_not_stored(server, s3, bucket):
    path = object_path(bucket, "truncated")
    full = 100 * KiB
    url, headers = sign_request(
        server.endpoint,
        server.access_key,
        server.secret_key,
        "PUT",
        path,
        headers={"Content-Length": str(full)},
        payload_hash=UNSIGNED_PAYLOAD,
    )
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(head.encode() + b"x" * (full // 2))
        time.sleep(0.3)
    # Give the server time to notice the closed connection; then the object must not exist.
    for _ in range(10):
        time.sleep(0.2)
        assert object_absent(s3, bucket, "truncated"), "a truncated upload was stored"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    _assert_still_serving(server, s3)


def test_truncated_body_keeps_previous_version(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"complete old version")
    path = object_path(bucket, "keep")
    url, headers = sign_request(
        server.endpoint,
        server.access_key,
        server.secret_key,
        "PUT",
        path,
        headers={"Content-Length": str(64 * KiB)},
        payload_hash=UNSIGNED_PAYLOAD,
    )
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(head.encode() + b"y" * 1000)
    time.sleep(1.0)
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"complete old version"
    _assert_still_serving(server, s3)


def _aws_chunked_put_head(server, path: str, decoded_bytes: int, content_length: int) -> bytes:
    """The signed head of a PUT whose body is aws-chunked with a CRC32 trailer."""
    url, headers = sign_request(
        server.endpoint,
        server.access_key,
        server.secret_key,
        "PUT",
        path,
        headers={
            "Content-Encoding": "aws-chunked",
            "X-Amz-Decoded-Content-Length": str(decoded_bytes),
            "X-Amz-Trailer": "x-amz-checksum-crc32",
            "Content-Length": str(content_length),
        },
        payload_hash=STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    )
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode()


def test_truncated_aws_chunked_body_not_stored(server, s3, bucket):
    """aws-chunked upload cut before the final chunk and trailer."""
    path = object_path(bucket, "truncated-chunked")
    data = b"z" * (32 * KiB)
    partial = b"%x\r\n" % len(data) + data + b"\r\n"  # no final 0-chunk, no trailer
    head = _aws_chunked_put_head(server, path, len(data), len(partial) + 100)
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(head + partial)
        time.sleep(0.3)
    time.sleep(1.0)
    assert object_absent(s3, bucket, "truncated-chunked")
    _assert_still_serving(server, s3)


def test_bytes_after_aws_chunked_trailer_refused_at_once(server, s3, bucket):
    """A complete aws-chunked body followed by more bytes than it holds, inside a
    Content-Length that promises a megabyte more: the server answers 400 as soon as the
    extra bytes arrive, instead of reading (and dropping) whatever the client keeps
    sending, and stores nothing."""
    s3.put_object(Bucket=bucket, Key="after-trailer", Body=b"old version")
    path = object_path(bucket, "after-trailer")
    data = b"d" * (8 * KiB)
    body = aws_chunked_body(data, "x-amz-checksum-crc32", crc32_b64(data)) + b"junk after the trailer"
    head = _aws_chunked_put_head(server, path, len(data), len(body) + 1024 * KiB)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + body)
        answer = b""
        while b"</Error>" not in answer:
            got = sock.recv(65536)  # times out (the test fails) if the server waits for more
            if not got:
                break
            answer += got
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"<Code>InvalidRequest</Code>" in answer, answer[:600]
    assert s3.get_object(Bucket=bucket, Key="after-trailer")["Body"].read() == b"old version"
    _assert_still_serving(server, s3)


def test_keep_alive_pipelined_requests(server):
    req = b"GET /_maxiofs/health HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(req * 3)
        buf = b""
        deadline = time.monotonic() + 10
        while buf.count(b"HTTP/1.1 200") < 3 and time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            buf += data
    assert buf.count(b"HTTP/1.1 200") == 3, buf[:500]


def test_expect_100_continue(server, s3, bucket):
    body = b"q" * (256 * KiB)
    path = object_path(bucket, "expect")
    url, headers = sign_request(
        server.endpoint,
        server.access_key,
        server.secret_key,
        "PUT",
        path,
        headers={"Content-Length": str(len(body)), "Expect": "100-continue"},
        payload_hash=UNSIGNED_PAYLOAD,
    )
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(head.encode())
        sock.settimeout(3)
        interim = sock.recv(4096)
        assert interim.startswith(b"HTTP/1.1 100"), f"expected 100 Continue, got {interim[:200]!r}"
        sock.settimeout(15)
        sock.sendall(body)
        final = b""
        while b"\r\n\r\n" not in final:
            data = sock.recv(65536)
            if not data:
                break
            final += data
    assert http_status(final) == 200, final[:300]
    assert s3.get_object(Bucket=bucket, Key="expect")["Body"].read() == body


def test_expect_100_continue_refused_when_unauthorized(server, bucket):
    """A request that will fail auth gets its error before the client sends the body."""
    path = object_path(bucket, "expect-denied")
    url, headers = sign_request(
        server.endpoint,
        server.access_key,
        "w" * 40,
        "PUT",
        path,
        headers={"Content-Length": str(10 * 1024 * 1024), "Expect": "100-continue"},
        payload_hash=UNSIGNED_PAYLOAD,
    )
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(head.encode())
        sock.settimeout(5)
        resp = sock.recv(65536)
    assert http_status(resp) == 403, resp[:300]
