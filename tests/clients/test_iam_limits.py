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


# --------------------------------------------------------------------------- attack review


def _user_with_key(iam, name: str, policy: dict | None = None):
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return iam.create_access_key(UserName=name)["AccessKey"]


def _client(server, service: str, key: dict, token: str | None = None):
    return boto3.client(service, endpoint_url=server.endpoint, aws_access_key_id=key["AccessKeyId"],
                        aws_secret_access_key=key["SecretAccessKey"], aws_session_token=token,
                        region_name=REGION)


def _account(server) -> str:
    return boto3.client("sts", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                        aws_secret_access_key=server.secret_key, region_name=REGION).get_caller_identity()["Account"]


def _role_trusting(iam, role: str, principal_arn: str) -> None:
    """A role whose trust policy lets `principal_arn` assume it."""
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole"}]}))


def _code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def _allow(actions, resource="*") -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}


def test_a_trust_naming_only_the_account_needs_the_callers_own_allow(server):
    """AssumeRole: the trust policy must allow the caller, a trust naming only the account
    delegates to the caller's own policies, and the caller's Denies and session policy apply."""
    iam = _iam(server)
    account = _account(server)
    suffix = uuid.uuid4().hex[:8]
    role = f"admin-{suffix}"
    _role_trusting(iam, role, f"arn:aws:iam::{account}:root")
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    role_arn = f"arn:aws:iam::{account}:role/{role}"
    nobody = _user_with_key(iam, f"nobody-{suffix}")
    time.sleep(0.2)
    assert _code(lambda: _client(server, "sts", nobody).assume_role(
        RoleArn=role_arn, RoleSessionName="xx")) == "AccessDenied"
    allowed = _user_with_key(iam, f"allowed-{suffix}", _allow("sts:AssumeRole", role_arn))
    credentials = _client(server, "sts", allowed).assume_role(RoleArn=role_arn, RoleSessionName="ok")["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    # A session narrowed by a session policy cannot shed it by assuming its role again.
    narrowed = _client(server, "sts", allowed).assume_role(
        RoleArn=role_arn, RoleSessionName="narrow",
        Policy=json.dumps(_allow("s3:GetObject", "arn:aws:s3:::nowhere/*")))["Credentials"]
    narrow_sts = boto3.client("sts", endpoint_url=server.endpoint, aws_access_key_id=narrowed["AccessKeyId"],
                              aws_secret_access_key=narrowed["SecretAccessKey"],
                              aws_session_token=narrowed["SessionToken"], region_name=REGION)
    assert _code(lambda: narrow_sts.assume_role(RoleArn=role_arn, RoleSessionName="again")) == "AccessDenied"
    # An explicit Deny in the caller's own policy wins over a trust naming the caller.
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/allowed-{suffix}"},
                       "Action": "sts:AssumeRole"}]}))
    iam.put_user_policy(UserName=f"allowed-{suffix}", PolicyName="deny", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    assert _code(lambda: _client(server, "sts", allowed).assume_role(
        RoleArn=role_arn, RoleSessionName="denied")) == "AccessDenied"


def test_governance_bypass_needs_its_own_permission(server):
    iam = _iam(server)
    s3 = server.client()
    bucket = unique_bucket_name("gov")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"kept", ObjectLockMode="GOVERNANCE",
                            ObjectLockRetainUntilDate="2099-01-01T00:00:00Z")["VersionId"]
    suffix = uuid.uuid4().hex[:8]
    key = _user_with_key(iam, f"deleter-{suffix}", _allow(["s3:DeleteObjectVersion", "s3:DeleteObject"],
                                                           f"arn:aws:s3:::{bucket}/*"))
    time.sleep(0.2)
    deleter = _client(server, "s3", key)
    assert _code(lambda: deleter.delete_object(Bucket=bucket, Key="k", VersionId=version,
                                               BypassGovernanceRetention=True)) == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=version)["Body"].read() == b"kept"
    iam.put_user_policy(UserName=f"deleter-{suffix}", PolicyName="bypass",
                        PolicyDocument=json.dumps(_allow("s3:BypassGovernanceRetention", f"arn:aws:s3:::{bucket}/*")))
    deleter.delete_object(Bucket=bucket, Key="k", VersionId=version, BypassGovernanceRetention=True)
    assert _code(lambda: s3.head_object(Bucket=bucket, Key="k", VersionId=version)) in ("404", "NoSuchVersion")


def test_session_token_credentials_cannot_manage_identities_and_end_with_the_user(server):
    iam = _iam(server)
    suffix = uuid.uuid4().hex[:8]
    name = f"self-{suffix}"
    key = _user_with_key(iam, name, _allow(["iam:*", "s3:ListAllMyBuckets"]))
    time.sleep(0.2)
    session = _client(server, "sts", key).get_session_token(DurationSeconds=900)["Credentials"]
    token_iam = boto3.client("iam", endpoint_url=server.endpoint, aws_access_key_id=session["AccessKeyId"],
                             aws_secret_access_key=session["SecretAccessKey"],
                             aws_session_token=session["SessionToken"], region_name=REGION)
    assert _code(lambda: token_iam.create_access_key(UserName=name)) == "AccessDenied"
    assert len(iam.list_access_keys(UserName=name)["AccessKeyMetadata"]) == 1
    token_s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=session["AccessKeyId"],
                            aws_secret_access_key=session["SecretAccessKey"],
                            aws_session_token=session["SessionToken"], region_name=REGION)
    token_s3.list_buckets()
    # Deleting the user ends its session, and a new user of the same name does not inherit it.
    iam.delete_user_policy(UserName=name, PolicyName="p")
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=name)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(_allow("s3:ListAllMyBuckets")))
    assert _code(token_s3.list_buckets) == "InvalidAccessKeyId"


def test_renaming_a_user_needs_permission_on_the_new_name(server):
    iam = _iam(server)
    account = _account(server)
    suffix = uuid.uuid4().hex[:8]
    name = f"renamer-{suffix}"
    key = _user_with_key(iam, name, _allow("iam:UpdateUser", f"arn:aws:iam::{account}:user/{name}"))
    time.sleep(0.2)
    assert _code(lambda: _client(server, "iam", key).update_user(
        UserName=name, NewUserName=f"boss-{suffix}")) == "AccessDenied"
    assert name in _user_names(iam)


def test_new_object_headers_need_their_own_permissions(server):
    iam = _iam(server)
    s3 = server.client()
    bucket = unique_bucket_name("hdr")
    s3.create_bucket(Bucket=bucket)
    suffix = uuid.uuid4().hex[:8]
    key = _user_with_key(iam, f"writer-{suffix}", _allow("s3:PutObject", f"arn:aws:s3:::{bucket}/*"))
    time.sleep(0.2)
    writer = _client(server, "s3", key)
    writer.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert _code(lambda: writer.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="a=b")) == "AccessDenied"
    assert _code(lambda: s3.head_object(Bucket=bucket, Key="tagged")) == "404"
    assert _code(lambda: writer.get_object_attributes(Bucket=bucket, Key="plain",
                                                      ObjectAttributes=["ETag"])) == "AccessDenied"


def test_existing_object_tags_guard_copies_too(server):
    iam = _iam(server)
    s3 = server.client()
    bucket = unique_bucket_name("tagcopy")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="secret", Body=b"classified", Tagging="classification=secret")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/classification": "secret"}}}]}))
    suffix = uuid.uuid4().hex[:8]
    key = _user_with_key(iam, f"copier-{suffix}", _allow(["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::{bucket}/*"))
    time.sleep(0.2)
    copier = _client(server, "s3", key)
    assert _code(lambda: copier.get_object(Bucket=bucket, Key="secret")) == "AccessDenied"
    assert _code(lambda: copier.copy_object(Bucket=bucket, Key="mine", CopySource={"Bucket": bucket, "Key": "secret"},
                                            TaggingDirective="REPLACE", Tagging="")) == "AccessDenied"
    assert _code(lambda: s3.head_object(Bucket=bucket, Key="mine")) == "404"


def test_bucket_policy_calls_belong_to_the_owner_account(server):
    s3 = server.client()
    bucket = unique_bucket_name("sloppy")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    anonymous = requests.delete(f"{server.endpoint}/{bucket}?policy", timeout=30)
    assert anonymous.status_code == 405, anonymous.text
    assert "Statement" in s3.get_bucket_policy(Bucket=bucket)["Policy"]


def test_sessions_issued_before_a_moment_can_be_revoked(server):
    """AWS's "revoke active sessions": a role policy denying everything to tokens issued
    before a moment ends the older sessions and leaves newer ones working."""
    iam = _iam(server)
    account = _account(server)
    suffix = uuid.uuid4().hex[:8]
    user = f"assumer-{suffix}"
    role = f"lister-{suffix}"
    key = _user_with_key(iam, user)
    _role_trusting(iam, role, f"arn:aws:iam::{account}:user/{user}")
    iam.put_role_policy(RoleName=role, PolicyName="list", PolicyDocument=json.dumps(_allow("s3:ListAllMyBuckets")))
    role_arn = f"arn:aws:iam::{account}:role/{role}"
    time.sleep(0.2)

    def session_s3(name):
        c = _client(server, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName=name)["Credentials"]
        return boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=c["AccessKeyId"],
                            aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"],
                            region_name=REGION)

    old = session_s3("old")
    old.list_buckets()
    time.sleep(1.1)
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    time.sleep(1.1)
    iam.put_role_policy(RoleName=role, PolicyName="revoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                       "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}]}))
    assert _code(old.list_buckets) == "AccessDenied"
    session_s3("new").list_buckets()


def test_managed_session_policies_narrow_a_role_session(server):
    """AssumeRole's PolicyArns: managed policies as session policies; one deleted later
    denies in its place instead of widening the session."""
    iam = _iam(server)
    s3 = server.client()
    account = _account(server)
    suffix = uuid.uuid4().hex[:8]
    bucket = unique_bucket_name("arns")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    user = f"arns-{suffix}"
    role = f"full-{suffix}"
    key = _user_with_key(iam, user)
    _role_trusting(iam, role, f"arn:aws:iam::{account}:user/{user}")
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")
    role_arn = f"arn:aws:iam::{account}:role/{role}"
    lister = iam.create_policy(PolicyName=f"lister-{suffix}",
                               PolicyDocument=json.dumps(_allow("s3:ListAllMyBuckets")))["Policy"]["Arn"]
    time.sleep(0.2)
    sts = _client(server, "sts", key)
    assert _code(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="bad",
                                         PolicyArns=[{"arn": f"arn:aws:iam::{account}:policy/none"}])) \
        == "ValidationError"

    def session(arns):
        c = sts.assume_role(RoleArn=role_arn, RoleSessionName="s" + suffix,
                            PolicyArns=[{"arn": arn} for arn in arns])["Credentials"]
        return boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=c["AccessKeyId"],
                            aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"],
                            region_name=REGION)

    reader = session(["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"])
    assert reader.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    assert _code(lambda: reader.put_object(Bucket=bucket, Key="new", Body=b"x")) == "AccessDenied"
    assert _code(lambda: s3.head_object(Bucket=bucket, Key="new")) == "404"
    listing = session([lister])
    listing.list_buckets()
    assert _code(lambda: listing.get_object(Bucket=bucket, Key="k")) == "AccessDenied"
    iam.delete_policy(PolicyArn=lister)
    assert _code(listing.list_buckets) == "AccessDenied"
    assert _code(lambda: listing.get_object(Bucket=bucket, Key="k")) == "AccessDenied"
