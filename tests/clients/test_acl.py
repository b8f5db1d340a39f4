"""ACLs, object ownership and Block Public Access, with boto3, curl and plain requests.

- Grants to a second account (a tenant made through the admin API) work only together with that
  account's own IAM permission, as on AWS; grants to AllUsers let anyone read; both show in
  GetObjectAcl / GetBucketAcl.
- BucketOwnerEnforced (the default for new buckets) refuses every ACL but the owner's with
  AccessControlListNotSupported, and CreateBucket with a public ACL with
  InvalidBucketAclWithObjectOwnership.
- Block Public Access: BlockPublicAcls refuses public ACLs, IgnorePublicAcls makes them count for
  nothing, BlockPublicPolicy refuses a public bucket policy (GetBucketPolicyStatus agrees), and
  RestrictPublicBuckets limits a public policy to the owner's account.
- Limits: an ACL document over 64 KiB and more than 100 grants are refused.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import boto3
import pytest
import requests
from botocore.config import Config

from admin_api import AdminApi
from helpers import (
    empty_and_delete_bucket,
    expect_client_error,
    make_client,
    md5_b64,
    signed_requests_call,
    unique_bucket_name,
    wait_for,
)

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture(scope="module")
def admin(server):
    return AdminApi(server)


@pytest.fixture(scope="module")
def other(server, admin):
    """A second account: its tenant admin's S3 client and access key."""
    name = f"acl{uuid.uuid4().hex[:8]}"
    tenant, admin_client, key = admin.tenant_with_key(name)
    return {"tenant": tenant, "s3": admin_client, "key": key, "name": name}


def iam_client(server, key):
    return boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        aws_access_key_id=key["access_key_id"],
        aws_secret_access_key=key["secret_access_key"],
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def grants_of(acl: dict) -> set[tuple[str, str]]:
    out = set()
    for grant in acl["Grants"]:
        grantee = grant["Grantee"]
        who = grantee.get("ID") or grantee.get("URI")
        out.add((who, grant["Permission"]))
    return out


@pytest.fixture
def acl_bucket(s3):
    """A bucket with ACLs enabled (ObjectWriter), emptied and deleted afterwards."""
    name = unique_bucket_name("acl")
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    yield name
    empty_and_delete_bucket(s3, name)


def anonymous_get(server, bucket: str, key: str) -> int:
    """The status of an unsigned GET, by curl when it is installed (as an operator would try)."""
    url = f"{server.endpoint}/{bucket}/{key}"
    if shutil.which("curl"):
        out = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url],
            capture_output=True, text=True, timeout=30, check=False,
        )
        return int(out.stdout)
    return requests.get(url, timeout=30).status_code


def test_new_bucket_owner_enforced_refuses_acls(s3, bucket):
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    for call, kw in (
        (s3.put_object, {"Key": "k", "Body": b"x", "ACL": "public-read"}),
        (s3.put_bucket_acl, {"ACL": "public-read"}),
        (s3.put_bucket_acl, {"GrantRead": f'uri="{ALL_USERS}"'}),
        (s3.create_multipart_upload, {"Key": "k", "ACL": "authenticated-read"}),
        (s3.copy_object, {"Key": "k2", "CopySource": {"Bucket": bucket, "Key": "k"}, "ACL": "public-read"}),
    ):
        if call is s3.copy_object:
            s3.put_object(Bucket=bucket, Key="k", Body=b"x")
        expect_client_error(call, Bucket=bucket, **kw, code="AccessControlListNotSupported", status=400)
    expect_client_error(s3.head_object, Bucket=bucket, Key="k2", status=404)
    # The owner's own ACLs stay accepted, and reading ACLs works.
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")
    acl = s3.get_object_acl(Bucket=bucket, Key="k")
    assert grants_of(acl) == {(acl["Owner"]["ID"], "FULL_CONTROL")}
    # A bucket created with a public ACL and no ownership choice is refused.
    name = unique_bucket_name("enf")
    expect_client_error(s3.create_bucket, Bucket=name, ACL="public-read",
                        code="InvalidBucketAclWithObjectOwnership", status=400)
    expect_client_error(s3.head_bucket, Bucket=name, status=404)


def test_ownership_controls_round_trip(server, s3, bucket):
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    )
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerPreferred"}]
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    # ACLs granting others must go before ACLs can be disabled again.
    expect_client_error(
        s3.put_bucket_ownership_controls, Bucket=bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        code="InvalidBucketAclWithObjectOwnership", status=400,
    )
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    expect_client_error(s3.get_bucket_ownership_controls, Bucket=bucket,
                        code="OwnershipControlsNotFoundError", status=404)
    body = "<OwnershipControls><Rule><ObjectOwnership>Mine</ObjectOwnership></Rule></OwnershipControls>"
    r = signed_requests_call(
        server.endpoint, server.access_key, server.secret_key, "PUT", f"/{bucket}?ownershipControls",
        headers={"Content-MD5": md5_b64(body.encode())}, body=body.encode(),
    )
    assert r.status_code == 400 and "MalformedXML" in r.text, r.text


def test_public_read_object_until_ignore_public_acls(server, s3, acl_bucket):
    s3.put_object(Bucket=acl_bucket, Key="open", Body=b"for everyone", ACL="public-read")
    s3.put_object(Bucket=acl_bucket, Key="closed", Body=b"for the owner")
    acl = s3.get_object_acl(Bucket=acl_bucket, Key="open")
    assert (ALL_USERS, "READ") in grants_of(acl)
    assert anonymous_get(server, acl_bucket, "open") == 200
    assert requests.get(f"{server.endpoint}/{acl_bucket}/open", timeout=30).content == b"for everyone"
    assert anonymous_get(server, acl_bucket, "closed") == 403
    # Reading the object is all AllUsers READ gives: no listing, no writes, no ACL reads.
    assert requests.get(f"{server.endpoint}/{acl_bucket}", timeout=30).status_code == 403
    assert requests.put(f"{server.endpoint}/{acl_bucket}/new", data=b"x", timeout=30).status_code == 403
    assert requests.get(f"{server.endpoint}/{acl_bucket}/open?acl", timeout=30).status_code == 403

    s3.put_public_access_block(Bucket=acl_bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": True,
        "BlockPublicPolicy": False, "RestrictPublicBuckets": False,
    })
    config = s3.get_public_access_block(Bucket=acl_bucket)["PublicAccessBlockConfiguration"]
    assert config == {"BlockPublicAcls": False, "IgnorePublicAcls": True,
                      "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    assert anonymous_get(server, acl_bucket, "open") == 403
    # The ACL itself stays, and counts again once the block is gone.
    assert (ALL_USERS, "READ") in grants_of(s3.get_object_acl(Bucket=acl_bucket, Key="open"))
    s3.delete_public_access_block(Bucket=acl_bucket)
    expect_client_error(s3.get_public_access_block, Bucket=acl_bucket,
                        code="NoSuchPublicAccessBlockConfiguration", status=404)
    assert anonymous_get(server, acl_bucket, "open") == 200


def test_public_read_write_bucket_acl(server, s3, acl_bucket):
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="public-read-write")
    assert {(ALL_USERS, "READ"), (ALL_USERS, "WRITE")} <= grants_of(s3.get_bucket_acl(Bucket=acl_bucket))
    r = requests.put(f"{server.endpoint}/{acl_bucket}/dropped", data=b"anonymous", timeout=30)
    assert r.status_code == 200, r.text
    listing = requests.get(f"{server.endpoint}/{acl_bucket}?list-type=2", timeout=30)
    assert listing.status_code == 200 and "<Key>dropped</Key>" in listing.text
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="private")
    assert requests.put(f"{server.endpoint}/{acl_bucket}/again", data=b"x", timeout=30).status_code == 403
    expect_client_error(s3.head_object, Bucket=acl_bucket, Key="again", status=404)


def test_block_public_acls_refuses_public_acls(s3, acl_bucket):
    s3.put_public_access_block(Bucket=acl_bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": False,
        "BlockPublicPolicy": False, "RestrictPublicBuckets": False,
    })
    expect_client_error(s3.put_object, Bucket=acl_bucket, Key="p", Body=b"x", ACL="public-read",
                        code="AccessDenied", status=403)
    expect_client_error(s3.head_object, Bucket=acl_bucket, Key="p", status=404)
    expect_client_error(s3.put_bucket_acl, Bucket=acl_bucket, ACL="authenticated-read",
                        code="AccessDenied", status=403)
    s3.put_object(Bucket=acl_bucket, Key="p", Body=b"x", ACL="private")
    expect_client_error(s3.put_object_acl, Bucket=acl_bucket, Key="p",
                        GrantRead=f'uri="{ALL_USERS}"', code="AccessDenied", status=403)


def public_read_policy(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }]})


def test_block_public_policy_and_restrict_public_buckets(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="doc", Body=b"policy-public")
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    assert anonymous_get(server, bucket, "doc") == 200
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False,
        "BlockPublicPolicy": False, "RestrictPublicBuckets": True,
    })
    assert anonymous_get(server, bucket, "doc") == 403
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": False,
    })
    # The policy in place stays (and works); a new public one is refused.
    assert anonymous_get(server, bucket, "doc") == 200
    expect_client_error(s3.put_bucket_policy, Bucket=bucket, Policy=public_read_policy(bucket),
                        code="AccessDenied", status=403)
    not_public = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"IpAddress": {"aws:SourceIp": "10.1.2.0/24"}},
    }]})
    s3.put_bucket_policy(Bucket=bucket, Policy=not_public)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    s3.delete_bucket_policy(Bucket=bucket)


def test_grants_to_another_account_need_its_own_permission(server, s3, acl_bucket, other):
    owner_id = s3.get_bucket_acl(Bucket=acl_bucket)["Owner"]["ID"]
    their_id = other["tenant"]["canonical_id"]
    s3.put_object(Bucket=acl_bucket, Key="shared", Body=b"shared bytes",
                  GrantRead=f'id="{their_id}"', GrantFullControl=f'id="{owner_id}"')
    s3.put_object(Bucket=acl_bucket, Key="private", Body=b"not shared")
    acl = s3.get_object_acl(Bucket=acl_bucket, Key="shared")
    assert grants_of(acl) == {(owner_id, "FULL_CONTROL"), (their_id, "READ")}
    names = {g["Grantee"].get("DisplayName") for g in acl["Grants"]}
    assert other["name"] in names

    theirs = other["s3"]  # a tenant admin: its own account allows it s3:*
    assert theirs.get_object(Bucket=acl_bucket, Key="shared")["Body"].read() == b"shared bytes"
    expect_client_error(theirs.get_object, Bucket=acl_bucket, Key="private", code="AccessDenied")
    expect_client_error(theirs.put_object, Bucket=acl_bucket, Key="x", Body=b"x", code="AccessDenied")
    expect_client_error(theirs.list_objects_v2, Bucket=acl_bucket, code="AccessDenied")

    # A user of the other account without an identity policy gets nothing from the grant.
    iam = iam_client(server, other["key"])
    user = f"u{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    plain = make_client(server.endpoint, key["AccessKeyId"], key["SecretAccessKey"], "path")
    expect_client_error(plain.get_object, Bucket=acl_bucket, Key="shared", code="AccessDenied")
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }))

    def reads() -> bool:
        try:
            return plain.get_object(Bucket=acl_bucket, Key="shared")["Body"].read() == b"shared bytes"
        except Exception:  # noqa: BLE001 - the policy reaches the shards within a second
            return False

    wait_for(reads, timeout=10, what="the granted read with the account's own permission")

    # WRITE on the bucket, through the AccessControlPolicy document, lets the account upload.
    s3.put_bucket_acl(Bucket=acl_bucket, AccessControlPolicy={
        "Owner": {"ID": owner_id},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "CanonicalUser", "ID": their_id}, "Permission": "WRITE"},
        ],
    })
    assert grants_of(s3.get_bucket_acl(Bucket=acl_bucket)) == {(owner_id, "FULL_CONTROL"), (their_id, "WRITE")}
    theirs.put_object(Bucket=acl_bucket, Key="from-them", Body=b"uploaded", ACL="bucket-owner-full-control")
    # ObjectWriter: the writer owns it, and the bucket-owner-full-control grant lets the owner in.
    written = s3.get_object_acl(Bucket=acl_bucket, Key="from-them")
    assert written["Owner"]["ID"] == their_id
    assert (owner_id, "FULL_CONTROL") in grants_of(written)
    assert s3.get_object(Bucket=acl_bucket, Key="from-them")["Body"].read() == b"uploaded"
    # Grants name accounts this server knows.
    expect_client_error(s3.put_object_acl, Bucket=acl_bucket, Key="shared",
                        GrantRead='id="' + "f" * 64 + '"', code="InvalidArgument", status=400)
    expect_client_error(s3.put_object_acl, Bucket=acl_bucket, Key="shared",
                        GrantRead='emailAddress="someone@example.com"',
                        code="UnresolvableGrantByEmailAddress", status=400)


def test_bucket_owner_preferred_takes_ownership(s3, acl_bucket, other):
    s3.put_bucket_ownership_controls(
        Bucket=acl_bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    )
    their_id = other["tenant"]["canonical_id"]
    owner_id = s3.get_bucket_acl(Bucket=acl_bucket)["Owner"]["ID"]
    s3.put_bucket_acl(Bucket=acl_bucket, GrantWrite=f'id="{their_id}"', GrantFullControl=f'id="{owner_id}"')
    other["s3"].put_object(Bucket=acl_bucket, Key="given", Body=b"g", ACL="bucket-owner-full-control")
    assert s3.get_object_acl(Bucket=acl_bucket, Key="given")["Owner"]["ID"] == owner_id
    other["s3"].put_object(Bucket=acl_bucket, Key="kept", Body=b"k")
    assert s3.get_object_acl(Bucket=acl_bucket, Key="kept")["Owner"]["ID"] == their_id


def test_acl_limits(server, s3, acl_bucket):
    owner_id = s3.get_bucket_acl(Bucket=acl_bucket)["Owner"]["ID"]
    grant = (
        '<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">'
        f"<URI>{ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant>"
    )
    big = (f"<AccessControlPolicy><Owner><ID>{owner_id}</ID></Owner><AccessControlList>"
           + grant * 400 + "</AccessControlList></AccessControlPolicy>").encode()
    assert len(big) > 64 * 1024
    r = signed_requests_call(server.endpoint, server.access_key, server.secret_key, "PUT",
                             f"/{acl_bucket}?acl", headers={"Content-MD5": md5_b64(big)}, body=big)
    assert r.status_code == 400 and "MaxMessageLengthExceeded" in r.text, r.text
    grants = [{"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": "FULL_CONTROL"}]
    accounts = [owner_id]
    admin = AdminApi(server)
    for i in range(2):
        tenant, _, _ = admin.tenant_with_key(f"lim{uuid.uuid4().hex[:8]}")
        accounts.append(tenant["canonical_id"])
    for account in accounts:
        for permission in ("READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"):
            grants.append({"Grantee": {"Type": "CanonicalUser", "ID": account}, "Permission": permission})
    grants.append({"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"})
    # 16 distinct grants are fine; AWS's limit is 100.
    s3.put_bucket_acl(Bucket=acl_bucket, AccessControlPolicy={"Owner": {"ID": owner_id}, "Grants": grants})
    too_many = "".join(
        f'<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">'
        f"<URI>{ALL_USERS}</URI></Grantee><Permission>{p}</Permission></Grant>"
        for p in ("READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL")
    )
    ok = (f"<AccessControlPolicy><AccessControlList>{too_many}</AccessControlList></AccessControlPolicy>").encode()
    r = signed_requests_call(server.endpoint, server.access_key, server.secret_key, "PUT",
                             f"/{acl_bucket}?acl", headers={"Content-MD5": md5_b64(ok)}, body=ok)
    assert r.status_code == 200, r.text
    for bad, code in (
        (f"<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>{owner_id}</ID></Grantee>"
         "<Permission>ALL</Permission></Grant></AccessControlList></AccessControlPolicy>".encode(),
         "MalformedACLError"),
        (b"<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>x</ID></Grantee>"
         b"<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>", "InvalidArgument"),
        (b"<AccessControlPolicy><AccessControlList>", "MalformedACLError"),
    ):
        r = signed_requests_call(server.endpoint, server.access_key, server.secret_key, "PUT",
                                 f"/{acl_bucket}?acl", headers={"Content-MD5": md5_b64(bad)}, body=bad)
        assert r.status_code == 400 and code in r.text, r.text
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="private")


def test_acls_and_blocks_survive_kill_9(server_factory):
    """Acknowledged ACL, ownership and Block Public Access changes are on stable storage."""
    srv = server_factory("acl-crash")
    s3 = srv.client()
    bucket = unique_bucket_name("acl-crash")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="BucketOwnerPreferred")
    s3.put_object(Bucket=bucket, Key="open", Body=b"public bytes", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="later", Body=b"made public after")
    s3.put_object_acl(Bucket=bucket, Key="later", ACL="public-read")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": False,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": False,
    })
    srv.kill9()
    srv.restart()
    s3 = srv.client()
    for key, body in (("open", b"public bytes"), ("later", b"made public after")):
        r = requests.get(f"{srv.endpoint}/{bucket}/{key}", timeout=30)
        assert r.status_code == 200 and r.content == body, (key, r.status_code)
    assert requests.get(f"{srv.endpoint}/{bucket}?list-type=2", timeout=30).status_code == 200
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerPreferred"}]
    expect_client_error(s3.put_object, Bucket=bucket, Key="more", Body=b"x", ACL="public-read",
                        code="AccessDenied", status=403)
    expect_client_error(s3.put_bucket_policy, Bucket=bucket, Policy=public_read_policy(bucket),
                        code="AccessDenied", status=403)
