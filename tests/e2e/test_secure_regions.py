"""Who may write a mirror, on the real parts: two secure local platforms (SASL_SSL, SCRAM-SHA-512, an authorizer),
us-east homing binance and apac aggregating it, each deployed by its own stack (`k2:region`) with `pulumi up` in an
access-controlled environment, one registry for both (apac's). The stacks derive the replication principal
(User:k2-mirror-apac) as an app: its ACLs and a SCRAM user with a 0600 credential source in each region.
MirrorMaker 2 in dedicated mode logs in to both as that principal, its passwords from those sources through
Kafka's file config provider. Trades produced at home by binance-feed (its own credentials) reach crypto-arbitrage
in apac; an app in apac cannot write the mirror, the replication principal cannot write the home topic (Kafka says
TOPIC_AUTHORIZATION_FAILED), and without one of its grants replication stops."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from k2infra.clients import Credentials, StackOutputs, get_consumer, get_producer, load_stack_outputs
from k2infra.clients.credentials import read_source
from k2infra.local import LocalPlatform, PlatformState
from k2infra.local.identity import DEPLOYER, read_client
from k2infra.local.mirror import Flow, MirrorMaker, Region, ScramLogin
from k2infra.model import load_topology
from k2infra.model.access import App
from k2infra.model.access_plan import grant_key
from k2infra.model.parse import read_spec
from k2infra.model.replication_access import checkpointed_groups
from k2infra.observed.cluster import observe_acls
from tests.clients.samples import trade
from tests.conftest import ROOT, make_project, wait_for
from tests.e2e.conftest import PulumiStack
from tests.e2e.test_access import TOPOLOGY, set_secret

HOME, AGGREGATE = "us-east", "apac"
REGIONS = f"""
regions:
  {HOME}:
    exchanges: [crypto.binance]
  {AGGREGATE}:
    exchanges: [equities.asx]
    aggregates: [{HOME}]
"""
TOPIC = "market.crypto.trades.binance"
MIRROR_APP = f"k2-mirror-{AGGREGATE}"
DEADLINE = 120.0  # generous: two secure regions and MirrorMaker on a busy 2-core machine
SYMBOLS = [f"S{i:02d}" for i in range(10)]
ROUNDS = 20


@dataclass
class Regions:
    platforms: dict[str, PlatformState]
    stacks: dict[str, PulumiStack]
    base: Path
    apps: dict[str, dict[str, App]] = field(default_factory=dict)  # region -> app -> as derived there
    outputs: dict[str, StackOutputs] = field(default_factory=dict)
    measured: dict[str, float] = field(default_factory=dict)

    def source(self, region: str, app: str) -> Path:
        return self.base / "credentials" / region / f"{app}.json"

    def login(self, region: str, app: str) -> dict[str, object]:
        """librdkafka settings logged in as `app` in `region`, the password from its credential source."""
        found = read_source(str(self.source(region, app)))
        return {**self.platforms[region].client_config(), "sasl.username": found.username,
                "sasl.password": found.password, "log_level": 0}

    def credentials(self, region: str, app: str) -> Credentials:
        registry = self.platforms[AGGREGATE].security
        assert registry is not None
        client = read_client(registry.registry_client_file(app))
        return Credentials.from_source(str(self.source(region, app)), {
            "K2_KAFKA_CA_LOCATION": str(self.base / "ca-bundle.pem"), "K2_SCHEMA_REGISTRY_USERNAME": client.client_id,
            "K2_SCHEMA_REGISTRY_PASSWORD": client.secret})

    def scram(self, region: str) -> ScramLogin:
        found = read_source(str(self.source(region, MIRROR_APP)))
        security = self.platforms[region].security
        assert security is not None
        return ScramLogin(found.username, found.password, security.ca_cert)


@pytest.fixture(scope="module")
def platforms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, PlatformState]]:
    base = tmp_path_factory.mktemp("secure-regions")
    locals_ = {r: LocalPlatform(base / r) for r in (HOME, AGGREGATE)}
    states: dict[str, PlatformState] = {}
    errors: list[BaseException] = []
    apps = sorted(read_spec(ROOT / "topics.yaml").apps)

    def start(region: str) -> None:
        try:
            # The stacks share apac's registry: the home region needs no locked registry (nor its Keycloak).
            states[region] = locals_[region].up(nodes=1, kafka_port=None, registry_port=None, secure=True,
                                                registry_apps=apps, locked_registry=region == AGGREGATE)
        except BaseException as err:  # reported below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=start, args=(r,)) for r in locals_]
    try:
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        print(f"two secure regions up in {time.monotonic() - began:.1f}s")
        yield states
    finally:
        for local in locals_.values():
            local.down(wipe=True)


@pytest.fixture(scope="module")
def deployed(platforms: dict[str, PlatformState], tmp_path_factory: pytest.TempPathFactory) -> Regions:
    base = tmp_path_factory.mktemp("secure-region-stacks")
    project = make_project(base / "project", TOPOLOGY + REGIONS)
    registry = platforms[AGGREGATE]
    assert registry.security is not None
    # One CA per region's platform; a stack reaches its cluster and the environment's one registry (apac's).
    bundle = base / "ca-bundle.pem"
    bundle.write_text("".join(Path(p.security.ca_cert).read_text() for p in platforms.values() if p.security))
    stacks = {}
    for region in (HOME, AGGREGATE):
        stack = PulumiStack(project, base / "backend", f"dev-{region}").init({
            "k2:environment": "dev", "k2:cluster": "existing", "k2:region": region,
            "k2:bootstrapServers": platforms[region].bootstrap_servers,
            "k2:schemaRegistryUrl": registry.schema_registry_url,
            "k2:tls": "true", "k2:saslMechanism": "scram-sha512", "k2:saslUsername": "admin",
            "k2:userSources": f"file:{base / 'credentials' / region}", "k2:schemaRegistryUsername": DEPLOYER})
        set_secret(stack, "k2:saslPassword", str(platforms[region].client_config()["sasl.password"]))
        set_secret(stack, "k2:caCert", bundle.read_text())
        set_secret(stack, "k2:schemaRegistryPassword",
                   read_client(registry.security.registry_client_file(DEPLOYER)).secret)
        began = time.monotonic()
        stack.up()
        print(f"pulumi up --stack dev-{region}: {time.monotonic() - began:.1f}s")
        stacks[region] = stack
    result = Regions(platforms, stacks, base)
    for region, stack in stacks.items():
        result.apps[region] = {a.name: a for a in load_topology(project / "topics.yaml", "dev", region=region).apps}
        path = base / f"outputs-{region}.json"
        path.write_text(json.dumps(stack.outputs()))
        result.outputs[region] = load_stack_outputs(path)
    return result


@pytest.fixture(scope="module")
def mirror(deployed: Regions) -> Iterator[MirrorMaker]:
    [flow] = deployed.outputs[AGGREGATE].replication
    every_app = deployed.apps[AGGREGATE].values()
    mirror_maker = MirrorMaker(
        deployed.base / "mirrormaker",
        [Flow(Region(HOME, deployed.platforms[HOME].bootstrap_servers),
              Region(AGGREGATE, deployed.platforms[AGGREGATE].bootstrap_servers), tuple(flow.topics),
              groups=checkpointed_groups(every_app, flow.topics))],
        logins={r: deployed.scram(r) for r in (HOME, AGGREGATE)})
    began = time.monotonic()
    try:
        mirror_maker.start(timeout=DEADLINE * 2)
        deployed.measured["mirrormaker ready"] = time.monotonic() - began
        yield mirror_maker
    finally:
        mirror_maker.stop()


def refused_write(login: dict[str, object], topic: str) -> int | None:
    """The error Kafka answers one write to `topic` with (None: written)."""
    seen: list[KafkaError | None] = []
    producer = Producer({**login, "message.timeout.ms": 30_000})
    producer.produce(topic, b"x", on_delivery=lambda err, _msg: seen.append(err))
    producer.flush(60)
    assert seen, "no delivery report"
    return seen[0].code() if seen[0] is not None else None


def test_the_replication_principal_is_an_app_with_a_user_and_source_in_each_region(deployed):
    for region in (HOME, AGGREGATE):
        app = deployed.apps[region][MIRROR_APP]
        assert app.principal == f"User:{MIRROR_APP}"
        on_cluster = observe_acls(deployed.platforms[region].client_config())
        assert on_cluster is not None
        theirs = {grant_key(b) for b in on_cluster if b.principal == app.principal}
        assert theirs == {grant_key(b) for b in app.bindings}
        assert read_source(str(deployed.source(region, MIRROR_APP))).username == MIRROR_APP
    home_ops = {(b.resource_type, b.operation) for b in deployed.apps[HOME][MIRROR_APP].bindings}
    assert home_ops <= {("Topic", "Read"), ("Topic", "Describe"), ("Group", "Describe")}  # nothing it could write


def test_mirrormaker_logs_in_without_its_passwords_in_its_config_or_log(deployed, mirror):
    text = (mirror.base_dir / "mm2.properties").read_text() + mirror.log.read_text()
    for region in (HOME, AGGREGATE):
        assert deployed.scram(region).password not in text
    assert "${file:" in (mirror.base_dir / "mm2.properties").read_text()
    assert (mirror.base_dir / "mm2-secrets.properties").stat().st_mode & 0o077 == 0


def test_trades_produced_at_home_arrive_in_the_aggregate(deployed, mirror):
    run = uuid.uuid4().hex[:6]
    acked: set[tuple[str, int]] = set()
    with get_producer("trades", deployed.outputs[HOME], credentials=deployed.credentials(HOME, "binance-feed"),
                      delivery_reports="all") as producer:
        for seq in range(ROUNDS):
            for symbol in SYMBOLS:
                producer.produce(TOPIC, trade(f"{run}{symbol}", "binance", seq),
                                 on_delivery=lambda err, _m, key=(f"{run}{symbol}", seq):
                                 acked.add(key) if err is None else None)
        assert producer.flush(60) == 0
    done_at = time.monotonic()
    assert len(acked) == ROUNDS * len(SYMBOLS)
    seen: dict[str, list[int]] = {}
    with get_consumer("crypto-arbitrage", [TOPIC], deployed.outputs[AGGREGATE],
                      credentials=deployed.credentials(AGGREGATE, "crypto-arbitrage"),
                      auto_offset_reset="earliest") as consumer:
        def read_all() -> bool:
            consumer.process(lambda r: seen.setdefault(r.value["symbol"], []).append(r.value["sequence_number"])
                             if r.value["symbol"].startswith(run) else None, timeout=0.5)
            return sum(len(v) for v in seen.values()) >= len(acked)

        wait_for(read_all, f"{len(acked)} trades in {AGGREGATE}", DEADLINE, every=0)
    deployed.measured["acknowledged at home -> all read in the aggregate"] = time.monotonic() - done_at
    assert {s: v for s, v in seen.items()} == {f"{run}{s}": list(range(ROUNDS)) for s in SYMBOLS}  # once, in order
    print(deployed.measured)


def test_an_app_in_the_aggregate_cannot_write_a_mirror(deployed, mirror):
    assert refused_write(deployed.login(AGGREGATE, "asx-feed"), TOPIC) == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_the_replication_principal_cannot_write_a_home_topic(deployed, mirror):
    assert refused_write(deployed.login(HOME, MIRROR_APP), TOPIC) == KafkaError.TOPIC_AUTHORIZATION_FAILED


def acl(principal: str, topic: str, operation: AclOperation) -> AclBinding:
    return AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, principal, "*", operation,
                      AclPermissionType.ALLOW)


def arrived(platform: PlatformState, marker: bytes) -> bool:
    """Whether a record whose value holds `marker` is in the aggregate's mirror (read whole, as its admin)."""
    consumer = Consumer({**platform.client_config(), "group.id": "k2-spot-check", "enable.auto.commit": False,
                         "log_level": 0})
    try:
        partitions = consumer.list_topics(TOPIC, timeout=30).topics[TOPIC].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=30)[1] for p in partitions}
        consumer.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p, end in ends.items() if end > 0])
        left = {p for p, end in ends.items() if end > 0}
        while left:
            record = consumer.poll(5)
            if record is None:
                return False
            if record.error():
                continue
            if marker in (record.value() or b""):
                return True
            if record.offset() + 1 >= ends[record.partition()]:
                left.discard(record.partition())
        return False
    finally:
        consumer.close()


# (region, topic, operation): a grant the stacks derived, whose loss stops replication. The read at home first:
# MirrorMaker retries a refused poll, so it resumes once the grant is back; a refused write fails its task for
# good (a restart would bring it back: the module's last check leaves it failed).
SPOT_CHECKS = [(HOME, TOPIC, AclOperation.READ), (AGGREGATE, TOPIC, AclOperation.WRITE)]


def produce_marker(deployed: Regions, marker: str) -> None:
    with get_producer("trades", deployed.outputs[HOME], credentials=deployed.credentials(HOME, "binance-feed")) \
            as producer:
        producer.produce(TOPIC, trade(marker, "binance", 0))
        assert producer.flush(60) == 0


def logged_since(mirror: MirrorMaker, offset: int) -> bytes:
    with mirror.log.open("rb") as log:
        log.seek(offset)
        return log.read()


@pytest.mark.parametrize(("region", "topic", "operation"), SPOT_CHECKS, ids=lambda v: getattr(v, "name", v))
def test_without_one_of_its_grants_replication_stops(deployed, mirror, region, topic, operation):
    admin = AdminClient({**deployed.platforms[region].client_config(), "log_level": 0})
    grant = acl(f"User:{MIRROR_APP}", topic, operation)
    as_filter = AclBindingFilter(grant.restype, grant.name, grant.resource_pattern_type, grant.principal, grant.host,
                                 grant.operation, grant.permission_type)
    marker = f"NO{operation.name}{uuid.uuid4().hex[:6]}"
    refusal = b"TopicAuthorizationException"
    try:
        start = mirror.log.stat().st_size
        assert admin.delete_acls([as_filter])[as_filter].result(timeout=60) == [grant]
        # Something to copy, so the refusal is seen before the marker. Its name shares nothing with the marker's: it
        # may still be copied while the broker applies the deletion, and arrived() matches by substring.
        produce_marker(deployed, f"PROBE{uuid.uuid4().hex[:8]}")
        wait_for(lambda: refusal in logged_since(mirror, start),
                 f"MirrorMaker refused without {operation.name} on {topic} in {region}", DEADLINE)
        then = mirror.log.stat().st_size
        produce_marker(deployed, marker)
        if operation is AclOperation.READ:  # refused poll after poll: wait for one after the marker
            wait_for(lambda: refusal in logged_since(mirror, then), "a refusal after the marker", DEADLINE)
        else:  # a refused write kills the source task
            wait_for(lambda: b"unrecoverable" in logged_since(mirror, start), "the source task failed", DEADLINE)
        assert not arrived(deployed.platforms[AGGREGATE], marker.encode())
    finally:
        admin.create_acls([grant])[grant].result(timeout=60)
    if operation is AclOperation.READ:
        wait_for(lambda: arrived(deployed.platforms[AGGREGATE], marker.encode()),
                 f"{marker} once the grant is back", DEADLINE)
