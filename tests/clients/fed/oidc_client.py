"""A real OpenID Connect provider for the federation tests (issue 20), and a browserless client.

`OidcProvider` runs tests/clients/fed/oidc/provider.mjs (the `oidc-provider` npm package,
installed by scripts/test-all.sh with `npm ci` in tests/clients/fed/oidc) with `node` on a free
loopback port: issuer http://127.0.0.1:PORT, the clients and users given here, PKCE required,
its own login page (username + password checked against USERS), test-only hooks to rotate the
signing key and to sign crafted tokens (see provider.mjs).

`authorization_code_flow()` gets tokens the way a relying party does, without a browser: the
authorization request (PKCE S256, state, nonce), the provider's login form, the code captured at
the redirect_uri (never followed), the token endpoint. `sign_in_through()` drives the same login
for a flow someone else started (maxiofs's /api/v1/auth/oidc/.../start) and answers the redirect
back to that relying party.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest

from fed import Daemon
import requests

NODE_DIR = Path(__file__).resolve().parent / "oidc"
NODE = shutil.which("node") or "/usr/bin/node"

CLIENT_ID = "maxiofs-console"
CLIENT_SECRET = "maxiofs-client-Secret-1"
OTHER_CLIENT_ID = "other-app"
OTHER_CLIENT_SECRET = "other-app-Secret-2"
# Registered for the browserless client: the code is read from the redirect, never fetched.
TEST_REDIRECT_URI = "http://127.0.0.1:9/oidc-test-callback"
SCOPES = "openid profile email groups"

USERS = {
    "alice": {"password": "alice-OIDC-1",
              "claims": {"email": "alice@example.com", "email_verified": True, "groups": ["s3-admins", "staff"]}},
    "bob": {"password": "bob-OIDC-2",
            "claims": {"email": "bob@example.com", "email_verified": True, "groups": ["s3-readers"]}},
    "carol": {"password": "carol-OIDC-3",
              "claims": {"email": "carol@partner.example", "email_verified": True, "groups": []}},
    "dave": {"password": "dave-OIDC-4",
             "claims": {"email": "dave@elsewhere.example", "email_verified": True, "groups": ["nobody-maps-this"]}},
}


def available() -> bool:
    return os.path.exists(NODE) and (NODE_DIR / "node_modules" / "oidc-provider").is_dir()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def jwt_parts(token: str) -> tuple[dict, dict]:
    """(header, payload) of a JWT, unverified."""
    head, payload, _ = token.split(".")

    def decode(part: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    return decode(head), decode(payload)


class OidcProvider(Daemon):
    """One `node provider.mjs` process; stop()/start() keep the port, the keys and the clients."""

    def __init__(self, clients: list[dict] | None = None, users: dict | None = None, id_token_ttl: int = 600,
                 workdir: Path | None = None):
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="maxiofs-oidc-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.users = users or USERS
        self.clients = clients if clients is not None else default_clients()
        self.id_token_ttl = id_token_ttl
        self.proc: subprocess.Popen | None = None
        self.log_path = self.dir / "provider.log"
        self.config_path = self.dir / "config.json"
        self._write_config()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer_host(self) -> str:
        """The issuer without its scheme, as trust policy condition keys name it (127.0.0.1:PORT)."""
        return self.issuer.split("://", 1)[1]

    def _write_config(self) -> None:
        self.config_path.write_text(json.dumps({
            "port": self.port,
            "issuer": self.issuer,
            "keys_file": str(self.dir / "jwks.json"),
            "id_token_ttl": self.id_token_ttl,
            "clients": self.clients,
            "users": self.users,
        }, indent=2))

    # -- lifecycle

    def start(self, timeout: float = 20.0) -> "OidcProvider":
        assert not self.running(), "provider already running"
        self._write_config()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([NODE, str(NODE_DIR / "provider.mjs"), str(self.config_path)], cwd=NODE_DIR,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oidc provider exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"oidc provider not ready after {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    # -- test hooks

    def _hook(self, method: str, path: str, body: dict | None = None, **params) -> dict:
        answer = requests.request(method, f"{self.issuer}/__test/{path}", json=body, params=params, timeout=30)
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text}"
        return answer.json()

    def current_kid(self) -> str:
        return self._hook("GET", "health")["kid"]

    def rotate(self, keep_old: bool = True) -> str:
        """A new signing key; the old ones stay published unless keep_old=False. Returns its kid."""
        return self._hook("POST", "rotate", **({} if keep_old else {"keep_old": "0"}))["kid"]

    def sign(self, claims: dict, mode: str = "current", kid: str | None = None) -> str:
        """A crafted token: iss, iat and exp (+600 s) are filled in unless given in claims.

        mode: current | foreign | foreign-same-kid | none | hs256-pem | hs256-jwk (provider.mjs)."""
        body = {"claims": claims, "mode": mode}
        if kid is not None:
            body["kid"] = kid
        return self._hook("POST", "sign", body)["token"]

    def configure(self, *, id_token_ttl: int | None = None, clients: list[dict] | None = None) -> None:
        body = {}
        if id_token_ttl is not None:
            self.id_token_ttl = id_token_ttl
            body["id_token_ttl"] = id_token_ttl
        if clients is not None:
            self.clients = clients
            body["clients"] = clients
        self._write_config()
        if self.running():
            self._hook("POST", "config", body)

    def add_redirect_uri(self, uri: str, client_id: str = CLIENT_ID) -> None:
        clients = [dict(c) for c in self.clients]
        for client in clients:
            if client["client_id"] == client_id and uri not in client["redirect_uris"]:
                client["redirect_uris"] = [*client["redirect_uris"], uri]
        self.configure(clients=clients)

    def jwks(self) -> dict:
        return requests.get(f"{self.issuer}/jwks", timeout=10).json()

    def discovery(self) -> dict:
        return requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10).json()

    # -- tokens

    def tokens(self, username: str, password: str | None = None, client_id: str = CLIENT_ID,
               scope: str = SCOPES) -> dict:
        """The token endpoint's answer (id_token, access_token, ...) for a user, via the code flow."""
        client = next(c for c in self.clients if c["client_id"] == client_id)
        password = self.users[username]["password"] if password is None else password
        return authorization_code_flow(self.issuer, client["client_id"], client["client_secret"], TEST_REDIRECT_URI,
                                       username, password, scope=scope,
                                       auth_method=client.get("token_endpoint_auth_method", "client_secret_basic"))

    def id_token(self, username: str, **kw) -> str:
        return self.tokens(username, **kw)["id_token"]


def default_clients() -> list[dict]:
    return [
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [TEST_REDIRECT_URI],
         "token_endpoint_auth_method": "client_secret_basic"},
        {"client_id": OTHER_CLIENT_ID, "client_secret": OTHER_CLIENT_SECRET, "redirect_uris": [TEST_REDIRECT_URI],
         "token_endpoint_auth_method": "client_secret_basic"},
    ]


# --------------------------------------------------------------------------- the code flow


class OidcFlowError(AssertionError):
    pass


def pkce_pair() -> tuple[str, str]:
    verifier = b64url(secrets.token_bytes(32))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def _follow_until(http: requests.Session, url: str, stop, limit: int = 10) -> requests.Response:
    """GETs url and follows redirects by hand until stop(response) is true; returns that response
    (a redirect whose Location stop() accepted is returned unfollowed)."""
    for _ in range(limit):
        answer = http.get(url, allow_redirects=False, timeout=30)
        if stop(answer):
            return answer
        if answer.status_code not in (301, 302, 303, 307, 308):
            raise OidcFlowError(f"GET {url}: {answer.status_code} {answer.text[:500]}")
        url = urljoin(url, answer.headers["Location"])
    raise OidcFlowError(f"too many redirects from {url}")


def sign_in_through(http: requests.Session, authorize_url: str, username: str, password: str,
                    leave_to: str) -> str:
    """Follows authorize_url to the provider's login page, signs in, and follows the provider's
    redirects until one leads to a URL starting with `leave_to` (the relying party's redirect_uri);
    returns that URL (not fetched)."""

    def leaving(answer: requests.Response) -> bool:
        location = answer.headers.get("Location", "")
        return answer.status_code in (302, 303) and urljoin(answer.url, location).startswith(leave_to)

    def at_login_page(answer: requests.Response) -> bool:
        return leaving(answer) or (answer.status_code == 200 and 'data-testid="idp-form"' in answer.text)

    page = _follow_until(http, authorize_url, at_login_page)
    if not leaving(page):
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        if not action:
            raise OidcFlowError(f"no login form at {page.url}:\n{page.text[:500]}")
        posted = http.post(urljoin(page.url, action.group(1)), data={"username": username, "password": password},
                           allow_redirects=False, timeout=30)
        if posted.status_code == 200:
            error = re.search(r'data-testid="idp-error"[^>]*>([^<]*)<', posted.text)
            raise OidcFlowError(f"login refused by the provider: {error.group(1) if error else posted.text[:300]}")
        if not leaving(posted):
            page = _follow_until(http, urljoin(page.url, posted.headers["Location"]), leaving)
        else:
            page = posted
    return urljoin(page.url, page.headers["Location"])


def authorization_code_flow(issuer: str, client_id: str, client_secret: str, redirect_uri: str, username: str,
                            password: str, *, scope: str = SCOPES, auth_method: str = "client_secret_basic",
                            nonce: str | None = None) -> dict:
    """The authorization code flow with PKCE S256, state and nonce, without a browser; returns the
    token endpoint's JSON answer (id_token, access_token, ...), checking state and nonce."""
    meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    nonce = nonce or secrets.token_urlsafe(16)
    query = urlencode({
        "client_id": client_id, "response_type": "code", "scope": scope, "redirect_uri": redirect_uri,
        "state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256",
    })
    with requests.Session() as http:
        back = sign_in_through(http, f"{meta['authorization_endpoint']}?{query}", username, password, redirect_uri)
    params = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    if "error" in params:
        raise OidcFlowError(f"authorization refused: {params}")
    if params.get("state") != state:
        raise OidcFlowError(f"state mismatch: {params}")
    form = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": redirect_uri,
            "code_verifier": verifier}
    auth = None
    if auth_method == "client_secret_post":
        form.update(client_id=client_id, client_secret=client_secret)
    else:
        auth = (client_id, client_secret)
    answer = requests.post(meta["token_endpoint"], data=form, auth=auth, timeout=30)
    if answer.status_code != 200:
        raise OidcFlowError(f"token endpoint: {answer.status_code} {answer.text}")
    tokens = answer.json()
    _, claims = jwt_parts(tokens["id_token"])
    if claims.get("nonce") != nonce:
        raise OidcFlowError(f"nonce mismatch: {claims}")
    return tokens


# --------------------------------------------------------------------------- fixture


@pytest.fixture(scope="module")
def oidc_provider():
    """A running OidcProvider for the module (default clients and USERS)."""
    if not available():
        if os.environ.get("CI"):
            pytest.fail("CI needs node and tests/clients/fed/oidc/node_modules (scripts/test-all.sh runs npm ci)")
        pytest.skip("no node or no tests/clients/fed/oidc/node_modules (run `npm ci` there)")
    provider = OidcProvider()
    provider.start()
    try:
        yield provider
    finally:
        provider.close()
