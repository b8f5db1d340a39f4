"""Signing in with OpenID Connect (issue 20), against a real provider: the `oidc-provider` npm
package (tests/clients/fed/oidc/provider.mjs, run with node on a loopback port; users alice,
bob, carol and dave with `groups` and `email` claims; PKCE required).

The console signs in through the provider's own login page (headless Chromium, "Sign in with
testidp" after the tenant is named) and without a browser (requests following the same
redirects); the groups claim and the e-mail domain map to the role in the tenant whose provider
it is. A replayed or forged state is refused. AssumeRoleWithWebIdentity (boto3, unsigned) with
the provider's ID token for a role whose trust policy names the issuer, with conditions on
`<issuer host>:aud` and `:sub`, gives credentials that boto3 uses within the role's policy.
Tokens for another audience, expired, signed by another key, `alg: none`, HS256 keyed with the
public key, or of an unknown issuer are refused; the provider's key rotation is followed. With
the provider stopped, local logins and S3 go on, and the failure is audited.

One maxiofs server and one provider for the module; the test that stops the provider runs last.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.exceptions
import pytest
import requests
from playwright.sync_api import expect as pw_expect

from fed.oidc_client import (
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_CLIENT_ID,
    b64url,
    jwt_parts,
    oidc_provider,  # noqa: F401 - the fixture
    sign_in_through,
)
from fed.support import (
    own_server,
    FAILED,
    PASSWORD,
    Api,
    audit_entries,
    bucket_with_readme,
    expect,
    login,
    make_tenant,
    suffix,
    totp_code,
    unsigned_sts,
    who,
    with_creds,
)
from helpers import expect_client_error, unique_bucket_name, wait_for
from test_console import browser, consoles  # noqa: F401 - fixtures (headless Chromium)

PROVIDER = "testidp"
WEB_ACTION = "sts:AssumeRoleWithWebIdentity"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def srv():
    yield from own_server(f"fed-oidc-{suffix()}")


@pytest.fixture(scope="module")
def root(srv) -> Api:
    return Api(srv, expect(login(srv, srv.access_key, srv.secret_key), 200)["token"])


def provider_body(idp, name: str = PROVIDER, **extra) -> dict:
    body = {
        "name": name,
        "type": "oidc",
        "issuer": idp.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": ["openid", "profile", "email", "groups"],
        "groups_claim": "groups",
        "mappings": [
            {"group": "s3-admins", "role": "tenant-admin"},
            {"group": "s3-readers", "role": "read-only"},
            {"email_domain": "partner.example", "role": "user"},
        ],
        "timeout_ms": 3000,
    }
    body.update(extra)
    return body


class Sso:
    """The module's tenant with the OIDC provider `testidp`, a bucket, and the provider knowing
    the console's callback."""

    def __init__(self, srv, root, idp):
        self.srv = srv
        self.idp = idp
        self.tenant = make_tenant(srv, root, "oidc")
        self.name = self.tenant.name
        self.callback = f"{srv.console_endpoint}/api/v1/auth/oidc/callback"
        idp.add_redirect_uri(self.callback)
        self.provider = expect(root.post(self.tenant.idp_path(), provider_body(idp)), 201)
        self.bucket = bucket_with_readme(self.tenant, "oidc-sso")
        self.iam = self.tenant.client("iam")

    @property
    def start_url(self) -> str:
        return f"{self.srv.console_endpoint}/api/v1/auth/oidc/{self.name}/{PROVIDER}/start"

    def through_provider(self, username: str, password: str | None = None):
        """Starts a console sign-in and signs in at the provider: (requests session, the callback
        URL the provider sends the browser back to, not fetched yet)."""
        http = requests.Session()
        password = self.idp.users[username]["password"] if password is None else password
        return http, sign_in_through(http, self.start_url, username, password, self.callback)

    def console_sign_in(self, username: str):
        """The whole browserless sign-in: (session, the callback's answer)."""
        http, back = self.through_provider(username)
        return http, http.get(back, allow_redirects=False, timeout=60)

    def role(self, prefix: str, trust: dict, bucket: str) -> dict:
        name = f"{prefix}-{suffix()}"
        role = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        self.iam.put_role_policy(RoleName=name, PolicyName="bucket", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{bucket}/*"},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
            ],
        }))
        return role

    def trust(self, sub: str = "alice", issuer: str | None = None, aud: str = CLIENT_ID) -> dict:
        issuer = issuer or self.idp.issuer
        host = issuer.split("://", 1)[1]
        return {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": issuer},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{host}:aud": aud, f"{host}:sub": sub}},
            }],
        }


@pytest.fixture(scope="module")
def sso(srv, root, oidc_provider) -> Sso:  # noqa: F811 - the fixture
    return Sso(srv, root, oidc_provider)


@pytest.fixture(scope="module")
def alice_role(sso) -> dict:
    return sso.role("web-alice", sso.trust("alice"), sso.bucket)


def assume(srv, role: dict, token: str, session: str = "web-session", **kw) -> dict:
    return unsigned_sts(srv).assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName=session,
                                                           WebIdentityToken=token, **kw)


def login_error(answer: requests.Response) -> str:
    """The message of a callback that failed: 302 to /?login_error=<message>."""
    assert answer.status_code == 302, (answer.status_code, answer.text)
    location = answer.headers["Location"]
    assert location.startswith("/?login_error="), location
    return unquote(parse_qs(urlsplit(location).query)["login_error"][0])


def landed_csrf(answer: requests.Response) -> str:
    """The callback's redirect to the console: `/#/?sso_csrf=<token>` (the CSRF token in the
    fragment, which browsers never send to a server), with the session cookie."""
    assert answer.status_code == 302, (answer.status_code, answer.headers)
    location = answer.headers["Location"]
    found = re.fullmatch(r"/#/\?sso_csrf=([0-9a-f]{64})", location)
    assert found, location
    return found.group(1)


def session_of(srv, http: requests.Session, answer: requests.Response) -> dict:
    """GET /auth/session with the cookie the callback set and the CSRF token its redirect carried,
    as the console asks it then; without the token the cookie alone is refused."""
    url = f"{srv.console_endpoint}/api/v1/auth/session"
    expect(http.get(url, timeout=30), 403)
    return expect(http.get(url, headers={"X-CSRF-Token": landed_csrf(answer)}, timeout=30), 200)


# --------------------------------------------------------------------------- the provider record


def test_the_provider_record_and_the_public_sign_in_list(srv, root, sso):
    shown = root.get(sso.tenant.idp_path(sso.provider["id"]))
    assert CLIENT_SECRET not in shown.text and '"client_secret"' not in shown.text
    view = expect(shown, 200)
    assert view["client_secret_set"] is True and view["issuer"] == sso.idp.issuer and view["client_id"] == CLIENT_ID
    assert view["groups_claim"] == "groups" and view["tenant"] == sso.name
    expect(root.post(sso.tenant.idp_path(), provider_body(sso.idp)), 409, "AlreadyExists")
    expect(root.post(sso.tenant.idp_path(), provider_body(sso.idp, "bad-role", mappings=[
        {"group": "x", "role": "owner"}])), 400, "InvalidRequest")
    public = requests.get(f"{srv.console_endpoint}/api/v1/auth/providers", params={"tenant": sso.name}, timeout=30)
    assert CLIENT_SECRET not in public.text
    providers = expect(public, 200)["providers"]
    assert [{k: p.get(k) for k in ("name", "type", "start_url")} for p in providers] == [
        {"name": PROVIDER, "type": "oidc", "start_url": f"/api/v1/auth/oidc/{sso.name}/{PROVIDER}/start"}], providers


def test_start_redirects_to_the_provider_with_pkce_state_and_nonce(srv, sso):
    seen = []
    for _ in range(2):
        answer = requests.get(sso.start_url, allow_redirects=False, timeout=30)
        assert answer.status_code == 302, answer.text
        location = answer.headers["Location"]
        assert location.startswith(sso.idp.discovery()["authorization_endpoint"] + "?"), location
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID, query
        assert query["redirect_uri"] == sso.callback, query
        assert query["code_challenge_method"] == "S256" and re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"])
        assert len(query["state"]) >= 16 and len(query["nonce"]) >= 16, query
        assert {"openid", "groups"} <= set(query["scope"].split()), query
        seen.append((query["state"], query["nonce"], query["code_challenge"]))
    assert len({part for parts in seen for part in parts}) == 6, "state, nonce and challenge are fresh each time"


# --------------------------------------------------------------------------- console sign-in


def test_console_sign_in_maps_claims_to_roles(srv, root, sso):
    t = sso.name
    expected = {"alice": "tenant-admin", "bob": "read-only", "carol": "user"}  # carol: by e-mail domain
    for username, role in expected.items():
        http, answer = sso.console_sign_in(username)
        landed_csrf(answer)
        cookies = [c for c in answer.raw.headers.getlist("Set-Cookie") if c.startswith("maxiofs_session=")]
        assert len(cookies) == 1 and re.search(r";\s*HttpOnly", cookies[0], re.I), answer.headers
        session = session_of(srv, http, answer)
        assert who(session) == (t, username, role), session
        assert session["user"]["source"] == f"oidc:{PROVIDER}", session
        # The cookie session works like any other (with its CSRF token).
        users = http.get(f"{srv.console_endpoint}/api/v1/tenants/{t}/users", timeout=30,
                         headers={"X-CSRF-Token": session["csrf_token"]})
        expect(users, 200 if role == "tenant-admin" else 403)
    provisioned = {u["name"]: u["role"] for u in expect(root.get(f"/tenants/{t}/users"), 200)["users"]}
    for username, role in expected.items():
        assert provisioned[username] == role, provisioned

    # dave's groups and e-mail domain map to nothing: back to the console with the reason.
    http, answer = sso.console_sign_in("dave")
    assert re.search(r"group|role|mapped", login_error(answer), re.I), answer.headers["Location"]
    assert not http.cookies.get("maxiofs_session"), http.cookies

    audit_entries(root, "login", f"{t}/alice", outcome="success")
    audit_entries(root, "login", (f"{t}/dave", "dave"), outcome=FAILED, detail=r"group|role|mapped")


def test_the_sso_session_cookie_is_httponly_and_samesite_strict(sso):
    """The callback's cookie is the console's usual one: HttpOnly and SameSite=Strict. The
    navigation back from the provider does not carry it, but the console's own requests do (the
    page then asks GET /auth/session), so no other site can ever send it."""
    _, answer = sso.console_sign_in("bob")
    cookies = [c for c in answer.raw.headers.getlist("Set-Cookie") if c.startswith("maxiofs_session=")]
    assert len(cookies) == 1, answer.headers
    assert re.search(r";\s*HttpOnly", cookies[0], re.I), cookies
    assert re.search(r";\s*SameSite=Strict", cookies[0], re.I), cookies


def test_the_same_provider_maps_to_the_tenant_it_is_configured_in(srv, root, sso):
    other = make_tenant(srv, root, "oidc-b")
    expect(root.post(other.idp_path(), provider_body(sso.idp, "partner-sso", mappings=[
        {"group": "s3-admins", "role": "read-only"}])), 201)
    http = requests.Session()
    start = f"{srv.console_endpoint}/api/v1/auth/oidc/{other.name}/partner-sso/start"
    back = sign_in_through(http, start, "alice", sso.idp.users["alice"]["password"], sso.callback)
    answer = http.get(back, allow_redirects=False, timeout=60)
    session = session_of(srv, http, answer)
    assert who(session) == (other.name, "alice", "read-only"), session
    assert session["user"]["source"] == "oidc:partner-sso", session
    # That session is the other tenant's alice: nothing of the first tenant's.
    csrf = {"X-CSRF-Token": session["csrf_token"]}
    expect(http.get(f"{srv.console_endpoint}/api/v1/tenants/{sso.name}/users", headers=csrf, timeout=30), 403)
    names = {u["name"]: u["role"] for u in expect(root.get(f"/tenants/{other.name}/users"), 200)["users"]}
    assert names.get("alice") == "read-only", names


def test_a_state_is_good_once_and_forged_ones_are_refused(srv, sso):
    http, back = sso.through_provider("bob")
    first = http.get(back, allow_redirects=False, timeout=60)
    landed_csrf(first)
    # The same code and state again (a replay), from another browser or the same one.
    for client in (requests.Session(), http):
        login_error(client.get(back, allow_redirects=False, timeout=60))
    query = parse_qs(urlsplit(back).query)
    forged = f"{sso.callback}?code={query['code'][0]}&state=forged-{suffix()}"
    login_error(requests.get(forged, allow_redirects=False, timeout=60))
    login_error(requests.get(sso.callback, allow_redirects=False, timeout=60))
    # The provider's own error (the user refused, or anything else) comes back as an error too.
    state = parse_qs(urlsplit(requests.get(sso.start_url, allow_redirects=False, timeout=30)
                              .headers["Location"]).query)["state"][0]
    login_error(requests.get(f"{sso.callback}?error=access_denied&state={state}", allow_redirects=False, timeout=60))


def test_console_sign_in_through_the_providers_login_page_in_chromium(srv, sso, consoles):  # noqa: F811
    console = consoles(srv, "oidc-alice")
    console.goto("#/login")
    console.testid("sso-tenant").fill(sso.name)
    console.testid("sso-continue").click()
    button = console.testid(f"sso-provider-{PROVIDER}")
    button.wait_for()
    assert button.inner_text().strip() == f"Sign in with {PROVIDER}"
    button.click()
    # The provider's login page (another origin): the user types its password there.
    console.page.wait_for_url(re.compile(re.escape(sso.idp.issuer) + r"/interaction/"))
    console.testid("idp-username").fill("alice")
    console.testid("idp-password").fill(sso.idp.users["alice"]["password"])
    console.testid("idp-submit").click()
    console.testid("who").wait_for()
    assert console.page.url.startswith(srv.console_endpoint + "/"), console.page.url
    text = console.testid("who").inner_text()
    assert f"{sso.name}/alice" in text and "tenant-admin" in text, text
    assert console.testid("who-source").inner_text().strip() == f"oidc:{PROVIDER}"
    console.testid("nav-users").wait_for()
    console.goto("#/buckets")
    console.testid(f"bucket-link-{sso.bucket}").wait_for()
    # The provider's own pages are not the console's business; requests a navigation cut short
    # (leaving for the provider) are not failures.
    problems = [p for p in console.problems
                if (srv.console_endpoint in p or not p.startswith("HTTP")) and "ERR_ABORTED" not in p]
    assert problems == [], console.problems

    # A user whose claims map to nothing comes back to the login page with the reason in words.
    refused = consoles(srv, "oidc-dave")
    refused.goto("#/login")
    refused.testid("sso-tenant").fill(sso.name)
    refused.testid("sso-continue").click()
    refused.testid(f"sso-provider-{PROVIDER}").click()
    refused.page.wait_for_url(re.compile(re.escape(sso.idp.issuer) + r"/interaction/"))
    refused.testid("idp-username").fill("dave")
    refused.testid("idp-password").fill(sso.idp.users["dave"]["password"])
    refused.testid("idp-submit").click()
    refused.testid("login-form").wait_for()
    pw_expect(refused.testid("login-error")).to_have_text(re.compile(r"group|role|mapped", re.I))
    assert refused.testid("who").count() == 0


# --------------------------------------------------------------------------- STS


def test_assume_role_with_web_identity_gives_credentials_that_work_with_boto3(srv, root, sso, alice_role):
    token = sso.idp.id_token("alice")
    answer = assume(srv, alice_role, token, session="alice-laptop", DurationSeconds=900)
    creds = answer["Credentials"]
    assert creds["AccessKeyId"] and creds["SecretAccessKey"] and creds["SessionToken"], answer
    assert answer["SubjectFromWebIdentityToken"] == "alice", answer
    assert answer["Audience"] == CLIENT_ID, answer
    assert sso.idp.issuer_host in answer["Provider"], answer
    account = sso.tenant.account_id
    expected_arn = f"arn:aws:sts::{account}:assumed-role/{alice_role['RoleName']}/alice-laptop"
    assert answer["AssumedRoleUser"]["Arn"] == expected_arn, answer

    temp = {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"],
            "SessionToken": creds["SessionToken"]}
    s3 = with_creds(srv, temp)
    s3.put_object(Bucket=sso.bucket, Key="from-alice.txt", Body=b"web identity")
    assert s3.get_object(Bucket=sso.bucket, Key="from-alice.txt")["Body"].read() == b"web identity"
    assert "readme.txt" in [o["Key"] for o in s3.list_objects_v2(Bucket=sso.bucket)["Contents"]]
    elsewhere = unique_bucket_name("oidc-other")
    sso.tenant.s3.create_bucket(Bucket=elsewhere)
    expect_client_error(s3.put_object, Bucket=elsewhere, Key="x", Body=b"x", code="AccessDenied", status=403)
    expect_client_error(s3.delete_object, Bucket=sso.bucket, Key="readme.txt", code="AccessDenied", status=403)
    expect_client_error(s3.create_bucket, Bucket=unique_bucket_name("oidc-new"), code="AccessDenied", status=403)
    identity = with_creds(srv, temp, "sts").get_caller_identity()
    assert identity["Arn"] == expected_arn and identity["Account"] == account, identity

    # The trust policy decides: bob's token (another sub) and a role trusting another issuer.
    expect_client_error(assume, srv, alice_role, sso.idp.id_token("bob"), code="AccessDenied", status=403)
    stranger = sso.role("web-other-issuer", sso.trust("alice", issuer="http://127.0.0.1:1"), sso.bucket)
    expect_client_error(assume, srv, stranger, token, code="AccessDenied", status=403)
    audit_entries(root, WEB_ACTION, alice_role["RoleName"], outcome="success")


def test_refused_tokens(srv, root, sso, alice_role):
    idp = sso.idp
    now = int(time.time())
    # The control: a token crafted like the bad ones below, but valid, is accepted.
    good = idp.sign({"sub": "alice", "aud": CLIENT_ID})
    assert assume(srv, alice_role, good)["SubjectFromWebIdentityToken"] == "alice"

    invalid = {
        "another audience": idp.id_token("alice", client_id=OTHER_CLIENT_ID),
        "a key the provider never published": idp.sign({"sub": "alice", "aud": CLIENT_ID}, "foreign"),
        "another key under the provider's kid": idp.sign({"sub": "alice", "aud": CLIENT_ID}, "foreign-same-kid"),
        "alg none": idp.sign({"sub": "alice", "aud": CLIENT_ID}, "none"),
        "HS256 keyed with the public key (PEM)": idp.sign({"sub": "alice", "aud": CLIENT_ID}, "hs256-pem"),
        "HS256 keyed with the public key (JWK)": idp.sign({"sub": "alice", "aud": CLIENT_ID}, "hs256-jwk"),
        "an unknown issuer": idp.sign({"sub": "alice", "aud": CLIENT_ID, "iss": "http://127.0.0.1:1"}),
        "not a JWT": "not.a.jwt",
    }
    # A real token of bob's with alice's name put in: the signature no longer matches.
    head, payload, signature = idp.id_token("bob").split(".")
    claims = jwt_parts(f"{head}.{payload}.{signature}")[1]
    claims["sub"] = "alice"
    invalid["a payload changed after signing"] = f"{head}.{b64url(json.dumps(claims).encode())}.{signature}"
    for why, token in invalid.items():
        try:
            expect_client_error(assume, srv, alice_role, token, code="InvalidIdentityToken", status=400)
        except AssertionError as exc:
            raise AssertionError(f"{why}: {exc}") from exc
    expired = idp.sign({"sub": "alice", "aud": CLIENT_ID, "iat": now - 7200, "exp": now - 3600})
    expect_client_error(assume, srv, alice_role, expired, code="ExpiredTokenException", status=400)
    audit_entries(root, WEB_ACTION, (alice_role["RoleName"], idp.issuer_host, PROVIDER), outcome=FAILED,
                  detail=r"audience")


def test_the_providers_key_rotation_is_followed(srv, sso, alice_role):
    idp = sso.idp
    before = idp.id_token("alice")
    assert assume(srv, alice_role, before)["SubjectFromWebIdentityToken"] == "alice"
    new_kid = idp.rotate()
    after = idp.id_token("alice")
    assert jwt_parts(after)[0]["kid"] == new_kid != jwt_parts(before)[0]["kid"]
    assert new_kid in [k["kid"] for k in idp.jwks()["keys"]]

    def accepted() -> bool:
        try:
            assume(srv, alice_role, after)
            return True
        except Exception as exc:  # noqa: BLE001 - InvalidIdentityToken until the key set is refetched
            if "InvalidIdentityToken" not in str(exc):
                raise
            return False

    # The server refetches the key set for an unknown kid (rate-limited: allow it some seconds).
    wait_for(accepted, timeout=30, interval=1, what="a token signed with the rotated key to be accepted")
    # The old key is still published: tokens it signed stay good until they expire.
    assert assume(srv, alice_role, before)["SubjectFromWebIdentityToken"] == "alice"


# --------------------------------------------------------------------------- failures (last: it stops the provider)


def test_with_the_provider_stopped_local_logins_and_s3_go_on(srv, root, sso):
    idp = sso.idp
    # A sign-in is under way: the user signed in at the provider, the redirect back is pending.
    http, back = sso.through_provider("alice")
    idp.stop()
    try:
        started = time.monotonic()
        message = login_error(http.get(back, allow_redirects=False, timeout=60))
        assert time.monotonic() - started < 10, "the callback waited too long for the provider"
        assert message, "no reason given"
        # Local logins and S3 traffic are not affected.
        expect(login(srv, sso.tenant.admin_login, PASSWORD), 200)
        expect(login(srv, srv.access_key, srv.secret_key), 200)
        s3 = sso.tenant.s3
        s3.put_object(Bucket=sso.bucket, Key="while-down.txt", Body=b"still here")
        assert s3.get_object(Bucket=sso.bucket, Key="while-down.txt")["Body"].read() == b"still here"
        srv.client().list_buckets()
        audit_entries(root, "login", (sso.name, PROVIDER), outcome=FAILED, detail=r"unavailable")
    finally:
        idp.start()
    # Back: a new sign-in works.
    http, answer = sso.console_sign_in("alice")
    assert who(session_of(srv, http, answer)) == (sso.name, "alice", "tenant-admin")


# --------------------------------------------------------------------------- review fixes


def test_the_callback_needs_the_browser_that_started_the_sign_in(srv, root, sso):
    """Login CSRF: a callback URL (code and state) fetched by another browser, which lacks the
    start's sign-in cookie, signs nobody in; the attempt is audited."""
    _, back = sso.through_provider("bob")
    victim = requests.Session()
    answer = victim.get(back, allow_redirects=False, timeout=60)
    assert "another browser" in login_error(answer)
    assert not [c for c in answer.raw.headers.getlist("Set-Cookie") if c.startswith("maxiofs_session=")]
    audit_entries(root, "login", "anonymous", outcome=FAILED, detail=r"did not start this sign-in")


def test_totp_still_applies_to_a_single_sign_on(srv, sso):
    """A user who enrolled TOTP comes back from the provider to the console's code step; only a
    right code opens the session."""
    http, answer = sso.console_sign_in("alice")
    session = session_of(srv, http, answer)
    csrf = {"X-CSRF-Token": session["csrf_token"]}
    base = f"{srv.console_endpoint}/api/v1"
    secret = expect(http.post(f"{base}/auth/totp", headers=csrf, timeout=30), 200)["secret"]
    expect(http.post(f"{base}/auth/totp/confirm", json={"code": totp_code(secret, time.time())},
                     headers=csrf, timeout=30), 200)
    try:
        browser, answer = sso.console_sign_in("alice")
        assert answer.status_code == 302, answer.headers
        found = re.fullmatch(r"/#/login\?sso_totp=([A-Za-z0-9]{43})", answer.headers["Location"])
        assert found, answer.headers["Location"]
        assert not [c for c in answer.raw.headers.getlist("Set-Cookie") if c.startswith("maxiofs_session=")]
        pending = found.group(1)
        expect(browser.post(f"{base}/auth/oidc/totp", json={"pending": pending, "totp": "000000"}, timeout=30),
               401, "InvalidTotp")
        code = totp_code(secret, time.time() + 30)
        signed_in = expect(browser.post(f"{base}/auth/oidc/totp", json={"pending": pending, "totp": code},
                                        timeout=30), 200)
        assert who(signed_in) == (sso.name, "alice", "tenant-admin")
        # Good once.
        expect(browser.post(f"{base}/auth/oidc/totp", json={"pending": pending, "totp": code}, timeout=30), 401)
    finally:
        code = totp_code(secret, time.time() + 60)
        http.delete(f"{base}/auth/totp", json={"code": code}, headers=csrf, timeout=30)


def test_managed_session_policies_narrow_web_identity_sessions(srv, sso, alice_role):
    answer = assume(srv, alice_role, sso.idp.id_token("alice"), session="alice-narrow",
                    PolicyArns=[{"arn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}])
    creds = answer["Credentials"]
    s3 = with_creds(srv, {k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")})
    assert s3.get_object(Bucket=sso.bucket, Key="readme.txt")["Body"].read()
    try:
        s3.put_object(Bucket=sso.bucket, Key="narrowed.txt", Body=b"x")
        raise AssertionError("a read-only session policy let a write through")
    except botocore.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] == "AccessDenied"
    try:
        assume(srv, alice_role, sso.idp.id_token("alice"), session="alice-bad-arn",
               PolicyArns=[{"arn": "arn:aws:iam::aws:policy/NoSuchPolicy"}])
        raise AssertionError("an unknown managed policy was accepted")
    except botocore.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] == "ValidationError"
