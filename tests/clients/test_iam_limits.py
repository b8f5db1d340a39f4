"""The IAM and STS query APIs' own limits, their answers to hostile input, key last-used
tracking, and identities after a crash (issue 15).

Each limit is exceeded on purpose: the answer must be AWS's error and nothing may change.
"""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from helpers import REGION, unique_bucket_name


def _iam(server):
    return boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=REGION,
    )


def _signed_query(server, service: str, body: bytes, headers: dict | None = None):
    """POST / with a form body signed for `service`, as botocore's query clients send it."""
    req = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})},
    )
    SigV4Auth(Credentials(server.access_key, server.secret_key), service, "us-east-1").add_auth(req)
    return requests.post(server.endpoint + "/", data=body, headers=dict(req.headers.items()), timeout=30)


def _user_names(iam) -> set[str]:
    return {user["UserName"] for user in iam.list_users(MaxItems=1000)["Users"]}


def test_a_form_body_over_the_limit_is_refused_and_changes_nothing(server):
    iam = _iam(server)
    name = f"big-{uuid.uuid4().hex[:8]}"
    padding = "x" * (70 * 1024)
    body = urlencode({"Action": "CreateUser", "Version": "2010-05-08", "UserName": name, "Pad": padding}).encode()
    response = _signed_query(server, "iam", body)
    assert response.status_code == 400, response.text
    assert "<Code>" in response.text and "ErrorResponse" in response.text
    assert name not in _user_names(iam)


def test_too_many_parameters_are_refused(server):
    iam = _iam(server)
    name = f"many-{uuid.uuid4().hex[:8]}"
    params = [("Action", "CreateUser"), ("Version", "2010-05-08"), ("UserName", name)]
    params += [(f"Extra{i}", "1") for i in range(300)]
    response = _signed_query(server, "iam", urlencode(params).encode())
    assert response.status_code == 400, response.text
    assert "<Code>ValidationError</Code>" in response.text
    assert name not in _user_names(iam)


def test_a_body_that_does_not_match_its_signature_is_refused(server):
    iam = _iam(server)
    name = f"swap-{uuid.uuid4().hex[:8]}"
    body = urlencode({"Action": "CreateUser", "Version": "2010-05-08", "UserName": name}).encode()
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(server.access_key, server.secret_key), "iam", "us-east-1").add_auth(req)
    swapped = body.replace(name.encode(), b"evil-" + name[5:].encode())
    response = requests.post(server.endpoint + "/", data=swapped, headers=dict(req.headers.items()), timeout=30)
    assert response.status_code == 403, response.text
    assert "<Code>SignatureDoesNotMatch</Code>" in response.text
    assert name not in _user_names(iam)
    assert "evil-" + name[5:] not in _user_names(iam)


def test_unknown_actions_and_a_missing_action_are_refused(server):
    response = _signed_query(server, "iam", b"Action=LaunchRockets&Version=2010-05-08")
    assert response.status_code == 400 and "<Code>InvalidAction</Code>" in response.text
    response = _signed_query(server, "sts", b"Version=2011-06-15")
    assert response.status_code == 400 and "<Code>MissingAction</Code>" in response.text


def test_an_unknown_key_and_a_wrong_secret_are_refused(server):
    sts = boto3.client("sts", endpoint_url=server.endpoint, aws_access_key_id="AKIANOSUCHKEY0000000",
                       aws_secret_access_key="x" * 40, region_name=REGION)
    with pytest.raises(ClientError) as caught:
        sts.get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "InvalidClientTokenId"
    sts = boto3.client("sts", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                       aws_secret_access_key="y" * 40, region_name=REGION)
    with pytest.raises(ClientError) as caught:
        sts.get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_access_key_last_used_reports_the_latest_use(server):
    iam = _iam(server)
    name = f"used-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    try:
        never = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
        assert never["UserName"] == name
        assert never["AccessKeyLastUsed"]["ServiceName"] == "N/A"
        assert "LastUsedDate" not in never["AccessKeyLastUsed"]
        before = time.time()
        boto3.client("sts", endpoint_url=server.endpoint, aws_access_key_id=key["AccessKeyId"],
                     aws_secret_access_key=key["SecretAccessKey"], region_name=REGION).get_caller_identity()
        used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
        assert used["ServiceName"] == "sts"
        assert used["Region"] == REGION
        assert used["LastUsedDate"].timestamp() >= before - 2
    finally:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName=name)


def test_identities_and_policies_survive_kill_9(server_factory):
    """Acknowledged identity changes are on stable storage: after kill -9 and a restart the
    user's key still works, its policy still applies, a key deleted before the crash stays
    deleted, and the bucket policy is still in force."""
    srv = server_factory("iam-crash")
    iam = _iam(srv)
    s3 = srv.client()
    bucket = unique_bucket_name("iam-crash")
    s3.create_bucket(Bucket=bucket)
    iam.create_user(UserName="carol")
    iam.put_user_policy(UserName="carol", PolicyName="write", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}],
    }))
    kept = iam.create_access_key(UserName="carol")["AccessKey"]
    dropped = iam.create_access_key(UserName="carol")["AccessKey"]
    iam.delete_access_key(UserName="carol", AccessKeyId=dropped["AccessKeyId"])
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{bucket}/*"}],
    }))
    srv.kill9()
    srv.restart()
    carol = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=kept["AccessKeyId"],
                         aws_secret_access_key=kept["SecretAccessKey"], region_name=REGION)
    carol.put_object(Bucket=bucket, Key="after-crash", Body=b"still here")
    with pytest.raises(ClientError) as caught:
        carol.get_object(Bucket=bucket + "-none", Key="x")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    gone = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=dropped["AccessKeyId"],
                        aws_secret_access_key=dropped["SecretAccessKey"], region_name=REGION)
    with pytest.raises(ClientError) as caught:
        gone.put_object(Bucket=bucket, Key="x", Body=b"x")
    assert caught.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    anonymous = requests.get(f"{srv.endpoint}/{bucket}/after-crash", timeout=30)
    assert anonymous.status_code == 200 and anonymous.content == b"still here"
    assert "carol" in _user_names(_iam(srv))
