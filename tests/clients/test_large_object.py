"""A 200 MiB single PUT streamed from a file: the server must not buffer the object.

Single PUT on purpose (multipart is a later issue): boto3's put_object never splits.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

import psutil

from helpers import MiB

SIZE = 200 * MiB
MAX_RSS_GROWTH = 100 * MiB


class RssSampler:
    """Samples the server's RSS every few ms in a background thread."""

    def __init__(self, pid: int, interval: float = 0.01):
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.baseline = self.proc.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        try:
            self.peak = max(self.peak, self.proc.memory_info().rss)
        except psutil.Error:
            pass

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def test_200mib_single_put_streams(server, s3, bucket, tmp_path):
    path = tmp_path / "big.bin"
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        for _ in range(SIZE // (8 * MiB)):
            chunk = os.urandom(8 * MiB)
            md5.update(chunk)
            f.write(chunk)
    expected_md5 = md5.hexdigest()

    time.sleep(0.5)  # let the server settle before taking the baseline
    with open(path, "rb") as f, RssSampler(server.pid) as up:
        put = s3.put_object(Bucket=bucket, Key="big/200mib.bin", Body=f)
    assert put["ETag"] == f'"{expected_md5}"'
    assert up.growth < MAX_RSS_GROWTH, (
        f"server RSS grew by {up.growth / MiB:.1f} MiB during a {SIZE // MiB} MiB PUT "
        f"(baseline {up.baseline / MiB:.1f} MiB, peak {up.peak / MiB:.1f} MiB): the body is being buffered"
    )

    head = s3.head_object(Bucket=bucket, Key="big/200mib.bin")
    assert head["ContentLength"] == SIZE
    assert head["ETag"] == f'"{expected_md5}"'

    got_md5 = hashlib.md5()
    received = 0
    with RssSampler(server.pid) as down:
        body = s3.get_object(Bucket=bucket, Key="big/200mib.bin")["Body"]
        for chunk in body.iter_chunks(1 * MiB):
            got_md5.update(chunk)
            received += len(chunk)
    assert received == SIZE
    assert got_md5.hexdigest() == expected_md5, "downloaded bytes differ from the uploaded file"
    # ranges near the end of a large object
    with open(path, "rb") as f:
        for start, length in [(SIZE - 100, 100), (150 * MiB + 12345, 3 * MiB), (0, 1)]:
            f.seek(start)
            want = f.read(length)
            got = s3.get_object(Bucket=bucket, Key="big/200mib.bin", Range=f"bytes={start}-{start + length - 1}")
            assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
            assert got["Body"].read() == want, f"range {start}+{length} of the 200 MiB object differs"
    assert down.growth < MAX_RSS_GROWTH, (
        f"server RSS grew by {down.growth / MiB:.1f} MiB while serving a {SIZE // MiB} MiB GET "
        f"(baseline {down.baseline / MiB:.1f} MiB, peak {down.peak / MiB:.1f} MiB)"
    )


def test_transfer_manager_upload_and_parallel_ranged_download(s3, bucket, tmp_path):
    """boto3's upload_file/download_file (s3transfer).

    The upload uses the default config (multipart over 8 MiB, parts in parallel); so does the
    download, which fetches the 40 MiB object as concurrent ranged GETs.
    """
    from boto3.s3.transfer import TransferConfig

    src = tmp_path / "src.bin"
    data = os.urandom(40 * MiB + 333)
    src.write_bytes(data)
    s3.upload_file(str(src), bucket, "transfer/obj.bin")
    head = s3.head_object(Bucket=bucket, Key="transfer/obj.bin")
    # 8 MiB parts: five full and a 333-byte last one.
    chunk = 8 * MiB
    part_md5s = b"".join(hashlib.md5(data[i : i + chunk]).digest() for i in range(0, len(data), chunk))
    assert head["ETag"] == f'"{hashlib.md5(part_md5s).hexdigest()}-6"', "expected a 6-part upload"

    dst = tmp_path / "dst.bin"
    s3.download_file(bucket, "transfer/obj.bin", str(dst), Config=TransferConfig(max_concurrency=8))
    assert hashlib.md5(dst.read_bytes()).hexdigest() == hashlib.md5(data).hexdigest()
