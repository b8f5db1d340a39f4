"""The `maxiofs` command line: help, generated root credentials, shard count of a data dir."""

from __future__ import annotations

import re
import subprocess

from botocore.exceptions import ClientError

from conftest import SERVER_BIN
from helpers import make_client


def test_help_documents_server_options():
    top = subprocess.run([str(SERVER_BIN), "--help"], capture_output=True, text=True, timeout=30)
    assert top.returncode == 0, top.stderr
    assert "server" in top.stdout
    sub = subprocess.run([str(SERVER_BIN), "server", "--help"], capture_output=True, text=True, timeout=30)
    assert sub.returncode == 0, sub.stderr
    for opt in ("--data-dir", "--listen", "--shards", "MAXIOFS_ROOT_ACCESS_KEY", "MAXIOFS_ROOT_SECRET_KEY"):
        assert opt in sub.stdout, f"{opt} not documented in `maxiofs server --help`:\n{sub.stdout}"


def test_first_start_generates_and_prints_root_keys_once(server_factory):
    srv = server_factory("genkeys", root_keys_from_env=False)
    out = srv.output_of_last_start()
    ids = set(re.findall(r"\b(AKIA[A-Z0-9]{16})\b", out))
    secrets = set(re.findall(r"(?<![A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])", out))
    assert len(ids) == 1, f"expected one generated AKIA-style access key id in the output:\n{out[-3000:]}"
    access = ids.pop()
    working = None
    for secret in secrets:
        try:
            make_client(srv.endpoint, access, secret).list_buckets()
        except ClientError:
            continue
        working = secret
        break
    assert working, f"no printed 40-character secret works with {access}:\n{out[-3000:]}"

    assert srv.terminate() == 0
    srv.restart()
    again = srv.output_of_last_start()
    assert working not in again, "the secret must be printed only at the first start"
    make_client(srv.endpoint, access, working).list_buckets()  # still valid after restart
    assert srv.terminate() == 0


def test_data_dir_refuses_another_shard_count(server_factory):
    srv = server_factory("shards", shards=2)
    srv.client().create_bucket(Bucket="kept")
    assert srv.terminate() == 0
    srv.shards = 1
    srv.start(wait=False)
    try:
        rc = srv.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        rc = None
    assert rc not in (None, 0), "a data dir created with --shards 2 must not open with --shards 1"
    assert "shard" in srv.output_of_last_start().lower(), "the refusal should say why"
    srv.shards = 2
    srv.start()
    assert "kept" in [b["Name"] for b in srv.client().list_buckets()["Buckets"]]
    assert srv.terminate() == 0
