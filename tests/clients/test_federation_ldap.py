"""Signing in with an LDAP directory (issue 20), against a real OpenLDAP server: Debian's `slapd`,
started here on loopback ports with a throw-away database (tests/clients/fed/slapd.py: users
alice, bob, carol, dave, erin, frank; groups s3-admins, s3-writers, s3-readers and
nested-readers).

The identity providers are made through the admin API (and never show their bind password);
directory users sign in to the admin API and to the console (headless Chromium) as
`<tenant>/<login>` with their directory password, get the role their groups map to (a reader
gets a read-only console), and get temporary S3 credentials with AssumeRoleWithLDAPIdentity
that boto3 uses within the mapped policy and is refused beyond it. A user taken out of its
group loses the right at the next sign-in; TOTP still applies to a directory user who enrolled
it; `*)(uid=*` style names never reach the directory; StartTLS and ldaps:// work with a private
CA; nested groups count. With the directory stopped (or hung), directory sign-ins fail with 503
in bounded time while local logins and S3 go on, and the failure is in the audit log.

Every login and STS call comes from a loopback address of its own (fed.support), so that the
failures made on purpose here do not trip the server's per-address throttle.

One maxiofs server and one slapd for the module. The tests that stop or pause the directory run
last and start it again.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import expect as pw_expect

from fed.slapd import (
    GROUPS_DN,
    PEOPLE_DN,
    SERVICE_PASSWORD,
    group_dn,
    slapd,  # noqa: F401 - the fixture
    user_dn,
)
from fed.support import (
    own_server,
    FAILED,
    PASSWORD,
    RFC3339,
    Api,
    assume_role_with_ldap,
    audit_entries,
    bucket_with_readme,
    expect,
    login,
    make_tenant,
    sts_credentials,
    sts_error,
    suffix,
    totp_code,
    who,
    with_creds,
)
from helpers import expect_client_error, unique_bucket_name
from test_console import browser, consoles  # noqa: F401 - fixtures (headless Chromium)

LDAP_ACTION = "AssumeRoleWithLDAPIdentity"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def srv():
    yield from own_server(f"fed-ldap-{suffix()}")


@pytest.fixture(scope="module")
def root(srv) -> Api:
    return Api(srv, expect(login(srv, srv.access_key, srv.secret_key), 200)["token"])


class Corp:
    """The module's main tenant: the plain ldap:// provider `corp` and a bucket with readme.txt."""

    def __init__(self, srv, root, directory):
        self.tenant = make_tenant(srv, root, "ldap")
        self.name = self.tenant.name
        self.directory = directory
        self.provider = expect(root.post(self.tenant.idp_path(), directory.provider_body("corp")), 201)
        self.bucket = bucket_with_readme(self.tenant, "ldap-corp")

    def login(self, uid: str, password: str | None = None):
        return login(self.tenant.srv, f"{self.name}/{uid}", self.directory.users[uid] if password is None else password)

    def sts(self, uid: str, password: str | None = None, **extra):
        return assume_role_with_ldap(self.tenant.srv, f"{self.name}/{uid}",
                                     self.directory.users[uid] if password is None else password, **extra)


@pytest.fixture(scope="module")
def corp(srv, root, slapd) -> Corp:  # noqa: F811 - slapd is the fixture
    return Corp(srv, root, slapd)


def ldap_tenant(srv, root, directory, prefix: str, **body_kw):
    """Another tenant with one LDAP provider `dir` (body from directory.provider_body)."""
    tenant = make_tenant(srv, root, prefix)
    expect(root.post(tenant.idp_path(), directory.provider_body("dir", **body_kw)), 201)
    return tenant


# --------------------------------------------------------------------------- the admin API


def test_identity_providers_through_the_admin_api(srv, root, slapd):  # noqa: F811
    tenant = make_tenant(srv, root, "idp")
    path = tenant.idp_path()
    body = slapd.provider_body("corp", mode="starttls")
    created = expect(root.post(path, body), 201)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", created["id"]), created
    assert "bind_password" not in created and created["bind_password_set"] is True, created
    for field in ("name", "type", "url", "start_tls", "bind_dn", "user_base_dn", "user_filter", "group_base_dn",
                  "group_filter", "mappings"):
        assert created[field] == body[field], (field, created)
    assert created["tenant"] == tenant.name and RFC3339.fullmatch(created["created_at"]), created

    listed = root.get(path)
    assert SERVICE_PASSWORD not in listed.text and '"bind_password"' not in listed.text
    assert [p["id"] for p in expect(listed, 200)["identity_providers"]] == [created["id"]]
    one = root.get(tenant.idp_path(created["id"]))
    assert SERVICE_PASSWORD not in one.text and '"bind_password"' not in one.text
    assert expect(one, 200)["id"] == created["id"]
    # The tenant's own admin sees them too.
    assert [p["id"] for p in expect(tenant.admin.get(path), 200)["identity_providers"]] == [created["id"]]

    # A duplicate name in the tenant, and bad fields, are refused; nothing more is stored.
    expect(root.post(path, body), 409, "AlreadyExists")
    expect(tenant.admin.post(path, slapd.provider_body("corp")), 409, "AlreadyExists")
    bad = {
        "user_filter": "(uid=alice)",
        "group_filter": "(member=cn=nobody)",
        "mappings": [{"group": group_dn("s3-admins"), "role": "owner"}],
        "url": "http://127.0.0.1:389",
        "name": "bad name",
    }
    for field, value in bad.items():
        expect(root.post(path, {**slapd.provider_body(f"bad-{field}"), field: value}), 400, "InvalidRequest")
    expect(root.post(path, {**slapd.provider_body("long"), "name": "n" * 65}), 400, "InvalidRequest")
    expect(root.post(path, {"name": "oidc-bad", "type": "oidc", "issuer": "not a url", "client_id": "c",
                            "client_secret": "s", "mappings": []}), 400, "InvalidRequest")
    assert len(expect(root.get(path), 200)["identity_providers"]) == 1

    # PATCH: a subset of the fields; a secret given replaces the stored one (seen in use).
    patched = expect(root.patch(tenant.idp_path(created["id"]), {"timeout_ms": 4000}), 200)
    assert patched["timeout_ms"] == 4000 and patched["url"] == body["url"] and patched["bind_password_set"] is True
    expect(root.patch(tenant.idp_path(created["id"]), {"type": "oidc"}), 400, "InvalidRequest")
    alice = f"{tenant.name}/alice"
    expect(login(srv, alice, slapd.users["alice"]), 200)
    wrong = root.patch(tenant.idp_path(created["id"]), {"bind_password": "not-the-service-password"})
    assert "not-the-service-password" not in wrong.text and '"bind_password"' not in wrong.text
    expect(wrong, 200)
    assert login(srv, alice, slapd.users["alice"]).status_code != 200, "the new (wrong) bind password is used"
    expect(root.patch(tenant.idp_path(created["id"]), {"bind_password": SERVICE_PASSWORD}), 200)
    expect(login(srv, alice, slapd.users["alice"]), 200)

    # Unknown ids; other tenants' admins and plain users.
    for method in ("GET", "PATCH", "DELETE"):
        expect(root.call(method, tenant.idp_path("idp-0000000000000000"), {} if method == "PATCH" else None), 404,
               "NotFound")
    other = make_tenant(srv, root, "idp-other")
    expect(other.admin.get(path), 403, "AccessDenied")
    expect(other.admin.post(path, slapd.provider_body("intruder")), 403, "AccessDenied")
    expect(other.admin.delete(tenant.idp_path(created["id"])), 403, "AccessDenied")
    expect(root.post(f"/tenants/{tenant.name}/users", {"name": "plain", "role": "user", "password": PASSWORD}), 201)
    plain = Api(srv, expect(login(srv, f"{tenant.name}/plain", PASSWORD), 200)["token"])
    expect(plain.get(path), 403, "AccessDenied")
    expect(plain.post(path, slapd.provider_body("mine")), 403, "AccessDenied")

    # An OIDC provider of the same tenant: its client secret is never shown either; only OIDC
    # providers are offered on the public sign-in list.
    oidc = {"name": "sso", "type": "oidc", "issuer": "http://127.0.0.1:9", "client_id": "maxiofs",
            "client_secret": "oidc-Client-Secret-9", "scopes": "openid profile email groups",
            "groups_claim": "groups", "mappings": [{"group": "s3-admins", "role": "tenant-admin"},
                                                   {"email_domain": "example.com", "role": "read-only"}]}
    made = root.post(path, oidc)
    assert "oidc-Client-Secret-9" not in made.text
    made = expect(made, 201)
    assert "client_secret" not in made and made["client_secret_set"] is True, made
    assert made["scopes"] == ["openid", "profile", "email", "groups"], made
    assert "oidc-Client-Secret-9" not in root.get(path).text
    providers = expect(Api(srv).get("/auth/providers", params={"tenant": tenant.name}), 200)["providers"]
    assert [{k: p.get(k) for k in ("name", "type", "start_url")} for p in providers] == [
        {"name": "sso", "type": "oidc", "start_url": f"/api/v1/auth/oidc/{tenant.name}/sso/start"}], providers
    assert "oidc-Client-Secret-9" not in json.dumps(providers)
    assert expect(Api(srv).get("/auth/providers", params={"tenant": f"nosuch-{suffix()}"}), 200)["providers"] == []

    # Deleted: gone, and its users can no longer sign in.
    expect(root.delete(tenant.idp_path(created["id"])), 204)
    expect(root.get(tenant.idp_path(created["id"])), 404, "NotFound")
    assert [p["name"] for p in expect(root.get(path), 200)["identity_providers"]] == ["sso"]
    expect(login(srv, alice, slapd.users["alice"]), 401, "InvalidCredentials")


# --------------------------------------------------------------------------- sign-in


def test_directory_users_sign_in_to_the_admin_api_with_their_mapped_role(srv, root, corp):
    t = corp.name
    expected = {"alice": "tenant-admin", "dave": "user", "bob": "read-only", "carol": "read-only"}
    tokens = {}
    for uid, role in expected.items():
        answer = expect(corp.login(uid), 200)
        assert who(answer) == (t, uid, role), answer
        assert answer["token"] and answer["csrf_token"] and RFC3339.fullmatch(answer["expires_at"]), answer
        tokens[uid] = Api(srv, answer["token"])
        session = expect(tokens[uid].get("/auth/session"), 200)
        assert who(session) == (t, uid, role) and session["user"]["source"] == "ldap:corp", session

    # The role is the tenant role: the tenant admin lists the tenant's users (the provisioned
    # ones among them), a reader may not.
    users = {u["name"]: u for u in expect(tokens["alice"].get(f"/tenants/{t}/users"), 200)["users"]}
    for uid, role in expected.items():
        assert users[uid]["role"] == role, users[uid]
    expect(tokens["bob"].get(f"/tenants/{t}/users"), 403, "AccessDenied")
    expect(tokens["dave"].get(f"/tenants/{t}/users"), 403, "AccessDenied")

    # In no mapped group: refused with a reason; wrong or unknown: the same 401 for both.
    expect(corp.login("erin"), 403, "AccessDenied")
    expect(corp.login("alice", "not-alices-password"), 401, "InvalidCredentials")
    expect(corp.login("nobody", "whatever-password"), 401, "InvalidCredentials")
    # An empty password is an anonymous bind to many directories: never a sign-in.
    assert login(srv, f"{t}/alice", "").status_code in (400, 401)

    audit_entries(root, "login", f"{t}/alice", outcome="success")
    audit_entries(root, "login", f"{t}/alice", outcome=FAILED, detail=r"invalid credentials")
    audit_entries(root, "login", f"{t}/erin", outcome=FAILED, detail=r"group|role|mapped")


def test_a_local_user_of_the_same_name_signs_in_locally(srv, root, slapd):  # noqa: F811
    tenant = ldap_tenant(srv, root, slapd, "ldap-local")
    expect(root.post(f"/tenants/{tenant.name}/users", {"name": "alice", "role": "user", "password": PASSWORD}), 201)
    answer = expect(login(srv, f"{tenant.name}/alice", PASSWORD), 200)
    assert who(answer) == (tenant.name, "alice", "user")
    assert expect(Api(srv, answer["token"]).get("/auth/session"), 200)["user"]["source"] == "local"
    # Another directory user of that tenant still signs in through the directory.
    answer = expect(login(srv, f"{tenant.name}/bob", slapd.users["bob"]), 200)
    assert who(answer) == (tenant.name, "bob", "read-only")


INJECTIONS = [
    "*)(uid=*",
    "*",
    "al*",
    "alice)(|(uid=*)",
    "*)(|(objectClass=*",
    "alice)(objectClass=*",
    "alice\\2a",
    "alice\\",
    "alice\x00",
    "(uid=alice)",
]


def test_filter_injection_usernames_are_refused_without_a_search(srv, root, corp, slapd):  # noqa: F811
    t = corp.name
    mark = slapd.log_mark()
    for name in INJECTIONS:
        for password in (slapd.users["alice"], "anything"):
            expect(login(srv, f"{t}/{name}", password), 401, "InvalidCredentials")
        answer = assume_role_with_ldap(srv, f"{t}/{name}", slapd.users["alice"])
        assert sts_error(answer) == (403, "AccessDenied"), (name, answer.status_code, answer.text)
    # Longer than any login (256): refused before anything (the login form may call it malformed).
    too_long = login(srv, f"{t}/{'a' * 300}", slapd.users["alice"])
    assert (too_long.status_code, too_long.json()["error"]["code"]) in (
        (401, "InvalidCredentials"), (400, "InvalidRequest")), too_long.text
    assert sts_error(assume_role_with_ldap(srv, f"{t}/{'a' * 300}", slapd.users["alice"])) == (403, "AccessDenied")
    assert slapd.searches_since(mark) == [], "an injection attempt reached the directory"
    # The control: a real name is searched for (so the log above would have shown them).
    expect(corp.login("alice"), 200)
    assert slapd.searches_since(mark) == ["(uid=alice)"]


def test_totp_still_applies_to_a_directory_user(srv, corp):
    t = corp.name
    api = Api(srv, expect(corp.login("frank"), 200)["token"])
    secret = expect(api.post("/auth/totp"), 200)["secret"]
    expect(api.post("/auth/totp/confirm", {"code": totp_code(secret, time.time())}), 200)
    # The directory password alone is no longer enough.
    expect(corp.login("frank"), 401, "TotpRequired")
    code = totp_code(secret, time.time() + 30)  # the confirming code is used up; the next step's is fresh
    answer = expect(login(srv, f"{t}/frank", corp.directory.users["frank"], totp=code), 200)
    assert who(answer) == (t, "frank", "user")
    expect(login(srv, f"{t}/frank", corp.directory.users["frank"], totp=code), 401, "InvalidTotp")


# --------------------------------------------------------------------------- console


def test_console_sign_in_with_directory_passwords_and_a_read_only_console(srv, corp, consoles):  # noqa: F811
    t = corp.name
    reader = consoles(srv, "ldap-reader")
    reader.sign_in(f"{t}/bob", corp.directory.users["bob"])
    assert f"{t}/bob" in reader.testid("who").inner_text()
    assert "read-only" in reader.testid("who").inner_text()
    assert reader.testid("who-source").inner_text().strip() == "ldap:corp"
    assert reader.testid("nav-users").count() == 0 and reader.testid("nav-tenants").count() == 0
    reader.goto("#/buckets")
    reader.testid(f"bucket-link-{corp.bucket}").wait_for()
    assert reader.testid("bucket-create").count() == 0, "a read-only user sees bucket-create"
    reader.testid(f"bucket-link-{corp.bucket}").click()
    reader.testid("object-row-readme.txt").wait_for()
    for control in ("upload-input", "delete-selected", "object-delete-readme.txt"):
        assert reader.testid(control).count() == 0, f"a read-only user sees {control}"
    assert reader.problems == [], reader.problems
    reader.sign_out()

    admin = consoles(srv, "ldap-admin")
    admin.sign_in(f"{t}/alice", corp.directory.users["alice"])
    assert "tenant-admin" in admin.testid("who").inner_text()
    admin.testid("nav-users").wait_for()
    admin.goto("#/buckets")
    admin.testid("bucket-create").wait_for()
    assert admin.problems == [], admin.problems

    # A wrong directory password is said in words in the form.
    stranger = consoles(srv, "ldap-wrong")
    stranger.expected_statuses = {401}
    stranger.goto("#/login")
    stranger.testid("login-username").fill(f"{t}/alice")
    stranger.testid("login-password").fill("not-alices-password")
    stranger.testid("login-submit").click()
    pw_expect(stranger.testid("login-error")).to_have_text(re.compile(r"Wrong user name or password"))


# --------------------------------------------------------------------------- STS


def test_assume_role_with_ldap_identity_gives_credentials_within_the_mapped_policy(srv, root, corp, slapd):  # noqa: F811
    t = corp.name
    other_bucket = unique_bucket_name("ldap-root")
    root_s3 = srv.client()
    root_s3.create_bucket(Bucket=other_bucket)

    # bob (read-only): reads, and nothing else.
    before = datetime.now(timezone.utc)
    creds = sts_credentials(corp.sts("bob", DurationSeconds="900"), LDAP_ACTION)
    expires = datetime.fromisoformat(creds["Expiration"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=840) <= expires <= before + timedelta(seconds=960), creds["Expiration"]
    s3 = with_creds(srv, creds)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=corp.bucket).get("Contents", [])] == ["readme.txt"]
    assert s3.get_object(Bucket=corp.bucket, Key="readme.txt")["Body"].read() == b"hello from the tenant admin"
    expect_client_error(s3.put_object, Bucket=corp.bucket, Key="bob.txt", Body=b"x", code="AccessDenied", status=403)
    expect_client_error(s3.delete_object, Bucket=corp.bucket, Key="readme.txt", code="AccessDenied", status=403)
    expect_client_error(s3.create_bucket, Bucket=unique_bucket_name("bob"), code="AccessDenied", status=403)
    expect_client_error(s3.get_object, Bucket=other_bucket, Key="x", code="AccessDenied", status=403)
    assert corp.tenant.s3.get_object(Bucket=corp.bucket, Key="readme.txt")["ContentLength"] > 0
    identity = with_creds(srv, creds, "sts").get_caller_identity()
    assert identity["Account"] == corp.tenant.account_id, identity
    assert identity["Arn"] == f"arn:aws:iam::{corp.tenant.account_id}:user/bob", identity

    # dave (user) writes; a session policy narrows that.
    s3 = with_creds(srv, sts_credentials(corp.sts("dave"), LDAP_ACTION))
    s3.put_object(Bucket=corp.bucket, Key="dave.txt", Body=b"from dave")
    session_policy = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",'
                      f'"Resource":"arn:aws:s3:::{corp.bucket}/*"}}]}}')
    narrowed = with_creds(srv, sts_credentials(corp.sts("dave", Policy=session_policy), LDAP_ACTION))
    assert narrowed.get_object(Bucket=corp.bucket, Key="dave.txt")["Body"].read() == b"from dave"
    expect_client_error(narrowed.put_object, Bucket=corp.bucket, Key="dave2.txt", Body=b"x", code="AccessDenied")
    expect_client_error(narrowed.list_objects_v2, Bucket=corp.bucket, code="AccessDenied")

    # Refusals: a wrong password, no mapped group, an unknown tenant, a duration out of range.
    assert sts_error(corp.sts("bob", "not-bobs-password")) == (403, "AccessDenied")
    assert sts_error(corp.sts("erin")) == (403, "AccessDenied")
    assert sts_error(assume_role_with_ldap(srv, f"nosuch-{suffix()}/bob", slapd.users["bob"])) == (403, "AccessDenied")
    assert corp.sts("bob", DurationSeconds="60").status_code == 400

    bob = (f"{t}/bob", f"arn:aws:iam::{corp.tenant.account_id}:user/bob")
    audit_entries(root, f"sts:{LDAP_ACTION}", bob, outcome="success")
    audit_entries(root, f"sts:{LDAP_ACTION}", bob, outcome=FAILED, detail=r"invalid credentials")
    root_s3.delete_bucket(Bucket=other_bucket)


def test_a_user_removed_from_its_group_loses_the_right_at_the_next_sign_in(srv, root, corp, slapd):  # noqa: F811
    t = corp.name
    erin = user_dn("erin")
    slapd.add_member("s3-writers", erin)
    try:
        assert who(expect(corp.login("erin"), 200)) == (t, "erin", "user")
        s3 = with_creds(srv, sts_credentials(corp.sts("erin"), LDAP_ACTION))
        s3.put_object(Bucket=corp.bucket, Key="erin.txt", Body=b"erin was here")

        # Promoted in the directory: the next sign-in has the new role.
        slapd.add_member("s3-admins", erin)
        assert who(expect(corp.login("erin"), 200)) == (t, "erin", "tenant-admin")
        slapd.remove_member("s3-admins", erin)
        assert who(expect(corp.login("erin"), 200)) == (t, "erin", "user")

        # Out of every mapped group: refused, by the console login and by STS, and the
        # provisioned user keeps no role.
        slapd.remove_member("s3-writers", erin)
        expect(corp.login("erin"), 403, "AccessDenied")
        assert sts_error(corp.sts("erin")) == (403, "AccessDenied")
        provisioned = expect(root.get(f"/tenants/{t}/users/erin"), 200)
        assert provisioned.get("role") not in ("user", "tenant-admin", "read-only"), provisioned
    finally:
        for group in ("s3-writers", "s3-admins"):
            if erin in slapd.members(group):
                slapd.remove_member(group, erin)


def test_nested_groups_count_only_when_asked(srv, root, corp, slapd):  # noqa: F811
    # carol is in nested-readers, itself a member of s3-readers.
    assert who(expect(corp.login("carol"), 200)) == (corp.name, "carol", "read-only")
    flat = ldap_tenant(srv, root, slapd, "ldap-flat", nested_groups=False)
    expect(login(srv, f"{flat.name}/carol", slapd.users["carol"]), 403, "AccessDenied")
    assert who(expect(login(srv, f"{flat.name}/bob", slapd.users["bob"]), 200)) == (flat.name, "bob", "read-only")


@pytest.mark.parametrize("mode", ["starttls", "ldaps"])
def test_starttls_and_ldaps_with_a_private_ca(srv, root, slapd, mode):  # noqa: F811
    tenant = ldap_tenant(srv, root, slapd, f"ldap-{mode}", mode=mode)
    mark = slapd.log_mark()
    assert who(expect(login(srv, f"{tenant.name}/alice", slapd.users["alice"]), 200)) == (
        tenant.name, "alice", "tenant-admin")
    # The user's password went over TLS (slapd logs each bind's security strength).
    binds = slapd.binds_since(mark, user_dn("alice"))
    assert binds and all(ssf > 0 for ssf in binds), binds
    if mode == "starttls":
        assert "oid=1.3.6.1.4.1.1466.20037" in slapd.log_since(mark), "no StartTLS was asked"
    creds = sts_credentials(assume_role_with_ldap(srv, f"{tenant.name}/bob", slapd.users["bob"]), LDAP_ACTION)
    assert with_creds(srv, creds, "sts").get_caller_identity()["Account"] == tenant.account_id

    # Without the private CA the server's certificate is not trusted: no sign-in.
    untrusted = ldap_tenant(srv, root, slapd, f"ldap-{mode}-noca", mode=mode, ca_pem=None)
    mark = slapd.log_mark()
    refused = login(srv, f"{untrusted.name}/alice", slapd.users["alice"])
    assert refused.status_code in (401, 403, 503), refused.text
    assert slapd.binds_since(mark, user_dn("alice")) == [], "the password was sent to an untrusted server"


def test_the_bind_dn_and_base_dns_are_used_as_configured(srv, root, slapd):  # noqa: F811
    # Users searched under another base (the groups' one) are not found: 401, not a sign-in.
    tenant = ldap_tenant(srv, root, slapd, "ldap-base", user_base_dn=GROUPS_DN)
    expect(login(srv, f"{tenant.name}/alice", slapd.users["alice"]), 401, "InvalidCredentials")
    # A user filter of the admin's choice (here by e-mail address) is honoured.
    by_mail = ldap_tenant(srv, root, slapd, "ldap-mail", user_filter="(mail={username})", user_base_dn=PEOPLE_DN)
    answer = login(srv, f"{by_mail.name}/alice@example.org", slapd.users["alice"])
    assert answer.status_code == 200 and who(answer.json())[2] == "tenant-admin", answer.text


# --------------------------------------------------------------------------- failures (last: they stop slapd)


def test_a_hung_directory_times_out_without_blocking_local_logins(srv, root, slapd):  # noqa: F811
    tenant = ldap_tenant(srv, root, slapd, "ldap-hung", timeout_ms=4000)
    bucket = bucket_with_readme(tenant, "ldap-hung")
    result = {}

    def directory_login():
        started = time.monotonic()
        result["answer"] = login(srv, f"{tenant.name}/alice", slapd.users["alice"])
        result["seconds"] = time.monotonic() - started

    slapd.pause()  # connections are accepted (the kernel's backlog) and never answered
    try:
        worker = threading.Thread(target=directory_login)
        worker.start()
        time.sleep(0.3)
        # While the directory sign-in waits, a local login and S3 answer: well before its timeout.
        started = time.monotonic()
        expect(login(srv, tenant.admin_login, PASSWORD), 200)
        tenant.s3.put_object(Bucket=bucket, Key="during.txt", Body=b"x")
        assert worker.is_alive(), "the directory sign-in did not wait for the hung directory"
        assert time.monotonic() - started < 2.5, "a local login or S3 waited for the directory"
        worker.join(timeout=60)
        assert not worker.is_alive()
    finally:
        slapd.resume()
    expect(result["answer"], 503, "IdentityProviderUnavailable")
    assert 3.0 <= result["seconds"] < 15, result["seconds"]
    audit_entries(root, "login", f"{tenant.name}/alice", outcome=FAILED, detail=r"unavailable")


def test_with_the_directory_stopped_local_logins_and_s3_go_on(srv, root, corp, slapd):  # noqa: F811
    t = corp.name
    expect(corp.login("alice"), 200)
    slapd.stop()
    try:
        started = time.monotonic()
        expect(corp.login("alice"), 503, "IdentityProviderUnavailable")
        assert time.monotonic() - started < 8
        status, _ = sts_error(corp.sts("bob"))
        assert status != 200
        # Local logins (the tenant's own admin, the root) and S3 traffic are not affected.
        expect(login(srv, corp.tenant.admin_login, PASSWORD), 200)
        expect(login(srv, srv.access_key, srv.secret_key), 200)
        s3 = corp.tenant.s3
        s3.put_object(Bucket=corp.bucket, Key="while-down.txt", Body=b"still here")
        assert s3.get_object(Bucket=corp.bucket, Key="while-down.txt")["Body"].read() == b"still here"
        try:
            srv.client().list_buckets()
        except ClientError as exc:  # pragma: no cover - the assertion says it
            raise AssertionError(f"S3 refused the root while the directory is down: {exc}") from exc
        audit_entries(root, "login", f"{t}/alice", outcome=FAILED, detail=r"unavailable")
    finally:
        slapd.start()
    # Back: the next directory sign-in works again.
    assert who(expect(corp.login("alice"), 200)) == (t, "alice", "tenant-admin")
