"""Encryption at rest (SSE-S3): on by default, as on AWS since 2023.

SSE-C (customer-provided keys) works for PUT, GET/HEAD, ranges, multipart and copies between keys.
Objects, multipart uploads and copies are stored encrypted (no plaintext window of them is found
in the segment files or the index), read back whole, by range and by part, and carry
`x-amz-server-side-encryption: AES256`. The master key lives beside the data directory (0600), a
server refuses a key file others can read, and `--encryption off` stores new objects in clear
while encrypted ones stay readable.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat

import pytest

from helpers import MiB, expect_client_error, rand_bytes
from test_tls import tls_bucket, tls_s3, tls_server  # noqa: F401  (fixtures)

# The SSE-C tests talk HTTPS to test_tls's self-signed server on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

SSE = "AES256"


def on_disk(srv, needle: bytes) -> bool:
    """Whether `needle` appears in any file of the data directory (segments and indexes)."""
    for path in srv.data_dir.rglob("*"):
        if path.is_file() and needle in path.read_bytes():
            return True
    return False


def windows(data: bytes, size: int = 4096) -> list[bytes]:
    """A few distinctive windows of `data` to look for on disk."""
    step = max(len(data) // 4, 1)
    return [data[i : i + size] for i in range(0, max(len(data) - size, 1), step)][:4]


def test_put_get_encrypted_by_default(server_factory):
    srv = server_factory()
    s3 = srv.client()
    s3.create_bucket(Bucket="enc")
    big = rand_bytes(3 * MiB + 17, "enc-big")
    small = rand_bytes(1000, "enc-small")
    put = s3.put_object(Bucket="enc", Key="big", Body=big)
    assert put["ServerSideEncryption"] == SSE
    assert s3.put_object(Bucket="enc", Key="small", Body=small)["ServerSideEncryption"] == SSE

    got = s3.get_object(Bucket="enc", Key="big")
    assert got["ServerSideEncryption"] == SSE and got["Body"].read() == big
    assert s3.head_object(Bucket="enc", Key="small")["ServerSideEncryption"] == SSE
    assert s3.get_object(Bucket="enc", Key="small")["Body"].read() == small
    # The ETag of an SSE-S3 object is still the MD5 of its plaintext.
    assert put["ETag"].strip('"') == hashlib.md5(big).hexdigest()
    for first, last in [(0, 0), (MiB - 5, MiB + 5), (2 * MiB, 3 * MiB + 16), (3 * MiB, 3 * MiB + 16)]:
        ranged = s3.get_object(Bucket="enc", Key="big", Range=f"bytes={first}-{last}")["Body"].read()
        assert ranged == big[first : last + 1], (first, last)
    assert s3.get_object(Bucket="enc", Key="small", Range="bytes=10-19")["Body"].read() == small[10:20]
    # Nothing readable on disk: neither the chunk records nor the inline body in the index.
    assert not any(on_disk(srv, w) for w in windows(big))
    assert not on_disk(srv, small[:64])

    key_file = srv.data_dir.parent / "maxiofs-master.key"
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not any(p.name == "maxiofs-master.key" for p in srv.data_dir.rglob("*"))

    # After a restart the same key file opens everything.
    assert srv.terminate() == 0
    srv.restart()
    s3 = srv.client()
    assert s3.get_object(Bucket="enc", Key="big")["Body"].read() == big
    assert s3.get_object(Bucket="enc", Key="small")["Body"].read() == small


def test_multipart_and_copies_are_encrypted(server_factory):
    srv = server_factory()
    s3 = srv.client()
    s3.create_bucket(Bucket="mpu")
    parts_data = [rand_bytes(5 * MiB, "enc-p1"), rand_bytes(2 * MiB + 3, "enc-p2")]
    upload = s3.create_multipart_upload(Bucket="mpu", Key="obj")
    assert upload["ServerSideEncryption"] == SSE
    listed = []
    for number, body in enumerate(parts_data, start=1):
        part = s3.upload_part(Bucket="mpu", Key="obj", UploadId=upload["UploadId"], PartNumber=number, Body=body)
        assert part["ServerSideEncryption"] == SSE
        listed.append({"PartNumber": number, "ETag": part["ETag"]})
    s3.complete_multipart_upload(Bucket="mpu", Key="obj", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": listed})
    whole = b"".join(parts_data)
    got = s3.get_object(Bucket="mpu", Key="obj")
    assert got["ServerSideEncryption"] == SSE and got["Body"].read() == whole
    assert s3.get_object(Bucket="mpu", Key="obj", PartNumber=2)["Body"].read() == parts_data[1]
    edge = s3.get_object(Bucket="mpu", Key="obj", Range=f"bytes={5 * MiB - 10}-{5 * MiB + 10}")["Body"].read()
    assert edge == whole[5 * MiB - 10 : 5 * MiB + 11]
    assert not any(on_disk(srv, w) for w in windows(whole))

    # CopyObject shares the encrypted extents; REPLACE keeps them readable too.
    copied = s3.copy_object(Bucket="mpu", Key="copy", CopySource={"Bucket": "mpu", "Key": "obj"})
    assert copied["ServerSideEncryption"] == SSE
    s3.copy_object(Bucket="mpu", Key="copy-replaced", CopySource={"Bucket": "mpu", "Key": "obj"},
                   MetadataDirective="REPLACE", Metadata={"new": "meta"}, ContentType="text/plain")
    for key in ["copy", "copy-replaced"]:
        got = s3.get_object(Bucket="mpu", Key=key)
        assert got["ServerSideEncryption"] == SSE and got["Body"].read() == whole, key
    assert s3.head_object(Bucket="mpu", Key="copy-replaced")["Metadata"] == {"new": "meta"}

    # UploadPartCopy decrypts the source range and re-encrypts it with the new upload's key.
    small = rand_bytes(3000, "enc-inline-source")
    s3.put_object(Bucket="mpu", Key="inline-src", Body=small)
    upload = s3.create_multipart_upload(Bucket="mpu", Key="assembled")
    first = s3.upload_part_copy(Bucket="mpu", Key="assembled", UploadId=upload["UploadId"], PartNumber=1,
                                CopySource={"Bucket": "mpu", "Key": "obj"},
                                CopySourceRange=f"bytes=0-{5 * MiB + 99}")
    second = s3.upload_part_copy(Bucket="mpu", Key="assembled", UploadId=upload["UploadId"], PartNumber=2,
                                 CopySource={"Bucket": "mpu", "Key": "inline-src"})
    s3.complete_multipart_upload(
        Bucket="mpu", Key="assembled", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
                                   {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]},
    )
    assert s3.get_object(Bucket="mpu", Key="assembled")["Body"].read() == whole[: 5 * MiB + 100] + small


def test_encryption_off_stores_in_clear_and_still_reads_encrypted(server_factory):
    srv = server_factory()
    s3 = srv.client()
    s3.create_bucket(Bucket="mixed")
    secret = rand_bytes(2 * MiB, "enc-before")
    s3.put_object(Bucket="mixed", Key="encrypted", Body=secret)
    assert srv.terminate() == 0
    srv.extra_env["MAXIOFS_ENCRYPTION"] = "off"
    srv.start()
    s3 = srv.client()
    clear = rand_bytes(2 * MiB, "enc-off")
    put = s3.put_object(Bucket="mixed", Key="clear", Body=clear)
    assert "ServerSideEncryption" not in put
    assert on_disk(srv, clear[MiB : MiB + 4096])
    got = s3.get_object(Bucket="mixed", Key="encrypted")
    assert got["ServerSideEncryption"] == SSE and got["Body"].read() == secret
    assert "ServerSideEncryption" not in s3.head_object(Bucket="mixed", Key="clear")
    # Asking for SSE-S3 per request still encrypts (the key file exists).
    asked = s3.put_object(Bucket="mixed", Key="asked", Body=clear, ServerSideEncryption=SSE)
    assert asked["ServerSideEncryption"] == SSE
    assert s3.get_object(Bucket="mixed", Key="asked")["Body"].read() == clear


def test_key_file_rules_and_wrong_key(server_factory):
    srv = server_factory()
    s3 = srv.client()
    s3.create_bucket(Bucket="keys")
    s3.put_object(Bucket="keys", Key="k", Body=rand_bytes(2 * MiB, "enc-keys"))
    assert srv.terminate() == 0
    key_file = srv.data_dir.parent / "maxiofs-master.key"
    os.chmod(key_file, 0o644)
    srv.start(wait=False)
    assert srv.proc.wait(timeout=30) != 0
    assert "readable by others" in srv.stderr_tail()
    os.chmod(key_file, 0o600)

    # Another master key, or none: the server refuses to start rather than write new data under
    # a key the old data cannot be read with.
    srv.extra_env["MAXIOFS_MASTER_KEY"] = base64.b64encode(b"\x07" * 32).decode()
    srv.start(wait=False)
    assert srv.proc.wait(timeout=30) != 0
    assert "start with the original key" in srv.stderr_tail()
    del srv.extra_env["MAXIOFS_MASTER_KEY"]
    moved = key_file.with_name("moved.key")
    key_file.rename(moved)
    srv.start(wait=False)
    assert srv.proc.wait(timeout=30) != 0
    assert "no master key was found" in srv.stderr_tail()
    assert not key_file.exists(), "a missing key must not be silently replaced"
    moved.rename(key_file)
    srv.start()
    assert srv.client().get_object(Bucket="keys", Key="k")["Body"].read() == rand_bytes(2 * MiB, "enc-keys")


def test_unsupported_encryption_requests_are_refused(s3, bucket):
    # SSE-KMS works (test_sse_kms); a key the key store does not have is refused as AWS refuses it.
    err = expect_client_error(s3.put_object, Bucket=bucket, Key="kms", Body=b"x", ServerSideEncryption="aws:kms",
                              SSEKMSKeyId="alias/no-such-key", status=400)
    assert err.response["Error"]["Code"] == "KMS.NotFoundException"
    expect_client_error(s3.put_object, Bucket=bucket, Key="bogus", Body=b"x", ServerSideEncryption="ROT13",
                        code="InvalidArgument", status=400)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


# --------------------------------------------------------------------------- SSE-C
# A customer key is accepted over TLS only (as on AWS): these tests use test_tls's HTTPS server.

CUSTOMER_KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
SSE_C = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": CUSTOMER_KEY}


def test_sse_c_put_get_head_range_and_wrong_keys(tls_s3, tls_bucket):
    s3, bucket = tls_s3, tls_bucket
    data = rand_bytes(2 * MiB + 9, "sse-c")
    put = s3.put_object(Bucket=bucket, Key="c", Body=data, **SSE_C)
    key_md5 = base64.b64encode(hashlib.md5(CUSTOMER_KEY).digest()).decode()
    assert put["SSECustomerAlgorithm"] == "AES256" and put["SSECustomerKeyMD5"] == key_md5
    assert "ServerSideEncryption" not in put
    # As on AWS, the ETag of an SSE-C object is not the MD5 of its content.
    assert put["ETag"].strip('"') != hashlib.md5(data).hexdigest()

    got = s3.get_object(Bucket=bucket, Key="c", **SSE_C)
    assert got["Body"].read() == data and got["SSECustomerKeyMD5"] == key_md5
    assert s3.head_object(Bucket=bucket, Key="c", **SSE_C)["ContentLength"] == len(data)
    ranged = s3.get_object(Bucket=bucket, Key="c", Range="bytes=1048570-1048590", **SSE_C)["Body"].read()
    assert ranged == data[1048570:1048591]

    expect_client_error(s3.get_object, Bucket=bucket, Key="c", code="InvalidRequest", status=400)
    expect_client_error(s3.get_object, Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256",
                        SSECustomerKey=OTHER_KEY, code="AccessDenied", status=403)
    # SSE-C headers on an object that is not SSE-C.
    s3.put_object(Bucket=bucket, Key="s3-managed", Body=b"x")
    expect_client_error(s3.get_object, Bucket=bucket, Key="s3-managed", code="InvalidRequest", status=400, **SSE_C)


def test_sse_c_bad_headers_are_refused(tls_s3, tls_bucket):
    s3, bucket = tls_s3, tls_bucket
    # With an explicit key MD5 botocore sends the key as given: already base64.
    expect_client_error(s3.put_object, Bucket=bucket, Key="bad", Body=b"x", SSECustomerAlgorithm="AES256",
                        SSECustomerKey=base64.b64encode(CUSTOMER_KEY).decode(),
                        SSECustomerKeyMD5=base64.b64encode(b"0" * 16).decode(),
                        code="InvalidArgument", status=400)
    expect_client_error(s3.put_object, Bucket=bucket, Key="bad", Body=b"x", SSECustomerAlgorithm="AES128",
                        SSECustomerKey=CUSTOMER_KEY, code="InvalidArgument", status=400)
    expect_client_error(s3.put_object, Bucket=bucket, Key="bad", Body=b"x", SSECustomerAlgorithm="AES256",
                        SSECustomerKey=b"short", code="InvalidArgument", status=400)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_sse_c_multipart_and_copies(tls_s3, tls_bucket):
    s3, bucket = tls_s3, tls_bucket
    parts_data = [rand_bytes(5 * MiB, "sse-c-p1"), rand_bytes(MiB + 1, "sse-c-p2")]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", **SSE_C)
    assert upload["SSECustomerAlgorithm"] == "AES256"
    expect_client_error(s3.upload_part, Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1,
                        Body=parts_data[0], code="InvalidRequest", status=400)
    listed = []
    for number, body in enumerate(parts_data, start=1):
        part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=number,
                              Body=body, **SSE_C)
        listed.append({"PartNumber": number, "ETag": part["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": listed})
    whole = b"".join(parts_data)
    assert s3.get_object(Bucket=bucket, Key="mp", **SSE_C)["Body"].read() == whole
    expect_client_error(s3.get_object, Bucket=bucket, Key="mp", code="InvalidRequest", status=400)

    source_key = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": CUSTOMER_KEY}
    # SSE-C -> server-managed: readable without a key afterwards.
    expect_client_error(s3.copy_object, Bucket=bucket, Key="to-s3", CopySource={"Bucket": bucket, "Key": "mp"},
                        code="InvalidRequest", status=400)
    s3.copy_object(Bucket=bucket, Key="to-s3", CopySource={"Bucket": bucket, "Key": "mp"}, **source_key)
    got = s3.get_object(Bucket=bucket, Key="to-s3")
    assert got["ServerSideEncryption"] == SSE and got["Body"].read() == whole
    # SSE-C -> another SSE-C key.
    copied = s3.copy_object(Bucket=bucket, Key="to-other", CopySource={"Bucket": bucket, "Key": "mp"},
                            **source_key, SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER_KEY)
    assert copied["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(OTHER_KEY).digest()).decode()
    assert s3.get_object(Bucket=bucket, Key="to-other", SSECustomerAlgorithm="AES256",
                         SSECustomerKey=OTHER_KEY)["Body"].read() == whole
    expect_client_error(s3.get_object, Bucket=bucket, Key="to-other", code="AccessDenied", status=403, **SSE_C)
    # Server-managed -> SSE-C.
    s3.put_object(Bucket=bucket, Key="plain-src", Body=b"server managed")
    s3.copy_object(Bucket=bucket, Key="to-c", CopySource={"Bucket": bucket, "Key": "plain-src"}, **SSE_C)
    assert s3.get_object(Bucket=bucket, Key="to-c", **SSE_C)["Body"].read() == b"server managed"
    # UploadPartCopy from an SSE-C source into a server-managed upload.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="assembled")
    part = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload["UploadId"], PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "mp"}, CopySourceRange="bytes=0-99",
                               **source_key)
    s3.complete_multipart_upload(Bucket=bucket, Key="assembled", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1,
                                                             "ETag": part["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == whole[:100]


def test_copy_that_changes_key_reencrypts(tls_s3, tls_bucket):
    s3, bucket = tls_s3, tls_bucket
    """Rotating an SSE-C key by copying in place: afterwards only the new key opens the object,
    and a copy of an object stored in clear that asks for SSE-S3 is encrypted."""
    data = rand_bytes(MiB + 77, "rotate")
    s3.put_object(Bucket=bucket, Key="rot", Body=data, **SSE_C)
    copied = s3.copy_object(Bucket=bucket, Key="rot", CopySource={"Bucket": bucket, "Key": "rot"},
                            CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=CUSTOMER_KEY,
                            SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER_KEY)
    assert copied["CopyObjectResult"]["ETag"].strip('"') != hashlib.md5(data).hexdigest()
    assert s3.get_object(Bucket=bucket, Key="rot", SSECustomerAlgorithm="AES256",
                         SSECustomerKey=OTHER_KEY)["Body"].read() == data
    expect_client_error(s3.get_object, Bucket=bucket, Key="rot", code="AccessDenied", status=403, **SSE_C)


def test_copy_of_clear_object_asking_for_sse_is_encrypted(server_factory):
    srv = server_factory(env={"MAXIOFS_ENCRYPTION": "off"})
    s3 = srv.client()
    s3.create_bucket(Bucket="clear-src")
    data = rand_bytes(MiB, "clear-copy")
    s3.put_object(Bucket="clear-src", Key="plain", Body=data)
    assert srv.terminate() == 0
    srv.extra_env["MAXIOFS_ENCRYPTION"] = "on"
    srv.start()
    s3 = srv.client()
    copied = s3.copy_object(Bucket="clear-src", Key="sealed", CopySource={"Bucket": "clear-src", "Key": "plain"},
                            ServerSideEncryption=SSE)
    assert copied["ServerSideEncryption"] == SSE
    got = s3.get_object(Bucket="clear-src", Key="sealed")
    assert got["ServerSideEncryption"] == SSE and got["Body"].read() == data
    # In place, only the encryption changes: allowed, as on AWS.
    s3.copy_object(Bucket="clear-src", Key="plain", CopySource={"Bucket": "clear-src", "Key": "plain"},
                   ServerSideEncryption=SSE)
    assert s3.head_object(Bucket="clear-src", Key="plain")["ServerSideEncryption"] == SSE


def test_sse_c_over_plain_http_is_refused(s3, bucket):
    expect_client_error(s3.put_object, Bucket=bucket, Key="c", Body=b"secret", code="InvalidRequest", status=400,
                        **SSE_C)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_get_bucket_encryption_reports_the_default(s3, bucket, server_factory):
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == SSE
    expect_client_error(s3.get_bucket_encryption, Bucket="no-such-bucket-here", code="NoSuchBucket", status=404)
    srv = server_factory(env={"MAXIOFS_ENCRYPTION": "off"})
    clear = srv.client()
    clear.create_bucket(Bucket="clear")
    expect_client_error(clear.get_bucket_encryption, Bucket="clear",
                        code="ServerSideEncryptionConfigurationNotFoundError", status=404)


def server_disk_read_bytes(srv) -> int:
    """Bytes the server process read from storage (O_DIRECT reads included)."""
    for line in open(f"/proc/{srv.proc.pid}/io"):
        if line.startswith("read_bytes:"):
            return int(line.split()[1])
    raise AssertionError("no read_bytes in /proc/<pid>/io")


def test_range_get_reads_only_the_chunks_it_needs(server_factory):
    # No scrubber or compactor reading behind the test's back.
    srv = server_factory(env={"MAXIOFS_SCRUB_RATE_MIB": "0", "MAXIOFS_COMPACT_RATE_MIB": "0"})
    s3 = srv.client()
    s3.create_bucket(Bucket="ranged")
    body = rand_bytes(48 * MiB, "ranged-object")
    s3.put_object(Bucket="ranged", Key="big", Body=body)
    assert s3.head_object(Bucket="ranged", Key="big")["ServerSideEncryption"] == SSE
    start = 20 * MiB + 12345
    before = server_disk_read_bytes(srv)
    got = s3.get_object(Bucket="ranged", Key="big", Range=f"bytes={start}-{start + 99}")["Body"].read()
    ranged = server_disk_read_bytes(srv) - before
    assert got == body[start : start + 100]
    # One 1 MiB chunk record (two if the range straddled a boundary), plus index pages.
    assert ranged <= 3 * MiB, f"a 100-byte range read {ranged} bytes from disk"
    before = server_disk_read_bytes(srv)
    assert s3.get_object(Bucket="ranged", Key="big")["Body"].read() == body
    assert server_disk_read_bytes(srv) - before >= 48 * MiB, "a whole GET reads every chunk"
