"""Bucket CORS: Put/Get/DeleteBucketCors with boto3, AWS's limits, preflights (OPTIONS, no
credentials) and the CORS headers of real requests, path-style and virtual-host-style."""

from __future__ import annotations

import requests
from helpers import expect_client_error, md5_b64, object_path, sign_request, xml_error_code

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
SITE = "https://app.example.com"
ELSEWHERE = "https://evil.example.net"
NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec."
)

SITE_RULE = {
    "ID": "site",
    "AllowedOrigins": [SITE, "https://*.example.org"],
    "AllowedMethods": ["GET", "PUT", "HEAD", "DELETE", "POST"],
    "AllowedHeaders": ["Content-Type", "x-amz-*"],
    "ExposeHeaders": ["ETag", "x-amz-request-id"],
    "MaxAgeSeconds": 600,
}
PUBLIC_RULE = {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}
CONFIG = {"CORSRules": [SITE_RULE, PUBLIC_RULE]}

# What a request from SITE is answered with, header by header (a preflight adds
# Access-Control-Allow-Headers when it asks for headers).
SITE_HEADERS = {
    "Access-Control-Allow-Origin": SITE,
    "Access-Control-Allow-Methods": "GET, PUT, HEAD, DELETE, POST",
    "Access-Control-Expose-Headers": "ETag, x-amz-request-id",
    "Access-Control-Max-Age": "600",
    "Access-Control-Allow-Credentials": "true",
    "Vary": VARY,
}
PUBLIC_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET",
    "Vary": VARY,
}
CORS_NAMES = [
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
    "Access-Control-Allow-Credentials",
    "Vary",
]


def cors_headers(resp: requests.Response) -> dict:
    return {name: resp.headers[name] for name in CORS_NAMES if name in resp.headers}


def base_url(server, bucket: str, style: str) -> str:
    if style == "virtual":
        return f"http://{bucket}.localhost:{server.port}"
    return f"{server.endpoint}/{bucket}"


def signed(server, method, bucket, key="", *, headers=None, body=b"", style="path"):
    """A SigV4-signed request carrying `headers` (Origin among them)."""
    if style == "virtual":
        endpoint, path = f"http://{bucket}.localhost:{server.port}", "/" + key
    else:
        endpoint, path = server.endpoint, object_path(bucket, key)
    url, signed_headers = sign_request(
        endpoint, server.access_key, server.secret_key, method, path, headers=headers, body=body
    )
    return requests.request(method, url, headers=signed_headers, data=body, timeout=30)


def preflight(server, bucket, key="", *, origin=SITE, method="GET", request_headers=None, style="path"):
    headers = {}
    if origin is not None:
        headers["Origin"] = origin
    if method is not None:
        headers["Access-Control-Request-Method"] = method
    if request_headers is not None:
        headers["Access-Control-Request-Headers"] = request_headers
    url = base_url(server, bucket, style) + ("/" + key if key else "")
    return requests.options(url, headers=headers, timeout=30)


# --------------------------------------------------------------------------- configuration


def test_put_get_delete_bucket_cors(s3, bucket):
    expect_client_error(s3.get_bucket_cors, Bucket=bucket, code="NoSuchCORSConfiguration", status=404)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CONFIG)
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert rules == [SITE_RULE, PUBLIC_RULE]
    # A second put replaces the first.
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [PUBLIC_RULE]})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [PUBLIC_RULE]
    deleted = s3.delete_bucket_cors(Bucket=bucket)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_client_error(s3.get_bucket_cors, Bucket=bucket, code="NoSuchCORSConfiguration", status=404)


def test_cors_on_missing_bucket(s3, bucket_name):
    expect_client_error(s3.get_bucket_cors, Bucket=bucket_name, code="NoSuchBucket", status=404)
    expect_client_error(
        s3.put_bucket_cors, Bucket=bucket_name, CORSConfiguration=CONFIG, code="NoSuchBucket", status=404
    )


def test_rule_count_limit(s3, bucket):
    rule = {"AllowedOrigins": [SITE], "AllowedMethods": ["GET"]}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule] * 100})
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 100
    expect_client_error(
        s3.put_bucket_cors,
        Bucket=bucket,
        CORSConfiguration={"CORSRules": [rule] * 101},
        code="MalformedXML",
        status=400,
    )


def test_bad_values_are_refused(s3, bucket):
    cases = [
        ({"AllowedOrigins": [SITE], "AllowedMethods": ["GET", "PATCH"]},
         "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
        ({"AllowedOrigins": ["https://*.example.*"], "AllowedMethods": ["GET"]},
         'AllowedOrigin "https://*.example.*" can not have more than one wildcard.'),
        ({"AllowedOrigins": [SITE], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-*"]},
         'AllowedHeader "x-*-*" can not have more than one wildcard.'),
        ({"AllowedOrigins": [SITE], "AllowedMethods": ["GET"], "ExposeHeaders": ["x-amz-*"]},
         'ExposeHeader "x-amz-*" contains wildcard. We currently do not support wildcard for '
         "ExposeHeader."),
    ]
    for rule, message in cases:
        exc = expect_client_error(
            s3.put_bucket_cors,
            Bucket=bucket,
            CORSConfiguration={"CORSRules": [rule]},
            code="InvalidRequest",
            status=400,
        )
        assert exc.response["Error"]["Message"] == message
    expect_client_error(s3.get_bucket_cors, Bucket=bucket, code="NoSuchCORSConfiguration")


def test_malformed_xml_is_refused(server, s3, bucket):
    bodies = [
        b"<CORSConfiguration><CORSRule>",
        b"<CORSConfiguration/>",
        b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule>"
        b"</CORSConfiguration>",
        b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET"
        b"</AllowedMethod><MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule></CORSConfiguration>",
    ]
    for body in bodies:
        url, headers = sign_request(
            server.endpoint, server.access_key, server.secret_key, "PUT", f"/{bucket}",
            query="cors", headers={"Content-MD5": md5_b64(body)}, body=body,
        )
        resp = requests.put(url, headers=headers, data=body, timeout=30)
        assert resp.status_code == 400, body
        assert xml_error_code(resp.text) == "MalformedXML", resp.text
    expect_client_error(s3.get_bucket_cors, Bucket=bucket, code="NoSuchCORSConfiguration")


def test_oversized_configuration_is_refused(s3, bucket):
    # 80 rules of 10 origins of 100 characters: about 90 KB of XML, over AWS's 64 KB.
    origins = [f"https://{'a' * 80}{i:04}.example.com" for i in range(10)]
    rules = [{"AllowedOrigins": origins, "AllowedMethods": ["GET"]} for _ in range(80)]
    exc = expect_client_error(
        s3.put_bucket_cors, Bucket=bucket, CORSConfiguration={"CORSRules": rules}, status=400
    )
    assert exc.response["Error"]["Code"] == "MaxMessageLengthExceeded"
    expect_client_error(s3.get_bucket_cors, Bucket=bucket, code="NoSuchCORSConfiguration")


# --------------------------------------------------------------------------- preflight


def test_preflight_allowed(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CONFIG)
    for style in ("path", "virtual"):
        for key in ("", "some/key.txt"):
            resp = preflight(server, bucket, key, method="PUT",
                             request_headers="Content-Type, X-Amz-Date", style=style)
            assert resp.status_code == 200, resp.text
            assert cors_headers(resp) == {
                **SITE_HEADERS, "Access-Control-Allow-Headers": "content-type, x-amz-date"
            }
            assert resp.headers["x-amz-request-id"]
            assert resp.content == b""
    # A wildcard origin pattern, and the public rule for anyone's GET.
    resp = preflight(server, bucket, "k", origin="https://www.example.org", method="DELETE")
    assert cors_headers(resp) == {**SITE_HEADERS, "Access-Control-Allow-Origin": "https://www.example.org"}
    resp = preflight(server, bucket, "k", origin=ELSEWHERE, method="GET")
    assert resp.status_code == 200
    assert cors_headers(resp) == PUBLIC_HEADERS


def test_preflight_refused(server, s3, bucket, bucket_name):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CONFIG)
    refusals = [
        dict(origin=ELSEWHERE, method="PUT"),  # origin
        dict(origin=SITE, method="PUT", request_headers="Authorization"),  # a header
        dict(origin=ELSEWHERE, method="GET", request_headers="content-type"),  # public: no headers
        dict(origin="HTTPS://APP.EXAMPLE.COM", method="PUT"),  # origins compare exactly
    ]
    for style in ("path", "virtual"):
        for kw in refusals:
            resp = preflight(server, bucket, "k", style=style, **kw)
            assert resp.status_code == 403, (kw, resp.text)
            assert xml_error_code(resp.text) == "AccessForbidden"
            assert f"<Message>{NOT_ALLOWED}</Message>".replace("'", "&apos;") in resp.text
            assert f"<Method>{kw['method']}</Method>" in resp.text
            assert "<ResourceType>OBJECT</ResourceType>" in resp.text
            assert "Access-Control-Allow-Origin" not in resp.headers

    resp = preflight(server, bucket, origin=None, method="GET")
    assert resp.status_code == 400
    assert xml_error_code(resp.text) == "BadRequest"
    assert "Insufficient information. Origin request header needed." in resp.text
    resp = preflight(server, bucket, method=None)
    assert resp.status_code == 400
    assert "Invalid Access-Control-Request-Method: null" in resp.text
    resp = preflight(server, bucket, method="PATCH")
    assert resp.status_code == 400
    assert "Invalid Access-Control-Request-Method: PATCH" in resp.text

    s3.delete_bucket_cors(Bucket=bucket)
    resp = preflight(server, bucket)
    assert resp.status_code == 403
    assert xml_error_code(resp.text) == "AccessForbidden"
    assert "CORSResponse: CORS is not enabled for this bucket." in resp.text
    assert "<ResourceType>BUCKET</ResourceType>" in resp.text

    resp = preflight(server, bucket_name + "-none")
    assert resp.status_code == 403
    assert "CORSResponse: Bucket not found" in resp.text


# --------------------------------------------------------------------------- real requests


def test_real_requests_carry_cors_headers(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CONFIG)
    s3.put_object(Bucket=bucket, Key="obj", Body=b"hello")
    origin = {"Origin": SITE}
    for style in ("path", "virtual"):
        resp = signed(server, "GET", bucket, "obj", headers=origin, style=style)
        assert resp.status_code == 200 and resp.content == b"hello"
        assert cors_headers(resp) == SITE_HEADERS
        resp = signed(server, "HEAD", bucket, "obj", headers=origin, style=style)
        assert resp.status_code == 200
        assert cors_headers(resp) == SITE_HEADERS
        resp = signed(server, "PUT", bucket, f"new-{style}", headers=origin, body=b"x", style=style)
        assert resp.status_code == 200
        assert cors_headers(resp) == SITE_HEADERS
        resp = signed(server, "DELETE", bucket, f"new-{style}", headers=origin, style=style)
        assert resp.status_code == 204
        assert cors_headers(resp) == SITE_HEADERS
        # Errors carry them too: a missing key (404) and an anonymous read (403).
        resp = signed(server, "GET", bucket, "missing", headers=origin, style=style)
        assert resp.status_code == 404 and xml_error_code(resp.text) == "NoSuchKey"
        assert cors_headers(resp) == SITE_HEADERS
        url = base_url(server, bucket, style) + "/obj"
        resp = requests.get(url, headers=origin, timeout=30)
        assert resp.status_code == 403 and xml_error_code(resp.text) == "AccessDenied"
        assert cors_headers(resp) == SITE_HEADERS
        # A listing of the bucket itself.
        resp = signed(server, "GET", bucket, headers=origin, style=style)
        assert resp.status_code == 200
        assert cors_headers(resp) == SITE_HEADERS

    # The public rule: any origin, GET only; its answer allows no credentials.
    resp = signed(server, "GET", bucket, "obj", headers={"Origin": ELSEWHERE})
    assert cors_headers(resp) == PUBLIC_HEADERS
    # No rule: the request proceeds, without CORS headers.
    resp = signed(server, "PUT", bucket, "other", headers={"Origin": ELSEWHERE}, body=b"y")
    assert resp.status_code == 200
    assert cors_headers(resp) == {}
    assert s3.get_object(Bucket=bucket, Key="other")["Body"].read() == b"y"
    # No Origin: no CORS headers.
    resp = signed(server, "GET", bucket, "obj")
    assert resp.status_code == 200
    assert cors_headers(resp) == {}


def test_presigned_get_with_origin(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CONFIG)
    s3.put_object(Bucket=bucket, Key="p.txt", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p.txt"}, ExpiresIn=300)
    resp = requests.get(url, headers={"Origin": SITE}, timeout=30)
    assert resp.status_code == 200 and resp.content == b"presigned"
    assert cors_headers(resp) == SITE_HEADERS
    resp = requests.get(url, headers={"Origin": "https://x.example.net"}, timeout=30)
    assert cors_headers(resp) == PUBLIC_HEADERS
    # A presigned URL whose signature fails still answers with the headers.
    signature = url.split("X-Amz-Signature=")[1][:64]
    wrong = ("1" if signature[0] == "0" else "0") + signature[1:]
    resp = requests.get(url.replace(signature, wrong), headers={"Origin": SITE}, timeout=30)
    assert resp.status_code == 403
    assert xml_error_code(resp.text) == "SignatureDoesNotMatch"
    assert cors_headers(resp) == SITE_HEADERS


def test_post_to_bucket_url_carries_cors_headers(server, s3, bucket):
    """A browser form upload (POST /bucket) is answered with the CORS headers, whatever its
    outcome."""
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CONFIG)
    for style in ("path", "virtual"):
        resp = requests.post(
            base_url(server, bucket, style),
            headers={"Origin": SITE},
            files={"key": (None, "form.txt"), "file": ("form.txt", b"form body")},
            timeout=30,
        )
        assert cors_headers(resp) == SITE_HEADERS, (resp.status_code, resp.text)


def test_bucket_without_cors_answers_no_cors_headers(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"z")
    resp = signed(server, "GET", bucket, "obj", headers={"Origin": SITE})
    assert resp.status_code == 200
    assert cors_headers(resp) == {}
