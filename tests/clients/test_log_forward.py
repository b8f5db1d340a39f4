"""Audit and access log forwarding (issue 18): RFC 5424 syslog over UDP, TCP and TLS (octet
counting) and NDJSON POSTs to an HTTP endpoint, each target with a durable queue in the data
directory: while a target is down its records wait on disk, through a kill -9 of the server, and
all of them arrive once it is back.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import REPO_ROOT, MaxioServer, free_port
import helpers
from helpers import make_ca_and_leaf, unique_bucket_name

DOCS_METRICS = REPO_ROOT / "docs" / "metrics.md"
# <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG (with the UTF-8 BOM)
SYSLOG = re.compile(r"^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) maxiofs (\d+) (access|audit) - "
                    "\ufeff(.*)$", re.S)


class Collector:
    def __init__(self):
        self.messages: list[str] = []
        self.lock = threading.Lock()

    def add(self, message: str):
        with self.lock:
            self.messages.append(message)

    def parsed(self) -> list[tuple[int, str, str]]:
        out = []
        with self.lock:
            for message in self.messages:
                match = SYSLOG.match(message)
                assert match, f"not RFC 5424: {message!r}"
                out.append((int(match.group(1)), match.group(5), match.group(6)))
        return out


def udp_receiver(collector: Collector) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def run():
        while True:
            data, _ = sock.recvfrom(65536)
            collector.add(data.decode("utf-8"))

    threading.Thread(target=run, daemon=True).start()
    return sock.getsockname()[1]


def read_octet_counted(conn, collector: Collector):
    buffer = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return
        buffer += chunk
        while b" " in buffer:
            length_text, rest = buffer.split(b" ", 1)
            length = int(length_text)
            if len(rest) < length:
                break
            collector.add(rest[:length].decode("utf-8"))
            buffer = rest[length:]


def tcp_receiver(collector: Collector, context: ssl.SSLContext | None = None) -> int:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def run():
        while True:
            conn, _ = listener.accept()
            if context is not None:
                try:
                    conn = context.wrap_socket(conn, server_side=True)
                except ssl.SSLError:
                    continue
            threading.Thread(target=read_octet_counted, args=(conn, collector), daemon=True).start()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


class HttpCollector:
    """Takes NDJSON POSTs; answers 503 while `down`."""

    def __init__(self, port: int | None = None):
        self.records: list[dict] = []
        self.down = False
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if owner.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                assert self.headers.get("content-type") == "application/x-ndjson"
                with owner.lock:
                    owner.records.extend(json.loads(line) for line in body.decode().splitlines() if line)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def audit_targets(self) -> list[str]:
        with self.lock:
            # An audited S3 request names its resource `/bucket[/key]`.
            return [json.loads(r["message"])["target"].lstrip("/") for r in self.records if r["log"] == "audit"]


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory):
    ca, cert, key = make_ca_and_leaf(tmp_path_factory.mktemp("syslog-tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context, ca


def wait_for(predicate, what: str, timeout: float = 30.0):
    helpers.wait_for(predicate, timeout, interval=0.2, what=what)


def test_audit_and_access_logs_reach_syslog_over_udp_tcp_tls_and_http(tls_context):
    context, ca = tls_context
    udp, tcp, tls = Collector(), Collector(), Collector()
    http = HttpCollector()
    targets = [f"syslog+udp://127.0.0.1:{udp_receiver(udp)}",
               f"syslog+tcp://127.0.0.1:{tcp_receiver(tcp)}",
               f"syslog+tls://localhost:{tcp_receiver(tls, context)}",
               f"http://127.0.0.1:{http.port}/ingest"]
    srv = MaxioServer("forward", env={"MAXIOFS_LOG_FORWARD": ",".join(targets),
                                      "MAXIOFS_LOG_FORWARD_CA": str(ca)}).start()
    try:
        s3 = srv.client()
        bucket = unique_bucket_name("fwd")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"forwarded")
        for collector in (udp, tcp, tls):
            wait_for(lambda c=collector: {kind for _, kind, _ in c.parsed()} >= {"access", "audit"},
                     "both logs over syslog")
            for pri, kind, message in collector.parsed():
                # facility 13 (log audit) and 16 (local0), severity 6 (informational)
                assert pri == (13 * 8 + 6 if kind == "audit" else 16 * 8 + 6)
                if kind == "audit" and bucket in message:
                    assert json.loads(message)["action"] == "s3:CreateBucket"
            access = [m for _, kind, m in collector.parsed() if kind == "access"]
            assert any(f"REST.PUT.OBJECT k " in m and f" {bucket} " in m for m in access), access
        wait_for(lambda: bucket in http.audit_targets(), "the audit record over HTTP")
        metrics = requests.get(f"{srv.console_endpoint}/metrics", timeout=10).text
        documented = re.findall(r"^\| `(maxiofs_log_forward_[a-z_]+)` \|", DOCS_METRICS.read_text(), re.M)
        assert len(documented) == 4
        for name in documented:
            assert re.search(rf"^{name} \d+$", metrics, re.M), name
        assert int(re.search(r"^maxiofs_log_forward_delivered_records_total (\d+)$", metrics, re.M).group(1)) > 0
        text = "\n".join(udp.messages + tcp.messages + tls.messages)
        assert srv.secret_key not in text
    finally:
        srv.terminate()
        http.server.shutdown()


def test_a_target_outage_and_a_crash_lose_nothing():
    http = HttpCollector()
    http.down = True
    srv = MaxioServer("forward-outage", env={"MAXIOFS_LOG_FORWARD": f"http://127.0.0.1:{http.port}/x",
                                             "MAXIOFS_LOG_FORWARD_LOGS": "audit"}).start()
    try:
        s3 = srv.client()
        buckets = [unique_bucket_name(f"out{i}") for i in range(20)]
        for bucket in buckets:
            s3.create_bucket(Bucket=bucket)
        spool = srv.data_dir / "log-forward"
        # The records are queued on disk (an fdatasync per batch) while the target refuses them.
        wait_for(lambda: sum(f.stat().st_size for f in spool.rglob("*.seg")) > 0, "the queue on disk")
        time.sleep(1)
        srv.kill9()
        assert http.audit_targets() == []
        srv.restart()
        s3 = srv.client()
        later = unique_bucket_name("after")
        s3.create_bucket(Bucket=later)
        http.down = False
        wait_for(lambda: set(buckets + [later]) <= set(http.audit_targets()), "every queued record", 60)
        targets = http.audit_targets()
        # In order, none lost; a record may repeat only after a failed delivery.
        assert [t for t in targets if t in buckets][:len(buckets)] == buckets
        assert all(r["log"] == "audit" for r in http.records)
    finally:
        srv.terminate()
        http.server.shutdown()
