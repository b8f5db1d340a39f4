#!/usr/bin/env python3
"""PUT 4 KiB on several server builds or settings, in alternating rounds (issue 18's "what a
feature costs on the small-PUT path"): each variant is a binary and environment variables, on
its own data directory; the report is each variant's median server CPU per PUT and the median
of its per-round ratios against the first variant (adjacent phases share the machine's weather).

  .venv/bin/python scripts/bench_variants.py [--rounds 7] [--duration 5s] \\
      --variant before=/tmp/base-target/release/maxiofs \\
      --variant now=target/release/maxiofs \\
      --variant access-log=target/release/maxiofs:MAXIOFS_ACCESS_LOG=/tmp/access.log
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import boto3

from bench_authz import ROOT_KEY, ROOT_SECRET, bench_put, free_port, start_server


def parse_variant(text: str) -> tuple[str, Path, dict]:
    name, _, rest = text.partition("=")
    binary, *settings = rest.split(":")
    env = dict(setting.split("=", 1) for setting in settings)
    return name, Path(binary), env


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--duration", default="5s")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--variant", action="append", required=True, type=parse_variant)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="maxiofs-bench-variants-"))
    servers = []
    try:
        for index, (name, binary, env) in enumerate(args.variant):
            port = free_port()
            server = start_server(binary, data / f"v{index}", port, env)
            endpoint = f"http://127.0.0.1:{port}"
            boto3.client("s3", aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
                         region_name="us-east-1", endpoint_url=endpoint).create_bucket(Bucket="bench")
            servers.append((name, server, endpoint))
        results: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in servers}
        for round_index in range(args.rounds):
            line = []
            for name, server, endpoint in servers:
                results[name].append(bench_put(endpoint, ROOT_KEY, ROOT_SECRET, "bench", args, server.pid))
                line.append(f"{name} {results[name][-1][0]:.0f} PUT/s {results[name][-1][1]:.1f} us/PUT")
            print(f"round {round_index + 1}: " + ", ".join(line), flush=True)
        first = servers[0][0]
        print(f"PUT 4 KiB, {args.concurrency} connections, {args.rounds} rounds (medians):")
        for name, _, _ in servers:
            rate = statistics.median(r[0] for r in results[name])
            cpu = statistics.median(r[1] for r in results[name])
            ratio_rate = statistics.median(a[0] / b[0] for a, b in zip(results[name], results[first]))
            ratio_cpu = statistics.median(a[1] / b[1] for a, b in zip(results[name], results[first]))
            print(f"  {name}: {rate:.0f} PUT/s, {cpu:.1f} server CPU us/PUT; against {first}: "
                  f"throughput {ratio_rate:.3f}, CPU per PUT {ratio_cpu:.3f}")
    finally:
        for _, server, _ in servers:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
