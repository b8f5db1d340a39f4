"""Request payment and transfer acceleration: stored and answered as AWS does (issue 21: they
answered 501). Neither changes how this server serves requests."""

from __future__ import annotations

from helpers import expect_client_error, unique_bucket_name


def test_request_payment_defaults_to_the_owner_and_round_trips(s3, aws):
    bucket = unique_bucket_name("payer")
    s3.create_bucket(Bucket=bucket)
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"})
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "Requester"
    aws("s3api", "put-bucket-request-payment", "--bucket", bucket,
        "--request-payment-configuration", "Payer=BucketOwner")
    assert "BucketOwner" in aws("s3api", "get-bucket-request-payment", "--bucket", bucket).stdout
    expect_client_error(s3.get_bucket_request_payment, Bucket=unique_bucket_name("none"), code="NoSuchBucket")


def test_accelerate_is_empty_until_set_and_refused_for_dotted_names(s3):
    bucket = unique_bucket_name("accel")
    s3.create_bucket(Bucket=bucket)
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    s3.put_bucket_accelerate_configuration(Bucket=bucket, AccelerateConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket)["Status"] == "Suspended"
    s3.put_bucket_accelerate_configuration(Bucket=bucket, AccelerateConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket)["Status"] == "Enabled"
    dotted = unique_bucket_name("acc") + ".dots"
    s3.create_bucket(Bucket=dotted)
    expect_client_error(s3.put_bucket_accelerate_configuration, Bucket=dotted, code="InvalidRequest",
                        AccelerateConfiguration={"Status": "Enabled"})
