"""SSE-C behind TLS termination (issue 21): `--trusted-proxies` makes `X-Forwarded-Proto: https`
from those addresses count as a secure transport; from anyone else the header changes nothing.
`--sse-c-allow-plain-http` (labs) accepts SSE-C keys over plain HTTP and says so at start."""

import json
import subprocess

import boto3
import pytest
from conftest import SERVER_BIN
from helpers import expect_client_error

CUSTOMER_KEY = bytes(range(32))
SSE_C = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": CUSTOMER_KEY}


def forwarded_https(client):
    """Every request of `client` carries X-Forwarded-Proto: https, as a TLS-terminating proxy adds."""

    def add(request, **_):
        request.headers["X-Forwarded-Proto"] = "https"

    client.meta.events.register("before-sign.s3.*", add)
    return client


def test_forwarded_https_from_a_trusted_proxy_carries_sse_c(server_factory):
    srv = server_factory(env={"MAXIOFS_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"})
    plain = srv.client()
    plain.create_bucket(Bucket="behind-proxy")
    proxied = forwarded_https(srv.client())
    data = b"customer-encrypted behind a proxy" * 100
    put = proxied.put_object(Bucket="behind-proxy", Key="k", Body=data, **SSE_C)
    assert put["SSECustomerAlgorithm"] == "AES256"
    got = proxied.get_object(Bucket="behind-proxy", Key="k", Range="bytes=10-99", **SSE_C)
    assert got["Body"].read() == data[10:100]
    assert proxied.head_object(Bucket="behind-proxy", Key="k", **SSE_C)["ContentLength"] == len(data)
    # The same request without the header is plain HTTP: refused, nothing written.
    expect_client_error(plain.put_object, Bucket="behind-proxy", Key="k2", Body=b"x",
                        code="InvalidRequest", status=400, **SSE_C)
    expect_client_error(plain.get_object, Bucket="behind-proxy", Key="k",
                        code="InvalidRequest", status=400, **SSE_C)
    keys = [o["Key"] for o in plain.list_objects_v2(Bucket="behind-proxy")["Contents"]]
    assert keys == ["k"]


def test_secure_transport_policies_see_the_proxys_tls(server_factory):
    srv = server_factory(env={"MAXIOFS_TRUSTED_PROXIES": "127.0.0.1"})
    root = srv.client()
    root.create_bucket(Bucket="tls-only")
    root.put_object(Bucket="tls-only", Key="k", Body=b"x")
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    root.put_bucket_policy(Bucket="tls-only", Policy=json.dumps(policy))
    # The root is never denied; a user is.
    assert forwarded_https(root).get_object(Bucket="tls-only", Key="k")["Body"].read() == b"x"
    iam = boto3.client("iam", endpoint_url=srv.endpoint, region_name="us-east-1",
                       aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret_key)
    iam.create_user(UserName="reader")
    iam.attach_user_policy(UserName="reader", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader = boto3.client("s3", endpoint_url=srv.endpoint, region_name="us-east-1",
                          aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    expect_client_error(reader.get_object, Bucket="tls-only", Key="k", code="AccessDenied", status=403)
    assert forwarded_https(reader).get_object(Bucket="tls-only", Key="k")["Body"].read() == b"x"


def test_forwarded_proto_from_an_untrusted_peer_is_ignored(server_factory):
    srv = server_factory(env={"MAXIOFS_TRUSTED_PROXIES": "10.0.0.0/8"})
    client = forwarded_https(srv.client())
    client.create_bucket(Bucket="untrusted")
    expect_client_error(client.put_object, Bucket="untrusted", Key="k", Body=b"x",
                        code="InvalidRequest", status=400, **SSE_C)


def test_sse_c_allow_plain_http_is_off_by_default_and_warned_when_on(server_factory):
    srv = server_factory(env={"MAXIOFS_SSE_C_ALLOW_PLAIN_HTTP": "true"})
    assert "sse-c-allow-plain-http is on" in srv.stderr_tail(200)
    client = srv.client()
    client.create_bucket(Bucket="lab")
    client.put_object(Bucket="lab", Key="k", Body=b"lab secret", **SSE_C)
    assert client.get_object(Bucket="lab", Key="k", **SSE_C)["Body"].read() == b"lab secret"
    expect_client_error(client.get_object, Bucket="lab", Key="k", code="InvalidRequest", status=400)


@pytest.mark.parametrize("bad", ["10.0.0.1/8", "10.0.0.0/33", "proxy.example.com"])
def test_a_bad_trusted_proxy_is_refused_at_start(tmp_path, bad):
    run = subprocess.run(
        [str(SERVER_BIN), "server", "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0",
         "--console-listen", "off", "--trusted-proxies", bad],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert run.returncode != 0
    assert "--trusted-proxies" in run.stderr, run.stderr
