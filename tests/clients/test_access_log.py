"""The S3 access log (issue 18): one line per request in AWS's server access log format, read
back with the field layout AWS documents; errors carry their S3 code; a presigned URL's signature
never reaches the file; the file is 0600 and is reopened on SIGHUP after logrotate renamed it.
"""

from __future__ import annotations

import re
import signal
import stat
import time

import requests

from conftest import MaxioServer
from helpers import unique_bucket_name

# AWS's columns: owner bucket [time] ip requester request-id operation key "request-uri" status
# error bytes-sent object-size total-ms turnaround-ms "referer" "user-agent" version-id host-id
# signature-version cipher auth-type host tls-version access-point acl-required
LINE = re.compile(
    r'^(?P<owner>\S+) (?P<bucket>\S+) \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
    r'(?P<ip>\S+) (?P<requester>\S+) (?P<request_id>\S+) (?P<operation>\S+) (?P<key>\S+) '
    r'"(?P<uri>[^"]*)" (?P<status>\d{3}|-) (?P<error>\S+) (?P<bytes_sent>\d+|-) (?P<object_size>\d+|-) '
    r'(?P<total_ms>\d+) (?P<turnaround_ms>\d+|-) "(?P<referer>[^"]*)" "(?P<user_agent>[^"]*)" '
    r'(?P<version_id>\S+) (?P<host_id>\S+) (?P<sig>\S+) (?P<cipher>\S+) (?P<auth>\S+) (?P<host>\S+) '
    r'(?P<tls>\S+) (?P<access_point>\S+) (?P<acl_required>\S+)$'
)


def read_lines(path, count: int, timeout: float = 10.0) -> list[dict]:
    """The file's lines once it has at least `count` (each must parse)."""
    deadline = time.time() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        lines = text.splitlines()
        if len(lines) >= count or time.time() > deadline:
            break
        time.sleep(0.2)
    parsed = []
    for line in lines:
        match = LINE.match(line)
        assert match, f"not an AWS access log line: {line!r}"
        parsed.append(match.groupdict())
    assert len(parsed) >= count, f"{len(parsed)} lines, expected {count}:\n{text}"
    return parsed


def test_requests_are_logged_in_aws_format_and_rotated_on_sighup(tmp_path):
    log = tmp_path / "access.log"
    srv = MaxioServer("access-log", env={"MAXIOFS_ACCESS_LOG": str(log)}).start()
    try:
        s3 = srv.client()
        bucket = unique_bucket_name("alog")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="dir/a b.txt", Body=b"x" * 1234)
        assert s3.get_object(Bucket=bucket, Key="dir/a b.txt")["Body"].read() == b"x" * 1234
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir/a b.txt"})
        signature = re.search(r"X-Amz-Signature=([0-9a-f]+)", url).group(1)
        assert requests.get(url, timeout=10, headers={"Referer": "https://example.com/p"}).status_code == 200
        assert requests.get(f"{srv.endpoint}/{bucket}/missing", timeout=10).status_code == 403
        try:
            s3.get_object(Bucket=bucket, Key="missing")
        except s3.exceptions.NoSuchKey:
            pass
        s3.list_objects_v2(Bucket=bucket)

        lines = read_lines(log, 7)
        by_op = {}
        for line in lines:
            by_op.setdefault(line["operation"], []).append(line)
        put = by_op["REST.PUT.OBJECT"][0]
        assert put["bucket"] == bucket and put["key"] == "dir/a%20b.txt"
        assert put["status"] == "200" and put["error"] == "-" and put["object_size"] == "1234"
        assert put["requester"].startswith("arn:aws:iam::") and put["sig"] == "SigV4"
        assert put["auth"] == "AuthHeader" and put["ip"] == "127.0.0.1"
        assert put["uri"].startswith(f"PUT /{bucket}/dir/a%20b.txt") and put["uri"].endswith(" HTTP/1.1")
        assert put["owner"] != "-" and put["request_id"] == put["host_id"]
        gets = by_op["REST.GET.OBJECT"]
        assert {g["status"] for g in gets} >= {"200", "404", "403"}
        full = [g for g in gets if g["status"] == "200" and g["auth"] == "AuthHeader"][0]
        assert full["bytes_sent"] == "1234"
        presigned = [g for g in gets if g["auth"] == "QueryString"][0]
        assert "X-Amz-Signature=REDACTED" in presigned["uri"]
        assert presigned["referer"] == "https://example.com/p"
        missing = [g for g in gets if g["status"] == "404"][0]
        assert missing["error"] == "NoSuchKey"
        anonymous = [g for g in gets if g["status"] == "403"][0]
        assert anonymous["error"] == "AccessDenied" and anonymous["requester"] == "-"
        assert by_op["REST.GET.BUCKET"][0]["status"] == "200"
        assert by_op["REST.PUT.BUCKET"][0]["key"] == "-"
        text = log.read_text()
        assert signature not in text and srv.secret_key not in text
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        request_ids = [line["request_id"] for line in lines]
        assert len(set(request_ids)) == len(request_ids)

        # logrotate's move: rename, SIGHUP; new lines go to a new file at the same path.
        rotated = tmp_path / "access.log.1"
        log.rename(rotated)
        before = rotated.read_text()
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while b"access log reopened" not in srv.stderr_path.read_bytes() and time.time() < deadline:
            time.sleep(0.1)
        s3.head_object(Bucket=bucket, Key="dir/a b.txt")
        after = read_lines(log, 1)
        assert after[0]["operation"] == "REST.HEAD.OBJECT"
        assert rotated.read_text() == before
        assert srv.running()

        # A clean stop writes out what the shards still held.
        s3.delete_object(Bucket=bucket, Key="dir/a b.txt")
        assert srv.terminate() == 0
        ops = [line["operation"] for line in read_lines(log, 2)]
        assert ops[-1] == "REST.DELETE.OBJECT"
    finally:
        srv.terminate()
