"""The ETag's MD5 computed in SIMD lanes across concurrent uploads (issue 22, s3/src/md5_batch.rs).

Many uploads of odd sizes run at once, so that their chunks are hashed together in batches of
different widths and lengths; every ETag must still be the MD5 of its own body (multipart: the
MD5 of the parts' MD5s), and the bytes read back must be the bytes sent. `/metrics` must show
chunks hashed in batches, or the test proved nothing about the lanes.
"""

from __future__ import annotations

import base64
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions
import pytest
from helpers import MiB
from test_metrics import scrape

UPLOADS = 24


def md5_chunks(sample: dict, mode: str) -> float:
    """`maxiofs_md5_chunks_total` of one mode, summed over the shards."""
    return sum(v for k, v in sample.items() if k.startswith("maxiofs_md5_chunks_total") and f'mode="{mode}"' in k)


def test_concurrent_uploads_each_get_their_own_md5(server, bucket):
    s3 = server.client()  # 48 pooled connections: every upload at once
    bodies = {f"obj-{i}": os.urandom(MiB + 4099 * i + i % 7) for i in range(UPLOADS)}
    before = scrape(server)

    def put(key: str) -> str:
        return s3.put_object(Bucket=bucket, Key=key, Body=bodies[key])["ETag"]

    def multipart(key: str) -> str:
        parts = [os.urandom(5 * MiB + 13), os.urandom(2 * MiB + 1)]
        bodies[key] = b"".join(parts)
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        listed = [
            {"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n,
                                                     Body=part)["ETag"]}
            for n, part in enumerate(parts, start=1)
        ]  # fmt: skip
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": listed})
        digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
        return f'"{digest}-2"'

    with ThreadPoolExecutor(max_workers=UPLOADS + 2) as pool:
        puts = {key: pool.submit(put, key) for key in list(bodies)}
        uploads = {key: pool.submit(multipart, key) for key in ("mp-a", "mp-b")}
        etags = {key: future.result() for key, future in puts.items()}
        expected_multipart = {key: future.result() for key, future in uploads.items()}

    for key, etag in etags.items():
        assert etag == f'"{hashlib.md5(bodies[key]).hexdigest()}"', key
    for key, expected in expected_multipart.items():
        assert s3.head_object(Bucket=bucket, Key=key)["ETag"] == expected, key
    for key, body in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key

    batched = md5_chunks(scrape(server), "batched") - md5_chunks(before, "batched")
    assert batched > 0, "no chunk was hashed in a batch: the lanes were not exercised"


def test_small_puts_get_their_md5_from_the_commit(server, bucket):
    """Small bodies' ETags are computed by the owner's commit loop, a batch's together in lanes
    (engine::index::Md5AtCommit). Concurrent small PUTs of every kind of length must each get the
    MD5 of their own bytes, in the PUT's answer, HEAD, GET and listings alike; a PUT whose MD5 is
    needed earlier (Content-MD5) keeps the old path, and a refused write stores nothing."""
    s3 = server.client()
    before = scrape(server)
    lengths = [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 4095, 4096] + [(i * 331) % 4097 for i in range(52)]
    bodies = {f"small-{i}": os.urandom(n) for i, n in enumerate(lengths)}

    def put(key: str) -> str:
        return s3.put_object(Bucket=bucket, Key=key, Body=bodies[key])["ETag"]

    with ThreadPoolExecutor(max_workers=48) as pool:
        etags = dict(zip(bodies, pool.map(put, bodies)))
    for key, body in bodies.items():
        expected = f'"{hashlib.md5(body).hexdigest()}"'
        assert etags[key] == expected, key
        assert s3.head_object(Bucket=bucket, Key=key)["ETag"] == expected, key
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["ETag"] == expected and got["Body"].read() == body, key
    listed = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="small-")["Contents"]}
    assert listed == {key: f'"{hashlib.md5(body).hexdigest()}"' for key, body in bodies.items()}

    at_commit = md5_chunks(scrape(server), "commit") - md5_chunks(before, "commit")
    assert at_commit >= len(bodies), "small PUTs were not hashed at commit"

    # Content-MD5 is checked before the commit: right passes, wrong is BadDigest and stores nothing.
    body = os.urandom(3000)
    md5 = hashlib.md5(body)
    good = base64.b64encode(md5.digest()).decode()
    assert s3.put_object(Bucket=bucket, Key="with-md5", Body=body, ContentMD5=good)["ETag"] == f'"{md5.hexdigest()}"'
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="bad-md5", Body=body, ContentMD5=wrong)
    assert refused.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="bad-md5")

    # A conditional write refused at the commit leaves the stored object and its ETag as they were.
    with pytest.raises(botocore.exceptions.ClientError) as conflict:
        s3.put_object(Bucket=bucket, Key="small-3", Body=b"replacement", IfNoneMatch="*")
    assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.head_object(Bucket=bucket, Key="small-3")["ETag"] == etags["small-3"]

    # An overwrite gets the new body's ETag.
    replaced = s3.put_object(Bucket=bucket, Key="small-3", Body=b"replacement")["ETag"]
    assert replaced == f'"{hashlib.md5(b"replacement").hexdigest()}"'
    assert s3.head_object(Bucket=bucket, Key="small-3")["ETag"] == replaced
