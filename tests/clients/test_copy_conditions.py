"""Copy-source conditions (`x-amz-copy-source-if-*`) on CopyObject and UploadPartCopy, as AWS answers them.

The S3 API reference (CopyObject and UploadPartCopy, "Request Syntax") documents two combinations:

* `x-amz-copy-source-if-match` true and `x-amz-copy-source-if-unmodified-since` false: 200, the data is copied;
* `x-amz-copy-source-if-none-match` false and `x-amz-copy-source-if-modified-since` true: 412 PreconditionFailed.

Beyond those, AWS evaluates the four headers in a fixed order and names the first one that failed in the
`<Condition>` element of its 412 answer: If-Match, then If-Unmodified-Since (skipped when If-Match is present),
then If-None-Match, then If-Modified-Since (skipped when If-None-Match is present). An If-Modified-Since date in
the future is ignored (RFC 7232 §3.3: not a valid date for the comparison), and an ETag without its quotes
compares equal to the quoted one. These were recorded against AWS by LocalStack's validated snapshot tests
(tests/aws/services/s3/test_s3_preconditions.py) and are what the tests below pin.

A copy refused for a condition creates nothing: no destination object, no part.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from helpers import expect_client_error, md5_hex, object_absent


OTHER_ETAG = '"0123456789abcdef0123456789abcdef"'


# --------------------------------------------------------------------------- helpers


def put_source(s3, bucket: str, key: str = "src", body: bytes = b"copy-source conditions") -> dict:
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return s3.head_object(Bucket=bucket, Key=key)


def now_utc() -> dt.datetime:
    """Now, to the second (HTTP dates have no more), never ahead of the server's clock."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def wait_past(moment: dt.datetime) -> None:
    """Sleeps until the wall clock is at least one whole second after `moment`."""
    while now_utc() <= moment.replace(microsecond=0):
        time.sleep(0.1)


def copy_object(s3, bucket, dest, source_key="src", **conditions):
    return s3.copy_object(Bucket=bucket, Key=dest, CopySource={"Bucket": bucket, "Key": source_key}, **conditions)


class PartCopier:
    """UploadPartCopy into one upload, each call on a fresh part number."""

    def __init__(self, s3, bucket, key="mp"):
        self.s3, self.bucket, self.key = s3, bucket, key
        self.upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        self.next_number = 1

    def __call__(self, source_key="src", **conditions):
        number = self.next_number
        self.next_number += 1
        self.last_number = number
        return self.s3.upload_part_copy(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            CopySource={"Bucket": self.bucket, "Key": source_key},
            **conditions,
        )

    def part_numbers(self) -> list[int]:
        parts = self.s3.list_parts(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id).get("Parts", [])
        return [p["PartNumber"] for p in parts]

    def abort(self):
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


@pytest.fixture
def copier(s3, bucket):
    """copier(operation) gives run(**conditions), which copies "src" somewhere new with that operation, and
    run.nothing_created(), which says whether the last call left no object or part behind."""
    made = []

    def make(operation):
        if operation == "CopyObject":
            counter = iter(range(1_000))

            def run(source_key="src", **conditions):
                dest = f"dst-{next(counter)}"
                run.last_dest = dest
                return copy_object(s3, bucket, dest, source_key, **conditions)

            def nothing_created():
                return object_absent(s3, bucket, run.last_dest)

            run.nothing_created = nothing_created
            return run
        part_copier = PartCopier(s3, bucket)
        made.append(part_copier)

        def run(source_key="src", **conditions):
            return part_copier(source_key, **conditions)

        run.nothing_created = lambda: part_copier.last_number not in part_copier.part_numbers()
        return run

    yield make
    for part_copier in made:
        try:
            part_copier.abort()
        except Exception:  # noqa: BLE001 - cleanup
            pass


OPERATIONS = ["CopyObject", "UploadPartCopy"]


def copied_etag(operation: str, response: dict) -> str:
    return response["CopyObjectResult" if operation == "CopyObject" else "CopyPartResult"]["ETag"]


# --------------------------------------------------------------------------- documented combinations


@pytest.mark.parametrize("operation", OPERATIONS)
def test_if_match_true_wins_over_if_unmodified_since_false(s3, bucket, copier, operation):
    """CopyObject/UploadPartCopy reference: if-match true + if-unmodified-since false → 200, data copied."""
    src = put_source(s3, bucket)
    run = copier(operation)
    resp = run(CopySourceIfMatch=src["ETag"], CopySourceIfUnmodifiedSince=src["LastModified"] - dt.timedelta(days=1))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert copied_etag(operation, resp) == src["ETag"]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_if_none_match_false_with_if_modified_since_true_is_412(s3, bucket, copier, operation):
    """CopyObject/UploadPartCopy reference: if-none-match false + if-modified-since true → 412."""
    src = put_source(s3, bucket)
    run = copier(operation)
    expect_client_error(
        run,
        CopySourceIfNoneMatch=src["ETag"],
        CopySourceIfModifiedSince=src["LastModified"] - dt.timedelta(days=1),
        code="PreconditionFailed",
        status=412,
    )
    assert run.nothing_created()


# --------------------------------------------------------------------------- each condition alone


@pytest.mark.parametrize("operation", OPERATIONS)
def test_each_condition_alone(s3, bucket, copier, operation):
    src = put_source(s3, bucket)
    etag, modified = src["ETag"], src["LastModified"]
    day = dt.timedelta(days=1)
    run = copier(operation)
    passing = [
        {"CopySourceIfMatch": etag},
        {"CopySourceIfNoneMatch": OTHER_ETAG},
        {"CopySourceIfModifiedSince": modified - day},
        {"CopySourceIfUnmodifiedSince": modified},
        {"CopySourceIfUnmodifiedSince": modified + day},
    ]
    for conditions in passing:
        resp = run(**conditions)
        assert copied_etag(operation, resp) == etag, conditions
    failing = [
        {"CopySourceIfMatch": OTHER_ETAG},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": modified},
        {"CopySourceIfUnmodifiedSince": modified - day},
    ]
    for conditions in failing:
        expect_client_error(run, code="PreconditionFailed", status=412, **conditions)
        assert run.nothing_created(), conditions


@pytest.mark.parametrize("operation", OPERATIONS)
def test_unquoted_etags_compare_equal(s3, bucket, copier, operation):
    """AWS ignores missing quotes around an ETag: if-match passes, if-none-match fails (LocalStack, AWS-validated)."""
    src = put_source(s3, bucket)
    bare = src["ETag"].strip('"')
    run = copier(operation)
    assert copied_etag(operation, run(CopySourceIfMatch=bare)) == src["ETag"]
    expect_client_error(run, CopySourceIfNoneMatch=bare, code="PreconditionFailed", status=412)
    assert run.nothing_created()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_all_four_conditions_true_copies(s3, bucket, copier, operation):
    src = put_source(s3, bucket)
    wait_past(src["LastModified"])
    now = now_utc()
    run = copier(operation)
    resp = run(
        CopySourceIfMatch=src["ETag"].strip('"'),
        CopySourceIfNoneMatch=OTHER_ETAG,
        CopySourceIfModifiedSince=now - dt.timedelta(days=1),
        CopySourceIfUnmodifiedSince=now,
    )
    assert copied_etag(operation, resp) == src["ETag"]


# --------------------------------------------------------------------------- the order AWS checks them in


def _failing_sets(src: dict, now: dt.datetime) -> list[tuple[str, dict]]:
    """LocalStack's AWS-validated elimination sequence: each set fails on the condition named first."""
    yesterday = now - dt.timedelta(days=1)
    return [
        (
            "x-amz-copy-source-If-Match",
            dict(
                CopySourceIfMatch="etag123",
                CopySourceIfNoneMatch=src["ETag"],
                CopySourceIfModifiedSince=now,
                CopySourceIfUnmodifiedSince=yesterday,
            ),
        ),
        (
            "x-amz-copy-source-If-Unmodified-Since",
            dict(
                CopySourceIfNoneMatch=src["ETag"], CopySourceIfModifiedSince=now, CopySourceIfUnmodifiedSince=yesterday
            ),
        ),
        ("x-amz-copy-source-If-None-Match", dict(CopySourceIfNoneMatch=src["ETag"], CopySourceIfModifiedSince=now)),
        ("x-amz-copy-source-If-Modified-Since", dict(CopySourceIfModifiedSince=now)),
    ]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_failed_conditions_are_412_and_copy_nothing(s3, bucket, copier, operation):
    src = put_source(s3, bucket)
    # if-modified-since must be "now or before" (a future date is ignored) yet after the source's time.
    wait_past(src["LastModified"])
    now = now_utc()
    run = copier(operation)
    for _condition, conditions in _failing_sets(src, now):
        expect_client_error(run, code="PreconditionFailed", status=412, **conditions)
        assert run.nothing_created(), conditions


@pytest.mark.parametrize("operation", OPERATIONS)
def test_412_names_the_first_failed_condition(s3, bucket, copier, operation):
    """AWS's 412 body carries <Condition>x-amz-copy-source-If-...</Condition>, the first condition that failed
    in the order If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since."""
    src = put_source(s3, bucket)
    wait_past(src["LastModified"])
    now = now_utc()
    run = copier(operation)
    named = []
    for _condition, conditions in _failing_sets(src, now):
        exc = expect_client_error(run, code="PreconditionFailed", status=412, **conditions)
        named.append(exc.response["Error"].get("Condition"))
    assert named == [condition for condition, _ in _failing_sets(src, now)]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_if_modified_since_in_the_future_is_ignored(s3, bucket, copier, operation):
    """AWS ignores an x-amz-copy-source-if-modified-since later than its clock and copies (LocalStack's
    AWS-validated snapshot "copy-ignore-future-modified-since"; RFC 7232 §3.3)."""
    src = put_source(s3, bucket)
    run = copier(operation)
    resp = run(CopySourceIfModifiedSince=now_utc() + dt.timedelta(days=1))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert copied_etag(operation, resp) == src["ETag"]


# --------------------------------------------------------------------------- versions and the copied bytes


@pytest.mark.parametrize("operation", OPERATIONS)
def test_conditions_apply_to_the_named_source_version(s3, bucket, operation):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="src", Body=b"version one")
    v2 = s3.put_object(Bucket=bucket, Key="src", Body=b"version two")
    source = {"Bucket": bucket, "Key": "src", "VersionId": v1["VersionId"]}
    upload_id = None
    if operation == "UploadPartCopy":
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp-v")["UploadId"]

    def copy_v1(**conditions):
        if upload_id is None:
            return s3.copy_object(Bucket=bucket, Key="from-v1", CopySource=source, **conditions)
        return s3.upload_part_copy(
            Bucket=bucket, Key="mp-v", UploadId=upload_id, PartNumber=1, CopySource=source, **conditions
        )

    try:
        resp = copy_v1(CopySourceIfMatch=v1["ETag"])
        assert copied_etag(operation, resp) == f'"{md5_hex(b"version one")}"'
        assert resp.get("CopySourceVersionId") == v1["VersionId"]
        # The latest version's ETag does not describe the named version.
        expect_client_error(copy_v1, CopySourceIfMatch=v2["ETag"], code="PreconditionFailed", status=412)
        expect_client_error(copy_v1, CopySourceIfNoneMatch=v1["ETag"], code="PreconditionFailed", status=412)
    finally:
        if upload_id is not None:
            s3.abort_multipart_upload(Bucket=bucket, Key="mp-v", UploadId=upload_id)


def test_upload_part_copy_after_refused_condition_completes_with_the_copied_parts(s3, bucket):
    """A refused UploadPartCopy leaves the upload as it was: Complete takes the parts that were copied."""
    big = b"B" * (5 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="big", Body=big)
    etag = s3.head_object(Bucket=bucket, Key="big")["ETag"]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="joined")["UploadId"]
    ids = {"Bucket": bucket, "Key": "joined", "UploadId": upload_id}
    source = {"Bucket": bucket, "Key": "big"}
    first = s3.upload_part_copy(**ids, PartNumber=1, CopySource=source, CopySourceIfMatch=etag)
    expect_client_error(
        s3.upload_part_copy, **ids, PartNumber=2, CopySource={"Bucket": bucket, "Key": "big"},
        CopySourceIfNoneMatch=etag, code="PreconditionFailed", status=412,
    )  # fmt: skip
    assert [p["PartNumber"] for p in s3.list_parts(**ids).get("Parts", [])] == [1]
    second = s3.upload_part_copy(
        **ids, PartNumber=2, CopySource={"Bucket": bucket, "Key": "big"}, CopySourceRange="bytes=0-9",
        CopySourceIfUnmodifiedSince=now_utc() + dt.timedelta(days=1),
    )  # fmt: skip
    parts = [
        {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]},
    ]
    s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=bucket, Key="joined")["Body"].read() == big + big[:10]


# --------------------------------------------------------------------------- aws cli


def test_awscli_copy_object_with_copy_source_conditions(aws, s3, bucket):
    src = put_source(s3, bucket)
    ok = aws(
        "s3api", "copy-object", "--bucket", bucket, "--key", "cli-ok", "--copy-source", f"{bucket}/src",
        "--copy-source-if-match", src["ETag"],
    )  # fmt: skip
    assert src["ETag"].strip('"') in ok.stdout
    refused = aws(
        "s3api", "copy-object", "--bucket", bucket, "--key", "cli-refused", "--copy-source", f"{bucket}/src",
        "--copy-source-if-none-match", src["ETag"], check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "PreconditionFailed" in refused.stderr, refused
    assert object_absent(s3, bucket, "cli-refused")
    assert s3.get_object(Bucket=bucket, Key="cli-ok")["Body"].read() == b"copy-source conditions"
