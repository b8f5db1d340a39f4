"""Identities and authorisation (issue 15): the IAM and STS query APIs on the S3 port, bucket
policies, and every S3 request authorised by the policy engine.

The clients are unmodified: boto3's `iam`, `sts` and `s3` clients and `aws iam` / `aws sts`
with `--endpoint-url`. The root key (the suite's ACCESS_KEY/SECRET_KEY) creates the users,
groups, roles and policies; every other request is made with the keys it handed out.

Every refusal is checked for its status and error code AND for what is stored (looked at
with the root client): an object that must not have been written is absent, a user that
must not have been created does not exist, a policy document that was refused did not
replace the one before. Each refusal has a control: the same kind of request that the
policy allows succeeds, so a server refusing everything would fail here too.

Names are unique per test (unique_bucket_name and a random suffix for IAM names), and every
test removes what it created, so the tests share the session's server without colliding.

The 900-second expiry test (AssumeRole's shortest session) only runs with
MAXIOFS_SLOW_TESTS=1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from helpers import (
    REGION,
    aws_cli_env,
    empty_and_delete_bucket,
    err_code,
    err_status,
    expect_client_error,
    object_absent,
    unique_bucket_name,
    xml_error_code,
)

SLOW = os.environ.get("MAXIOFS_SLOW_TESTS") == "1"

# --------------------------------------------------------------------------- clients


def _client(server, service: str, access_key: str, secret_key: str, token: str | None = None, **config_kw):
    cfg = Config(
        **config_kw,
        signature_version="s3v4",
        region_name=REGION,
        s3={"addressing_style": "path"},
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
    return boto3.session.Session().client(
        service,
        endpoint_url=server.endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=token,
        region_name=REGION,
        config=cfg,
    )


def suffix() -> str:
    return uuid.uuid4().hex[:8]


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resources, **extra) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def deny(actions, resources, **extra) -> dict:
    return {"Effect": "Deny", "Action": actions, "Resource": resources, **extra}


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def objects_arn(bucket: str, prefix: str = "") -> str:
    return f"arn:aws:s3:::{bucket}/{prefix}*"


def rw_policy(bucket: str) -> str:
    """s3:PutObject/GetObject/ListBucket on one bucket."""
    return policy(
        allow(["s3:PutObject", "s3:GetObject"], objects_arn(bucket)),
        allow("s3:ListBucket", bucket_arn(bucket)),
    )


def read_policy(bucket: str) -> str:
    return policy(allow("s3:GetObject", objects_arn(bucket)), allow("s3:ListBucket", bucket_arn(bucket)))


def body_of(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def listed_keys(s3, bucket: str, **kw) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, **kw).get("Contents", [])]


def expect_denied(fn, *args, **kwargs) -> ClientError:
    return expect_client_error(fn, *args, code="AccessDenied", status=403, **kwargs)


def user_exists(iam, name: str) -> bool:
    try:
        iam.get_user(UserName=name)
    except ClientError as exc:
        if err_code(exc) == "NoSuchEntity":
            return False
        raise
    return True


class User:
    def __init__(self, name, arn, key_id, secret, world):
        self.name = name
        self.arn = arn
        self.key_id = key_id
        self.secret = secret
        self.world = world

    def client(self, service="s3", key_id=None, secret=None):
        return _client(self.world.server, service, key_id or self.key_id, secret or self.secret)

    @property
    def s3(self):
        return self.client("s3")


class World:
    """Creates IAM entities and buckets with the root key, and removes them afterwards."""

    def __init__(self, server, request):
        self.server = server
        self.request = request
        self.iam = _client(server, "iam", server.access_key, server.secret_key)
        self.sts = _client(server, "sts", server.access_key, server.secret_key)
        self.s3 = _client(server, "s3", server.access_key, server.secret_key)
        self.account = self.sts.get_caller_identity()["Account"]
        self.users: list[str] = []
        self.groups: list[str] = []
        self.roles: list[str] = []
        self.policies: list[str] = []
        self.buckets: list[str] = []

    def bucket(self, hint: str = "") -> str:
        name = unique_bucket_name(hint or self.request.node.originalname or "iam")
        self.s3.create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def user(self, prefix: str, inline: str | None = None, key: bool = True, path: str = "/") -> User:
        name = f"{prefix}-{suffix()}"
        created = self.iam.create_user(UserName=name, Path=path)["User"]
        self.users.append(name)
        assert created["UserName"] == name
        assert created["Arn"] == f"arn:aws:iam::{self.account}:user{path}{name}"
        key_id = secret = None
        if key:
            k = self.iam.create_access_key(UserName=name)["AccessKey"]
            assert k["Status"] == "Active" and k["UserName"] == name
            key_id, secret = k["AccessKeyId"], k["SecretAccessKey"]
        if inline is not None:
            self.iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=inline)
        return User(name, created["Arn"], key_id, secret, self)

    def group(self, prefix: str) -> str:
        name = f"{prefix}-{suffix()}"
        self.iam.create_group(GroupName=name)
        self.groups.append(name)
        return name

    def role(self, prefix: str, trust: str, **kw) -> dict:
        name = f"{prefix}-{suffix()}"
        role = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, **kw)["Role"]
        self.roles.append(name)
        return role

    def managed_policy(self, prefix: str, document: str) -> dict:
        name = f"{prefix}-{suffix()}"
        pol = self.iam.create_policy(PolicyName=name, PolicyDocument=document)["Policy"]
        self.policies.append(pol["Arn"])
        return pol

    def cleanup(self):
        iam = self.iam

        def quietly(fn, **kw):
            try:
                return fn(**kw)
            except Exception:  # noqa: BLE001 - best-effort cleanup
                return None

        for b in self.buckets:
            quietly(self.s3.delete_bucket_policy, Bucket=b)
            empty_and_delete_bucket(self.s3, b)
        for g in self.groups:
            got = quietly(iam.get_group, GroupName=g) or {}
            for u in got.get("Users", []):
                quietly(iam.remove_user_from_group, GroupName=g, UserName=u["UserName"])
            for p in (quietly(iam.list_group_policies, GroupName=g) or {}).get("PolicyNames", []):
                quietly(iam.delete_group_policy, GroupName=g, PolicyName=p)
            for p in (quietly(iam.list_attached_group_policies, GroupName=g) or {}).get("AttachedPolicies", []):
                quietly(iam.detach_group_policy, GroupName=g, PolicyArn=p["PolicyArn"])
            quietly(iam.delete_group, GroupName=g)
        for u in self.users:
            for k in (quietly(iam.list_access_keys, UserName=u) or {}).get("AccessKeyMetadata", []):
                quietly(iam.delete_access_key, UserName=u, AccessKeyId=k["AccessKeyId"])
            for p in (quietly(iam.list_user_policies, UserName=u) or {}).get("PolicyNames", []):
                quietly(iam.delete_user_policy, UserName=u, PolicyName=p)
            for p in (quietly(iam.list_attached_user_policies, UserName=u) or {}).get("AttachedPolicies", []):
                quietly(iam.detach_user_policy, UserName=u, PolicyArn=p["PolicyArn"])
            for g in (quietly(iam.list_groups_for_user, UserName=u) or {}).get("Groups", []):
                quietly(iam.remove_user_from_group, GroupName=g["GroupName"], UserName=u)
            quietly(iam.delete_user, UserName=u)
        for r in self.roles:
            for p in (quietly(iam.list_role_policies, RoleName=r) or {}).get("PolicyNames", []):
                quietly(iam.delete_role_policy, RoleName=r, PolicyName=p)
            for p in (quietly(iam.list_attached_role_policies, RoleName=r) or {}).get("AttachedPolicies", []):
                quietly(iam.detach_role_policy, RoleName=r, PolicyArn=p["PolicyArn"])
            quietly(iam.delete_role, RoleName=r)
        for arn in self.policies:
            for v in (quietly(iam.list_policy_versions, PolicyArn=arn) or {}).get("Versions", []):
                if not v["IsDefaultVersion"]:
                    quietly(iam.delete_policy_version, PolicyArn=arn, VersionId=v["VersionId"])
            quietly(iam.delete_policy, PolicyArn=arn)


@pytest.fixture
def world(server, request):
    w = World(server, request)
    yield w
    w.cleanup()


# --------------------------------------------------------------------------- 1. users, groups, conditions (boto3)


def test_user_inline_policy_scopes_to_one_bucket(world):
    a, b = world.bucket("iam-a"), world.bucket("iam-b")
    world.s3.put_object(Bucket=b, Key="root-owned", Body=b"in b")
    alice = world.user("alice", inline=rw_policy(a))

    # The policy is stored as given.
    got = world.iam.get_user_policy(UserName=alice.name, PolicyName="inline")
    assert got["PolicyDocument"] == json.loads(rw_policy(a))
    assert world.iam.list_user_policies(UserName=alice.name)["PolicyNames"] == ["inline"]

    # Allowed on A: write, read back, list; the root sees the object.
    alice.s3.put_object(Bucket=a, Key="doc.txt", Body=b"alice wrote this")
    assert body_of(alice.s3, a, "doc.txt") == b"alice wrote this"
    assert listed_keys(alice.s3, a) == ["doc.txt"]
    assert body_of(world.s3, a, "doc.txt") == b"alice wrote this"

    # Not on B: the PUT is refused and nothing is stored there.
    expect_denied(alice.s3.put_object, Bucket=b, Key="intruder.txt", Body=b"should not land")
    assert object_absent(world.s3, b, "intruder.txt")
    assert listed_keys(world.s3, b) == ["root-owned"]
    expect_denied(alice.s3.get_object, Bucket=b, Key="root-owned")
    expect_denied(alice.s3.list_objects_v2, Bucket=b)
    # Actions the policy does not name are refused on A too, and change nothing.
    expect_denied(alice.s3.delete_object, Bucket=a, Key="doc.txt")
    assert body_of(world.s3, a, "doc.txt") == b"alice wrote this"
    expect_denied(alice.s3.create_bucket, Bucket=unique_bucket_name("alice-new"))


def test_group_policy_grants_read_only(world):
    a = world.bucket("iam-grp")
    world.s3.put_object(Bucket=a, Key="shared.txt", Body=b"shared data")
    bob = world.user("bob")
    group = world.group("readers")
    world.iam.put_group_policy(GroupName=group, PolicyName="read-a", PolicyDocument=read_policy(a))

    # Not yet a member: nothing allowed.
    expect_denied(bob.s3.get_object, Bucket=a, Key="shared.txt")

    world.iam.add_user_to_group(GroupName=group, UserName=bob.name)
    members = [u["UserName"] for u in world.iam.get_group(GroupName=group)["Users"]]
    assert members == [bob.name]
    assert [g["GroupName"] for g in world.iam.list_groups_for_user(UserName=bob.name)["Groups"]] == [group]

    assert body_of(bob.s3, a, "shared.txt") == b"shared data"
    assert listed_keys(bob.s3, a) == ["shared.txt"]
    # Read only: his writes and deletes are refused and change nothing.
    expect_denied(bob.s3.put_object, Bucket=a, Key="bob.txt", Body=b"nope")
    assert object_absent(world.s3, a, "bob.txt")
    expect_denied(bob.s3.put_object, Bucket=a, Key="shared.txt", Body=b"overwrite")
    expect_denied(bob.s3.delete_object, Bucket=a, Key="shared.txt")
    assert body_of(world.s3, a, "shared.txt") == b"shared data"
    assert listed_keys(world.s3, a) == ["shared.txt"]

    # Leaving the group takes the rights away.
    world.iam.remove_user_from_group(GroupName=group, UserName=bob.name)
    expect_denied(bob.s3.get_object, Bucket=a, Key="shared.txt")


def test_deny_on_source_ip_overrides_allow(world):
    a = world.bucket("iam-ip")
    user = world.user("ipuser", inline=rw_policy(a))
    user.s3.put_object(Bucket=a, Key="before", Body=b"1")

    # A Deny for another network does not apply: still allowed.
    world.iam.put_user_policy(
        UserName=user.name,
        PolicyName="deny-other-net",
        PolicyDocument=policy(deny("s3:*", "*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
    )
    user.s3.put_object(Bucket=a, Key="other-net", Body=b"2")
    assert body_of(world.s3, a, "other-net") == b"2"

    # The client connects from 127.0.0.1: a Deny on that address wins over the Allow.
    world.iam.put_user_policy(
        UserName=user.name,
        PolicyName="deny-loopback",
        PolicyDocument=policy(deny("s3:*", "*", Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})),
    )
    expect_denied(user.s3.put_object, Bucket=a, Key="after", Body=b"3")
    assert object_absent(world.s3, a, "after")
    expect_denied(user.s3.get_object, Bucket=a, Key="before")
    expect_denied(user.s3.list_objects_v2, Bucket=a)

    # Removing the Deny restores the Allow.
    world.iam.delete_user_policy(UserName=user.name, PolicyName="deny-loopback")
    assert body_of(user.s3, a, "before") == b"1"


def _refused_within(fn, code: str, seconds: float) -> float:
    """Calls fn until it raises ClientError `code`; returns the time that took (asserts <= seconds)."""
    start = time.monotonic()
    while True:
        try:
            fn()
        except ClientError as exc:
            if err_code(exc) == code:
                return time.monotonic() - start
            raise
        elapsed = time.monotonic() - start
        assert elapsed <= seconds, f"still accepted {elapsed:.2f}s after the change"
        time.sleep(0.05)


def test_inactive_and_deleted_keys_refused(world):
    a = world.bucket("iam-keys")
    user = world.user("keys", inline=rw_policy(a))
    k2 = world.iam.create_access_key(UserName=user.name)["AccessKey"]
    first = user.s3
    second = user.client("s3", k2["AccessKeyId"], k2["SecretAccessKey"])
    first.put_object(Bucket=a, Key="k1", Body=b"k1")
    second.put_object(Bucket=a, Key="k2", Body=b"k2")

    world.iam.update_access_key(UserName=user.name, AccessKeyId=user.key_id, Status="Inactive")
    keys = world.iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]
    statuses = {k["AccessKeyId"]: k["Status"] for k in keys}
    assert statuses == {user.key_id: "Inactive", k2["AccessKeyId"]: "Active"}
    _refused_within(lambda: first.list_objects_v2(Bucket=a), "InvalidAccessKeyId", 1.0)
    expect_client_error(first.put_object, Bucket=a, Key="inactive", Body=b"x", code="InvalidAccessKeyId", status=403)
    assert object_absent(world.s3, a, "inactive")
    # The other key is unaffected.
    assert body_of(second, a, "k1") == b"k1"

    world.iam.delete_access_key(UserName=user.name, AccessKeyId=k2["AccessKeyId"])
    assert [k["AccessKeyId"] for k in world.iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]] == [
        user.key_id
    ]
    _refused_within(lambda: second.list_objects_v2(Bucket=a), "InvalidAccessKeyId", 1.0)
    expect_client_error(second.put_object, Bucket=a, Key="deleted", Body=b"x", code="InvalidAccessKeyId", status=403)
    assert object_absent(world.s3, a, "deleted")

    # Made Active again, the first key works again.
    world.iam.update_access_key(UserName=user.name, AccessKeyId=user.key_id, Status="Active")
    wait_start = time.monotonic()
    while True:
        try:
            assert listed_keys(first, a) == ["k1", "k2"]
            break
        except ClientError:
            assert time.monotonic() - wait_start < 1.0, "reactivated key still refused after 1 s"
            time.sleep(0.05)


def test_username_variable_limits_each_user_to_own_prefix(world):
    a = world.bucket("iam-home")
    doc = policy(
        allow(
            "s3:ListBucket",
            bucket_arn(a),
            Condition={"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}},
        ),
        allow(["s3:PutObject", "s3:GetObject"], f"arn:aws:s3:::{a}/home/${{aws:username}}/*"),
    )
    assert "home/${aws:username}/*" in doc
    pol = world.managed_policy("home-dirs", doc)
    alice, bob = world.user("alice"), world.user("bob")
    for u in (alice, bob):
        world.iam.attach_user_policy(UserName=u.name, PolicyArn=pol["Arn"])

    for me, other in ((alice, bob), (bob, alice)):
        mine, theirs = f"home/{me.name}/", f"home/{other.name}/"
        me.s3.put_object(Bucket=a, Key=mine + "file.txt", Body=me.name.encode())
        assert body_of(world.s3, a, mine + "file.txt") == me.name.encode()
        assert body_of(me.s3, a, mine + "file.txt") == me.name.encode()
        assert listed_keys(me.s3, a, Prefix=mine) == [mine + "file.txt"]

        expect_denied(me.s3.put_object, Bucket=a, Key=theirs + "planted.txt", Body=b"x")
        assert object_absent(world.s3, a, theirs + "planted.txt")
        expect_denied(me.s3.put_object, Bucket=a, Key="top-level.txt", Body=b"x")
        assert object_absent(world.s3, a, "top-level.txt")
        expect_denied(me.s3.list_objects_v2, Bucket=a, Prefix=theirs)
        expect_denied(me.s3.list_objects_v2, Bucket=a)  # no prefix: the condition does not match
        expect_denied(me.s3.list_objects_v2, Bucket=a, Prefix="home/")

    # bob's file was written after alice's turn: she cannot read it.
    expect_denied(alice.s3.get_object, Bucket=a, Key=f"home/{bob.name}/file.txt")
    assert sorted(listed_keys(world.s3, a)) == sorted([f"home/{alice.name}/file.txt", f"home/{bob.name}/file.txt"])


# --------------------------------------------------------------------------- 2. aws cli


def _aws(server, env, *args, check=True):
    cmd = [sys.executable, "-m", "awscli", "--endpoint-url", server.endpoint, "--output", "json", *map(str, args)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if check:
        assert proc.returncode == 0, f"{cmd} failed rc={proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    return proc


def test_aws_cli_iam_flow(world, tmp_path):
    server = world.server
    root_env = aws_cli_env(tmp_path / "root", server.access_key, server.secret_key)
    a = world.bucket("iam-cli")
    name = f"cli-{suffix()}"

    out = json.loads(_aws(server, root_env, "iam", "create-user", "--user-name", name).stdout)
    world.users.append(name)
    assert out["User"]["UserName"] == name
    assert out["User"]["Arn"] == f"arn:aws:iam::{world.account}:user/{name}"

    key = json.loads(_aws(server, root_env, "iam", "create-access-key", "--user-name", name).stdout)["AccessKey"]
    assert key["UserName"] == name and key["Status"] == "Active"
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", key["AccessKeyId"]), key["AccessKeyId"]

    doc = tmp_path / "policy.json"
    doc.write_text(rw_policy(a))
    _aws(server, root_env, "iam", "put-user-policy", "--user-name", name, "--policy-name", "cli-rw",
         "--policy-document", f"file://{doc}")
    stored = json.loads(
        _aws(server, root_env, "iam", "get-user-policy", "--user-name", name, "--policy-name", "cli-rw").stdout
    )
    assert stored["PolicyDocument"] == json.loads(rw_policy(a))

    users = json.loads(_aws(server, root_env, "iam", "list-users").stdout)["Users"]
    assert name in [u["UserName"] for u in users]

    user_env = aws_cli_env(tmp_path / "user", key["AccessKeyId"], key["SecretAccessKey"])
    me = json.loads(_aws(server, user_env, "sts", "get-caller-identity").stdout)
    assert me["Arn"] == f"arn:aws:iam::{world.account}:user/{name}"
    assert me["Account"] == world.account
    root_me = json.loads(_aws(server, root_env, "sts", "get-caller-identity").stdout)
    assert root_me["Account"] == world.account

    # The policy put with the cli governs the user's S3 requests made with the cli.
    src = tmp_path / "f.txt"
    src.write_bytes(b"via cli")
    _aws(server, user_env, "s3", "cp", src, f"s3://{a}/f.txt")
    assert body_of(world.s3, a, "f.txt") == b"via cli"
    other = world.bucket("iam-cli-other")
    refused = _aws(server, user_env, "s3api", "put-object", "--bucket", other, "--key", "f.txt", "--body", src,
                   check=False)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr, refused.stderr
    assert object_absent(world.s3, other, "f.txt")

    # The user has no iam rights: the cli shows AccessDenied and nothing is created.
    denied = _aws(server, user_env, "iam", "create-user", "--user-name", name + "-x", check=False)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr, denied.stderr
    assert not user_exists(world.iam, name + "-x")


# --------------------------------------------------------------------------- 3. roles and STS


def _trust(principal_arn: str) -> str:
    return policy({"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole"})


@pytest.fixture
def reader_role(world):
    """Buckets A (with an object) and B, a user, and a role that user may assume, granting read on A."""
    a, b = world.bucket("iam-role-a"), world.bucket("iam-role-b")
    world.s3.put_object(Bucket=a, Key="obj.txt", Body=b"role readable")
    world.s3.put_object(Bucket=b, Key="obj.txt", Body=b"in b")
    user = world.user("assumer")  # no identity policy: the trust policy names the user
    role = world.role("reader", _trust(user.arn), MaxSessionDuration=3600)
    world.iam.put_role_policy(RoleName=role["RoleName"], PolicyName="read-a", PolicyDocument=read_policy(a))
    return a, b, user, role


def _assume(user: User, role: dict, session: str, validate: bool = True, **kw) -> dict:
    sts = _client(user.world.server, "sts", user.key_id, user.secret, parameter_validation=validate)
    return sts.assume_role(RoleArn=role["Arn"], RoleSessionName=session, **kw)


def test_assume_role_credentials(world, reader_role):
    a, b, user, role = reader_role
    assert role["Arn"] == f"arn:aws:iam::{world.account}:role/{role['RoleName']}"
    out = _assume(user, role, "sess-1")
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["SessionToken"]
    lifetime = creds["Expiration"].timestamp() - time.time()
    assert 3500 < lifetime <= 3600 + 5, lifetime  # AssumeRole's default: one hour
    expected_arn = f"arn:aws:sts::{world.account}:assumed-role/{role['RoleName']}/sess-1"
    assert out["AssumedRoleUser"]["Arn"] == expected_arn
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:sess-1"

    tmp_s3 = _client(world.server, "s3", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    tmp_sts = _client(world.server, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])

    me = tmp_sts.get_caller_identity()
    assert me["Arn"] == expected_arn
    assert me["Account"] == world.account

    assert body_of(tmp_s3, a, "obj.txt") == b"role readable"
    assert listed_keys(tmp_s3, a) == ["obj.txt"]
    expect_denied(tmp_s3.put_object, Bucket=a, Key="role-put.txt", Body=b"x")
    assert object_absent(world.s3, a, "role-put.txt")
    expect_denied(tmp_s3.get_object, Bucket=b, Key="obj.txt")
    expect_denied(tmp_s3.list_objects_v2, Bucket=b)
    expect_denied(tmp_s3.put_object, Bucket=b, Key="role-put.txt", Body=b"x")
    assert object_absent(world.s3, b, "role-put.txt")
    # The user's own key still has no S3 rights: only the role's credentials read A.
    expect_denied(user.s3.get_object, Bucket=a, Key="obj.txt")

    # A presigned GET made from the temporary credentials works with a plain HTTP client.
    url = tmp_s3.generate_presigned_url("get_object", Params={"Bucket": a, "Key": "obj.txt"}, ExpiresIn=300)
    assert "X-Amz-Security-Token=" in url
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.content == b"role readable"
    # ... and a presigned PUT is refused as the role may not write.
    put_url = tmp_s3.generate_presigned_url("put_object", Params={"Bucket": a, "Key": "presigned.txt"}, ExpiresIn=300)
    resp = requests.put(put_url, data=b"x", timeout=30)
    assert resp.status_code == 403 and xml_error_code(resp.text) == "AccessDenied", resp.text
    assert object_absent(world.s3, a, "presigned.txt")

    # The temporary key without its session token, or with another token, is refused.
    no_token = _client(world.server, "s3", creds["AccessKeyId"], creds["SecretAccessKey"])
    expect_client_error(no_token.get_object, Bucket=a, Key="obj.txt", code="InvalidToken", status=400)
    wrong = creds["SessionToken"][:-4] + ("AAAA" if not creds["SessionToken"].endswith("AAAA") else "BBBB")
    wrong_token = _client(world.server, "s3", creds["AccessKeyId"], creds["SecretAccessKey"], wrong)
    expect_client_error(wrong_token.get_object, Bucket=a, Key="obj.txt", code="InvalidToken", status=400)
    # A presigned URL without the token is refused too.
    stripped = re.sub(r"&?X-Amz-Security-Token=[^&]*", "", url)
    resp = requests.get(stripped, timeout=30)
    assert resp.status_code in (400, 403) and resp.content != b"role readable", resp.text


def test_assume_role_session_policy_intersects(world, reader_role):
    a, b, user, role = reader_role
    # The role may read and write A; the session policy allows GetObject on A and PutObject on B.
    world.iam.put_role_policy(RoleName=role["RoleName"], PolicyName="write-a",
                              PolicyDocument=policy(allow("s3:PutObject", objects_arn(a))))
    session_policy = policy(allow("s3:GetObject", objects_arn(a)), allow("s3:PutObject", objects_arn(b)))
    creds = _assume(user, role, "narrow", Policy=session_policy)["Credentials"]
    s3 = _client(world.server, "s3", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])

    assert body_of(s3, a, "obj.txt") == b"role readable"  # both allow
    expect_denied(s3.put_object, Bucket=a, Key="narrow.txt", Body=b"x")  # role yes, session no
    assert object_absent(world.s3, a, "narrow.txt")
    expect_denied(s3.list_objects_v2, Bucket=a)  # role yes, session no
    expect_denied(s3.put_object, Bucket=b, Key="narrow.txt", Body=b"x")  # session yes, role no
    assert object_absent(world.s3, b, "narrow.txt")

    # Control: without a session policy the same role may write A.
    full = _assume(user, role, "full")["Credentials"]
    s3_full = _client(world.server, "s3", full["AccessKeyId"], full["SecretAccessKey"], full["SessionToken"])
    s3_full.put_object(Bucket=a, Key="full.txt", Body=b"full")
    assert body_of(world.s3, a, "full.txt") == b"full"


def test_assume_role_refusals(world, reader_role):
    a, b, user, role = reader_role
    stranger = world.user("stranger")
    exc = expect_denied(_assume, stranger, role, "not-trusted")
    assert stranger.arn in exc.response["Error"]["Message"] or "not authorized" in exc.response["Error"]["Message"]

    # Above the role's MaxSessionDuration (3600 s).
    expect_client_error(_assume, user, role, "too-long", DurationSeconds=7200, code="ValidationError", status=400)
    # Below STS's minimum of 900 s (boto3 checks that itself: sent unchecked here).
    expect_client_error(_assume, user, role, "too-short", validate=False, DurationSeconds=899,
                        code="ValidationError", status=400)
    # Within the range: accepted, and the expiration says so.
    creds = _assume(user, role, "max", DurationSeconds=3600)["Credentials"]
    lifetime = creds["Expiration"].timestamp() - time.time()
    assert 3500 < lifetime <= 3605, lifetime


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="waits 900 s for a session to expire; set MAXIOFS_SLOW_TESTS=1")
def test_assume_role_credentials_expire(world, reader_role):
    a, b, user, role = reader_role
    creds = _assume(user, role, "short", DurationSeconds=900)["Credentials"]
    s3 = _client(world.server, "s3", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert body_of(s3, a, "obj.txt") == b"role readable"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": a, "Key": "obj.txt"}, ExpiresIn=3600)
    remaining = creds["Expiration"].timestamp() - time.time()
    assert remaining <= 905
    time.sleep(max(0.0, remaining) + 2)
    expect_client_error(s3.get_object, Bucket=a, Key="obj.txt", code="ExpiredToken")
    resp = requests.get(url, timeout=30)
    assert resp.status_code in (400, 403) and xml_error_code(resp.text) == "ExpiredToken", resp.text


# --------------------------------------------------------------------------- 4. bucket policies


def test_public_read_bucket_policy(world):
    a = world.bucket("iam-public")
    plain = world.bucket("iam-private")
    world.s3.put_object(Bucket=a, Key="index.html", Body=b"<h1>public</h1>", ContentType="text/html")
    url = f"{world.server.endpoint}/{a}/index.html"

    resp = requests.get(url, timeout=30)
    assert resp.status_code == 403 and xml_error_code(resp.text) == "AccessDenied", resp.text

    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": objects_arn(a)}
        ],
    }
    world.s3.put_bucket_policy(Bucket=a, Policy=json.dumps(doc))
    assert json.loads(world.s3.get_bucket_policy(Bucket=a)["Policy"]) == doc
    assert world.s3.get_bucket_policy_status(Bucket=a)["PolicyStatus"]["IsPublic"] is True

    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.content == b"<h1>public</h1>"
    assert resp.headers["Content-Type"] == "text/html"

    # Reading is all it allows: an anonymous PUT or list is refused and nothing is stored.
    resp = requests.put(f"{world.server.endpoint}/{a}/defaced.html", data=b"x", timeout=30)
    assert resp.status_code == 403 and xml_error_code(resp.text) == "AccessDenied", resp.text
    assert object_absent(world.s3, a, "defaced.html")
    resp = requests.get(f"{world.server.endpoint}/{a}", timeout=30)
    assert resp.status_code == 403 and xml_error_code(resp.text) == "AccessDenied", resp.text

    # A bucket without such a policy: anonymous PUT refused, nothing stored.
    resp = requests.put(f"{world.server.endpoint}/{plain}/anon.txt", data=b"anonymous", timeout=30)
    assert resp.status_code == 403 and xml_error_code(resp.text) == "AccessDenied", resp.text
    assert object_absent(world.s3, plain, "anon.txt")
    assert listed_keys(world.s3, plain) == []

    # A policy granting only the account is not public.
    private_doc = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{world.account}:root"}, "Action": "s3:GetObject",
         "Resource": objects_arn(plain)}
    )
    world.s3.put_bucket_policy(Bucket=plain, Policy=private_doc)
    assert world.s3.get_bucket_policy_status(Bucket=plain)["PolicyStatus"]["IsPublic"] is False

    # Deleting the policy: 204, then NoSuchBucketPolicy, and anonymous reads stop.
    deleted = world.s3.delete_bucket_policy(Bucket=a)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_client_error(world.s3.get_bucket_policy, Bucket=a, code="NoSuchBucketPolicy", status=404)
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 403 and xml_error_code(resp.text) == "AccessDenied", resp.text


def test_bucket_policy_deny_overrides_identity_allow(world):
    a = world.bucket("iam-bpdeny")
    alice = world.user("alice", inline=rw_policy(a))
    alice.s3.put_object(Bucket=a, Key="mine.txt", Body=b"v1")
    assert body_of(alice.s3, a, "mine.txt") == b"v1"

    world.s3.put_bucket_policy(
        Bucket=a,
        Policy=policy(
            {"Effect": "Deny", "Principal": {"AWS": alice.arn}, "Action": "s3:GetObject", "Resource": objects_arn(a)}
        ),
    )
    expect_denied(alice.s3.get_object, Bucket=a, Key="mine.txt")
    # Only GetObject is denied: her other allowed actions still work.
    alice.s3.put_object(Bucket=a, Key="mine.txt", Body=b"v2")
    assert body_of(world.s3, a, "mine.txt") == b"v2"
    assert listed_keys(alice.s3, a) == ["mine.txt"]
    # The deny names alice: another user with the same rights still reads.
    carol = world.user("carol", inline=rw_policy(a))
    assert body_of(carol.s3, a, "mine.txt") == b"v2"

    world.s3.delete_bucket_policy(Bucket=a)
    assert body_of(alice.s3, a, "mine.txt") == b"v2"


def test_bucket_policy_grants_user_without_identity_policy(world):
    a = world.bucket("iam-bpallow")
    world.s3.put_object(Bucket=a, Key="x", Body=b"granted by bucket policy")
    dave = world.user("dave")
    expect_denied(dave.s3.get_object, Bucket=a, Key="x")
    world.s3.put_bucket_policy(
        Bucket=a,
        Policy=policy({"Effect": "Allow", "Principal": {"AWS": dave.arn}, "Action": "s3:GetObject",
                       "Resource": objects_arn(a)}),
    )
    assert body_of(dave.s3, a, "x") == b"granted by bucket policy"
    expect_denied(dave.s3.put_object, Bucket=a, Key="y", Body=b"y")
    assert object_absent(world.s3, a, "y")


# --------------------------------------------------------------------------- 5. bad input


def test_bad_bucket_policies_rejected(world):
    a = world.bucket("iam-badbp")
    good = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{world.account}:root"}, "Action": "s3:GetObject",
         "Resource": objects_arn(a)}
    )
    world.s3.put_bucket_policy(Bucket=a, Policy=good)

    def stmt(**over):
        s = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": objects_arn(a)}
        s.update(over)
        return s

    bad = {
        "invalid JSON": '{"Version": "2012-10-17", "Statement": [',
        "unknown action": policy(stmt(Action="s3:Foo")),
        "missing principal": policy(stmt(Principal={"AWS": f"arn:aws:iam::{world.account}:user/nobody-{suffix()}"})),
    }
    for what, doc in bad.items():
        exc = expect_client_error(world.s3.put_bucket_policy, Bucket=a, Policy=doc, code="MalformedPolicy", status=400)
        assert exc, what
        assert json.loads(world.s3.get_bucket_policy(Bucket=a)["Policy"]) == json.loads(good), what
        assert world.s3.get_bucket_policy_status(Bucket=a)["PolicyStatus"]["IsPublic"] is False, what

    # None of those (Principal "*") were stored: anonymous reads are still refused.
    world.s3.put_object(Bucket=a, Key="k", Body=b"v")
    resp = requests.get(f"{world.server.endpoint}/{a}/k", timeout=30)
    assert resp.status_code == 403, resp.text

    # Over 20 KiB (AWS's bucket policy limit): a valid document, only too large.
    resources: list[str] = []
    big = ""
    while len(big) < 21 * 1024:
        resources.append(objects_arn(a, f"prefix-{len(resources):05d}/"))
        big = json.dumps({"Version": "2012-10-17", "Statement": [stmt(Resource=resources)]}, separators=(",", ":"))
    assert 21 * 1024 <= len(big) < 22 * 1024
    exc = expect_client_error(world.s3.put_bucket_policy, Bucket=a, Policy=big)
    # Nothing changed, whatever the code ...
    assert json.loads(world.s3.get_bucket_policy(Bucket=a)["Policy"]) == json.loads(good)
    # ... and AWS's answer: 400 PolicyTooLarge.
    assert (err_status(exc), err_code(exc)) == (400, "PolicyTooLarge"), exc.response["Error"]


def test_bucket_policy_resource_must_be_the_bucket(world):
    """AWS refuses a bucket policy naming another bucket's resources: MalformedPolicy
    "Policy has invalid resource"."""
    a = world.bucket("iam-bpres")
    other = world.bucket("iam-bpres-other")
    doc = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": objects_arn(other)})
    expect_client_error(world.s3.put_bucket_policy, Bucket=a, Policy=doc, code="MalformedPolicy", status=400)
    expect_client_error(world.s3.get_bucket_policy, Bucket=a, code="NoSuchBucketPolicy", status=404)
    # Nothing was granted on the other bucket either.
    world.s3.put_object(Bucket=other, Key="k", Body=b"v")
    resp = requests.get(f"{world.server.endpoint}/{other}/k", timeout=30)
    assert resp.status_code == 403, resp.text


def test_bad_user_policies_rejected(world):
    a = world.bucket("iam-badup")
    user = world.user("pol")
    iam = world.iam

    unknown_op = policy(allow("s3:GetObject", objects_arn(a), Condition={"StringLikeish": {"aws:username": "x"}}))
    expect_client_error(iam.put_user_policy, UserName=user.name, PolicyName="bad-op", PolicyDocument=unknown_op,
                        code="MalformedPolicyDocument", status=400)
    expect_client_error(iam.get_user_policy, UserName=user.name, PolicyName="bad-op", code="NoSuchEntity", status=404)
    for doc in ("not json at all", policy(allow("s3:Foo", "*")), json.dumps({"Version": "2012-10-17"})):
        expect_client_error(iam.put_user_policy, UserName=user.name, PolicyName="bad", PolicyDocument=doc,
                            code="MalformedPolicyDocument", status=400)
    assert iam.list_user_policies(UserName=user.name)["PolicyNames"] == []

    def sized(n_resources: int, indent: int | None = None) -> str:
        res = [objects_arn(a, f"p{i:04d}/") for i in range(n_resources)]
        return json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:GetObject", res)]}, indent=indent)

    def chars(doc: str) -> int:
        return len(re.sub(r"\s", "", doc))

    # Over 2048 characters without whitespace: LimitExceeded, not stored.
    n = 1
    while chars(sized(n)) <= 2048:
        n += 1
    too_big = sized(n)
    assert chars(too_big) > 2048
    expect_client_error(iam.put_user_policy, UserName=user.name, PolicyName="big", PolicyDocument=too_big,
                        code="LimitExceeded", status=409)
    assert iam.list_user_policies(UserName=user.name)["PolicyNames"] == []

    # Whitespace does not count: the largest document under the limit, indented to far over
    # 2048 characters, is accepted.
    fits = sized(n - 1, indent=40)
    assert chars(fits) <= 2048 < len(fits)
    iam.put_user_policy(UserName=user.name, PolicyName="fits", PolicyDocument=fits)
    assert iam.get_user_policy(UserName=user.name, PolicyName="fits")["PolicyDocument"] == json.loads(fits)

    # The limit is for all of a user's inline policies together.
    small = policy(allow("s3:GetObject", objects_arn(a, "small/")))
    expect_client_error(iam.put_user_policy, UserName=user.name, PolicyName="second", PolicyDocument=small,
                        code="LimitExceeded", status=409)
    assert iam.list_user_policies(UserName=user.name)["PolicyNames"] == ["fits"]


def test_bad_user_names_and_conflicts(world):
    iam = world.iam
    long_name = "u" * 65
    expect_client_error(iam.create_user, UserName=long_name, code="ValidationError", status=400)
    expect_client_error(iam.create_user, UserName=f"a/b-{suffix()}", code="ValidationError", status=400)
    names = {u["UserName"] for page in iam.get_paginator("list_users").paginate() for u in page["Users"]}
    assert long_name not in names and not any("/" in n for n in names)
    ok64 = "u" * 56 + suffix()
    assert len(ok64) == 64
    iam.create_user(UserName=ok64)
    world.users.append(ok64)

    user = world.user("dup")
    first = iam.get_user(UserName=user.name)["User"]
    expect_client_error(iam.create_user, UserName=user.name, code="EntityAlreadyExists", status=409)
    assert iam.get_user(UserName=user.name)["User"]["UserId"] == first["UserId"]

    # A user with keys cannot be deleted; the user and key stay.
    expect_client_error(iam.delete_user, UserName=user.name, code="DeleteConflict", status=409)
    assert iam.get_user(UserName=user.name)["User"]["UserId"] == first["UserId"]
    assert user.client("sts").get_caller_identity()["Arn"] == user.arn

    missing = f"nobody-{suffix()}"
    expect_client_error(iam.get_user, UserName=missing, code="NoSuchEntity", status=404)
    expect_client_error(iam.delete_user, UserName=missing, code="NoSuchEntity", status=404)

    # Two keys at most.
    iam.create_access_key(UserName=user.name)
    expect_client_error(iam.create_access_key, UserName=user.name, code="LimitExceeded", status=409)
    assert len(iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]) == 2

    # Once its keys are gone the user can be deleted.
    for k in iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user.name, AccessKeyId=k["AccessKeyId"])
    iam.delete_user(UserName=user.name)
    assert not user_exists(iam, user.name)


def test_iam_calls_without_iam_rights_denied(world):
    a = world.bucket("iam-noiam")
    alice = world.user("alice", inline=rw_policy(a))
    alice_iam = alice.client("iam")
    target = f"made-by-alice-{suffix()}"
    expect_denied(alice_iam.create_user, UserName=target)
    assert not user_exists(world.iam, target)
    expect_denied(alice_iam.list_users)
    expect_denied(alice_iam.create_access_key, UserName=alice.name)
    assert len(world.iam.list_access_keys(UserName=alice.name)["AccessKeyMetadata"]) == 1
    expect_denied(alice_iam.put_user_policy, UserName=alice.name, PolicyName="escalate",
                  PolicyDocument=policy(allow("*", "*")))
    assert world.iam.list_user_policies(UserName=alice.name)["PolicyNames"] == ["inline"]
    # GetCallerIdentity needs no permission.
    assert alice.client("sts").get_caller_identity()["Arn"] == alice.arn

    # Control: with iam:ListUsers she may list (and still not create).
    world.iam.put_user_policy(UserName=alice.name, PolicyName="list-users",
                              PolicyDocument=policy(allow("iam:ListUsers", "*")))
    assert alice.name in [u["UserName"] for u in alice_iam.list_users(MaxItems=1000)["Users"]]
    expect_denied(alice_iam.create_user, UserName=target)
    assert not user_exists(world.iam, target)


def test_managed_policy_round_trip(world):
    iam = world.iam
    a = world.bucket("iam-managed")
    world.s3.put_object(Bucket=a, Key="r.txt", Body=b"read me")
    user = world.user("managed")
    v1 = policy(allow("s3:GetObject", objects_arn(a)))
    v2 = policy(allow(["s3:GetObject", "s3:PutObject"], objects_arn(a)))

    pol = world.managed_policy("mp", v1)
    arn = pol["Arn"]
    assert arn == f"arn:aws:iam::{world.account}:policy/{pol['PolicyName']}"
    assert pol["DefaultVersionId"] == "v1"
    assert pol["AttachmentCount"] == 0

    iam.attach_user_policy(UserName=user.name, PolicyArn=arn)
    attached = iam.list_attached_user_policies(UserName=user.name)["AttachedPolicies"]
    assert attached == [{"PolicyName": pol["PolicyName"], "PolicyArn": arn}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert body_of(user.s3, a, "r.txt") == b"read me"
    expect_denied(user.s3.put_object, Bucket=a, Key="w.txt", Body=b"w")
    assert object_absent(world.s3, a, "w.txt")

    ver = iam.create_policy_version(PolicyArn=arn, PolicyDocument=v2, SetAsDefault=True)["PolicyVersion"]
    assert ver["VersionId"] == "v2" and ver["IsDefaultVersion"] is True
    versions = {v["VersionId"]: v["IsDefaultVersion"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]}
    assert versions == {"v1": False, "v2": True}
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert got["Document"] == json.loads(v2)
    # The new default governs at once.
    user.s3.put_object(Bucket=a, Key="w.txt", Body=b"w")
    assert body_of(world.s3, a, "w.txt") == b"w"

    # The default version cannot be deleted; another can.
    expect_client_error(iam.delete_policy_version, PolicyArn=arn, VersionId="v2", code="DeleteConflict", status=409)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v2"]
    expect_client_error(iam.get_policy_version, PolicyArn=arn, VersionId="v1", code="NoSuchEntity", status=404)

    # An attached policy cannot be deleted.
    expect_client_error(iam.delete_policy, PolicyArn=arn, code="DeleteConflict", status=409)
    iam.detach_user_policy(UserName=user.name, PolicyArn=arn)
    assert iam.list_attached_user_policies(UserName=user.name)["AttachedPolicies"] == []
    expect_denied(user.s3.get_object, Bucket=a, Key="r.txt")

    iam.delete_policy(PolicyArn=arn)
    expect_client_error(iam.get_policy, PolicyArn=arn, code="NoSuchEntity", status=404)
    expect_client_error(iam.attach_user_policy, UserName=user.name, PolicyArn=arn, code="NoSuchEntity", status=404)


def test_list_users_paging(world):
    path = f"/paging-{suffix()}/"
    names = sorted(world.user("page", key=False, path=path).name for _ in range(5))
    seen: list[str] = []
    pages = []
    kw = {"PathPrefix": path, "MaxItems": 2}
    for _ in range(10):
        page = world.iam.list_users(**kw)
        got = [u["UserName"] for u in page["Users"]]
        assert all(u["Path"] == path for u in page["Users"])
        pages.append(got)
        seen += got
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        assert page["Marker"]
        kw["Marker"] = page["Marker"]
    assert [len(p) for p in pages] == [2, 2, 1], pages
    assert sorted(seen) == names and len(set(seen)) == 5
    # boto3's paginator follows the same markers.
    paged = [u["UserName"] for p in world.iam.get_paginator("list_users").paginate(
        PathPrefix=path, PaginationConfig={"PageSize": 2}) for u in p["Users"]]
    assert sorted(paged) == names


# --------------------------------------------------------------------------- 6. owners


def test_owner_ids_are_the_account_canonical_id(world, server_factory):
    a = world.bucket("iam-owner")
    buckets = world.s3.list_buckets()
    owner_id = buckets["Owner"]["ID"]
    assert re.fullmatch(r"[0-9a-f]{64}", owner_id), owner_id
    assert world.s3.get_bucket_acl(Bucket=a)["Owner"]["ID"] == owner_id

    alice = world.user(
        "alice",
        inline=policy(
            allow(["s3:PutObject", "s3:GetObject"], objects_arn(a)),
            allow(["s3:ListBucket"], bucket_arn(a)),
            allow(["s3:CreateBucket", "s3:ListBucket"], "arn:aws:s3:::iam-alice-*"),
        ),
    )
    alice.s3.put_object(Bucket=a, Key="o", Body=b"o")
    listing = alice.s3.list_objects_v2(Bucket=a, FetchOwner=True)
    assert [c["Owner"]["ID"] for c in listing["Contents"]] == [owner_id]
    v1 = alice.s3.list_objects(Bucket=a)
    assert [c["Owner"]["ID"] for c in v1["Contents"]] == [owner_id]

    # A bucket made by one of the account's users belongs to the account.
    mine = unique_bucket_name("iam-alice")
    alice.s3.create_bucket(Bucket=mine)
    world.buckets.append(mine)
    assert world.s3.get_bucket_acl(Bucket=mine)["Owner"]["ID"] == owner_id
    assert mine in [b["Name"] for b in world.s3.list_buckets()["Buckets"]]
    expect_client_error(world.s3.create_bucket, Bucket=mine, code="BucketAlreadyOwnedByYou", status=409)
    expect_client_error(world.s3.create_bucket, Bucket=a, code="BucketAlreadyOwnedByYou", status=409)
    expect_client_error(alice.s3.create_bucket, Bucket=mine, code="BucketAlreadyOwnedByYou", status=409)

    # Not a fixed string: another server (another account) has another id.
    other = server_factory("iam-owner-other")
    other_s3 = _client(other, "s3", other.access_key, other.secret_key)
    other_id = other_s3.list_buckets()["Owner"]["ID"]
    assert re.fullmatch(r"[0-9a-f]{64}", other_id) and other_id != owner_id
