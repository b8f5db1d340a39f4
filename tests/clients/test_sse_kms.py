"""SSE-KMS with the built-in key store (issue 21): `aws:kms` and `aws:kms:dsse` on PUT, copy,
multipart and as a bucket default, with key ids, key ARNs, aliases, encryption context and the
bucket key flag; keys created, rotated and disabled through the admin API; AWS's errors for
unknown and disabled keys; SSE-KMS, SSE-C and SSE-S3 objects copied into each other with the
bytes verified. SSE-C runs over plain HTTP here through --sse-c-allow-plain-http (a lab
setting; test_encryption covers SSE-C over TLS)."""

import base64
import hashlib
import json
import os

import pytest
from admin_api import AdminApi
from helpers import expect_client_error

CUSTOMER_KEY = bytes(range(32))
SSE_C = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": CUSTOMER_KEY}
COPY_SSE_C = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": CUSTOMER_KEY}
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def kms_server(request):
    from conftest import MaxioServer
    srv = MaxioServer("sse-kms", env={"MAXIOFS_SSE_C_ALLOW_PLAIN_HTTP": "true"}).start()
    yield srv
    srv.kill9()
    srv.cleanup_data()


@pytest.fixture(scope="module")
def admin(kms_server):
    return AdminApi(kms_server)


@pytest.fixture(scope="module")
def s3(kms_server):
    client = kms_server.client()
    client.create_bucket(Bucket="kms")
    return client


def default_key(admin, tenant="default"):
    keys = admin.call("GET", f"/tenants/{tenant}/kms-keys", expect=200).json()["kms_keys"]
    return next(k for k in keys if k["alias"] == "alias/aws/s3")


def test_aws_kms_without_a_key_id_uses_the_accounts_aws_s3_key(s3, admin):
    data = os.urandom(300 * 1024)
    put = s3.put_object(Bucket="kms", Key="default-key", Body=data, ServerSideEncryption="aws:kms")
    key = default_key(admin)
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"] == key["arn"]
    head = s3.head_object(Bucket="kms", Key="default-key")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key["arn"])
    got = s3.get_object(Bucket="kms", Key="default-key")
    assert got["Body"].read() == data and got["SSEKMSKeyId"] == key["arn"]
    ranged = s3.get_object(Bucket="kms", Key="default-key", Range="bytes=1000-200999")
    assert ranged["Body"].read() == data[1000:201000]
    # The object's ETag is its MD5, as for SSE-S3.
    assert head["ETag"].strip('"') == hashlib.md5(data).hexdigest()


def test_named_keys_by_id_arn_and_alias_and_aws_errors(s3, admin):
    key = admin.call("POST", "/tenants/default/kms-keys", expect=201,
                     json={"alias": "backups", "description": "Veeam repository"}).json()
    assert key["alias"] == "alias/backups" and key["enabled"] is True and key["versions"] == 1
    assert "material" not in json.dumps(key)
    for name, key_id in [("by-id", key["id"]), ("by-arn", key["arn"]), ("by-alias", "alias/backups")]:
        put = s3.put_object(Bucket="kms", Key=name, Body=name.encode(), ServerSideEncryption="aws:kms",
                            SSEKMSKeyId=key_id)
        assert put["SSEKMSKeyId"] == key["arn"], name
        assert s3.get_object(Bucket="kms", Key=name)["Body"].read() == name.encode()
    err = expect_client_error(s3.put_object, Bucket="kms", Key="x", Body=b"x", ServerSideEncryption="aws:kms",
                              SSEKMSKeyId="00000000-0000-4000-8000-000000000000", status=400)
    assert err.response["Error"]["Code"] == "KMS.NotFoundException"
    expect_client_error(s3.put_object, Bucket="kms", Key="x", Body=b"x", ServerSideEncryption="aws:kms",
                        SSEKMSKeyId="alias/nope", status=400)
    # A key id without aws:kms is refused, as on AWS.
    expect_client_error(s3.put_object, Bucket="kms", Key="x", Body=b"x", SSEKMSKeyId=key["id"],
                        code="InvalidArgument", status=400)
    dup = admin.call("POST", "/tenants/default/kms-keys", json={"alias": "backups"})
    assert dup.status_code == 409
    assert admin.call("POST", "/tenants/default/kms-keys", json={"alias": "aws/mine"}).status_code == 400
    # Disabled: writes and reads refused with AWS's code; enabled again: both work.
    admin.call("PATCH", f"/tenants/default/kms-keys/{key['id']}", expect=200, json={"enabled": False})
    for call, kw in [(s3.put_object, {"Key": "y", "Body": b"y", "ServerSideEncryption": "aws:kms",
                                      "SSEKMSKeyId": key["id"]}),
                     (s3.get_object, {"Key": "by-id"})]:
        err = expect_client_error(call, Bucket="kms", status=400, **kw)
        assert err.response["Error"]["Code"] == "KMS.DisabledException"
    admin.call("PATCH", f"/tenants/default/kms-keys/{key['id']}", expect=200, json={"enabled": True})
    assert s3.get_object(Bucket="kms", Key="by-id")["Body"].read() == b"by-id"


def test_rotation_keeps_old_objects_readable(s3, admin):
    key = admin.call("POST", "/tenants/default/kms-keys", expect=201, json={"alias": "rotating"}).json()
    s3.put_object(Bucket="kms", Key="before", Body=b"before rotation", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key["id"])
    rotated = admin.call("POST", f"/tenants/default/kms-keys/{key['id']}/rotate", expect=200).json()
    assert rotated["versions"] == 2
    s3.put_object(Bucket="kms", Key="after", Body=b"after rotation", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key["id"])
    assert s3.get_object(Bucket="kms", Key="before")["Body"].read() == b"before rotation"
    assert s3.get_object(Bucket="kms", Key="after")["Body"].read() == b"after rotation"


def test_encryption_context_and_bucket_key_and_dsse(s3):
    context = base64.b64encode(json.dumps({"project": "alpha"}).encode()).decode()
    put = s3.put_object(Bucket="kms", Key="ctx", Body=b"with context", ServerSideEncryption="aws:kms",
                        SSEKMSEncryptionContext=context, BucketKeyEnabled=True)
    assert put["BucketKeyEnabled"] is True
    got = s3.get_object(Bucket="kms", Key="ctx")
    assert got["Body"].read() == b"with context" and got["BucketKeyEnabled"] is True
    expect_client_error(s3.put_object, Bucket="kms", Key="bad-ctx", Body=b"x", ServerSideEncryption="aws:kms",
                        SSEKMSEncryptionContext="not base64 json", code="InvalidArgument", status=400)
    dsse = s3.put_object(Bucket="kms", Key="dsse", Body=b"dual", ServerSideEncryption="aws:kms:dsse")
    assert dsse["ServerSideEncryption"] == "aws:kms:dsse"
    assert s3.head_object(Bucket="kms", Key="dsse")["ServerSideEncryption"] == "aws:kms:dsse"


def test_bucket_default_kms_applies_to_put_multipart_and_is_reported(s3, admin):
    key = admin.call("POST", "/tenants/default/kms-keys", expect=201, json={"alias": "bucket-default"}).json()
    s3.create_bucket(Bucket="kms-default")
    s3.put_bucket_encryption(Bucket="kms-default", ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/bucket-default"},
        "BucketKeyEnabled": True}]})
    rule = s3.get_bucket_encryption(Bucket="kms-default")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                           "KMSMasterKeyID": "alias/bucket-default"}
    assert rule["BucketKeyEnabled"] is True
    put = s3.put_object(Bucket="kms-default", Key="plain-put", Body=b"defaulted")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", key["arn"])
    # Multipart under the default key, then with an explicit one.
    parts_data = [os.urandom(5 * MiB), os.urandom(MiB + 7)]
    upload = s3.create_multipart_upload(Bucket="kms-default", Key="mpu")
    assert upload["ServerSideEncryption"] == "aws:kms" and upload["SSEKMSKeyId"] == key["arn"]
    parts = []
    for number, chunk in enumerate(parts_data, start=1):
        part = s3.upload_part(Bucket="kms-default", Key="mpu", UploadId=upload["UploadId"], PartNumber=number,
                              Body=chunk)
        assert part["ServerSideEncryption"] == "aws:kms"
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    done = s3.complete_multipart_upload(Bucket="kms-default", Key="mpu", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": parts})
    assert done["ServerSideEncryption"] == "aws:kms" and done["SSEKMSKeyId"] == key["arn"]
    assert s3.get_object(Bucket="kms-default", Key="mpu")["Body"].read() == b"".join(parts_data)


def test_copies_between_sse_kms_sse_c_sse_s3_and_clear_keep_the_bytes(s3, admin):
    data = os.urandom(2 * MiB + 3)
    s3.put_object(Bucket="kms", Key="src-kms", Body=data, ServerSideEncryption="aws:kms")
    s3.put_object(Bucket="kms", Key="src-c", Body=data, **SSE_C)
    s3.put_object(Bucket="kms", Key="src-s3", Body=data, ServerSideEncryption="AES256")
    arn = default_key(admin)["arn"]
    cases = [
        ("src-kms", {}, {"ServerSideEncryption": "AES256"}, {}, "AES256"),
        ("src-kms", {}, SSE_C, SSE_C, "c"),
        ("src-c", COPY_SSE_C, {"ServerSideEncryption": "aws:kms"}, {}, "aws:kms"),
        ("src-s3", {}, {"ServerSideEncryption": "aws:kms"}, {}, "aws:kms"),
        ("src-kms", {}, {"ServerSideEncryption": "aws:kms"}, {}, "aws:kms"),
    ]
    for number, (source, source_kw, dest_kw, read_kw, expected) in enumerate(cases):
        target = f"copy-{number}"
        answer = s3.copy_object(Bucket="kms", Key=target, CopySource={"Bucket": "kms", "Key": source},
                                **source_kw, **dest_kw)
        if expected == "c":
            assert answer["SSECustomerAlgorithm"] == "AES256", answer
        else:
            assert answer["ServerSideEncryption"] == expected, (source, dest_kw, answer)
        if expected == "aws:kms":
            assert answer["SSEKMSKeyId"] == arn
        assert s3.get_object(Bucket="kms", Key=target, **read_kw)["Body"].read() == data, target
    # A KMS object read with an SSE-C key is refused; so is an SSE-C object without one.
    expect_client_error(s3.get_object, Bucket="kms", Key="src-kms", status=400, **SSE_C)
    expect_client_error(s3.get_object, Bucket="kms", Key="src-c", status=400)
    # UploadPartCopy from a KMS source into an SSE-C upload.
    upload = s3.create_multipart_upload(Bucket="kms", Key="upc", **SSE_C)
    part = s3.upload_part_copy(Bucket="kms", Key="upc", UploadId=upload["UploadId"], PartNumber=1,
                               CopySource={"Bucket": "kms", "Key": "src-kms"}, **SSE_C)
    s3.complete_multipart_upload(Bucket="kms", Key="upc", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1,
                                                             "ETag": part["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket="kms", Key="upc", **SSE_C)["Body"].read() == data


def test_another_tenants_key_is_not_found_and_keys_survive_a_restart(kms_server, s3, admin):
    tenant, client, _ = admin.tenant_with_key("kms-other")
    other_key = default_key(admin, "kms-other")
    assert other_key["arn"] != default_key(admin)["arn"]
    err = expect_client_error(s3.put_object, Bucket="kms", Key="x", Body=b"x", ServerSideEncryption="aws:kms",
                              SSEKMSKeyId=other_key["arn"], status=400)
    assert err.response["Error"]["Code"] == "KMS.NotFoundException"
    client.create_bucket(Bucket="kms-other-bucket")
    put = client.put_object(Bucket="kms-other-bucket", Key="k", Body=b"tenant data", ServerSideEncryption="aws:kms")
    assert put["SSEKMSKeyId"] == other_key["arn"]
    # Another tenant's admin cannot manage this tenant's keys.
    other_admin = AdminApi(kms_server, "kms-other/admin", "correct horse battery")
    assert other_admin.call("GET", "/tenants/default/kms-keys").status_code == 403
    assert other_admin.call("POST", "/tenants/kms-other/kms-keys", json={"alias": "own"}).status_code == 201
    # The material is in the catalog, sealed: the keys survive a crash.
    kms_server.kill9()
    kms_server.start(port=kms_server.port)
    assert s3.get_object(Bucket="kms", Key="default-key")["Body"].read()
    assert client.get_object(Bucket="kms-other-bucket", Key="k")["Body"].read() == b"tenant data"


def test_keys_from_the_command_line(kms_server, s3):
    import subprocess

    from conftest import SERVER_BIN
    from helpers import env_without_aws
    env = {k: v for k, v in env_without_aws().items() if not k.startswith("MAXIOFS_")}
    env.update(MAXIOFS_CONSOLE_ENDPOINT=kms_server.console_endpoint, MAXIOFS_ACCESS_KEY=kms_server.access_key,
               MAXIOFS_SECRET_KEY=kms_server.secret_key)

    def cli(*args):
        done = subprocess.run([str(SERVER_BIN), "admin", "kms-key", *args], env=env, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    key = json.loads(cli("create", "--alias", "cli-made", "--description", "from the CLI", "--json"))
    assert key["alias"] == "alias/cli-made" and key["enabled"] is True
    assert "alias/cli-made" in cli("list") and "alias/aws/s3" in cli("list")
    assert json.loads(cli("rotate", key["id"], "--json"))["versions"] == 2
    s3.put_object(Bucket="kms", Key="cli-key", Body=b"cli", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId="alias/cli-made")
    assert json.loads(cli("disable", key["id"], "--json"))["enabled"] is False
    err = expect_client_error(s3.get_object, Bucket="kms", Key="cli-key", status=400)
    assert err.response["Error"]["Code"] == "KMS.DisabledException"
    assert "enabled:" in cli("enable", key["id"])
    assert s3.get_object(Bucket="kms", Key="cli-key")["Body"].read() == b"cli"
