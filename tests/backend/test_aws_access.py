"""S3 locations and what each failure to use one says, against moto's server on loopback (real HTTP, real
boto3); the KMS refusals that moto does not enforce on S3 are AWS's own error responses, fed to botocore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from k2infra.backend.aws_access import AwsAccessError, S3Location, explain
from tests.aws import MotoServer, moto_server, point_at


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def aws(moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> MotoServer:
    return point_at(moto, monkeypatch, tmp_path)


def test_a_location_takes_the_query_parameters_of_pulumis_s3_backend_url():
    loc = S3Location.parse("s3://k2-outputs/team-a/prod.json?region=eu-west-1&endpoint=http://127.0.0.1:9000"
                           "&s3ForcePathStyle=true")
    assert (loc.bucket, loc.key, loc.region, loc.endpoint, loc.path_style) == (
        "k2-outputs", "team-a/prod.json", "eu-west-1", "http://127.0.0.1:9000", True)
    assert loc.url == "s3://k2-outputs/team-a/prod.json"
    assert S3Location.parse("s3://b/k?use_path_style=true").path_style
    assert not S3Location.parse("s3://b/k").path_style


@pytest.mark.parametrize(("url", "problem"), [
    ("https://bucket/key", "is not an S3 location; use s3://bucket/key"),
    ("s3://bucket", "names no object: use s3://bucket/path/to/outputs.json"),
    ("s3://bucket/folder/", "names no object"),
    ("s3://bucket/k?regoin=eu-west-1", "unknown query parameter(s) regoin; use region, endpoint"),
])
def test_a_malformed_location_says_what_is_wrong(url, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        S3Location.parse(url)


def test_write_then_read_through_moto(aws):
    aws.client("s3").create_bucket(Bucket="rw-bucket")
    loc = S3Location.parse(f"s3://rw-bucket/a/b.json?endpoint={aws.endpoint}&s3ForcePathStyle=true")
    written = loc.write(b'{"x": 1}', "k2:publishOutputs", metadata={"k2-stack": "dev"})
    assert written["etag"]
    assert loc.read("k2:publishOutputs") == b'{"x": 1}'
    head = aws.client("s3").head_object(Bucket="rw-bucket", Key="a/b.json")
    assert head["Metadata"] == {"k2-stack": "dev"} and head["ContentType"] == "application/json"
    loc.delete("k2:publishOutputs")
    with pytest.raises(AwsAccessError, match="there is no such object"):
        loc.read("k2:publishOutputs")


def test_the_endpoint_can_come_from_aws_endpoint_url(aws):
    aws.client("s3").create_bucket(Bucket="env-endpoint")
    S3Location.parse("s3://env-endpoint/o.json").write(b"{}", "k2:publishOutputs")  # AWS_ENDPOINT_URL is set
    assert aws.client("s3").get_object(Bucket="env-endpoint", Key="o.json")["Body"].read() == b"{}"


def test_a_bucket_that_does_not_exist_is_named_with_what_to_do(aws):
    with pytest.raises(AwsAccessError) as caught:
        S3Location.parse("s3://no-such-bucket/prod.json").write(b"{}", "k2:publishOutputs")
    message = str(caught.value)
    assert "cannot write s3://no-such-bucket/prod.json: the bucket no-such-bucket does not exist" in message
    assert "correct the bucket in k2:publishOutputs" in message
    assert "scripts/team-backend create --bucket no-such-bucket" in message


def test_missing_credentials_say_what_to_set(aws, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AwsAccessError, match=r"cannot read s3://b/k\.json: no AWS credentials were found: set "
                                             r"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(or AWS_PROFILE\)"):
        S3Location.parse("s3://b/k.json").read("K2_STACK_OUTPUTS")


def test_refused_and_unauthorised_credentials_are_told_apart(aws, monkeypatch):
    """moto checks signatures and IAM policies once told to (reset-auth): real refusals over real HTTP."""
    s3, iam = aws.client("s3"), aws.client("iam")
    s3.create_bucket(Bucket="guarded")
    s3.put_object(Bucket="guarded", Key="prod.json", Body=b"{}")
    iam.create_user(UserName="nobody")
    keys = iam.create_access_key(UserName="nobody")["AccessKey"]
    loc = S3Location.parse("s3://guarded/prod.json")
    aws.enforce_iam(True)
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN0000000000")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
        with pytest.raises(AwsAccessError, match=r"AWS refused the credentials \(InvalidAccessKeyId"):
            loc.read("K2_STACK_OUTPUTS")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys["SecretAccessKey"])
        with pytest.raises(AwsAccessError, match=r"access denied .*the credentials need s3:GetObject on "
                                                 r"arn:aws:s3:::guarded/prod.json"):
            loc.read("K2_STACK_OUTPUTS")
        with pytest.raises(AwsAccessError, match=r"need s3:PutObject"):
            loc.write(b"{}", "k2:publishOutputs")
    finally:
        aws.enforce_iam(False)


def test_an_unreachable_endpoint_is_named(aws):
    from k2infra.local.processes import free_ports

    closed = f"http://127.0.0.1:{free_ports(1)[0]}"
    with pytest.raises(AwsAccessError, match=f"cannot reach {closed}.*check endpoint= in k2:publishOutputs or "
                                             "AWS_ENDPOINT_URL"):
        S3Location.parse(f"s3://b/k.json?endpoint={closed}").write(b"{}", "k2:publishOutputs")


def _aws_error(code: str, message: str, status: int, operation: str):
    """The exception botocore raises for this AWS error response (the shape S3 sends for a KMS refusal)."""
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


@pytest.mark.parametrize(("code", "message", "status"), [
    ("KMS.DisabledException", "arn:aws:kms:us-east-1:123456789012:key/abc is disabled.", 400),
    ("AccessDenied", "User: arn:aws:iam::123456789012:user/app is not authorized to perform: kms:Decrypt on "
                     "resource: arn:aws:kms:us-east-1:123456789012:key/abc", 403),
    ("KMS.NotFoundException", "Invalid keyId abc", 400),
])
def test_a_kms_key_that_cannot_decrypt_is_named_not_taken_for_s3_access(code, message, status):
    loc = S3Location.parse("s3://b/prod.json")
    read = explain(_aws_error(code, message, status, "GetObject"), "cannot read s3://b/prod.json",
                   "K2_STACK_OUTPUTS", loc)
    assert "its KMS key cannot be used" in read and "the credentials need kms:Decrypt" in read
    written = explain(_aws_error(code, message, status, "PutObject"), "cannot write s3://b/prod.json",
                      "k2:publishOutputs", loc, write=True)
    assert "kms:GenerateDataKey" in written
