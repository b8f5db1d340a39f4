"""docs/s3-compatibility.md cannot drift from the server: every S3 operation it lists is sent once.

The document has one table row per operation of the Amazon S3 API (botocore's `s3` model, the
same list as AWS's API reference), with its status in the second column:

- `supported` / `partial`: the minimal call below succeeds with the status of the row's "Answer"
  column. A 501 NotImplemented, a 5xx or any other error fails the test.
- `not supported`: the server answers exactly the status and code of the row's "Answer" column
  (501 NotImplemented with AWS's error XML, as a rule). An operation that starts working, or
  answers something else, fails the test until its row is updated. A row whose notes carry
  **Bug:** is known to answer something else today: the test expects the documented answer and
  is an expected failure (strict, so fixing the server turns it into a failure until the note
  goes).
- `out of scope`: operations that have no meaning on this server (directory buckets, Object
  Lambda); the row must say why, and when its "Answer" column names one, the server must give it.

Each call gets what it needs (a bucket, an object, an upload id, a version, a configuration) from
the `World` set up here. The IAM and STS actions the document lists are held against the server's
source (IAM_ACTIONS_SERVED and the STS dispatch) and a few are called once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.session import get_session

from helpers import REGION, REPO_ROOT, err_code, err_status, unique_bucket_name

DOC = REPO_ROOT / "docs" / "s3-compatibility.md"
STATUSES = ("supported", "partial", "not supported", "out of scope")

# --------------------------------------------------------------------------- the document


@dataclass
class Row:
    op: str
    status: str
    answer: str
    notes: str

    @property
    def expected(self) -> tuple[int, str | None] | None:
        """(status, code) of the Answer column, when it names one (`501 NotImplemented`)."""
        m = re.match(r"^(\d{3})(?:\s+([A-Za-z]+))?", self.answer)
        return (int(m.group(1)), m.group(2)) if m else None

    @property
    def known_bug(self) -> bool:
        return "**Bug:**" in self.notes


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_doc(path: Path = DOC) -> dict[str, Row]:
    """Rows of every table whose header starts `| Operation | Status |`."""
    rows: dict[str, Row] = {}
    in_table = False
    for line in path.read_text().splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        cells = _cells(line)
        if cells[:2] == ["Operation", "Status"]:
            in_table = True
            continue
        if not in_table or set(cells[0]) <= set("-: "):
            continue
        op = cells[0].strip("`* ")
        assert op not in rows, f"{op} is listed twice in {path.name}"
        assert len(cells) == 4, f"row of {op} needs exactly Operation | Status | Answer | Notes: {line}"
        rows[op] = Row(op, cells[1].strip("* ").lower(), cells[2].strip("` "), cells[3])
    return rows


ROWS = parse_doc() if DOC.exists() else {}
S3_MODEL = get_session().get_service_model("s3")


# --------------------------------------------------------------------------- what the calls need


def future(seconds: int) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)


class World:
    """Buckets and objects the calls work on; everything made here is removed at the end."""

    def __init__(self, server):
        self.server = server
        self.s3 = server.client("path")
        self.buckets: list[str] = []
        self._n = 0
        self.bucket = self.new_bucket("compat")
        self.put("obj", b"hello world")
        self.vbucket = self.new_bucket("compat-ver")
        self.s3.put_bucket_versioning(Bucket=self.vbucket, VersioningConfiguration={"Status": "Enabled"})
        self.version_id = self.s3.put_object(Bucket=self.vbucket, Key="obj", Body=b"v1")["VersionId"]
        self.lbucket = self.new_bucket("compat-lock", ObjectLockEnabledForBucket=True)

    def name(self, hint: str) -> str:
        return unique_bucket_name(hint)

    def new_bucket(self, hint: str = "compat", **kw) -> str:
        name = unique_bucket_name(hint)
        self.s3.create_bucket(Bucket=name, **kw)
        self.buckets.append(name)
        return name

    def adopt(self, name: str) -> str:
        self.buckets.append(name)
        return name

    def key(self, hint: str) -> str:
        self._n += 1
        return f"{hint}-{self._n}"

    def put(self, key: str, body: bytes = b"data", bucket: str | None = None) -> str:
        self.s3.put_object(Bucket=bucket or self.bucket, Key=key, Body=body)
        return key

    def upload(self, key: str) -> str:
        return self.s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]

    def cleanup(self) -> None:
        for name in self.buckets:
            try:
                for page in self.s3.get_paginator("list_multipart_uploads").paginate(Bucket=name):
                    for up in page.get("Uploads", []):
                        self.s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
                for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=name):
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                        self.s3.delete_object(
                            Bucket=name, Key=v["Key"], VersionId=v["VersionId"], BypassGovernanceRetention=True
                        )
                self.s3.delete_bucket(Bucket=name)
            except ClientError:
                pass  # best effort: the shared server's data directory goes at the end anyway


# One function per operation: it prepares what the call needs and returns its parameters (a
# "_client" entry replaces the path-style S3 client).
CALLS = {}


def call(*ops):
    def register(fn):
        for op in ops:
            assert op not in CALLS, op
            CALLS[op] = fn
        return fn

    return register


POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "compat", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::{bucket}/never-read/*"}],
}
LIFECYCLE = {"Rules": [{"ID": "expire-tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                        "Expiration": {"Days": 1}}]}
LIFECYCLE_V1 = {"Rules": [{"ID": "expire-tmp", "Status": "Enabled", "Prefix": "tmp/", "Expiration": {"Days": 1}}]}
CORS = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["https://example.com"]}]}
SSE_S3 = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
TAGS = {"TagSet": [{"Key": "team", "Value": "storage"}]}
ACCOUNT = "123456789012"


# -- service and buckets

@call("ListBuckets")
def _for_list_buckets(w):
    return {}


@call("CreateBucket")
def _for_create_bucket(w):
    return {"Bucket": w.adopt(w.name("compat-create"))}


@call("DeleteBucket")
def _for_delete_bucket(w):
    return {"Bucket": w.new_bucket("compat-del")}


@call("HeadBucket", "GetBucketLocation", "ListObjects", "ListObjectsV2", "ListMultipartUploads",
      "GetBucketVersioning", "GetBucketAcl", "GetBucketRequestPayment",
      "GetBucketAccelerateConfiguration", "GetBucketEncryption",
      # Not supported: nothing to prepare.
      "GetBucketWebsite", "DeleteBucketWebsite", "GetBucketLogging", "GetBucketNotificationConfiguration",
      "GetBucketNotification", "GetBucketReplication", "DeleteBucketReplication",
      "ListBucketAnalyticsConfigurations", "ListBucketInventoryConfigurations",
      "ListBucketMetricsConfigurations", "ListBucketIntelligentTieringConfigurations",
      "GetBucketMetadataTableConfiguration", "DeleteBucketMetadataTableConfiguration",
      "GetBucketMetadataConfiguration", "GetBucketAbac", "CreateSession")
def _for_head_bucket(w):
    return {"Bucket": w.bucket}


@call("DeleteBucketMetadataConfiguration")
def _for_delete_bucket_metadata_configuration(w):
    # Its own bucket: answered as DeleteBucket today (see the row), it must not take the shared one.
    return {"Bucket": w.new_bucket("compat-mdc")}


@call("ListObjectVersions")
def _for_list_object_versions(w):
    return {"Bucket": w.vbucket}


@call("PutBucketVersioning")
def _for_put_bucket_versioning(w):
    return {"Bucket": w.new_bucket("compat-pv"), "VersioningConfiguration": {"Status": "Enabled"}}


# -- objects

@call("PutObject")
def _for_put_object(w):
    return {"Bucket": w.bucket, "Key": w.key("put"), "Body": b"put"}


@call("GetObject", "HeadObject", "GetObjectAcl", "GetObjectTorrent")
def _for_get_object(w):
    return {"Bucket": w.bucket, "Key": "obj"}


@call("DeleteObject")
def _for_delete_object(w):
    return {"Bucket": w.bucket, "Key": w.put(w.key("del"))}


@call("DeleteObjects")
def _for_delete_objects(w):
    return {"Bucket": w.bucket, "Delete": {"Objects": [{"Key": w.put(w.key("dels"))}], "Quiet": False}}


@call("CopyObject")
def _for_copy_object(w):
    return {"Bucket": w.bucket, "Key": w.key("copy"), "CopySource": {"Bucket": w.bucket, "Key": "obj"}}


@call("GetObjectAttributes")
def _for_get_object_attributes(w):
    return {"Bucket": w.bucket, "Key": "obj",
            "ObjectAttributes": ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]}


@call("RestoreObject")
def _for_restore_object(w):
    return {"Bucket": w.bucket, "Key": "obj", "RestoreRequest": {"Days": 1}}


@call("PutObjectAcl")
def _for_put_object_acl(w):
    return {"Bucket": w.bucket, "Key": "obj", "ACL": "private"}


@call("SelectObjectContent")
def _for_select_object_content(w):
    key = w.put(w.key("select.csv"), b"a,b\n1,2\n")
    return {"Bucket": w.bucket, "Key": key, "Expression": "SELECT * FROM S3Object", "ExpressionType": "SQL",
            "InputSerialization": {"CSV": {}}, "OutputSerialization": {"CSV": {}}}


@call("RenameObject")
def _for_rename_object(w):
    src = w.put(w.key("rename-src"))
    return {"Bucket": w.bucket, "Key": w.key("rename-dst"), "RenameSource": f"{w.bucket}/{src}"}


@call("UpdateObjectEncryption")
def _for_update_object_encryption(w):
    return {"Bucket": w.bucket, "Key": w.put(w.key("reencrypt")),
            "ObjectEncryption": {"SSEKMS": {"KMSKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/compat"}}}


# -- object annotations (each on its own object: today they reach the object itself)

@call("PutObjectAnnotation")
def _for_put_object_annotation(w):
    return {"Bucket": w.bucket, "Key": w.put(w.key("annotated")), "AnnotationName": "note",
            "AnnotationPayload": b"a note"}


@call("GetObjectAnnotation", "DeleteObjectAnnotation")
def _for_get_object_annotation(w):
    return {"Bucket": w.bucket, "Key": w.put(w.key("annotated")), "AnnotationName": "note"}


@call("ListObjectAnnotations")
def _for_list_object_annotations(w):
    return {"Bucket": w.bucket, "Key": w.put(w.key("annotated"))}


# -- multipart

@call("CreateMultipartUpload")
def _for_create_multipart_upload(w):
    return {"Bucket": w.bucket, "Key": w.key("mpu")}


@call("UploadPart")
def _for_upload_part(w):
    key = w.key("mpu")
    return {"Bucket": w.bucket, "Key": key, "UploadId": w.upload(key), "PartNumber": 1, "Body": b"part"}


@call("UploadPartCopy")
def _for_upload_part_copy(w):
    key = w.key("mpu")
    return {"Bucket": w.bucket, "Key": key, "UploadId": w.upload(key), "PartNumber": 1,
            "CopySource": {"Bucket": w.bucket, "Key": "obj"}, "CopySourceRange": "bytes=0-4"}


@call("CompleteMultipartUpload")
def _for_complete_multipart_upload(w):
    key = w.key("mpu")
    upload_id = w.upload(key)
    etag = w.s3.upload_part(Bucket=w.bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"last")["ETag"]
    return {"Bucket": w.bucket, "Key": key, "UploadId": upload_id,
            "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": etag}]}}


@call("AbortMultipartUpload", "ListParts")
def _for_abort_multipart_upload(w):
    key = w.key("mpu")
    return {"Bucket": w.bucket, "Key": key, "UploadId": w.upload(key)}


# -- lifecycle

@call("PutBucketLifecycleConfiguration")
def _for_put_bucket_lifecycle_configuration(w):
    return {"Bucket": w.new_bucket("compat-lc"), "LifecycleConfiguration": LIFECYCLE}


@call("PutBucketLifecycle")
def _for_put_bucket_lifecycle(w):
    return {"Bucket": w.new_bucket("compat-lc1"), "LifecycleConfiguration": LIFECYCLE_V1}


@call("GetBucketLifecycleConfiguration", "GetBucketLifecycle", "DeleteBucketLifecycle")
def _for_get_bucket_lifecycle_configuration(w):
    bucket = w.new_bucket("compat-lc")
    w.s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=LIFECYCLE)
    return {"Bucket": bucket}


# -- policy, ACL, ownership, public access block

@call("PutBucketPolicy")
def _for_put_bucket_policy(w):
    bucket = w.new_bucket("compat-pol")
    return {"Bucket": bucket, "Policy": json.dumps(POLICY).replace("{bucket}", bucket)}


@call("GetBucketPolicy", "DeleteBucketPolicy", "GetBucketPolicyStatus")
def _for_get_bucket_policy(w):
    bucket = w.new_bucket("compat-pol")
    w.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(POLICY).replace("{bucket}", bucket))
    return {"Bucket": bucket}


@call("PutBucketAcl")
def _for_put_bucket_acl(w):
    return {"Bucket": w.new_bucket("compat-acl"), "ACL": "private"}


@call("PutBucketOwnershipControls")
def _for_put_bucket_ownership_controls(w):
    return {"Bucket": w.new_bucket("compat-own"),
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}}


@call("GetBucketOwnershipControls", "DeleteBucketOwnershipControls")
def _for_get_bucket_ownership_controls(w):
    # New buckets get BucketOwnerEnforced, as on AWS.
    return {"Bucket": w.new_bucket("compat-own")}


@call("PutPublicAccessBlock")
def _for_put_public_access_block(w):
    return {"Bucket": w.new_bucket("compat-pab"), "PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}}


@call("GetPublicAccessBlock", "DeletePublicAccessBlock")
def _for_get_public_access_block(w):
    bucket = w.new_bucket("compat-pab")
    w.s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    return {"Bucket": bucket}


# -- CORS

@call("PutBucketCors")
def _for_put_bucket_cors(w):
    return {"Bucket": w.new_bucket("compat-cors"), "CORSConfiguration": CORS}


@call("GetBucketCors", "DeleteBucketCors")
def _for_get_bucket_cors(w):
    bucket = w.new_bucket("compat-cors")
    w.s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
    return {"Bucket": bucket}


# -- encryption

@call("PutBucketEncryption")
def _for_put_bucket_encryption(w):
    return {"Bucket": w.new_bucket("compat-enc"), "ServerSideEncryptionConfiguration": SSE_S3}


@call("DeleteBucketEncryption")
def _for_delete_bucket_encryption(w):
    bucket = w.new_bucket("compat-enc")
    w.s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=SSE_S3)
    return {"Bucket": bucket}


# -- tagging

@call("PutBucketTagging")
def _for_put_bucket_tagging(w):
    return {"Bucket": w.new_bucket("compat-tag"), "Tagging": TAGS}


@call("GetBucketTagging", "DeleteBucketTagging")
def _for_get_bucket_tagging(w):
    bucket = w.new_bucket("compat-tag")
    w.s3.put_bucket_tagging(Bucket=bucket, Tagging=TAGS)
    return {"Bucket": bucket}


@call("PutObjectTagging")
def _for_put_object_tagging(w):
    return {"Bucket": w.bucket, "Key": w.put(w.key("tagged")), "Tagging": TAGS}


@call("GetObjectTagging", "DeleteObjectTagging")
def _for_get_object_tagging(w):
    key = w.put(w.key("tagged"))
    w.s3.put_object_tagging(Bucket=w.bucket, Key=key, Tagging=TAGS)
    return {"Bucket": w.bucket, "Key": key}


# -- object lock

@call("GetObjectLockConfiguration")
def _for_get_object_lock_configuration(w):
    return {"Bucket": w.lbucket}


@call("PutObjectLockConfiguration")
def _for_put_object_lock_configuration(w):
    # Its own bucket: a default retention would govern the retention calls on the shared one.
    bucket = w.new_bucket("compat-lock", ObjectLockEnabledForBucket=True)
    return {"Bucket": bucket, "ObjectLockConfiguration": {
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}}


@call("PutObjectRetention")
def _for_put_object_retention(w):
    return {"Bucket": w.lbucket, "Key": w.put(w.key("locked"), bucket=w.lbucket),
            "Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": future(3600)}}


@call("GetObjectRetention")
def _for_get_object_retention(w):
    key = w.put(w.key("locked"), bucket=w.lbucket)
    w.s3.put_object_retention(Bucket=w.lbucket, Key=key,
                              Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(3600)})
    return {"Bucket": w.lbucket, "Key": key}


@call("PutObjectLegalHold")
def _for_put_object_legal_hold(w):
    return {"Bucket": w.lbucket, "Key": w.put(w.key("held"), bucket=w.lbucket), "LegalHold": {"Status": "OFF"}}


@call("GetObjectLegalHold")
def _for_get_object_legal_hold(w):
    key = w.put(w.key("held"), bucket=w.lbucket)
    w.s3.put_object_legal_hold(Bucket=w.lbucket, Key=key, LegalHold={"Status": "OFF"})
    return {"Bucket": w.lbucket, "Key": key}


# -- request payment, acceleration

@call("PutBucketRequestPayment")
def _for_put_bucket_request_payment(w):
    return {"Bucket": w.new_bucket("compat-pay"), "RequestPaymentConfiguration": {"Payer": "BucketOwner"}}


@call("PutBucketAccelerateConfiguration")
def _for_put_bucket_accelerate_configuration(w):
    return {"Bucket": w.new_bucket("compat-acc"), "AccelerateConfiguration": {"Status": "Suspended"}}


# -- not supported today: realistic minimal configurations, so that the call is valid as it stands
#    once the operation is implemented.

@call("PutBucketWebsite")
def _for_put_bucket_website(w):
    return {"Bucket": w.bucket, "WebsiteConfiguration": {"IndexDocument": {"Suffix": "index.html"}}}


@call("PutBucketLogging")
def _for_put_bucket_logging(w):
    # An empty BucketLoggingStatus turns logging off: valid on any bucket.
    return {"Bucket": w.bucket, "BucketLoggingStatus": {}}


@call("PutBucketNotificationConfiguration", "PutBucketNotification")
def _for_put_bucket_notification_configuration(w):
    # An empty configuration removes every notification: valid on any bucket.
    return {"Bucket": w.bucket, "NotificationConfiguration": {}}


@call("PutBucketReplication")
def _for_put_bucket_replication(w):
    return {"Bucket": w.vbucket, "ReplicationConfiguration": {
        "Role": f"arn:aws:iam::{ACCOUNT}:role/replication",
        "Rules": [{"ID": "all", "Status": "Enabled", "Prefix": "",
                   "Destination": {"Bucket": f"arn:aws:s3:::{w.bucket}"}}]}}


@call("GetBucketAnalyticsConfiguration", "DeleteBucketAnalyticsConfiguration",
      "GetBucketInventoryConfiguration", "DeleteBucketInventoryConfiguration",
      "GetBucketMetricsConfiguration", "DeleteBucketMetricsConfiguration",
      "GetBucketIntelligentTieringConfiguration", "DeleteBucketIntelligentTieringConfiguration")
def _for_get_bucket_analytics_configuration(w):
    return {"Bucket": w.bucket, "Id": "compat"}


@call("PutBucketAnalyticsConfiguration")
def _for_put_bucket_analytics_configuration(w):
    return {"Bucket": w.bucket, "Id": "compat",
            "AnalyticsConfiguration": {"Id": "compat", "StorageClassAnalysis": {}}}


@call("PutBucketInventoryConfiguration")
def _for_put_bucket_inventory_configuration(w):
    return {"Bucket": w.bucket, "Id": "compat", "InventoryConfiguration": {
        "Id": "compat", "IsEnabled": True, "IncludedObjectVersions": "Current", "Schedule": {"Frequency": "Daily"},
        "Destination": {"S3BucketDestination": {"Bucket": f"arn:aws:s3:::{w.bucket}", "Format": "CSV"}}}}


@call("PutBucketMetricsConfiguration")
def _for_put_bucket_metrics_configuration(w):
    return {"Bucket": w.bucket, "Id": "compat", "MetricsConfiguration": {"Id": "compat"}}


@call("PutBucketIntelligentTieringConfiguration")
def _for_put_bucket_intelligent_tiering_configuration(w):
    return {"Bucket": w.bucket, "Id": "compat", "IntelligentTieringConfiguration": {
        "Id": "compat", "Status": "Enabled", "Tierings": [{"Days": 90, "AccessTier": "ARCHIVE_ACCESS"}]}}


@call("CreateBucketMetadataTableConfiguration")
def _for_create_bucket_metadata_table_configuration(w):
    return {"Bucket": w.bucket, "MetadataTableConfiguration": {"S3TablesDestination": {
        "TableBucketArn": f"arn:aws:s3tables:{REGION}:{ACCOUNT}:bucket/compat", "TableName": "compat"}}}


@call("CreateBucketMetadataConfiguration")
def _for_create_bucket_metadata_configuration(w):
    return {"Bucket": w.bucket, "MetadataConfiguration": {
        "JournalTableConfiguration": {"RecordExpiration": {"Expiration": "DISABLED"}}}}


@call("UpdateBucketMetadataJournalTableConfiguration")
def _for_update_bucket_metadata_journal_table_configuration(w):
    return {"Bucket": w.bucket,
            "JournalTableConfiguration": {"RecordExpiration": {"Expiration": "ENABLED", "Days": 7}}}


@call("UpdateBucketMetadataInventoryTableConfiguration")
def _for_update_bucket_metadata_inventory_table_configuration(w):
    return {"Bucket": w.bucket, "InventoryTableConfiguration": {"ConfigurationState": "DISABLED"}}


@call("UpdateBucketMetadataAnnotationTableConfiguration")
def _for_update_bucket_metadata_annotation_table_configuration(w):
    return {"Bucket": w.bucket, "AnnotationTableConfiguration": {"ConfigurationState": "DISABLED"}}


@call("PutBucketAbac")
def _for_put_bucket_abac(w):
    return {"Bucket": w.bucket, "AbacStatus": {"Status": "Enabled"}}


# -- out of scope, called to check what the document says the server answers

@call("ListDirectoryBuckets")
def _for_list_directory_buckets(w):
    return {}


@call("WriteGetObjectResponse")
def _for_write_get_object_response(w):
    # Addressed to an Object Lambda route (a host prefix); without the prefix it reaches this
    # server as `POST /WriteGetObjectResponse`.
    client = w.server.client("path", inject_host_prefix=False)
    return {"_client": client, "RequestRoute": "compat", "RequestToken": "compat", "Body": b""}


def _wire_status(client) -> dict:
    """Where the HTTP status is recorded as it came off the wire: botocore turns a 200 whose body
    is not XML into a 500 before parsing, which must not pass for a server error (nor hide one).
    `response-received` carries a response dict made afresh from the HTTP response."""
    seen = getattr(client, "_compat_wire", None)
    if seen is None:
        seen = client._compat_wire = {}

        def hook(response_dict=None, **_kw):
            if response_dict is not None:
                seen["status"] = response_dict["status_code"]

        client.meta.events.register("response-received.s3.*", hook)
    seen.clear()
    return seen


def send(w: World, op: str) -> tuple[int, str | None, str]:
    """Sends `op` once: (HTTP status on the wire, error code or None, error message)."""
    kwargs = CALLS[op](w)
    client = kwargs.pop("_client", w.s3)
    seen = _wire_status(client)
    try:
        out = getattr(client, xform_name(op))(**kwargs)
    except ClientError as exc:
        status = seen.get("status", err_status(exc))
        return status, err_code(exc), exc.response.get("Error", {}).get("Message", "")
    for value in out.values():
        if hasattr(value, "read"):
            value.read()  # a streamed body: drain it, checksums are verified at the end
    if op == "SelectObjectContent" and "Payload" in out:
        for _event in out["Payload"]:
            pass
    return seen.get("status", out["ResponseMetadata"]["HTTPStatusCode"]), None, ""


# --------------------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def world(server):
    # Its own client (on the shared server): the wire-status hook stays off the `s3` fixture.
    w = World(server)
    yield w
    w.cleanup()


def test_the_document_lists_every_s3_operation():
    assert ROWS, f"{DOC} has no `| Operation | Status | Answer | Notes |` table"
    model = set(S3_MODEL.operation_names)
    assert sorted(model - set(ROWS)) == [], "operations of the S3 API missing from the document"
    assert sorted(set(ROWS) - model) == [], "rows that are not operations of the S3 API (botocore's model)"
    for row in ROWS.values():
        assert row.status in STATUSES, f"{row.op}: unknown status {row.status!r}"
        if row.status in ("supported", "partial"):
            assert row.expected and 200 <= row.expected[0] < 300 and row.expected[1] is None, (
                f"{row.op}: the Answer of a working operation is its success status, got {row.answer!r}"
            )
        if row.status == "partial":
            assert "Missing:" in row.notes, f"{row.op}: a partial row says what is missing after `Missing:`"
        if row.status == "not supported":
            assert row.expected and row.expected[0] >= 400 and row.expected[1], (
                f"{row.op}: a refused operation names the status and code it answers, got {row.answer!r}"
            )
        if row.status in ("not supported", "out of scope"):
            reason = row.notes.split("**Bug:**")[0].strip()
            assert reason, f"{row.op}: say why it is {row.status}"


def test_every_listed_operation_has_a_call():
    callable_rows = {op for op, row in ROWS.items() if row.status != "out of scope" or row.expected}
    assert sorted(callable_rows - set(CALLS)) == []
    assert sorted(set(CALLS) - set(ROWS)) == [], "calls for operations the document does not list"


@pytest.mark.parametrize("op", sorted(ROWS))
def test_operation_answers_as_documented(world, op, request):
    row = ROWS[op]
    if row.status == "out of scope" and not row.expected:
        return  # listed with a reason (checked above); nothing meaningful to send
    if row.known_bug:
        request.applymarker(pytest.mark.xfail(
            strict=True, raises=AssertionError,
            reason=f"{op}: the document records a bug; fix the server, then drop the note"))
    status, code, message = send(world, op)
    got = f"{status} {code or ''} {message}".strip()
    assert status < 500 or status == 501, f"{op} answered a server error: {got}"
    expected_status, expected_code = row.expected
    if row.status in ("supported", "partial"):
        assert status != 501, f"{op} is documented as {row.status} but answers {got}"
        assert (status, code) == (expected_status, None), (
            f"{op} is documented as {row.status} (answer {row.answer}) but answers {got}"
        )
    else:
        assert (status, code) == (expected_status, expected_code), (
            f"{op} is documented as {row.status} answering {row.answer}, but answers {got}: update its row"
        )


# --------------------------------------------------------------------------- IAM and STS


def _doc_actions(service: str) -> list[str]:
    for line in DOC.read_text().splitlines():
        cells = _cells(line) if line.startswith("|") else []
        if len(cells) == 2 and cells[0] == service:
            return [a.strip() for a in cells[1].split(",") if a.strip()]
    raise AssertionError(f"{DOC.name} has no `| {service} | ... |` row")


def test_iam_and_sts_actions_are_those_the_server_serves():
    source = (REPO_ROOT / "cluster" / "src" / "control" / "iam" / "mod.rs").read_text()
    block = re.search(r"IAM_ACTIONS_SERVED: &\[&str\] = &\[(.*?)\];", source, re.S)
    assert block, "IAM_ACTIONS_SERVED not found in cluster/src/control/iam/mod.rs"
    served_iam = re.findall(r'"(\w+)"', block.group(1))
    assert sorted(_doc_actions("IAM")) == sorted(served_iam)

    sts = (REPO_ROOT / "cluster" / "src" / "control" / "iam" / "sts.rs").read_text()
    federated = (REPO_ROOT / "cluster" / "src" / "control" / "federated.rs").read_text()
    served_sts = set(re.findall(r'^\s*"(\w+)" =>', sts, re.M))
    served_sts |= set(re.findall(r'^\s*"(AssumeRoleWith\w+)" =>', federated, re.M))
    assert sorted(_doc_actions("STS")) == sorted(served_sts)


def test_iam_and_sts_answer_on_the_s3_port(server):
    def client(service):
        return boto3.session.Session().client(
            service, endpoint_url=server.endpoint, region_name=REGION,
            aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )

    iam, sts = client("iam"), client("sts")
    assert "Users" in iam.list_users()
    assert sts.get_caller_identity()["Arn"].startswith("arn:aws:iam::")
    with pytest.raises(ClientError) as exc:
        iam.list_account_aliases()  # an IAM action the document does not list
    assert (err_status(exc.value), err_code(exc.value)) == (400, "InvalidAction")
