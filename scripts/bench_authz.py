#!/usr/bin/env python3
"""What authorisation costs on the small-PUT path (issue 15).

Starts a release server, then measures PUT 4 KiB with maxiofs-bench in alternating phases:
  root  - the root key, no bucket policy (evaluation is skipped for the root);
  user  - a user with 3 attached managed policies, writing a bucket whose policy has 20
          statements (the last one allows the user), so every request is evaluated in full.
Phases alternate (root, user, root, user, ...) so that machine noise hits both alike; the
report is the ratio of the medians. Usage:

  .venv/bin/python scripts/bench_authz.py [--rounds 5] [--duration 5s] [--concurrency 32]

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


def bench_put(endpoint: str, key: str, secret: str, bucket: str, args, server_pid: int) -> float:
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
    return float(phase["ops_per_s"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", default="5s")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="maxiofs-bench-authz-"))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ, MAXIOFS_ROOT_ACCESS_KEY=ROOT_KEY, MAXIOFS_ROOT_SECRET_KEY=ROOT_SECRET)
    server = subprocess.Popen(
        [str(SERVER), "server", "--data-dir", str(data / "data"), "--listen", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        creds = dict(aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
                     region_name="us-east-1", endpoint_url=endpoint)
        for _ in range(100):
            try:
                boto3.client("s3", **creds).list_buckets()
                break
            except Exception:
                time.sleep(0.1)
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
        root_rates, user_rates = [], []
        for round_index in range(args.rounds):
            # The same bucket (so the same owner shard) for both: the root skips evaluation.
            root_rates.append(bench_put(endpoint, ROOT_KEY, ROOT_SECRET, "bench-user", args, server.pid))
            user_rates.append(bench_put(endpoint, key["AccessKeyId"], key["SecretAccessKey"],
                                        "bench-user", args, server.pid))
            print(f"round {round_index + 1}: root {root_rates[-1]:.0f} PUT/s, "
                  f"user {user_rates[-1]:.0f} PUT/s", flush=True)
        root_median = statistics.median(root_rates)
        user_median = statistics.median(user_rates)
        print(f"PUT 4 KiB, {args.concurrency} connections: root (no evaluation) {root_median:.0f}/s, "
              f"user (3 attached policies, 20-statement bucket policy) {user_median:.0f}/s, "
              f"ratio user/root {user_median / root_median:.3f}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
