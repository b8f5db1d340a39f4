#!/usr/bin/env python3
"""Two (or more) maxiofs builds on the same four cells as bench/compare_peers.py (PUT and GET,
1 MiB x 32 and 4 KiB x 64 connections, UNSIGNED-PAYLOAD), in alternating rounds: each phase
gets a fresh server on an empty data directory, the variants take turns within each cell, and
the report is each variant's median per cell and the median of its per-round ratios against the
first variant (adjacent phases share the machine's weather). This is how issue 22's "before and
after, same run" table is made.

  .venv/bin/python bench/compare_builds.py --rounds 3 --duration 5s \\
      --variant before=/tmp/base-target/release/maxiofs \\
      --variant after=target/release/maxiofs

A variant may add server environment: `name=binary:MAXIOFS_ENCRYPTION=off`.
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

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "target" / "release" / "maxiofs-bench"
ACCESS_KEY = "AKIACOMPAREBUILDS000"
SECRET_KEY = "compare-builds-secret-key-0123456789abcd"
CELLS = [
    ("PUT 1 MiB x 32", "put", "1MiB", 32),
    ("GET 1 MiB x 32", "get", "1MiB", 32),
    ("PUT 4 KiB x 64", "put", "4KiB", 64),
    ("GET 4 KiB x 64", "get", "4KiB", 64),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_variant(text: str) -> tuple[str, Path, dict]:
    name, _, rest = text.partition("=")
    binary, *settings = rest.split(":")
    return name, Path(binary), dict(setting.split("=", 1) for setting in settings)


def start(binary: Path, data: Path, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    full_env = dict(os.environ, MAXIOFS_ROOT_ACCESS_KEY=ACCESS_KEY, MAXIOFS_ROOT_SECRET_KEY=SECRET_KEY, **env)
    server = subprocess.Popen(
        [str(binary), "server", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}", "--console-listen", "off"],
        env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit(f"{binary} did not start")


def phase(endpoint: str, pid: int, op: str, size: str, connections: int, duration: str) -> dict:
    cmd = [str(BENCH), op, "--endpoint", endpoint, "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY,
           "--size", size, "--concurrency", str(connections), "--threads", "1", "--duration", duration,
           "--server-pid", str(pid), "--json"]
    if op == "get":
        cmd += ["--objects", "256"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"maxiofs-bench failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", default="5s")
    parser.add_argument("--variant", action="append", required=True, type=parse_variant)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict = {cell[0]: {name: [] for name, _, _ in args.variant} for cell in CELLS}
    work = Path(tempfile.mkdtemp(prefix="maxiofs-compare-builds-"))
    try:
        for round_index in range(args.rounds):
            for label, op, size, connections in CELLS:
                for name, binary, env in args.variant:
                    data = work / f"{name}-{round_index}-{op}-{size}"
                    server, endpoint = start(binary, data, env)
                    try:
                        got = phase(endpoint, server.pid, op, size, connections, args.duration)
                    finally:
                        server.kill()
                        server.wait()
                        shutil.rmtree(data, ignore_errors=True)
                    results[label][name].append(got)
                    print(f"round {round_index + 1} {label} {name}: {got['mib_per_s']:.1f} MiB/s, "
                          f"{got['server_cpu_us_per_op']:.1f} us/op", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = args.variant[0][0]
    fields = [("MiB/s", "mib_per_s"), ("CPU us/op", "server_cpu_us_per_op"), ("CPU s/GiB", "server_cpu_s_per_gib"),
              ("p50 ms", "p50_ms"), ("p99 ms", "p99_ms")]
    print(f"{'cell':16} {'variant':10} " + " ".join(f"{title:>10}" for title, _ in fields))
    for label, *_ in CELLS:
        for name, _, _ in args.variant:
            runs = results[label][name]
            medians = [statistics.median(run[key] for run in runs) for _, key in fields]
            print(f"{label:16} {name:10} " + " ".join(f"{value:10.2f}" for value in medians))
            if name != base:
                ratios = [statistics.median(run[key] / base_run[key] for run, base_run in
                                            zip(runs, results[label][base]) if base_run[key])
                          for _, key in fields]
                print(f"{'':16} {name + '/' + base:10} " + " ".join(f"{value:9.2f}x" for value in ratios))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
