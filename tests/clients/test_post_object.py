"""Browser form uploads (PostObject): boto3's generate_presigned_post sent with requests, SigV2
forms built by hand, anonymous forms under a bucket policy, and raw bodies that break the form's
rules. Every refusal is checked for AWS's error code and for nothing having been stored."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import socket
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.config import Config

from helpers import (
    MiB,
    REGION,
    crc32_b64,
    md5_b64,
    md5_hex,
    object_absent,
    rand_bytes,
    xml_error_code,
)

TIMEOUT = 30


def presign(s3, bucket, key, fields=None, conditions=None, expires=300):
    return s3.generate_presigned_post(
        Bucket=bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=expires
    )


def post_form(url, fields, data=b"hello, form", filename="hello.txt", files=None):
    """POST fields then the file, as a browser does; never follows redirects."""
    files = files if files is not None else {"file": (filename, data)}
    return requests.post(url, data=fields, files=files, allow_redirects=False, timeout=TIMEOUT)


def error_element(resp, name: str) -> str | None:
    return ET.fromstring(resp.content).findtext(name)


def assert_refused(resp, status, code, message=None):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert xml_error_code(resp.text) == code, resp.text
    if message is not None:
        assert error_element(resp, "Message") == message, resp.text


def policy_b64(document: dict) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def in_minutes(minutes: int) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def multipart(fields, file_bytes=None, boundary="----maxiofsFormBoundary", closing=True) -> tuple[bytes, str]:
    """A multipart/form-data body built by hand, for bodies requests would not send."""
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() if isinstance(value, str) else value
        out += b"\r\n"
    if file_bytes is not None:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n\r\n'.encode()
        out += file_bytes + b"\r\n"
    if closing:
        out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


# --------------------------------------------------------------------------- accepted


def test_presigned_post_stores_the_file_with_its_fields(s3, bucket):
    data = rand_bytes(300 * 1024, "post-accepted")
    post = presign(
        s3,
        bucket,
        "docs/report.txt",
        fields={"Content-Type": "text/plain", "x-amz-meta-color": "blue", "Cache-Control": "no-cache"},
        conditions=[
            {"Content-Type": "text/plain"},
            {"x-amz-meta-color": "blue"},
            {"Cache-Control": "no-cache"},
            ["content-length-range", 1, 1 * MiB],
        ],
    )
    resp = post_form(post["url"], post["fields"], data=data)
    assert resp.status_code == 204, resp.text
    assert resp.headers["ETag"] == f'"{md5_hex(data)}"'
    assert resp.headers["Location"].endswith(f"/{bucket}/docs/report.txt")
    got = s3.get_object(Bucket=bucket, Key="docs/report.txt")
    assert got["Body"].read() == data
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"color": "blue"}
    assert got["CacheControl"] == "no-cache"


def test_small_and_empty_files(s3, bucket):
    for key, data in (("tiny", b"x"), ("empty", b"")):
        post = presign(s3, bucket, key)
        resp = post_form(post["url"], post["fields"], data=data)
        assert resp.status_code == 204, resp.text
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data


def test_filename_variable_names_the_key(s3, bucket):
    post = presign(s3, bucket, "uploads/${filename}")
    resp = post_form(post["url"], post["fields"], data=b"photo bytes", filename="holiday.jpg")
    assert resp.status_code == 204, resp.text
    assert s3.get_object(Bucket=bucket, Key="uploads/holiday.jpg")["Body"].read() == b"photo bytes"


def test_success_action_status_201_answers_post_response(s3, bucket):
    post = presign(s3, bucket, "created", fields={"success_action_status": "201"},
                   conditions=[{"success_action_status": "201"}])
    resp = post_form(post["url"], post["fields"], data=b"abc")
    assert resp.status_code == 201, resp.text
    assert resp.headers["Content-Type"] == "application/xml"
    etag = f'"{md5_hex(b"abc")}"'
    assert resp.headers["ETag"] == etag
    root = ET.fromstring(resp.content)
    assert root.tag == "PostResponse"
    assert root.findtext("Bucket") == bucket
    assert root.findtext("Key") == "created"
    assert root.findtext("ETag") == etag
    assert re.fullmatch(rf"http://[^/]+/{bucket}/created", root.findtext("Location")), resp.text
    assert resp.headers["Location"] == root.findtext("Location")


def test_success_action_status_200_and_unknown_values(s3, bucket):
    for status, expected in (("200", 200), ("404", 204)):
        post = presign(s3, bucket, f"status-{status}", fields={"success_action_status": status},
                       conditions=[{"success_action_status": status}])
        resp = post_form(post["url"], post["fields"])
        assert resp.status_code == expected, resp.text
        assert resp.content == b""


def test_success_action_redirect_answers_303(s3, bucket):
    target = "https://app.example.com/done?upload=1"
    post = presign(s3, bucket, "a dir/redirected.txt", fields={"success_action_redirect": target},
                   conditions=[{"success_action_redirect": target}])
    resp = post_form(post["url"], post["fields"], data=b"redirect me")
    assert resp.status_code == 303, resp.text
    etag = md5_hex(b"redirect me")
    assert resp.headers["Location"] == (
        f"{target}&bucket={bucket}&key=a%20dir%2Fredirected.txt&etag=%22{etag}%22"
    )
    assert s3.head_object(Bucket=bucket, Key="a dir/redirected.txt")["ETag"] == f'"{etag}"'


def test_tagging_checksum_and_ignored_fields(s3, bucket):
    data = b"tagged and checked"
    tagging = "<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag></TagSet></Tagging>"
    post = presign(
        s3,
        bucket,
        "tagged",
        fields={
            "tagging": tagging,
            "x-amz-checksum-crc32": crc32_b64(data),
            "Content-MD5": md5_b64(data),
            "acl": "private",
        },
        conditions=[
            {"tagging": tagging},
            {"acl": "private"},
            ["starts-with", "$x-amz-checksum-crc32", ""],
            ["starts-with", "$Content-MD5", ""],
        ],
    )
    resp = post_form(post["url"], {**post["fields"], "x-ignore-submit": "Upload"}, data=data)
    assert resp.status_code == 204, resp.text
    assert resp.headers["x-amz-checksum-crc32"] == crc32_b64(data)
    tags = s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"]
    assert tags == [{"Key": "team", "Value": "blue"}]


def test_virtual_host_style_post(s3_virtual, s3, bucket):
    post = presign(s3_virtual, bucket, "vhost.txt")
    assert urlsplit(post["url"]).hostname == f"{bucket}.localhost"
    resp = post_form(post["url"], post["fields"], data=b"vhost")
    assert resp.status_code == 204, resp.text
    assert s3.get_object(Bucket=bucket, Key="vhost.txt")["Body"].read() == b"vhost"


# --------------------------------------------------------------------------- refused by the policy


def test_expired_policy_is_refused(s3, bucket):
    post = presign(s3, bucket, "late", expires=-60)
    resp = post_form(post["url"], post["fields"])
    assert_refused(resp, 403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    assert object_absent(s3, bucket, "late")


def test_forged_policies_are_refused(s3, bucket):
    allowed = presign(s3, bucket, "allowed")
    other = presign(s3, bucket, "other")
    # The signature of another policy.
    forged = {**other["fields"], "x-amz-signature": allowed["fields"]["x-amz-signature"]}
    assert_refused(post_form(other["url"], forged), 403, "SignatureDoesNotMatch")
    # A policy edited after signing.
    document = json.loads(base64.b64decode(allowed["fields"]["policy"]))
    document["conditions"] = [c for c in document["conditions"] if c != {"key": "allowed"}]
    document["conditions"].append(["starts-with", "$key", ""])
    tampered = {**allowed["fields"], "policy": policy_b64(document), "key": "anything"}
    assert_refused(post_form(allowed["url"], tampered), 403, "SignatureDoesNotMatch")
    # An unknown access key.
    unknown = {**allowed["fields"]}
    unknown["x-amz-credential"] = "AKIAUNKNOWN000000000" + unknown["x-amz-credential"][20:]
    assert_refused(post_form(allowed["url"], unknown), 403, "InvalidAccessKeyId")
    for key in ("allowed", "other", "anything"):
        assert object_absent(s3, bucket, key)


def test_key_outside_its_condition_is_refused(s3, bucket):
    post = presign(s3, bucket, "users/eric/${filename}")
    fields = {**post["fields"], "key": "admin/${filename}"}
    resp = post_form(post["url"], fields, filename="x.txt")
    assert_refused(
        resp, 403, "AccessDenied",
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "users/eric/"]',
    )
    assert object_absent(s3, bucket, "admin/x.txt")


def test_field_outside_its_condition_or_uncovered_is_refused(s3, bucket):
    post = presign(s3, bucket, "typed", fields={"Content-Type": "image/png"},
                   conditions=[["starts-with", "$Content-Type", "image/"]])
    wrong_type = {**post["fields"], "Content-Type": "text/html"}
    assert_refused(post_form(post["url"], wrong_type), 403, "AccessDenied")
    extra = {**post["fields"], "x-amz-meta-extra": "sneaky"}
    assert_refused(post_form(post["url"], extra), 403, "AccessDenied",
                   "Invalid according to Policy: Extra input fields: x-amz-meta-extra")
    assert object_absent(s3, bucket, "typed")


def test_file_outside_content_length_range_is_refused(s3, bucket):
    post = presign(s3, bucket, "sized", conditions=[["content-length-range", 10, 100]])
    assert_refused(post_form(post["url"], post["fields"], data=b"x" * 101), 400, "EntityTooLarge")
    assert_refused(post_form(post["url"], post["fields"], data=b"x" * 9), 400, "EntityTooSmall")
    assert object_absent(s3, bucket, "sized")
    assert post_form(post["url"], post["fields"], data=b"x" * 100).status_code == 204


def test_large_file_over_its_limit_stores_nothing(server, s3, bucket):
    """Passes the limit after a whole chunk was written: the upload is abandoned."""
    post = presign(s3, bucket, "big", conditions=[["content-length-range", 0, 5 * MiB // 2]])
    try:
        resp = post_form(post["url"], post["fields"], data=rand_bytes(4 * MiB, "post-big"))
    except requests.ConnectionError:
        resp = None  # the server answered and closed while the client was still sending
    if resp is not None:
        assert_refused(resp, 400, "EntityTooLarge")
    assert object_absent(s3, bucket, "big")
    assert server.health_status() == 200


def test_wrong_content_md5_or_checksum_stores_nothing(s3, bucket):
    for field, value in (("Content-MD5", md5_b64(b"other")), ("x-amz-checksum-crc32", crc32_b64(b"other"))):
        post = presign(s3, bucket, "checked", fields={field: value}, conditions=[{field: value}])
        assert_refused(post_form(post["url"], post["fields"], data=b"data"), 400, "BadDigest")
    assert object_absent(s3, bucket, "checked")


def test_session_credentials_need_their_token(server, s3, bucket):
    sts = boto3.session.Session().client(
        "sts", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
    )
    creds = sts.get_session_token()["Credentials"]
    temporary = boto3.session.Session().client(
        "s3", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    post = presign(temporary, bucket, "session.txt")
    assert post["fields"]["x-amz-security-token"] == creds["SessionToken"]
    without = {name: value for name, value in post["fields"].items() if name != "x-amz-security-token"}
    assert_refused(post_form(post["url"], without), 400, "InvalidToken")
    assert object_absent(s3, bucket, "session.txt")
    resp = post_form(post["url"], post["fields"], data=b"from a session")
    assert resp.status_code == 204, resp.text
    assert s3.get_object(Bucket=bucket, Key="session.txt")["Body"].read() == b"from a session"


# --------------------------------------------------------------------------- SigV2 forms


def sigv2_form(creds, bucket, key, conditions=()):
    access_key, secret_key = creds
    policy = policy_b64({
        "expiration": in_minutes(5),
        "conditions": [{"bucket": bucket}, {"key": key}, *conditions],
    })
    signature = base64.b64encode(hmac.new(secret_key.encode(), policy.encode(), hashlib.sha1).digest())
    return {"key": key, "AWSAccessKeyId": access_key, "policy": policy, "signature": signature.decode()}


def test_sigv2_form(endpoint, creds, s3, bucket):
    fields = sigv2_form(creds, bucket, "v2.txt")
    resp = post_form(f"{endpoint}/{bucket}", fields, data=b"signed the old way")
    assert resp.status_code == 204, resp.text
    assert s3.get_object(Bucket=bucket, Key="v2.txt")["Body"].read() == b"signed the old way"
    forged = {**sigv2_form(creds, bucket, "v2-forged.txt"), "signature": fields["signature"]}
    assert_refused(post_form(f"{endpoint}/{bucket}", forged), 403, "SignatureDoesNotMatch")
    assert object_absent(s3, bucket, "v2-forged.txt")


# --------------------------------------------------------------------------- anonymous forms


def test_anonymous_form_needs_a_bucket_policy(endpoint, s3, bucket):
    url = f"{endpoint}/{bucket}"
    assert_refused(post_form(url, {"key": "anon.txt"}), 403, "AccessDenied")
    assert object_absent(s3, bucket, "anon.txt")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
                       "Resource": f"arn:aws:s3:::{bucket}/public/*"}],
    }))
    try:
        resp = post_form(url, {"key": "public/anon.txt", "Content-Type": "text/plain"}, data=b"anon")
        assert resp.status_code == 204, resp.text
        got = s3.get_object(Bucket=bucket, Key="public/anon.txt")
        assert got["Body"].read() == b"anon" and got["ContentType"] == "text/plain"
        assert_refused(post_form(url, {"key": "private/anon.txt"}), 403, "AccessDenied")
        assert object_absent(s3, bucket, "private/anon.txt")
    finally:
        s3.delete_bucket_policy(Bucket=bucket)


# --------------------------------------------------------------------------- malformed forms


def test_forms_without_exactly_one_file_are_refused(s3, bucket):
    post = presign(s3, bucket, "files")
    resp = post_form(post["url"], post["fields"], files={})
    # requests sends a url-encoded body when there is no file at all.
    assert_refused(resp, 412, "PreconditionFailed")
    body, content_type = multipart(list(post["fields"].items()))
    resp = requests.post(post["url"], data=body, headers={"Content-Type": content_type}, timeout=TIMEOUT)
    assert_refused(resp, 400, "InvalidArgument", "POST requires exactly one file upload per request.")
    two = [("file", ("a.txt", b"one")), ("file", ("b.txt", b"two"))]
    resp = post_form(post["url"], post["fields"], files=two)
    assert_refused(resp, 400, "InvalidArgument")
    assert error_element(resp, "ArgumentValue") == "2"
    assert object_absent(s3, bucket, "files")


def test_form_limits(s3, bucket):
    post = presign(s3, bucket, "limited")
    many = {f"x-ignore-{i}": "v" for i in range(65)}
    assert_refused(post_form(post["url"], {**post["fields"], **many}), 400, "MalformedPOSTRequest")
    big = {**post["fields"], "x-ignore-big": "b" * (21 * 1024)}
    resp = post_form(post["url"], big)
    assert_refused(resp, 400, "MaxPostPreDataLengthExceeded")
    assert "<MaxPostPreDataLengthBytes>20480</MaxPostPreDataLengthBytes>" in resp.text
    assert object_absent(s3, bucket, "limited")


def test_form_without_closing_boundary_stores_nothing(s3, bucket):
    post = presign(s3, bucket, "unclosed")
    body, content_type = multipart(list(post["fields"].items()), b"file bytes", closing=False)
    resp = requests.post(post["url"], data=body, headers={"Content-Type": content_type}, timeout=TIMEOUT)
    assert_refused(resp, 400, "MalformedPOSTRequest")
    assert object_absent(s3, bucket, "unclosed")


def test_client_stopping_mid_body_stores_nothing(server, s3, bucket):
    post = presign(s3, bucket, "cut")
    body, content_type = multipart(list(post["fields"].items()), rand_bytes(2 * MiB, "cut"))
    sent = body[: len(body) - MiB]
    head = (
        f"POST /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(head + sent)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert xml_error_code(answer.decode(errors="replace")) == "IncompleteBody"
    assert object_absent(s3, bucket, "cut")
    assert server.health_status() == 200


def test_malformed_policy_documents(s3, creds, endpoint, bucket):
    access_key, secret_key = creds
    for policy in ("bm90IGpzb24=", policy_b64({"conditions": []}), policy_b64({"expiration": in_minutes(5)})):
        signature = base64.b64encode(hmac.new(secret_key.encode(), policy.encode(), hashlib.sha1).digest())
        fields = {"key": "bad-policy", "AWSAccessKeyId": access_key, "policy": policy,
                  "signature": signature.decode()}
        assert_refused(post_form(f"{endpoint}/{bucket}", fields), 400, "InvalidPolicyDocument")
    assert object_absent(s3, bucket, "bad-policy")


def test_missing_key_and_missing_bucket(s3, endpoint, bucket):
    post = presign(s3, bucket, "keyed")
    no_key = {name: value for name, value in post["fields"].items() if name != "key"}
    resp = post_form(post["url"], no_key)
    assert_refused(resp, 400, "InvalidArgument", "Bucket POST must contain a field named 'key'.  "
                   "If it is specified, please check the order of the fields.")
    resp = post_form(f"{endpoint}/no-such-bucket-{int(time.time())}", post["fields"])
    assert_refused(resp, 404, "NoSuchBucket")


@pytest.mark.parametrize("region", ["eu-west-3"])
def test_credential_for_another_region_is_refused(s3, bucket, region):
    post = presign(s3, bucket, "region")
    fields = {**post["fields"], "x-amz-credential": post["fields"]["x-amz-credential"].replace(REGION, region)}
    assert_refused(post_form(post["url"], fields), 400, "AuthorizationHeaderMalformed")
    assert object_absent(s3, bucket, "region")
