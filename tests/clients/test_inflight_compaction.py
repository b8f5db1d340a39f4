"""Slow uploads racing the compactor (issue 13).

A PUT or UploadPart writes its chunk records to the active segment as the body arrives and
references them in the index only when the last byte is in: until then they are live for the
request but invisible to the index's space accounting. When other clients overwrite and delete
objects meanwhile, the segment holding the first chunks of a slow upload rolls over, turns
mostly dead by the index's count, and the compactor may pick it. If it retires that segment
before the upload commits, the commit is refused ("segment poisoned by an earlier failure")
and a client that did nothing wrong gets 500 InternalError.

This module reproduces the mix the way real clients make it: six clients upload slowly (plain
PUTs of 4 MiB and multipart uploads of two 5 MiB parts, every body trickled over seconds
through a raw SigV4 request with UNSIGNED-PAYLOAD and a Content-Length), while four others
overwrite and delete their own 1 MiB objects as fast as they can, for about 30 s. It runs with
16 MiB and 8 MiB segments, where segments roll over every fraction of a second and the race is
sharp, and once at the default segment size with a one-second compaction interval (the churn
writes about 100 MiB/s there, so 128 MiB segments roll over every second or two too).

Why it bites: a chunk is appended only once the next 1 MiB has arrived, so a 4 MiB PUT over
4-6 s holds uncommitted chunks for 2-3 s, a 5 MiB part over 2.5-3.5 s for 1.5-2 s. Under this
churn (only two live 1 MiB keys per churn client, so a sealed segment is mostly dead almost at
once) the compactor retires a sealed segment within about a second (measured with churn alone:
seal to file removal at most ~1.2 s at 8, 16 and 128 MiB), well inside those windows.

Then: not one request may have failed (no 5xx from any client), every slow upload and every
churned object's final state reads back byte-identical, the segments return to about the live
data once nearly everything is deleted (so the fix must not simply stop compacting), and the
server log has no failed compaction pass and no poisoned segment.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from helpers import (
    UNSIGNED_PAYLOAD,
    MiB,
    err_status,
    object_absent,
    object_path,
    rand_bytes,
    sign_request,
    wait_for_segments_at_most,
    xml_error_code,
)

# Short compaction interval everywhere, so the compactor looks again within a second.
CONFIGS = {
    "16MiB-segments": {"MAXIOFS_SEGMENT_MIB": "16", "MAXIOFS_COMPACT_INTERVAL_S": "1"},
    "8MiB-segments": {
        "MAXIOFS_SEGMENT_MIB": "8",
        "MAXIOFS_COMPACT_INTERVAL_S": "1",
        "MAXIOFS_COMPACT_SEAL_IDLE_S": "1",
        "MAXIOFS_COMPACT_RATE_MIB": "256",
        "MAXIOFS_RESERVE_MIB": "0",
    },
    # 128 MiB segments: the churn below writes several of them per run.
    "default-segments": {"MAXIOFS_COMPACT_INTERVAL_S": "1"},
}
DEFAULT_SEGMENT_MIB = 128

SLOW_CLIENTS = 6
CHURN_CLIENTS = 4
# Slow clients start new uploads for this long; the churn goes on until the last one is done.
WINDOW_S = 28.0
PUT_BYTES = 4 * MiB
PUT_SECONDS = (4.0, 6.0)
PART_BYTES = 5 * MiB
PARTS = 2
PART_SECONDS = (2.5, 3.5)
# Every body really trickles: none may arrive faster than this (a check of the test itself).
TRICKLE_S_MIN = 2.0
PIECE_BYTES = 64 * 1024
CHURN_KEYS = 2
CHURN_BYTES = 1 * MiB
CHURN_DELETE_SHARE = 0.2
SHRINK_TIMEOUT_S = 60


# --------------------------------------------------------------------------- bookkeeping


@dataclass
class Upload:
    key: str
    kind: str  # "put" or "multipart"
    size: int
    md5: str
    status: int | None = None  # final HTTP status (of the PUT or CompleteMultipartUpload)
    error: str | None = None
    trickle_s: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclass
class ChurnResult:
    model: dict[str, str | None] = field(default_factory=dict)  # key -> md5 of final body, None if deleted
    requests: int = 0
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- slow requests


def trickled_request(srv, method: str, path: str, query: str, body: bytes, seconds: float):
    """Sends a SigV4-signed request (UNSIGNED-PAYLOAD, with Content-Length) whose body goes
    out in small pieces spread evenly over `seconds`. Returns (status, headers, response
    body, seconds the body took)."""
    _url, headers = sign_request(
        srv.endpoint,
        srv.access_key,
        srv.secret_key,
        method,
        path,
        query=query,
        headers={"Content-Length": str(len(body))},
        payload_hash=UNSIGNED_PAYLOAD,
    )
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
    try:
        target = path + (("?" + query) if query else "")
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        pieces = max(1, -(-len(body) // PIECE_BYTES))
        started = time.monotonic()
        for n in range(pieces):
            conn.send(body[n * PIECE_BYTES : (n + 1) * PIECE_BYTES])
            pause = started + seconds * (n + 1) / pieces - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        took = time.monotonic() - started
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read(), took
    finally:
        conn.close()


def describe(status: int, text: bytes) -> str:
    return f"HTTP {status} {xml_error_code(text.decode('utf-8', 'replace'))}"


def slow_put(srv, bucket: str, key: str, body: bytes, seconds: float, upload: Upload) -> None:
    status, _headers, text, took = trickled_request(srv, "PUT", object_path(bucket, key), "", body, seconds)
    upload.trickle_s.append(took)
    upload.status = status
    if status != 200:
        upload.error = f"PUT {describe(status, text)}"


def slow_multipart(srv, s3, bucket: str, key: str, body: bytes, rng: random.Random, upload: Upload) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for number in range(1, PARTS + 1):
        piece = body[(number - 1) * PART_BYTES : number * PART_BYTES]
        query = f"partNumber={number}&uploadId={quote(upload_id, safe='')}"
        status, headers, text, took = trickled_request(
            srv, "PUT", object_path(bucket, key), query, piece, rng.uniform(*PART_SECONDS)
        )
        upload.trickle_s.append(took)
        if status != 200:
            upload.status = status
            upload.error = f"UploadPart {number} {describe(status, text)}"
            try:
                s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            except ClientError:
                pass  # the failure above is the finding
            return
        etag = next(value for name, value in headers.items() if name.lower() == "etag")
        parts.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    upload.status = 200


def slow_client(srv, bucket: str, client_no: int, window_ends: float) -> list[Upload]:
    """Alternates slow PUTs and slow multipart uploads (odd clients start with multipart)
    until the window ends; every upload gets a key of its own."""
    s3 = srv.client()
    rng = random.Random(f"slow-{client_no}")
    uploads: list[Upload] = []
    n = 0
    while time.monotonic() < window_ends:
        kind = "put" if (n + client_no) % 2 == 0 else "multipart"
        size = PUT_BYTES if kind == "put" else PARTS * PART_BYTES
        body = rand_bytes(size, f"slow-{client_no}-{n}")
        key = f"slow{client_no}/{n:03d}-{kind}"
        upload = Upload(key=key, kind=kind, size=size, md5=hashlib.md5(body).hexdigest())
        uploads.append(upload)
        try:
            if kind == "put":
                slow_put(srv, bucket, key, body, rng.uniform(*PUT_SECONDS), upload)
            else:
                slow_multipart(srv, s3, bucket, key, body, rng, upload)
        except ClientError as exc:
            upload.status = err_status(exc)
            upload.error = f"{exc.operation_name} HTTP {err_status(exc)} {exc.response.get('Error', {}).get('Code')}"
        except Exception as exc:  # noqa: BLE001 - a dropped connection is a finding too
            upload.error = repr(exc)
        n += 1
    return uploads


# --------------------------------------------------------------------------- churn


def churn_client(srv, bucket: str, client_no: int, stop: threading.Event) -> ChurnResult:
    """Overwrites (and now and then deletes) this client's own 1 MiB objects until stopped."""
    s3 = srv.client()
    rng = random.Random(f"churn-{client_no}")
    result = ChurnResult()
    while not stop.is_set():
        key = f"churn{client_no}/k{rng.randrange(CHURN_KEYS)}"
        deleting = rng.random() < CHURN_DELETE_SHARE
        body = b"" if deleting else rng.randbytes(CHURN_BYTES)
        result.requests += 1
        try:
            if deleting:
                s3.delete_object(Bucket=bucket, Key=key)
                result.model[key] = None
            else:
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                result.model[key] = hashlib.md5(body).hexdigest()
        except ClientError as exc:
            result.errors.append(f"{exc.operation_name} {key}: HTTP {err_status(exc)} {exc.response.get('Error')}")
            # The object's state is unknown now; the read-back below skips it.
            result.model.pop(key, None)
            time.sleep(0.05)
        except Exception as exc:  # noqa: BLE001 - a dropped connection is a finding too
            result.errors.append(f"{key}: {exc!r}")
            result.model.pop(key, None)
            time.sleep(0.05)
    return result


# --------------------------------------------------------------------------- the test


def read_md5(s3, bucket: str, key: str) -> str:
    return hashlib.md5(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()


@pytest.mark.parametrize("env", list(CONFIGS.values()), ids=list(CONFIGS))
def test_slow_uploads_survive_churn_and_compaction(server_factory, env):
    srv = server_factory(env=env)
    s3 = srv.client()
    bucket = "inflight"
    s3.create_bucket(Bucket=bucket)
    segment_bytes = int(env.get("MAXIOFS_SEGMENT_MIB", DEFAULT_SEGMENT_MIB)) * MiB

    started = time.monotonic()
    stop_churn = threading.Event()
    with ThreadPoolExecutor(SLOW_CLIENTS + CHURN_CLIENTS) as pool:
        churners = [pool.submit(churn_client, srv, bucket, n, stop_churn) for n in range(CHURN_CLIENTS)]
        # The churn gets going first, so the slow uploads start amid rollovers.
        time.sleep(1.0)
        window_ends = time.monotonic() + WINDOW_S
        slow = [pool.submit(slow_client, srv, bucket, n, window_ends) for n in range(SLOW_CLIENTS)]
        try:
            uploads = [upload for future in slow for upload in future.result()]
        finally:
            stop_churn.set()
        churn = [future.result() for future in churners]
    mixed_s = time.monotonic() - started

    log = srv.stderr_path.read_text(errors="replace")
    failed = [u for u in uploads if not u.ok]
    churn_errors = [err for part in churn for err in part.errors]
    churn_requests = sum(part.requests for part in churn)
    by_kind = {
        kind: (sum(1 for u in failed if u.kind == kind), sum(1 for u in uploads if u.kind == kind))
        for kind in ("put", "multipart")
    }
    summary = (
        f"{len(failed)} of {len(uploads)} slow uploads failed "
        f"(PUT {by_kind['put'][0]}/{by_kind['put'][1]}, multipart {by_kind['multipart'][0]}/"
        f"{by_kind['multipart'][1]}; {sum(1 for u in failed if (u.status or 0) >= 500)} with a 5xx); "
        f"{len(churn_errors)} of {churn_requests} churn requests failed; "
        f"server log: {log.count('segment poisoned')} 'segment poisoned', "
        f"{log.count('compaction pass failed')} 'compaction pass failed' "
        f"({mixed_s:.0f} s of mixed load)"
    )
    details = [f"{u.key}: {u.error}" for u in failed[:10]] + churn_errors[:5]
    assert not failed and not churn_errors, summary + "\n" + "\n".join(details)

    # The test really trickled every body and kept both kinds going throughout.
    assert by_kind["put"][1] >= SLOW_CLIENTS and by_kind["multipart"][1] >= SLOW_CLIENTS, summary
    quickest = min(took for u in uploads for took in u.trickle_s)
    assert quickest >= TRICKLE_S_MIN, f"a body arrived in {quickest:.1f} s: not a slow upload"

    for upload in uploads:
        assert read_md5(s3, bucket, upload.key) == upload.md5, upload.key
    for part in churn:
        for key, md5 in part.model.items():
            if md5 is None:
                assert object_absent(s3, bucket, key), f"{key} was deleted last but exists"
            else:
                assert read_md5(s3, bucket, key) == md5, key

    # Down to a small set (one object of each kind), then the segments follow.
    kept = [next(u for u in uploads if u.kind == kind) for kind in ("put", "multipart")]
    kept_keys = {u.key for u in kept}
    doomed = [u.key for u in uploads if u.key not in kept_keys] + [key for part in churn for key in part.model]
    for key in doomed:
        s3.delete_object(Bucket=bucket, Key=key)
    live_bytes = sum(u.size for u in kept)
    # Live data (plus record headers and padding), the active segment, and the one
    # compaction writes into, per shard.
    bound = 2 * live_bytes + 2 * segment_bytes * srv.shards
    used = wait_for_segments_at_most(srv.data_dir, bound, SHRINK_TIMEOUT_S)
    assert used <= bound, f"{used} bytes of segments for {live_bytes} live bytes (bound {bound})"
    for upload in kept:
        assert read_md5(s3, bucket, upload.key) == upload.md5, upload.key

    log = srv.stderr_path.read_text(errors="replace")
    assert "compaction pass failed" not in log
    assert "segment poisoned" not in log


# --------------------------------------------------------------------------- vanishing clients


def vanish_mid_body(srv, bucket: str, key: str, sent_bytes: int, declared_bytes: int) -> None:
    """A signed PUT that declares `declared_bytes`, sends `sent_bytes` of them slowly enough
    that whole chunks reach the segments, then drops the connection."""
    _url, headers = sign_request(
        srv.endpoint,
        srv.access_key,
        srv.secret_key,
        "PUT",
        object_path(bucket, key),
        headers={"Content-Length": str(declared_bytes)},
        payload_hash=UNSIGNED_PAYLOAD,
    )
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.putrequest("PUT", object_path(bucket, key), skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    body = rand_bytes(sent_bytes, key)
    for n in range(0, sent_bytes, PIECE_BYTES):
        conn.send(body[n : n + PIECE_BYTES])
        time.sleep(0.01)
    time.sleep(0.5)
    conn.sock.close()


def test_vanished_uploads_release_their_segments(server_factory):
    """Clients that vanish mid-body leave records that were never committed. The server must
    abandon those writes at once (not an hour later), so the compactor can still return every
    segment they touched: after the churn and deleting everything, the segments shrink back to
    at most the active ones."""
    srv = server_factory(env=CONFIGS["8MiB-segments"])
    s3 = srv.client()
    bucket = "vanishing"
    s3.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(6) as pool:
        vanished = [
            pool.submit(vanish_mid_body, srv, bucket, f"gone/{n}", 3 * MiB, 8 * MiB) for n in range(6)
        ]
        for n in range(60):
            s3.put_object(Bucket=bucket, Key=f"churn/{n % 4}", Body=rand_bytes(CHURN_BYTES, n))
        for future in vanished:
            future.result()
    for key in [f"gone/{n}" for n in range(6)]:
        assert object_absent(s3, bucket, key), key
    for n in range(4):
        s3.delete_object(Bucket=bucket, Key=f"churn/{n}")
    segment = int(CONFIGS["8MiB-segments"]["MAXIOFS_SEGMENT_MIB"]) * MiB
    used = wait_for_segments_at_most(srv.data_dir, segment * srv.shards, SHRINK_TIMEOUT_S)
    assert used <= segment * srv.shards, (
        f"{used} bytes of segments left after every object was deleted: a vanished upload "
        "still holds its segments"
    )
    log = srv.stderr_tail(2000)
    assert "segment poisoned" not in log and "compaction pass failed" not in log
