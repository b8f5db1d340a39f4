"""Master key rotation: `maxiofs admin rotate-key` (server stopped) makes a fresh key current and
keeps the earlier one in the key file; the restarted server reads every older object, writes new
ones under the new key, re-wraps the older data keys in the background and logs "re-wrap
complete"; after that the earlier key can be dropped from the file and everything still reads.
`maxiofs check` verifies encrypted chunks' tags with the key file.
"""

from __future__ import annotations

import os
import subprocess
import time

from conftest import SERVER_BIN
from helpers import KiB, MiB, rand_bytes

REWRAP_DONE = "re-wrap complete"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAXIOFS_")}
    return subprocess.run(
        [str(SERVER_BIN), *args], capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL
    )


def wait_for_log(srv, text: str, count: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if srv.stderr_since(0, max_lines=100000).count(text) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not logged {count} times within {timeout_s}s:\n{srv.stderr_tail()}")


def test_rotate_key_rewraps_and_old_key_can_go(server_factory):
    srv = server_factory()
    s3 = srv.client()
    s3.create_bucket(Bucket="rotated")
    before = {f"old/{n}": rand_bytes(n * 300 * KiB + 10, f"rot-{n}") for n in range(6)}
    for key, body in before.items():
        s3.put_object(Bucket="rotated", Key=key, Body=body)
    # SSE-KMS: the key store's material is sealed with the master key; the restart after the
    # rotation seals it anew with the new one, so the old key can go for these objects too.
    s3.put_object(Bucket="rotated", Key="old/kms", Body=b"kms before rotation", ServerSideEncryption="aws:kms")
    # An upload started under the old key and completed after the rotation.
    upload = s3.create_multipart_upload(Bucket="rotated", Key="old/multipart")
    part1 = rand_bytes(5 * MiB, "rot-part-1")
    etag1 = s3.upload_part(Bucket="rotated", Key="old/multipart", UploadId=upload["UploadId"], PartNumber=1, Body=part1)["ETag"]
    assert srv.terminate() == 0

    key_file = srv.data_dir.parent / "maxiofs-master.key"
    old_lines = key_file.read_text().split()
    assert len(old_lines) == 1
    rotated = run_cli("admin", "rotate-key", "--data-dir", str(srv.data_dir))
    assert rotated.returncode == 0, rotated.stderr
    assert "is now current" in rotated.stdout
    lines = key_file.read_text().split()
    assert len(lines) == 2 and lines[1] == old_lines[0], "the earlier key stays, after the new one"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"

    srv.start()
    s3 = srv.client()
    for key, body in before.items():
        assert s3.get_object(Bucket="rotated", Key=key)["Body"].read() == body
    part2 = rand_bytes(1 * MiB, "rot-part-2")
    etag2 = s3.upload_part(Bucket="rotated", Key="old/multipart", UploadId=upload["UploadId"], PartNumber=2, Body=part2)["ETag"]
    s3.complete_multipart_upload(
        Bucket="rotated",
        Key="old/multipart",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag1}, {"PartNumber": 2, "ETag": etag2}]},
    )
    new_body = rand_bytes(2 * MiB, "rot-new")
    s3.put_object(Bucket="rotated", Key="new", Body=new_body)
    # One line per shard once its data keys all use the new key.
    wait_for_log(srv, REWRAP_DONE, srv.shards)
    assert srv.terminate() == 0

    check = run_cli("check", "--data-dir", str(srv.data_dir))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "encrypted chunk tags verified" in check.stdout

    # Only the new key now: every object, old or new, still reads.
    key_file.write_text(lines[0] + "\n")
    srv.start()
    s3 = srv.client()
    for key, body in before.items():
        assert s3.get_object(Bucket="rotated", Key=key)["Body"].read() == body
    assert s3.get_object(Bucket="rotated", Key="old/multipart")["Body"].read() == part1 + part2
    assert s3.get_object(Bucket="rotated", Key="new")["Body"].read() == new_body
    assert s3.get_object(Bucket="rotated", Key="old/kms")["Body"].read() == b"kms before rotation"


def test_rotate_key_refuses_a_running_server_and_env_keys(server_factory):
    srv = server_factory()
    srv.client().create_bucket(Bucket="busy")
    running = run_cli("admin", "rotate-key", "--data-dir", str(srv.data_dir))
    assert running.returncode != 0
    assert "lock" in running.stderr.lower() or "in use" in running.stderr.lower(), running.stderr
    assert srv.terminate() == 0
    env_keyed = subprocess.run(
        [str(SERVER_BIN), "admin", "rotate-key", "--data-dir", str(srv.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("MAXIOFS_")}, "MAXIOFS_MASTER_KEY": "AAAA"},
        stdin=subprocess.DEVNULL,
    )
    assert env_keyed.returncode != 0
    assert "MAXIOFS_MASTER_KEY" in env_keyed.stderr
