"""Tenants through the JSON admin API on the console port, and what they mean on the S3 and IAM
side: who may see and change which tenant, IAM isolation between tenants, bucket owners,
suspension, quotas (buckets, access keys, bucket objects), deleting a tenant, and the API's
JSON errors.

One server for the module (its own data directory); every test makes the tenants it changes so
that the tests stay independent of their order.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field

import boto3
import pytest
import requests
from botocore.config import Config

from conftest import MaxioServer
from helpers import (
    REGION,
    empty_and_delete_bucket,
    expect_client_error,
    http_status,
    make_client,
    raw_exchange,
    unique_bucket_name,
)

PASSWORD = "Correct-Horse-Battery-9"

# --------------------------------------------------------------------------- admin API client


class Api:
    """The admin API as one caller (a bearer token, or none)."""

    def __init__(self, base: str, token: str | None = None):
        self.base = base
        self.token = token
        self.http = requests.Session()

    def call(self, method: str, path: str, body=None, *, raw: bytes | None = None, headers=None):
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        return self.http.request(method, f"{self.base}/api/v1{path}", data=data, headers=sent, timeout=30)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def expect(response: requests.Response, status: int, code: str | None = None):
    """Asserts the status (and, for errors, the JSON error shape and code); returns the JSON."""
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{where}: expected {status}, got {response.status_code}: {response.text}"
    if status == 204:
        assert response.content == b"", f"{where}: 204 with a body: {response.text}"
        return None
    assert response.headers.get("content-type", "").startswith("application/json"), (where, response.headers)
    value = response.json()
    if status >= 400:
        assert set(value) == {"error"}, (where, value)
        assert set(value["error"]) == {"code", "message"}, (where, value)
        assert isinstance(value["error"]["message"], str) and value["error"]["message"], (where, value)
        if code is not None:
            assert value["error"]["code"] == code, f"{where}: expected {code}: {value}"
    return value


def login(srv: MaxioServer, username: str, password: str, totp: str | None = None) -> requests.Response:
    body = {"username": username, "password": password}
    if totp is not None:
        body["totp"] = totp
    return requests.post(f"{srv.console_endpoint}/api/v1/auth/login", json=body, timeout=30)


def session_for(srv: MaxioServer, username: str, password: str) -> Api:
    answer = expect(login(srv, username, password), 200)
    return Api(srv.console_endpoint, answer["token"])


def iam_client(srv: MaxioServer, key_id: str, secret: str):
    return boto3.session.Session().client(
        "iam",
        endpoint_url=srv.endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60),
    )


def suffix() -> str:
    return uuid.uuid4().hex[:6]


# --------------------------------------------------------------------------- fixtures


@dataclass
class Person:
    name: str
    login: str
    key_id: str
    secret: str
    api: Api | None = None


@dataclass
class Tenant:
    name: str
    json: dict
    admin: Person
    user: Person
    buckets: list[str] = field(default_factory=list)

    @property
    def canonical_id(self) -> str:
        return self.json["canonical_id"]


@pytest.fixture(scope="module")
def srv():
    server = MaxioServer(f"tenants-{suffix()}")
    server.start()
    yield server
    rc = server.terminate(timeout=60)
    assert rc == 0, f"server did not exit 0 on SIGTERM (rc={rc}):\n{server.stderr_tail()}"
    server.cleanup_data()


@pytest.fixture(scope="module")
def root(srv) -> Api:
    return session_for(srv, srv.access_key, srv.secret_key)


def create_tenant(root: Api, prefix: str, **fields) -> dict:
    name = f"{prefix}-{suffix()}"
    tenant = expect(root.post("/tenants", {"name": name, **fields}), 201)
    assert tenant["name"] == name
    return tenant


def create_user(api: Api, tenant: str, name: str, role: str, password: str | None = PASSWORD) -> dict:
    body = {"name": name, "role": role}
    if password is not None:
        body["password"] = password
    user = expect(api.post(f"/tenants/{tenant}/users", body), 201)
    assert (user["name"], user["tenant"], user["role"]) == (name, tenant, role)
    return user


def create_key(api: Api, tenant: str, user: str) -> dict:
    key = expect(api.post(f"/tenants/{tenant}/users/{user}/keys"), 201)
    assert re.fullmatch(r"[A-Z0-9]{16,128}", key["access_key_id"]), key
    assert isinstance(key["secret_access_key"], str) and len(key["secret_access_key"]) >= 20, key
    assert key["status"] == "Active"
    return key


def person(srv, api: Api, tenant: str, name: str, role: str) -> Person:
    create_user(api, tenant, name, role)
    key = create_key(api, tenant, name)
    return Person(name, f"{tenant}/{name}", key["access_key_id"], key["secret_access_key"])


@pytest.fixture(scope="module")
def world(srv, root):
    """Two tenants, each with a tenant admin and a plain user, both with a password and a key."""
    tenants = {}
    for letter in "ab":
        info = create_tenant(root, f"t{letter}", display_name=f"Tenant {letter.upper()}")
        name = info["name"]
        admin = person(srv, root, name, f"{letter}-admin", "tenant-admin")
        user = person(srv, root, name, f"{letter}-user", "user")
        admin.api = session_for(srv, admin.login, PASSWORD)
        user.api = session_for(srv, user.login, PASSWORD)
        tenants[letter] = Tenant(name, info, admin, user)
    yield tenants
    for tenant in tenants.values():
        s3 = make_client(srv.endpoint, tenant.admin.key_id, tenant.admin.secret)
        for bucket in tenant.buckets:
            empty_and_delete_bucket(s3, bucket)


def s3_of(srv, who: Person):
    return make_client(srv.endpoint, who.key_id, who.secret)


# --------------------------------------------------------------------------- tenants, users, keys


def test_tenants_users_and_keys(srv, root, world):
    a, b = world["a"], world["b"]
    assert a.json["account_id"] != b.json["account_id"]
    assert a.canonical_id != b.canonical_id
    for tenant in (a, b):
        info = expect(root.get(f"/tenants/{tenant.name}"), 200)
        assert re.fullmatch(r"[1-9][0-9]{11}", info["account_id"]), info
        assert re.fullmatch(r"[0-9a-f]{64}", info["canonical_id"]), info
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["created_at"]), info
        assert info["status"] == "active"
        assert info["display_name"].startswith("Tenant ")
        assert info["quota"] == {"storage_bytes": None, "objects": None, "buckets": None, "access_keys": None}
        assert info["usage"]["access_keys"] == 2, info

        users = expect(root.get(f"/tenants/{tenant.name}/users"), 200)["users"]
        roles = {u["name"]: u["role"] for u in users}
        assert roles == {tenant.admin.name: "tenant-admin", tenant.user.name: "user"}, users
        for user in users:
            assert user["tenant"] == tenant.name
            assert user["arn"] == f"arn:aws:iam::{info['account_id']}:user/{user['name']}"
            assert user["has_password"] is True and user["totp_enabled"] is False

        # The secret was in the creation answer only: the key listing never carries one.
        for who in (tenant.admin, tenant.user):
            listing = root.get(f"/tenants/{tenant.name}/users/{who.name}/keys")
            keys = expect(listing, 200)["keys"]
            assert [k["access_key_id"] for k in keys] == [who.key_id]
            assert set(keys[0]) == {"access_key_id", "status", "created_at"}, keys
            assert who.secret not in listing.text
            assert "secret" not in listing.text.lower()
            # The key works, for the right account.
            sts = boto3.client("sts", endpoint_url=srv.endpoint, aws_access_key_id=who.key_id,
                               aws_secret_access_key=who.secret, region_name=REGION)
            identity = sts.get_caller_identity()
            assert identity["Account"] == info["account_id"], identity
            assert identity["Arn"].endswith(f":user/{who.name}"), identity

    names = {t["name"] for t in expect(root.get("/tenants"), 200)["tenants"]}
    assert {a.name, b.name, "default"} <= names

    # Names are checked, and taken only once.
    expect(root.post("/tenants", {"name": a.name}), 409, "AlreadyExists")
    for bad in ("Upper", "a/b", "-lead", "", "x" * 65):
        expect(root.post("/tenants", {"name": bad}), 400)
    expect(root.post(f"/tenants/{a.name}/users", {"name": a.user.name, "role": "user"}), 409, "AlreadyExists")
    expect(root.post(f"/tenants/{a.name}/users", {"name": "x", "role": "owner"}), 400)
    expect(root.post(f"/tenants/{a.name}/users", {"name": "weak", "role": "user", "password": "short"}), 400)
    # System admins live in the default tenant only.
    expect(root.post(f"/tenants/{a.name}/users", {"name": "sys", "role": "system-admin"}), 400)

    # A created key can be deleted; it then stops working.
    extra = create_key(root, a.name, a.user.name)
    expect(root.delete(f"/tenants/{a.name}/users/{a.user.name}/keys/{extra['access_key_id']}"), 204)
    keys = expect(root.get(f"/tenants/{a.name}/users/{a.user.name}/keys"), 200)["keys"]
    assert [k["access_key_id"] for k in keys] == [a.user.key_id]
    sts = boto3.client("sts", endpoint_url=srv.endpoint, aws_access_key_id=extra["access_key_id"],
                       aws_secret_access_key=extra["secret_access_key"], region_name=REGION)
    expect_client_error(sts.get_caller_identity, code="InvalidClientTokenId")


def test_tenant_admin_is_confined_to_its_tenant(srv, root, world):
    a, b = world["a"], world["b"]
    admin = a.admin.api

    session = expect(admin.get("/auth/session"), 200)
    assert session["user"] == {"tenant": a.name, "name": a.admin.name, "role": "tenant-admin", "source": "local"}

    own = expect(admin.get(f"/tenants/{a.name}"), 200)
    assert own["account_id"] == a.json["account_id"]
    listed = expect(admin.get("/tenants"), 200)["tenants"]
    assert [t["name"] for t in listed] == [a.name]

    users = {u["name"] for u in expect(admin.get(f"/tenants/{a.name}/users"), 200)["users"]}
    assert {a.admin.name, a.user.name} <= users
    new = f"a-made-{suffix()}"
    create_user(admin, a.name, new, "user")
    assert new in {u["name"] for u in expect(root.get(f"/tenants/{a.name}/users"), 200)["users"]}
    key = create_key(admin, a.name, new)
    assert [k["access_key_id"] for k in expect(admin.get(f"/tenants/{a.name}/users/{new}/keys"), 200)["keys"]] == [
        key["access_key_id"]
    ]
    # A tenant admin makes no system admin, and no one outside its tenant.
    expect(admin.post(f"/tenants/{a.name}/users", {"name": f"sys-{suffix()}", "role": "system-admin"}), 400)

    # The other tenant: 403 everywhere, and nothing changes there.
    other = f"/tenants/{b.name}"
    expect(admin.get(other), 403, "AccessDenied")
    expect(admin.get(f"{other}/users"), 403, "AccessDenied")
    expect(admin.get(f"{other}/users/{b.user.name}"), 403, "AccessDenied")
    expect(admin.get(f"{other}/users/{b.user.name}/keys"), 403, "AccessDenied")
    expect(admin.post(f"{other}/users/{b.user.name}/keys"), 403, "AccessDenied")
    expect(admin.delete(f"{other}/users/{b.user.name}/keys/{b.user.key_id}"), 403, "AccessDenied")
    expect(admin.post(f"{other}/users", {"name": "intruder", "role": "tenant-admin", "password": PASSWORD}), 403,
           "AccessDenied")
    expect(admin.patch(f"{other}/users/{b.user.name}", {"password": "Hijacked-Password-1"}), 403, "AccessDenied")
    expect(admin.delete(f"{other}/users/{b.user.name}"), 403, "AccessDenied")
    expect(admin.get(f"/buckets?tenant={b.name}"), 403, "AccessDenied")
    expect(admin.get(f"/usage?tenant={b.name}"), 403, "AccessDenied")
    usage = expect(admin.get("/usage"), 200)["tenants"]
    assert [t["tenant"] for t in usage] == [a.name], usage
    assert usage[0]["access_keys"] >= 2, usage
    # A tenant that does not exist answers the same as one that does (no name leaks).
    expect(admin.get(f"/tenants/nosuch-{suffix()}"), 403, "AccessDenied")
    # Tenants themselves are the system's: no creating, changing (not even its own) or deleting.
    expect(admin.post("/tenants", {"name": f"rogue-{suffix()}"}), 403, "AccessDenied")
    expect(admin.patch(f"/tenants/{a.name}", {"quota": {"buckets": None, "storage_bytes": None}}), 403,
           "AccessDenied")
    expect(admin.patch(f"/tenants/{a.name}", {"status": "suspended"}), 403, "AccessDenied")
    expect(admin.delete(other), 403, "AccessDenied")
    expect(admin.get("/audit"), 200)
    b_users = {u["name"] for u in expect(root.get(f"{other}/users"), 200)["users"]}
    assert b_users == {b.admin.name, b.user.name}, b_users
    assert [k["access_key_id"] for k in expect(root.get(f"{other}/users/{b.user.name}/keys"), 200)["keys"]] == [
        b.user.key_id
    ]
    # The B user's password is unchanged.
    expect(login(srv, b.user.login, PASSWORD), 200)
    assert [t["name"] for t in expect(root.get("/tenants"), 200)["tenants"] if t["name"].startswith("rogue-")] == []


def test_plain_user_has_no_admin_rights(srv, world):
    a, b = world["a"], world["b"]
    user = a.user.api
    session = expect(user.get("/auth/session"), 200)
    assert session["user"] == {"tenant": a.name, "name": a.user.name, "role": "user", "source": "local"}
    assert session["totp_enabled"] is False
    own = f"/tenants/{a.name}"
    expect(user.get("/tenants"), 403, "AccessDenied")
    expect(user.get(own), 403, "AccessDenied")
    expect(user.get(f"{own}/users"), 403, "AccessDenied")
    expect(user.get(f"{own}/users/{a.user.name}"), 403, "AccessDenied")
    expect(user.post(f"{own}/users", {"name": "mine", "role": "user"}), 403, "AccessDenied")
    expect(user.patch(f"{own}/users/{a.user.name}", {"role": "tenant-admin"}), 403, "AccessDenied")
    expect(user.patch(f"{own}/users/{a.admin.name}", {"password": "Hijacked-Password-1"}), 403, "AccessDenied")
    expect(user.get(f"{own}/users/{a.user.name}/keys"), 403, "AccessDenied")
    expect(user.post(f"{own}/users/{a.user.name}/keys"), 403, "AccessDenied")
    expect(user.post("/tenants", {"name": f"rogue-{suffix()}"}), 403, "AccessDenied")
    expect(user.get(f"/tenants/{b.name}/users"), 403, "AccessDenied")
    expect(user.get("/audit"), 403, "AccessDenied")
    # Still a user, still with its password.
    expect(login(srv, a.user.login, PASSWORD), 200)
    assert expect(a.admin.api.get(f"{own}/users/{a.user.name}"), 200)["role"] == "user"


# --------------------------------------------------------------------------- IAM between tenants


def test_iam_is_isolated_between_tenants(srv, root, world):
    a, b = world["a"], world["b"]
    iam = iam_client(srv, a.admin.key_id, a.admin.secret)

    names = {u["UserName"] for u in iam.list_users()["Users"]}
    a_names = {u["name"] for u in expect(root.get(f"/tenants/{a.name}/users"), 200)["users"]}
    assert names == a_names, (names, a_names)
    assert b.admin.name not in names and b.user.name not in names
    for user in iam.list_users()["Users"]:
        assert f":{a.json['account_id']}:" in user["Arn"], user

    expect_client_error(iam.get_user, UserName=b.user.name, code="NoSuchEntity", status=404)
    expect_client_error(iam.get_user, UserName=b.admin.name, code="NoSuchEntity", status=404)
    expect_client_error(iam.list_access_keys, UserName=b.user.name, code="NoSuchEntity")
    expect_client_error(iam.create_access_key, UserName=b.user.name, code="NoSuchEntity")
    expect_client_error(iam.delete_user, UserName=b.user.name, code="NoSuchEntity")

    made = f"a-iam-{suffix()}"
    created = iam.create_user(UserName=made)["User"]
    assert created["Arn"] == f"arn:aws:iam::{a.json['account_id']}:user/{made}"
    assert made in {u["name"] for u in expect(root.get(f"/tenants/{a.name}/users"), 200)["users"]}
    assert made not in {u["name"] for u in expect(root.get(f"/tenants/{b.name}/users"), 200)["users"]}
    iam_b = iam_client(srv, b.admin.key_id, b.admin.secret)
    expect_client_error(iam_b.get_user, UserName=made, code="NoSuchEntity")

    # A tenant admin cannot make a system admin, of a new user or of itself.
    system_admin = "arn:aws:iam::aws:policy/maxiofs-system-admin"
    expect_client_error(iam.attach_user_policy, UserName=made, PolicyArn=system_admin, code="AccessDenied",
                        status=403)
    expect_client_error(iam.attach_user_policy, UserName=a.admin.name, PolicyArn=system_admin,
                        code="AccessDenied", status=403)
    attached = iam.list_attached_user_policies(UserName=made)["AttachedPolicies"]
    assert system_admin not in [p["PolicyArn"] for p in attached]

    # Nor does an all-powerful policy of its own account reach the system or another tenant.
    iam.attach_user_policy(UserName=a.admin.name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    try:
        api = session_for(srv, a.admin.login, PASSWORD)
        expect(api.post("/tenants", {"name": f"rogue-{suffix()}"}), 403, "AccessDenied")
        expect(api.get(f"/tenants/{b.name}"), 403, "AccessDenied")
        expect(api.get(f"/tenants/{b.name}/users"), 403, "AccessDenied")
        assert [t["name"] for t in expect(api.get("/tenants"), 200)["tenants"]] == [a.name]
        expect_client_error(iam.get_user, UserName=b.user.name, code="NoSuchEntity")
    finally:
        iam.detach_user_policy(UserName=a.admin.name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.delete_user(UserName=made)


def test_default_tenant_admin_cannot_make_itself_system_admin(srv, root, world):
    """A tenant admin of the default tenant (the root's) holds iam:* there, like any tenant admin
    in its own tenant. Attaching maxiofs-system-admin is refused; a policy of the same power
    (AdministratorAccess, or one of its own allowing admin:*) must not lift it above its tenant
    either."""
    b = world["b"]
    admin = person(srv, root, "default", f"dadmin-{suffix()}", "tenant-admin")
    iam = iam_client(srv, admin.key_id, admin.secret)
    api = session_for(srv, admin.login, PASSWORD)
    expect(api.post("/tenants", {"name": f"esc-{suffix()}"}), 403, "AccessDenied")
    expect_client_error(iam.attach_user_policy, UserName=admin.name,
                        PolicyArn="arn:aws:iam::aws:policy/maxiofs-system-admin", code="AccessDenied")
    attempted = f"esc-{suffix()}"
    try:
        iam.attach_user_policy(UserName=admin.name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    except Exception:  # noqa: BLE001 - refusing the attachment is one way to hold the line
        pass
    try:
        expect(api.post("/tenants", {"name": attempted}), 403, "AccessDenied")
        expect(api.get(f"/tenants/{b.name}/users"), 403, "AccessDenied")
        expect(api.patch(f"/tenants/{b.name}", {"status": "suspended"}), 403, "AccessDenied")
        assert [t["name"] for t in expect(api.get("/tenants"), 200)["tenants"]] == ["default"]
    finally:
        root.patch(f"/tenants/{b.name}", {"status": "active"})
        root.delete(f"/tenants/{attempted}")
        root.delete(f"/tenants/default/users/{admin.name}")


def test_tenant_names_do_not_leak_through_filters(srv, world):
    """GET /tenants/{name} answers 403 alike for another tenant and for none (no name leaks); the
    ?tenant= filters of /usage and /buckets must answer the same way."""
    a, b = world["a"], world["b"]
    nosuch = f"nosuch-{suffix()}"
    answers = {}
    for who, caller in (("tenant-admin", a.admin.api), ("user", a.user.api)):
        for path in ("/tenants/{}", "/usage?tenant={}", "/buckets?tenant={}"):
            for label, tenant in (("other", b.name), ("none", nosuch)):
                answer = caller.get(path.format(tenant))
                answers[(who, path, label)] = (answer.status_code, answer.json()["error"]["code"])
    leaks = {key: got for key, got in answers.items() if got != (403, "AccessDenied")}
    assert not leaks, f"answers that differ from 403 AccessDenied: {leaks}"


# --------------------------------------------------------------------------- buckets between tenants


def test_buckets_belong_to_their_tenant(srv, root, world):
    a, b = world["a"], world["b"]
    s3_a, s3_b = s3_of(srv, a.user), s3_of(srv, b.user)
    bucket_a, bucket_b = unique_bucket_name("ten-a"), unique_bucket_name("ten-b")
    s3_a.create_bucket(Bucket=bucket_a)
    a.buckets.append(bucket_a)
    s3_b.create_bucket(Bucket=bucket_b)
    b.buckets.append(bucket_b)
    s3_a.put_object(Bucket=bucket_a, Key="a.txt", Body=b"from a")
    s3_b.put_object(Bucket=bucket_b, Key="b.txt", Body=b"from b")

    for tenant, s3, mine, theirs in ((a, s3_a, bucket_a, bucket_b), (b, s3_b, bucket_b, bucket_a)):
        listing = s3.list_buckets()
        assert listing["Owner"]["ID"] == tenant.canonical_id, listing["Owner"]
        names = [x["Name"] for x in listing["Buckets"]]
        assert mine in names and theirs not in names, names
        assert s3.get_bucket_acl(Bucket=mine)["Owner"]["ID"] == tenant.canonical_id
        # The tenant admin's key sees the same owner.
        admin_s3 = s3_of(srv, tenant.admin)
        assert admin_s3.get_bucket_acl(Bucket=mine)["Owner"]["ID"] == tenant.canonical_id
        objects = s3.list_objects_v2(Bucket=mine, FetchOwner=True)["Contents"]
        assert [o["Owner"]["ID"] for o in objects] == [tenant.canonical_id]

        # The other tenant's bucket: AccessDenied for every call, even to its admin.
        for client in (s3, admin_s3):
            expect_client_error(client.list_objects_v2, Bucket=theirs, code="AccessDenied", status=403)
            expect_client_error(client.get_object, Bucket=theirs, Key="a.txt" if theirs == bucket_a else "b.txt",
                                code="AccessDenied", status=403)
            expect_client_error(client.put_object, Bucket=theirs, Key="intruder", Body=b"x", code="AccessDenied",
                                status=403)
            expect_client_error(client.get_bucket_acl, Bucket=theirs, code="AccessDenied", status=403)
            expect_client_error(client.delete_bucket, Bucket=theirs, code="AccessDenied", status=403)
            expect_client_error(client.head_bucket, Bucket=theirs, status=403)
        # Bucket names are global: the other tenant cannot take it either.
        expect_client_error(s3.create_bucket, Bucket=theirs, code="BucketAlreadyExists", status=409)

    assert s3_a.get_object(Bucket=bucket_a, Key="a.txt")["Body"].read() == b"from a"
    assert s3_b.get_object(Bucket=bucket_b, Key="b.txt")["Body"].read() == b"from b"
    expect_client_error(s3_a.head_object, Bucket=bucket_b, Key="intruder", status=403)
    assert [o["Key"] for o in s3_b.list_objects_v2(Bucket=bucket_b)["Contents"]] == ["b.txt"]

    # The admin API tells whose bucket it is, and a tenant admin sees only its own.
    assert expect(root.get(f"/buckets/{bucket_a}"), 200)["tenant"] == a.name
    assert expect(root.get(f"/buckets/{bucket_b}"), 200)["tenant"] == b.name
    seen = [x["name"] for x in expect(a.admin.api.get("/buckets"), 200)["buckets"]]
    assert bucket_a in seen and bucket_b not in seen, seen
    expect(a.admin.api.get(f"/buckets/{bucket_b}"), 403, "AccessDenied")
    expect(a.admin.api.put(f"/buckets/{bucket_b}/quota", {"objects": 0}), 403, "AccessDenied")
    assert expect(root.get(f"/buckets/{bucket_b}"), 200)["quota"] == {"storage_bytes": None, "objects": None}
    everyone = [x["name"] for x in expect(root.get("/buckets"), 200)["buckets"]]
    assert bucket_a in everyone and bucket_b in everyone
    only_b = [x["name"] for x in expect(root.get(f"/buckets?tenant={b.name}"), 200)["buckets"]]
    assert bucket_b in only_b and bucket_a not in only_b
    usage = expect(root.get(f"/tenants/{a.name}"), 200)["usage"]
    assert usage["buckets"] == 1 and usage["objects"] == 1 and usage["storage_bytes"] >= len(b"from a"), usage


# --------------------------------------------------------------------------- suspension


def test_suspended_tenant_keys_are_refused_and_data_stays(srv, root):
    info = create_tenant(root, "susp")
    name = info["name"]
    admin = person(srv, root, name, "boss", "tenant-admin")
    api = session_for(srv, admin.login, PASSWORD)
    s3 = s3_of(srv, admin)
    bucket = unique_bucket_name("susp")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="kept.txt", Body=b"still here")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "kept.txt"}, ExpiresIn=600)
    assert requests.get(url, timeout=30).content == b"still here"
    sts = boto3.client("sts", endpoint_url=srv.endpoint, aws_access_key_id=admin.key_id,
                       aws_secret_access_key=admin.secret, region_name=REGION)
    creds = sts.get_session_token()["Credentials"]
    temporary = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=creds["AccessKeyId"],
                             aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
                             region_name=REGION, config=Config(s3={"addressing_style": "path"}))
    assert temporary.get_object(Bucket=bucket, Key="kept.txt")["Body"].read() == b"still here"

    changed = expect(root.patch(f"/tenants/{name}", {"status": "suspended"}), 200)
    assert changed["status"] == "suspended"
    assert expect(root.get(f"/tenants/{name}"), 200)["status"] == "suspended"

    expect_client_error(s3.get_object, Bucket=bucket, Key="kept.txt", code="AccessDenied", status=403)
    expect_client_error(s3.list_buckets, code="AccessDenied", status=403)
    expect_client_error(s3.put_object, Bucket=bucket, Key="new.txt", Body=b"x", code="AccessDenied", status=403)
    iam = iam_client(srv, admin.key_id, admin.secret)
    expect_client_error(iam.create_user, UserName="during-suspension", code="AccessDenied")
    # Neither a URL presigned before the suspension nor temporary credentials get through.
    presigned = requests.get(url, timeout=30)
    assert presigned.status_code == 403 and b"AccessDenied" in presigned.content, presigned.text
    expect_client_error(temporary.get_object, Bucket=bucket, Key="kept.txt", code="AccessDenied", status=403)
    # The console is closed to it too: new logins and the session it already held.
    expect(login(srv, admin.login, PASSWORD), 403, "AccessDenied")
    expect(api.get("/auth/session"), 403, "AccessDenied")
    expect(api.get(f"/tenants/{name}/users"), 403, "AccessDenied")
    # The data is there for the system admin.
    bucket_info = expect(root.get(f"/buckets/{bucket}"), 200)
    assert bucket_info["usage"]["objects"] == 1, bucket_info

    expect(root.patch(f"/tenants/{name}", {"status": "active"}), 200)
    assert s3.get_object(Bucket=bucket, Key="kept.txt")["Body"].read() == b"still here"
    assert requests.get(url, timeout=30).content == b"still here"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["kept.txt"]
    expect(api.get("/auth/session"), 200)
    expect(login(srv, admin.login, PASSWORD), 200)
    assert "during-suspension" not in {u["name"] for u in expect(root.get(f"/tenants/{name}/users"), 200)["users"]}

    # The default tenant holds the root: it cannot be suspended (or deleted).
    expect(root.patch("/tenants/default", {"status": "suspended"}), 400)
    assert expect(root.get("/tenants/default"), 200)["status"] == "active"
    expect(root.delete("/tenants/default"), 400)
    expect(root.patch(f"/tenants/{name}", {"status": "frozen"}), 400)
    root_s3 = srv.client()
    root_s3.list_buckets()

    empty_and_delete_bucket(s3, bucket)


# --------------------------------------------------------------------------- quotas


def test_bucket_and_access_key_quotas(srv, root):
    info = create_tenant(root, "quota", quota={"buckets": 1, "access_keys": 2})
    name = info["name"]
    assert info["quota"] == {"storage_bytes": None, "objects": None, "buckets": 1, "access_keys": 2}
    admin = person(srv, root, name, "boss", "tenant-admin")
    create_user(root, name, "worker", "user")
    s3 = s3_of(srv, admin)

    first = unique_bucket_name("quota-1")
    s3.create_bucket(Bucket=first)
    second = unique_bucket_name("quota-2")
    expect_client_error(s3.create_bucket, Bucket=second, code="QuotaExceeded", status=403)
    assert second not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert expect(root.get(f"/tenants/{name}"), 200)["usage"]["buckets"] == 1

    # Keys: the admin holds one, the second fills the quota, the third is refused on both APIs.
    create_key(root, name, "worker")
    expect(root.post(f"/tenants/{name}/users/worker/keys"), 403, "QuotaExceeded")
    expect(root.post(f"/tenants/{name}/users/boss/keys"), 403, "QuotaExceeded")
    iam = iam_client(srv, admin.key_id, admin.secret)
    expect_client_error(iam.create_access_key, UserName="worker", code="LimitExceeded")
    expect_client_error(iam.create_access_key, code="LimitExceeded")
    assert expect(root.get(f"/tenants/{name}"), 200)["usage"]["access_keys"] == 2
    assert len(iam.list_access_keys(UserName="worker")["AccessKeyMetadata"]) == 1

    # Raising the quotas (null: unlimited) lets both through at once.
    raised = expect(root.patch(f"/tenants/{name}", {"quota": {"buckets": 2, "access_keys": None}}), 200)
    assert raised["quota"]["buckets"] == 2 and raised["quota"]["access_keys"] is None
    s3.create_bucket(Bucket=second)
    key = iam.create_access_key(UserName="worker")["AccessKey"]
    assert key["Status"] == "Active"
    assert expect(root.get(f"/tenants/{name}"), 200)["usage"]["access_keys"] == 3
    expect(root.patch(f"/tenants/{name}", {"quota": {"buckets": -1}}), 400)
    expect(root.patch(f"/tenants/{name}", {"quota": {"buckets": "many"}}), 400)
    expect(root.patch(f"/tenants/{name}", {"quota": 5}), 400)

    for bucket in (first, second):
        empty_and_delete_bucket(s3, bucket)


def test_bucket_object_quota(srv, root, world):
    a, b = world["a"], world["b"]
    s3 = s3_of(srv, a.user)
    bucket = unique_bucket_name("objquota")
    s3.create_bucket(Bucket=bucket)
    a.buckets.append(bucket)

    answer = expect(root.put(f"/buckets/{bucket}/quota", {"objects": 2}), 200)
    assert answer["name"] == bucket and answer["tenant"] == a.name
    assert answer["quota"] == {"storage_bytes": None, "objects": 2}
    # Another tenant's admin may not lift it.
    expect(b.admin.api.put(f"/buckets/{bucket}/quota", {"objects": None}), 403, "AccessDenied")

    s3.put_object(Bucket=bucket, Key="one", Body=b"1")
    s3.put_object(Bucket=bucket, Key="two", Body=b"22")
    expect_client_error(s3.put_object, Bucket=bucket, Key="three", Body=b"333", code="QuotaExceeded", status=403)
    expect_client_error(s3.head_object, Bucket=bucket, Key="three", status=404)
    info = expect(root.get(f"/buckets/{bucket}"), 200)
    assert info["usage"]["objects"] == 2, info
    assert info["usage"]["storage_bytes"] >= 3, info
    assert info["quota"] == {"storage_bytes": None, "objects": 2}
    # The tenant's own admin sees the same.
    assert expect(a.admin.api.get(f"/buckets/{bucket}"), 200)["usage"]["objects"] == 2

    # Deleting one makes room for one.
    s3.delete_object(Bucket=bucket, Key="one")
    s3.put_object(Bucket=bucket, Key="three", Body=b"333")
    expect_client_error(s3.put_object, Bucket=bucket, Key="four", Body=b"4", code="QuotaExceeded", status=403)
    # A byte quota below the current usage refuses the next write; lifting both opens it again.
    expect(root.put(f"/buckets/{bucket}/quota", {"storage_bytes": 1}), 200)
    expect_client_error(s3.put_object, Bucket=bucket, Key="four", Body=b"4", code="QuotaExceeded", status=403)
    expect(a.admin.api.put(f"/buckets/{bucket}/quota", {"storage_bytes": None, "objects": None}), 200)
    s3.put_object(Bucket=bucket, Key="four", Body=b"4")
    assert expect(root.get(f"/buckets/{bucket}"), 200)["usage"]["objects"] == 3
    expect(root.put(f"/buckets/{bucket}/quota", {"objects": "two"}), 400)
    expect(root.put(f"/buckets/nosuch-{suffix()}/quota", {"objects": 1}), 404, "NotFound")


def test_tenant_storage_and_object_quotas(srv, root):
    info = create_tenant(root, "store", quota={"storage_bytes": 10, "objects": 2})
    name = info["name"]
    user = person(srv, root, name, "writer", "user")
    s3 = s3_of(srv, user)
    buckets = [unique_bucket_name("store-1"), unique_bucket_name("store-2")]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=buckets[0], Key="five", Body=b"12345")
    # Bytes count across the tenant's buckets.
    expect_client_error(s3.put_object, Bucket=buckets[1], Key="six", Body=b"123456", code="QuotaExceeded",
                        status=403)
    s3.put_object(Bucket=buckets[1], Key="one", Body=b"1")
    # So do objects.
    expect_client_error(s3.put_object, Bucket=buckets[1], Key="another", Body=b"1", code="QuotaExceeded",
                        status=403)
    usage = expect(root.get(f"/tenants/{name}"), 200)["usage"]
    assert usage["objects"] == 2 and usage["storage_bytes"] == 6 and usage["buckets"] == 2, usage
    expect(root.patch(f"/tenants/{name}", {"quota": None}), 200)
    s3.put_object(Bucket=buckets[1], Key="six", Body=b"123456")
    assert expect(root.get(f"/tenants/{name}"), 200)["quota"]["storage_bytes"] is None
    for bucket in buckets:
        empty_and_delete_bucket(s3, bucket)


# --------------------------------------------------------------------------- deleting a tenant


def test_delete_tenant_needs_its_buckets_gone(srv, root):
    info = create_tenant(root, "gone")
    name = info["name"]
    admin = person(srv, root, name, "boss", "tenant-admin")
    api = session_for(srv, admin.login, PASSWORD)
    s3 = s3_of(srv, admin)
    bucket = unique_bucket_name("gone")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")

    expect(root.delete(f"/tenants/{name}"), 409, "NotEmpty")
    assert expect(root.get(f"/tenants/{name}"), 200)["usage"]["buckets"] == 1
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    expect(root.delete(f"/tenants/{name}"), 204)

    expect(root.get(f"/tenants/{name}"), 404, "NotFound")
    expect(root.get(f"/tenants/{name}/users"), 404, "NotFound")
    expect(root.delete(f"/tenants/{name}"), 404, "NotFound")
    assert name not in {t["name"] for t in expect(root.get("/tenants"), 200)["tenants"]}
    # Its users and keys went with it.
    expect(login(srv, admin.login, PASSWORD), 401, "InvalidCredentials")
    expect(api.get("/auth/session"), 401, "Unauthorized")
    expect_client_error(s3.list_buckets, code="InvalidAccessKeyId", status=403)
    # The name is free again, for a new tenant with new ids; nothing of the old one comes back.
    again = expect(root.post("/tenants", {"name": name}), 201)
    assert again["account_id"] != info["account_id"] and again["canonical_id"] != info["canonical_id"]
    assert expect(root.get(f"/tenants/{name}/users"), 200)["users"] == []
    create_user(root, name, "boss", "tenant-admin")
    expect(api.get("/auth/session"), 401, "Unauthorized")
    expect_client_error(s3.list_buckets, code="InvalidAccessKeyId", status=403)
    expect(root.delete(f"/tenants/{name}"), 204)


# --------------------------------------------------------------------------- errors


def test_errors_are_json(srv, root):
    base = srv.console_endpoint
    anonymous = Api(base)

    expect(root.get("/no/such/path"), 404, "NotFound")
    expect(root.get("/tenantsx"), 404, "NotFound")
    # `/` is the web console's page (test_console.py); anything under /api/ is JSON.
    expect(requests.get(f"{base}/api/", timeout=30), 404, "NotFound")
    expect(requests.get(f"{base}/api/v2/tenants", timeout=30), 404, "NotFound")

    expect(root.delete("/tenants"), 405, "MethodNotAllowed")
    expect(root.put("/tenants/default", {}), 405, "MethodNotAllowed")
    expect(root.post("/buckets"), 405, "MethodNotAllowed")
    expect(root.post("/audit"), 405, "MethodNotAllowed")
    expect(anonymous.get("/auth/login"), 405, "MethodNotAllowed")

    expect(root.post("/tenants", raw=b"{not json"), 400, "InvalidRequest")
    expect(root.post("/tenants", raw=b"[1, 2]"), 400, "InvalidRequest")
    expect(root.post("/tenants", {"name": 7}), 400, "InvalidRequest")
    expect(root.post("/tenants", {}), 400, "InvalidRequest")
    expect(anonymous.post("/auth/login", raw=b"\xff\xfe"), 400, "InvalidRequest")
    expect(anonymous.post("/auth/login", {"username": "", "password": ""}), 400, "InvalidRequest")

    # Over 1 MiB: refused on the declared length before the body is read...
    big = json.dumps({"name": "big", "display_name": "x" * (1024 * 1024)}).encode()
    expect(root.post("/tenants", raw=big), 413, "BodyTooLarge")
    head = (
        f"POST /api/v1/tenants HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {root.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {2 * 1024 * 1024}\r\n\r\n"
    ).encode()
    raw = raw_exchange("127.0.0.1", srv.console_port, head, timeout=10)
    assert http_status(raw) == 413, raw[:500]
    assert b'"BodyTooLarge"' in raw, raw[:500]

    # ... and while reading a chunked body, which declares none.
    def chunks():
        for _ in range(17):
            yield b"y" * (64 * 1024)

    chunked = root.http.post(f"{base}/api/v1/tenants", data=chunks(), timeout=30,
                             headers={"Authorization": f"Bearer {root.token}", "Content-Type": "application/json"})
    expect(chunked, 413, "BodyTooLarge")
    assert "big" not in {t["name"] for t in expect(root.get("/tenants"), 200)["tenants"]}

    # No session, or one that is not a session.
    expect(anonymous.get("/tenants"), 401, "Unauthorized")
    expect(anonymous.post("/tenants", {"name": f"anon-{suffix()}"}), 401, "Unauthorized")
    expect(Api(base, "not-a-token").get("/tenants"), 401, "Unauthorized")
    basic = requests.get(f"{base}/api/v1/tenants", auth=(srv.access_key, srv.secret_key), timeout=30)
    expect(basic, 401, "Unauthorized")
    # Every answer carries the security headers.
    answer = anonymous.get("/tenants")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
