"""Shared helpers for the client compatibility suite (no fixtures here: see conftest.py)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import random
import socket
import time
import uuid
import zlib
from pathlib import Path
from urllib.parse import quote

import boto3
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"

MiB = 1024 * 1024
KiB = 1024

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_UNSIGNED_PAYLOAD_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


# --------------------------------------------------------------------------- digests


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_b64(data: bytes) -> str:
    return b64(hashlib.md5(data).digest())


def crc32_b64(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def crc32c_b64(data: bytes) -> str:
    from awscrt.checksums import crc32c

    return b64(crc32c(data).to_bytes(4, "big"))


def sha1_b64(data: bytes) -> str:
    return b64(hashlib.sha1(data).digest())


def sha256_b64(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())


CHECKSUM_FUNCS = {
    "CRC32": crc32_b64,
    "CRC32C": crc32c_b64,
    "SHA1": sha1_b64,
    "SHA256": sha256_b64,
}


def rand_bytes(n: int, seed) -> bytes:
    """Deterministic pseudo-random bytes."""
    return random.Random(seed).randbytes(n)


# --------------------------------------------------------------------------- boto errors


def err_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def err_status(exc: ClientError) -> int:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


def expect_client_error(fn, *args, code=None, status=None, **kwargs) -> ClientError:
    """Call fn and assert it raises a ClientError with the given S3 code / HTTP status."""
    try:
        result = fn(*args, **kwargs)
    except ClientError as exc:
        if code is not None:
            codes = code if isinstance(code, (tuple, list, set)) else (code,)
            assert err_code(exc) in codes, (
                f"expected error code {codes}, got {err_code(exc)!r} "
                f"(HTTP {err_status(exc)}): {exc.response.get('Error')}"
            )
        if status is not None:
            assert err_status(exc) == status, f"expected HTTP {status}, got {err_status(exc)} ({err_code(exc)!r})"
        return exc
    raise AssertionError(f"expected a ClientError (code={code}, status={status}), got success: {result!r}"[:2000])


def object_absent(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if err_status(exc) == 404:
            return True
        raise
    return False


# --------------------------------------------------------------------------- raw signed requests


class _Signer(S3SigV4Auth):
    """botocore's S3 SigV4 signer, with an optional forced x-amz-content-sha256 value."""

    def __init__(self, credentials, region, payload_hash=None):
        super().__init__(credentials, "s3", region)
        self._forced_payload_hash = payload_hash

    def payload(self, request):
        if self._forced_payload_hash is not None:
            return self._forced_payload_hash
        return super().payload(request)


def object_path(bucket: str, key: str = "") -> str:
    """Path-style request path with the key percent-encoded the way the SDKs do it."""
    path = "/" + bucket
    if key:
        path += "/" + quote(key, safe="/~")
    return path


def sign_request(
    endpoint: str,
    access_key: str,
    secret_key: str,
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict | None = None,
    body: bytes = b"",
    payload_hash: str | None = None,
    region: str = REGION,
) -> tuple[str, dict]:
    """Sign a request with SigV4 (botocore). Returns (url, headers).

    payload_hash: value of x-amz-content-sha256 to sign and send; default is the real
    SHA-256 of body.
    """
    url = endpoint.rstrip("/") + path + (("?" + query) if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    signer = _Signer(Credentials(access_key, secret_key), region, payload_hash)
    signer.add_auth(req)
    out = {k: v for k, v in req.headers.items()}
    if not any(k.lower() == "host" for k in out):
        from urllib.parse import urlsplit

        out["Host"] = urlsplit(url).netloc
    return url, out


def signed_requests_call(endpoint, access_key, secret_key, method, path, **kw) -> requests.Response:
    body = kw.get("body", b"")
    timeout = kw.pop("timeout", 60)
    url, headers = sign_request(endpoint, access_key, secret_key, method, path, **kw)
    return requests.request(method, url, headers=headers, data=body, timeout=timeout)


def xml_error_code(text: str) -> str | None:
    import re

    m = re.search(r"<Code>([^<]*)</Code>", text)
    return m.group(1) if m else None


def aws_chunked_body(data: bytes, trailer_name: str, trailer_value: str, chunk: int = 64 * KiB) -> bytes:
    """An aws-chunked body (STREAMING-UNSIGNED-PAYLOAD-TRAILER) with one trailing checksum."""
    out = bytearray()
    for i in range(0, len(data), chunk):
        piece = data[i : i + chunk]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    out += b"0\r\n" + f"{trailer_name}:{trailer_value}\r\n".encode() + b"\r\n"
    return bytes(out)


# --------------------------------------------------------------------------- raw sockets


def raw_exchange(host: str, port: int, payload: bytes, *, timeout: float = 15.0, shutdown_write=False) -> bytes:
    """Send payload on a fresh TCP connection and read until the server closes (or timeout)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(payload)
        if shutdown_write:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


def http_status(raw: bytes) -> int | None:
    """Status code of the first HTTP response in raw bytes (skipping 1xx interim responses)."""
    rest = raw
    while rest.startswith(b"HTTP/"):
        line, _, rest_after = rest.partition(b"\r\n")
        parts = line.split(b" ")
        try:
            code = int(parts[1])
        except (IndexError, ValueError):
            return None
        if 100 <= code < 200:
            _, _, rest = rest.partition(b"\r\n\r\n")
            continue
        return code
    return None


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as exc:  # noqa: BLE001 - polling
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_exc!r})")


def env_without_aws() -> dict:
    """os.environ without any AWS_* / RCLONE_* / S3CMD settings of the person running the tests."""
    return {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("AWS_") or k.startswith("RCLONE_") or k.startswith("BOTO"))
    }


def aws_cli_env(cfg_dir, access_key: str, secret_key: str, s3_settings: dict[str, str] | None = None) -> dict:
    """The environment for running aws cli v1 against a test server: a private config file
    (region, path-style addressing, plus `s3_settings` such as multipart_chunksize) and
    credentials, one try per request (the cli's retries would hide server errors)."""
    cfg_dir.mkdir(parents=True, exist_ok=True)
    settings = {"addressing_style": "path", **(s3_settings or {})}
    lines = "".join(f"    {name} = {value}\n" for name, value in settings.items())
    (cfg_dir / "config").write_text(f"[default]\nregion = {REGION}\ns3 =\n{lines}")
    (cfg_dir / "credentials").write_text("")
    env = env_without_aws()
    env.update(
        {
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(cfg_dir / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(cfg_dir / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
        }
    )
    return env


# --------------------------------------------------------------------------- clients and buckets


def make_client(endpoint, access_key, secret_key, addressing_style="path", **config_kw):
    cfg = dict(
        signature_version="s3v4",
        region_name=REGION,
        s3={"addressing_style": addressing_style},
        # No retries: a server error must surface as a test failure, not be papered over.
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
        max_pool_connections=48,
    )
    cfg.update(config_kw)
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=Config(**cfg),
    )


_bucket_counter = itertools.count(1)
_RUN_TAG = uuid.uuid4().hex[:6]


def unique_bucket_name(hint: str = "t") -> str:
    hint = "".join(c if c.isalnum() else "-" for c in hint.lower()).strip("-")[:30] or "t"
    return f"{hint}-{_RUN_TAG}-{next(_bucket_counter)}".strip("-")[:63]


def empty_and_delete_bucket(client, name: str) -> None:
    """Best-effort cleanup (errors ignored: the test itself asserts what matters)."""
    try:
        # Every version and delete marker, so versioned buckets empty too.
        while True:
            page = client.list_object_versions(Bucket=name, MaxKeys=1000)
            entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
            objects = [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries]
            if objects:
                client.delete_objects(Bucket=name, Delete={"Objects": objects, "Quiet": True})
            if not page.get("IsTruncated") or not objects:
                break
        client.delete_bucket(Bucket=name)
    except Exception:  # noqa: BLE001
        pass


# --------------------------------------------------------------------------- segment files


def segment_bytes_on_disk(data_dir) -> int:
    """Bytes the filesystem allocated to segment files (preallocated, so whole segments)."""
    total = 0
    for root, _dirs, files in os.walk(data_dir):
        for name in files:
            if name.startswith("seg-"):
                try:
                    total += os.stat(os.path.join(root, name)).st_blocks * 512
                except FileNotFoundError:
                    pass  # removed by the compactor while we walked
    return total


def wait_for_segments_at_most(data_dir, limit_bytes: int, timeout_s: float) -> int:
    """Polls until the segment files take at most `limit_bytes`; returns the last figure."""
    deadline = time.monotonic() + timeout_s
    while True:
        used = segment_bytes_on_disk(data_dir)
        if used <= limit_bytes or time.monotonic() > deadline:
            return used
        time.sleep(0.5)



def make_ca_and_leaf(directory: Path, host: str = "localhost") -> tuple[Path, Path, Path]:
    """A private CA and a server certificate it signed for `host` and 127.0.0.1 (webpki refuses a
    self-signed CA certificate as a server's own): returns (ca.pem, cert.pem, key.pem)."""
    import subprocess

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, stdin=subprocess.DEVNULL)

    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "key.pem", "leaf.csr", "cert.pem"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(ca_key),
            "-out", str(ca), "-subj", "/CN=maxiofs test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={host}")
    extensions = directory / "leaf.ext"
    extensions.write_text(f"subjectAltName=DNS:{host},IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                          "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "2", "-out", str(cert), "-extfile", str(extensions))
    return ca, cert, key
