"""A password generated once and kept in the stack's state as a secret (dynamic provider, Python's `secrets`).

pulumi-random's RandomPassword does the same, but its provider is one more Go build from the module proxy (as
toolchain/pulumi-resource-kafka is) and one more plugin per machine, for a dozen lines of Python here. The
password is made in create() and never again: an update with the same inputs keeps it, and only a replacement
(`k2 users rotate`: `pulumi up --replace` of this resource) makes a new one. Its output is declared secret, so
the state holds it encrypted and no preview, log or output shows it.

Keep this module's path: Pulumi stores the provider in state pickled by reference to it.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

BYTES = 32  # 256 bits of randomness, 43 URL-safe characters: nothing a JAAS line or a SCRAM argument must quote


def new_password(nbytes: int = BYTES) -> str:
    return secrets.token_urlsafe(nbytes)


class GeneratedPasswordProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(uuid.uuid4().hex, {**props, "password": new_password(int(props.get("bytes") or BYTES))})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Only a new length asks for a new password; everything else keeps the one in state.
        changed = olds.get("bytes") != news.get("bytes")
        return DiffResult(changes=changed, replaces=["bytes"] if changed else [], delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)  # nothing outside the state to observe


class GeneratedPassword(Resource):
    password: pulumi.Output[str]

    def __init__(self, name: str, *, nbytes: int = BYTES, opts: pulumi.ResourceOptions | None = None):
        secret = pulumi.ResourceOptions(additional_secret_outputs=["password"])
        super().__init__(GeneratedPasswordProvider(), name, {"bytes": nbytes, "password": None},
                         pulumi.ResourceOptions.merge(opts, secret))
