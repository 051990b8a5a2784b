"""What every `k2 migrate` command starts from: the topology's legacy topics, the stack's cluster and registry,
and the checks that stop a command before it writes anything (wrong stack, missing topics or subjects,
a mapping to a field the deployed schema lacks, an unreachable cluster)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient, SchemaRegistryError
from fastavro import parse_schema

from k2infra.clients.errors import StackOutputsError
from k2infra.clients.profiles import Credentials, kafka_config, registry_config, registry_settings
from k2infra.clients.schema_catalog import SchemaCatalog, SubjectSchema
from k2infra.contracts.kafka_names import is_internal_topic, topic_name_problem
from k2infra.contracts.outputs import StackOutputs
from k2infra.migration.cluster import Cluster, ClusterError
from k2infra.migration.transcode import SchemaUnavailable, Transcoder, without_logical_types
from k2infra.model import Topology
from k2infra.model.legacy import LegacyTopic


class MigrationError(RuntimeError):
    """The command cannot go on; the message says why and what to do. Nothing was written."""


def migration_group(environment: str) -> str:
    """The consumer group whose committed offsets are the migration's position (one per environment)."""
    return f"k2-migrate.{environment}"


@dataclass
class Registry:
    """Legacy writer schemas by id, through the registry client apps use; an outage is an error, never a
    refusal of the record (only an id the registry does not know makes a value undecodable)."""

    client: SchemaRegistryClient
    url: str
    _texts: dict[int, str] = field(default_factory=dict)

    def writer_schema(self, schema_id: int) -> str:
        found = self._texts.get(schema_id)
        if found is None:
            try:
                schema = self.client.get_schema(schema_id)
            except SchemaRegistryError as err:
                if err.http_status_code == 404:
                    raise SchemaUnavailable(f"schema id {schema_id} is not in the registry") from None
                raise MigrationError(f"the schema registry at {self.url} failed: {err}") from None
            except Exception as err:
                raise MigrationError(f"cannot reach the schema registry at {self.url}: {err}") from None
            if schema.schema_type not in (None, "AVRO") or schema.schema_str is None:
                raise SchemaUnavailable(f"schema id {schema_id} is a {schema.schema_type} schema, not Avro")
            found = self._texts[schema_id] = schema.schema_str
        return found

    def subjects(self) -> set[str]:
        try:
            return set(self.client.get_subjects())
        except Exception as err:
            raise MigrationError(f"cannot reach the schema registry at {self.url}: {err}") from None


@dataclass
class Context:
    topology: Topology
    stack: str
    conf: dict[str, Any]  # librdkafka settings for the stack's cluster
    registry: Registry
    group: str
    outputs: StackOutputs | None = None  # a deployed stack's outputs (run, verify, cutover)
    _catalog: SchemaCatalog | None = None
    _canonical: dict[tuple[str, int], Any] = field(default_factory=dict)

    @classmethod
    def deployed(cls, topology: Topology, stack: str, outputs: StackOutputs, group: str | None = None,
                 credentials: Credentials | None = None) -> Context:
        """From a deployed stack's outputs: the cluster, the registry and the deployed schema versions."""
        if outputs.stack and outputs.stack != stack:
            raise MigrationError(f"{outputs.source} are the outputs of stack {outputs.stack!r}, not {stack!r}")
        if outputs.environment and outputs.environment != topology.environment:
            raise MigrationError(f"{outputs.source} are for environment {outputs.environment!r}, but stack {stack!r} "
                                 f"has {topology.environment!r} in topics.yaml")
        try:
            conf = kafka_config(outputs, credentials)
            registry_conf = registry_config(outputs, credentials)
        except StackOutputsError as err:
            raise MigrationError(str(err)) from None
        client = SchemaRegistryClient(registry_conf)
        return cls(topology, stack, conf, Registry(client, registry_conf["url"]),
                   group or migration_group(topology.environment), outputs, SchemaCatalog(client, outputs))

    @classmethod
    def planned(cls, topology: Topology, stack: str, conf: Mapping[str, Any], registry_url: str,
                group: str | None = None, credentials: Credentials | None = None) -> Context:
        """From the stack's settings alone (no deployed stack needed): for the dry run."""
        registry_conf = registry_settings(registry_url, credentials)
        return cls(topology, stack, dict(conf), Registry(SchemaRegistryClient(registry_conf), registry_url),
                   group or migration_group(topology.environment))

    @property
    def legacy(self) -> tuple[LegacyTopic, ...]:
        if not self.topology.legacy:
            raise MigrationError(f"{self.topology.source} declares no legacy_topics: nothing to migrate from")
        return self.topology.legacy

    @property
    def servers(self) -> str:
        return str(self.conf["bootstrap.servers"])

    def cluster(self) -> Cluster:
        return Cluster(self.conf)

    def legacy_partitions(self, cluster: Cluster) -> dict[str, int]:
        """Legacy topic -> partitions; MigrationError naming those missing from the cluster."""
        names = [t.name for t in self.legacy]
        try:
            found = cluster.partitions(names)
        except ClusterError as err:
            raise MigrationError(str(err)) from None
        missing = [t for t in self.legacy if t.name not in found]
        if missing:
            lines = "; ".join(f"{t.name} (declared at {t.where})" for t in missing)
            raise MigrationError(f"legacy topic(s) not on the cluster at {self.servers}: {lines}. Check the stack "
                                 "(--stack) and the cluster; remove a topic this environment never had from "
                                 "legacy_topics")
        return {n: found[n] for n in names}

    def deployed_schema(self, topic: str) -> SubjectSchema:
        """The schema a target topic's records are written with: its subject's version the stack deployed."""
        assert self._catalog is not None, "needs a deployed stack's outputs"
        try:
            return self._catalog.for_topic(topic)
        except StackOutputsError as err:
            raise MigrationError(str(err)) from None
        except ValueError as err:
            raise MigrationError(f"{topic}: {err}. Is the stack deployed with this topics.yaml (`pulumi up "
                                 f"--stack {self.stack}`)?") from None
        except Exception as err:
            raise MigrationError(f"cannot read {topic}'s schema from the registry at {self.registry.url}: "
                                 f"{err}") from None

    def canonical(self, topic: str, value: bytes) -> bytes:
        """A value on an exchange topic as the migration's slow path writes it now (decoded by its schema id with
        timestamps kept as numbers, resolved to the deployed version, encoded by RecordEncoder): what `verify`
        compares, whichever path or schema version wrote it. ValueError if it does not decode."""
        from k2infra.clients.avro import reader_for
        from k2infra.clients.records import RecordEncoder

        deployed = self.deployed_schema(topic)
        schema_id = int.from_bytes(value[1:5], "big")
        plan = self._canonical.get((topic, schema_id))
        if plan is None:
            def stripped(sid: int) -> Any:
                return parse_schema(without_logical_types(json.loads(self.registry.writer_schema(sid))))
            try:
                writer = stripped(schema_id)
            except SchemaUnavailable as err:
                raise ValueError(str(err)) from None
            reader = None if schema_id == deployed.schema_id else stripped(deployed.schema_id)
            plan = self._canonical[(topic, schema_id)] = (reader_for(writer, reader), RecordEncoder(deployed))
        try:
            return plan[1].encode(plan[0](value, 5)[0])
        except Exception as err:  # fastavro's and the encoder's errors alike: the copy is not what it should be
            raise ValueError(f"{type(err).__name__}: {err}") from None

    def transcoders(self, fast: bool = True) -> dict[str, Transcoder]:
        """One per legacy topic; fast=False: always decode and encode (verify's independent path)."""
        return {t.name: Transcoder(t, self.registry.writer_schema, self.deployed_schema, fast) for t in self.legacy}

    def check_dead_letter(self, name: str | None) -> None:
        """The migration writes to a dead-letter topic: never an internal topic, nor one of its own sources or
        targets (the records would loop, or land among the exchange's records)."""
        if name is None:
            return
        if is_internal_topic(name) or topic_name_problem(name):
            raise MigrationError(f"--dead-letter {name!r} is not a topic the migration may write to: name a topic "
                                 "of your own (not one of Kafka's or its tools', such as __consumer_offsets)")
        if name in {t.name for t in self.topology.topics} | self.topology.legacy_names:
            raise MigrationError(f"--dead-letter {name} is one of the migration's own topics (an exchange or legacy "
                                 "topic of topics.yaml): name a topic of its own for the records that route nowhere")

    def check_targets(self, cluster: Cluster, dead_letter: str | None = None) -> dict[str, int]:
        """Target topic -> partitions; MigrationError unless every target topic exists, every subject is deployed
        and every mapping of topics.yaml fits the deployed schema."""
        self.check_dead_letter(dead_letter)
        targets = sorted({t for legacy in self.legacy for t in legacy.target_topics})
        try:
            found = cluster.partitions([*targets, *([dead_letter] if dead_letter else [])])
        except ClusterError as err:
            raise MigrationError(str(err)) from None
        missing = [t for t in targets if t not in found]
        if missing:
            raise MigrationError(f"target topics missing on the cluster at {self.servers}: {', '.join(missing)}. "
                                 f"Create them first: `pulumi up --stack {self.stack}` (`k2 migrate plan` lists them)")
        if dead_letter and dead_letter not in found:
            raise MigrationError(f"dead-letter topic {dead_letter} does not exist on the cluster at {self.servers}: "
                                 "create it first (any partition count; its records keep their legacy key and value)")
        for legacy in self.legacy:
            for target in legacy.targets.values():
                check_mapping(legacy, target.topic, self.deployed_schema(target.topic))
        return {t: found[t] for t in targets}


def stack_outputs(stack: str, project_dir: Path, file: Path | None = None) -> StackOutputs:
    """A deployed stack's outputs: from `file`, else $K2_STACK_OUTPUTS, else the stack itself (Pulumi)."""
    from k2infra.clients.sources import ENV_VAR, LiveStack, load_stack_outputs

    try:
        if file is not None:
            return load_stack_outputs(file)
        if os.environ.get(ENV_VAR):
            return load_stack_outputs(None)
        return LiveStack(stack, project_dir).load()
    except StackOutputsError as err:
        raise MigrationError(f"{err}. The migration writes with the schema versions a deployed stack has: deploy it "
                             f"(`pulumi up --stack {stack}`), or give its outputs (--outputs FILE)") from None


def check_mapping(legacy: LegacyTopic, topic: str, schema: SubjectSchema) -> None:
    """topics.yaml's mapping names fields of the deployed schema (it was checked against the schema files)."""
    fields = {f["name"] for f in schema.parsed["fields"]}
    named = [*legacy.rename.values(), *legacy.values, *legacy.record_timestamp, *legacy.key.fields]
    lacking = sorted({n for n in named if n not in fields})
    if lacking:
        raise MigrationError(f"{legacy.where} maps to field(s) {', '.join(lacking)}, which {schema.subject} version "
                             f"{schema.version} (deployed for {topic}) lacks: fix the mapping or deploy the schema")


def planned_schema(subject: str, schema_text: str, partition_key: str, registered: Mapping[str, int]) -> SubjectSchema:
    """A target schema from topics.yaml, for a dry run before (or without) its deployment."""
    return SubjectSchema(subject, registered.get(subject, 0), 0, parse_schema(json.loads(schema_text)), partition_key)
