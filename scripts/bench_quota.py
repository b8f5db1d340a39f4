#!/usr/bin/env python3
"""What exact quotas cost on the small-PUT path (issue 16).

Starts a release server with two tenants, each with a bucket and a tenant-admin key:
  off - a tenant without quotas (no reservation at all);
  on  - a tenant with a storage and an object quota (1 PiB, 10^12 objects) and its bucket
        with a bucket quota too, so every PUT reserves on the owner shard, draws on the
        tenant's allotment and settles with the commit.
Measures PUT 4 KiB with maxiofs-bench in alternating phases (off, on, off, on, ...) so
machine noise hits both alike, and reports the medians of the per-round on/off ratios of
throughput and of server CPU per PUT. Usage:

  .venv/bin/python scripts/bench_quota.py [--rounds 5] [--duration 5s] [--concurrency 32]

Needs target/release/maxiofs and target/release/maxiofs-bench (cargo build --release).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
import requests

from bench_authz import BENCH, ROOT_KEY, ROOT_SECRET, SERVER, bench_put, free_port

assert BENCH.exists() and SERVER.exists(), "cargo build --release --bin maxiofs --bin maxiofs-bench"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", default="5s")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="maxiofs-bench-quota-"))
    port, console = free_port(), free_port()
    env = dict(os.environ, MAXIOFS_ROOT_ACCESS_KEY=ROOT_KEY, MAXIOFS_ROOT_SECRET_KEY=ROOT_SECRET)
    server = subprocess.Popen(
        [str(SERVER), "server", "--data-dir", str(data / "data"), "--listen", f"127.0.0.1:{port}",
         "--console-listen", f"127.0.0.1:{console}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{console}/api/v1"
    try:
        for _ in range(100):
            try:
                answer = requests.post(f"{api}/auth/login", json={"username": ROOT_KEY, "password": ROOT_SECRET})
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {answer.json()['token']}"}
        endpoint = f"http://127.0.0.1:{port}"
        keys = {}
        for name, quota in (("off", None), ("on", {"storage_bytes": 1 << 50, "objects": 10**12})):
            body = {"name": name} | ({"quota": quota} if quota else {})
            requests.post(f"{api}/tenants", json=body, headers=auth).raise_for_status()
            requests.post(f"{api}/tenants/{name}/users", headers=auth,
                          json={"name": "bench", "role": "tenant-admin"}).raise_for_status()
            keys[name] = requests.post(f"{api}/tenants/{name}/users/bench/keys", headers=auth).json()
            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                         aws_access_key_id=keys[name]["access_key_id"],
                         aws_secret_access_key=keys[name]["secret_access_key"]).create_bucket(Bucket=f"bench-{name}")
        requests.put(f"{api}/buckets/bench-on/quota", headers=auth,
                     json={"storage_bytes": 1 << 50, "objects": 10**12}).raise_for_status()
        phases = {"off": [], "on": []}
        for round_index in range(args.rounds):
            for name in ("off", "on"):
                key = keys[name]
                phases[name].append(bench_put(endpoint, key["access_key_id"], key["secret_access_key"],
                                              f"bench-{name}", args, server.pid))
            print(f"round {round_index + 1}: off {phases['off'][-1][0]:.0f} PUT/s "
                  f"{phases['off'][-1][1]:.1f} us/PUT, on {phases['on'][-1][0]:.0f} PUT/s "
                  f"{phases['on'][-1][1]:.1f} us/PUT", flush=True)

        def paired(index):
            return statistics.median(on[index] / off[index] for on, off in zip(phases["on"], phases["off"]))

        print(f"PUT 4 KiB, {args.concurrency} connections, {args.rounds} rounds:")
        print(f"  quotas on/off, median of per-round ratios: throughput {paired(0):.3f}, "
              f"server CPU per PUT {paired(1):.3f}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
