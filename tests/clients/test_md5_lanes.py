"""The ETag's MD5 computed in SIMD lanes across concurrent uploads (issue 22, s3/src/md5_batch.rs).

Many uploads of odd sizes run at once, so that their chunks are hashed together in batches of
different widths and lengths; every ETag must still be the MD5 of its own body (multipart: the
MD5 of the parts' MD5s), and the bytes read back must be the bytes sent. `/metrics` must show
chunks hashed in batches, or the test proved nothing about the lanes.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

from helpers import MiB
from test_metrics import scrape

UPLOADS = 24


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

    after = scrape(server)
    batched = sum(v for k, v in after.items() if k.startswith("maxiofs_md5_chunks_total") and 'mode="batched"' in k)
    batched_before = sum(
        v for k, v in before.items() if k.startswith("maxiofs_md5_chunks_total") and 'mode="batched"' in k
    )
    assert batched > batched_before, "no chunk was hashed in a batch: the lanes were not exercised"
