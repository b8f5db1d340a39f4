"""A bucket's default encryption: PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption.

A bucket configured with SSE-S3 (AES256) encrypts every new object (PUT, multipart, copies into it)
even on a server running with `--encryption off`, as long as the server has a master key; a bucket
without a configuration follows the server's default, which GetBucketEncryption then reports. KMS is
not available (no KMS here) and is refused.
The configuration survives restarts and goes with its bucket.
"""

from __future__ import annotations

import base64
import json

from helpers import MiB, expect_client_error, md5_b64, rand_bytes, signed_requests_call, xml_error_code
from test_encryption import on_disk, windows

SSE = "AES256"
MASTER_KEY_B64 = base64.b64encode(bytes(range(100, 132))).decode()


def config(algorithm: str = SSE, bucket_key: bool | None = None, kms_key_id: str | None = None) -> dict:
    by_default = {"SSEAlgorithm": algorithm}
    if kms_key_id is not None:
        by_default["KMSMasterKeyID"] = kms_key_id
    rule = {"ApplyServerSideEncryptionByDefault": by_default}
    if bucket_key is not None:
        rule["BucketKeyEnabled"] = bucket_key
    return {"Rules": [rule]}


def the_rule(s3, bucket: str) -> dict:
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert len(rules) == 1, rules
    return rules[0]


def test_put_get_delete_round_trip(s3, bucket):
    # The shared server encrypts by default: a bucket without a configuration reports that.
    default = the_rule(s3, bucket)
    assert default["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": SSE}
    assert default["BucketKeyEnabled"] is False

    put = s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config(bucket_key=True))
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    rule = the_rule(s3, bucket)
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": SSE}
    assert rule["BucketKeyEnabled"] is True
    # Replacing it.
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config())
    assert the_rule(s3, bucket)["BucketKeyEnabled"] is False
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config(bucket_key=True))

    deleted = s3.delete_bucket_encryption(Bucket=bucket)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert the_rule(s3, bucket) == default
    # Deleting what is not there is no error, as on AWS.
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ServerSideEncryption"] == SSE


def test_missing_bucket(s3):
    for call in (s3.get_bucket_encryption, s3.delete_bucket_encryption):
        expect_client_error(call, Bucket="no-such-bucket-here", code="NoSuchBucket", status=404)
    expect_client_error(s3.put_bucket_encryption, Bucket="no-such-bucket-here",
                        ServerSideEncryptionConfiguration=config(), code="NoSuchBucket", status=404)


def test_kms_key_ids_need_kms(s3, bucket):
    """SSE-KMS defaults are kept (test_sse_kms covers them); a KMSMasterKeyID with AES256 is refused, as on
    AWS."""
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config(bucket_key=True))
    refused = config(SSE, kms_key_id="arn:aws:kms:us-east-1:1234/5678")
    exc = expect_client_error(s3.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration=refused,
                              code="InvalidArgument", status=400)
    assert exc.response["Error"]["Message"]
    # The configuration in place stays.
    assert the_rule(s3, bucket)["BucketKeyEnabled"] is True


def raw_put_encryption(server, bucket: str, body: bytes, headers: dict | None = None):
    headers = {"Content-MD5": md5_b64(body)} if headers is None else headers
    return signed_requests_call(server.endpoint, server.access_key, server.secret_key, "PUT", f"/{bucket}",
                                query="encryption", headers=headers, body=body)


def by_default_xml(algorithm: str, xmlns: bool) -> bytes:
    ns = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' if xmlns else ""
    return (f"<ServerSideEncryptionConfiguration{ns}><Rule><ApplyServerSideEncryptionByDefault>"
            f"<SSEAlgorithm>{algorithm}</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
            "</ServerSideEncryptionConfiguration>").encode()


def test_malformed_xml_and_integrity_headers(server, s3, bucket):
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config(bucket_key=True))
    malformed = [
        b"",
        b"not xml at all",
        b"<ServerSideEncryptionConfiguration><Rule>",
        b"<Tagging><TagSet/></Tagging>",
        b"<ServerSideEncryptionConfiguration/>",
        b"<ServerSideEncryptionConfiguration><Rule/></ServerSideEncryptionConfiguration>",
        by_default_xml("SSE-KMS", xmlns=True),
        by_default_xml("aes256", xmlns=False),
    ]
    for body in malformed:
        r = raw_put_encryption(server, bucket, body)
        assert (r.status_code, xml_error_code(r.text)) == (400, "MalformedXML"), (body, r.text)

    # AWS requires Content-MD5 (or a flexible checksum) on this call; a wrong one is a BadDigest.
    body = by_default_xml(SSE, xmlns=True)
    r = raw_put_encryption(server, bucket, body, headers={})
    assert (r.status_code, xml_error_code(r.text)) == (400, "InvalidRequest"), r.text
    r = raw_put_encryption(server, bucket, body, headers={"Content-MD5": md5_b64(b"other")})
    assert (r.status_code, xml_error_code(r.text)) == (400, "BadDigest"), r.text
    # None of the refused bodies replaced the configuration in place.
    assert the_rule(s3, bucket)["BucketKeyEnabled"] is True

    # With the S3 namespace or without it.
    for xmlns in (True, False):
        r = raw_put_encryption(server, bucket, by_default_xml(SSE, xmlns))
        assert r.status_code == 200 and r.content == b"", r.text
        assert the_rule(s3, bucket)["BucketKeyEnabled"] is False
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config(bucket_key=True))


def test_encryption_off_still_has_a_key_for_bucket_defaults(server_factory):
    """With encryption off and no key given, the first start still generates the master key
    beside the data directory (it seals the stored secrets), so a bucket can ask for its new
    objects to be encrypted; other buckets keep storing in clear."""
    srv = server_factory(env={"MAXIOFS_ENCRYPTION": "off"})
    assert (srv.data_dir.parent / "maxiofs-master.key").exists()
    s3 = srv.client()
    s3.create_bucket(Bucket="keyed")
    s3.create_bucket(Bucket="clear")
    expect_client_error(s3.get_bucket_encryption, Bucket="keyed",
                        code="ServerSideEncryptionConfigurationNotFoundError", status=404)
    s3.put_bucket_encryption(Bucket="keyed", ServerSideEncryptionConfiguration=config())
    assert s3.put_object(Bucket="keyed", Key="k", Body=b"secret")["ServerSideEncryption"] == "AES256"
    assert "ServerSideEncryption" not in s3.put_object(Bucket="clear", Key="k", Body=b"clear")
    assert s3.get_object(Bucket="keyed", Key="k")["Body"].read() == b"secret"


def test_bucket_default_encrypts_with_server_encryption_off(server_factory):
    srv = server_factory(env={"MAXIOFS_ENCRYPTION": "off", "MAXIOFS_MASTER_KEY": MASTER_KEY_B64})
    s3 = srv.client()
    s3.create_bucket(Bucket="sealed")
    s3.create_bucket(Bucket="open")
    expect_client_error(s3.get_bucket_encryption, Bucket="sealed",
                        code="ServerSideEncryptionConfigurationNotFoundError", status=404)
    s3.put_bucket_encryption(Bucket="sealed", ServerSideEncryptionConfiguration=config())
    assert the_rule(s3, "sealed")["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == SSE
    expect_client_error(s3.get_bucket_encryption, Bucket="open",
                        code="ServerSideEncryptionConfigurationNotFoundError", status=404)

    big, small = rand_bytes(2 * MiB + 5, "bucket-enc-big"), rand_bytes(900, "bucket-enc-small")
    clear = rand_bytes(2 * MiB, "bucket-enc-clear")
    assert s3.put_object(Bucket="sealed", Key="big", Body=big)["ServerSideEncryption"] == SSE
    assert s3.put_object(Bucket="sealed", Key="small", Body=small)["ServerSideEncryption"] == SSE
    assert "ServerSideEncryption" not in s3.put_object(Bucket="open", Key="clear", Body=clear)

    # Multipart: the upload gets its key at creation, from the bucket's default.
    parts = [rand_bytes(5 * MiB, "bucket-enc-p1"), rand_bytes(MiB + 1, "bucket-enc-p2")]
    upload = s3.create_multipart_upload(Bucket="sealed", Key="mp")
    assert upload["ServerSideEncryption"] == SSE
    listed = []
    for number, body in enumerate(parts, start=1):
        part = s3.upload_part(Bucket="sealed", Key="mp", UploadId=upload["UploadId"], PartNumber=number, Body=body)
        assert part["ServerSideEncryption"] == SSE
        listed.append({"PartNumber": number, "ETag": part["ETag"]})
    s3.complete_multipart_upload(Bucket="sealed", Key="mp", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": listed})

    # A copy of a clear object into the bucket is encrypted; out of it, follows the destination.
    copied = s3.copy_object(Bucket="sealed", Key="copied", CopySource={"Bucket": "open", "Key": "clear"})
    assert copied["ServerSideEncryption"] == SSE

    for key, data in [("big", big), ("small", small), ("mp", b"".join(parts)), ("copied", clear)]:
        assert s3.head_object(Bucket="sealed", Key=key)["ServerSideEncryption"] == SSE, key
        got = s3.get_object(Bucket="sealed", Key=key)
        assert got["ServerSideEncryption"] == SSE and got["Body"].read() == data, key
    assert "ServerSideEncryption" not in s3.head_object(Bucket="open", Key="clear")
    # Nothing of the encrypted objects is readable on disk; the other bucket's object is in clear.
    assert not any(on_disk(srv, w) for w in windows(big) + windows(b"".join(parts)))
    assert not on_disk(srv, small[:64])
    assert on_disk(srv, clear[MiB : MiB + 4096])

    # The configuration survives a restart.
    assert srv.terminate() == 0
    srv.restart()
    s3 = srv.client()
    assert the_rule(s3, "sealed")["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == SSE
    expect_client_error(s3.get_bucket_encryption, Bucket="open",
                        code="ServerSideEncryptionConfigurationNotFoundError", status=404)
    assert s3.put_object(Bucket="sealed", Key="after", Body=b"after restart")["ServerSideEncryption"] == SSE
    assert s3.get_object(Bucket="sealed", Key="big")["Body"].read() == big

    # Deleting it: new objects follow the server default again (clear), old ones stay readable.
    s3.delete_bucket_encryption(Bucket="sealed")
    expect_client_error(s3.get_bucket_encryption, Bucket="sealed",
                        code="ServerSideEncryptionConfigurationNotFoundError", status=404)
    assert "ServerSideEncryption" not in s3.put_object(Bucket="sealed", Key="later", Body=b"clear again")
    assert s3.get_object(Bucket="sealed", Key="small")["Body"].read() == small


def test_deleting_the_bucket_drops_its_configuration(server_factory):
    srv = server_factory(env={"MAXIOFS_ENCRYPTION": "off", "MAXIOFS_MASTER_KEY": MASTER_KEY_B64})
    s3 = srv.client()
    s3.create_bucket(Bucket="reborn")
    s3.put_bucket_encryption(Bucket="reborn", ServerSideEncryptionConfiguration=config(bucket_key=True))
    s3.put_object(Bucket="reborn", Key="k", Body=b"x")
    expect_client_error(s3.delete_bucket, Bucket="reborn", code="BucketNotEmpty", status=409)
    assert the_rule(s3, "reborn")["BucketKeyEnabled"] is True
    s3.delete_object(Bucket="reborn", Key="k")
    s3.delete_bucket(Bucket="reborn")
    expect_client_error(s3.get_bucket_encryption, Bucket="reborn", code="NoSuchBucket", status=404)
    s3.create_bucket(Bucket="reborn")
    expect_client_error(s3.get_bucket_encryption, Bucket="reborn",
                        code="ServerSideEncryptionConfigurationNotFoundError", status=404)
    assert "ServerSideEncryption" not in s3.put_object(Bucket="reborn", Key="k", Body=b"x")
    # Still none after a restart (nothing of the old bucket's configuration was left behind).
    assert srv.terminate() == 0
    srv.restart()
    expect_client_error(srv.client().get_bucket_encryption, Bucket="reborn",
                        code="ServerSideEncryptionConfigurationNotFoundError", status=404)


def test_awscli_put_get_delete_bucket_encryption(aws, bucket):
    configuration = json.dumps(config(bucket_key=True))
    aws("s3api", "put-bucket-encryption", "--bucket", bucket, "--server-side-encryption-configuration", configuration)
    got = json.loads(aws("s3api", "get-bucket-encryption", "--bucket", bucket).stdout)
    rule = got["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule == {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": SSE}, "BucketKeyEnabled": True}
    key_id_without_kms = json.dumps(config(SSE, kms_key_id="alias/backups"))
    refused = aws("s3api", "put-bucket-encryption", "--bucket", bucket, "--server-side-encryption-configuration",
                  key_id_without_kms, check=False)
    assert refused.returncode != 0 and "InvalidArgument" in refused.stderr, refused
    aws("s3api", "delete-bucket-encryption", "--bucket", bucket)
    got = json.loads(aws("s3api", "get-bucket-encryption", "--bucket", bucket).stdout)
    assert got["ServerSideEncryptionConfiguration"]["Rules"][0]["BucketKeyEnabled"] is False


def test_virtual_host_style(s3_virtual, bucket):
    s3_virtual.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config(bucket_key=True))
    assert the_rule(s3_virtual, bucket)["BucketKeyEnabled"] is True
    s3_virtual.delete_bucket_encryption(Bucket=bucket)
    assert the_rule(s3_virtual, bucket)["BucketKeyEnabled"] is False
