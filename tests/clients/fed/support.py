"""What test_federation_ldap.py and test_federation_oidc.py share: the admin API as one caller,
tenants with an admin, the audit log, STS answers and clients with temporary credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import struct
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import boto3
import requests
from botocore import UNSIGNED
from requests.adapters import HTTPAdapter
from botocore.config import Config

from helpers import REGION, make_client, unique_bucket_name

PASSWORD = "Correct-Horse-Battery-9"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
STS_NS = {"sts": "https://sts.amazonaws.com/doc/2011-06-15/"}


def own_server(name: str):
    """A test module's own server (a generator for a module fixture): started, and at the end
    stopped with SIGTERM, which it must survive with exit status 0, and its data removed."""
    from conftest import MaxioServer

    server = MaxioServer(name)
    server.start()
    yield server
    rc = server.terminate(timeout=60)
    assert rc == 0, f"server did not exit 0 on SIGTERM (rc={rc}):\n{server.stderr_tail()}"
    server.cleanup_data()


def suffix() -> str:
    return uuid.uuid4().hex[:6]


class Api:
    """The admin API as one caller (a bearer token, or none)."""

    def __init__(self, srv, token: str | None = None):
        self.srv = srv
        self.base = f"{srv.console_endpoint}/api/v1"
        self.token = token
        self.http = requests.Session()

    def call(self, method: str, path: str, body=None, *, params=None, headers=None) -> requests.Response:
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        return self.http.request(method, self.base + path, data=data, params=params, headers=sent, timeout=60)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def expect(response: requests.Response, status: int, code: str | None = None):
    """Asserts the status (and, for errors, the JSON error shape and code); returns the JSON."""
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{where}: expected {status}, got {response.status_code}: {response.text}"
    if status == 204:
        return None
    assert response.headers.get("content-type", "").startswith("application/json"), (where, response.headers)
    value = response.json()
    if status >= 400:
        assert set(value) == {"error"} and set(value["error"]) == {"code", "message"}, (where, value)
        assert isinstance(value["error"]["message"], str) and value["error"]["message"], (where, value)
        if code is not None:
            assert value["error"]["code"] == code, f"{where}: expected {code}: {value}"
    return value


class _FromAddress(HTTPAdapter):
    """Connections from one local address (any of 127.0.0.0/8 is this host's on Linux)."""

    def __init__(self, source: str):
        self._source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self._source, 0)
        super().init_poolmanager(*args, **kwargs)


_sources = itertools.count(1)


def from_fresh_address() -> requests.Session:
    """A requests session whose connections come from a loopback address of their own
    (127.1.x.y). The server throttles failed logins per source address (20 a minute): the tests
    here fail logins on purpose, and each attempt from its own address keeps one test's
    failures from throttling the next. The per-name lock still applies."""
    n = next(_sources) % 65000 + 1
    http = requests.Session()
    http.mount("http://", _FromAddress(f"127.1.{n // 250}.{n % 250 + 1}"))
    return http


def login(srv, username: str, password: str, totp: str | None = None) -> requests.Response:
    body = {"username": username, "password": password}
    if totp is not None:
        body["totp"] = totp
    with from_fresh_address() as http:
        return http.post(f"{srv.console_endpoint}/api/v1/auth/login", json=body, timeout=60)


def totp_code(secret_b32: str, unix_s: float) -> str:
    """RFC 6238: HMAC-SHA1, 30-second steps, 6 digits."""
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(unix_s) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def session_for(srv, username: str, password: str) -> Api:
    return Api(srv, expect(login(srv, username, password), 200)["token"])


def who(answer: dict) -> tuple:
    """(tenant, name, role) of a login or session answer's user."""
    user = answer["user"]
    return user["tenant"], user["name"], user["role"]


def audit(root: Api, **params) -> list[dict]:
    params.setdefault("limit", 1000)
    return expect(root.get("/audit", params=params), 200)["entries"]


def audit_entries(root: Api, action: str, who_: str | tuple, *, outcome: str | tuple | None = None,
                  detail: str | None = None, timeout: float = 5.0) -> list[dict]:
    """Entries of `action` whose actor, target or detail holds `who_` (or one of them), of that
    outcome (or one of them), with a detail matching the regex `detail`; polls a little, and
    fails if there are none."""
    names = who_ if isinstance(who_, tuple) else (who_,)
    outcomes = outcome if isinstance(outcome, tuple) or outcome is None else (outcome,)

    def matching() -> list[dict]:
        return [
            e for e in audit(root, action=action)
            if any(name in (e.get(field) or "") for name in names for field in ("actor", "target", "detail"))
            and (outcomes is None or e.get("outcome") in outcomes)
            and (detail is None or re.search(detail, e.get("detail") or "", re.I))
        ]

    deadline = time.monotonic() + timeout
    found = matching()
    while not found and time.monotonic() < deadline:
        time.sleep(0.2)
        found = matching()
    assert found, (f"no audit entry {action} for {names} (outcome {outcomes}, detail ~ {detail}); the last entries "
                   f"of that action: {audit(root, action=action)[-10:]}")
    return found


FAILED = ("failure", "denied")


# --------------------------------------------------------------------------- tenants


@dataclass
class TenantEnv:
    name: str
    account_id: str
    admin_login: str
    admin: Api
    key_id: str
    secret: str
    srv: object

    @property
    def s3(self):
        return make_client(self.srv.endpoint, self.key_id, self.secret, "path")

    def client(self, service: str):
        return aws_client(self.srv, service, self.key_id, self.secret)

    def idp_path(self, provider_id: str = "") -> str:
        return f"/tenants/{self.name}/identity-providers" + (f"/{provider_id}" if provider_id else "")


def make_tenant(srv, root: Api, prefix: str) -> TenantEnv:
    """A new tenant with a local tenant admin `admin` (PASSWORD, an access key)."""
    name = f"{prefix}-{suffix()}"
    tenant = expect(root.post("/tenants", {"name": name}), 201)
    expect(root.post(f"/tenants/{name}/users", {"name": "admin", "role": "tenant-admin", "password": PASSWORD}), 201)
    key = expect(root.post(f"/tenants/{name}/users/admin/keys"), 201)
    return TenantEnv(name, tenant["account_id"], f"{name}/admin", session_for(srv, f"{name}/admin", PASSWORD),
                     key["access_key_id"], key["secret_access_key"], srv)


def bucket_with_readme(tenant: TenantEnv, hint: str) -> str:
    bucket = unique_bucket_name(hint)
    s3 = tenant.s3
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="readme.txt", Body=b"hello from the tenant admin")
    return bucket


# --------------------------------------------------------------------------- STS and clients


def aws_client(srv, service: str, key_id: str, secret: str, token: str | None = None):
    return boto3.session.Session().client(
        service,
        endpoint_url=srv.endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=REGION,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60),
    )


def unsigned_sts(srv):
    """boto3's STS client without credentials (AssumeRoleWithWebIdentity is an unsigned call)."""
    return boto3.session.Session().client(
        "sts", endpoint_url=srv.endpoint, region_name=REGION,
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1, "mode": "standard"},
                      connect_timeout=10, read_timeout=60),
    )


def sts_post(srv, **form) -> requests.Response:
    """An unsigned, form-encoded STS query POST to the S3 port (as AWS and MinIO take it)."""
    form.setdefault("Version", "2011-06-15")
    with from_fresh_address() as http:
        return http.post(srv.endpoint + "/", data=form, timeout=60)


def assume_role_with_ldap(srv, username: str, password: str, **extra) -> requests.Response:
    return sts_post(srv, Action="AssumeRoleWithLDAPIdentity", LDAPUsername=username, LDAPPassword=password, **extra)


def sts_result(answer: requests.Response, action: str) -> ET.Element:
    assert answer.status_code == 200, f"{action}: {answer.status_code} {answer.text}"
    root = ET.fromstring(answer.content)
    assert root.tag == f"{{{STS_NS['sts']}}}{action}Response", root.tag
    result = root.find(f"sts:{action}Result", STS_NS)
    assert result is not None, answer.text
    return result


def sts_credentials(answer: requests.Response, action: str) -> dict:
    """AccessKeyId, SecretAccessKey, SessionToken, Expiration of an STS answer."""
    creds = sts_result(answer, action).find("sts:Credentials", STS_NS)
    assert creds is not None, answer.text
    out = {child.tag.split("}", 1)[1]: (child.text or "") for child in creds}
    assert set(out) >= {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}, out
    assert out["AccessKeyId"] and out["SecretAccessKey"] and out["SessionToken"], out
    assert RFC3339.fullmatch(out["Expiration"]), out
    return out


def sts_error(answer: requests.Response) -> tuple[int, str]:
    """(HTTP status, error code) of an STS XML error."""
    match = re.search(r"<Code>([^<]*)</Code>", answer.text)
    return answer.status_code, match.group(1) if match else ""


def with_creds(srv, creds: dict, service: str = "s3"):
    return aws_client(srv, service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
