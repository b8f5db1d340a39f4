"""Alerts (issue 18): a webhook receiver and a local SMTP server with STARTTLS (aiosmtpd) get the
disk-nearly-full alert once, then its resolution; the state survives a kill -9 (no repeated
notice); a tenant near its quota fires; the settings are tested from the admin API, keep their
secrets sealed (never shown), and are validated; only system admins see them.

The "nearly full" disk is simulated by the threshold: `disk_used_percent_max: 1` makes any real
filesystem nearly full, 100 makes it not.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from admin_api import AdminApi
from conftest import MaxioServer, free_port
import helpers
from helpers import make_ca_and_leaf, unique_bucket_name

SMTP_USER = "alerts"
SMTP_PASSWORD = "smtp-secret-Password-42"
HOOK_TOKEN = "hook-token-abc123"


class Webhook:
    """Records every POST (headers and JSON body)."""

    def __init__(self):
        self.received: list[tuple[dict, dict]] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with hook.lock:
                    hook.received.append((dict(self.headers), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def notices(self, alert: str | None = None) -> list[dict]:
        with self.lock:
            return [body for _, body in self.received if alert is None or body["alert"] == alert]


class Mailbox:
    """aiosmtpd handler: keeps each message's text."""

    def __init__(self):
        self.messages: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"

    def with_subject(self, text: str) -> list[str]:
        return [m for m in self.messages if text in m.split("\n\n", 1)[0]]


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_USER \
        and auth_data.password.decode() == SMTP_PASSWORD
    return AuthResult(success=ok)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    ca, cert, key = make_ca_and_leaf(tmp_path_factory.mktemp("smtp-tls"))
    return ca, cert, key


@pytest.fixture(scope="module")
def smtp(tls_files):
    import ssl

    _, cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                            require_starttls=True, auth_require_tls=True, authenticator=authenticate)
    controller.start()
    yield controller, mailbox
    controller.stop()


def wait_for(predicate, what: str, timeout: float = 30.0):
    helpers.wait_for(predicate, timeout, interval=0.2, what=what)


def settings_body(hook: Webhook, controller, cert_pem: str, **extra) -> dict:
    return {
        "webhooks": [{"url": hook.url, "token": HOOK_TOKEN}],
        "smtp": {"host": "localhost", "port": controller.port, "security": "starttls",
                 "username": SMTP_USER, "password": SMTP_PASSWORD,
                 "from": "maxiofs@example.com", "to": ["ops@example.com"]},
        "ca_pem": cert_pem,
        **extra,
    }


def test_disk_alert_fires_once_resolves_once_and_survives_a_crash(smtp, tls_files):
    controller, mailbox = smtp
    hook = Webhook()
    srv = MaxioServer("alerts", env={"MAXIOFS_ALERT_INTERVAL_S": "1"}).start()
    try:
        admin = AdminApi(srv)
        cert_pem = tls_files[0].read_text()
        stored = admin.call("PUT", "/alerts/settings", expect=200,
                            json=settings_body(hook, controller, cert_pem)).json()
        assert stored["smtp"]["password_set"] is True and "password" not in stored["smtp"]
        assert stored["webhooks"] == [{"url": hook.url, "token_set": True}]
        shown = admin.call("GET", "/alerts/settings", expect=200).text
        assert SMTP_PASSWORD not in shown and HOOK_TOKEN not in shown
        # The secrets are sealed in the catalog, not stored in clear.
        catalog = (srv.data_dir / "catalog.db").read_bytes()
        assert SMTP_PASSWORD.encode() not in catalog and HOOK_TOKEN.encode() not in catalog

        # Testing the settings reaches both channels and says so.
        tested = admin.call("POST", "/alerts/test", expect=200).json()
        assert tested["delivered"] is True, tested
        assert len(tested["deliveries"]) == 2
        wait_for(lambda: hook.notices("test") and mailbox.with_subject("TEST"), "the test notices")
        headers, _ = hook.received[0]
        assert headers.get("Authorization") == f"Bearer {HOOK_TOKEN}"

        admin.call("PUT", "/alerts/settings", expect=200, json={"disk_used_percent_max": 1})
        wait_for(lambda: hook.notices("disk_nearly_full") and mailbox.with_subject("FIRING"),
                 "the disk alert")
        firing = hook.notices("disk_nearly_full")[0]
        assert firing["status"] == "firing" and firing["severity"] == "critical"
        assert firing["subject"] == str(srv.data_dir)
        assert "% used" in firing["summary"]
        listed = admin.call("GET", "/alerts", expect=200).json()["alerts"]
        assert [a["alert"] for a in listed] == ["disk_nearly_full"]

        # Still nearly full over several checks and across a crash: no second notice.
        time.sleep(3)
        srv.kill9()
        srv.restart()
        admin = AdminApi(srv)
        time.sleep(3)
        assert len(hook.notices("disk_nearly_full")) == 1
        assert len(mailbox.with_subject("disk nearly full")) == 1

        admin.call("PUT", "/alerts/settings", expect=200, json={"disk_used_percent_max": 100})
        wait_for(lambda: len(hook.notices("disk_nearly_full")) == 2, "the resolution")
        resolved = hook.notices("disk_nearly_full")[1]
        assert resolved["status"] == "resolved" and resolved["since_ms"] == firing["since_ms"]
        wait_for(lambda: mailbox.with_subject("RESOLVED"), "the resolution e-mail")
        time.sleep(2)
        assert len(hook.notices("disk_nearly_full")) == 2
        assert admin.call("GET", "/alerts", expect=200).json()["alerts"] == []
        assert SMTP_PASSWORD not in srv.stderr_tail(200_000)
    finally:
        srv.terminate()
        hook.server.shutdown()


def test_tenant_near_quota_fires_and_a_wrong_password_is_reported(smtp, tls_files):
    controller, _ = smtp
    hook = Webhook()
    srv = MaxioServer("alerts-quota", env={"MAXIOFS_ALERT_INTERVAL_S": "1"}).start()
    try:
        admin = AdminApi(srv)
        body = settings_body(hook, controller, tls_files[0].read_text())
        body["smtp"]["password"] = "not-the-password"
        admin.call("PUT", "/alerts/settings", expect=200, json=body)
        tested = admin.call("POST", "/alerts/test", expect=200).json()
        assert tested["delivered"] is False
        failed = [d for d in tested["deliveries"] if not d["delivered"]]
        assert len(failed) == 1 and failed[0]["channel"].startswith("email")
        assert "not-the-password" not in json.dumps(tested)

        _, s3, _ = admin.tenant_with_key("nearfull", quota={"storage_bytes": 10_000})
        bucket = unique_bucket_name("nearq")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="big", Body=b"x" * 9_500)
        wait_for(lambda: hook.notices("tenant_near_quota"), "the quota alert")
        notice = hook.notices("tenant_near_quota")[0]
        assert notice["subject"] == "nearfull" and notice["status"] == "firing"
        assert "95%" in notice["summary"]
        s3.delete_object(Bucket=bucket, Key="big")
        wait_for(lambda: len(hook.notices("tenant_near_quota")) == 2, "the quota resolution")
        assert hook.notices("tenant_near_quota")[1]["status"] == "resolved"
    finally:
        srv.terminate()
        hook.server.shutdown()


def test_settings_are_validated_and_for_system_admins_only(server):
    admin = AdminApi(server)
    for bad in ({"webhooks": [{"url": "ftp://x/"}]},
                {"webhooks": [{"url": "http://user:pw@host/"}]},
                {"webhooks": [{"url": "http://h/", "token": "two words"}]},
                {"webhooks": [{"url": f"http://h{i}/"} for i in range(9)]},
                {"smtp": {"host": "h", "from": "a@b", "to": ["x@y>\r\nRCPT TO:<z@w"]}},
                {"smtp": {"host": "h", "from": "a@b", "to": []}},
                {"smtp": {"host": "h", "from": "a@b", "to": ["c@d"], "security": "ssl3"}},
                {"disk_used_percent_max": 0},
                {"disk_used_percent_max": 101},
                {"ca_pem": "not a certificate"},
                {"ca_pem": "x" * 40_000}):
        admin.call("PUT", "/alerts/settings", expect=400, json=bad)
    admin.call("POST", "/alerts/test", expect=400)
    admin.call("DELETE", "/alerts/settings", expect=405)
    name = unique_bucket_name("al")[:20].replace("-", "")
    admin.tenant_with_key(name)
    tenant_admin = AdminApi(server, f"{name}/admin", "correct horse battery")
    tenant_admin.call("GET", "/alerts", expect=403)
    tenant_admin.call("GET", "/alerts/settings", expect=403)
    tenant_admin.call("PUT", "/alerts/settings", expect=403, json={"disk_used_percent_max": 5})
    tenant_admin.call("POST", "/alerts/test", expect=403)


def test_a_certificate_near_expiry_fires(tmp_path):
    """The TLS certificate of a server (here one valid for two days) fires certificate_expiring,
    with the admin API itself reached over that TLS."""
    import requests

    ca, cert, key = make_ca_and_leaf(tmp_path)
    hook = Webhook()
    srv = MaxioServer("alerts-cert", env={"MAXIOFS_ALERT_INTERVAL_S": "1", "MAXIOFS_TLS_CERT": str(cert),
                                          "MAXIOFS_TLS_KEY": str(key)})
    srv.wait_healthy = lambda timeout=60.0: None  # the health probe speaks plain HTTP
    srv.start()
    try:
        base = f"https://127.0.0.1:{srv.console_port}/api/v1"
        deadline = time.time() + 30
        while True:
            try:
                login = requests.post(f"{base}/auth/login", json={"username": srv.access_key,
                                      "password": srv.secret_key}, timeout=10, verify=str(ca))
                break
            except requests.ConnectionError:
                assert time.time() < deadline, srv.stderr_tail()
                time.sleep(0.2)
        token = login.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        put = requests.put(f"{base}/alerts/settings", headers=headers, timeout=10, verify=str(ca),
                           json={"webhooks": [{"url": hook.url}]})
        assert put.status_code == 200, put.text
        wait_for(lambda: hook.notices("certificate_expiring"), "the certificate alert")
        notice = hook.notices("certificate_expiring")[0]
        assert notice["status"] == "firing" and "expires in 1 day." in notice["summary"]
    finally:
        srv.terminate()
        hook.server.shutdown()
