"""The local platform itself, on real Kafka (KRaft) and a real Apicurio registry, each test in a directory of its
own on free ports (the session's shared platform is not used): what `down` keeps and `down --wipe` removes, the
guards on a stopped directory, and state that names a pid another process now has."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from k2infra.local import LocalPlatform, PlatformError, PlatformState
from k2infra.local.processes import ProcessRecord
from tests.e2e.conftest import first_message

DEADLINE = 60.0  # generous: the machine may be a busy 2-core box; polls return as soon as they can
TOPIC = "local.persistence.trades"
SUBJECT = f"{TOPIC}-value"
OTHER_SUBJECT = "local.persistence.quotes-value"
TRADE_V1 = {"type": "record", "name": "Trade", "namespace": "k2.test",
            "fields": [{"name": "symbol", "type": "string"}, {"name": "price", "type": "double"}]}
TRADE_V2 = {**TRADE_V1, "fields": [*TRADE_V1["fields"], {"name": "venue", "type": "string", "default": "asx"}]}
QUOTE = {"type": "record", "name": "Quote", "namespace": "k2.test", "fields": [{"name": "bid", "type": "double"}]}
RECORD = {"symbol": "BHP", "price": 45.25, "venue": "chi-x"}


def k2(*args: str) -> subprocess.CompletedProcess[str]:
    """The k2 CLI as a user runs it: a real process."""
    return subprocess.run([sys.executable, "-m", "k2infra.cli", *args], capture_output=True, text=True,
                          timeout=600)


def flat(text: str) -> str:
    return " ".join(text.split())  # the console wraps long lines


def tree(directory: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(directory)): None if p.is_dir() else p.read_bytes() for p in directory.rglob("*")}


def register_and_produce(state: PlatformState) -> dict[str, object]:
    """Two subjects (one with two versions, BACKWARD) and one Confluent-framed Avro message; what the registry
    then says about them."""
    admin = AdminClient({"bootstrap.servers": state.bootstrap_servers})
    admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(timeout=DEADLINE)
    registry = SchemaRegistryClient({"url": state.schema_registry_url})
    registry.register_schema(OTHER_SUBJECT, Schema(json.dumps(QUOTE), "AVRO"))
    registry.register_schema(SUBJECT, Schema(json.dumps(TRADE_V1), "AVRO"))
    registry.set_compatibility(SUBJECT, "BACKWARD")
    registry.register_schema(SUBJECT, Schema(json.dumps(TRADE_V2), "AVRO"))
    # The topic-name strategy named explicitly: confluent-kafka 2.16's default first asks the registry's
    # associations API, which Apicurio does not have.
    serializer = AvroSerializer(registry, json.dumps(TRADE_V2), conf={
        "auto.register.schemas": False, "subject.name.strategy": topic_subject_name_strategy})
    producer = Producer({"bootstrap.servers": state.bootstrap_servers, "acks": "all"})
    producer.produce(TOPIC, key=b"BHP", value=serializer(RECORD, SerializationContext(TOPIC, MessageField.VALUE)))
    assert producer.flush(DEADLINE) == 0
    return registry_view(state)


def registry_view(state: PlatformState) -> dict[str, object]:
    registry = SchemaRegistryClient({"url": state.schema_registry_url})  # a new client: nothing cached
    view: dict[str, object] = {"subjects": sorted(registry.get_subjects())}
    for subject in (SUBJECT, OTHER_SUBJECT):
        versions = registry.get_versions(subject)
        registered = [registry.get_version(subject, v) for v in versions]
        view[subject] = [(r.version, r.schema_id, json.loads(r.schema.schema_str)) for r in registered]
    view["compatibility"] = registry.get_compatibility(SUBJECT)
    return view


def the_message(state: PlatformState) -> bytes:
    consumer = Consumer({"bootstrap.servers": state.bootstrap_servers, "group.id": f"check-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    try:
        message = first_message(consumer, DEADLINE, lambda m: not m.error())
    finally:
        consumer.close()
    assert message is not None and message.error() is None, f"no message in {TOPIC} after {DEADLINE:.0f}s"
    return bytes(message.value())


def schema_id_of(value: bytes) -> int:
    assert value[0] == 0, "not Confluent framing (magic byte 0, 4-byte schema id)"
    return int.from_bytes(value[1:5], "big")


def test_down_and_up_keep_subjects_ids_and_messages_refuse_a_node_count_change_and_wipe_removes_both(tmp_path: Path):
    """One platform's life, to start as few as possible: down and up keep everything, a resize is refused, a
    stale state is left alone, and `down --wipe` removes Kafka's data and the registry's together."""
    local = LocalPlatform(tmp_path / "platform")
    sleeper = None
    try:
        state = local.up(nodes=1, kafka_port=None, registry_port=None)
        before = register_and_produce(state)
        trade_ids = [schema_id for _, schema_id, _ in before[SUBJECT]]  # type: ignore[attr-defined]
        assert [v for v, _, _ in before[SUBJECT]] == [1, 2] and len(set(trade_ids)) == 2  # type: ignore[attr-defined]
        framed = the_message(state)
        assert schema_id_of(framed) == trade_ids[1]

        local.down()
        assert not local.running()
        assert (local.base_dir / "registry" / "data" / "registry.mv.db").is_file()  # the registry's H2 file ...
        assert (local.base_dir / "kafka" / "node-1" / "data" / "meta.properties").is_file()  # ... beside Kafka's

        # A node-count change on the stopped directory is refused, and nothing is formatted.
        kept = tree(local.base_dir)
        resized = k2("local", "up", "--nodes", "3", "--dir", str(local.base_dir))
        assert resized.returncode == 1
        assert flat(resized.stderr).startswith(f"k2 local up failed: {local.base_dir} holds a 1-node platform")
        assert "Start it with --nodes 1, or run `k2 local down --wipe" in flat(resized.stderr)
        assert tree(local.base_dir) == kept
        with pytest.raises(PlatformError, match="holds a 1-node platform"):
            local.up(nodes=3, kafka_port=None, registry_port=None)
        assert tree(local.base_dir) == kept

        # A stale platform.json whose pids now belong to another program: not running, and never signalled.
        sleeper = subprocess.Popen(["sleep", "600"])
        strangers = [ProcessRecord(sleeper.pid, p.start_time, p.cmdline) for p in state.processes]
        stale = PlatformState(state.nodes, state.broker_ports, state.controller_ports, state.registry_port,
                              strangers[:1], strangers[1:])
        local.state_file.write_text(json.dumps(stale.to_json()))
        assert not local.running()
        status = k2("local", "status", "--dir", str(local.base_dir))
        assert status.returncode == 3 and "not running" in status.stdout
        down = k2("local", "down", "--dir", str(local.base_dir))
        assert down.returncode == 0, down.stderr
        assert f"pid(s) [{sleeper.pid}]: gone or now another program's, left alone" in down.stdout
        assert sleeper.poll() is None  # still running: not signalled
        assert not local.state_file.exists()

        # Up again (new ports): everything the registry knew is back, with the same ids.
        local.state_file.write_text(json.dumps(stale.to_json()))  # and up treats the stale state as not running
        again = local.up(nodes=1, kafka_port=None, registry_port=None)
        assert sleeper.poll() is None
        assert again.kafka_pids != state.kafka_pids and local.running()
        after = registry_view(again)
        assert after == before
        assert after["compatibility"] == "BACKWARD"
        # The message kept in Kafka names a schema id that still means the same schema, and decodes.
        value = the_message(again)
        assert value == framed
        registry = SchemaRegistryClient({"url": again.schema_registry_url})
        assert json.loads(registry.get_schema(schema_id_of(value)).schema_str) == TRADE_V2
        assert AvroDeserializer(registry)(value, SerializationContext(TOPIC, MessageField.VALUE)) == RECORD
        # New registrations continue after the old ids instead of reusing them.
        new_id = registry.register_schema("local.persistence.new-value", Schema(json.dumps(QUOTE | {"name": "New"}),
                                                                                "AVRO"))
        assert new_id not in trade_ids

        # `down --wipe` on the running platform: Kafka's data and the registry's go together.
        cluster_id = json.loads(local.marker_file.read_text())["cluster_id"]
        wiped = k2("local", "down", "--wipe", "--dir", str(local.base_dir))
        assert wiped.returncode == 0, wiped.stderr
        assert f"==> wiping {local.base_dir} (Kafka logs and registry database)" in wiped.stdout
        assert not local.base_dir.exists()
        assert not any(p.running() for p in again.processes)
        fresh = local.up(nodes=1, kafka_port=None, registry_port=None)
        assert json.loads(local.marker_file.read_text())["cluster_id"] != cluster_id  # a new cluster ...
        admin = AdminClient({"bootstrap.servers": fresh.bootstrap_servers})
        assert TOPIC not in admin.list_topics(timeout=DEADLINE).topics  # ... without the old topic
        assert SchemaRegistryClient({"url": fresh.schema_registry_url}).get_subjects() == []  # ... nor schemas
    finally:
        if sleeper is not None:
            sleeper.send_signal(signal.SIGKILL)
            sleeper.wait(timeout=DEADLINE)
        local.down(wipe=True)
    assert not local.base_dir.exists()


def test_down_wipe_refuses_a_directory_that_is_not_a_platform(tmp_path: Path):
    mine = tmp_path / "mine"
    (mine / "kafka").mkdir(parents=True)  # even with a name the platform uses
    (mine / "notes.txt").write_text("keep me\n")
    before = tree(mine)
    done = k2("local", "down", "--wipe", "--dir", str(mine))
    assert done.returncode == 1
    assert flat(done.stderr) == (f"k2 local down failed: refusing to wipe {mine}: it has no k2-platform.json and "
                                 "holds kafka, notes.txt. It does not look like a K2 local platform directory, so "
                                 "nothing was stopped or removed; check --dir")
    assert tree(mine) == before
