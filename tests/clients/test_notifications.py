"""Bucket event notifications: webhook targets managed through the admin API, the buckets'
notification configurations (Put/GetBucketNotificationConfiguration with AWS's validation and
error messages), the AWS event records POSTed to a target for every kind of change (keys,
sizes, ETags, version ids, sequencers, request ids, the configured Authorization header),
key filters, and the delivery guarantees: every event of a 2xx request is on disk, delivered
at least once and in order, however long the target is down and across a kill -9 of the
server; duplicates only as counted retries; a full queue refuses writes with 503 SlowDown
rather than losing events; a deleted target's queue is dropped; https targets trusted through
their own CA.

A small webhook receiver in this file (a ThreadingHTTPServer on 127.0.0.1) records what it
acknowledges; it can answer 503 (target down), take a POST without answering it (a lost
acknowledgement), or stop listening (target unreachable) and come back on the same port. Counts are exact without sleeping: every event of one target travels
through one queue in order, so once a "barrier" event written last has arrived, every earlier
event of that target has too.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from admin_api import AdminApi
from helpers import (
    REGION,
    err_code,
    err_status,
    expect_client_error,
    make_ca_and_leaf,
    object_absent,
    unique_bucket_name,
    wait_for,
    xml_error_code,
)

TENANT = "default"
PASSWORD = "correct horse battery"
SECRET_HEADER = "Bearer notify-secret-0123456789"
EVENT_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SEQUENCER = re.compile(r"[0-9A-F]{16}")
ALL_EVENTS = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:ObjectTagging:*", "s3:ObjectAcl:Put"]
# The longest one delivery may wait: a back-off of at most 10 s after a failure, and margin.
DELIVERY_S = 30.0
MiB = 1024 * 1024
TARGETS = f"/tenants/{TENANT}/notification-targets"


# --------------------------------------------------------------------------- webhook receiver


class Webhook:
    """A webhook receiver. `received` holds (path, headers, JSON body) of every POST it
    acknowledged (200), in arrival order; with `answer_503` set it refuses POSTs with 503 and
    counts them in `refused`; stop() closes the port (target unreachable), start() listens on
    the same port again."""

    def __init__(self, listening: bool = True, tls=None):
        self.lock = threading.Lock()
        self.received: list[tuple[str, object, dict]] = []
        self.refused = 0
        self.answer_503 = False
        # This many POSTs are recorded but get no answer (the connection closes): the sender
        # cannot know the event arrived.
        self.unanswered = 0
        self.tls = tls  # an ssl.SSLContext: serve https
        self.port = 0
        self.httpd: ThreadingHTTPServer | None = None
        self.start()
        if not listening:
            self.stop()

    def start(self) -> None:
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with webhook.lock:
                    if webhook.answer_503:
                        webhook.refused += 1
                        status = 503
                    else:
                        webhook.received.append((self.path, self.headers, json.loads(body)))
                        status = 200
                        if webhook.unanswered > 0:
                            webhook.unanswered -= 1
                            status = None
                if status is None:
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.tls is not None:
            self.httpd.socket = self.tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def url(self, path: str = "/events") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def posts(self, bucket: str | None = None) -> list[tuple[str, object, dict]]:
        """The acknowledged POSTs (about `bucket` only when given). Each holds one record."""
        with self.lock:
            posts = list(self.received)
        for _path, _headers, body in posts:
            assert len(body["Records"]) == 1, body
        return [p for p in posts if bucket is None or p[2]["Records"][0]["s3"]["bucket"]["name"] == bucket]

    def records(self, bucket: str | None = None) -> list[dict]:
        return [body["Records"][0] for _path, _headers, body in self.posts(bucket)]

    def wait_records(self, bucket: str, count: int, timeout: float = DELIVERY_S) -> list[dict]:
        wait_for(lambda: len(self.records(bucket)) >= count, timeout,
                 what=f"{count} events of bucket {bucket} (have {len(self.records(bucket))})")
        return self.records(bucket)


# --------------------------------------------------------------------------- helpers


def scrape(server) -> dict[str, float]:
    answer = requests.get(f"{server.console_endpoint}/metrics", timeout=30)
    assert answer.status_code == 200, answer.text
    samples = {}
    for line in answer.text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            samples[series] = float(value)
    return samples


def target_metric(server, name: str, target: str) -> float | None:
    found = [v for s, v in scrape(server).items() if s.startswith(name + "{") and f'target="{target}"' in s]
    assert len(found) <= 1, found
    return found[0] if found else None


def create_target(admin: AdminApi, name: str, url: str, tenant: str = TENANT, **fields) -> dict:
    return admin.call("POST", f"/tenants/{tenant}/notification-targets", expect=201,
                      json={"name": name, "url": url, **fields}).json()


def queue_of(admin: AdminApi, name: str, tenant: str = TENANT) -> dict:
    return admin.call("GET", f"/tenants/{tenant}/notification-targets/{name}", expect=200).json()["queue"]


def configure(s3, bucket: str, arn: str, rule_id: str = "all", events=ALL_EVENTS, **rule) -> None:
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": rule_id, "QueueArn": arn, "Events": list(events), **rule}]})


def key_filter(**rules) -> dict:
    return {"Filter": {"Key": {"FilterRules": [{"Name": n, "Value": v} for n, v in rules.items()]}}}


def request_id(answer: dict) -> str:
    return answer["ResponseMetadata"]["RequestId"]


def check_record(record: dict, *, bucket: str, event: str, request: str, rule_id: str, principal: str) -> dict:
    """Asserts the fields every record has; returns its s3.object."""
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == REGION
    assert EVENT_TIME.fullmatch(record["eventTime"]), record["eventTime"]
    when = datetime.datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
    assert abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) < 120, when
    assert record["eventName"] == event, record
    assert record["userIdentity"] == {"principalId": principal}
    assert record["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    assert record["responseElements"]["x-amz-request-id"] == request
    s3_part = record["s3"]
    assert s3_part["s3SchemaVersion"] == "1.0"
    assert s3_part["configurationId"] == rule_id
    assert s3_part["bucket"]["name"] == bucket
    assert s3_part["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert SEQUENCER.fullmatch(s3_part["object"]["sequencer"]), s3_part["object"]
    return s3_part["object"]


def without_sequencer(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k != "sequencer"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def notif_server():
    from conftest import MaxioServer
    srv = MaxioServer("notifications").start()
    yield srv
    srv.kill9()
    srv.cleanup_data()


@pytest.fixture(scope="module")
def admin(notif_server):
    return AdminApi(notif_server)


@pytest.fixture(scope="module")
def s3(notif_server):
    return notif_server.client()


@pytest.fixture(scope="module")
def principal(notif_server):
    sts = boto3.client("sts", endpoint_url=notif_server.endpoint, aws_access_key_id=notif_server.access_key,
                       aws_secret_access_key=notif_server.secret_key, region_name=REGION)
    return "AWS:" + sts.get_caller_identity()["UserId"]


@pytest.fixture(scope="module")
def hook():
    webhook = Webhook()
    yield webhook
    webhook.stop()


@pytest.fixture(scope="module")
def arn(admin, hook):
    """The ARN of target `hook` (default tenant, with an Authorization header) at `hook`."""
    return create_target(admin, "hook", hook.url(), auth_header=SECRET_HEADER)["arn"]


_barrier_keys = itertools.count()


@pytest.fixture(scope="module")
def settle(s3, hook, arn):
    """settle(): once it returns, every event raised so far for target `hook` was delivered
    (the barrier event is the last in the target's ordered queue)."""
    barrier = unique_bucket_name("barrier")
    s3.create_bucket(Bucket=barrier)
    configure(s3, barrier, arn, "barrier", ["s3:ObjectCreated:Put"])

    def run():
        key = f"barrier-{next(_barrier_keys)}"
        s3.put_object(Bucket=barrier, Key=key, Body=b"")
        wait_for(lambda: any(r["s3"]["object"]["key"] == key for r in hook.records(barrier)), DELIVERY_S,
                 what=f"barrier event {key}")

    return run


@pytest.fixture
def bucket(s3, request):
    name = unique_bucket_name(request.node.originalname or "notify")
    s3.create_bucket(Bucket=name)
    return name


# --------------------------------------------------------------------------- admin API


def test_admin_api_manages_targets_and_never_answers_the_secret(admin, hook, tmp_path):
    account = admin.call("GET", f"/tenants/{TENANT}", expect=200).json()["account_id"]
    answer = admin.call("POST", TARGETS, expect=201,
                        json={"name": "crud-1", "url": hook.url("/crud?k=v"), "auth_header": SECRET_HEADER})
    assert "notify-secret" not in answer.text
    created = answer.json()
    assert created["arn"] == f"arn:maxiofs:sqs:{REGION}:{account}:crud-1"
    assert {k: created[k] for k in ("name", "tenant", "type", "url", "auth_header_set", "ca_pem")} == {
        "name": "crud-1", "tenant": TENANT, "type": "webhook", "url": hook.url("/crud?k=v"),
        "auth_header_set": True, "ca_pem": None}
    datetime.datetime.fromisoformat(created["created_at"].replace("Z", "+00:00"))
    assert created["queue"] == {"events": 0, "bytes": 0, "delivered": 0, "failures": 0, "retried": 0, "dropped": 0}
    one = admin.call("GET", f"{TARGETS}/crud-1", expect=200)
    assert one.json() == created and "notify-secret" not in one.text
    listed = admin.call("GET", TARGETS, expect=200)
    assert "notify-secret" not in listed.text
    assert created in listed.json()["notification_targets"]

    dup = admin.call("POST", TARGETS, json={"name": "crud-1", "url": hook.url()})
    assert (dup.status_code, dup.json()["error"]["code"]) == (409, "AlreadyExists"), dup.text
    refused = [
        {"name": "crud-2", "url": hook.url(), "secret": "x"},          # unknown field
        {"name": "crud-2"},                                             # no url
        {"name": "", "url": hook.url()},
        {"name": "x" * 65, "url": hook.url()},
        {"name": "bad name", "url": hook.url()},
        {"name": "bad.name", "url": hook.url()},
        {"name": "bad/name", "url": hook.url()},
        {"name": "crud-2", "url": "ftp://127.0.0.1/x"},
        {"name": "crud-2", "url": f"127.0.0.1:{hook.port}/x"},
        {"name": "crud-2", "url": f"http://user:pass@127.0.0.1:{hook.port}/x"},
    ]
    for body in refused:
        answer = admin.call("POST", TARGETS, json=body)
        assert answer.status_code == 400, (body, answer.status_code, answer.text)
        assert "user:pass@" not in answer.text, answer.text
    assert admin.call("GET", f"{TARGETS}/crud-2").status_code == 404
    longest = create_target(admin, "A_b-" + "9" * 60, hook.url())
    admin.call("DELETE", f"{TARGETS}/{longest['name']}", expect=204)

    # PATCH: the URL, the secret (null removes it), the CA; never the name.
    patched = admin.call("PATCH", f"{TARGETS}/crud-1", expect=200, json={"url": hook.url("/other")}).json()
    assert patched["url"] == hook.url("/other") and patched["auth_header_set"] is True
    patched = admin.call("PATCH", f"{TARGETS}/crud-1", expect=200, json={"auth_header": None}).json()
    assert patched["auth_header_set"] is False
    answer = admin.call("PATCH", f"{TARGETS}/crud-1", expect=200, json={"auth_header": "Basic c2VjcmV0LXR3bw=="})
    assert answer.json()["auth_header_set"] is True and "c2VjcmV0LXR3bw" not in answer.text
    ca, _cert, _key = make_ca_and_leaf(tmp_path)
    pem = ca.read_text()
    patched = admin.call("PATCH", f"{TARGETS}/crud-1", expect=200, json={"ca_pem": pem}).json()
    assert patched["ca_pem"] == pem
    patched = admin.call("PATCH", f"{TARGETS}/crud-1", expect=200, json={"ca_pem": None}).json()
    assert patched["ca_pem"] is None
    assert admin.call("PATCH", f"{TARGETS}/crud-1", json={"name": "renamed"}).status_code == 400
    assert admin.call("PATCH", f"{TARGETS}/crud-1", json={"url": "gopher://x/"}).status_code == 400
    assert admin.call("PATCH", f"{TARGETS}/crud-1", json={"colour": "red"}).status_code == 400
    assert admin.call("PATCH", f"{TARGETS}/nope", json={"url": hook.url()}).status_code == 404
    final = admin.call("GET", f"{TARGETS}/crud-1", expect=200)
    assert final.json()["url"] == hook.url("/other") and final.json()["arn"] == created["arn"]
    assert "c2VjcmV0LXR3bw" not in final.text and "c2VjcmV0LXR3bw" not in admin.call("GET", TARGETS).text

    admin.call("DELETE", f"{TARGETS}/crud-1", expect=204)
    assert admin.call("GET", f"{TARGETS}/crud-1").status_code == 404
    assert admin.call("DELETE", f"{TARGETS}/crud-1").status_code == 404
    names = [t["name"] for t in admin.call("GET", TARGETS, expect=200).json()["notification_targets"]]
    assert "crud-1" not in names


def test_thirty_two_targets_per_tenant_and_tenant_admins_only_read_their_own(notif_server, admin, s3, arn, bucket):
    tenant, tenant_s3, _ = admin.tenant_with_key("notif-other")
    base = "/tenants/notif-other/notification-targets"
    made = [create_target(admin, f"t{i:02d}", f"http://127.0.0.1:9/{i}", tenant="notif-other") for i in range(32)]
    assert all(t["arn"] == f"arn:maxiofs:sqs:{REGION}:{tenant['account_id']}:t{i:02d}" for i, t in enumerate(made))
    over = admin.call("POST", base, json={"name": "t32", "url": "http://127.0.0.1:9/"})
    assert (over.status_code, over.json()["error"]["code"]) == (409, "LimitExceeded"), over.text

    tenant_admin = AdminApi(notif_server, "notif-other/admin", PASSWORD)
    listed = tenant_admin.call("GET", base, expect=200).json()["notification_targets"]
    assert [t["arn"] for t in listed] == [t["arn"] for t in made]
    assert tenant_admin.call("GET", f"{base}/t00", expect=200).json()["arn"] == made[0]["arn"]
    assert tenant_admin.call("POST", base, json={"name": "mine", "url": "http://127.0.0.1:9/"}).status_code == 403
    assert tenant_admin.call("PATCH", f"{base}/t00", json={"url": "http://127.0.0.1:8/"}).status_code == 403
    assert tenant_admin.call("DELETE", f"{base}/t00").status_code == 403
    assert tenant_admin.call("GET", TARGETS).status_code == 403
    assert admin.call("GET", f"{base}/t00", expect=200).json()["url"] == "http://127.0.0.1:9/0"

    # Each tenant's buckets may name their own tenant's targets only.
    tenant_s3.create_bucket(Bucket="notif-other-bucket")
    configure(tenant_s3, "notif-other-bucket", made[0]["arn"], events=["s3:ObjectRemoved:*"])
    assert tenant_s3.get_bucket_notification_configuration(
        Bucket="notif-other-bucket")["QueueConfigurations"][0]["QueueArn"] == made[0]["arn"]
    for client, name, foreign in [(s3, bucket, made[1]["arn"]), (tenant_s3, "notif-other-bucket", arn)]:
        err = expect_client_error(configure, client, name, foreign, code="InvalidArgument", status=400)
        assert err.response["Error"]["Message"] == "Unable to validate the following destination configurations"
    for target in made:
        admin.call("DELETE", f"{base}/{target['name']}", expect=204)


# --------------------------------------------------------------------------- configurations


def test_configuration_round_trip_generated_ids_and_removal(s3, bucket, arn):
    empty = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert not {"QueueConfigurations", "TopicConfigurations", "LambdaFunctionConfigurations"} & set(empty)
    topic = arn.replace(":sqs:", ":sns:")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [
            {"Id": "images", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
             **key_filter(prefix="img/", suffix=".jpg")},
            {"QueueArn": arn, "Events": ["s3:ObjectRemoved:Delete", "s3:ObjectAcl:Put"]},
            # Disjoint prefixes may share an event type.
            {"Id": "docs", "QueueArn": arn, "Events": ["s3:ObjectCreated:Put"], **key_filter(prefix="docs/")},
        ],
        "TopicConfigurations": [{"Id": "tags", "TopicArn": topic, "Events": ["s3:ObjectTagging:*"]}],
    })
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    queues = got["QueueConfigurations"]
    generated = queues[1]["Id"]
    assert generated and generated not in ("images", "docs", "tags")
    assert queues == [
        {"Id": "images", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "img/"},
                                            {"Name": "Suffix", "Value": ".jpg"}]}}},
        {"Id": generated, "QueueArn": arn, "Events": ["s3:ObjectRemoved:Delete", "s3:ObjectAcl:Put"]},
        {"Id": "docs", "QueueArn": arn, "Events": ["s3:ObjectCreated:Put"],
         "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "docs/"}]}}},
    ]
    assert got["TopicConfigurations"] == [{"Id": "tags", "TopicArn": topic, "Events": ["s3:ObjectTagging:*"]}]
    again = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert again["QueueConfigurations"] == queues, "the generated Id is stored, not made per GET"
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    removed = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert not {"QueueConfigurations", "TopicConfigurations", "LambdaFunctionConfigurations"} & set(removed)


def test_configuration_errors_are_aws_invalid_argument(s3, bucket, arn):
    account = arn.split(":")[4]
    created = ["s3:ObjectCreated:*"]

    def refused(config: dict) -> str:
        err = expect_client_error(s3.put_bucket_notification_configuration, Bucket=bucket,
                                  NotificationConfiguration=config, code="InvalidArgument", status=400)
        return err.response["Error"]["Message"]

    def queues(*rules) -> dict:
        return {"QueueConfigurations": [{"QueueArn": arn, **rule} for rule in rules]}

    assert refused(queues({"Events": ["s3:ObjectCreated:Nope"]})) == "The event is not supported for notifications"
    unknown_destinations = [
        {"QueueConfigurations": [{"QueueArn": arn[: -len("hook")] + "nope", "Events": created}]},
        {"QueueConfigurations": [{"QueueArn": arn.replace(f":{account}:", ":999999999999:"), "Events": created}]},
        {"QueueConfigurations": [{"QueueArn": f"arn:aws:sqs:{REGION}:{account}:hook", "Events": created}]},
        {"TopicConfigurations": [{"TopicArn": arn.replace(":sqs:", ":sns:")[: -len("hook")] + "nope",
                                  "Events": created}]},
        {"LambdaFunctionConfigurations": [{"LambdaFunctionArn": f"arn:aws:lambda:{REGION}:{account}:function:f",
                                           "Events": created}]},
    ]
    for config in unknown_destinations:
        assert refused(config) == "Unable to validate the following destination configurations", config
    overlap = refused(queues({"Id": "a", "Events": created}, {"Id": "b", "Events": ["s3:ObjectCreated:Put"]}))
    assert overlap.startswith("Configurations overlap"), overlap
    ambiguous = refused(queues({"Id": "a", "Events": created, **key_filter(prefix="img/")},
                               {"Id": "b", "Events": ["s3:ObjectCreated:Put"], **key_filter(prefix="img/thumbs/")}))
    assert "ambiguously defined" in ambiguous, ambiguous
    two_prefixes = {"Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a"},
                                                       {"Name": "prefix", "Value": "b"}]}}}
    assert refused(queues({"Events": created, **two_prefixes})) == \
        "Cannot specify more than one prefix rule in a filter."
    assert refused(queues({"Events": created, **key_filter(infix="a")})) == \
        "filter rule name must be either prefix or suffix"
    same_id = refused(queues({"Id": "twice", "Events": created}, {"Id": "twice", "Events": ["s3:ObjectRemoved:*"]}))
    assert same_id.startswith("Same ID"), same_id
    # Nothing refused was stored.
    stored = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert "QueueConfigurations" not in stored and "TopicConfigurations" not in stored


# --------------------------------------------------------------------------- event records


def test_creation_records_put_copy_multipart_and_form_post(s3, bucket, arn, hook, principal, settle):
    configure(s3, bucket, arn, "created", ["s3:ObjectCreated:*"])
    data = b"hello, events"
    put = s3.put_object(Bucket=bucket, Key="a b.txt", Body=data)
    copy = s3.copy_object(Bucket=bucket, Key="copies/\u00fc+x", CopySource={"Bucket": bucket, "Key": "a b.txt"})
    parts = [b"p" * (5 * MiB), b"tail"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="multi", UploadId=upload, PartNumber=n, Body=body)["ETag"]
             for n, body in enumerate(parts, start=1)]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="multi", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]})
    form = s3.generate_presigned_post(Bucket=bucket, Key="posted.bin")
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("posted.bin", b"form data")},
                           allow_redirects=False, timeout=30)
    assert posted.status_code == 204, posted.text
    # Requests that change nothing raise nothing.
    expect_client_error(s3.put_object, Bucket=bucket, Key="a b.txt", Body=b"again", IfNoneMatch="*",
                        code="PreconditionFailed", status=412)
    expect_client_error(s3.copy_object, Bucket=bucket, Key="copy-of-nothing",
                        CopySource={"Bucket": bucket, "Key": "missing"}, code="NoSuchKey", status=404)
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted",
                              UploadId=s3.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"])
    settle()

    records = hook.records(bucket)
    assert [r["eventName"] for r in records] == [
        "ObjectCreated:Put", "ObjectCreated:Copy", "ObjectCreated:CompleteMultipartUpload", "ObjectCreated:Post"]
    expected = [
        (request_id(put), {"key": "a+b.txt", "size": len(data), "eTag": hashlib.md5(data).hexdigest()}),
        (request_id(copy), {"key": "copies/%C3%BC%2Bx", "size": len(data),
                            "eTag": copy["CopyObjectResult"]["ETag"].strip('"')}),
        (request_id(done), {"key": "multi", "size": sum(map(len, parts)), "eTag": done["ETag"].strip('"')}),
        (posted.headers["x-amz-request-id"], {"key": "posted.bin", "size": 9,
                                               "eTag": hashlib.md5(b"form data").hexdigest()}),
    ]
    assert put["ETag"].strip('"') == expected[0][1]["eTag"] and expected[2][1]["eTag"].endswith("-2")
    for record, (request, obj) in zip(records, expected):
        got = check_record(record, bucket=bucket, event=record["eventName"], request=request,
                           rule_id="created", principal=principal)
        assert without_sequencer(got) == obj, record
    # Every POST carries the configured Authorization header and JSON.
    for path, headers, _body in hook.posts(bucket):
        assert path == "/events"
        assert headers["Authorization"] == SECRET_HEADER
        assert headers["Content-Type"].split(";")[0] == "application/json"


def test_removal_records_unversioned_versioned_and_delete_objects(s3, bucket, arn, hook, principal, settle):
    configure(s3, bucket, arn, "removed", ["s3:ObjectRemoved:*"])
    versioned = unique_bucket_name("removal-versioned")
    s3.create_bucket(Bucket=versioned)
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    configure(s3, versioned, arn, "removed-v", ["s3:ObjectRemoved:*", "s3:ObjectCreated:Put"])

    for key in ("gone", "k1", "k 2", "k3"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    single = s3.delete_object(Bucket=bucket, Key="gone")
    many = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ("k1", "k 2", "k3")]})
    assert len(many["Deleted"]) == 3
    v1 = s3.put_object(Bucket=versioned, Key="doc", Body=b"v1")
    marker = s3.delete_object(Bucket=versioned, Key="doc")
    assert marker["DeleteMarker"] is True
    gone_version = s3.delete_object(Bucket=versioned, Key="doc", VersionId=v1["VersionId"])
    v2 = s3.put_object(Bucket=versioned, Key="batch", Body=b"v2")
    batch = s3.delete_objects(Bucket=versioned, Delete={"Objects": [{"Key": "batch"}]})
    assert batch["Deleted"][0]["DeleteMarker"] is True
    settle()

    records = hook.records(bucket)
    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in records] == [
        ("ObjectRemoved:Delete", "gone"), ("ObjectRemoved:Delete", "k1"),
        ("ObjectRemoved:Delete", "k+2"), ("ObjectRemoved:Delete", "k3")]
    for record, request in zip(records, [request_id(single)] + [request_id(many)] * 3):
        obj = check_record(record, bucket=bucket, event="ObjectRemoved:Delete", request=request,
                           rule_id="removed", principal=principal)
        assert set(obj) == {"key", "sequencer"}, obj

    records = hook.records(versioned)
    expected = [
        ("ObjectCreated:Put", v1, {"key": "doc", "size": 2, "eTag": hashlib.md5(b"v1").hexdigest(),
                                   "versionId": v1["VersionId"]}),
        ("ObjectRemoved:DeleteMarkerCreated", marker, {"key": "doc", "versionId": marker["VersionId"]}),
        ("ObjectRemoved:Delete", gone_version, {"key": "doc", "versionId": v1["VersionId"]}),
        ("ObjectCreated:Put", v2, {"key": "batch", "size": 2, "eTag": hashlib.md5(b"v2").hexdigest(),
                                   "versionId": v2["VersionId"]}),
        ("ObjectRemoved:DeleteMarkerCreated", batch,
         {"key": "batch", "versionId": batch["Deleted"][0]["DeleteMarkerVersionId"]}),
    ]
    assert [r["eventName"] for r in records] == [e[0] for e in expected]
    for record, (event, answer, obj) in zip(records, expected):
        got = check_record(record, bucket=versioned, event=event, request=request_id(answer),
                           rule_id="removed-v", principal=principal)
        assert without_sequencer(got) == obj, record
    sequencers = [r["s3"]["object"]["sequencer"] for r in records[:3]]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == 3


def test_tagging_and_acl_records(s3, bucket, arn, hook, principal, settle):
    configure(s3, bucket, arn, "meta", ["s3:ObjectTagging:*", "s3:ObjectAcl:Put"])
    # A PUT with tags creates an object: no tagging event.
    s3.put_object(Bucket=bucket, Key="tagged obj", Body=b"x", Tagging="a=1")
    put_tags = s3.put_object_tagging(Bucket=bucket, Key="tagged obj", Tagging={"TagSet": [{"Key": "b", "Value": "2"}]})
    delete_tags = s3.delete_object_tagging(Bucket=bucket, Key="tagged obj")
    acl = s3.put_object_acl(Bucket=bucket, Key="tagged obj", ACL="private")
    settle()
    records = hook.records(bucket)
    expected = [("ObjectTagging:Put", put_tags), ("ObjectTagging:Delete", delete_tags), ("ObjectAcl:Put", acl)]
    assert [r["eventName"] for r in records] == [e for e, _ in expected]
    for record, (event, answer) in zip(records, expected):
        obj = check_record(record, bucket=bucket, event=event, request=request_id(answer),
                           rule_id="meta", principal=principal)
        assert without_sequencer(obj) == {"key": "tagged+obj"}, record


def test_filters_route_only_matching_keys(s3, bucket, arn, hook, settle):
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"Id": "images", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"], **key_filter(prefix="img/", suffix=".jpg")},
        {"Id": "docs", "QueueArn": arn, "Events": ["s3:ObjectCreated:Put"], **key_filter(prefix="docs/")},
        {"Id": "logs", "QueueArn": arn, "Events": ["s3:ObjectRemoved:*"], **key_filter(suffix=".log")},
    ]})
    for key in ("img/a.jpg", "img/a.png", "IMG/b.jpg", "other/img/c.jpg", "docs/x.txt", "docs", "a.log"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.copy_object(Bucket=bucket, Key="img/copy.jpg", CopySource={"Bucket": bucket, "Key": "img/a.png"})
    s3.copy_object(Bucket=bucket, Key="docs/copy.txt", CopySource={"Bucket": bucket, "Key": "docs/x.txt"})
    for key in ("a.log", "img/a.jpg", "b.log.txt"):
        s3.delete_object(Bucket=bucket, Key=key)
    settle()
    assert [(r["s3"]["configurationId"], r["eventName"], r["s3"]["object"]["key"]) for r in hook.records(bucket)] == [
        ("images", "ObjectCreated:Put", "img/a.jpg"),
        ("docs", "ObjectCreated:Put", "docs/x.txt"),
        ("images", "ObjectCreated:Copy", "img/copy.jpg"),
        ("logs", "ObjectRemoved:Delete", "a.log"),
    ]


def test_events_of_one_key_arrive_in_order_with_increasing_sequencers(s3, bucket, arn, hook, settle):
    configure(s3, bucket, arn, "order", ["s3:ObjectCreated:Put"])
    requests_made = [request_id(s3.put_object(Bucket=bucket, Key="same", Body=b"x" * n)) for n in range(1, 51)]
    settle()
    records = hook.records(bucket)
    assert [r["s3"]["object"]["size"] for r in records] == list(range(1, 51))
    assert [r["responseElements"]["x-amz-request-id"] for r in records] == requests_made
    sequencers = [int(r["s3"]["object"]["sequencer"], 16) for r in records]
    assert all(a < b for a, b in zip(sequencers, sequencers[1:])), sequencers


# --------------------------------------------------------------------------- delivery guarantees


def test_target_down_for_a_while_receives_every_event_once_after_it_comes_back(notif_server, admin, s3, bucket):
    """The issue's done-when: duplicates only as at-least-once permits, and counted."""
    flaky = Webhook()
    flaky.answer_503 = True
    target = create_target(admin, "flaky", flaky.url("/flaky"))
    configure(s3, bucket, target["arn"], "flaky", ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    answers = []
    for n in range(90):
        answers.append(s3.put_object(Bucket=bucket, Key=f"k{n % 30:02d}", Body=b"x" * (n + 1)))
    for n in range(10):
        answers.append(s3.delete_object(Bucket=bucket, Key=f"k{n:02d}"))
    wait_for(lambda: flaky.refused >= 2, DELIVERY_S, what="two refused deliveries")
    queue = queue_of(admin, "flaky")
    assert queue["events"] == 100 and queue["delivered"] == 0 and queue["failures"] >= 2, queue
    assert flaky.posts() == []

    flaky.answer_503 = False
    flaky.wait_records(bucket, 100)
    wait_for(lambda: queue_of(admin, "flaky")["events"] == 0, DELIVERY_S, what="an empty queue")
    try:
        records = flaky.records(bucket)
        identities = [(r["s3"]["object"]["key"], r["s3"]["object"]["sequencer"], r["eventName"]) for r in records]
        duplicates = len(identities) - len(set(identities))
        retried = target_metric(notif_server, "maxiofs_notification_retried_total", "flaky")
        delivered = target_metric(notif_server, "maxiofs_notification_delivered_total", "flaky")
        failures = target_metric(notif_server, "maxiofs_notification_failures_total", "flaky")
        assert retried is not None and 1 <= retried, retried
        assert duplicates <= retried, (duplicates, retried)
        # 503 answers acknowledged nothing: no event reached the target twice.
        assert duplicates == 0, identities
        assert delivered == len(records) == 100
        assert failures >= 2 and target_metric(notif_server, "maxiofs_notification_dropped_total", "flaky") == 0
        assert target_metric(notif_server, "maxiofs_notification_queue_events", "flaky") == 0
        # Every request's event, in queue order, so in order per key.
        assert [r["responseElements"]["x-amz-request-id"] for r in records] == [request_id(a) for a in answers]
        for key in {r["s3"]["object"]["key"] for r in records}:
            of_key = [r for r in records if r["s3"]["object"]["key"] == key]
            sequencers = [r["s3"]["object"]["sequencer"] for r in of_key]
            assert sequencers == sorted(sequencers) and len(set(sequencers)) == len(sequencers), key
        queue = queue_of(admin, "flaky")
        assert (queue["delivered"], queue["retried"], queue["dropped"]) == (100, retried, 0), queue
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        admin.call("DELETE", f"{TARGETS}/flaky", expect=204)
        flaky.stop()


def test_an_unanswered_delivery_is_retried_and_the_duplicate_counted(notif_server, admin, s3, bucket):
    """At-least-once: a target that took an event but whose answer never came gets it again;
    that duplicate, and only it, is counted as a retry."""
    lossy = Webhook()
    lossy.unanswered = 1
    target = create_target(admin, "lossy", lossy.url("/lossy"))
    configure(s3, bucket, target["arn"], "lossy", ["s3:ObjectCreated:*"])
    try:
        answers = [s3.put_object(Bucket=bucket, Key=f"l{n:02d}", Body=b"l") for n in range(20)]
        lossy.wait_records(bucket, 21)
        wait_for(lambda: queue_of(admin, "lossy")["events"] == 0, DELIVERY_S, what="an empty queue")
        records = lossy.records(bucket)
        ids = [r["responseElements"]["x-amz-request-id"] for r in records]
        # The first event twice (sent, unanswered, sent again), then every other once, in order.
        assert ids == [request_id(answers[0])] + [request_id(a) for a in answers], ids
        assert records[0] == records[1]
        queue = queue_of(admin, "lossy")
        assert (queue["delivered"], queue["failures"], queue["retried"], queue["dropped"]) == (20, 1, 1, 0), queue
        assert target_metric(notif_server, "maxiofs_notification_retried_total", "lossy") == 1
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        admin.call("DELETE", f"{TARGETS}/lossy", expect=204)
        lossy.stop()


def test_https_target_trusted_through_its_ca_pem(notif_server, admin, s3, bucket, tmp_path):
    ca, cert, key = make_ca_and_leaf(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    secure = Webhook(tls=context)
    target = create_target(admin, "secure", secure.url("/tls"), ca_pem=ca.read_text())
    assert target["url"].startswith("https://")
    configure(s3, bucket, target["arn"], "tls", ["s3:ObjectCreated:*"])
    try:
        first = s3.put_object(Bucket=bucket, Key="over-tls", Body=b"t")
        records = secure.wait_records(bucket, 1)
        assert records[0]["responseElements"]["x-amz-request-id"] == request_id(first)
        # Without the CA the certificate is not trusted: the event waits, and arrives once the
        # CA is back.
        admin.call("PATCH", f"{TARGETS}/secure", expect=200, json={"ca_pem": None})
        second = s3.put_object(Bucket=bucket, Key="waits", Body=b"w")
        wait_for(lambda: queue_of(admin, "secure")["failures"] >= 1, DELIVERY_S, what="a refused handshake")
        assert len(secure.records(bucket)) == 1 and queue_of(admin, "secure")["events"] == 1
        admin.call("PATCH", f"{TARGETS}/secure", expect=200, json={"ca_pem": ca.read_text()})
        records = secure.wait_records(bucket, 2)
        assert [r["responseElements"]["x-amz-request-id"] for r in records] == [request_id(first), request_id(second)]
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        admin.call("DELETE", f"{TARGETS}/secure", expect=204)
        secure.stop()


def test_queued_events_survive_kill9_and_reach_a_target_that_comes_back(server_factory):
    srv = server_factory("notify-kill9")
    admin, s3 = AdminApi(srv), srv.client()
    later = Webhook(listening=False)  # unreachable: nothing listens on its port
    target = create_target(admin, "later", later.url("/later"))
    s3.create_bucket(Bucket="durable")
    configure(s3, "durable", target["arn"], "durable", ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    answers = [s3.put_object(Bucket="durable", Key=f"c{n:02d}", Body=b"y" * n) for n in range(40)]
    many = s3.delete_objects(Bucket="durable", Delete={"Objects": [{"Key": f"c{n:02d}"} for n in range(10)]})
    srv.kill9()  # right after the last 2xx: its events must already be on disk
    srv.restart(same_port=True)
    admin = AdminApi(srv)
    assert queue_of(admin, "later")["events"] == 50
    later.start()
    try:
        records = later.wait_records("durable", 50)
        wait_for(lambda: queue_of(admin, "later")["events"] == 0, DELIVERY_S, what="an empty queue")
        records = later.records("durable")
        # Nothing reached the target before the restart: exactly once, in order.
        assert [r["responseElements"]["x-amz-request-id"] for r in records] == \
            [request_id(a) for a in answers] + [request_id(many)] * 10
        assert [(r["eventName"], r["s3"]["object"]["key"]) for r in records] == \
            [("ObjectCreated:Put", f"c{n:02d}") for n in range(40)] + \
            [("ObjectRemoved:Delete", f"c{n:02d}") for n in range(10)]
        assert target_metric(srv, "maxiofs_notification_delivered_total", "later") == 50
    finally:
        later.stop()


def test_full_queue_refuses_writes_with_slowdown_and_loses_no_event(server_factory):
    srv = server_factory("notify-full", env={"MAXIOFS_NOTIFICATION_QUEUE_MIB": "1"})
    admin, s3 = AdminApi(srv), srv.client()
    sink = Webhook(listening=False)
    target = create_target(admin, "small", sink.url("/small"))
    s3.create_bucket(Bucket="full")
    s3.create_bucket(Bucket="quiet")
    configure(s3, "full", target["arn"], "full", ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])

    def key_of(n: int) -> str:
        return f"full/{n:05d}/" + "k" * 1000

    stored, refusal = [], None
    for n in range(5000):
        try:
            s3.put_object(Bucket="full", Key=key_of(n), Body=b"z")
        except ClientError as exc:
            refusal = exc
            break
        stored.append(key_of(n))
    assert refusal is not None, "1 MiB of events never filled the queue"
    assert (err_code(refusal), err_status(refusal)) == ("SlowDown", 503), refusal.response
    assert len(stored) >= 100
    queue = queue_of(admin, "small")
    assert queue["bytes"] >= MiB and queue["events"] == len(stored) and queue["dropped"] == 0, queue
    assert object_absent(s3, "full", key_of(len(stored)))
    assert s3.head_object(Bucket="full", Key=stored[0])["ContentLength"] == 1
    # Every object write to the bucket is refused, and changes nothing; reads and other buckets work.
    expect_client_error(s3.delete_object, Bucket="full", Key=stored[0], code="SlowDown", status=503)
    expect_client_error(s3.delete_objects, Bucket="full", Delete={"Objects": [{"Key": stored[1]}]},
                        code="SlowDown", status=503)
    form = s3.generate_presigned_post(Bucket="full", Key="posted")
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("posted", b"p")}, timeout=30)
    assert (posted.status_code, xml_error_code(posted.text)) == (503, "SlowDown"), posted.text
    assert s3.get_object(Bucket="full", Key=stored[1])["Body"].read() == b"z"
    assert not object_absent(s3, "full", stored[0]) and object_absent(s3, "full", "posted")
    s3.put_object(Bucket="quiet", Key="still-writable", Body=b"q")
    assert target_metric(srv, "maxiofs_notification_queue_events", "small") == len(stored)

    sink.start()
    try:
        wait_for(lambda: queue_of(admin, "small")["events"] == 0, 60, what="the queue to drain")
        after = s3.put_object(Bucket="full", Key="after-drain", Body=b"a")
        records = sink.wait_records("full", len(stored) + 1)
        assert records[-1]["responseElements"]["x-amz-request-id"] == request_id(after)
        assert [r["s3"]["object"]["key"] for r in records] == stored + ["after-drain"]
        assert all(r["eventName"] == "ObjectCreated:Put" for r in records)
        assert target_metric(srv, "maxiofs_notification_dropped_total", "small") == 0
    finally:
        sink.stop()


def test_deleting_a_target_drops_its_queue_and_unroutes_its_events(notif_server, admin, s3, bucket):
    doomed_hook = Webhook()
    doomed_hook.answer_503 = True
    target = create_target(admin, "doomed", doomed_hook.url("/doomed"))
    configure(s3, bucket, target["arn"], "doomed", ["s3:ObjectCreated:*"])
    try:
        for n in range(3):
            s3.put_object(Bucket=bucket, Key=f"early-{n}", Body=b"e")
        wait_for(lambda: doomed_hook.refused >= 1, DELIVERY_S, what="a refused delivery")
        assert queue_of(admin, "doomed")["events"] == 3
        admin.call("DELETE", f"{TARGETS}/doomed", expect=204)
        assert admin.call("GET", f"{TARGETS}/doomed").status_code == 404
        assert target_metric(notif_server, "maxiofs_notification_queue_events", "doomed") is None
        # The bucket keeps its configuration and its writes; their events have nowhere to go.
        assert s3.get_bucket_notification_configuration(
            Bucket=bucket)["QueueConfigurations"][0]["QueueArn"] == target["arn"]
        unrouted = scrape(notif_server)["maxiofs_notification_unrouted_total"]
        s3.put_object(Bucket=bucket, Key="orphan", Body=b"o")
        assert s3.head_object(Bucket=bucket, Key="orphan")["ContentLength"] == 1
        assert scrape(notif_server)["maxiofs_notification_unrouted_total"] == unrouted + 1

        # The same name again is a new target with an empty queue: the old events are gone.
        doomed_hook.answer_503 = False
        again = create_target(admin, "doomed", doomed_hook.url("/doomed"))
        assert again["arn"] == target["arn"] and again["queue"]["events"] == 0
        s3.put_object(Bucket=bucket, Key="after", Body=b"a")
        doomed_hook.wait_records(bucket, 1)
        wait_for(lambda: queue_of(admin, "doomed")["events"] == 0, DELIVERY_S, what="an empty queue")
        assert [r["s3"]["object"]["key"] for r in doomed_hook.records(bucket)] == ["after"]
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        admin.call("DELETE", f"{TARGETS}/doomed")
        doomed_hook.stop()


# --------------------------------------------------------------------------- attack review: limits, authorization,
# secrets, event content, odd webhooks, crashes

import socket  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from urllib.parse import quote_plus  # noqa: E402

from helpers import make_client, signed_requests_call  # noqa: E402


def put_notification_raw(server, bucket: str, body: bytes) -> requests.Response:
    return signed_requests_call(server.endpoint, server.access_key, server.secret_key, "PUT", f"/{bucket}",
                                query="notification=", body=body)


def queue_xml(arn: str, rule_id: str, prefix: str = "", events=("s3:ObjectCreated:*",), extra: str = "") -> str:
    event_xml = "".join(f"<Event>{e}</Event>" for e in events)
    filt = (f"<Filter><S3Key><FilterRule><Name>prefix</Name><Value>{prefix}</Value></FilterRule></S3Key></Filter>"
            if prefix else "")
    return f"<QueueConfiguration><Id>{rule_id}</Id><Queue>{arn}</Queue>{event_xml}{filt}{extra}</QueueConfiguration>"


def notification_doc(*rules: str, head: str = "") -> bytes:
    return (head + "<NotificationConfiguration>" + "".join(rules) + "</NotificationConfiguration>").encode()


def test_configuration_document_limits(notif_server, s3, bucket, arn):
    """Every limit of the configuration parser, one request past each; nothing refused is stored."""
    def refused(body: bytes) -> tuple[int, str | None, str]:
        answer = put_notification_raw(notif_server, bucket, body)
        return answer.status_code, xml_error_code(answer.text), answer.text

    # 100 disjoint rules are the most a bucket may have.
    hundred = [queue_xml(arn, f"r{n:03d}", prefix=f"p{n:03d}/") for n in range(100)]
    assert put_notification_raw(notif_server, bucket, notification_doc(*hundred)).status_code == 200
    assert len(s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]) == 100
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})

    cases = {
        "101 rules": (notification_doc(*hundred, queue_xml(arn, "r100", prefix="p100/")), 400, "InvalidArgument"),
        "body over 256 KiB": (notification_doc(queue_xml(arn, "big"), "<!--" + "x" * (256 * 1024) + "-->"),
                              400, "MalformedXML"),
        "filter value of 1025 bytes": (notification_doc(queue_xml(arn, "f", prefix="v" * 1025)), 400,
                                       "InvalidArgument"),
        "Id of 256 characters": (notification_doc(queue_xml(arn, "\u00e9" * 256)), 400, "InvalidArgument"),
        "DTD with entities": (notification_doc(queue_xml(arn, "&x;"),
                                               head='<!DOCTYPE n [<!ENTITY x "aaaaaaaaaa">]>'), 400, "MalformedXML"),
        "deep nesting": (notification_doc(queue_xml(arn, "deep", extra="<a>" * 40 + "</a>" * 40)), 400,
                         "MalformedXML"),
        "no Event": (notification_doc(queue_xml(arn, "none", events=())), 400, "MalformedXML"),
        "unknown element": (notification_doc(queue_xml(arn, "odd", extra="<Colour>red</Colour>")), 400,
                            "MalformedXML"),
    }
    for what, (body, status, code) in cases.items():
        got = refused(body)
        assert got[:2] == (status, code), (what, got)
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    # Limits met exactly are accepted: a 1024-byte filter, a 255-character Id, and a rule naming every event
    # many times keeps each once.
    edge = queue_xml(arn, "\u00e9" * 255, prefix="v" * 1024, events=["s3:ObjectCreated:Put"] * 5000)
    assert put_notification_raw(notif_server, bucket, notification_doc(edge)).status_code == 200
    stored = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert [(r["Id"], r["Events"]) for r in stored] == [("\u00e9" * 255, ["s3:ObjectCreated:Put"])]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})


def test_only_permitted_callers_read_or_change_a_configuration(notif_server, admin, s3, bucket, arn):
    """s3:PutBucketNotification / s3:GetBucketNotification are enforced: a read-only user of the owner's
    tenant reads and cannot change; another tenant's user and an anonymous caller do neither."""
    _, reader, _ = admin.tenant_with_key("notif-reader", role="read-only")
    admin.call("POST", f"/tenants/{TENANT}/users", expect=201,
               json={"name": "notif-ro", "role": "read-only", "password": PASSWORD})
    key = admin.call("POST", f"/tenants/{TENANT}/users/notif-ro/keys", expect=201).json()
    own_reader = make_client(notif_server.endpoint, key["access_key_id"], key["secret_access_key"], "path")
    configure(s3, bucket, arn, "guarded", ["s3:ObjectCreated:*"])
    assert own_reader.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"][0]["Id"] == "guarded"
    for client in (own_reader, reader):
        expect_client_error(configure, client, bucket, arn, "hijack", ["s3:ObjectRemoved:*"],
                            code="AccessDenied", status=403)
    expect_client_error(reader.get_bucket_notification_configuration, Bucket=bucket, code="AccessDenied", status=403)
    anonymous = requests.get(f"{notif_server.endpoint}/{bucket}?notification", timeout=30)
    assert anonymous.status_code == 403, anonymous.text
    anonymous = requests.put(f"{notif_server.endpoint}/{bucket}?notification", data=b"<NotificationConfiguration/>",
                             timeout=30)
    assert anonymous.status_code == 403, anonymous.text
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"][0]["Id"] == "guarded"
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})


def test_event_keys_of_every_shape_are_form_encoded_in_valid_json(s3, bucket, arn, hook, settle):
    configure(s3, bucket, arn, "shapes", ["s3:ObjectCreated:Put", "s3:ObjectRemoved:*"])
    keys = ["sp ace+plus%25pct&amp=q?#", "ctl\x01\x1f\x7f\ttab\r\nline", "\u00fc/\u65e5\u672c/\U0001F600\u2028\"'\\<",
            "k/" + "\u00e9" * 511, "~*-_./"]
    assert len(keys[3].encode()) == 1024
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"s")
    s3.delete_object(Bucket=bucket, Key=keys[3])
    settle()
    got = [(r["eventName"], r["s3"]["object"]["key"]) for r in hook.records(bucket)]
    assert got == [("ObjectCreated:Put", quote_plus(k, safe="/*")) for k in keys] + \
        [("ObjectRemoved:Delete", quote_plus(keys[3], safe="/*"))]


def test_removed_configuration_and_deleted_bucket_raise_no_more_events(notif_server, s3, arn, hook, settle):
    name = unique_bucket_name("gone-config")
    s3.create_bucket(Bucket=name)
    configure(s3, name, arn, "short-lived", ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    s3.put_object(Bucket=name, Key="before", Body=b"b")
    s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={})
    # Several connections, so that every shard's snapshot is asked.
    clients = [notif_server.client() for _ in range(4)]
    for n, client in enumerate(clients):
        client.put_object(Bucket=name, Key=f"after-{n}", Body=b"a")
        client.delete_object(Bucket=name, Key=f"after-{n}")
    configure(s3, name, arn, "short-lived", ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    s3.delete_object(Bucket=name, Key="before")
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=name)
    for n, client in enumerate(clients):
        client.put_object(Bucket=name, Key=f"reborn-{n}", Body=b"r")
    settle()
    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in hook.records(name)] == [
        ("ObjectCreated:Put", "before"), ("ObjectRemoved:Delete", "before")]


def test_auth_header_the_admin_api_accepts_is_one_a_delivery_can_send(admin, s3, bucket):
    """auth_header is checked for control characters byte by byte (< 0x20, 0x7f), but the POST refuses
    every Unicode control character (U+0080..U+009F too): a value accepted at creation must either be
    refused there (400) or be sent."""
    receiver = Webhook()
    value = "Bearer abc\u0085def"
    try:
        answer = admin.call("POST", TARGETS, json={"name": "c1-header", "url": receiver.url("/c1"),
                                                   "auth_header": value})
        if answer.status_code == 400:
            return
        assert answer.status_code == 201, answer.text
        configure(s3, bucket, answer.json()["arn"], "c1", ["s3:ObjectCreated:*"])
        s3.put_object(Bucket=bucket, Key="c1", Body=b"c")
        wait_for(lambda: (lambda q: q["delivered"] + q["failures"] >= 1)(queue_of(admin, "c1-header")), DELIVERY_S,
                 what="a delivery attempt")
        queue = queue_of(admin, "c1-header")
        assert (queue["delivered"], queue["failures"]) == (1, 0), \
            f"accepted auth_header {value!r} can never be sent: {queue}"
        assert receiver.records(bucket)[0]["s3"]["object"]["key"] == "c1"
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        admin.call("DELETE", f"{TARGETS}/c1-header")
        receiver.stop()


def test_deleting_a_tenant_deletes_its_notification_targets(notif_server, admin):
    """A tenant's targets go with it: no delivery thread keeps POSTing a deleted tenant's queued events
    to its webhook, and its queue and metrics are gone (as when the target itself is deleted)."""
    receiver = Webhook()
    receiver.answer_503 = True
    _, client, _ = admin.tenant_with_key("notif-doomed")
    target = create_target(admin, "orphan", receiver.url("/orphan"), tenant="notif-doomed",
                           auth_header="Bearer orphan")
    client.create_bucket(Bucket="notif-doomed-bucket")
    configure(client, "notif-doomed-bucket", target["arn"], "orphan", ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    client.put_object(Bucket="notif-doomed-bucket", Key="k", Body=b"k")
    client.delete_object(Bucket="notif-doomed-bucket", Key="k")
    client.delete_bucket(Bucket="notif-doomed-bucket")
    wait_for(lambda: receiver.refused >= 1, DELIVERY_S, what="a refused delivery")
    admin.call("DELETE", "/tenants/notif-doomed", expect=204)
    try:
        assert target_metric(notif_server, "maxiofs_notification_queue_events", "orphan") is None, \
            "the deleted tenant's target still has a queue"
        refused = receiver.refused
        time.sleep(1.5)  # longer than the back-offs so far (0.5 s, 1 s)
        assert receiver.refused == refused, "the server still POSTs the deleted tenant's events"
    finally:
        receiver.stop()


def test_admin_api_refuses_target_fields_past_their_limits(admin, hook):
    """Header injection through auth_header or the URL, and every field's size limit."""
    base = {"name": "limits", "url": hook.url("/limits")}
    refused = [
        {"auth_header": "Bearer x\r\nX-Injected: 1"},
        {"auth_header": "Bearer x\nX-Injected: 1"},
        {"auth_header": "Bearer \x00"},
        {"auth_header": ""},
        {"auth_header": "B" * (8 * 1024 + 1)},
        {"auth_header": 42},
        {"url": hook.url("/a b")},
        {"url": hook.url("/a\r\nX-Injected: 1")},
        {"url": f"http://127.0.0.1:{hook.port}\r\nX-Injected: 1/"},
        {"url": hook.url("/a\tb")},
        {"url": hook.url("/\u00e9")},
        {"ca_pem": "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"},
        {"ca_pem": ["list"]},
    ]
    for fields in refused:
        answer = admin.call("POST", TARGETS, json={**base, **fields})
        assert answer.status_code == 400, (fields, answer.status_code, answer.text[:200])
    # A body past the admin API's 64 KiB (a CA bundle's own limit is as large) is refused whole.
    answer = admin.call("POST", TARGETS, json={**base, "ca_pem": "x" * (64 * 1024)})
    assert answer.status_code in (400, 413), answer.status_code
    assert admin.call("GET", f"{TARGETS}/limits").status_code == 404
    longest = admin.call("POST", TARGETS, json={**base, "auth_header": "B" * (8 * 1024)})
    assert longest.status_code == 201 and "BBBB" not in longest.text, longest.text[:200]
    assert admin.call("PATCH", f"{TARGETS}/limits", json={"auth_header": "x\r\ny"}).status_code == 400
    admin.call("DELETE", f"{TARGETS}/limits", expect=204)


def test_a_bucket_policy_grant_names_only_the_bucket_owners_targets(notif_server, admin, s3, bucket, arn):
    """Another tenant's admin granted s3:PutBucketNotification on the bucket configures it, but only with
    the bucket owner's targets: never its own (which would send the owner's events to its webhook)."""
    tenant, grantee, _ = admin.tenant_with_key("notif-grantee")
    theirs = create_target(admin, "theirs", "http://127.0.0.1:9/theirs", tenant="notif-grantee")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{tenant['account_id']}:root"},
        "Action": ["s3:PutBucketNotification", "s3:GetBucketNotification"],
        "Resource": f"arn:aws:s3:::{bucket}"}]}))
    try:
        err = expect_client_error(configure, grantee, bucket, theirs["arn"], "stolen", ["s3:ObjectCreated:*"],
                                  code="InvalidArgument", status=400)
        assert err.response["Error"]["Message"] == "Unable to validate the following destination configurations"
        configure(grantee, bucket, arn, "granted", ["s3:ObjectRemoved:*"])
        assert grantee.get_bucket_notification_configuration(
            Bucket=bucket)["QueueConfigurations"][0]["QueueArn"] == arn
    finally:
        s3.delete_bucket_policy(Bucket=bucket)
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        admin.call("DELETE", "/tenants/notif-grantee/notification-targets/theirs")


def test_a_destination_arn_must_be_the_targets_own(s3, bucket, arn):
    """The ARN a rule names must be the one the admin API answered: another region, partition or service
    in it names no target, as on AWS (where a queue ARN of another region is another queue)."""
    parts = arn.split(":")
    accepted = []
    for i, value in [(3, "eu-nowhere-9"), (3, ""), (1, "aws"), (2, "lambda")]:
        wrong = ":".join(parts[:i] + [value] + parts[i + 1:])
        try:
            configure(s3, bucket, wrong, "wrong", ["s3:ObjectCreated:*"])
            accepted.append(wrong)
        except ClientError as exc:
            assert (err_code(exc), exc.response["Error"]["Message"]) == (
                "InvalidArgument", "Unable to validate the following destination configurations"), wrong
    stored = s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations", [])
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert not accepted, f"ARNs naming no target were accepted: {accepted}; GET answers {stored}"


class RawHook:
    """A webhook on a bare socket: records each POST's JSON body, then `answer(conn)` writes whatever it
    likes (an odd status, a huge body, a trickle). `answer` may block; `release` ends every trickle."""

    def __init__(self, answer):
        self.answer = answer
        self.lock = threading.Lock()
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.release = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        with conn:
            conn.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(body) < length:
                body += conn.recv(65536)
            with self.lock:
                self.paths.append(head.split(b" ")[1].decode())
                self.bodies.append(json.loads(body))
            try:
                self.answer(self, conn)
            except OSError:
                pass

    def stop(self):
        self.release.set()
        self.sock.close()


def test_redirects_are_failures_and_huge_answers_are_cut_short(admin, s3, bucket):
    """A 3xx is not followed and not a delivery; a 2xx with a body of many MiB (by length or chunked) is
    one delivery, read no further than a bounded drain."""
    def redirect(hook_, conn):
        conn.sendall(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {hook_.url('/moved')}\r\n"
                     "Content-Length: 0\r\n\r\n".encode())

    def huge(hook_, conn):
        chunked = len(hook_.bodies) % 2 == 0
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + (b"Transfer-Encoding: chunked\r\n\r\n" if chunked
                                               else b"Content-Length: 67108864\r\n\r\n"))
        block = (b"%x\r\n" % (1 << 20) + b"z" * (1 << 20) + b"\r\n") if chunked else b"z" * (1 << 20)
        for _ in range(64):
            conn.sendall(block)

    moved, big = RawHook(redirect), RawHook(huge)
    try:
        first = create_target(admin, "moved", moved.url("/first"))
        second = create_target(admin, "bigbody", big.url("/big"))
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
            {"Id": "moved", "QueueArn": first["arn"], "Events": ["s3:ObjectCreated:*"], **key_filter(prefix="m")},
            {"Id": "big", "QueueArn": second["arn"], "Events": ["s3:ObjectCreated:*"], **key_filter(prefix="b")}]})
        s3.put_object(Bucket=bucket, Key="m1", Body=b"m")
        for n in range(4):
            s3.put_object(Bucket=bucket, Key=f"b{n}", Body=b"b")
        wait_for(lambda: queue_of(admin, "moved")["failures"] >= 2, DELIVERY_S, what="two refused deliveries")
        assert set(moved.paths) == {"/first"}, moved.paths
        assert queue_of(admin, "moved")["events"] == 1 and queue_of(admin, "moved")["delivered"] == 0
        wait_for(lambda: queue_of(admin, "bigbody")["delivered"] == 4, DELIVERY_S, what="four deliveries")
        queue = queue_of(admin, "bigbody")
        assert (queue["failures"], queue["events"]) == (0, 0), queue
        assert [b["Records"][0]["s3"]["object"]["key"] for b in big.bodies] == ["b0", "b1", "b2", "b3"]
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        admin.call("DELETE", f"{TARGETS}/moved")
        admin.call("DELETE", f"{TARGETS}/bigbody")
        moved.stop()
        big.stop()


def test_a_slow_webhook_holds_no_write_and_no_other_target(notif_server, admin, s3, bucket, arn, hook, settle):
    def slow(hook_, conn):
        hook_.release.wait(3)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    sluggish = RawHook(slow)
    target = create_target(admin, "sluggish", sluggish.url("/slow"))
    try:
        configure(s3, bucket, target["arn"], "slow", ["s3:ObjectCreated:*"])
        other = unique_bucket_name("fast")
        s3.create_bucket(Bucket=other)
        configure(s3, other, arn, "fast", ["s3:ObjectCreated:*"])
        started = time.monotonic()
        for n in range(5):
            s3.put_object(Bucket=bucket, Key=f"slow-{n}", Body=b"s")
            s3.put_object(Bucket=other, Key=f"fast-{n}", Body=b"f")
        settle()
        assert len(hook.records(other)) == 5
        assert time.monotonic() - started < 2.5, "writes or another target waited for a slow webhook"
        assert len(sluggish.bodies) == 1 and queue_of(admin, "sluggish")["delivered"] == 0
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        admin.call("DELETE", f"{TARGETS}/sluggish")
        sluggish.stop()


def test_a_webhook_trickling_its_answer_head_is_timed_out(admin, s3, bucket):
    """The documented bound: a POST with no (complete) answer within 10 s fails and is retried. A webhook
    that sends its status line and then one header byte a second is not answering either."""
    def trickle(hook_, conn):
        if len(hook_.bodies) > 1:  # the retry is answered
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Trickle: ")
        while not hook_.release.wait(1):
            conn.sendall(b"z")

    dripping = RawHook(trickle)
    target = create_target(admin, "trickle", dripping.url("/drip"))
    try:
        configure(s3, bucket, target["arn"], "drip", ["s3:ObjectCreated:*"])
        s3.put_object(Bucket=bucket, Key="dripped", Body=b"d")
        wait_for(lambda: len(dripping.bodies) >= 1, DELIVERY_S, what="the first attempt")
        started = time.monotonic()
        wait_for(lambda: queue_of(admin, "trickle")["delivered"] == 1, 13, interval=0.5,
                 what="a trickled answer given up after 10 s and the event delivered again")
        assert time.monotonic() - started < 13
        assert queue_of(admin, "trickle")["failures"] == 1
    finally:
        dripping.release.set()
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        admin.call("DELETE", f"{TARGETS}/trickle")
        dripping.stop()


def test_per_key_order_holds_for_concurrent_writers_on_every_shard(notif_server, s3, bucket, arn, hook, settle):
    """Writers racing on one key from several connections (so several shards): the event with the largest
    sequencer, and the last one delivered, describe the object the key holds in the end."""
    configure(s3, bucket, arn, "race", ["s3:ObjectCreated:Put"])
    clients = [notif_server.client() for _ in range(8)]
    keys = [f"race-{n:02d}" for n in range(40)]
    barrier = threading.Barrier(len(clients))

    def writer(w: int):
        for key in keys:
            barrier.wait(30)  # every key a tight race
            clients[w].put_object(Bucket=bucket, Key=key, Body=f"{key}-{w}".encode())

    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(writer, range(len(clients))))
    settle()
    records = hook.records(bucket)
    assert len(records) == len(keys) * len(clients)
    wrong = []
    for key in keys:
        final = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        of_key = [r["s3"]["object"] for r in records if r["s3"]["object"]["key"] == key]
        by_sequencer = max(of_key, key=lambda o: o["sequencer"])
        if (by_sequencer["eTag"], of_key[-1]["eTag"]) != (final, final):
            wrong.append((key, final, by_sequencer["eTag"], of_key[-1]["eTag"]))
    assert not wrong, (len(wrong), wrong[:3])


def test_kill9_during_a_burst_loses_no_acknowledged_event(server_factory):
    """A working target, writers busy, kill -9: every write that got its 2xx has its event delivered (at
    least once) after the restart."""
    srv = server_factory("notify-burst")
    admin, receiver = AdminApi(srv), Webhook()
    target = create_target(admin, "burst", receiver.url("/burst"))
    srv.client().create_bucket(Bucket="burst")
    configure(srv.client(), "burst", target["arn"], "burst", ["s3:ObjectCreated:*"])
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer(w: int):
        client = srv.client(retries={"max_attempts": 1})
        for n in itertools.count():
            if stop.is_set():
                return
            key = f"w{w}-{n:05d}"
            try:
                client.put_object(Bucket="burst", Key=key, Body=b"b")
            except Exception:  # noqa: BLE001 - the kill
                return
            acknowledged.append(key)

    try:
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        wait_for(lambda: len(receiver.records("burst")) >= 200, DELIVERY_S, what="a burst under way")
        srv.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        done = list(acknowledged)
        srv.restart(same_port=True)
        wait_for(lambda: {r["s3"]["object"]["key"] for r in receiver.records("burst")} >= set(done), DELIVERY_S,
                 what=f"the events of all {len(done)} acknowledged writes")
        assert queue_of(AdminApi(srv), "burst")["dropped"] == 0
    finally:
        receiver.stop()


def test_the_secret_is_in_no_answer_audit_entry_metric_or_log(notif_server, admin):
    """Last in the module: after every test above used targets with an Authorization header (some
    failing, some deleted), the value appears nowhere an operator or a tenant can read."""
    secrets = [SECRET_HEADER, "notify-secret", "c2VjcmV0LXR3bw", "Bearer orphan", "abc\u0085def"]
    places = {
        "audit": admin.call("GET", "/audit", expect=200, params={"limit": "1000"}).text,
        "targets": admin.call("GET", TARGETS, expect=200).text,
        "metrics": requests.get(f"{notif_server.console_endpoint}/metrics", timeout=30).text,
        "server log": notif_server.stderr_path.read_text(errors="replace")
        + notif_server.stdout_path.read_text(errors="replace"),
    }
    assert "admin:CreateNotificationTarget" in places["audit"]
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text and json.dumps(secret)[1:-1] not in text, (place, secret)
