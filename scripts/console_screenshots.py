#!/usr/bin/env python3
"""Screenshots of the web console's main pages, light and dark, for docs/console.md.

Owns: the pictures in docs/console/ (<page>-light.png and <page>-dark.png at 1280x800).

It starts target/release/maxiofs on a temporary data directory with free loopback ports and
MAXIOFS_CONSOLE_DIR pointing at console-static/assets (so the files on disk are shown, no
rebuild needed), makes a little data through the admin API and boto3 (two tenants with users,
buckets with objects in folders, a bucket quota, a lifecycle rule, a failed sign-in for the
audit log), keeps S3 traffic running so the dashboard's charts move, signs in as the root with
playwright and Chromium, and saves one screenshot per page and colour scheme. Pages whose
module does not exist yet are skipped and named at the end. Browser errors (console errors,
uncaught exceptions, failed requests) are listed too; --strict makes them fail the run.

    .venv/bin/python scripts/console_screenshots.py [--pages dashboard,buckets] [--jpeg]

The PNGs of all pages should stay under 2 MB together; when the script warns that they do not,
run it again with --jpeg: it saves .jpg files (quality 70), removes the PNGs they replace and
changes the links in docs/console.md.

Needs: boto3 and playwright (Python), and Chromium (/usr/bin/chromium, or playwright's own).
"""

import argparse
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
ROOT_KEY = "AKIASCREENSHOTS00001"
ROOT_SECRET = "screenshotSecret0000000000000000000000000"
PASSWORD = "Screenshot-Password-1"
VIEWPORT = {"width": 1280, "height": 800}
# docs/console/ stays under 2 MB; PNGs first, JPEG (quality 70) when they do not fit.
SIZE_BUDGET = 2_000_000

# (file name, route, page test id): the order docs/console.md shows them in.
PAGES = [
    ("login", "#/login", "page-login"),
    ("dashboard", "#/", "page-dashboard"),
    ("buckets", "#/buckets", "page-buckets"),
    ("browser", "#/buckets/photos", "page-browser"),
    ("bucket-settings", "#/buckets/photos/settings", "page-bucket-settings"),
    ("tenants", "#/tenants", "page-tenants"),
    ("tenant", "#/tenants/acme", "page-tenant"),
    ("users", "#/users", "page-users"),
    ("audit", "#/audit", "page-audit"),
    ("settings", "#/settings", "page-settings"),
]


def free_ports(count):
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


class Server:
    """A maxiofs server on a temporary data directory, reading the console files from disk."""

    def __init__(self, binary, workdir):
        self.s3_port, self.console_port = free_ports(2)
        self.s3_url = f"http://127.0.0.1:{self.s3_port}"
        self.console_url = f"http://127.0.0.1:{self.console_port}"
        env = dict(os.environ,
                   MAXIOFS_CONSOLE_DIR=str(REPO / "console-static" / "assets"),
                   MAXIOFS_ROOT_ACCESS_KEY=ROOT_KEY,
                   MAXIOFS_ROOT_SECRET_KEY=ROOT_SECRET)
        self.log = open(workdir / "server.log", "wb")
        self.process = subprocess.Popen(
            [str(binary), "server", "--data-dir", str(workdir / "data"),
             "--listen", f"127.0.0.1:{self.s3_port}",
             "--console-listen", f"127.0.0.1:{self.console_port}", "--shards", "2"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        self.wait_ready()

    def wait_ready(self, timeout_s=30):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}; see its log")
            try:
                with urllib.request.urlopen(f"{self.s3_url}/_maxiofs/health", timeout=2) as answer:
                    if answer.status == 200:
                        urllib.request.urlopen(self.console_url + "/", timeout=2).read()
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        raise SystemExit("the server did not become ready")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Admin:
    """The admin API with a bearer token."""

    def __init__(self, console_url, username, password):
        self.base = console_url + "/api/v1"
        self.token = self.call("POST", "/auth/login", {"username": username, "password": password})["token"]

    def call(self, method, path, body=None):
        data = json.dumps(body if body is not None else {}).encode()
        request = urllib.request.Request(self.base + path, data=data if method != "GET" else None,
                                         method=method, headers={"Content-Type": "application/json"})
        if getattr(self, "token", None):
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                text = answer.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{method} {path}: {error.code} {error.read().decode(errors='replace')}") from None


def s3_client(url, key, secret):
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(retries={"max_attempts": 2}))


def body(size):
    return random.randbytes(size)


def make_data(server):
    """Two tenants with users and buckets, the root's buckets with folders, a failed sign-in."""
    admin = Admin(server.console_url, ROOT_KEY, ROOT_SECRET)
    admin.call("POST", "/tenants", {"name": "acme", "display_name": "ACME Corp.",
                                     "quota": {"storage_bytes": 256 << 20, "objects": 100_000, "buckets": 10}})
    admin.call("POST", "/tenants", {"name": "globex", "display_name": "Globex",
                                     "quota": {"storage_bytes": 64 << 20, "buckets": 3},
                                     "bandwidth": {"in_bytes_per_second": 50 << 20}})
    for name, role in [("alice", "tenant-admin"), ("bob", "user"), ("carol", "read-only")]:
        admin.call("POST", "/tenants/acme/users", {"name": name, "role": role, "password": PASSWORD})
    admin.call("POST", "/tenants/globex/users", {"name": "gina", "role": "tenant-admin", "password": PASSWORD})
    admin.call("POST", "/tenants/default/users", {"name": "ops", "role": "system-admin", "password": PASSWORD})
    alice = admin.call("POST", "/tenants/acme/users/alice/keys")
    gina = admin.call("POST", "/tenants/globex/users/gina/keys")

    root = s3_client(server.s3_url, ROOT_KEY, ROOT_SECRET)
    for bucket in ["photos", "logs", "backups"]:
        root.create_bucket(Bucket=bucket)
    root.put_bucket_versioning(Bucket="photos", VersioningConfiguration={"Status": "Enabled"})
    root.put_bucket_tagging(Bucket="photos", Tagging={"TagSet": [{"Key": "team", "Value": "web"}]})
    root.put_bucket_lifecycle_configuration(Bucket="photos", LifecycleConfiguration={"Rules": [
        {"ID": "expire-old-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]})
    for folder, count in [("2025/summer/", 6), ("2025/winter/", 4), ("2026/january/", 5), ("raw/", 3)]:
        for index in range(count):
            root.put_object(Bucket="photos", Key=f"{folder}IMG_{index + 1:04d}.jpg",
                            Body=body(random.randint(200_000, 1_500_000)), ContentType="image/jpeg")
    root.put_object(Bucket="photos", Key="README.txt", Body=b"Holiday photos, one folder per trip.\n",
                    ContentType="text/plain")
    root.put_object(Bucket="photos", Key="README.txt", Body=b"Holiday photos, one folder per season.\n",
                    ContentType="text/plain")
    for index in range(3):
        root.put_object(Bucket="backups", Key=f"db/2026-01-0{index + 1}.dump", Body=body(3_000_000))
    admin.call("PUT", "/buckets/photos/quota", {"storage_bytes": 64 << 20, "objects": 10_000})

    acme = s3_client(server.s3_url, alice["access_key_id"], alice["secret_access_key"])
    for bucket, files, size in [("acme-web", 12, 400_000), ("acme-reports", 4, 2_000_000)]:
        acme.create_bucket(Bucket=bucket)
        for index in range(files):
            acme.put_object(Bucket=bucket, Key=f"assets/file-{index}.bin", Body=body(size))
    globex = s3_client(server.s3_url, gina["access_key_id"], gina["secret_access_key"])
    globex.create_bucket(Bucket="globex-archive")
    for index in range(5):
        globex.put_object(Bucket="globex-archive", Key=f"2026/archive-{index}.tar", Body=body(1_500_000))

    failed_sign_in(admin.base, "acme/bob")
    return root


def failed_sign_in(base, username):
    """A wrong password, so the audit log shows a refusal."""
    request = urllib.request.Request(base + "/auth/login", method="POST",
                                     data=json.dumps({"username": username, "password": "wrong-password"}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=30).read()
    except urllib.error.HTTPError as error:
        error.read()


class Traffic(threading.Thread):
    """S3 requests at a rate that rises and falls, with some errors, until stopped."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.client = s3_client(server.s3_url, ROOT_KEY, ROOT_SECRET)
        self.stopped = threading.Event()

    def run(self):
        started = time.time()
        while not self.stopped.is_set():
            phase = (time.time() - started) / 20
            pause = 0.03 + 0.12 * (1 + math.sin(phase)) / 2
            key = f"app/{random.randint(0, 40):03d}.log"
            try:
                self.client.put_object(Bucket="logs", Key=key, Body=body(random.randint(2_000, 300_000)))
                for _ in range(random.randint(1, 3)):
                    self.client.get_object(Bucket="logs", Key=key)["Body"].read()
                if random.random() < 0.3:
                    self.client.get_object(Bucket="logs", Key="missing/object")
            except Exception:  # noqa: BLE001 - the misses are the errors the chart shows
                pass
            self.stopped.wait(pause)

    def stop(self):
        self.stopped.set()
        self.join(timeout=10)


def module_exists(server, page_id):
    name = page_id.removeprefix("page-")
    try:
        with urllib.request.urlopen(f"{server.console_url}/js/pages/{name}.js", timeout=5) as answer:
            answer.read()
            return answer.status == 200
    except urllib.error.HTTPError:
        return False


def shoot(page, out_dir, name, extension, jpeg):
    saved = []
    for scheme in ["light", "dark"]:
        page.emulate_media(color_scheme=scheme)
        page.wait_for_timeout(400)
        path = out_dir / f"{name}-{scheme}.{extension}"
        if jpeg:
            page.screenshot(path=str(path), type="jpeg", quality=70)
        else:
            page.screenshot(path=str(path))
        saved.append(path)
    page.emulate_media(color_scheme="light")
    return saved


def open_route(page, route, testid, settle_ms=1500):
    page.evaluate("(hash) => { location.hash = hash; }", route)
    page.locator(f'[data-testid="{testid}"]').wait_for(timeout=15_000)
    page.wait_for_timeout(settle_ms)
    return page.locator('[data-testid="page-error"]').count() == 0


def take_screenshots(server, options):
    out_dir = Path(options.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    extension = "jpg" if options.jpeg else "png"
    wanted = [page for page in PAGES if not options.pages or page[0] in options.pages]
    problems, skipped, saved = [], [], []
    chromium = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1, color_scheme="light")
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.method} {r.url} {r.failure}"))
        page.on("response", lambda r: problems.append(f"answer {r.status}: {r.request.method} {r.url}")
                if r.status >= 400 else None)
        page.goto(server.console_url + "/#/login")
        page.locator('[data-testid="page-login"]').wait_for()
        if any(name == "login" for name, _, _ in wanted):
            saved += shoot(page, out_dir, "login", extension, options.jpeg)
        page.get_by_test_id("login-username").fill(ROOT_KEY)
        page.get_by_test_id("login-password").fill(ROOT_SECRET)
        page.get_by_test_id("login-submit").click()
        page.locator('[data-testid="page-dashboard"]').wait_for()
        for name, route, testid in wanted:
            if name == "login":
                continue
            if not module_exists(server, testid):
                skipped.append(name)
                continue
            # The dashboard first gathers a minute of traffic, so its charts have a shape.
            settle = options.dashboard_wait * 1000 if name == "dashboard" else 1500
            if not open_route(page, route, testid, settle):
                skipped.append(f"{name} (the page showed an error)")
                continue
            saved += shoot(page, out_dir, name, extension, options.jpeg)
        browser.close()
    return saved, skipped, problems


def switch_to_jpeg(out_dir, saved):
    """After a --jpeg run: drop the PNGs the JPEGs replace, and point docs/console.md at them."""
    for path in saved:
        path.with_suffix(".png").unlink(missing_ok=True)
    if out_dir.resolve() != (REPO / "docs" / "console").resolve():
        return
    doc = REPO / "docs" / "console.md"
    text = doc.read_text()
    for path in saved:
        text = text.replace(f"(console/{path.stem}.png)", f"(console/{path.name})")
    doc.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "maxiofs"))
    parser.add_argument("--out", default=str(REPO / "docs" / "console"))
    parser.add_argument("--pages", type=lambda text: set(text.split(",")), default=None,
                        help="comma-separated page names (default: all)")
    parser.add_argument("--jpeg", action="store_true",
                        help="save .jpg (quality 70) instead of .png, and relink docs/console.md")
    parser.add_argument("--dashboard-wait", type=float, default=60, help="seconds of traffic before the dashboard")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument("--strict", action="store_true", help="fail on any browser error")
    options = parser.parse_args()

    random.seed(7)
    workdir = Path(tempfile.mkdtemp(prefix="maxiofs-screens-"))
    server = Server(options.binary, workdir)
    traffic = None
    try:
        make_data(server)
        traffic = Traffic(server)
        traffic.start()
        saved, skipped, problems = take_screenshots(server, options)
    finally:
        if traffic:
            traffic.stop()
        server.stop()
        if options.keep:
            print(f"data and server log kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    total = sum(path.stat().st_size for path in saved)
    for path in saved:
        print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}  {path.stat().st_size // 1024} KiB")
    print(f"{len(saved)} screenshots, {total / 1024:.0f} KiB in all")
    if options.jpeg:
        switch_to_jpeg(Path(options.out), saved)
    out_total = sum(path.stat().st_size for path in Path(options.out).glob("*") if path.is_file())
    if out_total > SIZE_BUDGET:
        print(f"warning: {options.out} holds {out_total / 1e6:.2f} MB, over the {SIZE_BUDGET / 1e6:.0f} MB "
              "budget: run again with --jpeg")
    if skipped:
        print("skipped: " + ", ".join(skipped))
    for problem in problems:
        print("browser: " + problem)
    return 1 if options.strict and problems else 0


if __name__ == "__main__":
    sys.exit(main())
