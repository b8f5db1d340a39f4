"""Signing in to the JSON admin API on the console port: root and user logins, the per-user
lockout and its audit trail (JSON and CSV), TOTP with backup codes, forged and revoked tokens,
cookie sessions with their CSRF header, and the per-address login throttle.

Failed logins also count against the address (127.0.0.1): more than 20 in a minute throttle it.
The tests before the last stay well below that; the throttle test runs last, on its own server.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import re
import struct
import time
import uuid

import pytest
import requests

from conftest import MaxioServer

PASSWORD = "Correct-Horse-Battery-9"
AUDIT_HEADER = ["id", "time", "actor", "source", "request_id", "action", "target", "outcome", "detail"]


# --------------------------------------------------------------------------- helpers


def suffix() -> str:
    return uuid.uuid4().hex[:6]


def api_url(srv: MaxioServer, path: str) -> str:
    return f"{srv.console_endpoint}/api/v1{path}"


def call(srv, method: str, path: str, token: str | None = None, body=None, **kw) -> requests.Response:
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, api_url(srv, path), json=body, headers=headers, timeout=30, **kw)


def expect(response: requests.Response, status: int, code: str | None = None):
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{where}: expected {status}, got {response.status_code}: {response.text}"
    if status == 204:
        return None
    value = response.json()
    if status >= 400:
        assert set(value) == {"error"} and set(value["error"]) == {"code", "message"}, (where, value)
        if code is not None:
            assert value["error"]["code"] == code, f"{where}: expected {code}: {value}"
    return value


def login(srv, username: str, password: str, totp: str | None = None, session=None) -> requests.Response:
    body = {"username": username, "password": password}
    if totp is not None:
        body["totp"] = totp
    return (session or requests).post(api_url(srv, "/auth/login"), json=body, timeout=30)


def totp_code(secret_b32: str, unix_s: float) -> str:
    """RFC 6238: HMAC-SHA1, 30-second steps, 6 digits."""
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(unix_s) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def test_totp_code_matches_rfc6238_vectors():
    # RFC 6238 appendix B, SHA1 seed "12345678901234567890" (8-digit values; ours keep the last 6).
    secret = base64.b32encode(b"12345678901234567890").decode().rstrip("=")
    assert totp_code(secret, 59) == "287082"
    assert totp_code(secret, 1111111109) == "081804"
    assert totp_code(secret, 2000000000) == "279037"


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def start_server(name: str) -> MaxioServer:
    server = MaxioServer(f"{name}-{suffix()}")
    return server.start()


def stop_server(server: MaxioServer) -> None:
    rc = server.terminate(timeout=60)
    assert rc == 0, f"server did not exit 0 on SIGTERM (rc={rc}):\n{server.stderr_tail()}"
    server.cleanup_data()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def srv():
    server = start_server("admin-auth")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def root_token(srv) -> str:
    return expect(login(srv, srv.access_key, srv.secret_key), 200)["token"]


@pytest.fixture(scope="module")
def tenant(srv, root_token) -> str:
    name = f"auth-{suffix()}"
    expect(call(srv, "POST", "/tenants", root_token, {"name": name}), 201)
    return name


@pytest.fixture
def make_user(srv, root_token, tenant):
    """A fresh user of the module's tenant with PASSWORD; returns its login name."""

    def make(prefix: str, role: str = "user") -> str:
        name = f"{prefix}-{suffix()}"
        body = {"name": name, "role": role, "password": PASSWORD}
        expect(call(srv, "POST", f"/tenants/{tenant}/users", root_token, body), 201)
        return f"{tenant}/{name}"

    return make


def audit(srv, token: str, **params) -> list[dict]:
    return expect(call(srv, "GET", "/audit", token, params=params), 200)["entries"]


# --------------------------------------------------------------------------- logins


def test_root_and_user_login(srv, root_token, make_user):
    answer = expect(login(srv, srv.access_key, srv.secret_key), 200)
    assert answer["user"] == {"tenant": "default", "name": "root", "role": "system-admin", "source": "local"}
    assert re.fullmatch(r"[0-9a-f]{64}", answer["csrf_token"]), answer
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", answer["expires_at"]), answer
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}", answer["token"]), answer
    session = expect(call(srv, "GET", "/auth/session", answer["token"]), 200)
    assert session["user"] == answer["user"]
    assert session["csrf_token"] == answer["csrf_token"]
    assert session["expires_at"] == answer["expires_at"]
    assert session["totp_enabled"] is False
    # The root has no TOTP to enrol.
    expect(call(srv, "POST", "/auth/totp", answer["token"]), 400)

    expect(login(srv, srv.access_key, "wrong-secret"), 401, "InvalidCredentials")

    user = make_user("plain")
    tenant, name = user.split("/")
    answer = expect(login(srv, user, PASSWORD), 200)
    assert answer["user"] == {"tenant": tenant, "name": name, "role": "user", "source": "local"}
    # A user without a password, an unknown tenant: no way in, and the same answer.
    expect(call(srv, "POST", f"/tenants/{tenant}/users", root_token, {"name": "nopass", "role": "user"}), 201)
    expect(login(srv, f"{tenant}/nopass", PASSWORD), 401, "InvalidCredentials")
    expect(login(srv, f"nosuch-{suffix()}/{name}", PASSWORD), 401, "InvalidCredentials")


def test_lockout_after_five_failures_and_audit(srv, root_token, make_user):
    user = make_user("locky")
    bystander = make_user("bystander")
    for attempt in range(1, 6):
        expect(login(srv, user, f"wrong-password-{attempt}"), 401, "InvalidCredentials")
    # Locked now: the right password is refused too, again and again.
    for _ in range(2):
        expect(login(srv, user, PASSWORD), 403, "AccountLocked")
    # Only that account: another user of the tenant signs in.
    expect(login(srv, bystander, PASSWORD), 200)

    lockouts = [e for e in audit(srv, root_token, action="lockout") if e["target"] == user]
    assert len(lockouts) == 1, lockouts
    lock = lockouts[0]
    assert lock["actor"] == user and lock["outcome"] == "locked" and lock["source"] == "127.0.0.1", lock
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lock["detail"]), lock
    # The five failures are logged; attempts on the locked name are not, one by one (the
    # lockout entry says it is locked, and hammering must not fill the log).
    attempts = audit(srv, root_token, action="login", actor=user)
    outcomes = sorted(e["outcome"] for e in attempts)
    assert outcomes == ["failure"] * 5, attempts
    for entry in attempts:
        assert entry["target"] == user and entry["source"] == "127.0.0.1"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["time"]), entry
        assert entry["request_id"], entry
    assert len({e["id"] for e in attempts}) == 5
    # No password ever reaches the log.
    raw = call(srv, "GET", "/audit", root_token, params={"actor": user}).text
    assert "wrong-password" not in raw and PASSWORD not in raw

    response = call(srv, "GET", "/audit", root_token, params={"action": "lockout", "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv"), response.headers
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == AUDIT_HEADER, rows[:2]
    by_target = [dict(zip(AUDIT_HEADER, row)) for row in rows[1:] if len(row) == len(AUDIT_HEADER)]
    assert len(by_target) == len(rows) - 1, rows
    mine = [row for row in by_target if row["target"] == user]
    assert len(mine) == 1 and mine[0]["action"] == "lockout" and mine[0]["outcome"] == "locked", mine
    assert mine[0]["id"] == str(lock["id"]) and mine[0]["time"] == lock["time"]
    rows = list(csv.reader(io.StringIO(call(srv, "GET", "/audit", root_token,
                                            params={"actor": user, "action": "login", "format": "csv"}).text)))
    assert rows[0] == AUDIT_HEADER and len(rows) == 1 + 5, rows

    # Filters and limits are checked.
    assert len(audit(srv, root_token, actor=user, limit=3)) == 3
    expect(call(srv, "GET", "/audit", root_token, params={"limit": "0"}), 400)
    expect(call(srv, "GET", "/audit", root_token, params={"from": "yesterday"}), 400)
    assert audit(srv, root_token, actor=user, **{"from": "2999-01-01T00:00:00Z"}) == []

    # A tenant admin sees the entries that concern its tenant (its people's and what was done
    # to it, by the root too), never another tenant's.
    admin = make_user("auditor", role="tenant-admin")
    tenant = user.split("/")[0]
    token = expect(login(srv, admin, PASSWORD), 200)["token"]
    seen = audit(srv, token, limit=10000)
    assert any(e["actor"] == user and e["action"] == "lockout" for e in seen), seen
    other_tenant = f"other-{suffix()}"
    expect(call(srv, "POST", "/tenants", root_token, {"name": other_tenant}), 201)
    expect(call(srv, "POST", f"/tenants/{other_tenant}/users", root_token,
                {"name": "outsider", "role": "user", "password": PASSWORD}), 201)
    other = f"{other_tenant}/outsider"
    expect(login(srv, other, "wrong-password"), 401, "InvalidCredentials")
    everything = audit(srv, root_token, limit=10000)
    assert any(e["target"] == other for e in everything)
    seen = audit(srv, token, limit=10000)
    assert not any(other_tenant in e["target"] or other_tenant in e["actor"] for e in seen), seen


def test_lockout_ignores_user_name_case(srv, make_user):
    """User names are case-insensitive at login (IAM's rule): `t/CASEY` signs in as `t/casey`.
    The failure count must follow the account, not the spelling, or five guesses per spelling
    (2^n spellings) walk around the lock."""
    user = make_user("casey")
    tenant, name = user.split("/")
    rest = name[len("casey"):]
    spellings = [head + rest for head in ("CASEY", "Casey", "cAsey", "caSey", "casEY")]
    assert len({f"{tenant}/{s}" for s in spellings}) == 5
    for spelling in spellings:
        expect(login(srv, f"{tenant}/{spelling}", "wrong-password"), 401, "InvalidCredentials")
    expect(login(srv, user, PASSWORD), 403, "AccountLocked")
    expect(login(srv, f"{tenant}/{name.upper()}", PASSWORD), 403, "AccountLocked")


def test_totp_enrolment_codes_and_backup_codes(srv, root_token, make_user):
    user = make_user("otp")
    tenant, name = user.split("/")
    token = expect(login(srv, user, PASSWORD), 200)["token"]
    enrol = expect(call(srv, "POST", "/auth/totp", token), 200)
    secret = enrol["secret"]
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), enrol
    assert enrol["otpauth_url"].startswith("otpauth://totp/"), enrol
    assert f"secret={secret}" in enrol["otpauth_url"], enrol
    # Not on until confirmed: a wrong code is refused and the login still needs no code.
    wrong = f"{(int(totp_code(secret, time.time())) + 1) % 1_000_000:06d}"
    expect(call(srv, "POST", "/auth/totp/confirm", token, {"code": wrong}), 400, "InvalidTotp")
    expect(login(srv, user, PASSWORD), 200)

    confirmed = expect(call(srv, "POST", "/auth/totp/confirm", token, {"code": totp_code(secret, time.time())}), 200)
    backup = confirmed["backup_codes"]
    assert len(backup) == 10 and len(set(backup)) == 10, backup
    assert all(re.fullmatch(r"[0-9a-z]{4}-[0-9a-z]{4}", c) for c in backup), backup
    assert expect(call(srv, "GET", "/auth/session", token), 200)["totp_enabled"] is True
    listed = expect(call(srv, "GET", f"/tenants/{tenant}/users/{name}", root_token), 200)
    assert listed["totp_enabled"] is True

    expect(login(srv, user, PASSWORD), 401, "TotpRequired")
    # The code confirmed enrolment is used up; the next step's code (within the ±1 window) is
    # fresh. A right code with a wrong password is still a wrong password.
    code = totp_code(secret, time.time() + 30)
    expect(login(srv, user, "not-the-password", totp=code), 401, "InvalidCredentials")
    answer = expect(login(srv, user, PASSWORD, totp=code), 200)
    assert answer["user"]["name"] == name
    # The same code a second time: refused (replay).
    expect(login(srv, user, PASSWORD, totp=code), 401, "InvalidTotp")

    # A backup code works once, in any case and with or without its dash.
    first = backup[0]
    expect(login(srv, user, PASSWORD, totp=first.upper()), 200)
    expect(login(srv, user, PASSWORD, totp=first), 401, "InvalidTotp")
    expect(login(srv, user, PASSWORD, totp=backup[1].replace("-", "")), 200)
    expect(login(srv, user, PASSWORD, totp=backup[1]), 401, "InvalidTotp")

    # Switching it off needs the second factor itself (a stolen session is not enough), and
    # ends the sessions opened before; then a password is enough again.
    expect(call(srv, "DELETE", "/auth/totp", answer["token"]), 400, "InvalidTotp")
    expect(call(srv, "DELETE", "/auth/totp", answer["token"], {"code": backup[2]}), 204)
    expect(call(srv, "GET", "/auth/session", answer["token"]), 401)
    expect(login(srv, user, PASSWORD), 200)
    events = {e["action"] for e in audit(srv, root_token, actor=user)}
    assert {"totp:Enable", "totp:Disable"} <= events, events


# --------------------------------------------------------------------------- tokens


def test_forged_altered_and_revoked_tokens(srv, root_token, make_user):
    user = make_user("tok")
    token = expect(login(srv, user, PASSWORD), 200)["token"]
    expect(call(srv, "GET", "/auth/session", token), 200)
    payload, signature = token.split(".")

    # One character of the signature changed (in the middle: every bit of it counts).
    i = len(signature) // 2
    flipped = signature[:i] + ("A" if signature[i] != "A" else "B") + signature[i + 1 :]
    forgeries = [f"{payload}.{flipped}"]
    # The payload changed under the old signature: a longer session, then the root's subject.
    claims = json.loads(b64url_decode(payload))
    assert set(claims) >= {"session_id", "subject", "expires_ms"}, claims
    longer = dict(claims, expires_ms=claims["expires_ms"] + 10**9)
    forgeries.append(f"{b64url_encode(json.dumps(longer, separators=(',', ':')).encode())}.{signature}")
    as_root = dict(claims, subject="root")
    forgeries.append(f"{b64url_encode(json.dumps(as_root, separators=(',', ':')).encode())}.{signature}")
    # The signature of a real token stuck on another payload.
    root_payload, root_signature = root_token.split(".")
    forgeries.append(f"{payload}.{root_signature}")
    forgeries.append(f"{root_payload}.{signature}")
    # Garbage.
    forgeries += ["garbage", "a.b", ".", f"{payload}.", f".{signature}", token + "x", "x" * 5000, token[::-1]]
    for forged in forgeries:
        expect(call(srv, "GET", "/auth/session", forged), 401, "Unauthorized")
        expect(call(srv, "GET", "/tenants", forged), 401, "Unauthorized")
    # Not a bearer token at all.
    expect(call(srv, "GET", "/auth/session", headers={"Authorization": f"Basic {token}"}), 401, "Unauthorized")
    expect(call(srv, "GET", "/auth/session", headers={"Authorization": token}), 401, "Unauthorized")

    # Logout revokes this session only.
    other = expect(login(srv, user, PASSWORD), 200)["token"]
    response = call(srv, "POST", "/auth/logout", token)
    expect(response, 204)
    assert "Max-Age=0" in response.headers.get("set-cookie", ""), response.headers
    expect(call(srv, "GET", "/auth/session", token), 401, "Unauthorized")
    expect(call(srv, "POST", "/auth/logout", token), 401, "Unauthorized")
    expect(call(srv, "GET", "/auth/session", other), 200)
    # The root's own token is untouched by all of this.
    expect(call(srv, "GET", "/tenants", root_token), 200)

    # A deleted user's session ends with it.
    tenant, name = user.split("/")
    expect(call(srv, "DELETE", f"/tenants/{tenant}/users/{name}", root_token), 204)
    expect(call(srv, "GET", "/auth/session", other), 401, "Unauthorized")


def test_a_session_does_not_pass_to_a_new_user_of_the_same_name(srv, root_token, make_user):
    """A deleted user's session stops (401). Creating another user under that name later (another
    person, here a tenant admin) must not bring the old session back as the new user."""
    user = make_user("namesake")
    tenant, name = user.split("/")
    old = expect(login(srv, user, PASSWORD), 200)["token"]
    expect(call(srv, "DELETE", f"/tenants/{tenant}/users/{name}", root_token), 204)
    expect(call(srv, "GET", "/auth/session", old), 401, "Unauthorized")
    body = {"name": name, "role": "tenant-admin", "password": "Another-Person-Password-7"}
    expect(call(srv, "POST", f"/tenants/{tenant}/users", root_token, body), 201)
    expect(call(srv, "GET", "/auth/session", old), 401, "Unauthorized")
    expect(call(srv, "GET", f"/tenants/{tenant}/users", old), 401, "Unauthorized")


def test_cookie_session_needs_the_csrf_header(srv, root_token, make_user):
    user = make_user("cookie", role="tenant-admin")
    tenant = user.split("/")[0]
    browser = requests.Session()
    response = login(srv, user, PASSWORD, session=browser)
    answer = expect(response, 200)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"maxiofs_session={answer['token']};"), cookie
    attributes = [part.strip() for part in cookie.split(";")[1:]]
    assert "HttpOnly" in attributes and "SameSite=Strict" in attributes and "Path=/" in attributes, cookie
    assert "Secure" not in attributes, cookie  # plain HTTP here; TLS listeners add it
    assert browser.cookies.get("maxiofs_session") == answer["token"]

    url = api_url(srv, "/auth/session")
    expect(browser.get(url, timeout=30), 403, "CsrfTokenMissing")
    expect(browser.get(url, headers={"X-CSRF-Token": "0" * 64}, timeout=30), 403, "CsrfTokenMissing")
    # The CSRF token of another session does not fit this one.
    other_csrf = expect(login(srv, user, PASSWORD), 200)["csrf_token"]
    assert other_csrf != answer["csrf_token"]
    expect(browser.get(url, headers={"X-CSRF-Token": other_csrf}, timeout=30), 403, "CsrfTokenMissing")
    csrf = {"X-CSRF-Token": answer["csrf_token"]}
    session = expect(browser.get(url, headers=csrf, timeout=30), 200)
    assert session["user"]["name"] == user.split("/")[1] and session["csrf_token"] == answer["csrf_token"]

    # State-changing calls: refused without the header (nothing made), done with it.
    new_user = f"made-{suffix()}"
    users_url = api_url(srv, f"/tenants/{tenant}/users")
    expect(browser.post(users_url, json={"name": new_user, "role": "user"}, timeout=30), 403, "CsrfTokenMissing")
    names = {u["name"] for u in expect(call(srv, "GET", f"/tenants/{tenant}/users", root_token), 200)["users"]}
    assert new_user not in names
    expect(browser.post(users_url, json={"name": new_user, "role": "user"}, headers=csrf, timeout=30), 201)
    names = {u["name"] for u in expect(call(srv, "GET", f"/tenants/{tenant}/users", root_token), 200)["users"]}
    assert new_user in names

    # Logging out through the cookie clears it and ends the session.
    expect(browser.post(api_url(srv, "/auth/logout"), headers=csrf, timeout=30), 204)
    assert browser.cookies.get("maxiofs_session") is None
    expect(call(srv, "GET", "/auth/session", answer["token"]), 401, "Unauthorized")


# --------------------------------------------------------------------------- source throttle (last)


@pytest.fixture(scope="module")
def throttled_srv():
    """Its own server: the throttle blocks 127.0.0.1 for a minute."""
    server = start_server("admin-throttle")
    yield server
    stop_server(server)


def test_source_throttle_after_twenty_failures(throttled_srv):
    srv = throttled_srv
    token = expect(login(srv, srv.access_key, srv.secret_key), 200)["token"]
    # Twenty failures, each under another name so that no account lockout answers first.
    for i in range(20):
        expect(login(srv, f"nobody-{i}-{suffix()}", "wrong-password"), 401, "InvalidCredentials")
    # The 21st attempt from the address is refused before the password is even looked at.
    expect(login(srv, f"nobody-x-{suffix()}", "wrong-password"), 429, "TooManyRequests")
    expect(login(srv, srv.access_key, srv.secret_key), 429, "TooManyRequests")
    # Sessions already open go on working; the log has the failures, and not the refused
    # attempts one by one (a client hammering the port must not fill the audit log).
    expect(call(srv, "GET", "/auth/session", token), 200)
    entries = audit(srv, token, action="login", limit=1000)
    outcomes = [e["outcome"] for e in entries]
    assert outcomes.count("failure") == 20, outcomes
    assert outcomes.count("throttled") == 0, outcomes
    # S3 itself is not throttled by failed console logins.
    srv.client().list_buckets()
