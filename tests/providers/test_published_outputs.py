"""k2:publishOutputs: the program declares one resource holding the contract's JSON (under mocks), and its dynamic
provider writes, refreshes and (only when asked) deletes the S3 object, against moto's server on loopback."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from k2infra.clients import load_stack_outputs
from k2infra.contracts.outputs import StackOutputs
from k2infra.providers.published_outputs import PublishedOutputsProvider, published_json
from tests.aws import MotoServer, moto_server, point_at
from tests.clients.conftest import STACK_OUTPUTS
from tests.program.conftest import DYNAMIC, LOCAL, run_program

BUCKET = "k2-published"


def test_without_the_setting_nothing_is_published(project):
    run = run_program(project, LOCAL)
    assert [r for r in run.of_type(DYNAMIC) if r.name == "published-outputs"] == []


def test_the_setting_publishes_exactly_the_stack_outputs(project):
    location = f"s3://{BUCKET}/team-a/dev.json?region=eu-west-1"
    run = run_program(project, {**LOCAL, "k2:publishOutputs": location})
    published = run.named("published-outputs")
    assert published.typ == DYNAMIC
    assert published.inputs["location"] == location
    assert published.inputs["delete_on_destroy"] is False
    content = json.loads(published.inputs["content"])
    assert content == StackOutputs.parse(run.outputs, "outputs").to_json_data()  # the contract, no more
    assert content["stack"] == "dev" and len(content["topics"]) == 6 and len(content["subjects"]) == 6
    assert "Password" not in published.inputs["content"] and "password" not in published.inputs["content"]


def test_a_malformed_location_stops_the_program_naming_the_setting(project):
    with pytest.raises(Exception, match=r"k2:publishOutputs for stack dev: 'https://x/y' is not an S3 location"):
        run_program(project, {**LOCAL, "k2:publishOutputs": "https://x/y"})


def test_the_provider_holds_no_credentials_when_pickled_into_state(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-that-must-not-be-pickled")
    assert b"secret-that-must-not-be-pickled" not in pickle.dumps(PublishedOutputsProvider())


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        server.client("s3").create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture
def aws(moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> MotoServer:
    return point_at(moto, monkeypatch, tmp_path)


def props(key: str, delete_on_destroy: bool = False, bucket: str = BUCKET) -> dict:
    return {"location": f"s3://{bucket}/{key}", "stack": "dev", "outputs_version": "1.1",
            "content": published_json(json.loads(STACK_OUTPUTS.read_text()), "dev"),
            "delete_on_destroy": delete_on_destroy}


def test_create_writes_what_the_helpers_read_and_delete_keeps_it(aws):
    provider = PublishedOutputsProvider()
    created = provider.create(props("dev.json"))
    assert created.id == f"s3://{BUCKET}/dev.json" and created.outs["etag"]
    read_back = load_stack_outputs(f"s3://{BUCKET}/dev.json")
    assert read_back.to_json_data() == load_stack_outputs(STACK_OUTPUTS).to_json_data()
    head = aws.client("s3").head_object(Bucket=BUCKET, Key="dev.json")
    assert head["Metadata"] == {"k2-stack": "dev", "k2-outputs-version": "1.1"}
    provider.delete(created.id, created.outs)  # deletes nothing by default
    assert aws.client("s3").head_object(Bucket=BUCKET, Key="dev.json")["ETag"] == head["ETag"]


def test_delete_removes_the_object_only_when_asked(aws):
    provider = PublishedOutputsProvider()
    created = provider.create(props("throwaway.json", delete_on_destroy=True))
    provider.delete(created.id, created.outs)
    listed = aws.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="throwaway.json")
    assert listed.get("KeyCount") == 0


def test_refresh_sees_an_object_changed_or_deleted_outside_k2(aws):
    provider = PublishedOutputsProvider()
    created = provider.create(props("refresh.json"))
    assert provider.read(created.id, created.outs).outs["content"] == created.outs["content"]
    aws.client("s3").put_object(Bucket=BUCKET, Key="refresh.json", Body=b'{"edited": true}')
    changed = provider.read(created.id, created.outs)
    assert changed.outs["content"] == '{"edited": true}'
    assert provider.diff(created.id, changed.outs, created.outs).changes  # the next up writes it back
    aws.client("s3").delete_object(Bucket=BUCKET, Key="refresh.json")
    assert provider.read(created.id, created.outs).id is None


def test_a_moved_location_replaces_without_deleting_the_old_object():
    provider = PublishedOutputsProvider()
    diff = provider.diff("id", props("old.json"), props("new.json"))
    assert diff.changes and diff.replaces == ["location"] and not diff.delete_before_replace
    assert not provider.diff("id", props("same.json"), props("same.json")).changes


def test_a_missing_bucket_fails_the_update_naming_the_setting(aws):
    with pytest.raises(Exception, match=r"publishing the stack outputs: cannot write s3://no-such-bucket/dev.json: "
                                        r"the bucket no-such-bucket does not exist.*correct the bucket in "
                                        r"k2:publishOutputs"):
        PublishedOutputsProvider().create(props("dev.json", bucket="no-such-bucket"))


def test_missing_credentials_fail_the_update_saying_what_to_set(aws, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(Exception, match=r"publishing the stack outputs: cannot write .*: no AWS credentials were "
                                        r"found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        PublishedOutputsProvider().create(props("dev.json"))


def test_check_refuses_a_location_that_is_not_s3():
    failures = PublishedOutputsProvider().check({}, {"location": "file:///tmp/x.json"}).failures
    assert [(f.property, "k2:publishOutputs" in f.reason) for f in failures] == [("location", True)]
