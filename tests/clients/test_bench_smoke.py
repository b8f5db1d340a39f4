"""The load generator (`maxiofs-bench`, bench/), run for a second per workload against the
shared server so the harness never rots.

Asserts only that every workload produced results and no errors, never how fast: speed belongs
in docs/PERFORMANCE.md, measured on a quiet machine. The binary is built beside the server by
scripts/test-all.sh (`cargo build --release -p maxiofs -p bench`).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import SERVER_BIN
from helpers import empty_and_delete_bucket

BENCH_BIN = Path(os.environ.get("MAXIOFS_BENCH_BIN", SERVER_BIN.with_name("maxiofs-bench")))
# Seconds for one whole run, preparation included: the measured phase is one second.
BENCH_RUN_TIMEOUT_S = 120

WORKLOADS = {
    "put-unsigned": ["put", "--size", "64KiB", "--concurrency", "4"],
    "put-signed-range": ["put", "--size", "1KiB..300KiB", "--payload", "signed"],
    "put-aws-chunked": ["put", "--size", "100KiB..200KiB", "--payload", "aws-chunked"],
    "get": ["get", "--size", "4KiB", "--objects", "32"],
    "mixed": ["mixed", "--size", "16KiB", "--objects", "16", "--put-ratio", "0.3"],
    "list-flat": ["list", "--size", "0", "--objects", "2500", "--concurrency", "2"],
    "list-delimiter": ["list", "--size", "0", "--objects", "2500", "--delimiter", "/", "--concurrency", "2"],
    "delete-single": ["delete", "--size", "0", "--objects", "200", "--concurrency", "2"],
    "delete-batch": ["delete", "--size", "0", "--objects", "2500", "--batch", "1000", "--concurrency", "2"],
    "multipart": ["multipart", "--size", "11MiB", "--part-size", "5MiB", "--part-parallel", "3",
                  "--concurrency", "2"],
    "multipart-aws-chunked": ["multipart", "--size", "6MiB", "--part-size", "5MiB", "--payload", "aws-chunked",
                              "--concurrency", "1"],
}


def run_bench(server, bucket: str, args: list[str], endpoint: str | None = None) -> dict:
    if not BENCH_BIN.exists():
        pytest.fail(f"{BENCH_BIN} not found: run `cargo build --release -p bench`")
    cmd = [str(BENCH_BIN), *args, "--endpoint", endpoint or server.endpoint, "--bucket", bucket,
           "--duration", "1s", "--server-pid", str(server.pid), "--json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAXIOFS_")}
    env["MAXIOFS_BENCH_ACCESS_KEY"] = server.access_key
    env["MAXIOFS_BENCH_SECRET_KEY"] = server.secret_key
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=BENCH_RUN_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{args}: rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_bench_workload_runs_without_errors(server, s3, bucket_name, name):
    args = WORKLOADS[name]
    try:
        result = run_bench(server, bucket_name, args)
    finally:
        empty_and_delete_bucket(s3, bucket_name)
    assert result["op"] == args[0]
    assert result["errors"] == 0 and result["errors_by_status"] == {}
    assert result["ops"] > 0 and result["items"] >= result["ops"]
    assert result["server_cpu_s"] is not None and result["server_cpu_s"] >= 0
    if args[0] in ("put", "get", "mixed", "multipart"):
        assert result["bytes"] > 0 and result["server_cpu_s_per_gib"] is not None
    if name == "list-flat":
        # Pages of 1000 over 2500 keys: 1000, 1000, 500, then around again.
        assert result["items"] > result["ops"] * 100
    if name == "delete-batch":
        assert result["items"] == 2500 and result["ops"] == 3


def test_bench_delete_batch_really_deletes(server, s3, bucket_name):
    try:
        result = run_bench(server, bucket_name,
                           ["delete", "--size", "0", "--objects", "1500", "--batch", "1000"])
        assert result["errors"] == 0 and result["items"] == 1500
        assert s3.list_objects_v2(Bucket=bucket_name)["KeyCount"] == 0
    finally:
        empty_and_delete_bucket(s3, bucket_name)


def test_bench_virtual_host_addressing(server, s3, bucket_name):
    try:
        result = run_bench(server, bucket_name, ["put", "--size", "8KiB", "--addressing", "virtual"],
                           endpoint=server.host_endpoint)
        assert result["errors"] == 0 and result["ops"] > 0
        keys = s3.list_objects_v2(Bucket=bucket_name, MaxKeys=1)["KeyCount"]
        assert keys == 1
    finally:
        empty_and_delete_bucket(s3, bucket_name)


def test_bench_reports_errors_with_wrong_secret(server, bucket_name):
    cmd = [str(BENCH_BIN), "put", "--endpoint", server.endpoint, "--bucket", bucket_name, "--duration", "1s",
           "--access-key", server.access_key, "--secret-key", "wrong" * 8, "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BENCH_RUN_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)
    # The bucket cannot even be created: the run must fail loudly, not report zero errors.
    assert proc.returncode != 0
    assert "403" in proc.stderr or "SignatureDoesNotMatch" in proc.stderr
