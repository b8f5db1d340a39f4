#!/usr/bin/env python3
"""What authorisation costs on the small-PUT path (issue 15).

Starts a release server, then measures PUT 4 KiB with maxiofs-bench in alternating phases:
  root  - the root key, no bucket policy (evaluation is skipped for the root);
  user  - a user with 3 attached managed policies, writing a bucket whose policy has 20
          statements (the last one allows the user), so every request is evaluated in full.
Phases alternate (root, user, root, user, ...) so that machine noise hits both alike; the
report is the ratio of the medians. With --baseline-server BIN (a build from before
identities existed), a third phase runs the root's PUTs against that binary on its own data
directory, for what the new authentication plumbing costs the root itself. Usage:

  .venv/bin/python scripts/bench_authz.py [--rounds 5] [--duration 5s] [--concurrency 32]
      [--baseline-server /path/to/older/maxiofs]

Needs target/release/maxiofs and target/release/maxiofs-bench (cargo build --release).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parent.parent
SERVER = REPO / "target" / "release" / "maxiofs"
BENCH = REPO / "target" / "release" / "maxiofs-bench"
ROOT_KEY = "AKIABENCHAUTHZROOT00"
ROOT_SECRET = "benchAuthzRootSecret0000000000000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_put(endpoint: str, key: str, secret: str, bucket: str, args, server_pid: int) -> tuple[float, float]:
    """(PUT/s, server CPU microseconds per PUT): CPU per operation is the steadier figure on
    a shared machine, where throughput follows whatever else runs."""
    out = subprocess.run(
        [
            str(BENCH), "put", "--endpoint", endpoint, "--access-key", key, "--secret-key", secret,
            "--bucket", bucket, "--size", "4KiB", "--concurrency", str(args.concurrency),
            "--threads", "1", "--duration", args.duration, "--json",
            "--server-pid", str(server_pid),
        ],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"maxiofs-bench failed: {out.stderr.strip()}")
    out = out.stdout
    phase = json.loads(out.strip().splitlines()[-1])
    return float(phase["ops_per_s"]), float(phase["server_cpu_us_per_op"])


def start_server(binary: Path, data: Path, port: int, extra_env: dict | None = None) -> subprocess.Popen:
    env = dict(os.environ, MAXIOFS_ROOT_ACCESS_KEY=ROOT_KEY, MAXIOFS_ROOT_SECRET_KEY=ROOT_SECRET,
               **(extra_env or {}))
    server = subprocess.Popen(
        [str(binary), "server", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}",
         "--console-listen", "off"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    creds = dict(aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
                 region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}")
    for _ in range(100):
        try:
            boto3.client("s3", **creds).list_buckets()
            break
        except Exception:
            time.sleep(0.1)
    return server


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", default="5s")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--baseline-server", type=Path)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="maxiofs-bench-authz-"))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = start_server(SERVER, data / "data", port)
    baseline = None
    if args.baseline_server:
        baseline_port = free_port()
        baseline = start_server(args.baseline_server, data / "baseline", baseline_port)
        baseline_endpoint = f"http://127.0.0.1:{baseline_port}"
    try:
        creds = dict(aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
                     region_name="us-east-1", endpoint_url=endpoint)
        s3 = boto3.client("s3", **creds)
        iam = boto3.client("iam", **creds)
        account = boto3.client("sts", **creds).get_caller_identity()["Account"]
        s3.create_bucket(Bucket="bench-user")
        iam.create_user(UserName="bench")
        for i in range(3):
            document = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": f"arn:aws:s3:::bench-user/prefix{i}/*" if i < 2 else "arn:aws:s3:::bench-user/*",
            }, {
                # The load generator looks the bucket up (HeadBucket) before it starts.
                "Effect": "Allow", "Action": ["s3:ListBucket", "s3:CreateBucket"],
                "Resource": "arn:aws:s3:::bench-user",
            }]}
            arn = iam.create_policy(PolicyName=f"bench{i}", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
            iam.attach_user_policy(UserName="bench", PolicyArn=arn)
        user_arn = f"arn:aws:iam::{account}:user/bench"
        statements = [
            {"Sid": f"Other{i}", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
             "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bench-user/other{i}/*",
             "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
            for i in range(19)
        ]
        statements.append({"Sid": "Bench", "Effect": "Allow", "Principal": {"AWS": user_arn},
                           "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bench-user/*"})
        s3.put_bucket_policy(Bucket="bench-user",
                             Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
        key = iam.create_access_key(UserName="bench")["AccessKey"]
        root, user, base = [], [], []
        for round_index in range(args.rounds):
            if baseline is not None:
                base.append(bench_put(baseline_endpoint, ROOT_KEY, ROOT_SECRET, "bench-user",
                                      args, baseline.pid))
            # The same bucket (so the same owner shard) for both: the root skips evaluation.
            root.append(bench_put(endpoint, ROOT_KEY, ROOT_SECRET, "bench-user", args, server.pid))
            user.append(bench_put(endpoint, key["AccessKeyId"], key["SecretAccessKey"],
                                  "bench-user", args, server.pid))
            line = (f"round {round_index + 1}: root {root[-1][0]:.0f} PUT/s {root[-1][1]:.1f} us/PUT, "
                    f"user {user[-1][0]:.0f} PUT/s {user[-1][1]:.1f} us/PUT")
            if base:
                line += f", baseline root {base[-1][0]:.0f} PUT/s {base[-1][1]:.1f} us/PUT"
            print(line, flush=True)

        def medians(phases):
            return (statistics.median(p[0] for p in phases), statistics.median(p[1] for p in phases))

        def paired(a, b, index):
            """Median of the per-round ratios a/b: adjacent phases share the machine's
            weather, which drifts over a run more than the difference measured."""
            return statistics.median(x[index] / y[index] for x, y in zip(a, b))

        root_rate, root_cpu = medians(root)
        user_rate, user_cpu = medians(user)
        print(f"PUT 4 KiB, {args.concurrency} connections, {args.rounds} rounds (medians):")
        print(f"  root (no evaluation): {root_rate:.0f} PUT/s, {root_cpu:.1f} server CPU us/PUT")
        print(f"  user (3 attached policies, 20-statement bucket policy): {user_rate:.0f} PUT/s, "
              f"{user_cpu:.1f} us/PUT")
        print(f"  user/root, median of per-round ratios: throughput {paired(user, root, 0):.3f}, "
              f"CPU per PUT {paired(user, root, 1):.3f}")
        if base:
            base_rate, base_cpu = medians(base)
            print(f"  root on the baseline build: {base_rate:.0f} PUT/s, {base_cpu:.1f} us/PUT")
            print(f"  root now/baseline root, median of per-round ratios: throughput "
                  f"{paired(root, base, 0):.3f}, CPU per PUT {paired(root, base, 1):.3f}")
            print(f"  user now/baseline root, median of per-round ratios: throughput "
                  f"{paired(user, base, 0):.3f}, CPU per PUT {paired(user, base, 1):.3f}")
    finally:
        for process in (server, baseline):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
