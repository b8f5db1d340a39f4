"""`maxiofs admin tenant|user|key|quota|usage|audit` against a live server's admin API, as an
operator would run them: tenants, their users and keys made through the command line work
with real S3 clients, quotas set there hold, and the audit log comes out as CSV."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import SERVER_BIN
from helpers import env_without_aws, make_client


@pytest.fixture
def cli(server):
    env = {k: v for k, v in env_without_aws().items() if not k.startswith("MAXIOFS_")}
    env.update(MAXIOFS_CONSOLE_ENDPOINT=server.console_endpoint, MAXIOFS_ACCESS_KEY=server.access_key,
               MAXIOFS_SECRET_KEY=server.secret_key)

    def run(*args, check=True, extra_env=None):
        done = subprocess.run([str(SERVER_BIN), "admin", *map(str, args)], env=env | (extra_env or {}),
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if check:
            assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    return run


def test_tenants_users_keys_and_quotas_from_the_command_line(cli, server):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    tenant = json.loads(cli("tenant", "create", name, "--display-name", "CLI Corp", "--storage-bytes", "2MiB",
                            "--buckets", "1", "--json").stdout)
    assert tenant["quota"]["storage_bytes"] == 2 << 20 and tenant["quota"]["buckets"] == 1
    assert name in cli("tenant", "list").stdout
    cli("user", "create", "ops", "--tenant", name, "--role", "tenant-admin",
        extra_env={"MAXIOFS_USER_PASSWORD": "correct horse battery"})
    users = json.loads(cli("user", "list", "--tenant", name, "--json").stdout)["users"]
    assert [(u["name"], u["role"]) for u in users] == [("ops", "tenant-admin")]
    key = json.loads(cli("key", "create", "--tenant", name, "--user", "ops", "--json").stdout)
    listed = cli("key", "list", "--tenant", name, "--user", "ops", "--json").stdout
    assert key["access_key_id"] in listed and key["secret_access_key"] not in listed

    s3 = make_client(server.endpoint, key["access_key_id"], key["secret_access_key"])
    bucket = f"{name}-b"
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as second:
        s3.create_bucket(Bucket=f"{name}-c")
    assert second.value.response["Error"]["Code"] == "QuotaExceeded"
    s3.put_object(Bucket=bucket, Key="a", Body=b"x" * (1 << 20))
    cli("quota", "set", bucket, "--objects", "1")
    assert json.loads(cli("quota", "get", bucket, "--json").stdout)["quota"]["objects"] == 1
    with pytest.raises(ClientError) as full:
        s3.put_object(Bucket=bucket, Key="b", Body=b"y")
    assert full.value.response["Error"]["Code"] == "QuotaExceeded"
    usage = json.loads(cli("usage", "--tenant", name, "--json").stdout)["tenants"][0]
    assert (usage["objects"], usage["storage_bytes"], usage["buckets"]) == (1, 1 << 20, 1)

    # Suspended from the command line: its key stops working, its data stays.
    cli("tenant", "update", name, "--status", "suspended")
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=bucket, Key="a")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    cli("tenant", "update", name, "--status", "active")
    assert len(s3.get_object(Bucket=bucket, Key="a")["Body"].read()) == 1 << 20

    # The tenant's own admin signs in with its password and sees only its tenant.
    own = cli("tenant", "list", "--json", extra_env={"MAXIOFS_ADMIN_USER": f"{name}/ops",
                                                     "MAXIOFS_ADMIN_PASSWORD": "correct horse battery"})
    assert [t["name"] for t in json.loads(own.stdout)["tenants"]] == [name]
    other = cli("tenant", "get", "default", check=False,
                extra_env={"MAXIOFS_ADMIN_USER": f"{name}/ops", "MAXIOFS_ADMIN_PASSWORD": "correct horse battery"})
    assert other.returncode == 1 and "AccessDenied" in other.stdout + other.stderr

    # Everything above is in the audit log, and the CSV export parses.
    rows = list(csv.DictReader(io.StringIO(cli("audit", "--limit", "10000", "--csv").stdout)))
    actions = {(row["action"], row["outcome"]) for row in rows if name in row["target"]}
    for expected in ("admin:CreateTenant", "admin:CreateUser", "admin:CreateKey", "admin:UpdateTenant",
                     "admin:PutBucketQuota"):
        assert (expected, "success") in actions, (expected, actions)
    assert any(row["action"] == "s3:CreateBucket" and row["target"] == f"/{bucket}" for row in rows)

    # Cleanup through the CLI too: a tenant with buckets cannot go.
    assert cli("tenant", "delete", name, check=False).returncode == 1
    s3.delete_object(Bucket=bucket, Key="a")
    s3.delete_bucket(Bucket=bucket)
    cli("tenant", "delete", name)
    assert cli("tenant", "get", name, check=False).returncode == 1
