"""Upgrades in place: today's binary starts on a data directory written by an earlier release
(tests/fixtures/upgrade-f63e962: made by scripts/make_upgrade_fixture.py with the build of commit
f63e962, two shards, encryption on) and serves everything that release acknowledged: every
object's bytes, metadata and tags, the versions of a versioned bucket, a multipart object, the
bucket policy's anonymous read, and an IAM user's key with its policy. Then writes work too."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import requests

from conftest import MaxioServer
from helpers import expect_client_error, make_client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_todays_binary_reads_an_earlier_releases_data(tmp_path):
    fixture = FIXTURES / "upgrade-f63e962"
    expected = json.loads(fixture.with_suffix(".json").read_text())
    with tarfile.open(f"{fixture}.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    srv = MaxioServer("upgrade", data_dir=tmp_path / "data", shards=2, root_keys_from_env=False)
    srv.access_key = expected["root"]["access_key_id"]
    srv.secret_key = expected["root"]["secret_access_key"]
    srv.start()
    try:
        s3 = srv.client()
        for entry in expected["objects"]:
            got = s3.get_object(Bucket=entry["bucket"], Key=entry["key"])
            body = got["Body"].read()
            assert len(body) == entry["size"], entry["key"]
            assert hashlib.md5(body).hexdigest() == entry["md5"], entry["key"]
            if "metadata" in entry:
                assert got["Metadata"] == entry["metadata"]
                assert got["ContentType"] == entry["contenttype"]
            if "tagging" in entry:
                tags = s3.get_object_tagging(Bucket=entry["bucket"], Key=entry["key"])["TagSet"]
                assert {t["Key"]: t["Value"] for t in tags} == dict(
                    pair.split("=") for pair in entry["tagging"].split("&"))
        for version in expected["versions"]:
            got = s3.get_object(Bucket="fixture-versions", Key="doc", VersionId=version["version_id"])
            assert got["Body"].read().decode() == version["body"]
        listed = s3.list_object_versions(Bucket="fixture-versions")["Versions"]
        assert len(listed) == len(expected["versions"])
        anonymous = requests.get(f"{srv.endpoint}/fixture-plain/objects/02-4096", timeout=30)
        assert anonymous.status_code == 200 and len(anonymous.content) == 4096
        assert requests.get(f"{srv.endpoint}/fixture-plain/with-meta", timeout=30).status_code == 403
        user = make_client(srv.endpoint, expected["user"]["access_key_id"],
                           expected["user"]["secret_access_key"], "path")
        assert user.get_object(Bucket="fixture-plain", Key="multipart")["ContentLength"] == 300_000
        expect_client_error(user.put_object, Bucket="fixture-plain", Key="x", Body=b"x", code="AccessDenied")
        # The upgraded directory takes new writes.
        s3.put_object(Bucket="fixture-plain", Key="after-upgrade", Body=b"new")
        assert s3.get_object(Bucket="fixture-plain", Key="after-upgrade")["Body"].read() == b"new"
    finally:
        assert srv.terminate(timeout=60) == 0
