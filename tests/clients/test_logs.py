"""Structured logs: `--log-format json` (MAXIOFS_LOG_FORMAT) writes one JSON object per line, and
every line logged while serving an S3 request names the request id the client got in
`x-amz-request-id`; no line carries a secret, a signature or an Authorization header."""

from __future__ import annotations

import json

import requests

from helpers import unique_bucket_name


def test_json_lines_carry_the_request_id_and_no_secret(server_factory):
    srv = server_factory("json-logs", env={"MAXIOFS_LOG_FORMAT": "json"})
    mark = srv.stderr_size()
    s3 = srv.client()
    bucket = unique_bucket_name("logs")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    # An anonymous read is denied and audited: a log line inside a request.
    denied = requests.get(f"{srv.endpoint}/{bucket}/k", timeout=30)
    assert denied.status_code == 403
    request_id = denied.headers["x-amz-request-id"]
    text = (srv.dir / "stderr.log").read_bytes()[mark:].decode()
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines, text[-2000:]
    records = [json.loads(line) for line in lines]
    assert all({"timestamp", "level", "fields", "target"} <= set(r) for r in records)
    denials = [r for r in records if r["fields"].get("message") == "request denied"]
    assert denials, lines
    assert any(r.get("span", {}).get("id") == request_id for r in denials), denials
    assert srv.secret_key not in text
    assert "Signature=" not in text and "authorization" not in text.lower()
