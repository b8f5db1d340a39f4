"""Maintenance mode and the readiness probe.

`maxiofs admin maintenance on` (or `PUT /api/v1/maintenance`): S3 writes answer 503
ServiceUnavailable with Retry-After and store nothing, reads keep working, the mode survives a
kill -9 and restart, only system admins may switch it, and `off` lets writes resume.
`/_maxiofs/ready` answers 200 while the server takes writes (maintenance keeps it ready).
"""

from __future__ import annotations

import subprocess

import requests

from admin_api import AdminApi
from conftest import SERVER_BIN
from helpers import env_without_aws, expect_client_error, object_absent, unique_bucket_name


def cli(server, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in env_without_aws().items() if not k.startswith("MAXIOFS_")}
    env.update(MAXIOFS_CONSOLE_ENDPOINT=server.console_endpoint, MAXIOFS_ACCESS_KEY=server.access_key,
               MAXIOFS_SECRET_KEY=server.secret_key)
    done = subprocess.run([str(SERVER_BIN), "admin", "maintenance", *args], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_writes_pause_reads_continue_and_the_mode_survives_a_crash(server_factory):
    srv = server_factory("maintenance")
    s3 = srv.client()
    bucket = unique_bucket_name("maint")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="kept", Body=b"still readable")
    assert requests.get(f"{srv.endpoint}/_maxiofs/ready", timeout=10).status_code == 200
    assert "off" in cli(srv, "status").stdout

    assert "on" in cli(srv, "on").stdout
    err = expect_client_error(s3.put_object, Bucket=bucket, Key="new", Body=b"x",
                              code="ServiceUnavailable", status=503)
    assert err.response["ResponseMetadata"]["HTTPHeaders"].get("retry-after") == "60"
    expect_client_error(s3.delete_object, Bucket=bucket, Key="kept", code="ServiceUnavailable", status=503)
    expect_client_error(s3.create_multipart_upload, Bucket=bucket, Key="mpu", code="ServiceUnavailable")
    expect_client_error(s3.create_bucket, Bucket=unique_bucket_name("maint2"), code="ServiceUnavailable")
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"still readable"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["kept"]
    s3.head_object(Bucket=bucket, Key="kept")
    assert requests.get(f"{srv.endpoint}/_maxiofs/ready", timeout=10).status_code == 200

    srv.kill9()
    srv.restart()
    s3 = srv.client()
    expect_client_error(s3.put_object, Bucket=bucket, Key="new", Body=b"x", code="ServiceUnavailable")
    assert "on" in cli(srv, "status").stdout

    cli(srv, "off")
    assert object_absent(s3, bucket, "new")
    s3.put_object(Bucket=bucket, Key="new", Body=b"after")
    assert s3.get_object(Bucket=bucket, Key="new")["Body"].read() == b"after"


def test_only_system_admins_switch_it(server):
    admin = AdminApi(server)
    name = unique_bucket_name("mt")[:20].replace("-", "")
    _, _, _ = admin.tenant_with_key(name)
    tenant_admin = AdminApi(server, f"{name}/admin", "correct horse battery")
    tenant_admin.call("PUT", "/maintenance", expect=403, json={"enabled": True})
    tenant_admin.call("GET", "/maintenance", expect=403)
    admin.call("PUT", "/maintenance", expect=400, json={"enabled": "yes"})
    assert admin.call("GET", "/maintenance", expect=200).json() == {"enabled": False}


def test_ready_probe_needs_no_credentials_and_takes_only_get(server):
    assert requests.get(f"{server.endpoint}/_maxiofs/ready", timeout=10).text == "ok\n"
    assert requests.head(f"{server.endpoint}/_maxiofs/ready", timeout=10).status_code == 200
    assert requests.post(f"{server.endpoint}/_maxiofs/ready", timeout=10).status_code == 405
