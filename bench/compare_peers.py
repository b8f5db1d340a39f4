#!/usr/bin/env python3
"""maxiofs against a peer S3 server (s3s-fs) on the same machine, with the same load generator.

Runs four workloads on each server with target/release/maxiofs-bench, UNSIGNED-PAYLOAD bodies
(`--payload unsigned`) and the server's CPU time measured by the bench's own `--server-pid`
(utime + stime from /proc/PID/stat over the measured phase):

    PUT 1 MiB x 32 connections   GET 1 MiB x 32   PUT 4 KiB x 64   GET 4 KiB x 64

For every cell the two servers run back to back (the order flips from one cell and one round to
the next), so both see the same machine weather; with --rounds N the report is the median of
each figure and the median of the per-round ratios maxiofs/s3s-fs. Prints a table on stdout
(progress goes to stderr), draws an SVG (throughput per cell with the ratio, and latency
percentiles on a log scale) and, with --json, writes every raw phase.

By default each phase gets a freshly started server on a fresh, empty data directory (under one
temporary directory, so on the same filesystem for both servers): a 10 s PUT 1 MiB phase writes
several GiB, which would otherwise pile up on the disk over the run, and every phase starts from
the same empty state. --reuse-servers runs all phases on one server of each kind instead. Both
servers and the temporary directory are removed at the end, on error and on Ctrl-C too.

Usage (from the repository root; stdlib only):

  .venv/bin/python bench/compare_peers.py [--duration 10s] [--rounds 1] \\
      [--svg bench-compare.svg] [--json results.json] \\
      [--maxiofs target/release/maxiofs] [--s3s-fs /tmp/s3sfs/bin/s3s-fs] \\
      [--bench target/release/maxiofs-bench] [--bench-threads 1] \\
      [--maxiofs-env MAXIOFS_ENCRYPTION=off] [--tmp-dir /tmp] [--reuse-servers]

The peer is installed with (s3s-fs 0.17 needs rustc >= 1.96; 0.14.1 builds with older ones):

  cargo install s3s-fs --locked --features binary --root /tmp/s3sfs

maxiofs runs with its defaults (2 shards on 2 cores, encryption at rest on) unless --maxiofs-env
says otherwise; s3s-fs stores every object as a plain file and does not fsync. s3s-fs 0.17 does not
set TCP_NODELAY on its connections: on one connection each of its GETs stalls ~44 ms (Nagle's
algorithm against the client's delayed ACK), which caps its GET throughput, most of all for small
objects; its server CPU per operation is the fairer figure there.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
MAXIOFS = REPO / "target" / "release" / "maxiofs"
BENCH = REPO / "target" / "release" / "maxiofs-bench"
S3S_FS = Path("/tmp/s3sfs/bin/s3s-fs")
# The credentials scripts/bench_authz.py gives the servers it starts; both servers get them.
ACCESS_KEY = "AKIABENCHAUTHZROOT00"
SECRET_KEY = "benchAuthzRootSecret0000000000000000000"
BUCKET = "bench"
SERVERS = ("maxiofs", "s3s-fs")
COLORS = {"maxiofs": "#2b6cb0", "s3s-fs": "#dd6b20"}
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
# Free space under which a PUT phase is warned about (maxiofs keeps a reserve and fails writes
# below it; s3s-fs fills the disk).
LOW_DISK_BYTES = 4 << 30
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Cell:
    key: str
    op: str
    size: str
    size_bytes: int
    concurrency: int

    @property
    def label(self) -> str:
        return f"{self.op.upper()} {self.size.replace('KiB', ' KiB').replace('MiB', ' MiB')} x {self.concurrency}"

    @property
    def large(self) -> bool:
        return self.size_bytes >= 1 << 20


CELLS = (
    Cell("put-1MiB", "put", "1MiB", 1 << 20, 32),
    Cell("get-1MiB", "get", "1MiB", 1 << 20, 32),
    Cell("put-4KiB", "put", "4KiB", 4 << 10, 64),
    Cell("get-4KiB", "get", "4KiB", 4 << 10, 64),
)


class Interrupted(Exception):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C so that the servers are stopped."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_duration(text: str) -> tuple[str, float]:
    """The bench's duration syntax (500ms, 5s, 2m; a bare number is seconds) and its seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"duration {text!r} must look like 500ms, 10s or 2m")
    value, unit = float(match.group(1)), match.group(2) or "s"
    seconds = value * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]
    if seconds <= 0:
        raise argparse.ArgumentTypeError("duration must be positive")
    return f"{match.group(1)}{unit}", seconds


def parse_env(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} must be NAME=VALUE")
    return name, value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """Runs in the child before exec: the kernel kills it if this script dies (even by SIGKILL)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def http_status(port: int) -> int | None:
    """The status of an anonymous GET / (403 from both servers), or None when nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            head = sock.recv(64).decode("latin-1")
    except OSError:
        return None
    match = re.match(r"HTTP/1\.[01] (\d{3})", head)
    return int(match.group(1)) if match else None


class Server:
    """One server process on its own port and data directory, its output in a log file."""

    def __init__(self, kind: str, binary: Path, workdir: Path, maxiofs_env: dict[str, str]):
        self.kind = kind
        self.workdir = workdir
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True)
        self.log_path = workdir / "server.log"
        env = dict(os.environ)
        if kind == "maxiofs":
            # The master key is generated beside the data directory, so inside workdir too.
            data = workdir / "data"
            env.update(MAXIOFS_ROOT_ACCESS_KEY=ACCESS_KEY, MAXIOFS_ROOT_SECRET_KEY=SECRET_KEY)
            env.update(maxiofs_env)
            argv = [str(binary), "server", "--data-dir", str(data),
                    "--listen", f"127.0.0.1:{self.port}", "--console-listen", "off"]
        else:
            data = workdir / "root"
            data.mkdir()  # s3s-fs canonicalizes its root: it must exist
            argv = [str(binary), "--host", "127.0.0.1", "--port", str(self.port),
                    "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, str(data)]
        self.data = data
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent,
            )
        self.pid = self.process.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with status {self.process.returncode} at start:\n"
                                   f"{self.log_tail()}")
            if http_status(self.port) is not None:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.kind} did not answer on port {self.port} within {READY_TIMEOUT_S:.0f} s:\n"
                           f"{self.log_tail()}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)


def run_phase(args, cell: Cell, server: Server) -> dict:
    """One maxiofs-bench run; its --json line, or a record of the failure."""
    argv = [str(args.bench), cell.op, "--endpoint", server.endpoint, "--bucket", BUCKET,
            "--payload", "unsigned", "--size", cell.size, "--concurrency", str(cell.concurrency),
            "--threads", str(args.bench_threads), "--duration", args.duration[0],
            "--server-pid", str(server.pid), "--json"]
    env = dict(os.environ, MAXIOFS_BENCH_ACCESS_KEY=ACCESS_KEY, MAXIOFS_BENCH_SECRET_KEY=SECRET_KEY)
    timeout = 120 + 3 * args.duration[1]
    try:
        out = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"failed": f"maxiofs-bench did not finish within {timeout:.0f} s", "stderr": ""}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    stderr = out.stderr.strip()
    if not lines:
        return {"failed": f"maxiofs-bench exited {out.returncode} without a result",
                "stderr": stderr[-2000:]}
    result = json.loads(lines[-1])
    result["exit_status"] = out.returncode
    if stderr:
        result["stderr"] = stderr[-2000:]
    if not server.alive():
        result["server_exited"] = server.process.returncode
    return result


def usable(result: dict | None) -> bool:
    return bool(result) and "failed" not in result and result.get("ops", 0) > 0


def median_of(results: list[dict], field: str) -> float | None:
    values = [r[field] for r in results if usable(r) and isinstance(r.get(field), (int, float))]
    return statistics.median(values) if values else None


def median_ratio(pairs: list[tuple[dict, dict]], field: str) -> float | None:
    """Median over rounds of maxiofs/s3s-fs for one field, where both phases of a round gave it."""
    ratios = []
    for mine, peer in pairs:
        if usable(mine) and usable(peer):
            a, b = mine.get(field), peer.get(field)
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0:
                ratios.append(a / b)
    return statistics.median(ratios) if ratios else None


def summarize(phases: list[dict], rounds: int) -> dict:
    summary = {}
    for cell in CELLS:
        per_server = {}
        for kind in SERVERS:
            results = [p["result"] for p in phases if p["cell"] == cell.key and p["server"] == kind]
            good = [r for r in results if usable(r)]
            entry = {"rounds_ok": len(good), "rounds": len(results),
                     "errors": sum(int(r.get("errors", 0)) for r in results if "failed" not in r),
                     "failures": [r["failed"] for r in results if "failed" in r]}
            for field in ("mib_per_s", "ops_per_s", "server_cpu_s_per_gib", "server_cpu_us_per_op",
                          "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "client_cpu_s"):
                entry[field] = median_of(results, field)
            cores = [r["server_cpu_s"] / r["duration_s"] for r in good
                     if isinstance(r.get("server_cpu_s"), (int, float)) and r.get("duration_s")]
            entry["server_cores"] = statistics.median(cores) if cores else None
            per_server[kind] = entry
        pairs = []
        for round_index in range(rounds):
            found = {p["server"]: p["result"] for p in phases
                     if p["cell"] == cell.key and p["round"] == round_index}
            if all(kind in found for kind in SERVERS):
                pairs.append((found["maxiofs"], found["s3s-fs"]))
        ratio = {"throughput": median_ratio(pairs, "ops_per_s"),
                 "cpu_per_op": median_ratio(pairs, "server_cpu_us_per_op"),
                 "p50": median_ratio(pairs, "p50_ms"),
                 "p99": median_ratio(pairs, "p99_ms")}
        summary[cell.key] = {"label": cell.label, "servers": per_server, "ratio_maxiofs_over_s3s_fs": ratio}
    return summary


def fmt(value: float | None, decimals: int = 1) -> str:
    return "-" if value is None else f"{value:,.{decimals}f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def render_table(summary: dict, meta: dict) -> str:
    columns = [("cell", 16, "<"), ("server", 15, "<"), ("MiB/s", 9, ">"), ("ops/s", 9, ">"),
               ("CPU s/GiB", 10, ">"), ("CPU us/op", 10, ">"), ("srv cores", 9, ">"),
               ("p50 ms", 8, ">"), ("p99 ms", 8, ">"), ("errors", 7, ">")]

    def row(values) -> str:
        return "  ".join(f"{v:{align}{width}}" for v, (_, width, align) in zip(values, columns)).rstrip()

    lines = [
        f"maxiofs vs s3s-fs, {meta['date']}, commit {meta['commit']}, {meta['machine']}",
        f"{meta['duration']} phases, {meta['rounds']} round(s): medians (ratios: median of per-round "
        f"maxiofs/s3s-fs); UNSIGNED-PAYLOAD; load generator {meta['bench_threads']} thread(s); "
        f"{'one server per run' if meta['reuse_servers'] else 'fresh server and data dir per phase'}",
        f"maxiofs {meta['maxiofs_version']} ({meta['maxiofs_settings']}); {meta['s3s_fs_version']}",
        "",
        row([c[0] for c in columns]),
        row(["-" * c[1] for c in columns]),
    ]
    for cell in CELLS:
        entry = summary[cell.key]
        for index, kind in enumerate(SERVERS):
            s = entry["servers"][kind]
            errors = str(s["errors"])
            if s["failures"]:
                errors = f"FAILED{'' if s['rounds_ok'] == 0 else '*'}"
            lines.append(row([cell.label if index == 0 else "", kind, fmt(s["mib_per_s"], 1),
                              fmt(s["ops_per_s"], 0), fmt(s["server_cpu_s_per_gib"], 2),
                              fmt(s["server_cpu_us_per_op"], 1), fmt(s["server_cores"], 2),
                              fmt(s["p50_ms"], 2), fmt(s["p99_ms"], 2), errors]))
        r = entry["ratio_maxiofs_over_s3s_fs"]
        lines.append(row(["", "maxiofs/s3s-fs", fmt_ratio(r["throughput"]), fmt_ratio(r["throughput"]),
                          fmt_ratio(r["cpu_per_op"]), fmt_ratio(r["cpu_per_op"]), "",
                          fmt_ratio(r["p50"]), fmt_ratio(r["p99"]), ""]))
        lines.append("")
    lines.append("Throughput ratio > 1: maxiofs faster. CPU ratio < 1: maxiofs uses less server CPU for "
                 "the same work. srv cores: server CPU-s per second of the phase.")
    for cell in CELLS:
        for kind in SERVERS:
            for failure in summary[cell.key]["servers"][kind]["failures"]:
                lines.append(f"FAILED {cell.label} on {kind}: {failure}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# SVG

def nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def short_number(value: float) -> str:
    if value >= 10000:
        return f"{value / 1000:.1f}k"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def tick_label(value: float, step: float) -> str:
    if value == 0:
        return "0"
    if step >= 1000 and step % 1000 == 0:
        return f"{value / 1000:g}k"
    return f"{value:,.10g}"


class Svg:
    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.parts: list[str] = []

    def text(self, x: float, y: float, content: str, size: int = 12, anchor: str = "start",
             weight: str = "normal", fill: str = "#1a202c", rotate: float | None = None) -> None:
        transform = f' transform="rotate({rotate:g} {x:.1f} {y:.1f})"' if rotate is not None else ""
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                          f'font-weight="{weight}" fill="{fill}"{transform}>{escape(content)}</text>')

    def rect(self, x: float, y: float, w: float, h: float, fill: str, title: str | None = None) -> None:
        inner = f"<title>{escape(title)}</title>" if title else ""
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
                          f'fill="{fill}">{inner}</rect>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = "#a0aec0",
             width: float = 1, dash: str | None = None) -> None:
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                          f'stroke="{stroke}" stroke-width="{width}"{dashing}/>')

    def render(self) -> str:
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
                f'viewBox="0 0 {self.width} {self.height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">\n'
                f'<rect x="0" y="0" width="{self.width}" height="{self.height}" fill="#ffffff"/>\n'
                + "\n".join(self.parts) + "\n</svg>\n")


def render_svg(summary: dict, meta: dict) -> str:
    width, height = 1180, 960
    svg = Svg(width, height)
    svg.text(30, 34, f"maxiofs vs s3s-fs: S3 throughput and latency, {meta['date']}", size=20, weight="bold")
    svg.text(30, 56, f"commit {meta['commit']}  |  {meta['machine']}  |  {meta['duration']} phases, "
                     f"{meta['rounds']} round(s), medians  |  UNSIGNED-PAYLOAD, maxiofs-bench "
                     f"{meta['bench_threads']} thread(s)", size=13, fill="#4a5568")
    svg.text(30, 75, f"maxiofs {meta['maxiofs_version']} ({meta['maxiofs_settings']})  vs  "
                     f"{meta['s3s_fs_version']} (plain files, no fsync)  |  "
                     f"{'one server per run' if meta['reuse_servers'] else 'fresh server and data dir per phase'}",
             size=13, fill="#4a5568")
    # Legend.
    lx = width - 250
    for index, kind in enumerate(SERVERS):
        svg.rect(lx + index * 115, 96, 14, 14, COLORS[kind])
        svg.text(lx + index * 115 + 20, 108, kind, size=13)

    # Panel 1: throughput, one small chart per cell with its own axis.
    svg.text(30, 108, "Throughput (higher is better): MiB/s for 1 MiB objects, ops/s for 4 KiB objects",
             size=15, weight="bold")
    top, bottom = 150, 390
    left_margin, gap = 60, 40
    chart_w = (width - left_margin - 30 - gap * (len(CELLS) - 1)) / len(CELLS)
    for index, cell in enumerate(CELLS):
        entry = summary[cell.key]
        field, unit = ("mib_per_s", "MiB/s") if cell.large else ("ops_per_s", "ops/s")
        values = {kind: entry["servers"][kind][field] for kind in SERVERS}
        x0 = left_margin + index * (chart_w + gap)
        top_value = max([v for v in values.values() if v] or [1.0])
        step = nice_step(top_value)
        axis_max = step * math.ceil(top_value * 1.12 / step)

        def y_of(value: float) -> float:
            return bottom - (bottom - top) * value / axis_max

        tick = 0.0
        while tick <= axis_max + step / 2:
            svg.line(x0, y_of(tick), x0 + chart_w, y_of(tick), stroke="#e2e8f0")
            svg.text(x0 - 6, y_of(tick) + 4, tick_label(tick, step), size=11, anchor="end", fill="#4a5568")
            tick += step
        svg.line(x0, top, x0, bottom, stroke="#718096")
        svg.line(x0, bottom, x0 + chart_w, bottom, stroke="#718096")
        svg.text(x0 - 44, (top + bottom) / 2, unit, size=11, anchor="middle", fill="#4a5568", rotate=-90)
        bar_w = chart_w * 0.28
        for k, kind in enumerate(SERVERS):
            bx = x0 + chart_w * (0.17 + 0.38 * k)
            value = values[kind]
            if value is None:
                svg.text(bx + bar_w / 2, bottom - 8, "failed", size=12, anchor="middle", fill="#c53030")
                continue
            s = entry["servers"][kind]
            svg.rect(bx, y_of(value), bar_w, bottom - y_of(value), COLORS[kind],
                     title=f"{kind} {cell.label}: {s['mib_per_s']:.1f} MiB/s, {s['ops_per_s']:.0f} ops/s")
            svg.text(bx + bar_w / 2, y_of(value) - 5, short_number(value), size=12, anchor="middle")
            cpu = s["server_cpu_us_per_op"]
            if cpu is not None:
                svg.text(bx + bar_w / 2, bottom + 16, f"{cpu:,.0f} us/op", size=10, anchor="middle",
                         fill="#4a5568")
        ratio = entry["ratio_maxiofs_over_s3s_fs"]
        svg.text(x0 + chart_w / 2, top - 18, f"maxiofs/s3s-fs: {fmt_ratio(ratio['throughput'])}",
                 size=14, anchor="middle", weight="bold")
        svg.text(x0 + chart_w / 2, bottom + 36, cell.label, size=13, anchor="middle", weight="bold")
        cpu_ratio = ratio["cpu_per_op"]
        svg.text(x0 + chart_w / 2, bottom + 53, f"server CPU per op (under bars): {fmt_ratio(cpu_ratio)}",
                 size=11, anchor="middle", fill="#4a5568")

    # Panel 2: latency percentiles, log scale, one axis for all cells.
    svg.text(30, 500, "Latency percentiles in ms (log scale, lower is better)", size=15, weight="bold")
    top, bottom = 530, 860
    x0, x1 = 70, width - 30
    percentiles = (("p50", "p50_ms"), ("p90", "p90_ms"), ("p99", "p99_ms"), ("p99.9", "p999_ms"))
    values = [entry["servers"][kind][field] for entry in summary.values() for kind in SERVERS
              for _, field in percentiles]
    values = [v for v in values if v and v > 0]
    low = 10 ** math.floor(math.log10(min(values))) if values else 0.1
    high = 10 ** math.ceil(math.log10(max(values) * 1.3)) if values else 1000.0
    if high <= low:
        high = low * 10
    span = math.log10(high) - math.log10(low)

    def y_log(value: float) -> float:
        return bottom - (bottom - top) * (math.log10(value) - math.log10(low)) / span

    decade = low
    while decade <= high * 1.0001:
        svg.line(x0, y_log(decade), x1, y_log(decade), stroke="#cbd5e0")
        svg.text(x0 - 6, y_log(decade) + 4, f"{decade:g}", size=11, anchor="end", fill="#4a5568")
        for minor in (2, 5):
            if decade * minor < high:
                svg.line(x0, y_log(decade * minor), x1, y_log(decade * minor), stroke="#edf2f7", dash="3,3")
                svg.text(x0 - 6, y_log(decade * minor) + 4, f"{decade * minor:g}", size=9, anchor="end",
                         fill="#a0aec0")
        decade *= 10
    svg.line(x0, top, x0, bottom, stroke="#718096")
    svg.line(x0, bottom, x1, bottom, stroke="#718096")
    svg.text(x0 - 48, (top + bottom) / 2, "ms", size=11, anchor="middle", fill="#4a5568", rotate=-90)
    group_w = (x1 - x0) / len(CELLS)
    for index, cell in enumerate(CELLS):
        entry = summary[cell.key]
        gx = x0 + index * group_w
        if index:
            svg.line(gx, top, gx, bottom + 40, stroke="#a0aec0", dash="4,4")
        slot_w = group_w * 0.9 / len(percentiles)
        bar_w = slot_w * 0.36
        for p, (name, field) in enumerate(percentiles):
            sx = gx + group_w * 0.05 + p * slot_w
            for k, kind in enumerate(SERVERS):
                value = entry["servers"][kind][field]
                bx = sx + slot_w * 0.12 + k * bar_w
                if not value or value <= 0:
                    svg.text(bx + bar_w / 2, bottom - 6, "x", size=11, anchor="middle", fill="#c53030")
                    continue
                svg.rect(bx, y_log(value), bar_w, bottom - y_log(value), COLORS[kind],
                         title=f"{kind} {cell.label} {name}: {value:.3f} ms")
                svg.text(bx + bar_w / 2, y_log(value) - 4, short_number(value), size=9, anchor="middle")
            svg.text(sx + slot_w * 0.12 + bar_w, bottom + 15, name, size=11, anchor="middle", fill="#4a5568")
        svg.text(gx + group_w / 2, bottom + 36, cell.label, size=13, anchor="middle", weight="bold")
    notes = []
    for cell in CELLS:
        for kind in SERVERS:
            s = summary[cell.key]["servers"][kind]
            if s["failures"]:
                notes.append(f"{cell.label} on {kind}: {s['failures'][0][:80]}")
            elif s["errors"]:
                notes.append(f"{cell.label} on {kind}: {s['errors']} failed requests")
    footer = "Failures: " + "; ".join(notes) if notes else \
        "No failed requests. Numbers above the latency bars are ms; 'us/op' is server CPU per operation."
    svg.text(30, height - 20, footer[:190], size=11, fill="#c53030" if notes else "#4a5568")
    return svg.render()


# ---------------------------------------------------------------------------------------------

def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    model = re.sub(r"\s+", " ", model)
    return f"{model}, {os.cpu_count()} cores"


def command_output(argv: list[str], default: str) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return default
    text = out.stdout.strip()
    return text if out.returncode == 0 and text else default


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--maxiofs", type=Path, default=MAXIOFS, help="maxiofs binary (%(default)s)")
    parser.add_argument("--s3s-fs", type=Path, default=S3S_FS, help="s3s-fs binary (%(default)s)")
    parser.add_argument("--bench", type=Path, default=BENCH, help="maxiofs-bench binary (%(default)s)")
    parser.add_argument("--duration", type=parse_duration, default=parse_duration("10s"),
                        help="measured phase length: 500ms, 10s, 2m (default 10s)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of all cells on both servers (1)")
    parser.add_argument("--bench-threads", type=int, default=1,
                        help="maxiofs-bench --threads (1, as scripts/bench_authz.py)")
    parser.add_argument("--maxiofs-env", type=parse_env, action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for maxiofs, e.g. MAXIOFS_ENCRYPTION=off (repeatable)")
    parser.add_argument("--svg", type=Path, default=Path("bench-compare.svg"), help="chart (%(default)s)")
    parser.add_argument("--json", type=Path, help="raw results of every phase and the summary")
    parser.add_argument("--tmp-dir", type=Path, help="where the servers' temporary data directory goes")
    parser.add_argument("--reuse-servers", action="store_true",
                        help="one server of each kind for the whole run instead of one per phase")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    for name, path in (("--maxiofs", args.maxiofs), ("--s3s-fs", args.s3s_fs), ("--bench", args.bench)):
        if not os.access(path, os.X_OK):
            parser.error(f"{name}: {path} is not an executable file")
    maxiofs_env = dict(args.maxiofs_env)
    binaries = {"maxiofs": args.maxiofs, "s3s-fs": args.s3s_fs}

    meta = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "commit": command_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], "unknown"),
        "machine": machine(),
        "duration": args.duration[0],
        "rounds": args.rounds,
        "bench_threads": args.bench_threads,
        "reuse_servers": args.reuse_servers,
        "maxiofs_binary": str(args.maxiofs),
        "s3s_fs_binary": str(args.s3s_fs),
        "maxiofs_version": command_output([str(args.maxiofs), "--version"], "maxiofs ?").split()[-1],
        "s3s_fs_version": command_output([str(args.s3s_fs), "--version"], "s3s-fs ?"),
        "maxiofs_settings": ", ".join(f"{k}={v}" for k, v in maxiofs_env.items()) or "defaults",
        "cells": [{"key": c.key, "op": c.op, "size_bytes": c.size_bytes, "concurrency": c.concurrency}
                  for c in CELLS],
    }

    def on_signal(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    base = Path(tempfile.mkdtemp(prefix="maxiofs-compare-", dir=args.tmp_dir))
    servers: dict[str, Server] = {}
    counter = 0
    phases: list[dict] = []

    def start(kind: str) -> Server:
        nonlocal counter
        counter += 1
        server = Server(kind, binaries[kind], base / f"{counter:03d}-{kind}", maxiofs_env)
        servers[kind] = server
        server.wait_ready()
        return server

    def retire(kind: str) -> None:
        server = servers.pop(kind, None)
        if server is not None:
            server.stop()
            shutil.rmtree(server.workdir, ignore_errors=True)

    status = 0
    try:
        log(f"servers' data under {base}; {len(CELLS)} cells x {len(SERVERS)} servers x {args.rounds} "
            f"round(s) of {args.duration[0]}")
        for round_index in range(args.rounds):
            for cell_index, cell in enumerate(CELLS):
                order = SERVERS if (round_index + cell_index) % 2 == 0 else SERVERS[::-1]
                for kind in order:
                    if kind not in servers or not servers[kind].alive():
                        if kind in servers:
                            log(f"  {kind} had exited (status {servers[kind].process.returncode}); "
                                f"restarting it:\n{servers[kind].log_tail()}")
                            retire(kind)
                        start(kind)
                    server = servers[kind]
                    os.sync()  # the previous phase's writeback should not land in this one
                    if cell.op == "put" and shutil.disk_usage(base).free < LOW_DISK_BYTES:
                        log(f"  warning: only {shutil.disk_usage(base).free / 2**30:.1f} GiB free under {base}")
                    result = run_phase(args, cell, server)
                    phases.append({"round": round_index, "cell": cell.key, "server": kind,
                                   "port": server.port, "pid": server.pid, "result": result})
                    if usable(result):
                        line = (f"{result['mib_per_s']:.1f} MiB/s, {result['ops_per_s']:.0f} ops/s, "
                                f"server CPU {result.get('server_cpu_us_per_op')} us/op, "
                                f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
                                f"errors {result.get('errors', 0)}")
                        if result.get("errors"):
                            line += f" {result.get('errors_by_status')}"
                    else:
                        line = f"FAILED: {result.get('failed')} {result.get('stderr', '')[-500:]}"
                        if not server.alive():
                            line += f"\n  {kind} exited (status {server.process.returncode}):\n{server.log_tail()}"
                    log(f"round {round_index + 1} {cell.label:<16} {kind:<8} {line}")
                    if not args.reuse_servers:
                        retire(kind)
        summary = summarize(phases, args.rounds)
        table = render_table(summary, meta)
        sys.stdout.write(table)
        sys.stdout.flush()
        args.svg.write_text(render_svg(summary, meta))
        log(f"chart: {args.svg}")
        if args.json:
            args.json.write_text(json.dumps({"meta": meta, "summary": summary, "phases": phases}, indent=1) + "\n")
            log(f"raw results: {args.json}")
        if any(not usable(p["result"]) or p["result"].get("errors") for p in phases):
            status = 1
    except RuntimeError as error:
        log(f"error: {error}")
        status = 1
    except (KeyboardInterrupt, Interrupted) as stop:
        log(f"interrupted ({str(stop) or 'SIGINT'}): stopping the servers")
        status = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for kind in list(servers):
            retire(kind)
        shutil.rmtree(base, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
