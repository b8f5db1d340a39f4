"""Attack review of browser uploads (PostObject), CORS and ACLs: what an attacker or a sloppy
client can send, and what must never happen because of it.

- A form write needs a valid signature over a policy that covers the URL's bucket, the key and
  every field before the file; nothing after the file, no second spelling of a field, no path in
  the file's name, no chunked body and no short Content-Length changes that. SigV2 forms are
  refused while SigV2 is off, a session token of another session is refused, and so is a key of
  a suspended tenant.
- Hostile bodies (empty boundary, endless part header, bare LF, nested multipart, boundary
  look-alikes, fields dripped byte by byte before authentication) answer 4xx quickly and leave
  the server healthy.
- No response header is made from a CR/LF a form smuggled in (redirect, stored headers) or a
  CORS configuration holds.
- CORS answers no Access-Control-* header to an origin no rule allows.
- ACL grants give exactly AWS's mapping: an account grant gives an anonymous caller nothing,
  object FULL_CONTROL never deletes or overwrites, bucket WRITE never deletes a version or copies
  a private object, each version keeps its own ACL, IgnorePublicAcls and RestrictPublicBuckets
  hold for POST uploads too, and anonymous GETs may not rewrite response headers.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import socket
import time
import uuid
import xml.etree.ElementTree as ET

import boto3
import pytest
import requests

from admin_api import AdminApi
from helpers import (
    REGION,
    empty_and_delete_bucket,
    expect_client_error,
    http_status,
    make_client,
    md5_b64,
    object_absent,
    signed_requests_call,
    unique_bucket_name,
    wait_for,
    xml_error_code,
)

TIMEOUT = 30
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
BOUNDARY = "----maxiofsAttackBoundary7MA4YWxk"


# --------------------------------------------------------------------------- helpers


def presign(s3, bucket, key, fields=None, conditions=None, expires=300):
    return s3.generate_presigned_post(
        Bucket=bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=expires
    )


def post_form(url, fields, data=b"attack bytes", filename="f.txt", files=None):
    files = files if files is not None else {"file": (filename, data)}
    return requests.post(url, data=fields, files=files, allow_redirects=False, timeout=TIMEOUT)


def assert_refused(resp, status, code):
    assert resp.status_code == status, (resp.status_code, resp.headers, resp.text[:2000])
    assert xml_error_code(resp.text) == code, resp.text[:2000]


def part(name: str, value: bytes | str, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    value = value.encode() if isinstance(value, str) else value
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"


def form_body(before, file_bytes=None, after=(), closing=True) -> bytes:
    """Fields `before` the file, the file, fields `after` it, the closing delimiter."""
    out = b"".join(part(name, value) for name, value in before)
    if file_bytes is not None:
        out += part("file", file_bytes, filename="f.bin")
    out += b"".join(part(name, value) for name, value in after)
    if closing:
        out += f"--{BOUNDARY}--\r\n".encode()
    return out


FORM_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def post_raw(url, body, content_type=FORM_TYPE, timeout=TIMEOUT):
    return requests.post(url, data=body, headers={"Content-Type": content_type}, timeout=timeout,
                         allow_redirects=False)


def policy_b64(document: dict) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def sigv4_form(access_key, secret_key, bucket, key, conditions=(), fields=None, token=None):
    """A SigV4 form signed here (not by boto3), so a test can choose every condition."""
    now = datetime.datetime.now(datetime.timezone.utc)
    day, amz_date = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    credential = f"{access_key}/{day}/{REGION}/s3/aws4_request"
    expiration = (now + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {
        "expiration": expiration,
        "conditions": [
            {"bucket": bucket},
            ["starts-with", "$key", key],
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": credential},
            {"x-amz-date": amz_date},
            *conditions,
        ],
    }
    policy = policy_b64(document)

    def sign(k: bytes, msg: str) -> bytes:
        return hmac.new(k, msg.encode(), hashlib.sha256).digest()

    signing = sign(sign(sign(sign(("AWS4" + secret_key).encode(), day), REGION), "s3"), "aws4_request")
    signature = hmac.new(signing, policy.encode(), hashlib.sha256).hexdigest()
    out = {
        "key": key,
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": credential,
        "x-amz-date": amz_date,
    }
    if token is not None:
        out["x-amz-security-token"] = token
    out.update(fields or {})
    out["policy"] = policy
    out["x-amz-signature"] = signature
    return out


def sigv2_form(access_key, secret_key, bucket, key):
    expiration = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5))
    policy = policy_b64({
        "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "conditions": [{"bucket": bucket}, {"key": key}],
    })
    signature = base64.b64encode(hmac.new(secret_key.encode(), policy.encode(), hashlib.sha1).digest())
    return {"key": key, "AWSAccessKeyId": access_key, "policy": policy, "signature": signature.decode()}


def all_keys(s3, bucket) -> list[str]:
    page = s3.list_object_versions(Bucket=bucket)
    return sorted({v["Key"] for v in page.get("Versions", [])})


def set_public_access_block(s3, bucket, **flags):
    config = {"BlockPublicAcls": False, "IgnorePublicAcls": False,
              "BlockPublicPolicy": False, "RestrictPublicBuckets": False, **flags}
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=config)


@pytest.fixture(scope="module")
def admin(server):
    return AdminApi(server)


@pytest.fixture(scope="module")
def other(admin):
    """A second account: its tenant json, its tenant admin's S3 client (its IAM allows s3:*)."""
    name = f"atk{uuid.uuid4().hex[:8]}"
    tenant, client, key = admin.tenant_with_key(name)
    return {"tenant": tenant, "s3": client, "key": key, "name": name}


@pytest.fixture
def acl_bucket(s3):
    """A bucket with ACLs enabled (ObjectWriter), emptied and deleted afterwards."""
    name = unique_bucket_name("atk-acl")
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    yield name
    empty_and_delete_bucket(s3, name)


@pytest.fixture
def second_bucket(s3):
    name = unique_bucket_name("atk-second")
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(s3, name)


# --------------------------------------------------------------------------- POST: who may write


def test_policy_for_another_bucket_is_refused(s3, bucket, second_bucket):
    """A form signed for bucket A, replayed against bucket B (with or without a `bucket` field
    claiming A), must not write into B: the URL's bucket is what the policy must name."""
    post = presign(s3, bucket, "replayed")
    url_b = post["url"].replace(f"/{bucket}", f"/{second_bucket}")
    assert url_b != post["url"]
    assert_refused(post_form(url_b, post["fields"]), 403, "AccessDenied")
    claiming = {**post["fields"], "bucket": bucket}
    assert_refused(post_form(url_b, claiming), 403, "AccessDenied")
    assert object_absent(s3, second_bucket, "replayed")
    assert object_absent(s3, bucket, "replayed")


def test_credentials_after_the_file_do_not_count(s3, bucket):
    """The policy and signature sent after the file are not read: the form is anonymous, and a
    private bucket refuses it."""
    post = presign(s3, bucket, "late-creds")
    fields = dict(post["fields"])
    body = form_body([("key", fields.pop("key"))], b"payload", after=list(fields.items()))
    resp = post_raw(post["url"], body)
    assert_refused(resp, 403, "AccessDenied")
    assert object_absent(s3, bucket, "late-creds")


def test_fields_after_the_file_change_nothing(s3, acl_bucket, server):
    """A valid form, then `key`, `acl` and `Content-Type` again after the file: the object is
    stored under the signed key with the signed fields only."""
    post = presign(s3, acl_bucket, "signed-key", fields={"Content-Type": "text/plain"},
                   conditions=[{"Content-Type": "text/plain"}])
    after = [("key", "smuggled-key"), ("acl", "public-read-write"), ("Content-Type", "text/html")]
    body = form_body(list(post["fields"].items()), b"payload", after=after)
    resp = post_raw(post["url"], body)
    assert resp.status_code == 204, resp.text
    assert object_absent(s3, acl_bucket, "smuggled-key")
    got = s3.get_object(Bucket=acl_bucket, Key="signed-key")
    assert got["ContentType"] == "text/plain" and got["Body"].read() == b"payload"
    assert requests.get(f"{server.endpoint}/{acl_bucket}/signed-key", timeout=TIMEOUT).status_code == 403


def test_second_spelling_of_a_field_is_refused(s3, bucket):
    """`key` and `KEY`, or `policy` and `Policy`: a field sent twice under different case must
    not let the unsigned spelling choose the key."""
    post = presign(s3, bucket, "safe")
    doubled_key = {**post["fields"], "KEY": "evil"}
    assert_refused(post_form(post["url"], doubled_key), 403, "AccessDenied")
    other = presign(s3, bucket, "evil")
    doubled_policy = {**post["fields"], "key": "evil", "POLICY": other["fields"]["policy"]}
    resp = post_form(post["url"], doubled_policy)
    assert resp.status_code in (400, 403), resp.text
    for key in ("evil", "safe", "safe,evil", "evil,safe"):
        assert object_absent(s3, bucket, key), key


@pytest.mark.parametrize("filename", [
    "../../admin/escape.txt",
    "..\\..\\admin\\escape.txt",
    "/admin/escape.txt",
    "C:\\admin\\escape.txt",
    "..",
])
def test_filename_cannot_leave_the_starts_with_prefix(s3, bucket, filename):
    post = presign(s3, bucket, "uploads/${filename}")
    resp = post_form(post["url"], post["fields"], data=b"named", filename=filename)
    assert resp.status_code in (204, 400), resp.text
    for key in all_keys(s3, bucket):
        assert key.startswith("uploads/"), (filename, key)
        assert "/" not in key[len("uploads/"):] and "\\" not in key, (filename, key)


def _chunks(body: bytes, size: int = 7):
    for i in range(0, len(body), size):
        yield body[i : i + size]


def test_content_length_range_holds_for_chunked_bodies(s3, bucket):
    post = presign(s3, bucket, "chunked", conditions=[["content-length-range", 10, 100]])
    for data, code in ((b"x" * 101, "EntityTooLarge"), (b"x" * 9, "EntityTooSmall")):
        body = form_body(list(post["fields"].items()), data)
        resp = requests.post(post["url"], data=_chunks(body), headers={"Content-Type": FORM_TYPE},
                             timeout=TIMEOUT)
        assert_refused(resp, 400, code)
        assert object_absent(s3, bucket, "chunked")
    body = form_body(list(post["fields"].items()), b"y" * 100)
    resp = requests.post(post["url"], data=_chunks(body), headers={"Content-Type": FORM_TYPE}, timeout=TIMEOUT)
    assert resp.status_code == 204, resp.text


def test_short_content_length_stores_nothing(server, s3, bucket):
    """A Content-Length that ends the body inside the file: the form is cut, nothing stored
    (the bytes past it are not part of this request)."""
    post = presign(s3, bucket, "short")
    body = form_body(list(post["fields"].items()), b"A" * 4000)
    cut = len(body) - 2000
    head = (
        f"POST /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: {FORM_TYPE}\r\nContent-Length: {cut}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(head + body)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    assert http_status(answer) == 400, answer[:500]
    assert xml_error_code(answer.decode(errors="replace")) == "MalformedPOSTRequest", answer[:800]
    assert object_absent(s3, bucket, "short")
    assert server.health_status() == 200


def test_sigv2_form_is_refused_while_sigv2_is_off(server_factory):
    srv = server_factory("atk-sigv2-off", env={"MAXIOFS_SIGV2": "off"})
    s3 = srv.client()
    bucket = unique_bucket_name("atk-v2off")
    s3.create_bucket(Bucket=bucket)
    fields = sigv2_form(srv.access_key, srv.secret_key, bucket, "v2.txt")
    resp = post_form(f"{srv.endpoint}/{bucket}", fields)
    assert_refused(resp, 400, "InvalidRequest")
    assert object_absent(s3, bucket, "v2.txt")


def test_session_token_of_another_session_is_refused(server, s3, bucket):
    sts = boto3.session.Session().client(
        "sts", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
    )
    first = sts.get_session_token()["Credentials"]
    second = sts.get_session_token()["Credentials"]
    token_condition = [["starts-with", "$x-amz-security-token", ""]]
    swapped = sigv4_form(first["AccessKeyId"], first["SecretAccessKey"], bucket, "session-swap",
                         conditions=token_condition, token=second["SessionToken"])
    assert_refused(post_form(f"{server.endpoint}/{bucket}", swapped), 400, "InvalidToken")
    assert object_absent(s3, bucket, "session-swap")
    right = sigv4_form(first["AccessKeyId"], first["SecretAccessKey"], bucket, "session-swap",
                       conditions=token_condition, token=first["SessionToken"])
    resp = post_form(f"{server.endpoint}/{bucket}", right)
    assert resp.status_code == 204, resp.text


def test_suspended_tenant_form_is_refused(server, s3, admin):
    name = f"atksus{uuid.uuid4().hex[:8]}"
    _, theirs, _ = admin.tenant_with_key(name)
    bucket = unique_bucket_name("atk-susp")
    theirs.create_bucket(Bucket=bucket)
    try:
        post = presign(theirs, bucket, "while-suspended")
        admin.call("PATCH", f"/tenants/{name}", expect=200, json={"status": "suspended"})
        try:
            assert_refused(post_form(post["url"], post["fields"]), 403, "AccessDenied")
            assert object_absent(s3, bucket, "while-suspended")
        finally:
            admin.call("PATCH", f"/tenants/{name}", expect=200, json={"status": "active"})
    finally:
        empty_and_delete_bucket(theirs, bucket)


def test_signed_policy_grants_no_more_than_its_signer(server, s3, other):
    """A valid policy is the signer's consent, not a permission: the signer's own IAM policy
    still decides (s3:PutObject on the key), and a deleted key signs nothing."""
    theirs = other["s3"]
    bucket = unique_bucket_name("atk-signer")
    theirs.create_bucket(Bucket=bucket)
    iam = boto3.client("iam", endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id=other["key"]["access_key_id"],
                        aws_secret_access_key=other["key"]["secret_access_key"])
    user = f"poster{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="drop", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                                                "Resource": f"arn:aws:s3:::{bucket}/allowed/*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    poster = make_client(server.endpoint, key["AccessKeyId"], key["SecretAccessKey"], "path")
    try:
        def allowed_works() -> bool:
            post = presign(poster, bucket, "allowed/x")
            return post_form(post["url"], post["fields"]).status_code == 204

        wait_for(allowed_works, timeout=10, what="the user's own permission to reach the shards")
        denied = presign(poster, bucket, "denied/x")
        assert_refused(post_form(denied["url"], denied["fields"]), 403, "AccessDenied")
        assert object_absent(s3, bucket, "denied/x")
        later = presign(poster, bucket, "allowed/after-delete")
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])

        def refused() -> bool:
            resp = post_form(later["url"], later["fields"])
            return resp.status_code == 403 and xml_error_code(resp.text) == "InvalidAccessKeyId"

        wait_for(refused, timeout=10, what="the deleted key to be refused")
        assert object_absent(s3, bucket, "allowed/after-delete")
    finally:
        empty_and_delete_bucket(theirs, bucket)


# --------------------------------------------------------------------------- POST: hostile bodies


@pytest.mark.parametrize("content_type", [
    "multipart/form-data; boundary=",
    'multipart/form-data; boundary=""',
    "multipart/form-data",
    "multipart/form-data; boundary=" + "b" * 71,
])
def test_bad_boundaries_are_malformed(server, s3, bucket, content_type):
    resp = post_raw(f"{server.endpoint}/{bucket}", form_body([("key", "b")], b"x"), content_type)
    assert_refused(resp, 400, "MalformedPOSTRequest")
    assert server.health_status() == 200


def test_endless_part_header_is_refused_before_auth(server, s3, bucket):
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"\r\nX-Pad: ".encode()
            + b"p" * (200 * 1024) + b"\r\n\r\nk\r\n" + f"--{BOUNDARY}--\r\n".encode())
    started = time.monotonic()
    try:
        resp = post_raw(f"{server.endpoint}/{bucket}", body)
    except requests.ConnectionError:
        resp = None  # answered and closed while the body was still going out
    if resp is not None:
        assert_refused(resp, 400, "MaxPostPreDataLengthExceeded")
    assert time.monotonic() - started < 10
    assert server.health_status() == 200


def test_bare_lf_form_is_malformed_not_hung(server, s3, bucket):
    post = presign(s3, bucket, "lf")
    body = form_body(list(post["fields"].items()), b"payload").replace(b"\r\n", b"\n")
    started = time.monotonic()
    resp = post_raw(post["url"], body, timeout=25)
    assert_refused(resp, 400, "MalformedPOSTRequest")
    assert time.monotonic() - started < 10
    assert object_absent(s3, bucket, "lf")


def test_nested_multipart_is_a_value_not_a_file(s3, bucket):
    """A `file` part nested inside a field's value (another boundary) is text, not the file."""
    post = presign(s3, bucket, "nested")
    inner = (b"--inner\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n"
             b"smuggled\r\n--inner--")
    body = form_body([*post["fields"].items(), ("x-ignore-nested", inner)])
    resp = post_raw(post["url"], body)
    assert_refused(resp, 400, "InvalidArgument")
    assert ET.fromstring(resp.content).findtext("ArgumentValue") == "0"
    assert object_absent(s3, bucket, "nested")


def test_boundary_lookalikes_inside_the_file_are_content(s3, bucket):
    post = presign(s3, bucket, "lookalike")
    # Near-misses only: a whole CRLF--boundary would end the part (RFC 2046).
    data = (b"start\r\n--" + BOUNDARY[:-1].encode() + b"\r\nx--" + BOUNDARY.encode()
            + b"\r\n\r-\r\n-\r\r\n--" + b"\r" * 70 + b"end")
    resp = post_raw(post["url"], form_body(list(post["fields"].items()), data))
    assert resp.status_code == 204, resp.text
    assert s3.get_object(Bucket=bucket, Key="lookalike")["Body"].read() == data


def test_fields_dripped_before_auth_are_cut_off(server, s3, bucket):
    """Slowloris before authentication: a byte every second keeps the HTTP layer's progress
    timer alive, but the fields must have arrived within 20 s."""
    head = (
        f"POST /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: {FORM_TYPE}\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    drip = f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n".encode() + b"k" * 200
    started = time.monotonic()
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(head)
        sock.settimeout(1.0)
        closed = False
        for byte in drip:
            if time.monotonic() - started > 45:
                break
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            answer += chunk
            break
        # Whatever else of the answer is on its way.
        sock.settimeout(3.0)
        try:
            while not closed and (chunk := sock.recv(65536)):
                answer += chunk
        except OSError:
            pass
    elapsed = time.monotonic() - started
    assert http_status(answer) == 400, (elapsed, answer[:500])
    assert xml_error_code(answer.decode(errors="replace")) == "RequestTimeout", answer[:800]
    assert elapsed < 40, elapsed
    assert server.health_status() == 200


# --------------------------------------------------------------------------- POST: response splitting


def test_redirect_with_line_break_makes_no_header(s3, bucket):
    target = "https://app.example.com/done\r\nSet-Cookie: pwned=1"
    post = presign(s3, bucket, "redir", fields={"success_action_redirect": target},
                   conditions=[["starts-with", "$success_action_redirect", "https://app.example.com/"]])
    resp = post_form(post["url"], post["fields"])
    assert resp.status_code in (204, 400), (resp.status_code, resp.headers)
    assert "Set-Cookie" not in resp.headers, resp.headers
    assert all("\r" not in v and "\n" not in v for v in resp.headers.values())


@pytest.mark.parametrize("field", ["Content-Type", "x-amz-meta-note", "Content-Disposition"])
def test_header_fields_with_line_breaks_are_refused(s3, bucket, field):
    value = "text/plain\r\nX-Injected: 1"
    post = presign(s3, bucket, "split", fields={field: value},
                   conditions=[["starts-with", f"${field}", ""]])
    assert_refused(post_form(post["url"], post["fields"]), 400, "InvalidArgument")
    assert object_absent(s3, bucket, "split")


def test_header_field_larger_than_any_request_head_is_served_or_refused(server, s3, bucket):
    """A form field may be longer than any request header could be (16 KiB head limit here):
    the upload is refused, or every later GET and HEAD of the object answers whole."""
    value = "attachment; filename=" + "a" * (18 * 1024)
    post = presign(s3, bucket, "long-header", fields={"Content-Disposition": value},
                   conditions=[["starts-with", "$Content-Disposition", ""]])
    resp = post_form(post["url"], post["fields"])
    assert resp.status_code in (204, 400), (resp.status_code, resp.text[:500])
    if resp.status_code == 400:
        assert object_absent(s3, bucket, "long-header")
        return
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "long-header"})
    try:
        got = requests.get(url, timeout=TIMEOUT)
    except requests.ConnectionError as exc:
        pytest.fail(f"GET of the stored object failed: {exc!r}")
    assert got.status_code == 200 and got.headers["Content-Disposition"] == value
    assert server.health_status() == 200


# --------------------------------------------------------------------------- CORS


def test_cors_origin_no_rule_allows_gets_no_headers(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": ["https://app.example.com", "https://*.example.org"],
        "AllowedMethods": ["GET", "PUT", "POST"], "AllowedHeaders": ["*"],
    }]})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for origin in ("https://app.example.com.evil.net", "https://evil.net", "null",
                   "https://example.org", "http://app.example.com", "https://APP.example.com",
                   "https://app.example.co"):
        pre = requests.options(f"{server.endpoint}/{bucket}/k", timeout=TIMEOUT, headers={
            "Origin": origin, "Access-Control-Request-Method": "GET"})
        assert pre.status_code == 403, (origin, pre.status_code, pre.headers)
        assert "Access-Control-Allow-Origin" not in pre.headers, (origin, pre.headers)
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
        real = requests.get(url, headers={"Origin": origin}, timeout=TIMEOUT)
        assert real.status_code == 200
        assert "Access-Control-Allow-Origin" not in real.headers, (origin, real.headers)
        assert "Access-Control-Allow-Credentials" not in real.headers, (origin, real.headers)


def test_cors_expose_header_with_line_break_breaks_no_answer(server, s3, bucket):
    """An ExposeHeader holding CR LF (as XML character references): either the configuration is
    refused, or answers to a matching origin stay whole and carry no injected header."""
    body = (
        "<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin>"
        "<AllowedMethod>GET</AllowedMethod>"
        "<ExposeHeader>ETag&#xD;&#xA;X-Injected: 1</ExposeHeader></CORSRule></CORSConfiguration>"
    ).encode()
    put = signed_requests_call(server.endpoint, server.access_key, server.secret_key, "PUT",
                               f"/{bucket}", query="cors", headers={"Content-MD5": md5_b64(body)},
                               body=body)
    if put.status_code == 400:
        return
    assert put.status_code == 200, put.text
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    try:
        real = requests.get(url, headers={"Origin": "https://app.example.com"}, timeout=TIMEOUT)
        pre = requests.options(f"{server.endpoint}/{bucket}/k", timeout=TIMEOUT, headers={
            "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
    except requests.ConnectionError as exc:
        pytest.fail(f"the server dropped the connection instead of answering: {exc!r}")
    for resp in (real, pre):
        assert resp.status_code == 200, (resp.status_code, resp.text[:500])
        assert "X-Injected" not in resp.headers, resp.headers


# --------------------------------------------------------------------------- ACLs


def test_account_grants_give_anonymous_callers_nothing(server, s3, acl_bucket, other):
    owner_id = s3.get_bucket_acl(Bucket=acl_bucket)["Owner"]["ID"]
    their_id = other["tenant"]["canonical_id"]
    s3.put_object(Bucket=acl_bucket, Key="granted", Body=b"for accounts",
                  GrantFullControl=f'id="{owner_id}", id="{their_id}"')
    s3.put_bucket_acl(Bucket=acl_bucket, GrantFullControl=f'id="{owner_id}", id="{their_id}"')
    base = f"{server.endpoint}/{acl_bucket}"
    assert requests.get(f"{base}/granted", timeout=TIMEOUT).status_code == 403
    assert requests.head(f"{base}/granted", timeout=TIMEOUT).status_code == 403
    assert requests.get(f"{base}/granted?acl", timeout=TIMEOUT).status_code == 403
    assert requests.get(f"{base}?list-type=2", timeout=TIMEOUT).status_code == 403
    assert requests.get(f"{base}?acl", timeout=TIMEOUT).status_code == 403
    assert requests.put(f"{base}/anon", data=b"x", timeout=TIMEOUT).status_code == 403
    assert requests.delete(f"{base}/granted", timeout=TIMEOUT).status_code == 403
    resp = post_form(base, {"key": "anon-post"})
    assert_refused(resp, 403, "AccessDenied")
    assert object_absent(s3, acl_bucket, "anon")
    assert object_absent(s3, acl_bucket, "anon-post")
    assert s3.get_object(Bucket=acl_bucket, Key="granted")["Body"].read() == b"for accounts"
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="private")


def test_object_full_control_never_deletes_or_overwrites(server, s3, acl_bucket):
    """FULL_CONTROL on an object is READ, READ_ACP and WRITE_ACP; deleting or replacing the
    object needs WRITE on the bucket."""
    s3.put_object(Bucket=acl_bucket, Key="open", Body=b"original", GrantFullControl=f'uri="{ALL_USERS}"')
    url = f"{server.endpoint}/{acl_bucket}/open"
    assert requests.get(url, timeout=TIMEOUT).content == b"original"
    assert requests.put(url, data=b"replaced", timeout=TIMEOUT).status_code == 403
    assert requests.delete(url, timeout=TIMEOUT).status_code == 403
    assert_refused(post_form(f"{server.endpoint}/{acl_bucket}", {"key": "open"}, data=b"posted"),
                   403, "AccessDenied")
    assert s3.get_object(Bucket=acl_bucket, Key="open")["Body"].read() == b"original"


def test_bucket_write_never_deletes_versions(server, s3, acl_bucket):
    s3.put_bucket_versioning(Bucket=acl_bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=acl_bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=acl_bucket, Key="k", Body=b"two")["VersionId"]
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="public-read-write")
    try:
        resp = requests.delete(f"{server.endpoint}/{acl_bucket}/k?versionId={v1}", timeout=TIMEOUT)
        assert resp.status_code == 403, resp.text
        doc = (f"<Delete><Object><Key>k</Key><VersionId>{v2}</VersionId></Object>"
               f"<Object><Key>k</Key><VersionId>{v1}</VersionId></Object></Delete>").encode()
        resp = requests.post(f"{server.endpoint}/{acl_bucket}?delete", data=doc, timeout=TIMEOUT,
                             headers={"Content-MD5": md5_b64(doc), "Content-Type": "application/xml"})
        assert resp.status_code in (200, 403), resp.text
        if resp.status_code == 200:
            assert "<Deleted>" not in resp.text, resp.text
        versions = s3.list_object_versions(Bucket=acl_bucket)["Versions"]
        assert {v["VersionId"] for v in versions} >= {v1, v2}
    finally:
        s3.put_bucket_acl(Bucket=acl_bucket, ACL="private")


def test_bucket_write_cannot_copy_a_private_object(server, s3, acl_bucket):
    s3.put_object(Bucket=acl_bucket, Key="secret", Body=b"owner only")
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="public-read-write")
    try:
        resp = requests.put(f"{server.endpoint}/{acl_bucket}/leak", timeout=TIMEOUT,
                            headers={"x-amz-copy-source": f"/{acl_bucket}/secret"})
        assert resp.status_code == 403, resp.text
        assert object_absent(s3, acl_bucket, "leak")
        # Nor may the anonymous writer put tags on its own upload (s3:PutObjectTagging).
        resp = requests.put(f"{server.endpoint}/{acl_bucket}/tagged", data=b"x", timeout=TIMEOUT,
                            headers={"x-amz-tagging": "a=b"})
        assert resp.status_code == 403, resp.text
    finally:
        s3.put_bucket_acl(Bucket=acl_bucket, ACL="private")


def test_each_version_keeps_its_own_acl(server, s3, acl_bucket):
    base = f"{server.endpoint}/{acl_bucket}"
    # Before versioning: the null version, private.
    s3.put_object(Bucket=acl_bucket, Key="n", Body=b"null private")
    s3.put_bucket_versioning(Bucket=acl_bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=acl_bucket, Key="n", Body=b"public", ACL="public-read")
    assert requests.get(f"{base}/n", timeout=TIMEOUT).content == b"public"
    assert requests.get(f"{base}/n?versionId=null", timeout=TIMEOUT).status_code == 403
    # Public first, private after.
    v1 = s3.put_object(Bucket=acl_bucket, Key="a", Body=b"a1", ACL="public-read")["VersionId"]
    v2 = s3.put_object(Bucket=acl_bucket, Key="a", Body=b"a2")["VersionId"]
    assert requests.get(f"{base}/a", timeout=TIMEOUT).status_code == 403
    assert requests.head(f"{base}/a", timeout=TIMEOUT).status_code == 403
    assert requests.get(f"{base}/a?versionId={v2}", timeout=TIMEOUT).status_code == 403
    assert requests.get(f"{base}/a?versionId={v2}&acl", timeout=TIMEOUT).status_code == 403
    assert requests.get(f"{base}/a?versionId={v1}", timeout=TIMEOUT).content == b"a1"
    # Private first, public after; then the old version's ACL changed by id alone.
    w1 = s3.put_object(Bucket=acl_bucket, Key="b", Body=b"b1")["VersionId"]
    w2 = s3.put_object(Bucket=acl_bucket, Key="b", Body=b"b2", ACL="public-read")["VersionId"]
    assert requests.get(f"{base}/b", timeout=TIMEOUT).content == b"b2"
    assert requests.get(f"{base}/b?versionId={w1}", timeout=TIMEOUT).status_code == 403
    s3.put_object_acl(Bucket=acl_bucket, Key="b", VersionId=w2, ACL="private")
    s3.put_object_acl(Bucket=acl_bucket, Key="b", VersionId=w1, ACL="public-read")
    assert requests.get(f"{base}/b", timeout=TIMEOUT).status_code == 403
    assert requests.get(f"{base}/b?versionId={w1}", timeout=TIMEOUT).content == b"b1"


def test_disabling_acls_stops_stored_public_grants(server, s3, acl_bucket):
    """Object ACLs stored while ACLs were enabled count for nothing under BucketOwnerEnforced."""
    s3.put_object(Bucket=acl_bucket, Key="was-public", Body=b"x", ACL="public-read")
    url = f"{server.endpoint}/{acl_bucket}/was-public"
    assert requests.get(url, timeout=TIMEOUT).status_code == 200
    s3.put_bucket_ownership_controls(
        Bucket=acl_bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert requests.get(url, timeout=TIMEOUT).status_code == 403
    assert requests.get(f"{url}?acl", timeout=TIMEOUT).status_code == 403
    grants = s3.get_object_acl(Bucket=acl_bucket, Key="was-public")["Grants"]
    assert all(g["Grantee"].get("URI") != ALL_USERS for g in grants), grants


def test_ignore_public_acls_covers_authenticated_users_and_post(server, s3, acl_bucket, other):
    s3.put_object(Bucket=acl_bucket, Key="auth", Body=b"signed readers", ACL="authenticated-read")
    theirs = other["s3"]
    assert theirs.get_object(Bucket=acl_bucket, Key="auth")["Body"].read() == b"signed readers"
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="public-read-write")
    resp = post_form(f"{server.endpoint}/{acl_bucket}", {"key": "anon-before"})
    assert resp.status_code == 204, resp.text
    set_public_access_block(s3, acl_bucket, IgnorePublicAcls=True)
    try:
        expect_client_error(theirs.get_object, Bucket=acl_bucket, Key="auth", code="AccessDenied")
        assert_refused(post_form(f"{server.endpoint}/{acl_bucket}", {"key": "anon-after"}), 403, "AccessDenied")
        assert object_absent(s3, acl_bucket, "anon-after")
        assert requests.put(f"{server.endpoint}/{acl_bucket}/anon-put", data=b"x",
                            timeout=TIMEOUT).status_code == 403
        assert requests.get(f"{server.endpoint}/{acl_bucket}?list-type=2", timeout=TIMEOUT).status_code == 403
    finally:
        s3.delete_public_access_block(Bucket=acl_bucket)
        s3.put_bucket_acl(Bucket=acl_bucket, ACL="private")


def test_restrict_public_buckets_stops_anonymous_post_and_account_delegation(server, s3, bucket, other):
    account = other["tenant"]["account_id"]
    s3.put_object(Bucket=bucket, Key="shared", Body=b"delegated")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/drop/*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
    ]}))
    theirs = other["s3"]
    try:
        assert post_form(f"{server.endpoint}/{bucket}", {"key": "drop/before"}).status_code == 204
        assert theirs.get_object(Bucket=bucket, Key="shared")["Body"].read() == b"delegated"
        set_public_access_block(s3, bucket, RestrictPublicBuckets=True)
        assert_refused(post_form(f"{server.endpoint}/{bucket}", {"key": "drop/after"}), 403, "AccessDenied")
        assert object_absent(s3, bucket, "drop/after")
        expect_client_error(theirs.get_object, Bucket=bucket, Key="shared", code="AccessDenied")
    finally:
        s3.delete_public_access_block(Bucket=bucket)
        s3.delete_bucket_policy(Bucket=bucket)


def test_post_acl_field_is_held_to_ownership_and_block_public_acls(s3, bucket, acl_bucket):
    # ACLs disabled (BucketOwnerEnforced): a public acl field is AccessControlListNotSupported.
    post = presign(s3, bucket, "enforced", fields={"acl": "public-read"}, conditions=[{"acl": "public-read"}])
    assert_refused(post_form(post["url"], post["fields"]), 400, "AccessControlListNotSupported")
    assert object_absent(s3, bucket, "enforced")
    # BlockPublicAcls: every public canned ACL is refused, nothing stored.
    set_public_access_block(s3, acl_bucket, BlockPublicAcls=True)
    try:
        for acl in ("public-read", "public-read-write", "authenticated-read"):
            post = presign(s3, acl_bucket, f"blocked-{acl}", fields={"acl": acl}, conditions=[{"acl": acl}])
            assert_refused(post_form(post["url"], post["fields"]), 403, "AccessDenied")
            assert object_absent(s3, acl_bucket, f"blocked-{acl}")
    finally:
        s3.delete_public_access_block(Bucket=acl_bucket)


def test_anonymous_writer_cannot_make_its_upload_public(server, s3, acl_bucket):
    """A bucket policy letting anyone s3:PutObject does not let them set the object's ACL
    (s3:PutObjectAcl): a form with `acl=public-read` is refused."""
    s3.put_bucket_policy(Bucket=acl_bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{acl_bucket}/*"}]}))
    try:
        resp = post_form(f"{server.endpoint}/{acl_bucket}", {"key": "mine", "acl": "public-read"})
        assert_refused(resp, 403, "AccessDenied")
        assert object_absent(s3, acl_bucket, "mine")
        assert post_form(f"{server.endpoint}/{acl_bucket}", {"key": "mine"}).status_code == 204
        assert requests.get(f"{server.endpoint}/{acl_bucket}/mine", timeout=TIMEOUT).status_code == 403
    finally:
        s3.delete_bucket_policy(Bucket=acl_bucket)


def test_anonymous_get_may_not_override_response_headers(server, s3, acl_bucket):
    """AWS: "Request specific response headers cannot be used for anonymous GET requests."
    (400 InvalidRequest). Otherwise anyone can have a public object served as text/html from
    the store's origin."""
    s3.put_object(Bucket=acl_bucket, Key="public.txt", Body=b"<script>alert(1)</script>",
                  ContentType="text/plain", ACL="public-read")
    url = f"{server.endpoint}/{acl_bucket}/public.txt"
    assert requests.get(url, timeout=TIMEOUT).headers["Content-Type"] == "text/plain"
    for query in ("response-content-type=text/html",
                  "response-content-disposition=inline",
                  "response-cache-control=public%2C%20max-age%3D31536000"):
        resp = requests.get(f"{url}?{query}", timeout=TIMEOUT)
        assert resp.status_code == 400, (query, resp.status_code, resp.headers.get("Content-Type"))
        assert xml_error_code(resp.text) == "InvalidRequest", resp.text
    # A signed request may.
    signed = s3.generate_presigned_url("get_object", Params={
        "Bucket": acl_bucket, "Key": "public.txt", "ResponseContentType": "text/html"})
    assert requests.get(signed, timeout=TIMEOUT).headers["Content-Type"] == "text/html"


def test_server_survived(server):
    wait_for(lambda: server.health_status() == 200, timeout=10, what="a healthy server")
    assert server.running()


def test_replaced_object_acl_does_not_authorize_the_new_objects_acl(server, s3):
    """An anonymous overwrite may not set an ACL because the object it replaces granted
    everyone WRITE_ACP: the new object's ACL is the writer's own account's question."""
    bucket = unique_bucket_name("acl-overwrite")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    try:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
        s3.put_object(Bucket=bucket, Key="o", Body=b"original",
                      GrantWriteACP='uri="http://acs.amazonaws.com/groups/global/AllUsers"')
        r = requests.put(f"{server.endpoint}/{bucket}/o", data=b"replaced",
                         headers={"x-amz-acl": "public-read"}, timeout=30)
        assert r.status_code == 403, r.text
        assert s3.get_object(Bucket=bucket, Key="o")["Body"].read() == b"original"
    finally:
        s3.put_bucket_acl(Bucket=bucket, ACL="private")
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)
