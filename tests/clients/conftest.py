"""Fixtures for the maxiofs client compatibility suite.

The suite never builds anything: scripts/test-all.sh runs `cargo build --release -p maxiofs
-p bench` first. Set MAXIOFS_BIN to test another binary.

Every server started here gets its own data directory under target/test-data/<run>/ and its
stdout/stderr in files beside it; when a test fails, the new part of each server's stderr is
attached to the failure report ("server stderr" section).

Clients keep their own defaults for multipart (boto3 and aws cli split at 8 MB); rclone and
s3cmd are set to split at a few MiB so that moderate files exercise multipart there too.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import psutil
import pytest
import requests
from botocore.config import Config

from helpers import (
    REGION,
    REPO_ROOT,
    empty_and_delete_bucket,
    aws_cli_env,
    env_without_aws,
    make_client,
    unique_bucket_name,
)

SERVER_BIN = Path(os.environ.get("MAXIOFS_BIN", REPO_ROOT / "target" / "release" / "maxiofs"))
ACCESS_KEY = os.environ.get("MAXIOFS_TEST_ACCESS_KEY", "AKIAMAXIOFSTEST00001")
# 40 characters with "+" and "/" like real AWS secrets.
SECRET_KEY = os.environ.get("MAXIOFS_TEST_SECRET_KEY", "mAxIoFs+Test/Secret0Key00000000000000000")
SHARDS = int(os.environ.get("MAXIOFS_TEST_SHARDS", "2"))
KEEP_DATA = os.environ.get("MAXIOFS_KEEP_TEST_DATA") == "1"

RUN_DIR = REPO_ROOT / "target" / "test-data" / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


# --------------------------------------------------------------------------- *.localhost


def _install_localhost_resolver():
    """Resolve BUCKET.localhost to loopback inside this test process.

    Virtual-host-style requests go to http://BUCKET.localhost:PORT/. systemd-resolved answers
    *.localhost on desktops; this machine's plain /etc/hosts resolver does not, so the test
    process maps those names to 127.0.0.1 itself. The Host header still names the bucket.
    """
    real = socket.getaddrinfo
    if getattr(socket.getaddrinfo, "_maxiofs_patched", False):
        return

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, (bytes, bytearray)):
            host_s = host.decode()
        else:
            host_s = host
        if isinstance(host_s, str) and host_s.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    getaddrinfo._maxiofs_patched = True
    socket.getaddrinfo = getaddrinfo


_install_localhost_resolver()


# --------------------------------------------------------------------------- server process


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_ALL_SERVERS: list["MaxioServer"] = []
_server_ids = itertools.count(1)


class MaxioServer:
    """One `maxiofs server` process on a data directory (which survives restarts)."""

    def __init__(
        self,
        name: str,
        data_dir: Path | None = None,
        shards: int = SHARDS,
        env: dict | None = None,
        root_keys_from_env: bool = True,
    ):
        self.name = name
        self.dir = RUN_DIR / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir or (self.dir / "data")
        self.shards = shards
        self.extra_env = env or {}
        self.root_keys_from_env = root_keys_from_env
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.console_port: int | None = None
        self.starts = 0
        self.stderr_path = self.dir / "stderr.log"
        self.stdout_path = self.dir / "stdout.log"
        _ALL_SERVERS.append(self)

    # -- lifecycle

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def console_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    @property
    def host_endpoint(self) -> str:
        """Endpoint by name, for virtual-host-style addressing (BUCKET.localhost)."""
        return f"http://localhost:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, port: int | None = None, wait: bool = True) -> "MaxioServer":
        if not SERVER_BIN.exists():
            pytest.fail(
                f"server binary {SERVER_BIN} not found: run `cargo build --release --bin maxiofs` "
                "(scripts/test-all.sh does) or set MAXIOFS_BIN"
            )
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        self.port = port or free_port()
        # The console port follows the S3 port across restarts of the same server.
        if self.console_port is None or port is None:
            self.console_port = free_port()
        self.starts += 1
        # The tester's own MAXIOFS_* settings must not leak into the server (MAXIOFS_LOG may).
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAXIOFS_") or k == "MAXIOFS_LOG"}
        env["RUST_BACKTRACE"] = "1"
        env["NO_COLOR"] = "1"
        if self.root_keys_from_env:
            env["MAXIOFS_ROOT_ACCESS_KEY"] = self.access_key
            env["MAXIOFS_ROOT_SECRET_KEY"] = self.secret_key
        env.update(self.extra_env)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(SERVER_BIN),
            "server",
            "--data-dir",
            str(self.data_dir),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--console-listen",
            f"127.0.0.1:{self.console_port}",
            "--shards",
            str(self.shards),
        ]
        self.stdout_mark = self.stdout_path.stat().st_size if self.stdout_path.exists() else 0
        self.stderr_mark = self.stderr_size()
        with open(self.stderr_path, "ab") as err, open(self.stdout_path, "ab") as out:
            banner = f"\n===== start #{self.starts}: {' '.join(cmd)}\n".encode()
            err.write(banner)
            out.write(banner)
            err.flush()
            out.flush()
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, start_new_session=True
            )
        if wait:
            self.wait_healthy()
        return self

    def health_status(self, timeout: float = 2.0) -> int | None:
        try:
            return requests.get(f"{self.endpoint}/_maxiofs/health", timeout=timeout).status_code
        except requests.RequestException:
            return None

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"server {self.name} exited with {self.proc.returncode} before becoming healthy:\n"
                    + self.stderr_tail()
                )
            if self.health_status() == 200:
                return
            time.sleep(0.1)
        pytest.fail(f"server {self.name} not healthy after {timeout}s:\n" + self.stderr_tail())

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; returns the exit code, or None if it did not exit in time (then kills)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL
            self.proc.wait(timeout=30)

    def restart(self, same_port: bool = False) -> "MaxioServer":
        """Start again on the same data directory (after kill9/terminate)."""
        if self.proc is not None and self.proc.poll() is None:
            raise AssertionError("restart() needs a stopped server")
        return self.start(port=self.port if same_port else None)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss(self) -> int:
        return psutil.Process(self.pid).memory_info().rss

    # -- logs

    def stderr_size(self) -> int:
        try:
            return self.stderr_path.stat().st_size
        except FileNotFoundError:
            return 0

    def stderr_since(self, offset: int, max_lines: int = 80) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        lines = text.splitlines()
        if len(lines) > max_lines:
            lines = [f"... ({len(lines) - max_lines} earlier lines in {self.stderr_path})"] + lines[-max_lines:]
        return "\n".join(lines)

    def stderr_tail(self, max_lines: int = 60) -> str:
        return self.stderr_since(0, max_lines)

    def output_of_last_start(self) -> str:
        """stdout + stderr written since the last start()."""
        text = ""
        for path, mark in ((self.stdout_path, self.stdout_mark), (self.stderr_path, self.stderr_mark)):
            with open(path, "rb") as f:
                f.seek(mark)
                text += f.read().decode("utf-8", "replace")
        return text

    # -- clients

    def client(self, addressing_style: str = "path", **config_kw):
        return make_client(
            self.host_endpoint if addressing_style == "virtual" else self.endpoint,
            self.access_key,
            self.secret_key,
            addressing_style,
            **config_kw,
        )

    def cleanup_data(self) -> None:
        if not KEEP_DATA and not self.running():
            shutil.rmtree(self.data_dir, ignore_errors=True)


# --------------------------------------------------------------------------- failure reports


@pytest.fixture(autouse=True)
def _server_log_marks(request):
    request.node._maxiofs_log_marks = {id(s): s.stderr_size() for s in _ALL_SERVERS}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    # Fixtures that keep artefacts of a failed test (test_console.py's screenshots) look here.
    setattr(item, f"rep_{rep.when}", rep)
    if not rep.failed:
        return
    marks = getattr(item, "_maxiofs_log_marks", {})
    for srv in _ALL_SERVERS:
        excerpt = srv.stderr_since(marks.get(id(srv), 0)).strip()
        state = "running" if srv.running() else f"exited {srv.proc.returncode if srv.proc else None}"
        if excerpt or not srv.running():
            rep.sections.append((f"server {srv.name} stderr ({state})", excerpt or "(nothing new)"))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def server():
    """The shared server for the whole session. SIGTERM at the end must exit 0."""
    srv = MaxioServer("shared")
    srv.start()
    yield srv
    rc = srv.terminate(timeout=60)
    assert rc == 0, f"shared server did not exit 0 on SIGTERM (rc={rc}):\n{srv.stderr_tail()}"
    srv.cleanup_data()


@pytest.fixture
def server_factory():
    """Start dedicated servers (own data dir). Each can kill9()/terminate()/restart()."""
    started: list[MaxioServer] = []

    def factory(name: str | None = None, **kw) -> MaxioServer:
        srv = MaxioServer(name or f"dedicated-{next(_server_ids)}", **kw)
        started.append(srv)
        return srv.start()

    yield factory
    for srv in started:
        if srv.running():
            srv.kill9()
        srv.cleanup_data()


@pytest.fixture(scope="session")
def endpoint(server):
    return server.endpoint


@pytest.fixture(scope="session")
def creds(server):
    return server.access_key, server.secret_key


@pytest.fixture(scope="session")
def s3(server):
    """boto3 client, path-style."""
    return server.client("path")


@pytest.fixture(scope="session")
def s3_virtual(server):
    """boto3 client, virtual-host-style (BUCKET.localhost:PORT)."""
    return server.client("virtual")


@pytest.fixture(scope="session")
def s3_resource(server):
    return boto3.session.Session().resource(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=REGION,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1, "mode": "standard"},
        ),
    )


@pytest.fixture
def bucket_name(request):
    """A fresh, unused, valid bucket name (not created)."""
    return unique_bucket_name(request.node.originalname or request.node.name)


@pytest.fixture
def bucket(s3, bucket_name):
    """A created bucket, emptied and deleted afterwards."""
    s3.create_bucket(Bucket=bucket_name)
    yield bucket_name
    empty_and_delete_bucket(s3, bucket_name)


# --------------------------------------------------------------------------- CLI runners


class CliResult:
    def __init__(self, proc: subprocess.CompletedProcess, cmd):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.cmd = cmd

    def __repr__(self):
        return f"<{self.cmd!r} rc={self.returncode}\nstdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}>"


def _run(cmd, env, check, timeout=600, cwd=None, input_data=None) -> CliResult:
    proc = subprocess.run(
        cmd,
        env=env,
        cwd=cwd,
        input=input_data,
        stdin=None if input_data is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    res = CliResult(proc, cmd)
    if check and proc.returncode != 0:
        raise AssertionError(f"command failed: {res!r}")
    return res


@pytest.fixture
def aws(server, tmp_path):
    """Run aws cli v1 (this venv's awscli) against the server: aws("s3", "ls", ...)."""
    env = aws_cli_env(tmp_path / "awscfg", server.access_key, server.secret_key)

    def run(*args, check=True, timeout=600) -> CliResult:
        cmd = [sys.executable, "-m", "awscli", "--endpoint-url", server.endpoint, *map(str, args)]
        return _run(cmd, env, check, timeout)

    return run


@pytest.fixture
def rclone(server, tmp_path):
    """Run rclone with a remote `mys3:` configured through the environment."""
    exe = shutil.which("rclone")
    if exe is None:
        pytest.fail("rclone not installed (scripts/test-all.sh installs it with apt-get)")
    conf = tmp_path / "rclone.conf"
    conf.write_text("")
    env = env_without_aws()
    env.update(
        {
            "RCLONE_CONFIG": str(conf),
            "RCLONE_CONFIG_MYS3_TYPE": "s3",
            "RCLONE_CONFIG_MYS3_PROVIDER": "Other",
            "RCLONE_CONFIG_MYS3_ENV_AUTH": "false",
            "RCLONE_CONFIG_MYS3_ACCESS_KEY_ID": server.access_key,
            "RCLONE_CONFIG_MYS3_SECRET_ACCESS_KEY": server.secret_key,
            "RCLONE_CONFIG_MYS3_ENDPOINT": server.endpoint,
            "RCLONE_CONFIG_MYS3_REGION": REGION,
            "RCLONE_CONFIG_MYS3_FORCE_PATH_STYLE": "true",
            # Files over 16 MiB go multipart in 5 MiB parts (rclone's defaults are 200M/5M).
            "RCLONE_CONFIG_MYS3_UPLOAD_CUTOFF": "16M",
            "RCLONE_CONFIG_MYS3_CHUNK_SIZE": "5M",
        }
    )

    def run(*args, check=True, timeout=600) -> CliResult:
        # One try only: rclone's retries would hide server errors.
        cmd = [exe, "--retries", "1", "--low-level-retries", "1", "--contimeout", "10s", *map(str, args)]
        return _run(cmd, env, check, timeout)

    return run


@pytest.fixture(params=["sigv4", "sigv2"])
def s3cmd(request, server, tmp_path):
    """Run s3cmd with a generated config file, once signing with SigV4 and once with SigV2
    (`signature_v2 = True`, what older s3cmd setups use)."""
    exe = Path(sys.executable).with_name("s3cmd")
    if not exe.exists():
        exe = Path(shutil.which("s3cmd") or "s3cmd")
    cfg = tmp_path / "s3cfg"
    hostport = f"127.0.0.1:{server.port}"
    cfg.write_text(
        "[default]\n"
        f"access_key = {server.access_key}\n"
        f"secret_key = {server.secret_key}\n"
        f"host_base = {hostport}\n"
        f"host_bucket = {hostport}\n"
        "use_https = False\n"
        f"signature_v2 = {request.param == 'sigv2'}\n"
        f"bucket_location = {REGION}\n"
        "multipart_chunk_size_mb = 5\n"
        "check_ssl_certificate = False\n"
        "progress_meter = False\n"
        "max_retries = 1\n"
    )
    env = env_without_aws()
    env["HOME"] = str(tmp_path)

    def run(*args, check=True, timeout=300) -> CliResult:
        cmd = [sys.executable, str(exe), "-c", str(cfg), *map(str, args)]
        return _run(cmd, env, check, timeout)

    return run


def pytest_sessionfinish(session, exitstatus):
    # Logs stay (small); data directories of stopped servers go unless asked to keep them.
    for srv in _ALL_SERVERS:
        if srv.running():
            srv.kill9()
        srv.cleanup_data()
