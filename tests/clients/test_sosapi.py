"""Veeam SOSAPI: the virtual system.xml and capacity.xml objects every bucket answers, and
the other things Veeam checks when a bucket is added (HEAD /, the bucket's region)."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config

from conftest import SERVER_BIN, MaxioServer
from helpers import (
    MiB,
    err_code,
    expect_client_error,
    md5_hex,
    object_path,
    signed_requests_call,
    unique_bucket_name,
)

FOLDER = ".system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c"
SYSTEM_KEY = f"{FOLDER}/system.xml"
CAPACITY_KEY = f"{FOLDER}/capacity.xml"
VIRTUAL_KEYS = (SYSTEM_KEY, CAPACITY_KEY)
PROLOG = b'<?xml version="1.0" encoding="utf-8" ?>'


def _get(s3, bucket: str, key: str) -> tuple[bytes, dict]:
    r = s3.get_object(Bucket=bucket, Key=key)
    body = r["Body"].read()
    return body, r


def _check_headers(r: dict, body: bytes) -> None:
    meta = r["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 200
    headers = meta["HTTPHeaders"]
    assert headers["content-type"] == "application/xml"
    assert int(headers["content-length"]) == len(body)
    assert r["ETag"] == f'"{md5_hex(body)}"'
    assert r["LastModified"] is not None
    assert headers.get("x-amz-request-id"), "every response carries x-amz-request-id"


def _children(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def _parse_system(body: bytes) -> dict:
    assert body.startswith(PROLOG), body[:80]
    root = ET.fromstring(body)
    assert root.tag == "SystemInfo"
    assert _children(root) == ["ProtocolVersion", "ModelName", "ProtocolCapabilities", "SystemRecommendations"]
    caps = root.find("ProtocolCapabilities")
    assert _children(caps) == ["CapacityInfo", "UploadSessions", "IAMSTS"]
    recs = root.find("SystemRecommendations")
    assert _children(recs) == [
        "S3ConcurrentTaskLimit",
        "S3MultiObjectDeleteLimit",
        "StorageConcurrentTasksLimit",
        "KbBlockSize",
    ]
    return {
        "ProtocolVersion": root.findtext("ProtocolVersion"),
        "ModelName": root.findtext("ModelName"),
        **{f"cap.{c.tag}": c.text for c in caps},
        **{f"rec.{c.tag}": int(c.text) for c in recs},
    }


def _parse_capacity(body: bytes) -> dict[str, int]:
    assert body.startswith(PROLOG), body[:80]
    root = ET.fromstring(body)
    assert root.tag == "CapacityInfo"
    assert _children(root) == ["Capacity", "Available", "Used"]
    return {child.tag: int(child.text) for child in root}


def _assert_default_system(fields: dict) -> None:
    assert fields["ProtocolVersion"] == '"1.0"', "the quotes are part of the value"
    model = fields["ModelName"]
    assert model.startswith('"maxiofs ') and model.endswith('"') and len(model) > len('"maxiofs "'), model
    assert fields["cap.CapacityInfo"] == "true"
    assert fields["cap.UploadSessions"] == "false"
    assert fields["cap.IAMSTS"] == "false"
    assert fields["rec.S3ConcurrentTaskLimit"] == 64
    assert fields["rec.S3MultiObjectDeleteLimit"] == 1000
    assert fields["rec.StorageConcurrentTasksLimit"] == 0
    assert fields["rec.KbBlockSize"] == 4096


# --------------------------------------------------------------------------- the documents


def test_system_xml_get_and_head(s3, bucket):
    body, r = _get(s3, bucket, SYSTEM_KEY)
    _check_headers(r, body)
    _assert_default_system(_parse_system(body))
    assert b"\n" not in body, "compact, as the reference implementations send it"

    head = s3.head_object(Bucket=bucket, Key=SYSTEM_KEY)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert head["ContentLength"] == len(body)
    assert head["ContentType"] == "application/xml"
    assert head["ETag"] == r["ETag"], "system.xml does not change between requests"
    assert head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")


def test_capacity_xml_get_and_head(server, s3, bucket):
    body, r = _get(s3, bucket, CAPACITY_KEY)
    _check_headers(r, body)
    fields = _parse_capacity(body)
    st = os.statvfs(server.data_dir)
    total = st.f_blocks * st.f_frsize
    free = st.f_bfree * st.f_frsize
    available = st.f_bavail * st.f_frsize
    # Other programs write on this filesystem too: allow for what changed in between.
    tolerance = max(256 * MiB, total // 100)
    assert fields["Capacity"] == total
    assert fields["Capacity"] >= fields["Available"] > 0
    assert abs(fields["Available"] - available) <= tolerance, (fields, available)
    assert abs(fields["Used"] - (total - free)) <= tolerance, (fields, total - free)
    assert fields["Used"] + fields["Available"] <= fields["Capacity"]

    head = s3.head_object(Bucket=bucket, Key=CAPACITY_KEY)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert head["ContentType"] == "application/xml"
    assert head["ContentLength"] > len(PROLOG)


def test_documents_in_every_bucket_and_virtual_host_style(s3, s3_virtual, bucket):
    other = unique_bucket_name("sosapi-other")
    s3.create_bucket(Bucket=other)
    try:
        for name in (bucket, other):
            body, _ = _get(s3_virtual, name, SYSTEM_KEY)
            _assert_default_system(_parse_system(body))
            _parse_capacity(_get(s3_virtual, name, CAPACITY_KEY)[0])
    finally:
        s3.delete_bucket(Bucket=other)


def test_range_and_conditional_reads(server, bucket):
    body, _ = _get(server.client(), bucket, SYSTEM_KEY)
    path = object_path(bucket, SYSTEM_KEY)
    call = lambda method, headers: signed_requests_call(  # noqa: E731
        server.endpoint, server.access_key, server.secret_key, method, path, headers=headers
    )
    r = call("GET", {"Range": "bytes=0-4"})
    assert r.status_code == 206, r.text
    assert r.content == b"<?xml"
    assert r.headers["content-range"] == f"bytes 0-4/{len(body)}"
    etag = f'"{md5_hex(body)}"'
    r = call("GET", {"If-None-Match": etag})
    assert r.status_code == 304
    r = call("GET", {"If-Match": '"0123456789abcdef0123456789abcdef"'})
    assert r.status_code == 412


# --------------------------------------------------------------------------- never stored, never listed


def _listed_keys(s3, bucket: str, version: int, **kw) -> tuple[list[str], list[str]]:
    page = s3.list_objects_v2(Bucket=bucket, **kw) if version == 2 else s3.list_objects(Bucket=bucket, **kw)
    keys = [o["Key"] for o in page.get("Contents", [])]
    prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes


@pytest.mark.parametrize("version", [1, 2])
def test_not_listed(s3, bucket, version):
    for kw in ({}, {"Prefix": ".system-"}, {"Prefix": f"{FOLDER}/"}, {"Delimiter": "/"}):
        assert _listed_keys(s3, bucket, version, **kw) == ([], []), kw

    # Other keys under the folder are ordinary objects, listed as usual.
    notes = f"{FOLDER}/notes.txt"
    s3.put_object(Bucket=bucket, Key=notes, Body=b"ordinary")
    assert s3.get_object(Bucket=bucket, Key=notes)["Body"].read() == b"ordinary"
    assert _listed_keys(s3, bucket, version) == ([notes], [])
    assert _listed_keys(s3, bucket, version, Prefix=".system-") == ([notes], [])
    assert _listed_keys(s3, bucket, version, Delimiter="/") == ([], [f"{FOLDER}/"])
    assert _listed_keys(s3, bucket, version, Prefix=f"{FOLDER}/", Delimiter="/") == ([notes], [])
    s3.delete_object(Bucket=bucket, Key=notes)
    assert _listed_keys(s3, bucket, version) == ([], [])


# --------------------------------------------------------------------------- refusals


def test_missing_bucket(s3):
    missing = unique_bucket_name("sosapi-missing")
    for key in VIRTUAL_KEYS:
        expect_client_error(s3.get_object, Bucket=missing, Key=key, code="NoSuchBucket", status=404)
        expect_client_error(s3.head_object, Bucket=missing, Key=key, status=404)
        expect_client_error(s3.put_object, Bucket=missing, Key=key, Body=b"x", code="NoSuchBucket", status=404)


def test_anonymous_and_badly_signed_requests_are_refused(server, bucket):
    for key in VIRTUAL_KEYS:
        url = server.endpoint + object_path(bucket, key)
        assert requests.get(url, timeout=30).status_code == 403
        assert requests.head(url, timeout=30).status_code == 403
    unsigned = boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )
    for key in VIRTUAL_KEYS:
        expect_client_error(unsigned.get_object, Bucket=bucket, Key=key, code="AccessDenied", status=403)
    wrong = boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=server.access_key,
        aws_secret_access_key="x" * 40,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )
    expect_client_error(wrong.get_object, Bucket=bucket, Key=SYSTEM_KEY, status=403)


def test_writes_to_the_virtual_keys_are_refused(s3, bucket):
    system_before, _ = _get(s3, bucket, SYSTEM_KEY)
    s3.put_object(Bucket=bucket, Key="source", Body=b"not a SOSAPI document")
    for key in VIRTUAL_KEYS:
        exc = expect_client_error(s3.put_object, Bucket=bucket, Key=key, Body=b"<x/>", code="AccessDenied", status=403)
        assert "reserved" in exc.response["Error"]["Message"]
        expect_client_error(s3.delete_object, Bucket=bucket, Key=key, code="AccessDenied", status=403)
        expect_client_error(
            s3.copy_object,
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": "source"},
            code="AccessDenied",
            status=403,
        )
        expect_client_error(s3.create_multipart_upload, Bucket=bucket, Key=key, code="AccessDenied", status=403)

    system_after, _ = _get(s3, bucket, SYSTEM_KEY)
    assert system_after == system_before
    _parse_capacity(_get(s3, bucket, CAPACITY_KEY)[0])
    keys, _ = _listed_keys(s3, bucket, 2)
    assert keys == ["source"]
    # Nothing at those keys can be tagged either: there is no stored object.
    for key in VIRTUAL_KEYS:
        exc = expect_client_error(s3.get_object_tagging, Bucket=bucket, Key=key, status=404)
        assert err_code(exc) == "NoSuchKey"


# --------------------------------------------------------------------------- server flags


def test_recommendations_from_the_environment(server_factory):
    srv = server_factory(
        "sosapi-flags",
        env={
            "MAXIOFS_SOSAPI_BLOCK_KIB": "1024",
            "MAXIOFS_SOSAPI_CONCURRENT_TASKS": "16",
            "MAXIOFS_SOSAPI_STORAGE_TASKS": "4",
        },
    )
    s3 = srv.client()
    s3.create_bucket(Bucket="veeam")
    fields = _parse_system(_get(s3, "veeam", SYSTEM_KEY)[0])
    assert fields["rec.KbBlockSize"] == 1024
    assert fields["rec.S3ConcurrentTaskLimit"] == 16
    assert fields["rec.StorageConcurrentTasksLimit"] == 4
    assert fields["rec.S3MultiObjectDeleteLimit"] == 1000
    assert srv.terminate() == 0


@pytest.mark.parametrize("block_kib", ["2048", "1000", "0"])
def test_invalid_block_size_refuses_to_start(block_kib):
    srv = MaxioServer(f"sosapi-bad-block-{block_kib}", env={"MAXIOFS_SOSAPI_BLOCK_KIB": block_kib})
    srv.start(wait=False)
    try:
        rc = srv.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        srv.kill9()
        rc = None
    srv.cleanup_data()
    assert rc not in (None, 0), f"--sosapi-block-kib {block_kib} must be refused"
    output = srv.output_of_last_start()
    assert "sosapi-block-kib" in output and "256, 512, 1024, 4096, 8192" in output, output


def test_help_documents_sosapi_flags():
    out = subprocess.run([str(SERVER_BIN), "server", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    for flag in (
        "--sosapi-concurrent-tasks",
        "MAXIOFS_SOSAPI_CONCURRENT_TASKS",
        "--sosapi-storage-tasks",
        "MAXIOFS_SOSAPI_STORAGE_TASKS",
        "--sosapi-block-kib",
        "MAXIOFS_SOSAPI_BLOCK_KIB",
    ):
        assert flag in out.stdout, flag


# --------------------------------------------------------------------------- other Veeam checks


def test_head_service_root(server):
    r = signed_requests_call(server.endpoint, server.access_key, server.secret_key, "HEAD", "/")
    assert r.status_code == 200, (r.status_code, r.headers)
    assert r.headers.get("x-amz-request-id")
    assert requests.head(server.endpoint + "/", timeout=30).status_code == 403, "HEAD / needs credentials"


def test_head_bucket_region_and_location(s3, bucket):
    head = s3.head_bucket(Bucket=bucket)
    assert head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region") == "us-east-1"
    # AWS answers an empty LocationConstraint for us-east-1.
    assert s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") in (None, "")


def test_region_of_another_region(server_factory):
    region = "eu-central-1"
    srv = server_factory("sosapi-region", env={"MAXIOFS_REGION": region})
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=srv.endpoint,
        region_name=region,
        aws_access_key_id=srv.access_key,
        aws_secret_access_key=srv.secret_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )
    s3.create_bucket(Bucket="veeam", CreateBucketConfiguration={"LocationConstraint": region})
    head = s3.head_bucket(Bucket="veeam")
    assert head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region") == region
    assert s3.get_bucket_location(Bucket="veeam")["LocationConstraint"] == region
    _assert_default_system(_parse_system(_get(s3, "veeam", SYSTEM_KEY)[0]))
    assert srv.terminate() == 0
