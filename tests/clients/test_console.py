"""The web console end to end in a real headless Chromium (Debian's `chromium`, driven by Python
playwright with `executable_path`; no browser download), as issue 19 asks:

root signs in; creates a tenant with a quota, its tenant admin, and a user with an access key;
that user signs in, creates a bucket, uploads a 20 MiB file through the file input (a
multipart upload) and sees its progress reach 100 %, finds it in the browser, downloads it (the
bytes compare), makes a share link that curl fetches, deletes it, and boto3 finds the bucket
empty; wrong passwords and the lockout are said in words; the audit log shows all of it.

Any uncaught JavaScript error, console error or failed request fails the test. On failure a
screenshot and the browser's console log are saved under target/test-artifacts/console/.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import REPO_ROOT
from helpers import make_client, unique_bucket_name

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "target" / "test-artifacts" / "console"
TIMEOUT_MS = 30_000
PASSWORD = "Correct-Horse-Battery-9"


class Console:
    """One browser context on the console, recording everything that went wrong."""

    def __init__(self, browser, server, name: str, color_scheme: str = "light"):
        self.server = server
        self.name = name
        self.context = browser.new_context(color_scheme=color_scheme, accept_downloads=True,
                                           viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.log: list[str] = []
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        self.page.on("requestfailed", lambda request: self.problems.append(
            f"request failed: {request.method} {request.url} {request.failure}"))
        self.page.on("response", self._response)
        self.expected_statuses: set[int] = set()

    def _console(self, message):
        self.log.append(f"{message.type}: {message.text}")
        if message.type == "error" and "the server responded with a status of" not in message.text:
            self.problems.append(f"console error: {message.text}")

    def _response(self, response):
        # Statuses a step provokes on purpose (a wrong password's 401) are allowed by that step.
        if response.status >= 400 and response.status not in self.expected_statuses:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def goto(self, hash_path: str = ""):
        self.page.goto(f"{self.server.console_endpoint}/{hash_path}")

    def testid(self, value: str):
        return self.page.get_by_test_id(value)

    def sign_in(self, username: str, password: str):
        self.goto("#/login")
        self.testid("login-username").fill(username)
        self.testid("login-password").fill(password)
        self.testid("login-submit").click()
        self.testid("who").wait_for()

    def sign_out(self):
        self.testid("logout").click()
        self.testid("login-form").wait_for()

    def save_artifacts(self, label: str):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{label}-{self.name}.png"), full_page=True)
        (ARTIFACTS / f"{label}-{self.name}.log").write_text("\n".join(self.log + self.problems))

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI needs /usr/bin/chromium (scripts/test-all.sh installs it)")
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def consoles(browser, request):
    opened: list[Console] = []

    def open_console(server, name: str, **kw) -> Console:
        console = Console(browser, server, name, **kw)
        opened.append(console)
        return console

    yield open_console
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for console in opened:
        if failed:
            console.save_artifacts(request.node.name)
        console.close()


def test_a_user_uploads_downloads_shares_and_deletes_through_the_console(server_factory, consoles,
                                                                                 tmp_path):
    srv = server_factory("console-e2e")
    tenant = "acme" + unique_bucket_name("t")[-6:].replace("-", "")
    root = consoles(srv, "root")
    root.sign_in(srv.access_key, srv.secret_key)

    # The root makes a tenant with a quota, its admin, and a user with a key.
    root.goto("#/tenants")
    root.testid("tenant-create").click()
    root.testid("tenant-name").fill(tenant)
    root.testid("tenant-quota-gib").fill("1")
    root.testid("tenant-create-submit").click()
    root.testid(f"tenant-link-{tenant}").click()
    for name, role in (("boss", "tenant-admin"), ("worker", "user")):
        root.testid("user-create").click()
        root.testid("user-name").fill(name)
        root.testid("user-role").select_option(role)
        root.testid("user-password").fill(PASSWORD)
        root.testid("user-create-submit").click()
        root.testid(f"user-row-{name}").wait_for()
    root.testid("key-create-worker").click()
    key_id = root.testid("key-id").inner_text().strip()
    secret = root.testid("key-secret").inner_text().strip()
    assert key_id.startswith("AKIA") and len(secret) >= 40
    assert root.problems == [], root.problems

    # The user signs in, makes a bucket and uploads 20 MiB through the file input.
    admin = consoles(srv, "user")
    admin.sign_in(f"{tenant}/worker", PASSWORD)
    admin.goto("#/buckets")
    bucket = unique_bucket_name("console")
    admin.testid("bucket-create").click()
    admin.testid("bucket-name").fill(bucket)
    admin.testid("bucket-create-submit").click()
    admin.testid(f"bucket-link-{bucket}").click()
    payload = os.urandom(20 * 1024 * 1024)
    upload = tmp_path / "big file.bin"
    upload.write_bytes(payload)
    admin.testid("upload-input").set_input_files(str(upload))
    admin.testid(f"upload-done-{upload.name}").wait_for(timeout=120_000)
    progress = admin.testid(f"upload-progress-{upload.name}")
    assert progress.get_attribute("value") == progress.get_attribute("max")
    row = admin.testid(f"object-row-{upload.name}")
    row.wait_for()

    # Downloaded bytes are the uploaded ones.
    with admin.page.expect_download() as download_info:
        admin.testid(f"object-download-{upload.name}").click()
    downloaded = Path(download_info.value.path()).read_bytes()
    assert hashlib.sha256(downloaded).digest() == hashlib.sha256(payload).digest()

    # A share link is a presigned URL on the S3 port that curl fetches.
    admin.testid(f"object-share-{upload.name}").click()
    admin.testid("share-expiry").fill("1")
    admin.testid("share-create").click()
    share_url = admin.testid("share-url").input_value()
    assert share_url.startswith(srv.endpoint) and "X-Amz-Signature=" in share_url
    fetched = subprocess.run(["curl", "-sf", share_url], capture_output=True, timeout=60)
    assert fetched.returncode == 0 and hashlib.sha256(fetched.stdout).digest() == hashlib.sha256(payload).digest()
    admin.page.keyboard.press("Escape")

    # Deleted through the console; boto3 (the worker's key) finds the bucket empty.
    admin.testid(f"object-delete-{upload.name}").click()
    admin.testid("confirm-ok").click()
    row.wait_for(state="detached")
    s3 = make_client(srv.endpoint, key_id, secret)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert admin.problems == [], admin.problems
    admin.sign_out()

    # Wrong passwords are said in words, then the lockout.
    stranger = consoles(srv, "lockout")
    stranger.expected_statuses = {401, 403}
    stranger.goto("#/login")
    error = stranger.testid("login-error")

    def attempt(password: str) -> str:
        stranger.testid("login-username").fill(f"{tenant}/boss")
        stranger.testid("login-password").fill(password)
        # The page clears the message when the form is sent and sets it with the answer.
        stranger.testid("login-submit").click()
        expect(error).to_have_text(re.compile(r"\S"))
        return error.inner_text()

    for _ in range(5):
        message = attempt("wrong password")
        if "locked" in message.lower():
            break
        assert "Wrong user name or password" in message
    assert "locked" in attempt(PASSWORD).lower()
    assert [p for p in stranger.problems if not p.startswith("HTTP")] == [], stranger.problems

    # The audit log shows it all: the tenant, the users, the key, the bucket, the lockout.
    root.goto("#/audit")
    root.testid("audit-table").wait_for()
    root.testid("audit-row").first.wait_for()
    audit = root.testid("audit-table").inner_text()
    for expected in (tenant, "boss", "worker", bucket, "s3:CreateBucket"):
        assert expected in audit, f"{expected} not in the audit log"
    assert re.search(r"(?i)lock|denied|fail", audit), "the failed logins are audited"
    assert root.problems == [], root.problems


def test_a_read_only_user_sees_no_write_buttons(server_factory, consoles):
    from admin_api import AdminApi

    srv = server_factory("console-roles")
    api = AdminApi(srv)
    tenant = "ro" + unique_bucket_name("t")[-6:].replace("-", "")
    _, s3, _ = api.tenant_with_key(tenant)
    bucket = unique_bucket_name("ro")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="readme.txt", Body=b"hello")
    api.call("POST", f"/tenants/{tenant}/users", expect=201,
             json={"name": "reader", "role": "read-only", "password": PASSWORD})
    reader = consoles(srv, "reader")
    reader.sign_in(f"{tenant}/reader", PASSWORD)
    assert reader.testid("nav-tenants").count() == 0
    reader.goto("#/buckets")
    reader.testid(f"bucket-link-{bucket}").click()
    reader.testid("object-row-readme.txt").wait_for()
    for control in ("upload-input", "delete-selected", "object-delete-readme.txt", "bucket-create"):
        assert reader.testid(control).count() == 0, f"a read-only user sees {control}"
    assert reader.problems == [], reader.problems


def test_the_console_is_served_with_a_strict_policy_and_compressed(server):
    import requests

    index = requests.get(f"{server.console_endpoint}/", timeout=10, headers={"Accept-Encoding": "gzip"})
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    policy = index.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert index.headers.get("content-encoding") == "gzip"
    etag = index.headers["etag"]
    again = requests.get(f"{server.console_endpoint}/", timeout=10, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert requests.get(f"{server.console_endpoint}/js/app.js", timeout=10).headers["content-type"].startswith(
        "text/javascript")
    assert requests.get(f"{server.console_endpoint}/../etc/passwd", timeout=10).status_code == 404
    assert requests.get(f"{server.console_endpoint}/nothing-here.js", timeout=10).status_code == 404
    # The proxy forwards to the S3 port: an unsigned request gets S3's own refusal, no cookie passed.
    refused = requests.get(f"{server.console_endpoint}/s3/some-bucket/key", timeout=10,
                           cookies={"maxiofs_session": "x"})
    assert refused.status_code == 403 and b"<Code>AccessDenied</Code>" in refused.content
    assert requests.post(f"{server.console_endpoint}/api/v1/auth/s3-credentials", timeout=10).status_code == 401
    # A body without a length (chunked) is refused before anything reaches the S3 port.
    chunked = requests.put(f"{server.console_endpoint}/s3/b/k", data=(part for part in [b"a", b"b"]), timeout=10)
    assert chunked.status_code == 411
    # A declared body over S3's 5 GiB is refused before a byte of it is read.
    import socket

    with socket.create_connection(("127.0.0.1", server.console_port), timeout=10) as conn:
        conn.sendall(b"PUT /s3/b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 6442450944\r\n\r\n")
        assert conn.recv(64).startswith(b"HTTP/1.1 413")
    # Only GET and HEAD for the console's files.
    assert requests.post(f"{server.console_endpoint}/index.html", timeout=10).status_code == 405
