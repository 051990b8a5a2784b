"""k2infra.local.platform without Java: its marker and state files, guards, port choice and `down`, with real
sockets and real child processes standing in for Kafka and the registry."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from k2infra.local.platform import MARKER, LocalPlatform, PlatformIdentity, PlatformState
from k2infra.local.processes import PlatformError, ProcessRecord, alive, free_ports, port_open
from tests.local.conftest import Children, write_fake_java

CLUSTER_ID = "q1Sh-9_ISia_zwGINzRvyQ"


class Echo(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.fixture
def echo() -> Echo:
    return Echo()


@pytest.fixture
def platform(tmp_path: Path, echo: Echo) -> LocalPlatform:
    return LocalPlatform(tmp_path / "platform", echo=echo)


@pytest.fixture
def listening() -> Iterator[int]:
    """A port something is listening on, for as long as the test runs."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def no_kafka_jars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Kafka jars: a start fails before any Java process is launched (the fake java is never run as Kafka)."""
    monkeypatch.setenv("K2_KAFKA_LIB", str(tmp_path / "no-jars"))
    write_fake_java(tmp_path / "jdk", 'openjdk version "21.0.2" 2024-01-16')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))


def state_of(nodes: int, kafka: list[ProcessRecord], registry: list[ProcessRecord]) -> PlatformState:
    brokers = [19092 + i for i in range(nodes)]
    return PlatformState(nodes=nodes, broker_ports=brokers, controller_ports=[p + 100 for p in brokers],
                         registry_port=18081, kafka=kafka, registry=registry)


def save(platform: LocalPlatform, state: PlatformState) -> None:
    """Write the marker and platform.json as up() does."""
    mark(platform, state.nodes)
    platform.state_file.write_text(json.dumps(state.to_json(), indent=2))


def mark(platform: LocalPlatform, nodes: int, cluster_id: str = CLUSTER_ID) -> None:
    platform.base_dir.mkdir(parents=True, exist_ok=True)
    platform.marker_file.write_text(json.dumps(PlatformIdentity(nodes, cluster_id).to_json()))


def format_nodes(platform: LocalPlatform, nodes: int, cluster_id: str = CLUSTER_ID) -> None:
    """Kafka data as `kafka-storage format` leaves it: a meta.properties per node."""
    for i in range(1, nodes + 1):
        data = platform.base_dir / "kafka" / f"node-{i}" / "data"
        data.mkdir(parents=True)
        (data / "meta.properties").write_text(f"cluster.id={cluster_id}\nnode.id={i}\nversion=1\n")


def tree(directory: Path) -> dict[str, bytes | None]:
    """Every path under `directory` with its bytes (None for directories): to show that nothing changed."""
    return {str(p.relative_to(directory)): None if p.is_dir() else p.read_bytes() for p in directory.rglob("*")}


def kafka_record_of_the_past(pid: int, start_time: float) -> ProcessRecord:
    """What up() recorded for a Kafka node that has since gone, its pid given to someone else."""
    return ProcessRecord(pid, start_time, ("/usr/bin/java", "-Xmx512m", "-cp", "/lib/*", "kafka.Kafka",
                                           "/k2/kafka/node-1/server.properties"))


# --- state ---------------------------------------------------------------------------------------


def test_state_round_trips_platform_json(platform: LocalPlatform):
    kafka = [ProcessRecord(101 + i, 1795000000.5 + i, ("java", "kafka.Kafka", f"node-{i}")) for i in range(3)]
    registry = [ProcessRecord(104, 1795000010.25, ("java", "-jar", "quarkus-run.jar"))]
    state = state_of(3, kafka, registry)
    save(platform, state)
    assert platform.state_file == platform.base_dir / "platform.json"
    on_disk = json.loads(platform.state_file.read_text())
    assert on_disk["kafka"][0] == {"pid": 101, "start_time": 1795000000.5, "cmdline": ["java", "kafka.Kafka", "node-0"]}
    loaded = platform.state()
    assert loaded == state
    assert loaded.kafka_pids == [101, 102, 103] and loaded.registry_pids == [104]
    assert loaded.bootstrap_servers == "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
    assert loaded.schema_registry_url == "http://127.0.0.1:18081/apis/ccompat/v7"


def test_state_is_none_without_a_file(platform: LocalPlatform):
    assert platform.state() is None
    assert not platform.running()


RECORD = {"pid": 1, "start_time": 1.0, "cmdline": ["java"]}
GOOD = {"nodes": 1, "broker_ports": [19092], "controller_ports": [19192], "registry_port": 18081,
        "kafka": [RECORD], "registry": [{**RECORD, "pid": 2}]}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{not json",
        '{"nodes": 1',  # truncated mid-write
        "null",
        "[1, 3]",
        '{"nodes": 1}',  # keys missing
        json.dumps({**GOOD, "extra": True}),  # a key it does not know
        json.dumps({**GOOD, "registry_port": "18081"}),
        json.dumps({**GOOD, "kafka": [{**RECORD, "pid": "1"}]}),
        json.dumps({**GOOD, "kafka": [{**RECORD, "cmdline": []}]}),
        json.dumps({**GOOD, "kafka": [{"pid": 1, "start_time": 1.0}]}),  # no command line
        json.dumps({**GOOD, "kafka": 7}),
        # What an older k2 wrote: bare pids, which cannot tell the processes it started from later ones.
        json.dumps({"nodes": 1, "broker_ports": [19092], "controller_ports": [19192], "registry_port": 18081,
                    "kafka_pids": [1], "registry_pids": [2]}),
    ],
    ids=["empty", "not-json", "truncated", "null", "list", "missing-keys", "unknown-key", "port-not-int",
         "pid-not-int", "empty-cmdline", "record-without-cmdline", "records-not-a-list", "bare-pids"],
)
def test_state_is_none_for_a_corrupt_file(platform: LocalPlatform, text: str):
    platform.base_dir.mkdir(parents=True)
    platform.state_file.write_text(json.dumps(GOOD))
    assert platform.state() is not None  # the baseline is valid, so each variant fails for its own reason
    platform.state_file.write_text(text)
    assert platform.state() is None
    assert not platform.running()


def test_state_is_none_for_a_file_that_is_not_utf8(platform: LocalPlatform):
    platform.base_dir.mkdir(parents=True)
    platform.state_file.write_bytes(b'{"nodes": "\xff\xfe"}')
    assert platform.state() is None


def test_running_only_when_every_process_is_alive(platform: LocalPlatform, children: Children, dead_pid: int):
    kafka, registry = children.record("kafka"), children.record("registry")
    save(platform, state_of(1, [kafka], [registry]))
    assert platform.running()
    save(platform, state_of(1, [kafka], [kafka_record_of_the_past(dead_pid, registry.start_time)]))
    assert not platform.running()


def test_not_running_without_processes(platform: LocalPlatform, children: Children):
    kafka, registry = children.record("kafka"), children.record("registry")
    save(platform, state_of(1, [], []))
    assert not platform.running()  # a state that names no process describes nothing running
    save(platform, state_of(1, [kafka], []))
    assert not platform.running()
    save(platform, state_of(3, [kafka], [registry]))  # one process for three nodes
    assert not platform.running()
    save(platform, state_of(1, [kafka], [registry]))
    assert platform.running()


@pytest.mark.parametrize("replaced", ["start-time", "command-line"])
def test_a_pid_now_held_by_another_process_is_not_running(platform: LocalPlatform, children: Children,
                                                          replaced: str):
    stranger = children.record("stranger")  # has the pid the recorded Kafka node had
    if replaced == "start-time":  # the usual case: same pid, a later process
        kafka = ProcessRecord(stranger.pid, stranger.start_time - 3600, stranger.cmdline)
    else:
        kafka = kafka_record_of_the_past(stranger.pid, stranger.start_time)
    save(platform, state_of(1, [kafka], [children.record("registry")]))
    assert not platform.running()
    assert alive(stranger.pid)


# --- up's guards ---------------------------------------------------------------------------------


@pytest.mark.parametrize("nodes", [0, 2, 4, -1])
def test_up_refuses_node_counts_other_than_1_and_3(platform: LocalPlatform, nodes: int):
    with pytest.raises(PlatformError, match=r"^nodes must be 1 or 3$"):
        platform.up(nodes=nodes, kafka_port=None, registry_port=None)
    assert not platform.base_dir.exists()  # refused before touching anything


def test_up_on_a_running_platform_changes_nothing(platform: LocalPlatform, children: Children, echo: Echo):
    state = state_of(1, [children.record("kafka")], [children.record("registry")])
    save(platform, state)
    before = tree(platform.base_dir)
    assert platform.up(nodes=1) == state
    assert echo == ["local platform already running: Kafka 127.0.0.1:19092, "
                    "registry http://127.0.0.1:18081/apis/ccompat/v7"]
    assert all(alive(p) for p in state.kafka_pids + state.registry_pids)
    assert tree(platform.base_dir) == before


def test_up_refuses_to_resize_a_running_platform(platform: LocalPlatform, children: Children):
    state = state_of(1, [children.record("kafka")], [children.record("registry")])
    save(platform, state)
    with pytest.raises(PlatformError, match=r"^a 1-node platform is running in .*; its size cannot change: keep "
                                            r"--nodes 1, or run `k2 local down --wipe --dir .*` first to start "
                                            r"over with 3 \(this deletes its topics, messages and schemas\)$"):
        platform.up(nodes=3)
    assert all(alive(p) for p in state.kafka_pids + state.registry_pids)  # left running
    assert platform.state() == state


def test_up_on_a_half_dead_platform_stops_what_is_left_and_a_failed_start_leaves_no_state(
        platform: LocalPlatform, children: Children, dead_pid: int, no_kafka_jars: None, echo: Echo):
    survivor = children.record("registry")
    save(platform, state_of(1, [kafka_record_of_the_past(dead_pid, survivor.start_time)], [survivor]))
    with pytest.raises(PlatformError, match=r"Kafka jars not found at .*/no-jars: run scripts/bootstrap first"):
        platform.up(nodes=1, kafka_port=None, registry_port=None)
    assert not alive(survivor.pid)  # the half-dead platform's leftover process was stopped
    assert platform.state() is None and not platform.state_file.exists()
    assert echo[0] == f"==> {platform.state_file} records a platform that is not running (processes gone or " \
                      "replaced): starting fresh"
    assert not any("stopping" in line for line in echo)  # quietly


def test_up_on_a_stale_state_leaves_a_reused_pid_alone_and_starts_fresh(
        platform: LocalPlatform, children: Children, no_kafka_jars: None, echo: Echo):
    stranger = children.record("stranger")
    save(platform, state_of(1, [kafka_record_of_the_past(stranger.pid, stranger.start_time - 3600)],
                            [kafka_record_of_the_past(stranger.pid, stranger.start_time - 3600)]))
    with pytest.raises(PlatformError, match="Kafka jars not found"):
        platform.up(nodes=1, kafka_port=None, registry_port=None)
    assert any("starting fresh" in line for line in echo)
    assert any(line.startswith("==> starting Kafka 1 node(s)") for line in echo)  # it did try to start anew
    assert alive(stranger.pid)  # never signalled
    assert not platform.state_file.exists()


def test_up_writes_the_marker_first_and_a_rerun_keeps_its_cluster_id(platform: LocalPlatform, no_kafka_jars: None,
                                                                     echo: Echo):
    with pytest.raises(PlatformError, match="Kafka jars not found"):
        platform.up(nodes=1, kafka_port=None, registry_port=None)
    marker = json.loads(platform.marker_file.read_text())
    assert platform.marker_file.name == MARKER == "k2-platform.json"
    assert set(marker) == {"k2_local_platform", "nodes", "cluster_id"}
    assert marker["k2_local_platform"] == 1 and marker["nodes"] == 1
    assert len(marker["cluster_id"]) == 22
    assert echo[0] == f"==> starting Kafka 1 node(s) (KRaft, cluster {marker['cluster_id']}) on " + \
        echo[0].rsplit(" on ", 1)[1]
    assert sorted(e.name for e in platform.base_dir.iterdir()) == ["k2-platform.json", "kafka"]
    with pytest.raises(PlatformError, match="Kafka jars not found"):
        platform.up(nodes=1, kafka_port=None, registry_port=None)  # a rerun converges on the same identity
    assert json.loads(platform.marker_file.read_text()) == marker
    # Nothing was stored yet, so the size may still change; the cluster id stays.
    with pytest.raises(PlatformError, match="Kafka jars not found"):
        platform.up(nodes=3, kafka_port=None, registry_port=None)
    assert json.loads(platform.marker_file.read_text()) == {**marker, "nodes": 3}


@pytest.mark.parametrize(("had", "asked"), [(1, 3), (3, 1)])
def test_up_refuses_another_node_count_on_a_stopped_platform_and_changes_nothing(
        platform: LocalPlatform, no_kafka_jars: None, had: int, asked: int, echo: Echo):
    mark(platform, had)
    format_nodes(platform, had)
    (platform.base_dir / "registry" / "data").mkdir(parents=True)
    before = tree(platform.base_dir)
    expected = (rf"^{platform.base_dir} holds a {had}-node platform \(Kafka cluster {CLUSTER_ID}\), stopped; it "
                rf"cannot be started with {asked} node\(s\): new nodes would be formatted as a second cluster "
                rf"beside its data\. Start it with --nodes {had}, or run `k2 local down --wipe --dir "
                rf"{platform.base_dir}` first to start over with {asked} \(this deletes its topics, messages and "
                r"schemas\)\. Nothing was changed$")
    with pytest.raises(PlatformError, match=expected):
        platform.up(nodes=asked, kafka_port=None, registry_port=None)
    assert tree(platform.base_dir) == before  # nothing formatted, no config written
    assert echo == []


def test_the_node_count_is_kept_by_registry_data_alone(platform: LocalPlatform, no_kafka_jars: None):
    mark(platform, 1)
    (platform.base_dir / "registry" / "data").mkdir(parents=True)
    (platform.base_dir / "registry" / "data" / "registry.mv.db").write_bytes(b"H2")
    with pytest.raises(PlatformError, match=r"holds a 1-node platform"):
        platform.up(nodes=3, kafka_port=None, registry_port=None)


def test_up_refuses_a_directory_that_is_not_a_platform(platform: LocalPlatform, echo: Echo):
    platform.base_dir.mkdir()
    (platform.base_dir / "notes.txt").write_text("mine\n")
    with pytest.raises(PlatformError, match=rf"^refusing to start a platform in {platform.base_dir}: it has no "
                                            r"k2-platform.json and holds notes.txt\. Choose another --dir"):
        platform.up(nodes=1, kafka_port=None, registry_port=None)
    assert tree(platform.base_dir) == {"notes.txt": b"mine\n"}


def test_up_accepts_an_empty_directory(platform: LocalPlatform, no_kafka_jars: None):
    platform.base_dir.mkdir()
    with pytest.raises(PlatformError, match="Kafka jars not found"):
        platform.up(nodes=1, kafka_port=None, registry_port=None)
    assert platform.marker_file.exists()


def test_up_adopts_a_platform_an_older_k2_left_without_a_marker(platform: LocalPlatform, no_kafka_jars: None,
                                                               echo: Echo):
    format_nodes(platform, 3, "0ld-c1uster-id-from-k2A")
    platform.state_file.write_text('{"nodes": 3, "kafka_pids": [1, 2, 3], "registry_pids": [4]}')
    assert platform.identity() == PlatformIdentity(3, "0ld-c1uster-id-from-k2A")
    with pytest.raises(PlatformError, match="Kafka jars not found"):
        platform.up(nodes=3, kafka_port=None, registry_port=None)
    assert echo[1].endswith("it names pid(s) [1, 2, 3, 4], which cannot be checked (no start time or command "
                            "line): if they are still Kafka or the registry, stop them with `kill PID`")
    assert echo[2] == f"==> adopting {platform.base_dir}, a platform from a k2 that wrote no k2-platform.json"
    assert json.loads(platform.marker_file.read_text())["cluster_id"] == "0ld-c1uster-id-from-k2A"
    with pytest.raises(PlatformError, match="holds a 3-node platform"):
        platform.up(nodes=1, kafka_port=None, registry_port=None)


@pytest.mark.parametrize(
    "layout",
    [{"kafka/node-1/data/meta.properties": "node.id=1\n"},  # no cluster id
     {"kafka/node-1/data/meta.properties": "cluster.id=a\n", "kafka/node-2/data/meta.properties": "cluster.id=a\n"},
     {"kafka/node-1/data/meta.properties": "cluster.id=a\n", "kafka/node-2/data/meta.properties": "cluster.id=a\n",
      "kafka/node-3/data/meta.properties": "cluster.id=b\n"},
     {"kafka/node-1/data/meta.properties": "cluster.id=a\n", "notes.txt": "mine"},
     {"registry/registry.log": "x"}],
    ids=["no-cluster-id", "two-nodes", "two-clusters", "a-stranger", "no-kafka"],
)
def test_what_is_not_an_older_platform(platform: LocalPlatform, layout: dict[str, str]):
    for name, text in layout.items():
        (platform.base_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (platform.base_dir / name).write_text(text)
    with pytest.raises(PlatformError, match=r"it has no k2-platform\.json and holds"):
        platform.identity()


def test_a_marker_that_is_unreadable_or_of_another_format_is_not_trusted(platform: LocalPlatform):
    platform.base_dir.mkdir()
    for text in ["{", '{"k2_local_platform": 2, "nodes": 1, "cluster_id": "x"}',
                 '{"k2_local_platform": 1, "nodes": 2, "cluster_id": "x"}',
                 '{"k2_local_platform": 1, "nodes": 1, "cluster_id": ""}']:
        platform.marker_file.write_text(text)
        with pytest.raises(PlatformError, match=r"its marker .*k2-platform\.json is unreadable"):
            platform.identity()


# --- ports ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("nodes", [1, 3])
def test_ports_picks_distinct_free_ones_when_none_are_given(platform: LocalPlatform, nodes: int):
    brokers, controllers, registry = platform._ports(nodes, None, None)
    assert len(brokers) == len(controllers) == nodes
    everything = [*brokers, *controllers, registry]
    assert len(set(everything)) == 2 * nodes + 1
    assert not any(port_open(p) for p in everything)


def test_ports_lays_out_given_ports_from_the_kafka_port(platform: LocalPlatform):
    # A few candidate bases, as another program may hold base+1 or base+100 on a busy machine.
    for base in free_ports(5):
        if base > 65535 - 102:
            continue
        try:
            brokers, controllers, registry = platform._ports(3, base, None)
        except PlatformError:
            continue
        assert brokers == [base, base + 1, base + 2]
        assert controllers == [base + 100, base + 101, base + 102]
        assert registry not in [*brokers, *controllers]
        assert not port_open(registry)
        return
    pytest.fail("no candidate base port had its neighbours free")


def test_ports_never_picks_a_given_registry_port_for_kafka(platform: LocalPlatform):
    given = free_ports(1)[0]
    for _ in range(20):
        brokers, controllers, registry = platform._ports(3, None, given)
        assert registry == given and given not in [*brokers, *controllers]


@pytest.mark.parametrize(
    ("nodes", "kafka", "registry", "message"),
    [(1, 20000, 20100, "port 20100 would serve both controller 1 (Kafka port + 100) and the registry"),
     (3, 20000, 20001, "port 20001 would serve both broker 2 and the registry"),
     (3, 20000, 20102, "port 20102 would serve both controller 3 (Kafka port + 100) and the registry")],
)
def test_ports_refuses_one_port_asked_for_twice(platform: LocalPlatform, nodes: int, kafka: int, registry: int,
                                               message: str):
    with pytest.raises(PlatformError, match=rf"^{re_escape(message)}; choose a Kafka port and a registry port"):
        platform._ports(nodes, kafka, registry)


def test_ports_refuses_ports_out_of_range(platform: LocalPlatform):
    with pytest.raises(PlatformError, match=r"^ports out of range \(controller 1 \(Kafka port \+ 100\): 65600\)"):
        platform._ports(1, 65500, None)
    with pytest.raises(PlatformError, match=r"^ports out of range \(the registry: 70000\); choose ports from 1"):
        platform._ports(1, None, 70000)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_ports_refuses_a_kafka_port_in_use(platform: LocalPlatform, listening: int):
    with pytest.raises(PlatformError, match=rf"^ports already in use: \[{listening}\]\. Stop what uses them"):
        platform._ports(1, listening, None)


def test_ports_refuses_a_controller_port_in_use(platform: LocalPlatform, listening: int):
    if listening <= 100:
        pytest.fail(f"the OS gave port {listening}: too low to be a controller port")
    with pytest.raises(PlatformError, match=rf"ports already in use: \[.*\b{listening}\]"):
        platform._ports(1, listening - 100, None)


def test_ports_refuses_a_registry_port_in_use(platform: LocalPlatform, listening: int):
    with pytest.raises(PlatformError, match=rf"^ports already in use: \[{listening}\]"):
        platform._ports(1, None, listening)


def test_up_refuses_busy_ports_before_starting_anything(platform: LocalPlatform, listening: int):
    with pytest.raises(PlatformError, match="ports already in use"):
        platform.up(nodes=1, kafka_port=None, registry_port=listening)
    assert not platform.state_file.exists()
    assert not platform.base_dir.exists()


# --- down ----------------------------------------------------------------------------------------


def test_down_without_a_platform_says_so(platform: LocalPlatform, echo: Echo):
    platform.down()
    assert echo == ["no local platform running"]
    platform.down(quiet=True)
    assert echo == ["no local platform running"]
    assert not platform.base_dir.exists()


def test_down_stops_the_processes_and_forgets_the_state(platform: LocalPlatform, children: Children, echo: Echo):
    kafka = [children.record("kafka") for _ in range(3)]
    registry = [children.record("registry")]
    save(platform, state_of(3, kafka, registry))
    (platform.base_dir / "kafka").mkdir()
    platform.down()
    assert echo[0] == "==> stopping local platform (Kafka 127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094)"
    assert echo[1].startswith("    stopped in ") and len(echo) == 2
    assert not any(alive(p.pid) for p in kafka + registry)
    assert not platform.state_file.exists()
    assert (platform.base_dir / "kafka").is_dir()  # data is kept without wipe
    assert platform.marker_file.exists()  # and so is what the directory is
    platform.down()
    assert echo[-1] == "no local platform running"


def test_down_leaves_a_pid_that_another_process_now_has_alone(platform: LocalPlatform, children: Children,
                                                               echo: Echo):
    stranger = children.record("stranger")
    registry = children.record("registry")
    save(platform, state_of(1, [kafka_record_of_the_past(stranger.pid, stranger.start_time - 3600)], [registry]))
    assert not platform.running()
    platform.down()
    assert alive(stranger.pid)  # not signalled: its pid, another process
    assert not alive(registry.pid)  # the registry still was ours: stopped
    assert f"    Kafka pid(s) [{stranger.pid}]: gone or now another program's, left alone" in echo
    assert not platform.state_file.exists()


def test_down_of_an_unreadable_state_signals_nothing_and_says_so(platform: LocalPlatform, children: Children,
                                                                 echo: Echo):
    pid = children.sleeper("old-kafka")
    mark(platform, 1)
    platform.state_file.write_text(json.dumps({"nodes": 1, "kafka_pids": [pid], "registry_pids": []}))
    platform.down()
    assert alive(pid)
    assert echo == [f"{platform.state_file} is unreadable (written by an older k2?): no process signalled; it names "
                    f"pid(s) [{pid}], which cannot be checked (no start time or command line): if they are still "
                    "Kafka or the registry, stop them with `kill PID`"]
    assert not platform.state_file.exists()
    platform.state_file.write_text("{")
    platform.down(quiet=True)  # said even when quiet: the file goes
    assert echo[-1] == f"{platform.state_file} is unreadable (written by an older k2?): no process signalled"


def test_down_with_wipe_removes_the_directory(platform: LocalPlatform, children: Children, echo: Echo):
    kafka = children.record("kafka")
    save(platform, state_of(1, [kafka], [children.record("registry")]))
    format_nodes(platform, 1)
    (platform.base_dir / "registry" / "data").mkdir(parents=True)
    (platform.base_dir / "registry" / "data" / "registry.mv.db").write_bytes(b"H2")
    platform.down(wipe=True)
    assert not alive(kafka.pid)
    assert not platform.base_dir.exists()  # Kafka's data and the registry's, together
    assert echo[2] == f"==> wiping {platform.base_dir} (Kafka logs and registry database)"


def test_down_with_wipe_and_no_state_still_removes_the_directory(platform: LocalPlatform, echo: Echo):
    mark(platform, 1)
    (platform.base_dir / "registry").mkdir(parents=True)
    platform.down(wipe=True)
    assert echo[0] == "no local platform running"
    assert not platform.base_dir.exists()
    platform.down(wipe=True)  # nothing left: no error


def test_down_with_wipe_removes_a_platform_an_older_k2_left(platform: LocalPlatform):
    format_nodes(platform, 1)
    (platform.base_dir / "registry").mkdir()
    platform.down(wipe=True)
    assert not platform.base_dir.exists()


@pytest.mark.parametrize(
    ("layout", "reason"),
    [({"notes.txt": "mine"}, r"it has no k2-platform\.json and holds notes\.txt, platform\.json"),
     ({"kafka/notes.txt": "mine", "photos/a.jpg": "jpg"},
      r"it has no k2-platform\.json and holds kafka, photos, platform\.json"),
     ({"k2-platform.json": json.dumps(PlatformIdentity(1, CLUSTER_ID).to_json()), "kafka/x": "", "notes.txt": "mine"},
      r"besides a K2 platform it holds notes\.txt, which k2 did not write"),
     ({"k2-platform.json": "{", "kafka/x": ""}, r"its marker .*k2-platform\.json is unreadable \(Expecting .*\)")],
    ids=["files-only", "no-marker", "marker-and-a-stranger", "bad-marker"],
)
def test_down_with_wipe_refuses_a_directory_that_is_not_a_platform(
        platform: LocalPlatform, children: Children, echo: Echo, layout: dict[str, str], reason: str):
    for name, text in layout.items():
        (platform.base_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (platform.base_dir / name).write_text(text)
    registry = children.record("registry")
    platform.state_file.write_text(json.dumps(state_of(1, [children.record("kafka")], [registry]).to_json()))
    before = tree(platform.base_dir)
    with pytest.raises(PlatformError, match=rf"^refusing to wipe {platform.base_dir}: {reason}\. It does not look "
                                            r"like a K2 local platform directory, so nothing was stopped or "
                                            r"removed; check --dir$"):
        platform.down(wipe=True)
    assert tree(platform.base_dir) == before
    assert alive(registry.pid)  # nothing stopped either
    assert echo == []


def test_down_with_wipe_refuses_a_file(platform: LocalPlatform):
    platform.base_dir.write_text("not a directory")
    with pytest.raises(PlatformError, match=r"refusing to wipe .*: .* is a file, not a directory"):
        platform.down(wipe=True)
    assert platform.base_dir.read_text() == "not a directory"


def test_a_platform_directory_is_recognised_only_with_its_own_entries(platform: LocalPlatform):
    mark(platform, 3)
    for name in ["platform.json", "platform.json.tmp", "k2-platform.json.tmp", "kafka", "registry"]:
        (platform.base_dir / name).mkdir()
        assert platform.identity() == PlatformIdentity(3, CLUSTER_ID)
    (platform.base_dir / ".DS_Store").write_text("")
    with pytest.raises(PlatformError, match=r"besides a K2 platform it holds \.DS_Store"):
        platform.identity()

