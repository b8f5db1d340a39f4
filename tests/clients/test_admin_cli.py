"""`maxiofs admin user|key|group|policy|role`: the IAM command line against a live server.

Every command runs as a separate process signed with the root key from the environment
(MAXIOFS_ENDPOINT, MAXIOFS_ACCESS_KEY, MAXIOFS_SECRET_KEY), as an operator would run it.
Names carry a per-test suffix so the tests share the session server without colliding.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from conftest import SERVER_BIN, free_port
from helpers import env_without_aws

POLICY_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::cli-bucket/*"]}],
}
POLICY_LIST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::cli-bucket"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}


def cli_env(endpoint: str, access_key: str | None, secret_key: str | None) -> dict:
    env = {k: v for k, v in env_without_aws().items() if not k.startswith("MAXIOFS_")}
    env["MAXIOFS_ENDPOINT"] = endpoint
    if access_key is not None:
        env["MAXIOFS_ACCESS_KEY"] = access_key
    if secret_key is not None:
        env["MAXIOFS_SECRET_KEY"] = secret_key
    return env


def run_cli(env: dict, *args, input_data: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SERVER_BIN), "admin", *map(str, args)],
        env=env,
        input=input_data,
        stdin=None if input_data is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def admin(server):
    """admin("user", "list", "--json") runs the CLI as root; check=False returns failures too."""
    env = cli_env(server.endpoint, server.access_key, server.secret_key)

    def run(*args, check: bool = True, input_data: str | None = None) -> subprocess.CompletedProcess:
        proc = run_cli(env, *args, input_data=input_data)
        if check:
            assert proc.returncode == 0, f"{args}: rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def run_json(*args, input_data: str | None = None):
        return json.loads(run(*args, "--json", input_data=input_data).stdout)

    run.json = run_json
    run.env = env
    return run


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:8]


def test_user_and_access_key_lifecycle(admin, server, suffix):
    user = f"cli-alice-{suffix}"
    created = admin("user", "create", user)
    assert user in created.stdout

    listed = admin.json("user", "list")
    assert user in [u["UserName"] for u in listed["Users"]]
    assert user in admin("user", "list").stdout
    got = admin.json("user", "get", user)["User"]
    assert got["UserName"] == user and got["Arn"].endswith(f":user/{user}")

    key = admin("key", "create", "--user", user, "--json")
    assert "only now" in key.stderr
    access_key = json.loads(key.stdout)["AccessKey"]
    key_id, secret = access_key["AccessKeyId"], access_key["SecretAccessKey"]
    assert access_key["Status"] == "Active" and access_key["UserName"] == user and len(secret) >= 20

    table = admin("key", "list", "--user", user)
    assert key_id in table.stdout and "Active" in table.stdout
    assert secret not in table.stdout, "the secret must be shown only by key create"
    listed_keys = admin.json("key", "list", "--user", user)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in listed_keys] == [(key_id, "Active")]
    assert secret not in json.dumps(listed_keys)

    # The new key signs: a user without policies is denied, not unknown.
    as_user = run_cli(cli_env(server.endpoint, key_id, secret), "user", "get", user)
    assert as_user.returncode in (0, 1), as_user.stderr
    if as_user.returncode == 1:
        assert as_user.stderr.startswith("AccessDenied:"), as_user.stderr

    admin("key", "disable", key_id, "--user", user)
    assert admin.json("key", "list", "--user", user)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    refused = run_cli(cli_env(server.endpoint, key_id, secret), "user", "get", user)
    assert refused.returncode == 1, f"a disabled key must not authenticate: {refused.stderr}"

    admin("key", "enable", key_id, "--user", user)
    assert admin.json("key", "list", "--user", user)["AccessKeyMetadata"][0]["Status"] == "Active"
    last_used = admin.json("key", "last-used", key_id)
    assert last_used.get("UserName") == user

    admin("key", "delete", key_id, "--user", user)
    assert admin.json("key", "list", "--user", user)["AccessKeyMetadata"] == []

    admin("user", "update", user, "--new-name", f"{user}-b")
    admin.json("user", "get", f"{user}-b")
    admin("user", "delete", f"{user}-b")
    gone = admin("user", "get", f"{user}-b", check=False)
    assert gone.returncode == 1
    assert gone.stderr.startswith("NoSuchEntity: "), gone.stderr


def test_group_membership_and_inline_policy(admin, suffix):
    user, group = f"cli-bob-{suffix}", f"cli-ops-{suffix}"
    admin("user", "create", user)
    admin("group", "create", group, "--path", "/cli/")
    assert group in [g["GroupName"] for g in admin.json("group", "list")["Groups"]]

    admin("group", "add-user", group, user)
    detail = admin.json("group", "get", group)
    assert detail["Group"]["GroupName"] == group and detail["Group"]["Path"] == "/cli/"
    assert [u["UserName"] for u in detail["Users"]] == [user]
    assert user in admin("group", "get", group).stdout
    assert [g["GroupName"] for g in admin.json("user", "groups", user)["Groups"]] == [group]

    # The document comes from stdin here; the policy commands also read files.
    admin("group", "put-policy", group, "read", "--document", "-", input_data=json.dumps(POLICY_READ))
    assert admin.json("group", "list-policies", group) == {"PolicyNames": ["read"]}
    inline = admin.json("group", "get-policy", group, "read")
    assert inline["GroupName"] == group and inline["PolicyName"] == "read"
    assert inline["PolicyDocument"] == POLICY_READ, "the URL-encoded document must come back as JSON"
    admin("group", "delete-policy", group, "read")
    assert admin.json("group", "list-policies", group) == {"PolicyNames": []}

    admin("user", "put-policy", user, "own", "--document", "-", input_data=json.dumps(POLICY_LIST))
    assert admin.json("user", "get-policy", user, "own")["PolicyDocument"] == POLICY_LIST
    admin("user", "delete-policy", user, "own")

    admin("group", "remove-user", group, user)
    assert admin.json("group", "get", group)["Users"] == []
    admin("group", "delete", group)
    admin("user", "delete", user)
    assert admin("group", "get", group, check=False).returncode == 1


def test_managed_policy_versions_and_attachments(admin, suffix, tmp_path):
    name, user = f"cli-read-{suffix}", f"cli-carol-{suffix}"
    doc_v1 = tmp_path / "v1.json"
    doc_v1.write_text(json.dumps(POLICY_READ, indent=2))
    doc_v2 = tmp_path / "v2.json"
    doc_v2.write_text(json.dumps(POLICY_LIST))

    created = admin.json("policy", "create", name, "--document", doc_v1, "--description", "read cli-bucket")
    arn = created["Policy"]["Arn"]
    assert created["Policy"]["PolicyName"] == name and created["Policy"]["DefaultVersionId"] == "v1"
    assert arn in [p["Arn"] for p in admin.json("policy", "list", "--scope", "Local")["Policies"]]

    shown = admin.json("policy", "get", arn)
    assert shown["Policy"]["Arn"] == arn
    assert shown["PolicyVersion"]["VersionId"] == "v1" and shown["PolicyVersion"]["IsDefaultVersion"] is True
    assert shown["PolicyVersion"]["Document"] == POLICY_READ
    assert "s3:GetObject" in admin("policy", "get", arn).stdout

    version = admin.json("policy", "create-version", arn, "--document", doc_v2, "--set-default")
    assert version["PolicyVersion"]["VersionId"] == "v2"
    assert admin.json("policy", "get", arn)["PolicyVersion"]["Document"] == POLICY_LIST
    versions = admin.json("policy", "versions", arn)["Versions"]
    assert sorted((v["VersionId"], v["IsDefaultVersion"]) for v in versions) == [("v1", False), ("v2", True)]
    admin("policy", "set-default", arn, "v1")
    assert admin.json("policy", "get", arn)["PolicyVersion"]["VersionId"] == "v1"
    admin("policy", "delete-version", arn, "v2")

    admin("user", "create", user)
    admin("user", "attach-policy", user, arn)
    attached = admin.json("user", "list-attached", user)["AttachedPolicies"]
    assert attached == [{"PolicyName": name, "PolicyArn": arn}]
    assert admin.json("policy", "get", arn)["Policy"]["AttachmentCount"] == 1
    in_use = admin("policy", "delete", arn, check=False)
    assert in_use.returncode == 1 and in_use.stderr.startswith("DeleteConflict: "), in_use.stderr
    admin("user", "detach-policy", user, arn)
    assert admin.json("user", "list-attached", user)["AttachedPolicies"] == []
    admin("user", "delete", user)
    admin("policy", "delete", arn)
    assert admin("policy", "get", arn, check=False).stderr.startswith("NoSuchEntity: ")


def test_role_trust_and_policies(admin, suffix, tmp_path):
    role = f"cli-role-{suffix}"
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(TRUST))
    created = admin.json("role", "create", role, "--trust", trust, "--max-session-duration", "7200")
    assert created["Role"]["RoleName"] == role
    got = admin.json("role", "get", role)["Role"]
    assert got["AssumeRolePolicyDocument"] == TRUST and got["MaxSessionDuration"] == 7200
    assert role in [r["RoleName"] for r in admin.json("role", "list")["Roles"]]

    only_root = {"AWS": "arn:aws:iam::000000000000:root"}
    narrower = dict(TRUST, Statement=[dict(TRUST["Statement"][0], Principal=only_root)])
    admin("role", "update-trust", role, "--trust", "-", input_data=json.dumps(narrower))
    assert admin.json("role", "get", role)["Role"]["AssumeRolePolicyDocument"] == narrower

    admin("role", "put-policy", role, "read", "--document", "-", input_data=json.dumps(POLICY_READ))
    assert admin.json("role", "get-policy", role, "read")["PolicyDocument"] == POLICY_READ
    assert admin.json("role", "list-policies", role)["PolicyNames"] == ["read"]
    admin("role", "delete-policy", role, "read")

    arn = admin.json("policy", "create", f"{role}-p", "--document", "-", input_data=json.dumps(POLICY_LIST))[
        "Policy"
    ]["Arn"]
    admin("role", "attach-policy", role, arn)
    assert [p["PolicyArn"] for p in admin.json("role", "list-attached", role)["AttachedPolicies"]] == [arn]
    admin("role", "detach-policy", role, arn)
    admin("policy", "delete", arn)
    admin("role", "delete", role)
    assert admin("role", "get", role, check=False).returncode == 1


def test_lists_follow_markers_to_the_end(admin, suffix):
    path = f"/cli-paging-{suffix}/"
    names = [f"cli-page-{suffix}-{i}" for i in range(5)]
    for name in names:
        admin("user", "create", name, "--path", path)
    listed = admin.json("user", "list", "--path-prefix", path, "--page-size", "2")["Users"]
    assert sorted(u["UserName"] for u in listed) == names
    table = admin("user", "list", "--path-prefix", path, "--page-size", "2").stdout.splitlines()
    assert table[0].split() == ["UserName", "UserId", "Path", "CreateDate", "Arn"]
    assert sorted(line.split()[0] for line in table[1:]) == names
    for name in names:
        admin("user", "delete", name)


def test_exit_status_and_refusals(admin, server, tmp_path):
    # An AWS error: exit 1, `Code: Message` on stderr.
    missing = admin("user", "get", "cli-nobody-here", check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("NoSuchEntity: "), missing.stderr

    wrong_secret = run_cli(cli_env(server.endpoint, server.access_key, "x" * 40), "user", "list")
    assert wrong_secret.returncode == 1, wrong_secret.stderr
    assert "x" * 40 not in wrong_secret.stderr + wrong_secret.stdout

    # Usage and connection problems: exit 2.
    refused = run_cli(admin.env, "user", "list", "--secret-key", server.secret_key)
    assert refused.returncode == 2 and "--secret-key" in refused.stderr
    assert server.secret_key not in refused.stderr

    no_secret = run_cli(cli_env(server.endpoint, server.access_key, None), "user", "list")
    assert no_secret.returncode == 2 and "MAXIOFS_SECRET_KEY" in no_secret.stderr

    secret_file = tmp_path / "secret"
    secret_file.write_text(server.secret_key + "\n")
    without_env_secret = cli_env(server.endpoint, server.access_key, None)
    from_file = run_cli(without_env_secret, "user", "list", "--secret-key-file", secret_file)
    assert from_file.returncode == 0, from_file.stderr

    not_json = tmp_path / "bad.json"
    not_json.write_text("{not json")
    bad_doc = admin("policy", "create", "cli-bad", "--document", not_json, check=False)
    assert bad_doc.returncode == 2 and "JSON" in bad_doc.stderr

    nobody_listening = cli_env(f"http://127.0.0.1:{free_port()}", server.access_key, server.secret_key)
    closed = run_cli(nobody_listening, "user", "list", "--timeout", "5")
    assert closed.returncode == 2 and closed.stderr.startswith("maxiofs admin: "), closed.stderr

    assert run_cli(admin.env, "user", "frobnicate").returncode == 2


def test_help_lists_the_iam_commands():
    help_text = subprocess.run([str(SERVER_BIN), "admin", "--help"], capture_output=True, text=True, timeout=30)
    assert help_text.returncode == 0
    for command in ("user", "key", "group", "policy", "role"):
        assert command in help_text.stdout
    user_help = subprocess.run(
        [str(SERVER_BIN), "admin", "user", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "MAXIOFS_SECRET_KEY": "never-shown-in-help"},
    )
    assert user_help.returncode == 0 and "put-policy" in user_help.stdout
    assert "never-shown-in-help" not in user_help.stdout
