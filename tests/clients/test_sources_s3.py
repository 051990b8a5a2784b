"""Stack outputs published to S3 (k2:publishOutputs), read by the app helpers: the same validation and errors as
the file source, against moto's server on loopback; boto3 is imported only for an S3 source."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from k2infra.clients import ENV_VAR, StackOutputsError, load_stack_outputs
from tests.aws import MotoServer, aws_env, environ_with, moto_server, point_at
from tests.clients.conftest import STACK_OUTPUTS
from tests.conftest import ROOT

BUCKET = "k2-outputs"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        server.client("s3").create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture
def aws(moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> MotoServer:
    return point_at(moto, monkeypatch, tmp_path)


def put(moto: MotoServer, key: str, body: str | bytes) -> str:
    moto.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def test_an_s3_object_gives_the_same_outputs_as_the_file(aws, outputs_json, monkeypatch, tmp_path):
    url = put(aws, "team-a/dev.json", STACK_OUTPUTS.read_bytes())
    from_file = load_stack_outputs(STACK_OUTPUTS)
    from_s3 = load_stack_outputs(url)
    assert from_s3.to_json_data() == from_file.to_json_data()
    assert from_s3.source == f"stack outputs at {url}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_VAR, url)
    assert load_stack_outputs().to_json_data() == from_file.to_json_data()
    assert load_stack_outputs().source == f"${ENV_VAR} ({url})"


def test_the_endpoint_and_region_may_be_in_the_location(aws, monkeypatch):
    url = put(aws, "with-query.json", STACK_OUTPUTS.read_bytes())
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert load_stack_outputs(f"{url}?endpoint={aws.endpoint}&region=us-east-1&s3ForcePathStyle=true").topics


@pytest.mark.parametrize(("text", "expected"), [
    ("{}", "no outputs at all: has the stack been deployed"),
    ("[1, 2]", "not a JSON object but list"),
    ('{"topics": ', "not valid JSON (line 1"),
    ('{"topics": 3, "subjects": [], "bootstrap_servers": "h:1", "schema_registry_url": "u"}',
     "topics must be a list, got 3"),
])
def test_malformed_content_is_refused_as_from_a_file(aws, text, expected):
    url = put(aws, "bad.json", text)
    with pytest.raises(StackOutputsError) as caught:
        load_stack_outputs(url)
    assert str(caught.value).startswith(f"stack outputs at {url}: ")
    assert expected in str(caught.value)


def test_every_missing_output_is_named(aws, outputs_json):
    del outputs_json["bootstrap_servers"]
    outputs_json["topics"][2]["partitions"] = "thirty"
    url = put(aws, "partial.json", json.dumps(outputs_json))
    with pytest.raises(StackOutputsError) as caught:
        load_stack_outputs(url)
    assert "bootstrap_servers is missing" in str(caught.value)
    assert "topics[2].partitions must be a whole number, got 'thirty'" in str(caught.value)


def test_a_missing_bucket_or_object_says_what_to_do(aws, monkeypatch):
    with pytest.raises(StackOutputsError, match=r"cannot read s3://no-bucket/dev.json: the bucket no-bucket does "
                                                r"not exist.*correct the bucket in the location given to "
                                                r"load_stack_outputs"):
        load_stack_outputs("s3://no-bucket/dev.json")
    monkeypatch.setenv(ENV_VAR, f"s3://{BUCKET}/never-published.json")
    with pytest.raises(StackOutputsError, match=rf"^\${ENV_VAR}: cannot read s3://{BUCKET}/never-published.json: "
                                                r"there is no such object.*k2:publishOutputs.*correct "
                                                rf"\${ENV_VAR}"):
        load_stack_outputs()


def test_missing_credentials_say_what_to_set(aws, monkeypatch):
    url = put(aws, "creds.json", STACK_OUTPUTS.read_bytes())
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StackOutputsError, match="no AWS credentials were found: set AWS_ACCESS_KEY_ID and "
                                                "AWS_SECRET_ACCESS_KEY"):
        load_stack_outputs(url)


def test_a_malformed_location_is_refused_before_any_call(aws):
    with pytest.raises(StackOutputsError, match="names no object"):
        load_stack_outputs(f"s3://{BUCKET}")


def test_an_app_needs_neither_pulumi_nor_boto3_for_a_file_and_only_boto3_for_s3(aws, tmp_path):
    url = put(aws, "imports.json", STACK_OUTPUTS.read_bytes())
    probe = ("import sys, k2infra.clients as c; c.load_stack_outputs(sys.argv[1]); "
             "print(sorted(m for m in ('pulumi', 'boto3') if m in sys.modules))")
    env = environ_with(aws_env(aws.endpoint, tmp_path), {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    for source, expected in ((str(STACK_OUTPUTS), "[]"), (url, "['boto3']")):
        done = subprocess.run([sys.executable, "-c", probe, source], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected
