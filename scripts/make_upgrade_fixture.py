#!/usr/bin/env python3
"""Writes the data directory tests/clients/test_upgrade.py opens with today's binary.

Runs an EARLIER release binary (given on the command line) on a fresh data directory, writes a
varied data set (inline and segment-stored objects, encrypted by default, a multipart upload,
versions, tags, metadata, a tenant with a user, an access key and policies, a bucket policy),
stops it cleanly and packs the directory with its master key into a gzipped tarball. The
expected contents are written beside it as JSON (keys, sizes, MD5s, settings), so the test
checks everything the old binary acknowledged. Usage:

  .venv/bin/python scripts/make_upgrade_fixture.py OLD_BINARY tests/fixtures/upgrade-<commit>

Needs the old binary only; the fixture is committed, so the suite never builds old commits.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import boto3
import requests
from botocore.config import Config

ROOT_KEY = "AKIAUPGRADEFIXTURE01"
ROOT_SECRET = "upgradeFixtureRootSecret000000000000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    binary, out = Path(sys.argv[1]), Path(sys.argv[2])
    work = Path(tempfile.mkdtemp(prefix="maxiofs-fixture-"))
    data = work / "data"
    port, console = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAXIOFS_")}
    env.update(MAXIOFS_ROOT_ACCESS_KEY=ROOT_KEY, MAXIOFS_ROOT_SECRET_KEY=ROOT_SECRET)
    proc = subprocess.Popen(
        [str(binary), "server", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}",
         "--console-listen", f"127.0.0.1:{console}", "--shards", "2", "--segment-mib", "8",
         "--scrub-rate-mib", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(f"{endpoint}/_maxiofs/health", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.1)
    creds = dict(aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET, region_name="us-east-1",
                 endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))
    s3 = boto3.client("s3", **creds)
    iam = boto3.client("iam", **creds)
    rng = random.Random(20261206)
    expected: dict = {"objects": [], "versions": [], "user": None}

    def put(bucket: str, key: str, size: int, **kw) -> None:
        body = rng.randbytes(size)
        s3.put_object(Bucket=bucket, Key=key, Body=body, **kw)
        expected["objects"].append({"bucket": bucket, "key": key, "size": size,
                                    "md5": hashlib.md5(body).hexdigest(), **{k.lower(): v for k, v in kw.items()}})

    s3.create_bucket(Bucket="fixture-plain")
    for i, size in enumerate([0, 1, 4096, 65_536, (1 << 20) + 7]):
        put("fixture-plain", f"objects/{i:02d}-{size}", size)
    put("fixture-plain", "with-meta", 1234, Metadata={"owner": "fixture"}, ContentType="text/x-fixture")
    put("fixture-plain", "with-tags", 10, Tagging="team=storage&tier=gold")
    # One part: the last part may be small, which keeps the fixture small.
    body = rng.randbytes(300_000)
    upload = s3.create_multipart_upload(Bucket="fixture-plain", Key="multipart")["UploadId"]
    parts = []
    for number, start in enumerate(range(0, len(body), 5 << 20), start=1):
        chunk = body[start:start + (5 << 20)]
        etag = s3.upload_part(Bucket="fixture-plain", Key="multipart", UploadId=upload, PartNumber=number,
                              Body=chunk)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(Bucket="fixture-plain", Key="multipart", UploadId=upload,
                                 MultipartUpload={"Parts": parts})
    expected["objects"].append({"bucket": "fixture-plain", "key": "multipart", "size": len(body),
                                "md5": hashlib.md5(body).hexdigest()})
    s3.create_bucket(Bucket="fixture-versions")
    s3.put_bucket_versioning(Bucket="fixture-versions", VersioningConfiguration={"Status": "Enabled"})
    for n in range(3):
        content = f"version {n}".encode()
        version = s3.put_object(Bucket="fixture-versions", Key="doc", Body=content)["VersionId"]
        expected["versions"].append({"key": "doc", "version_id": version, "body": content.decode()})
    s3.put_bucket_policy(Bucket="fixture-plain", Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::fixture-plain/objects/*"}],
    }))
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
    }))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    expected["user"] = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    expected["root"] = {"access_key_id": ROOT_KEY, "secret_access_key": ROOT_SECRET}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(f"{out}.tar.gz", "w:gz") as tar:
        tar.add(data, arcname="data")
        tar.add(work / "maxiofs-master.key", arcname="maxiofs-master.key")
    Path(f"{out}.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"{out}.tar.gz: {Path(f'{out}.tar.gz').stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
