"""Attacks on authentication, request limits and data at rest (issue 14), each refused.

Why these tests exist: every hole here let someone with a little access do much more.

* A SigV4 signature covers only the headers in SignedHeaders. If the server acted on other
  `x-amz-*` headers (or Content-MD5), anyone holding a presigned PUT URL or a captured signed
  request could add headers and turn it into another request: a copy of any object
  (`x-amz-copy-source`), a COMPLIANCE lock for a century, tags, metadata, an ACL, or a
  governance bypass on a DELETE. Such requests must be refused (403 AccessDenied with
  `<HeadersNotSigned>`), and the same requests with those headers signed must still work.
* SigV2 signs the path plus the sub-resources it knows: a captured `PUT /bucket` replayed as
  `PUT /bucket?object-lock`, or `DELETE /bucket` as `DELETE /bucket?encryption`, must not match.
* Small XML bodies have a 2 MiB limit; DeleteObjects and PutObjectLockConfiguration need an
  integrity header (Content-MD5 or x-amz-checksum-*), as on AWS.
* Data at rest: owner-only file modes (tightened at start), access key secrets sealed with the
  master key (a copy of the data directory alone does not start), the root secret never taken
  from the command line.
* `response-content-type` with CR/LF or control bytes must not split the response head.
* A request authenticated by both a presigned query and an Authorization header is refused.
* `--sigv2 off` refuses SigV2.

Every refusal is checked for its exact status and error code, and for nothing stored or
configured having changed; each has a control showing the same request, properly signed or
within limits, succeeds (so the refusal is not vacuous).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import html
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import time
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from conftest import RUN_DIR, SERVER_BIN, MaxioServer, free_port
from helpers import (
    MiB,
    empty_and_delete_bucket,
    err_code,
    expect_client_error,
    make_client,
    md5_b64,
    object_absent,
    object_path,
    sign_request,
    signed_requests_call,
    xml_error_code,
)

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
HEADERS_NOT_SIGNED_MESSAGE = "There were headers present in the request which were not signed"
MASTER_KEY_FILE = "maxiofs-master.key"


# --------------------------------------------------------------------------- helpers


def xml_text(text: str, element: str) -> str | None:
    m = re.search(rf"<{element}>([^<]*)</{element}>", text)
    return html.unescape(m.group(1)) if m else None


def assert_headers_not_signed(r: requests.Response, names: list[str]) -> None:
    """403 AccessDenied naming exactly the unsigned headers (lowercase, in request order)."""
    assert r.status_code == 403, (r.status_code, r.text)
    assert xml_error_code(r.text) == "AccessDenied", r.text
    assert xml_text(r.text, "Message") == HEADERS_NOT_SIGNED_MESSAGE, r.text
    assert xml_text(r.text, "HeadersNotSigned") == ", ".join(names), r.text


def future_whole_seconds(seconds: float) -> dt.datetime:
    """A UTC time `seconds` ahead, without microseconds (botocore then sends `...:SSZ`)."""
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    return when.replace(microsecond=0) + dt.timedelta(seconds=1)


def iso_z(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def lock_bucket(s3, name: str) -> str:
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def versions_of(s3, bucket: str, key: str) -> list[dict]:
    page = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return [v for v in page.get("Versions", []) + page.get("DeleteMarkers", []) if v["Key"] == key]


def lock_config(s3, bucket: str) -> dict:
    return s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]


def lock_config_xml(mode: str, unit: str, amount: int) -> bytes:
    return (
        f'<ObjectLockConfiguration xmlns="{NS}"><ObjectLockEnabled>Enabled</ObjectLockEnabled>'
        f"<Rule><DefaultRetention><Mode>{mode}</Mode><{unit}>{amount}</{unit}></DefaultRetention></Rule>"
        "</ObjectLockConfiguration>"
    ).encode()


def encryption_rule(s3, bucket: str) -> dict:
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert len(rules) == 1, rules
    return rules[0]


def sigv2_headers(access_key: str, secret_key: str, method: str, resource: str, headers: dict | None = None) -> dict:
    """Header-signed SigV2: `Authorization: AWS id:HMAC-SHA1(secret, StringToSign)`.

    StringToSign = VERB \\n Content-MD5 \\n Content-Type \\n Date \\n CanonicalizedAmzHeaders
    CanonicalizedResource; `resource` is /bucket[/key] plus the sorted signed sub-resources
    (e.g. `/bucket?object-lock`), exactly what the signer means the request to be.
    """
    out = dict(headers or {})
    out["Date"] = formatdate(usegmt=True)
    lower = {k.lower(): v for k, v in out.items()}
    amz = sorted((k, v.strip()) for k, v in lower.items() if k.startswith("x-amz-"))
    string_to_sign = (
        f"{method}\n{lower.get('content-md5', '')}\n{lower.get('content-type', '')}\n{out['Date']}\n"
        + "".join(f"{k}:{v}\n" for k, v in amz)
        + resource
    )
    mac = hmac.new(secret_key.encode(), string_to_sign.encode(), hashlib.sha1)
    out["Authorization"] = f"AWS {access_key}:{base64.b64encode(mac.digest()).decode()}"
    return out


def sigv2_presigned_url(server, method: str, path: str, expires_in: int = 300) -> str:
    expires = int(time.time()) + expires_in
    mac = hmac.new(server.secret_key.encode(), f"{method}\n\n\n{expires}\n{path}".encode(), hashlib.sha1)
    signature = quote(base64.b64encode(mac.digest()).decode(), safe="")
    return f"{server.endpoint}{path}?AWSAccessKeyId={server.access_key}&Expires={expires}&Signature={signature}"


def server_env(**extra) -> dict:
    """The environment for a hand-started server: none of the tester's MAXIOFS_* / AWS_* settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("MAXIOFS_") or k.startswith("AWS_")) or k == "MAXIOFS_LOG"
    }
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def walk_modes(root: Path) -> tuple[list[tuple[str, str]], int]:
    """(paths whose mode is not 0700 for a directory / 0600 for a file, number of entries seen)."""
    wrong, seen = [], 0
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        mode = stat.S_IMODE(st.st_mode)
        want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
        seen += 1
        if mode != want:
            wrong.append((str(path), oct(mode)))
    return wrong, seen


# --------------------------------------------------------------------------- 1. unsigned x-amz-* headers


def test_presigned_put_with_unsigned_copy_source_copies_nothing(s3, bucket):
    """A presigned PUT URL plus an unsigned x-amz-copy-source would copy any object the signer can read."""
    secret = b"the secret object's bytes"
    s3.put_object(Bucket=bucket, Key="secret-object", Body=secret)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "target"}, ExpiresIn=300)
    r = requests.put(url, headers={"x-amz-copy-source": f"/{bucket}/secret-object"}, data=b"", timeout=30)
    assert_headers_not_signed(r, ["x-amz-copy-source"])
    assert secret not in r.content
    assert object_absent(s3, bucket, "target"), "the refused request must not create the target"

    # Control: a presigned CopyObject, x-amz-copy-source in its SignedHeaders, copies.
    url = s3.generate_presigned_url(
        "copy_object",
        Params={"Bucket": bucket, "Key": "target", "CopySource": {"Bucket": bucket, "Key": "secret-object"}},
        ExpiresIn=300,
    )
    assert "x-amz-copy-source" in url, url
    r = requests.put(url, headers={"x-amz-copy-source": f"{bucket}/secret-object"}, timeout=30)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="target")["Body"].read() == secret


def test_presigned_put_with_unsigned_metadata_refused(s3, bucket):
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "meta"}, ExpiresIn=300)
    r = requests.put(url, headers={"x-amz-meta-evil": "injected"}, data=b"body", timeout=30)
    assert_headers_not_signed(r, ["x-amz-meta-evil"])
    assert object_absent(s3, bucket, "meta")

    # Control: the same URL without the header, and a URL with the metadata signed.
    r = requests.put(url, data=b"plain", timeout=30)
    assert r.status_code == 200, r.text
    assert s3.head_object(Bucket=bucket, Key="meta")["Metadata"] == {}
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "meta", "Metadata": {"evil": "injected"}}, ExpiresIn=300
    )
    r = requests.put(url, headers={"x-amz-meta-evil": "injected"}, data=b"body", timeout=30)
    assert r.status_code == 200, r.text
    head = s3.head_object(Bucket=bucket, Key="meta")
    assert head["Metadata"] == {"evil": "injected"}
    assert head["ContentLength"] == 4


def test_presigned_put_with_unsigned_object_lock_refused(s3, bucket_name):
    """An unsigned COMPLIANCE lock would make the object (and its bucket) undeletable."""
    bucket = lock_bucket(s3, bucket_name)
    try:
        # Short retention: should the server wrongly accept it, the shared server is not stuck with it.
        until = iso_z(future_whole_seconds(30))
        url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "locked"}, ExpiresIn=300)
        r = requests.put(
            url,
            headers={"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": until},
            data=b"body",
            timeout=30,
        )
        assert_headers_not_signed(r, ["x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date"])
        assert versions_of(s3, bucket, "locked") == [], "no version may be created, locked or not"

        # Control: the lock headers signed (boto3 puts them in SignedHeaders) lock the version.
        when = future_whole_seconds(2)
        url = s3.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": bucket,
                "Key": "locked",
                "ObjectLockMode": "COMPLIANCE",
                "ObjectLockRetainUntilDate": when,
            },
            ExpiresIn=300,
        )
        r = requests.put(
            url,
            headers={"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": iso_z(when)},
            data=b"body",
            timeout=30,
        )
        assert r.status_code == 200, r.text
        head = s3.head_object(Bucket=bucket, Key="locked")
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] == when
        version = head["VersionId"]
        time.sleep(max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds() + 1.1))
        s3.delete_object(Bucket=bucket, Key="locked", VersionId=version)
    finally:
        empty_and_delete_bucket(s3, bucket)


def test_presigned_put_with_unsigned_tagging_refused(s3, bucket):
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "tagged"}, ExpiresIn=300)
    r = requests.put(url, headers={"x-amz-tagging": "evil=1"}, data=b"body", timeout=30)
    assert_headers_not_signed(r, ["x-amz-tagging"])
    assert object_absent(s3, bucket, "tagged")

    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "tagged", "Tagging": "evil=1"}, ExpiresIn=300
    )
    r = requests.put(url, headers={"x-amz-tagging": "evil=1"}, data=b"body", timeout=30)
    assert r.status_code == 200, r.text
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == [{"Key": "evil", "Value": "1"}]


def test_header_signed_put_with_unsigned_acl_or_content_md5_refused(server, s3, bucket):
    body = b"header-signed body"
    path = object_path(bucket, "acl")
    url, headers = sign_request(server.endpoint, server.access_key, server.secret_key, "PUT", path, body=body)
    for extra, names in (
        ({"x-amz-acl": "public-read"}, ["x-amz-acl"]),
        ({"Content-MD5": md5_b64(body)}, ["content-md5"]),
    ):
        r = requests.put(url, headers={**headers, **extra}, data=body, timeout=30)
        assert_headers_not_signed(r, names)
        assert object_absent(s3, bucket, "acl")

    # Controls: the signed request as it is, and with those headers signed.
    r = requests.put(url, headers=headers, data=body, timeout=30)
    assert r.status_code == 200, r.text
    s3.delete_object(Bucket=bucket, Key="acl")
    for extra in ({"x-amz-acl": "private"}, {"Content-MD5": md5_b64(body)}):
        r = signed_requests_call(
            server.endpoint, server.access_key, server.secret_key, "PUT", path, headers=extra, body=body
        )
        assert r.status_code == 200, (extra, r.status_code, r.text)
        assert s3.get_object(Bucket=bucket, Key="acl")["Body"].read() == body
        s3.delete_object(Bucket=bucket, Key="acl")
    # A signed ACL wider than the owner's on a bucket whose ACLs are disabled (AWS's default,
    # BucketOwnerEnforced) is refused as PutObjectAcl refuses it, never accepted and ignored.
    r = signed_requests_call(
        server.endpoint, server.access_key, server.secret_key, "PUT", path,
        headers={"x-amz-acl": "public-read"}, body=body,
    )
    assert r.status_code == 400 and xml_error_code(r.text) == "AccessControlListNotSupported", r.text
    assert object_absent(s3, bucket, "acl")


def test_presigned_delete_with_unsigned_governance_bypass_refused(s3, bucket_name):
    bucket = lock_bucket(s3, bucket_name)
    try:
        version = s3.put_object(
            Bucket=bucket,
            Key="governed",
            Body=b"kept",
            ObjectLockMode="GOVERNANCE",
            ObjectLockRetainUntilDate=future_whole_seconds(3600),
        )["VersionId"]
        url = s3.generate_presigned_url(
            "delete_object", Params={"Bucket": bucket, "Key": "governed", "VersionId": version}, ExpiresIn=300
        )
        r = requests.delete(url, headers={"x-amz-bypass-governance-retention": "true"}, timeout=30)
        assert_headers_not_signed(r, ["x-amz-bypass-governance-retention"])
        assert s3.get_object(Bucket=bucket, Key="governed", VersionId=version)["Body"].read() == b"kept"

        # Without the header the lock refuses (for the lock's reason, not the header's).
        r = requests.delete(url, timeout=30)
        assert r.status_code == 403 and xml_error_code(r.text) == "AccessDenied", r.text
        assert xml_text(r.text, "HeadersNotSigned") is None, r.text
        assert s3.get_object(Bucket=bucket, Key="governed", VersionId=version)["Body"].read() == b"kept"

        # Control: the bypass signed (in SignedHeaders) deletes the version.
        url = s3.generate_presigned_url(
            "delete_object",
            Params={"Bucket": bucket, "Key": "governed", "VersionId": version, "BypassGovernanceRetention": True},
            ExpiresIn=300,
        )
        r = requests.delete(url, headers={"x-amz-bypass-governance-retention": "true"}, timeout=30)
        assert r.status_code == 204, r.text
        expect_client_error(s3.get_object, Bucket=bucket, Key="governed", VersionId=version, code="NoSuchVersion")
    finally:
        empty_and_delete_bucket(s3, bucket)


# --------------------------------------------------------------------------- 2. SigV2 sub-resources


def test_sigv2_create_bucket_replayed_as_put_object_lock_refused(server, s3, bucket_name):
    bucket = bucket_name
    try:
        captured = sigv2_headers(
            server.access_key, server.secret_key, "PUT", f"/{bucket}", {"x-amz-bucket-object-lock-enabled": "true"}
        )
        # The captured request is valid for what it was signed for: it creates the bucket.
        r = requests.put(f"{server.endpoint}/{bucket}", headers=captured, timeout=30)
        assert r.status_code == 200, r.text
        assert lock_config(s3, bucket) == {"ObjectLockEnabled": "Enabled"}

        # Replayed against ?object-lock with a century of COMPLIANCE as default retention.
        r = requests.put(
            f"{server.endpoint}/{bucket}?object-lock",
            headers=captured,
            data=lock_config_xml("COMPLIANCE", "Years", 100),
            timeout=30,
        )
        assert r.status_code == 403, r.text
        assert xml_error_code(r.text) == "SignatureDoesNotMatch", r.text
        assert lock_config(s3, bucket) == {"ObjectLockEnabled": "Enabled"}

        # Control: a SigV2 request signed with ?object-lock in its resource sets it.
        body = lock_config_xml("GOVERNANCE", "Days", 1)
        signed = sigv2_headers(
            server.access_key, server.secret_key, "PUT", f"/{bucket}?object-lock", {"Content-MD5": md5_b64(body)}
        )
        r = requests.put(f"{server.endpoint}/{bucket}?object-lock", headers=signed, data=body, timeout=30)
        assert r.status_code == 200, r.text
        assert lock_config(s3, bucket)["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}
    finally:
        empty_and_delete_bucket(s3, bucket)


@pytest.mark.parametrize("addressing", ["path", "virtual"])
def test_sigv2_boto3_client_reads_object_lock_configuration(server, s3, bucket_name, addressing):
    """Control for the replay tests: SigV2 with ?object-lock signed is what botocore does, and works.

    botocore's SigV2 signs a bucket-level request's resource as `/bucket/?object-lock` in both
    addressing styles (path-style sends the path `/bucket?object-lock`), as AWS accepts.
    """
    bucket = lock_bucket(s3, bucket_name)
    try:
        v2 = server.client(addressing, signature_version="s3")
        assert v2.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == {
            "ObjectLockEnabled": "Enabled"
        }
        assert v2.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    finally:
        empty_and_delete_bucket(s3, bucket)


def test_sigv2_delete_bucket_replayed_as_delete_encryption_refused(server, s3, bucket):
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
        },
    )
    captured = sigv2_headers(server.access_key, server.secret_key, "DELETE", f"/{bucket}")
    r = requests.delete(f"{server.endpoint}/{bucket}?encryption", headers=captured, timeout=30)
    assert r.status_code == 403, r.text
    assert xml_error_code(r.text) == "SignatureDoesNotMatch", r.text
    assert encryption_rule(s3, bucket)["BucketKeyEnabled"] is True

    # Controls: signed with ?encryption it deletes the configuration; the captured request
    # itself deletes the (empty) bucket it was signed for.
    signed = sigv2_headers(server.access_key, server.secret_key, "DELETE", f"/{bucket}?encryption")
    r = requests.delete(f"{server.endpoint}/{bucket}?encryption", headers=signed, timeout=30)
    assert r.status_code == 204, r.text
    assert encryption_rule(s3, bucket)["BucketKeyEnabled"] is False
    r = requests.delete(f"{server.endpoint}/{bucket}", headers=captured, timeout=30)
    assert r.status_code == 204, r.text
    expect_client_error(s3.head_bucket, Bucket=bucket, status=404)


# --------------------------------------------------------------------------- 3-4. DeleteObjects and lock bodies


def delete_objects_body(keys: list[str], padding: int) -> bytes:
    objects = "".join(f"<Object><Key>{k}</Key></Object>" for k in keys)
    # Whitespace between elements: valid XML whose only fault is its size.
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="{NS}"><Quiet>true</Quiet>{objects}'.encode()
        + b" " * padding
        + b"</Delete>"
    )


def test_delete_objects_body_over_2_mib_refused(server, s3, bucket):
    for key in ("victim", "control"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    body = delete_objects_body(["victim"], 3 * MiB)
    r = signed_requests_call(
        server.endpoint,
        server.access_key,
        server.secret_key,
        "POST",
        f"/{bucket}",
        query="delete=",
        headers={"Content-MD5": md5_b64(body)},
        body=body,
    )
    assert r.status_code == 400, (r.status_code, r.text)
    assert xml_error_code(r.text) == "MalformedXML", r.text
    assert s3.get_object(Bucket=bucket, Key="victim")["Body"].read() == b"victim"

    # Control: the same body shape under the limit deletes.
    body = delete_objects_body(["control"], 3 * MiB // 2)
    r = signed_requests_call(
        server.endpoint,
        server.access_key,
        server.secret_key,
        "POST",
        f"/{bucket}",
        query="delete=",
        headers={"Content-MD5": md5_b64(body)},
        body=body,
    )
    assert r.status_code == 200, (r.status_code, r.text)
    assert object_absent(s3, bucket, "control")
    assert not object_absent(s3, bucket, "victim")


def test_delete_objects_without_integrity_header_refused(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    body = delete_objects_body(["k"], 0)
    args = (server.endpoint, server.access_key, server.secret_key, "POST", f"/{bucket}")
    r = signed_requests_call(*args, query="delete=", body=body)
    assert r.status_code == 400, r.text
    assert xml_error_code(r.text) == "InvalidRequest", r.text
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"

    r = signed_requests_call(*args, query="delete=", headers={"Content-MD5": md5_b64(body)}, body=body)
    assert r.status_code == 200, r.text
    assert object_absent(s3, bucket, "k")


def test_put_object_lock_configuration_without_integrity_header_refused(server, s3, bucket_name):
    bucket = lock_bucket(s3, bucket_name)
    try:
        body = lock_config_xml("COMPLIANCE", "Days", 1)
        args = (server.endpoint, server.access_key, server.secret_key, "PUT", f"/{bucket}")
        r = signed_requests_call(*args, query="object-lock=", body=body)
        assert r.status_code == 400, r.text
        assert xml_error_code(r.text) == "InvalidRequest", r.text
        assert lock_config(s3, bucket) == {"ObjectLockEnabled": "Enabled"}

        body = lock_config_xml("GOVERNANCE", "Days", 1)
        r = signed_requests_call(*args, query="object-lock=", headers={"Content-MD5": md5_b64(body)}, body=body)
        assert r.status_code == 200, r.text
        assert lock_config(s3, bucket)["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}
    finally:
        empty_and_delete_bucket(s3, bucket)


# --------------------------------------------------------------------------- 5. file modes


def test_data_dir_modes_owner_only_and_tightened_at_start(server_factory):
    srv = server_factory("modes")
    client = srv.client()
    client.create_bucket(Bucket="modes")
    for i in range(5):
        client.put_object(Bucket="modes", Key=f"obj-{i}", Body=os.urandom(64 * 1024))
    wrong, seen = walk_modes(srv.data_dir)
    assert seen > 3, f"only {seen} entries under {srv.data_dir}"
    assert wrong == [], f"not owner-only: {wrong}"
    key_file = srv.dir / MASTER_KEY_FILE
    assert key_file.is_file(), f"no master key beside the data directory ({key_file})"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    assert srv.terminate() == 0
    files = sorted(p for p in srv.data_dir.rglob("*") if p.is_file() and not p.is_symlink())
    dirs = sorted(p for p in srv.data_dir.rglob("*") if p.is_dir() and not p.is_symlink())
    assert files and dirs, (files, dirs)
    loosened = [srv.data_dir, *dirs[:2], *files[:3], srv.data_dir / "catalog.db"]
    for path in loosened:
        path.chmod(0o755 if path.is_dir() else 0o644)
    srv.restart()
    wrong, _ = walk_modes(srv.data_dir)
    assert wrong == [], f"not tightened at start: {wrong}"
    assert "tightened" in srv.output_of_last_start(), srv.output_of_last_start()[-3000:]
    assert srv.client().list_objects_v2(Bucket="modes")["KeyCount"] == 5
    # A start with nothing to tighten says nothing about it.
    assert srv.terminate() == 0
    srv.restart()
    assert "tightened" not in srv.output_of_last_start()
    assert srv.terminate() == 0


# --------------------------------------------------------------------------- 6. secrets at rest


def test_secrets_sealed_at_rest_and_data_dir_needs_master_key(server_factory):
    srv = server_factory("secrets")
    secret = srv.secret_key
    client = srv.client()
    client.create_bucket(Bucket="sealed")
    client.put_object(Bucket="sealed", Key="k", Body=b"sealed data")
    encodings = [
        secret.encode(),
        base64.b64encode(secret.encode()),
        secret.encode().hex().encode(),
        secret.encode("utf-16-le"),
    ]
    # Raw bytes of the catalog and its WAL while running, then after a clean stop.
    catalog = srv.data_dir / "catalog.db"
    for phase in ("running", "stopped"):
        if phase == "stopped":
            assert srv.terminate() == 0
        names = sorted(p.name for p in srv.data_dir.glob("catalog.db*"))
        if phase == "running":
            assert "catalog.db-wal" in names, names  # WAL mode: the latest writes are there
        checked = 0
        for path in sorted(srv.data_dir.glob("catalog.db*")):
            raw = path.read_bytes()
            checked += 1
            for enc in encodings:
                assert enc not in raw, f"{path.name} ({phase}) holds the root secret ({enc[:12]!r}...)"
        assert checked >= 1
    for log in (srv.stderr_path, srv.stdout_path):
        assert secret not in log.read_text(errors="replace"), f"{log} shows the root secret"

    # A copy of the data directory, without the master key beside it, must not start.
    copy = MaxioServer("secrets-copy")
    try:
        shutil.copytree(srv.data_dir, copy.data_dir)
        assert not (copy.dir / MASTER_KEY_FILE).exists()
        copy.start(wait=False)
        try:
            rc = copy.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = None
        out = copy.output_of_last_start()
        assert rc not in (None, 0), f"started without its master key (rc={rc}):\n{out[-3000:]}"
        assert "master key" in out.lower(), out[-3000:]
        assert not (copy.dir / MASTER_KEY_FILE).exists(), "a new master key must not be generated for it"
        # Control: with the key file beside it, the copy starts and serves the data.
        shutil.copy2(srv.dir / MASTER_KEY_FILE, copy.dir / MASTER_KEY_FILE)
        copy.start()
        assert copy.client().get_object(Bucket="sealed", Key="k")["Body"].read() == b"sealed data"
        assert copy.terminate() == 0
    finally:
        copy.kill9()
        copy.cleanup_data()

    # The stored value itself (read after the copy: opening the catalog may checkpoint it).
    with sqlite3.connect(catalog) as db:
        rows = db.execute("SELECT access_key, secret_key FROM access_keys").fetchall()
    db.close()
    stored = dict(rows)
    assert srv.access_key in stored, rows
    for value in stored.values():
        for enc in encodings:
            assert enc.decode("latin-1") not in value, f"stored secret in clear: {value!r}"


def test_root_secret_never_from_command_line(tmp_path):
    top = subprocess.run([str(SERVER_BIN), "server", "--help"], capture_output=True, text=True, timeout=30)
    assert top.returncode == 0, top.stderr
    assert "--root-secret-key-file" in top.stdout, top.stdout

    access = "AKIAATTACKSFILE00001"
    file_secret = "fIle+Root/Secret0Key0000000000000000000x"
    # --root-secret-key on the command line (visible in /proc/*/cmdline) is refused.
    data = tmp_path / "cmdline" / "data"
    proc = subprocess.Popen(
        [str(SERVER_BIN), "server", "--data-dir", str(data), "--listen", f"127.0.0.1:{free_port()}",
         "--console-listen", "off", "--shards", "1", "--root-secret-key", file_secret],
        env=server_env(MAXIOFS_ROOT_ACCESS_KEY=access),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"--root-secret-key was accepted (server kept running):\n{out[-3000:]}")
    assert proc.returncode != 0, out
    assert "--root-secret-key-file" in out and "MAXIOFS_ROOT_SECRET_KEY" in out, out
    assert file_secret not in out
    if (data / "catalog.db").exists():
        with sqlite3.connect(data / "catalog.db") as db:
            assert db.execute("SELECT access_key FROM access_keys").fetchall() == []
        db.close()

    # --root-secret-key-file works: the file's secret is the root secret.
    secret_file = tmp_path / "root-secret"
    secret_file.write_text(file_secret + "\n")
    secret_file.chmod(0o600)
    port = free_port()
    log = RUN_DIR / "root-secret-file.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as sink:
        proc = subprocess.Popen(
            [str(SERVER_BIN), "server", "--data-dir", str(tmp_path / "file" / "data"), "--listen",
             f"127.0.0.1:{port}", "--console-listen", "off", "--shards", "1",
             "--root-secret-key-file", str(secret_file)],
            env=server_env(MAXIOFS_ROOT_ACCESS_KEY=access),
            stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, start_new_session=True,
        )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"server exited {proc.returncode}:\n{log.read_text()[-3000:]}"
            try:
                if requests.get(f"{endpoint}/_maxiofs/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"not healthy:\n{log.read_text()[-3000:]}"
            time.sleep(0.1)
        good = make_client(endpoint, access, file_secret)
        good.create_bucket(Bucket="from-file")
        assert [b["Name"] for b in good.list_buckets()["Buckets"]] == ["from-file"]
        wrong = make_client(endpoint, access, file_secret[:-1] + "y")
        expect_client_error(wrong.list_buckets, code="SignatureDoesNotMatch", status=403)
        assert file_secret not in log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


# --------------------------------------------------------------------------- 7. response-* header injection


BAD_CONTENT_TYPES = ["text/html\r\nX-Injected: yes", "text/html\nX-Injected: yes", "text/\x01html"]


@pytest.mark.parametrize("value", BAD_CONTENT_TYPES, ids=["crlf", "lf", "ctl-01"])
def test_response_content_type_with_control_bytes_refused(server, s3, bucket, value):
    data = b"object body"
    s3.put_object(Bucket=bucket, Key="doc", Body=data, ContentType="text/plain")
    path = object_path(bucket, "doc")
    query = "response-content-type=" + quote(value, safe="")

    def check_refused(r: requests.Response, method: str):
        assert r.status_code == 400, (method, r.status_code, r.headers, r.content[:500])
        assert not any(name.lower().startswith("x-injected") for name in r.headers), r.headers
        if method == "GET":
            assert r.content.rstrip().endswith(b"</Error>"), r.content
            assert xml_error_code(r.text) == "InvalidArgument", r.text
            assert xml_text(r.text, "ArgumentName") == "response-content-type", r.text
            assert data not in r.content

    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "doc", "ResponseContentType": value}, ExpiresIn=300
    )
    check_refused(requests.get(url, timeout=30), "GET")
    for method in ("GET", "HEAD"):
        url, headers = sign_request(server.endpoint, server.access_key, server.secret_key, method, path, query=query)
        check_refused(requests.request(method, url, headers=headers, timeout=30), method)
    # Nothing about the stored object changed.
    got = s3.get_object(Bucket=bucket, Key="doc")
    assert got["ContentType"] == "text/plain" and got["Body"].read() == data

    # Controls: a plain override works through all three.
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "doc", "ResponseContentType": "text/csv"}, ExpiresIn=300
    )
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == data and r.headers["Content-Type"] == "text/csv", r.headers
    for method in ("GET", "HEAD"):
        url, headers = sign_request(
            server.endpoint, server.access_key, server.secret_key, method, path,
            query="response-content-type=text%2Fcsv",
        )
        r = requests.request(method, url, headers=headers, timeout=30)
        assert r.status_code == 200, (method, r.status_code, r.text)
        assert r.headers["Content-Type"] == "text/csv", r.headers
        assert r.headers["Content-Length"] == str(len(data))


# --------------------------------------------------------------------------- 8. two auth mechanisms


def test_presigned_query_and_authorization_header_together_refused(server, s3, bucket):
    body = b"two mechanisms"
    path = object_path(bucket, "both")
    presigned_put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "both"}, ExpiresIn=300)
    header_signed_url, signed = sign_request(
        server.endpoint, server.access_key, server.secret_key, "PUT", path, body=body
    )
    authorization = signed["Authorization"]

    def check(r: requests.Response):
        assert r.status_code == 400, (r.status_code, r.text)
        assert xml_error_code(r.text) == "InvalidArgument", r.text
        assert (xml_text(r.text, "Message") or "").startswith("Only one auth mechanism allowed"), r.text

    check(requests.put(presigned_put, headers={"Authorization": authorization}, data=body, timeout=30))
    assert object_absent(s3, bucket, "both")
    # A SigV2 presigned URL with a SigV4 Authorization header too.
    check(
        requests.put(
            sigv2_presigned_url(server, "PUT", path), headers={"Authorization": authorization}, data=body, timeout=30
        )
    )
    assert object_absent(s3, bucket, "both")
    s3.put_object(Bucket=bucket, Key="read", Body=b"readable")
    presigned_get = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "read"}, ExpiresIn=300)
    r = requests.get(presigned_get, headers={"Authorization": authorization}, timeout=30)
    check(r)
    assert b"readable" not in r.content

    # Controls: each mechanism alone works.
    r = requests.put(presigned_put, data=body, timeout=30)
    assert r.status_code == 200, r.text
    s3.delete_object(Bucket=bucket, Key="both")
    r = requests.put(header_signed_url, headers=signed, data=body, timeout=30)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="both")["Body"].read() == body
    assert requests.get(presigned_get, timeout=30).content == b"readable"


# --------------------------------------------------------------------------- 9. --sigv2 off


def sigv2_requests(srv, bucket: str) -> list[tuple[str, requests.Response]]:
    """A SigV2 header-signed ListBuckets and PutObject, and a SigV2 presigned PutObject."""
    sign = lambda method, resource: sigv2_headers(srv.access_key, srv.secret_key, method, resource)  # noqa: E731
    return [
        ("list", requests.get(f"{srv.endpoint}/", headers=sign("GET", "/"), timeout=30)),
        ("put", requests.put(f"{srv.endpoint}/{bucket}/k", headers=sign("PUT", f"/{bucket}/k"), data=b"v2",
                             timeout=30)),
        ("presigned-put", requests.put(sigv2_presigned_url(srv, "PUT", f"/{bucket}/p"), data=b"v2", timeout=30)),
    ]


def test_sigv2_off_refuses_sigv2(server, server_factory, s3, bucket):
    off = server_factory("sigv2-off", env={"MAXIOFS_SIGV2": "off"})
    v4 = off.client()
    v4.create_bucket(Bucket="v2off")
    for what, r in sigv2_requests(off, "v2off"):
        assert r.status_code == 400, (what, r.status_code, r.text)
        assert xml_error_code(r.text) == "InvalidRequest", (what, r.text)
    exc = expect_client_error(off.client(signature_version="s3").list_buckets, status=400)
    assert err_code(exc) == "InvalidRequest", exc.response
    # Nothing was stored; SigV4 still works.
    assert v4.list_objects_v2(Bucket="v2off")["KeyCount"] == 0
    v4.put_object(Bucket="v2off", Key="k", Body=b"v4")
    assert v4.get_object(Bucket="v2off", Key="k")["Body"].read() == b"v4"

    # Control: the same SigV2 requests on a server with SigV2 on (the default) succeed.
    for what, r in sigv2_requests(server, bucket):
        assert r.status_code == 200, (what, r.status_code, r.text)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    assert s3.get_object(Bucket=bucket, Key="p")["Body"].read() == b"v2"
    assert bucket in [b["Name"] for b in server.client(signature_version="s3").list_buckets()["Buckets"]]
