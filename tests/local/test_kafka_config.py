"""What of k2infra.local.kafka and .registry works without starting a broker or a registry: the broker configs
for one and three nodes, the SASL listener, cluster ids and formatting (with Kafka's real storage tool), the
registry's command line and storage, and the errors when the jars or the registry are missing."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from k2infra.contracts.failover import BROKER_SETTINGS
from k2infra.local.kafka import KafkaCluster, new_cluster_id, read_cluster_id
from k2infra.local.processes import PlatformError, alive, free_ports
from k2infra.local.registry import SchemaRegistry
from tests.local.conftest import Children, write_fake_java

NOT_SET = r"^{} is not set, so {} cannot be found: run scripts/bootstrap first, then `\. scripts/env\.sh`$"


def parse(properties: str) -> dict[str, str]:
    assert properties.endswith("\n")
    pairs = [line.split("=", 1) for line in properties.splitlines()]
    assert all(len(pair) == 2 for pair in pairs), properties
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "a key is repeated"
    return dict(pairs)  # type: ignore[arg-type]


def test_one_node_is_broker_and_controller_with_replication_one(tmp_path: Path):
    cluster = KafkaCluster.with_ports(tmp_path, [19092], [19192])
    assert [(n.node_id, n.broker_port, n.controller_port, n.sasl_port) for n in cluster.nodes] == [
        (1, 19092, 19192, None)]
    assert cluster.bootstrap_servers == "127.0.0.1:19092"
    assert cluster.sasl_bootstrap_servers == ""
    props = parse(cluster._properties(cluster.nodes[0]))
    assert props == {
        "process.roles": "broker,controller",
        "node.id": "1",
        "listeners": "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19192",
        "advertised.listeners": "PLAINTEXT://127.0.0.1:19092",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL:SASL_PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.quorum.voters": "1@127.0.0.1:19192",
        "log.dirs": str(tmp_path / "node-1" / "data"),
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "log.segment.bytes": str(16 * 1024 * 1024),
        "log.index.size.max.bytes": str(1024 * 1024),
    }


def test_three_nodes_share_the_voters_and_replicate_internal_topics_three_ways(tmp_path: Path):
    cluster = KafkaCluster.with_ports(tmp_path, [19092, 19093, 19094], [19192, 19193, 19194])
    assert cluster.bootstrap_servers == "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
    configs = [parse(cluster._properties(node)) for node in cluster.nodes]
    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    for i, props in enumerate(configs):
        assert props["listeners"] == f"PLAINTEXT://127.0.0.1:{19092 + i},CONTROLLER://127.0.0.1:{19192 + i}"
        assert props["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:{19092 + i}"
        assert props["controller.quorum.voters"] == "1@127.0.0.1:19192,2@127.0.0.1:19193,3@127.0.0.1:19194"
        assert props["log.dirs"] == str(tmp_path / f"node-{i + 1}" / "data")
        assert props["offsets.topic.replication.factor"] == "3"
        assert props["transaction.state.log.replication.factor"] == "3"
        assert props["default.replication.factor"] == "3"
        assert props["transaction.state.log.min.isr"] == "2"
        assert props["min.insync.replicas"] == "1"  # the cluster default; prod topics set their own
        assert "sasl.enabled.mechanisms" not in props
        # A dead node is fenced within 2 s (k2infra.contracts.failover); one node alone keeps Kafka's defaults.
        assert {key: props[key] for key in BROKER_SETTINGS} == {k: str(v) for k, v in BROKER_SETTINGS.items()}


def test_sasl_listener_lines(tmp_path: Path):
    cluster = KafkaCluster.with_ports(tmp_path, [19092, 19093, 19094], [19192, 19193, 19194],
                                      sasl_ports=[19292, 19293, 19294],
                                      sasl_users={"alice": "alice-secret", "k2-app": "p@ss word"})
    assert cluster.sasl_bootstrap_servers == "127.0.0.1:19292,127.0.0.1:19293,127.0.0.1:19294"
    props = parse(cluster._properties(cluster.nodes[1]))
    assert props["listeners"] == ("PLAINTEXT://127.0.0.1:19093,CONTROLLER://127.0.0.1:19193,"
                                  "SASL://127.0.0.1:19293")
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19093,SASL://127.0.0.1:19293"
    assert props["sasl.enabled.mechanisms"] == "PLAIN"
    assert props["listener.name.sasl.plain.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.plain.PlainLoginModule required '
        'user_alice="alice-secret" user_k2-app="p@ss word";')
    assert props["inter.broker.listener.name"] == "PLAINTEXT"  # brokers and controllers stay on PLAINTEXT
    assert props["controller.listener.names"] == "CONTROLLER"


def test_server_properties_with_sasl_passwords_are_owner_only_from_the_first_byte(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The non-secure platform's SASL listener lists its users' passwords in server.properties: 0600 like the
    # secure platform's, even under a umask that would leave a new file world-readable, and also when a 0644 file
    # from an earlier version is there.
    monkeypatch.setattr("k2infra.local.kafka.find_java", lambda minimum: "java")
    monkeypatch.setattr(subprocess, "run", lambda cmd, **_: subprocess.CompletedProcess(cmd, 0, "", ""))
    cluster = KafkaCluster.with_ports(tmp_path / "kafka", [19092, 19093], [19192, 19193], sasl_ports=[19292, 19293],
                                      sasl_users={"alice": "alice-secret"})
    old = tmp_path / "kafka" / "node-2" / "server.properties"
    old.parent.mkdir(parents=True)
    old.write_text("listener.name.sasl.plain.sasl.jaas.config=... user_alice=\"alice-secret\";\n")
    old.chmod(0o644)
    previous = os.umask(0)
    try:
        cluster.format(new_cluster_id())
    finally:
        os.umask(previous)
    for node in ("node-1", "node-2"):
        props = tmp_path / "kafka" / node / "server.properties"
        assert 'user_alice="alice-secret"' in props.read_text()
        assert stat.S_IMODE(props.stat().st_mode) == 0o600, node
    assert sorted(p.name for p in old.parent.iterdir()) == ["log4j2.properties", "server.properties"]  # no .tmp


def test_no_sasl_listener_without_users(tmp_path: Path):
    cluster = KafkaCluster.with_ports(tmp_path, [19092], [19192], sasl_ports=[19292])
    props = parse(cluster._properties(cluster.nodes[0]))
    assert "SASL://" not in props["listeners"]
    assert "sasl.enabled.mechanisms" not in props
    assert "listener.name.sasl.plain.sasl.jaas.config" not in props


def test_with_ports_refuses_lists_of_different_lengths(tmp_path: Path):
    with pytest.raises(ValueError):
        KafkaCluster.with_ports(tmp_path, [19092, 19093], [19192])
    with pytest.raises(ValueError):
        KafkaCluster.with_ports(tmp_path, [19092], [19192], sasl_ports=[19292, 19293])


def test_the_jars_come_from_k2_kafka_lib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    monkeypatch.setenv("K2_KAFKA_LIB", str(lib))
    cluster = KafkaCluster.with_ports(tmp_path / "kafka", [19092], [19192])
    assert cluster.lib == lib
    assert cluster._classpath() == f"{lib}/*"


@pytest.mark.parametrize("kind", ["missing", "a-file"])
def test_missing_jars_are_a_platform_error(tmp_path: Path, kind: str):
    lib = tmp_path / "lib"
    if kind == "a-file":
        lib.write_text("not a directory")
    cluster = KafkaCluster(base_dir=tmp_path / "kafka", nodes=[], lib=lib)
    expected = rf"^Kafka jars not found at {re.escape(str(lib))}: run scripts/bootstrap first$"
    with pytest.raises(PlatformError, match=expected):
        cluster._classpath()


def test_start_without_jars_fails_before_launching_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_fake_java(tmp_path / "jdk", 'openjdk version "21.0.2" 2024-01-16')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    cluster = KafkaCluster.with_ports(tmp_path / "kafka", [19092], [19192])
    cluster.lib = tmp_path / "no-jars"
    with pytest.raises(PlatformError, match="Kafka jars not found"):
        cluster.start(timeout=5)
    assert cluster.pids == []
    node_dir = tmp_path / "kafka" / "node-1"
    assert parse((node_dir / "server.properties").read_text())["node.id"] == "1"  # configs were written
    assert "rootLogger.level = WARN" in (node_dir / "log4j2.properties").read_text()
    assert not (node_dir / "data").exists()  # but nothing was formatted


def test_stop_stops_the_nodes_and_forgets_their_pids(tmp_path: Path, children: Children):
    cluster = KafkaCluster.with_ports(tmp_path, [19092], [19192])
    records = [children.record("node") for _ in range(2)]
    cluster.processes.extend(records)
    assert cluster.pids == [r.pid for r in records]
    cluster.stop()
    assert cluster.pids == [] and cluster.processes == []
    assert not any(alive(r.pid) for r in records)


@pytest.mark.parametrize("value", [None, ""])
def test_without_k2_kafka_lib_the_jars_are_not_looked_for_in_the_current_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None):
    if value is None:
        monkeypatch.delenv("K2_KAFKA_LIB", raising=False)
    else:
        monkeypatch.setenv("K2_KAFKA_LIB", value)
    monkeypatch.chdir(tmp_path)  # a current directory that is a directory: the old fallback would have passed
    cluster = KafkaCluster.with_ports(tmp_path / "kafka", [19092], [19192])
    assert cluster.lib is None
    with pytest.raises(PlatformError, match=NOT_SET.format("K2_KAFKA_LIB", "the Kafka jars")):
        cluster._classpath()
    write_fake_java(tmp_path / "jdk", 'openjdk version "21.0.2" 2024-01-16')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    with pytest.raises(PlatformError, match="K2_KAFKA_LIB is not set"):
        cluster.start(timeout=5)
    assert cluster.pids == []


# --- cluster ids and formatting ------------------------------------------------------------------


def test_new_cluster_ids_are_kafka_uuids():
    import base64

    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cluster_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id) and not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_read_cluster_id(tmp_path: Path):
    assert read_cluster_id(tmp_path) is None
    (tmp_path / "meta.properties").write_text("#\n#Thu Nov 27 10:00:00 UTC 2026\nnode.id=1\ndirectory.id=x\n"
                                              "version=1\ncluster.id=q1Sh-9_ISia_zwGINzRvyQ\n")
    assert read_cluster_id(tmp_path) == "q1Sh-9_ISia_zwGINzRvyQ"
    (tmp_path / "meta.properties").write_text("node.id=1\n")
    assert read_cluster_id(tmp_path) is None


@pytest.fixture
def kafka_lib() -> Path:
    lib = KafkaCluster(base_dir=Path("unused"), nodes=[]).lib
    if lib is None or not lib.is_dir():
        pytest.fail("the Kafka jars are needed: run the tests after scripts/bootstrap and `. scripts/env.sh`")
    return lib


def test_format_uses_the_cluster_id_given_keeps_formatted_nodes_and_adds_missing_ones(tmp_path: Path,
                                                                                    kafka_lib: Path):
    cluster_id = new_cluster_id()
    one = KafkaCluster.with_ports(tmp_path, [19092], [19192])
    assert one.format(cluster_id) == cluster_id  # Kafka's own storage tool accepts the id
    meta = tmp_path / "node-1" / "data" / "meta.properties"
    assert read_cluster_id(meta.parent) == cluster_id
    first = meta.read_text()
    assert one.format(cluster_id) == cluster_id
    assert meta.read_text() == first  # formatted once, kept
    # Without an id, the nodes already formatted say which cluster this is.
    three = KafkaCluster.with_ports(tmp_path, [19092, 19093, 19094], [19192, 19193, 19194])
    assert three.cluster_ids() == {1: cluster_id}
    assert three.format() == cluster_id
    assert three.cluster_ids() == {1: cluster_id, 2: cluster_id, 3: cluster_id}


def test_format_refuses_nodes_of_another_cluster_before_formatting_any(tmp_path: Path, kafka_lib: Path):
    old = new_cluster_id()
    KafkaCluster.with_ports(tmp_path, [19092], [19192]).format(old)
    three = KafkaCluster.with_ports(tmp_path, [19092, 19093, 19094], [19192, 19193, 19194])
    other = new_cluster_id()
    with pytest.raises(PlatformError, match=rf"^Kafka storage in {re.escape(str(tmp_path))} is not all cluster "
                                            rf"{re.escape(other)}: node-1 belongs to cluster {re.escape(old)}\. "
                                            r"Nodes of two clusters cannot form one; wipe the platform"):
        three.format(other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node-1"]  # nothing formatted beside it


# --- registry ------------------------------------------------------------------------------------


def test_registry_url_is_the_confluent_compatible_api(tmp_path: Path):
    assert SchemaRegistry(tmp_path, 18081).url == "http://127.0.0.1:18081/apis/ccompat/v7"


def test_registry_home_comes_from_k2_registry_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("K2_REGISTRY_DIR", str(tmp_path / "apicurio"))
    assert SchemaRegistry(tmp_path, 18081).home == tmp_path / "apicurio"


@pytest.mark.parametrize("value", [None, ""])
def test_registry_without_k2_registry_dir_is_a_platform_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              value: str | None):
    if value is None:
        monkeypatch.delenv("K2_REGISTRY_DIR", raising=False)
    else:
        monkeypatch.setenv("K2_REGISTRY_DIR", value)
    (tmp_path / "quarkus-run.jar").write_text("")  # in the current directory, where the old fallback looked
    monkeypatch.chdir(tmp_path)
    registry = SchemaRegistry(tmp_path / "registry", free_ports(1)[0])
    assert registry.home is None
    with pytest.raises(PlatformError, match=NOT_SET.format("K2_REGISTRY_DIR", "Apicurio Registry")):
        registry.start(timeout=5)
    assert registry.pids == []
    assert not (tmp_path / "registry").exists()


def test_registry_keeps_its_data_in_an_h2_file_under_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    registry = SchemaRegistry(Path("platform") / "registry", 18081, home=tmp_path / "apicurio")
    assert registry.data_dir == Path("platform") / "registry" / "data"
    # Absolute: Apicurio runs in its own directory, where a relative path would land.
    expected = f"jdbc:h2:file:{tmp_path / 'platform' / 'registry' / 'data' / 'registry'};WRITE_DELAY=0"
    assert registry.database_url == expected
    args = registry.args("java", tmp_path / "apicurio" / "quarkus-run.jar", 19000)
    assert args[:3] == ["java", "-Xms64m", "-Xmx384m"]
    assert args[-2:] == ["-jar", str(tmp_path / "apicurio" / "quarkus-run.jar")]
    assert "-Dapicurio.storage.kind=sql" in args
    assert "-Dapicurio.storage.sql.kind=h2" in args
    assert f"-Dapicurio.datasource.url={expected}" in args
    assert "-Dquarkus.http.port=18081" in args and "-Dquarkus.management.port=19000" in args


def test_registry_refuses_a_directory_a_jdbc_url_cannot_carry(tmp_path: Path):
    registry = SchemaRegistry(tmp_path / "a;b" / "registry", 18081)
    with pytest.raises(PlatformError, match=r"contains ';', which a JDBC URL cannot carry; choose another --dir$"):
        _ = registry.database_url


def test_registry_start_without_apicurio_is_a_platform_error(tmp_path: Path):
    home = tmp_path / "apicurio"
    home.mkdir()  # there, but without quarkus-run.jar
    registry = SchemaRegistry(tmp_path / "registry", free_ports(1)[0], home=home)
    expected = rf"^Apicurio Registry not found at {re.escape(str(home))}: run scripts/bootstrap first$"
    with pytest.raises(PlatformError, match=expected):
        registry.start(timeout=5)
    assert registry.pids == []
    assert not (tmp_path / "registry").exists()


class _Subjects(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == "/apis/ccompat/v7/subjects"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b"[]" if ok else b"")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_registry() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Subjects)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_registry_ready_when_subjects_answer(tmp_path: Path, fake_registry: int):
    assert SchemaRegistry(tmp_path, fake_registry).ready()


def test_registry_not_ready_when_nothing_listens(tmp_path: Path):
    assert not SchemaRegistry(tmp_path, free_ports(1)[0]).ready()
