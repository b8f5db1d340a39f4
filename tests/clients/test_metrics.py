"""Prometheus `/metrics` on the console port (docs/metrics.md).

- After a mixed workload (small and large PUTs, GETs, HEADs, a multipart upload, deletes, errors)
  every series docs/metrics.md lists is present, counters only grow between scrapes, histogram
  buckets are cumulative and end at the count, and the per-operation counts cover the workload.
- `--metrics-token` refuses scrapes without the bearer token; `--metrics-per-bucket` adds the
  bucket series.
- The Debian `prometheus` package scrapes the endpoint, and `promtool` accepts the alert rules;
  the Grafana dashboard only names documented series.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import free_port
from helpers import expect_client_error, unique_bucket_name, wait_for

DOCS = Path(__file__).resolve().parents[2] / "docs"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def documented_series() -> tuple[list[str], list[str]]:
    """(always-on series, per-bucket series) named in docs/metrics.md's tables (the log
    forwarding series are test_log_forward.py's)."""
    text = (DOCS / "metrics.md").read_text()
    always, per_bucket, forwarding = [], [], []
    target = always
    for line in text.splitlines():
        if "--metrics-per-bucket" in line and not line.startswith("|"):
            target = per_bucket
        if "--log-forward" in line and not line.startswith("|"):
            target = forwarding
        match = re.match(r"^\| `([a-z0-9_]+)` \|", line)
        if match:
            target.append(match.group(1))
    return always, per_bucket


def scrape(server, token: str | None = None) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = requests.get(f"{server.console_endpoint}/metrics", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in answer.text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not an exposition line: {line!r}"
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def family_of(series: str) -> str:
    name = series.split("{", 1)[0]
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def workload(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="small", Body=b"x" * 4096)
    s3.put_object(Bucket=bucket, Key="large", Body=os.urandom(1 << 20))
    for _ in range(3):
        assert s3.get_object(Bucket=bucket, Key="small")["Body"].read() == b"x" * 4096
    s3.head_object(Bucket=bucket, Key="large")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="parts", UploadId=upload, PartNumber=1, Body=b"p" * 1024)
    s3.complete_multipart_upload(Bucket=bucket, Key="parts", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.list_objects_v2(Bucket=bucket)
    expect_client_error(s3.get_object, Bucket=bucket, Key="missing", code="NoSuchKey")
    s3.delete_object(Bucket=bucket, Key="small")


def check_histograms(samples: dict[str, float]) -> None:
    """Buckets are cumulative and the +Inf bucket equals _count, per label set."""
    groups: dict[str, list[tuple[float, float]]] = {}
    for series, value in samples.items():
        name, _, labels = series.partition("{")
        if not name.endswith("_bucket"):
            continue
        le = re.search(r'le="([^"]+)"', labels).group(1)
        rest = re.sub(r',?le="[^"]+"', "", labels).rstrip("}").strip(",")
        key = f"{name[:-7]}{{{rest}}}"
        groups.setdefault(key, []).append((float("inf") if le == "+Inf" else float(le), value))
    assert groups, "no histogram in the exposition"
    for key, buckets in groups.items():
        buckets.sort()
        values = [v for _, v in buckets]
        assert values == sorted(values), f"{key}: buckets not cumulative {buckets}"
        name, _, labels = key.partition("{")
        count_key = f"{name}_count{{{labels}" if labels != "}" else f"{name}_count"
        assert samples[count_key] == values[-1], f"{key}: +Inf {values[-1]} != count {samples[count_key]}"


def test_every_documented_series_after_a_workload(server, s3, bucket):
    before = scrape(server)
    workload(s3, bucket)
    after = scrape(server)
    always, _ = documented_series()
    assert len(always) >= 25, always
    families = {family_of(series) for series in after}
    missing = [name for name in always if name not in families]
    assert not missing, f"documented series missing from /metrics: {missing}"
    # Counters only grow.
    for series, value in before.items():
        name = family_of(series)
        if name.endswith("_total") or series.split("{")[0].endswith(("_count", "_sum", "_bucket")):
            assert after.get(series, 0) >= value, f"{series} went down: {value} -> {after.get(series)}"
    check_histograms(after)

    def grew(series: str, at_least: float) -> bool:
        return after.get(series, 0) - before.get(series, 0) >= at_least

    assert grew('maxiofs_s3_requests_total{operation="PutObject",status="2xx"}', 2)
    assert grew('maxiofs_s3_requests_total{operation="GetObject",status="2xx"}', 3)
    assert grew('maxiofs_s3_requests_total{operation="GetObject",status="4xx"}', 1)
    assert grew('maxiofs_s3_requests_total{operation="CompleteMultipartUpload",status="2xx"}', 1)
    assert grew('maxiofs_s3_errors_total{code="NoSuchKey"}', 1)
    assert grew('maxiofs_s3_received_bytes_total{operation="PutObject"}', 4096 + (1 << 20))
    assert grew('maxiofs_s3_sent_bytes_total{operation="GetObject"}', 3 * 4096)
    assert grew('maxiofs_s3_request_duration_seconds_count{operation="PutObject"}', 2)
    assert sum(v for k, v in after.items() if k.startswith("maxiofs_engine_fdatasync_duration_seconds_count")) > 0
    assert after["maxiofs_shards{state=\"answering\"}"] == after["maxiofs_shards{state=\"configured\"}"]
    assert after["process_resident_memory_bytes"] > 1 << 20
    assert 0 < after["maxiofs_disk_available_bytes"] <= after["maxiofs_disk_total_bytes"]
    # The scrape itself is not an S3 request; nothing in flight once the workload is done.
    assert sum(v for k, v in after.items() if k.startswith("maxiofs_shard_requests_in_flight")) == 0


def test_token_and_per_bucket_series(server_factory):
    token = "scrape-" + os.urandom(8).hex()
    srv = server_factory("metrics-token", env={"MAXIOFS_METRICS_TOKEN": token,
                                               "MAXIOFS_METRICS_PER_BUCKET": "true"})
    url = f"{srv.console_endpoint}/metrics"
    assert requests.get(url, timeout=30).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=30).status_code == 401
    assert requests.get(url, headers={"Authorization": token}, timeout=30).status_code == 401
    assert requests.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 405
    s3 = srv.client()
    bucket = unique_bucket_name("per-bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"12345")
    samples = scrape(srv, token)
    _, per_bucket = documented_series()
    assert per_bucket == ["maxiofs_bucket_stored_bytes", "maxiofs_bucket_objects"]
    assert samples[f'maxiofs_bucket_stored_bytes{{bucket="{bucket}",tenant="default"}}'] == 5
    assert samples[f'maxiofs_bucket_objects{{bucket="{bucket}",tenant="default"}}'] == 1
    # Without the setting there are no per-bucket series (cardinality).
    assert not any(k.startswith("maxiofs_bucket_") for k in scrape_open(server_factory))


def scrape_open(server_factory) -> dict[str, float]:
    srv = server_factory("metrics-open")
    srv.client().create_bucket(Bucket=unique_bucket_name("open"))
    return scrape(srv)


def prometheus_binary() -> str | None:
    found = shutil.which("prometheus")
    if found is None and os.environ.get("CI"):
        pytest.fail("prometheus is not installed (scripts/test-all.sh installs Debian's package)")
    return found


def test_prometheus_scrapes_and_rules_and_dashboard_are_valid(server, s3, bucket, tmp_path):
    binary = prometheus_binary()
    if binary is None:
        pytest.skip("Debian's prometheus package is not installed")
    promtool = shutil.which("promtool")
    assert promtool, "promtool ships with the prometheus package"
    checked = subprocess.run([promtool, "check", "rules", str(DOCS / "prometheus-alerts.yml")],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    always, per_bucket = documented_series()
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    named = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            named |= set(re.findall(r"\b((?:maxiofs|process)_[a-z0-9_]+)", target["expr"]))
    unknown = {family_of(name) for name in named} - set(always) - set(per_bucket)
    assert not unknown, f"the dashboard names undocumented series: {unknown}"

    s3.put_object(Bucket=bucket, Key="seen-by-prometheus", Body=os.urandom(1 << 20))
    port = free_port()
    config = tmp_path / "prometheus.yml"
    host = server.console_endpoint.split("//", 1)[1]
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{json.dumps(str(DOCS / 'prometheus-alerts.yml'))}]\n"
        "scrape_configs:\n"
        f"  - job_name: maxiofs\n    static_configs: [{{targets: [\"{host}\"]}}]\n"
    )
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "wb"),
    )
    api = f"http://127.0.0.1:{port}/api/v1"

    def query(expr: str) -> list:
        try:
            answer = requests.get(f"{api}/query", params={"query": expr}, timeout=5)
        except requests.ConnectionError:
            return []
        return answer.json().get("data", {}).get("result", []) if answer.status_code == 200 else []

    try:
        wait_for(lambda: any(r["value"][1] == "1" for r in query('up{job="maxiofs"}')), timeout=60,
                 what="prometheus scraping maxiofs")
        wait_for(lambda: query('maxiofs_s3_requests_total{operation="PutObject",status="2xx"}'), timeout=30,
                 what="PutObject counts in prometheus")
        result = query("sum(maxiofs_engine_live_bytes)")
        assert result and float(result[0]["value"][1]) > 0
        answer = requests.get(f"{api}/rules", timeout=5).json()
        loaded = [rule["name"] for group in answer["data"]["groups"] for rule in group["rules"]]
        assert "MaxiofsDiskNearlyFull" in loaded and "MaxiofsScrubFoundDamage" in loaded
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
