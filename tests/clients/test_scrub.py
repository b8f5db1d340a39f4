"""The background scrubber: with a fast rate and a one-second pass interval it re-reads every
stored chunk; a byte flipped on disk under a running server is reported in the log with the
bucket and key, a GET of that object never returns wrong bytes, and under concurrent writes and
deletes the scrubber reports nothing on healthy data.
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError, ResponseStreamingError
from urllib3.exceptions import ProtocolError

from helpers import MiB, rand_bytes

# Stored in clear so that a test can find an object's bytes in the segment files; the scrubber
# verifies the crc32c of what is stored, encrypted or not.
SCRUB_ENV = {"MAXIOFS_SCRUB_RATE_MIB": "1024", "MAXIOFS_SCRUB_INTERVAL_S": "1", "MAXIOFS_ENCRYPTION": "off"}
# Seconds to wait for the scrubber to reach a planted fault (passes start every second).
SCRUB_FIND_TIMEOUT_S = 30
DAMAGE_MESSAGE = "scrub found damaged object data"


def wait_for_log(srv, text: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        log = srv.stderr_since(0, max_lines=100000)
        if text in log:
            return log
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not logged within {timeout_s}s:\n{srv.stderr_tail()}")


def test_scrubber_reports_damage_planted_under_a_running_server(server_factory):
    srv = server_factory(env=SCRUB_ENV)
    s3 = srv.client()
    s3.create_bucket(Bucket="scrubbed")
    body = rand_bytes(3 * MiB, "scrub-victim")
    s3.put_object(Bucket="scrubbed", Key="victim/obj", Body=body)
    s3.put_object(Bucket="scrubbed", Key="healthy", Body=rand_bytes(2 * MiB, "scrub-healthy"))
    needle = body[2 * MiB : 2 * MiB + 4096]
    for path in sorted(srv.data_dir.glob("shard-*/seg-*")):
        content = path.read_bytes()
        at = content.find(needle)
        if at >= 0:
            with open(path, "r+b") as f:
                f.seek(at + 100)
                f.write(bytes([content[at + 100] ^ 0x5A]))
            break
    else:
        raise AssertionError("object bytes not found in any segment file")

    log = wait_for_log(srv, DAMAGE_MESSAGE, SCRUB_FIND_TIMEOUT_S)
    damaged = [line for line in log.splitlines() if DAMAGE_MESSAGE in line]
    assert all("victim/obj" in line for line in damaged), damaged
    assert not any("healthy" in line for line in damaged)

    # Never wrong bytes: the GET fails (the headers may already be out, so the body is cut).
    with pytest.raises((ClientError, ResponseStreamingError, ProtocolError)):
        got = s3.get_object(Bucket="scrubbed", Key="victim/obj")["Body"].read()
        assert got != body  # unreachable unless the server served the damaged chunk
    assert srv.running()
    assert s3.get_object(Bucket="scrubbed", Key="healthy")["Body"].read() == rand_bytes(2 * MiB, "scrub-healthy")


def test_scrubber_is_silent_on_healthy_data_under_churn(server_factory):
    srv = server_factory(env={**SCRUB_ENV, "MAXIOFS_LOG": "info,engine::scrub=debug"})
    s3 = srv.client()
    s3.create_bucket(Bucket="churn")
    deadline = time.monotonic() + 4
    i = 0
    while time.monotonic() < deadline:
        s3.put_object(Bucket="churn", Key=f"k{i % 20}", Body=rand_bytes(300_000 + i, f"churn-{i}"))
        if i % 3 == 0:
            s3.delete_object(Bucket="churn", Key=f"k{(i + 7) % 20}")
        i += 1
    passes_before = srv.stderr_since(0, max_lines=100000).count("scrub pass completed")
    deadline = time.monotonic() + SCRUB_FIND_TIMEOUT_S
    log = ""
    while time.monotonic() < deadline:  # two whole passes after the churn, the last over all of it
        log = srv.stderr_since(0, max_lines=100000)
        if log.count("scrub pass completed") >= passes_before + 2:
            break
        time.sleep(0.2)
    assert log.count("scrub pass completed") >= passes_before + 2, srv.stderr_tail()
    # The passes really read data: the last one reports the bytes it verified.
    last = [line for line in log.splitlines() if "scrub pass completed" in line][-1]
    assert "payload_bytes=0" not in last and "payload_bytes=" in last, last
    assert "scrub found" not in log
