"""The stack outputs published for apps: after each `pulumi up`, the typed contract (StackOutputs, no secrets)
as JSON in the S3 object that `k2:publishOutputs` names, written by a dynamic provider with boto3.

pulumi-aws is on PyPI, but its provider plugin comes from GitHub releases and is not on the Go module proxy,
so it cannot be obtained here; this provider does the one thing needed. It holds no credentials: boto3
finds them at run time (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role), so nothing about
them reaches the state. It deletes nothing unless `k2:unpublishOnDestroy` is true: destroying a stack, or
moving the location, leaves the old object where apps may still read it.

Keep this module's path: Pulumi stores the provider in state pickled by reference to it.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from k2infra.backend.aws_access import AwsAccessError, S3Location
from k2infra.contracts.outputs import StackOutputs

SETTING = "k2:publishOutputs"


def published_json(outputs: dict[str, Any], stack: str) -> str:
    """The contract's JSON for `outputs` (checked by the same model the apps read it with)."""
    checked = StackOutputs.parse(outputs, f"the outputs of stack {stack}").to_json_data()
    return json.dumps(checked, indent=2) + "\n"


def _write(props: dict[str, Any]) -> dict[str, Any]:
    location = S3Location.parse(props["location"])
    try:
        written = location.write(props["content"].encode("utf-8"), SETTING,
                                 metadata={"k2-stack": str(props.get("stack") or ""),
                                           "k2-outputs-version": str(props.get("outputs_version") or "")})
    except AwsAccessError as err:
        raise Exception(f"publishing the stack outputs: {err}") from None  # the message is the whole story
    return {**props, "etag": written.get("etag"), "version_id": written.get("version_id")}


class PublishedOutputsProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        try:
            S3Location.parse(str(news.get("location") or ""))
        except ValueError as err:
            return CheckResult(news, [CheckFailure("location", f"{SETTING}: {err}")])
        return CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("location", "content", "delete_on_destroy") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=["location"] if "location" in changed else [],
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(S3Location.parse(props["location"]).url, _write(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_write(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the object as it is now; gone if it was deleted (the next up writes it again)."""
        location = S3Location.parse(props["location"])
        try:
            body = location.read(SETTING)
        except AwsAccessError as err:
            if "there is no such object" in str(err):
                return ReadResult(None, {})
            raise Exception(f"reading the published stack outputs: {err}") from None
        content = body.decode("utf-8", errors="replace")
        try:
            same = json.loads(content) == json.loads(props.get("content") or "null")
        except json.JSONDecodeError:
            same = False
        return ReadResult(id_, {**props, "content": props.get("content") if same else content})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if not props.get("delete_on_destroy"):
            return  # by default nothing is deleted: apps may still read it
        location = S3Location.parse(props["location"])
        try:
            location.delete(SETTING)
        except AwsAccessError as err:
            raise Exception(f"deleting the published stack outputs: {err}") from None


class PublishedOutputs(Resource):
    """The stack outputs as an S3 object for apps (`load_stack_outputs("s3://bucket/key")`)."""

    etag: pulumi.Output[str]
    version_id: pulumi.Output[str]

    def __init__(self, name: str, *, location: str, outputs: pulumi.Input[dict[str, Any]], stack: str,
                 delete_on_destroy: bool = False, opts: pulumi.ResourceOptions | None = None):
        content = pulumi.Output.from_input(outputs).apply(lambda data: published_json(data, stack))
        props = {
            "location": location,
            "content": content,
            "stack": stack,
            "outputs_version": pulumi.Output.from_input(outputs).apply(lambda d: d.get("outputs_version")),
            "delete_on_destroy": delete_on_destroy,
            "etag": None,
            "version_id": None,
        }
        super().__init__(PublishedOutputsProvider(), name, props, opts)
