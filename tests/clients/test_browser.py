"""A real browser against the server: headless Chromium (Debian's `chromium`, driven by Python
playwright with `executable_path`; playwright never downloads a browser) opens a page served from
another origin, uploads a file picked in an <input type=file> with a presigned POST form sent by
fetch(), and reads the object back with a CORS GET through a presigned URL. The browser itself
enforces CORS, so these tests check what no HTTP library can: that Chromium accepts the server's
answers. A page from an origin the bucket's CORS configuration does not allow must be refused.

scripts/test-all.sh installs chromium (apt) and playwright (tests/requirements.txt). Without
/usr/bin/chromium the tests are skipped, except under CI where they fail.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from helpers import md5_hex, object_absent, rand_bytes

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 20_000

INDEX_HTML = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>maxiofs browser upload</title></head>
<body>
<form id="upload" method="post" enctype="multipart/form-data">
  <input type="file" id="file" name="file">
</form>
<script type="module" src="app.js"></script>
</body>
</html>
"""

APP_JS = r"""
function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

// The presigned POST's fields become hidden inputs placed before the file input (S3 ignores
// fields after the file), then the form is sent with fetch() as a cross-origin request.
async function uploadForm(post) {
  const form = document.getElementById("upload");
  form.action = post.url;
  const fileInput = document.getElementById("file");
  for (const [name, value] of Object.entries(post.fields)) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.insertBefore(input, fileInput);
  }
  const resp = await fetch(form.action, { method: "POST", mode: "cors", body: new FormData(form) });
  const text = await resp.text();
  const xml = new DOMParser().parseFromString(text, "application/xml");
  const pick = (tag) => xml.getElementsByTagName(tag)[0]?.textContent ?? null;
  return {
    status: resp.status,
    etag: resp.headers.get("ETag"),
    body: text,
    root: xml.documentElement.nodeName,
    bucket: pick("Bucket"),
    key: pick("Key"),
    xmlEtag: pick("ETag"),
    location: pick("Location"),
  };
}

async function corsGet(url) {
  const resp = await fetch(url, { mode: "cors" });
  const buffer = await resp.arrayBuffer();
  return {
    status: resp.status,
    etag: resp.headers.get("ETag"),
    contentLength: resp.headers.get("Content-Length"),
    data: toBase64(buffer),
  };
}

// A PUT with a Content-Type the CORS spec does not call "simple": the browser preflights it.
async function corsPut(url, text) {
  const resp = await fetch(url, {
    method: "PUT",
    mode: "cors",
    headers: { "Content-Type": "application/x-maxiofs-test" },
    body: text,
  });
  return { status: resp.status, etag: resp.headers.get("ETag"), body: await resp.text() };
}

// Runs fn and reports a rejected fetch as {rejected, name, message} instead of throwing.
async function attempt(fn, ...args) {
  try {
    return { rejected: false, result: await fn(...args) };
  } catch (e) {
    return { rejected: true, name: e.name, message: String(e.message) };
  }
}

window.maxiofs = { uploadForm, corsGet, corsPut, attempt };
"""


# --------------------------------------------------------------------------- the page's origins


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class PageOrigin:
    """The page and its module served by http.server on 127.0.0.1 with a port of its own."""

    def __init__(self, directory: Path):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Two origins serving the same page: `allowed` is named in the bucket's CORS rule, `other`
    is not."""
    directory = tmp_path_factory.mktemp("browser-site")
    (directory / "index.html").write_text(INDEX_HTML)
    (directory / "app.js").write_text(APP_JS)
    allowed, other = PageOrigin(directory), PageOrigin(directory)
    yield {"allowed": allowed.origin, "other": other.origin}
    allowed.close()
    other.close()


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: scripts/test-all.sh installs Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        message = f"python playwright not installed ({exc}): pip install -r tests/requirements.txt"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # Root (as in CI) needs --no-sandbox; containers often have a tiny /dev/shm.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--no-proxy-server"],
            timeout=TIMEOUT_MS,
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        pw.stop()


class Page:
    """A fresh browser page opened on `origin`, with its console kept for failure messages."""

    def __init__(self, browser, origin: str):
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.console: list[str] = []
        self.page.on("console", lambda msg: self.console.append(f"[{msg.type}] {msg.text}"))
        self.page.on("pageerror", lambda exc: self.console.append(f"[pageerror] {exc}"))
        self.page.goto(f"{origin}/index.html")
        self.page.wait_for_function("() => window.maxiofs !== undefined")

    def call(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def log(self) -> str:
        return "browser console:\n" + ("\n".join(self.console) or "(empty)")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser):
    pages: list[Page] = []

    def opener(origin: str) -> Page:
        page = Page(browser, origin)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()


# --------------------------------------------------------------------------- helpers


def allow_origin(s3, bucket: str, origin: str) -> None:
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [origin],
                    "AllowedMethods": ["GET", "POST", "PUT"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 60,
                }
            ]
        },
    )


def presigned_post(s3, bucket: str) -> dict:
    return s3.generate_presigned_post(
        Bucket=bucket,
        Key="uploads/${filename}",
        Fields={"success_action_status": "201"},
        Conditions=[
            ["starts-with", "$key", "uploads/"],
            {"success_action_status": "201"},
            ["content-length-range", 1, 10485760],
        ],
        ExpiresIn=600,
    )


def presigned_url(s3, method: str, bucket: str, key: str) -> str:
    return s3.generate_presigned_url(method, Params={"Bucket": bucket, "Key": key}, ExpiresIn=600)


def same_origin(a: str, b: str) -> bool:
    sa, sb = urlsplit(a), urlsplit(b)
    return (sa.scheme, sa.hostname, sa.port) == (sb.scheme, sb.hostname, sb.port)


# --------------------------------------------------------------------------- tests


def test_browser_uploads_with_presigned_post_and_reads_back_with_cors_get(server, s3, bucket, site, open_page):
    origin = site["allowed"]
    assert not same_origin(origin, server.endpoint), (origin, server.endpoint)
    allow_origin(s3, bucket, origin)
    data = rand_bytes(300 * 1024, "browser-upload")
    etag = f'"{md5_hex(data)}"'
    key = "uploads/photo.bin"

    page = open_page(origin)
    # The real file input, filled as a user picking a file would.
    page.page.set_input_files(
        "#file", files=[{"name": "photo.bin", "mimeType": "application/octet-stream", "buffer": data}]
    )
    post = presigned_post(s3, bucket)
    up = page.call("(post) => window.maxiofs.attempt(window.maxiofs.uploadForm, post)", post)
    assert not up["rejected"], f"the browser refused the POST upload: {up}\n{page.log()}"
    up = up["result"]
    assert up["status"] == 201, f"{up}\n{page.log()}"
    assert up["root"] == "PostResponse", up["body"]
    assert up["bucket"] == bucket, up["body"]
    assert up["key"] == key, up["body"]
    assert up["xmlEtag"] == etag, up["body"]
    assert up["location"].endswith(f"/{bucket}/{key}"), up["body"]
    assert up["etag"] == etag, f"ETag not readable by the page (ExposeHeaders): {up}"

    got = page.call(
        "(url) => window.maxiofs.attempt(window.maxiofs.corsGet, url)", presigned_url(s3, "get_object", bucket, key)
    )
    assert not got["rejected"], f"the browser refused the CORS GET: {got}\n{page.log()}"
    got = got["result"]
    assert got["status"] == 200, f"{got}\n{page.log()}"
    assert base64.b64decode(got["data"]) == data
    assert got["etag"] == etag

    stored = s3.get_object(Bucket=bucket, Key=key)
    assert stored["Body"].read() == data
    assert stored["ETag"] == etag

    # A preflighted request (PUT with a non-simple Content-Type) from the allowed origin.
    put = page.call(
        "([url, text]) => window.maxiofs.attempt(window.maxiofs.corsPut, url, text)",
        [presigned_url(s3, "put_object", bucket, "uploads/put.txt"), "put from the browser"],
    )
    assert not put["rejected"], f"the browser refused the preflighted PUT: {put}\n{page.log()}"
    assert put["result"]["status"] == 200, f"{put}\n{page.log()}"
    assert put["result"]["etag"] == f'"{md5_hex(b"put from the browser")}"'
    stored = s3.get_object(Bucket=bucket, Key="uploads/put.txt")
    assert stored["Body"].read() == b"put from the browser"
    assert stored["ContentType"] == "application/x-maxiofs-test"


def test_page_from_an_origin_not_allowed_is_refused_by_the_browser(server, s3, bucket, site, open_page):
    allow_origin(s3, bucket, site["allowed"])
    origin = site["other"]
    assert not same_origin(origin, site["allowed"]) and not same_origin(origin, server.endpoint)
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"not for other origins")

    page = open_page(origin)
    # A simple GET is sent, but without Access-Control-Allow-Origin the browser hides the answer:
    # fetch() rejects with a TypeError.
    got = page.call(
        "(url) => window.maxiofs.attempt(window.maxiofs.corsGet, url)",
        presigned_url(s3, "get_object", bucket, "secret.txt"),
    )
    assert got["rejected"], f"fetch from {origin} should fail the CORS check: {json.dumps(got)[:500]}"
    assert got["name"] == "TypeError", got

    # A preflighted PUT: the preflight is refused, so the PUT itself is never sent.
    put = page.call(
        "([url, text]) => window.maxiofs.attempt(window.maxiofs.corsPut, url, text)",
        [presigned_url(s3, "put_object", bucket, "uploads/refused.txt"), "should not be stored"],
    )
    assert put["rejected"], f"PUT from {origin} should fail the CORS preflight: {put}"
    assert put["name"] == "TypeError", put
    assert object_absent(s3, bucket, "uploads/refused.txt")
    assert any("CORS" in line for line in page.console), page.log()
