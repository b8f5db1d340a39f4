"""aws cli v1 (`aws s3 ...` and `aws s3api ...`).

The aws fixture writes an AWS_CONFIG_FILE with path-style addressing and otherwise aws cli's
defaults: files over 8 MB go multipart.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from helpers import MiB, md5_hex, rand_bytes


def test_s3_mb_cp_ls_rm(aws, s3, bucket_name, tmp_path):
    src = tmp_path / "src"
    (src / "sub dir").mkdir(parents=True)
    files = {
        "hello.txt": b"hello from aws cli\n",
        "sub dir/data.bin": rand_bytes(12 * MiB + 5, "awscli"),  # > the default 8 MiB multipart threshold
        "sub dir/ünïcödé.txt": "ünïcödé".encode(),
        "empty": b"",
    }
    for name, data in files.items():
        (src / name).write_bytes(data)

    out = aws("s3", "mb", f"s3://{bucket_name}")
    assert f"make_bucket: {bucket_name}" in out.stdout
    assert bucket_name in aws("s3", "ls").stdout

    aws("s3", "cp", src / "hello.txt", f"s3://{bucket_name}/hello.txt")
    aws("s3", "cp", "--recursive", src / "sub dir", f"s3://{bucket_name}/sub dir/")
    aws("s3", "cp", src / "empty", f"s3://{bucket_name}/empty")

    # Over the 8 MiB threshold aws cli uploads two 8 MiB parts: the ETag is MD5(part MD5s)-2.
    head = s3.head_object(Bucket=bucket_name, Key="sub dir/data.bin")
    big = files["sub dir/data.bin"]
    part_md5s = hashlib.md5(big[: 8 * MiB]).digest() + hashlib.md5(big[8 * MiB :]).digest()
    assert head["ETag"] == f'"{hashlib.md5(part_md5s).hexdigest()}-2"'
    assert head["ContentLength"] == len(files["sub dir/data.bin"])

    top = aws("s3", "ls", f"s3://{bucket_name}/").stdout
    assert "PRE sub dir/" in top
    assert "hello.txt" in top and "empty" in top
    sub = aws("s3", "ls", f"s3://{bucket_name}/sub dir/").stdout
    assert "data.bin" in sub and "ünïcödé.txt" in sub
    rec = aws("s3", "ls", "--recursive", f"s3://{bucket_name}").stdout
    listed = sorted(line.split(None, 3)[3] for line in rec.splitlines() if line.strip())
    assert listed == sorted(files)

    dst = tmp_path / "dst"
    aws("s3", "cp", "--recursive", f"s3://{bucket_name}/", dst)
    for name, data in files.items():
        assert (dst / name).read_bytes() == data, name

    aws("s3", "rm", f"s3://{bucket_name}/hello.txt")
    assert "hello.txt" not in aws("s3", "ls", "--recursive", f"s3://{bucket_name}").stdout
    aws("s3", "rm", "--recursive", f"s3://{bucket_name}/")
    assert aws("s3", "ls", "--recursive", f"s3://{bucket_name}").stdout.strip() == ""
    aws("s3", "rb", f"s3://{bucket_name}")
    assert bucket_name not in aws("s3", "ls").stdout


def test_s3_sync(aws, bucket, tmp_path):
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    for i in range(5):
        (src / "a" / f"f{i}").write_bytes(bytes([i]) * (i * 1000))
    (src / "a" / "b" / "deep").write_bytes(b"deep")
    # Local files older than the upload: `sync` compares mtimes with LastModified, and a
    # LastModified truncated to the second must not make a just-written file look newer.
    old = time.time() - 3600
    for p in src.rglob("*"):
        os.utime(p, (old, old))
    aws("s3", "sync", src, f"s3://{bucket}/sync")
    # second sync: nothing to do (sizes and mtimes match what the server reports)
    again = aws("s3", "sync", src, f"s3://{bucket}/sync")
    assert "upload:" not in again.stdout, again.stdout
    dst = tmp_path / "dst"
    aws("s3", "sync", f"s3://{bucket}/sync", dst)
    for p in src.rglob("*"):
        if p.is_file():
            assert (dst / p.relative_to(src)).read_bytes() == p.read_bytes()


def test_s3api_object_commands(aws, bucket, tmp_path):
    body = tmp_path / "body.bin"
    data = rand_bytes(70_000, "s3api")
    body.write_bytes(data)

    put = json.loads(
        aws(
            "s3api",
            "put-object",
            "--bucket",
            bucket,
            "--key",
            "api/obj one",
            "--body",
            body,
            "--content-type",
            "application/x-maxio",
            "--metadata",
            "k1=v1,k2=v2",
        ).stdout
    )
    assert put["ETag"] == f'"{md5_hex(data)}"'

    head = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key", "api/obj one").stdout)
    assert head["ContentLength"] == len(data)
    assert head["ContentType"] == "application/x-maxio"
    assert head["Metadata"] == {"k1": "v1", "k2": "v2"}
    assert head["ETag"] == f'"{md5_hex(data)}"'

    out = tmp_path / "out.bin"
    got = json.loads(aws("s3api", "get-object", "--bucket", bucket, "--key", "api/obj one", out).stdout)
    assert got["ContentLength"] == len(data)
    assert out.read_bytes() == data

    rng = tmp_path / "range.bin"
    aws("s3api", "get-object", "--bucket", bucket, "--key", "api/obj one", "--range", "bytes=10-19", rng)
    assert rng.read_bytes() == data[10:20]

    aws("s3api", "put-object", "--bucket", bucket, "--key", "api/second", "--body", body)
    listing = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "api/").stdout)
    assert [o["Key"] for o in listing["Contents"]] == ["api/obj one", "api/second"]
    assert all(o["Size"] == len(data) for o in listing["Contents"])

    paged = json.loads(
        aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "api/", "--page-size", "1").stdout
    )
    assert [o["Key"] for o in paged["Contents"]] == ["api/obj one", "api/second"]

    aws("s3api", "delete-object", "--bucket", bucket, "--key", "api/obj one")
    missing = aws("s3api", "head-object", "--bucket", bucket, "--key", "api/obj one", check=False)
    assert missing.returncode != 0 and "404" in missing.stderr, missing
    listing = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket).stdout)
    assert [o["Key"] for o in listing["Contents"]] == ["api/second"]


def test_s3api_bucket_commands(aws, bucket_name):
    aws("s3api", "create-bucket", "--bucket", bucket_name)
    aws("s3api", "head-bucket", "--bucket", bucket_name)
    names = [b["Name"] for b in json.loads(aws("s3api", "list-buckets").stdout)["Buckets"]]
    assert bucket_name in names
    loc = json.loads(aws("s3api", "get-bucket-location", "--bucket", bucket_name).stdout)
    assert loc.get("LocationConstraint") in (None, "", "us-east-1")
    aws("s3api", "delete-bucket", "--bucket", bucket_name)
    gone = aws("s3api", "head-bucket", "--bucket", bucket_name, check=False)
    assert gone.returncode != 0 and "404" in gone.stderr, gone


_ONE_CONNECTION_SCRIPT = """
import io, sys
import awscli  # first, as `aws` does: its vendored botocore then serves every `botocore` import
from awscli.botocore.config import Config
from awscli.botocore.session import get_session

endpoint, access_key, secret_key, bucket = sys.argv[1:5]
client = get_session().create_client(
    "s3", endpoint_url=endpoint, region_name="us-east-1",
    aws_access_key_id=access_key, aws_secret_access_key=secret_key,
    config=Config(max_pool_connections=1, read_timeout=10, retries={"total_max_attempts": 1},
                  s3={"addressing_style": "path"}),
)
for key, body in [("one/a-empty", b""), ("one/b-small", b"x" * 2000),
                  ("one/c-empty", b""), ("one/d-small", b"y" * 3000)]:
    client.put_object(Bucket=bucket, Key=key, Body=io.BytesIO(body))
    print("stored", key, flush=True)
"""


def test_awscli_http_stack_empty_put_then_put_on_one_connection(server, s3, bucket):
    """aws cli's own HTTP stack: a zero-length PUT, then another PUT on the same connection.

    aws cli 1.46 runs on its vendored botocore, which sends `Expect: 100-continue` on every
    PutObject. If the server answers the zero-length PUT with its final response and no
    `100 Continue` first, that botocore keeps the early-response parser on the connection and the
    next PUT on it is misread and hangs until the read timeout: `aws s3 sync`/`cp` of a tree with
    empty files then fails at random. (boto3's botocore fixed this; aws cli v1's copy did not.)
    The script runs in its own interpreter, imports awscli first as `aws` does, and uses one
    pooled connection so that the reuse is certain.
    """
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _ONE_CONNECTION_SCRIPT, server.endpoint, server.access_key, server.secret_key, bucket],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-2000:]}"
    keys = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"one/a-empty": 0, "one/b-small": 2000, "one/c-empty": 0, "one/d-small": 3000}
