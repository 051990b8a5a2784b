"""The registered schemas apps write and read with, fetched once from the registry and never registered.

The Pulumi program registers every subject; an app uses the version the stack outputs name (the
one deployed with the topics), or the latest when it has only topics.yaml. Writer schemas of
consumed messages are fetched by the id each message carries.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient, SchemaRegistryError
from fastavro import parse_schema

from k2infra.clients.errors import StackOutputsError
from k2infra.clients.subject_strategy import SharedSubjectStrategy
from k2infra.contracts.outputs import StackOutputs, SubjectInfo


@dataclass(frozen=True)
class SubjectSchema:
    subject: str
    schema_id: int
    version: int
    parsed: Any  # fastavro's parsed schema
    partition_key: str


class SchemaCatalog:
    def __init__(self, registry: SchemaRegistryClient, outputs: StackOutputs):
        self.registry = registry
        self.strategy = SharedSubjectStrategy(outputs)
        self._where = outputs.source
        self._by_subject: dict[str, SubjectSchema] = {}
        self._by_id: dict[int, Any] = {}
        self._lock = threading.Lock()  # producers may be shared between threads

    def for_topic(self, topic: str) -> SubjectSchema:
        """The schema records for `topic` are written with: its shared subject's deployed version."""
        info = self.strategy.subject_info(topic)
        found = self._by_subject.get(info.subject)
        if found is None:
            with self._lock:
                found = self._by_subject.get(info.subject)
                if found is None:
                    found = self._by_subject[info.subject] = self._fetch(info)
        return found

    def writer_schema(self, schema_id: int) -> Any:
        """The parsed schema a message was written with, by the id in its first bytes."""
        found = self._by_id.get(schema_id)
        if found is None:
            try:
                schema = self.registry.get_schema(schema_id)
            except SchemaRegistryError as err:
                raise StackOutputsError(f"schema id {schema_id} is not in the registry "
                                        f"({err.http_status_code}: {err.error_message})") from None
            found = self._by_id.setdefault(schema_id, _parse(schema, f"schema id {schema_id}"))
        return found

    def _fetch(self, info: SubjectInfo) -> SubjectSchema:
        wanted = f"version {info.version}" if info.version is not None else "latest version"
        try:
            if info.version is not None:
                registered = self.registry.get_version(info.subject, info.version)
            else:
                registered = self.registry.get_latest_version(info.subject)
        except SchemaRegistryError as err:
            if err.http_status_code == 404:
                raise StackOutputsError(
                    f"subject {info.subject} ({wanted}) is not in the schema registry: the Pulumi program "
                    "registers it (`pulumi up`); apps never register schemas") from None
            raise
        if info.schema_id is not None and registered.schema_id != info.schema_id:
            raise StackOutputsError(
                f"{self._where}: subject {info.subject} version {registered.version} has schema id "
                f"{registered.schema_id} in the registry, but the stack outputs say {info.schema_id}: "
                "the outputs are stale or name another registry")
        schema_id, version = registered.schema_id, registered.version
        if schema_id is None or version is None:
            raise StackOutputsError(f"the registry gave {info.subject} ({wanted}) without an id or version")
        parsed = _parse(registered.schema, info.subject)
        self._by_id.setdefault(schema_id, parsed)
        return SubjectSchema(info.subject, schema_id, version, parsed, info.partition_key)


def _parse(schema: Any, what: str) -> Any:
    if schema.schema_type not in (None, "AVRO"):
        raise StackOutputsError(f"{what} is a {schema.schema_type} schema; the K2 helpers read and write Avro")
    if schema.references:
        raise StackOutputsError(f"{what} uses schema references, which the K2 subjects do not use")
    return parse_schema(json.loads(schema.schema_str))
