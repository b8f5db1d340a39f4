"""HTTPS on the S3 port (--tls-cert / --tls-key) with boto3, the aws cli and curl.

conftest's MaxioServer has no way to add command-line arguments, so the servers here get their
certificate through the documented environment twins of the flags (MAXIOFS_TLS_CERT,
MAXIOFS_TLS_KEY), and a small subclass speaks https for the health probe and the clients.

Over https boto3 and the aws cli send every upload as `aws-chunked` with a CRC32 trailer
(STREAMING-UNSIGNED-PAYLOAD-TRAILER), which plain-http tests only reach by forcing it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
import urllib3
from botocore.config import Config
from botocore.exceptions import SSLError

from conftest import MaxioServer
from helpers import (
    REGION,
    MiB,
    crc32_b64,
    empty_and_delete_bucket,
    aws_cli_env,
    http_status,
    md5_hex,
    rand_bytes,
    raw_exchange,
    unique_bucket_name,
    xml_error_code,
)

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


class TlsServer(MaxioServer):
    """A maxiofs server whose S3 port speaks HTTPS."""

    def __init__(self, name: str, cert: Path, key: Path):
        super().__init__(name, env={"MAXIOFS_TLS_CERT": str(cert), "MAXIOFS_TLS_KEY": str(key)})
        self.cert = cert

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def host_endpoint(self) -> str:
        return f"https://localhost:{self.port}"

    def health_status(self, timeout: float = 2.0) -> int | None:
        try:
            return requests.get(f"{self.endpoint}/_maxiofs/health", timeout=timeout, verify=False).status_code
        except requests.RequestException:
            return None


def make_cert(directory: Path, key_type: str) -> tuple[Path, Path]:
    """Self-signed certificate for localhost and 127.0.0.1; PKCS#8 private key."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed")
    cert, key = directory / f"{key_type}-cert.pem", directory / f"{key_type}-key.pem"
    newkey = ["-newkey", "rsa:2048"] if key_type == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    cmd = [
        "openssl", "req", "-x509", *newkey, "-nodes", "-sha256", "-days", "2",
        "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "BEGIN PRIVATE KEY" in key.read_text(), "expected a PKCS#8 key from openssl 3"
    return cert, key


def start_tls_server(name: str, directory: Path, key_type: str):
    cert, key = make_cert(directory, key_type)
    return TlsServer(name, cert, key).start()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    srv = start_tls_server("tls-rsa", tmp_path_factory.mktemp("tls"), "rsa")
    yield srv
    rc = srv.terminate(timeout=60)
    assert rc == 0, f"TLS server did not exit 0 on SIGTERM (rc={rc}):\n{srv.stderr_tail()}"
    srv.cleanup_data()


def tls_client(server: TlsServer, verify, endpoint: str | None = None):
    """boto3 client for an https endpoint (helpers.make_client has no `verify`)."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint or server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=REGION,
        verify=verify,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
        ),
    )


@pytest.fixture(scope="module")
def tls_s3(tls_server):
    return tls_client(tls_server, verify=False)


@pytest.fixture
def tls_bucket(tls_s3, request):
    name = unique_bucket_name("tls-" + request.node.originalname)
    tls_s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(tls_s3, name)


def capture_sent_headers(client, op):
    sent = []

    def before_send(request, **kwargs):
        sent.append({k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()})

    client.meta.events.register(f"before-send.s3.{op}", before_send)
    return sent


# --------------------------------------------------------------------------- boto3


def test_boto3_put_get_list_over_https(tls_server, tls_bucket):
    client = tls_client(tls_server, verify=False)
    sent = capture_sent_headers(client, "PutObject")
    objects = {f"dir/obj-{i}": rand_bytes(size, f"tls-{i}") for i, size in enumerate([0, 1, 70_000, 3 * MiB + 5])}
    for key, data in objects.items():
        put = client.put_object(Bucket=tls_bucket, Key=key, Body=data)
        assert put["ETag"] == f'"{md5_hex(data)}"'
    # botocore over https streams the body as aws-chunked with a CRC32 trailer.
    assert any("aws-chunked" in h.get("content-encoding", "") for h in sent), sent[-1]
    assert any(h.get("x-amz-trailer") == "x-amz-checksum-crc32" for h in sent), sent[-1]

    for key, data in objects.items():
        got = client.get_object(Bucket=tls_bucket, Key=key, ChecksumMode="ENABLED")
        assert got["Body"].read() == data
        assert got.get("ChecksumCRC32") == crc32_b64(data)
        assert "content-encoding" not in got["ResponseMetadata"]["HTTPHeaders"]
    ranged = client.get_object(Bucket=tls_bucket, Key="dir/obj-3", Range="bytes=1000-1999")["Body"].read()
    assert ranged == objects["dir/obj-3"][1000:2000]

    listed = client.list_objects_v2(Bucket=tls_bucket, Prefix="dir/")
    assert {o["Key"]: o["Size"] for o in listed["Contents"]} == {k: len(v) for k, v in objects.items()}
    assert tls_bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]
    client.delete_object(Bucket=tls_bucket, Key="dir/obj-0")
    assert len(client.list_objects_v2(Bucket=tls_bucket, Prefix="dir/")["Contents"]) == 3


def test_certificate_verifies_against_itself_and_not_the_system_store(tls_server):
    """The served chain is our certificate, valid for both 127.0.0.1 and localhost."""
    for endpoint in (tls_server.endpoint, tls_server.host_endpoint):
        tls_client(tls_server, verify=str(tls_server.cert), endpoint=endpoint).list_buckets()
    strict = tls_client(tls_server, verify=True)
    with pytest.raises(SSLError):
        strict.list_buckets()


def test_ec_key_certificate(tmp_path):
    srv = start_tls_server("tls-ec", tmp_path, "ec")
    try:
        client = tls_client(srv, verify=str(srv.cert))
        name = unique_bucket_name("tls-ec")
        client.create_bucket(Bucket=name)
        client.put_object(Bucket=name, Key="k", Body=b"over an EC certificate")
        assert client.get_object(Bucket=name, Key="k")["Body"].read() == b"over an EC certificate"
    finally:
        rc = srv.terminate(timeout=60)
        srv.cleanup_data()
    assert rc == 0, f"EC TLS server did not exit 0 on SIGTERM (rc={rc})"


def test_presigned_url_over_https_with_curl(tls_server, tls_s3, tls_bucket, tmp_path):
    tls_s3.put_object(Bucket=tls_bucket, Key="shared file.txt", Body=b"presigned over tls")
    url = tls_s3.generate_presigned_url("get_object", Params={"Bucket": tls_bucket, "Key": "shared file.txt"})
    out = tmp_path / "out"
    cmd = ["curl", "-sS", "--max-time", "30", "--cacert", str(tls_server.cert)]
    cmd += ["-o", str(out), "-w", "%{http_code}", url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "200", proc.stdout
    assert out.read_bytes() == b"presigned over tls"


# --------------------------------------------------------------------------- aws cli


def aws_cli(server: TlsServer, tmp_path: Path, multipart: bool):
    s3_settings = {"multipart_threshold": "8MB" if multipart else "5GB", "multipart_chunksize": "8MB"}
    env = aws_cli_env(tmp_path / "awscfg", server.access_key, server.secret_key, s3_settings)
    env["PYTHONWARNINGS"] = "ignore"

    def run(*args):
        cmd = [sys.executable, "-m", "awscli", "--endpoint-url", server.endpoint, "--no-verify-ssl", *map(str, args)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"{cmd}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
        return proc

    return run


@pytest.mark.parametrize("multipart", [False, True], ids=["single-put", "multipart-8MiB"])
def test_aws_cli_cp_64mib_up_and_down(tls_server, tls_s3, tls_bucket, tmp_path, multipart):
    aws = aws_cli(tls_server, tmp_path, multipart)
    src = tmp_path / "big.bin"
    data = rand_bytes(64 * MiB + 123, "tls-cli")
    src.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    del data

    aws("s3", "cp", src, f"s3://{tls_bucket}/cli/big.bin")
    head = tls_s3.head_object(Bucket=tls_bucket, Key="cli/big.bin")
    assert head["ContentLength"] == 64 * MiB + 123
    etag = head["ETag"].strip('"')
    if multipart:
        assert etag.endswith("-9"), etag  # 8 parts of 8 MiB and one of 123 bytes
    else:
        assert "-" not in etag, etag

    dst = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{tls_bucket}/cli/big.bin", dst)
    with open(dst, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == digest
    listing = aws("s3", "ls", f"s3://{tls_bucket}/cli/").stdout
    assert "big.bin" in listing and str(64 * MiB + 123) in listing, listing


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(16 * MiB):
            digest.update(block)
    return digest.hexdigest()


def test_aws_cli_cp_1gib_up_and_down(tls_server, tls_s3, tls_bucket, tmp_path):
    """The issue's 1 GiB round trip over HTTPS with aws cli's defaults (8 MB parts, 10 at once)."""
    aws = aws_cli(tls_server, tmp_path, multipart=True)
    src = tmp_path / "gib.bin"
    size = 1024 * MiB + 5
    with open(src, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(16 * MiB))
        f.write(b"tail!")
    digest = file_sha256(src)
    aws("s3", "cp", src, f"s3://{tls_bucket}/cli/gib.bin")
    head = tls_s3.head_object(Bucket=tls_bucket, Key="cli/gib.bin")
    assert head["ContentLength"] == size and head["ETag"].strip('"').endswith("-129"), head["ETag"]
    src.unlink()
    dst = tmp_path / "gib-back.bin"
    aws("s3", "cp", f"s3://{tls_bucket}/cli/gib.bin", dst)
    assert dst.stat().st_size == size and file_sha256(dst) == digest


# --------------------------------------------------------------------------- not TLS


def test_plain_http_to_https_port_fails_cleanly(tls_server, tls_s3, tls_bucket):
    tls_s3.put_object(Bucket=tls_bucket, Key="still", Body=b"still here")
    port = tls_server.port

    started = time.monotonic()
    try:
        r = requests.get(f"http://127.0.0.1:{port}/{tls_bucket}/still", timeout=10)
    except requests.exceptions.ReadTimeout:
        pytest.fail("plain HTTP on the TLS port hung until the client gave up")
    except requests.exceptions.ConnectionError:
        pass  # the TLS layer refused the bytes and closed: a clean failure
    else:
        # Answering plain HTTP on a TLS port with a 400 would be clean too; never the object.
        assert r.status_code == 400 and b"still here" not in r.content, (r.status_code, r.content[:300])
        assert xml_error_code(r.text) != "NoSuchKey", r.text[:300]
    assert time.monotonic() - started < 8, "plain HTTP on the TLS port took too long to fail"

    raw_requests = [
        f"GET /{tls_bucket}/still HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(),
        f"PUT /{tls_bucket}/plain HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".encode(),
        b"\x00\xff" * 600,  # garbage
        b"\x16\x03\x01\x00\x05hello",  # a TLS record header with a nonsense handshake
    ]
    for payload in raw_requests * 3:
        started = time.monotonic()
        reply = raw_exchange("127.0.0.1", port, payload, timeout=10)
        elapsed = time.monotonic() - started
        assert elapsed < 8, f"server held a non-TLS connection open for {elapsed:.1f}s"
        assert b"still here" not in reply
        assert http_status(reply) in (None, 400), reply[:200]

    # The server keeps serving TLS clients, and nothing was written by the plain PUT.
    assert tls_s3.get_object(Bucket=tls_bucket, Key="still")["Body"].read() == b"still here"
    keys = [o["Key"] for o in tls_s3.list_objects_v2(Bucket=tls_bucket)["Contents"]]
    assert keys == ["still"]
    assert tls_server.health_status() == 200
    assert tls_server.running()

