"""Access as code on a secure platform of its own (SASL_SSL, SCRAM-SHA-512, StandardAuthorizer denying what no ACL
allows): `pulumi up` of an access-controlled environment, logged in as the platform admin with its password and CA
as Pulumi secrets, creates the topics, subjects and each app's ACLs; then real clients logged in as each shipped
app's principal can do exactly what their app was granted and are refused everything else, as Kafka itself says
(TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED). An ACL added by hand is drift in the preview; a removed
subscription is a "loses ..." warning and its ACLs go on `up`. A plaintext platform has no authorizer to list.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from k2infra.contracts.registry_client import registry_client_settings
from k2infra.local import LocalPlatform, PlatformState
from k2infra.local.identity import DEPLOYER, read_client
from k2infra.local.security import create_scram_users, new_password
from k2infra.model import load_topology
from k2infra.model.access import App
from k2infra.model.access_plan import grant_key
from k2infra.observed.cluster import observe_acls
from tests.conftest import ROOT, make_project, wait_for
from tests.e2e.conftest import PulumiStack, subjects_in_registry, topics_on_cluster

DEADLINE = 60.0  # generous: a busy 2-core machine; every wait returns as soon as its condition holds
REFUSED = (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED)
# The shipped topics.yaml, with access control in its dev environment (prod's replication needs three brokers).
TOPOLOGY = (ROOT / "topics.yaml").read_text().replace(
    "  dev:\n    replication_factor: 1\n", "  dev:\n    access_control: true\n    replication_factor: 1\n", 1)
ANALYTICS_BEFORE = "{asset_class: equities, data_types: [trades, quotes], exchanges: [asx]}"
ANALYTICS_AFTER = "{asset_class: equities, data_types: [trades], exchanges: [asx]}"


@dataclass
class Deployed:
    platform: PlatformState
    stack: PulumiStack
    apps: dict[str, App]
    passwords: dict[str, str]  # SCRAM user (the principal without "User:") -> password
    up_output: str

    def login(self, app: str) -> dict[str, object]:
        """librdkafka settings for a client logged in as `app`'s principal."""
        user = self.apps[app].principal.removeprefix("User:")
        return {**self.platform.client_config(), "sasl.username": user, "sasl.password": self.passwords[user],
                "log_level": 0}


@pytest.fixture(scope="module")
def secure_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformState]:
    local = LocalPlatform(tmp_path_factory.mktemp("secure") / "platform")
    try:
        yield local.up(nodes=1, kafka_port=None, registry_port=None, secure=True)
    finally:
        local.down(wipe=True)


@pytest.fixture(scope="module")
def deployed(secure_platform: PlatformState, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    base = tmp_path_factory.mktemp("access")
    project = make_project(base / "project", TOPOLOGY)
    admin_password = secure_platform.client_config()["sasl.password"]
    assert secure_platform.security is not None
    stack = PulumiStack(project, base / "backend", "access").init({
        "k2:environment": "dev", "k2:cluster": "existing",
        "k2:bootstrapServers": secure_platform.bootstrap_servers,
        "k2:schemaRegistryUrl": secure_platform.schema_registry_url,
        "k2:tls": "true", "k2:saslMechanism": "scram-sha512", "k2:saslUsername": "admin",
        "k2:schemaRegistryUsername": DEPLOYER,
    })
    set_secret(stack, "k2:saslPassword", str(admin_password))
    set_secret(stack, "k2:caCert", Path(secure_platform.security.ca_cert).read_text())
    # The secure registry takes writes from K2's deployer only (tests/e2e/test_registry_auth.py).
    set_secret(stack, "k2:schemaRegistryPassword",
               read_client(secure_platform.security.registry_client_file(DEPLOYER)).secret)
    up = stack.up()
    apps = {a.name: a for a in load_topology(project / "topics.yaml", "dev").apps}
    passwords = {a.principal.removeprefix("User:"): new_password() for a in apps.values()}
    create_scram_users(secure_platform.client_config(), passwords)  # one SCRAM user per app, as the admin
    return Deployed(secure_platform, stack, apps, passwords, up.stdout + up.stderr)


def flat(done: subprocess.CompletedProcess[str]) -> str:
    """A command's stdout and stderr as one line (the console wraps long lines)."""
    return " ".join((done.stdout + done.stderr).split())


def set_secret(stack: PulumiStack, key: str, value: str) -> None:
    """`pulumi config set --secret` with the value on stdin: never on a command line or in the test's output (and
    a PEM's leading dashes would read as an option)."""
    done = subprocess.run(["pulumi", "config", "set", "--secret", key, "--stack", stack.name, "--non-interactive"],
                          cwd=stack.project, env=stack.env(), input=value, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"pulumi config set --secret {key} failed: {done.stderr}"


def admin_of(platform: PlatformState) -> AdminClient:
    return AdminClient({**platform.client_config(), "log_level": 0})


def acls_on_cluster(platform: PlatformState) -> set[tuple[str, ...]]:
    found = observe_acls(platform.client_config())
    assert found is not None, "the secure platform runs an authorizer"
    return {grant_key(b) for b in found}


def declared(apps: dict[str, App]) -> set[tuple[str, ...]]:
    return {grant_key(b) for app in apps.values() for b in app.bindings}


def market_topics(platform: PlatformState) -> list[str]:
    return sorted(topics_on_cluster(admin_of(platform)))


# --- what a client logged in as an app can do ----------------------------------------------------


def produce(conf: dict[str, object], topic: str, idempotent: bool = True,
            value: bytes = b"acl-check") -> tuple[KafkaError | None, int, int]:
    """One record to `topic`, as the trades profile writes (acks=all, idempotent): (the delivery error or None,
    its partition, its offset)."""
    reports: list[tuple[KafkaError | None, int, int]] = []
    producer = Producer({**conf, "acks": "all", "enable.idempotence": idempotent, "message.timeout.ms": 20000,
                         "partitioner": "murmur2_random"})
    producer.produce(topic, key=b"BHP", value=value,
                     on_delivery=lambda err, msg: reports.append((err, msg.partition(), msg.offset())))
    assert producer.flush(DEADLINE) == 0, f"no delivery report for {topic} within {DEADLINE}s"
    [report] = reports
    return report


def refused_code(error: KafkaError | KafkaException | None) -> int | None:
    if isinstance(error, KafkaException):
        error = error.args[0]
    return error.code() if error is not None else None


def consume(conf: dict[str, object], group: str, at: dict[str, tuple[int, int]]) -> dict[str, object]:
    """Read the record at (partition, offset) of each topic with a consumer of `group` (assigned, not subscribed)
    and commit past it: topic -> the record's value, or the KafkaError Kafka answered with; the commit's error (or
    None) is under 'commit'. Only for topics the app may DESCRIBE: librdkafka never reports an assigned partition
    whose topic's metadata was refused (refused_reads subscribes instead, and is told)."""
    consumer = Consumer({**conf, "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    results: dict[str, object] = {}
    try:
        consumer.assign([TopicPartition(t, p, o) for t, (p, o) in at.items()])

        def answered() -> bool:
            message = consumer.poll(0.5)
            if message is not None:
                error = message.error()
                if error is not None and error.code() in REFUSED and message.topic() in at:
                    results.setdefault(message.topic(), error)
                elif error is None and message.topic() in at and message.offset() == at[message.topic()][1]:
                    results.setdefault(message.topic(), message.value())
            return set(at) <= set(results)

        if not set(at) <= set(results):
            wait_for(answered, f"answers for {sorted(at)}", DEADLINE, every=0, fail=False)
        read = [TopicPartition(t, at[t][0], at[t][1] + 1) for t, v in results.items() if isinstance(v, bytes)]
        if read:
            try:
                committed = consumer.commit(offsets=read, asynchronous=False) or []
                results["commit"] = next((tp.error for tp in committed if tp.error), None)
            except KafkaException as err:
                results["commit"] = err.args[0]
    finally:
        consumer.close()
    assert set(at) <= set(results), f"no answer for {sorted(set(at) - set(results))} within {DEADLINE}s: {results}"
    return results


def refused_reads(conf: dict[str, object], group: str, topics: list[str],
                  expect: tuple[str, ...] | None = None) -> dict[str, KafkaError]:
    """What a consumer of `group` that subscribes to `topics` is told: topic (or 'group', for a refusal that names
    no topic) -> Kafka's error, until every name in `expect` (default: the topics) has one. It must read nothing."""
    consumer = Consumer({**conf, "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    wanted = set(expect or topics)
    errors: dict[str, KafkaError] = {}
    try:
        consumer.subscribe(topics)

        def refused() -> bool:
            message = consumer.poll(0.5)
            if message is not None:
                error = message.error()
                assert error is not None, f"read {message.topic()} [{message.partition()}]"
                if error.code() in REFUSED:
                    errors.setdefault(message.topic() if message.topic() in topics else "group", error)
            return wanted <= set(errors)

        if not wanted <= set(errors):
            wait_for(refused, f"refusals for {sorted(wanted)}", DEADLINE, every=0, fail=False)
    finally:
        consumer.close()
    assert wanted <= set(errors), f"no answer for {sorted(wanted - set(errors))} within {DEADLINE}s: {errors}"
    return errors


@pytest.fixture(scope="module")
def records(deployed: Deployed) -> dict[str, tuple[int, int]]:
    """One record on every market topic, written by the feed that may write it: topic -> (partition, offset)."""
    where: dict[str, tuple[int, int]] = {}
    for name in ("asx-feed", "binance-feed"):
        conf = deployed.login(name)
        for topic in deployed.apps[name].produces:
            error, partition, offset = produce(conf, topic, value=topic.encode())
            assert error is None, f"{name} could not write {topic}: {error}"
            where[topic] = (partition, offset)
    assert sorted(where) == market_topics(deployed.platform)  # the two feeds cover every topic
    return where


def test_up_creates_the_topics_subjects_and_exactly_the_declared_acls(deployed: Deployed):
    from confluent_kafka.schema_registry import SchemaRegistryClient

    platform = deployed.platform
    assert len(market_topics(platform)) == 6
    assert platform.security is not None
    deployer = read_client(platform.security.registry_client_file(DEPLOYER))
    registry = SchemaRegistryClient(registry_client_settings(platform.schema_registry_url, deployer.basic_auth,
                                                             Path(platform.security.ca_cert).read_text()))
    assert len(subjects_in_registry(registry)) == 6
    assert acls_on_cluster(platform) == declared(deployed.apps)  # nothing more, nothing less
    assert len(declared(deployed.apps)) == sum(len(a.bindings) for a in deployed.apps.values()) > 30
    # The admin's password went to the provider and the guard as a secret only.
    password = str(platform.client_config()["sasl.password"])
    assert password not in deployed.up_output
    assert password not in deployed.stack.run("stack", "export").stdout
    assert deployer.secret not in deployed.up_output + deployed.stack.run("stack", "export").stdout
    outputs = deployed.stack.outputs()
    assert (outputs["security_protocol"], outputs["sasl_mechanism"]) == ("SASL_SSL", "scram-sha512")
    assert password not in json.dumps(outputs)
    assert deployed.stack.run("preview", "--expect-no-changes").returncode == 0


def test_producers_write_their_own_topics_only(deployed: Deployed, records: dict[str, tuple[int, int]]):
    everything = market_topics(deployed.platform)
    for name in ("asx-feed", "binance-feed"):
        app = deployed.apps[name]
        conf = deployed.login(name)
        assert app.produces and set(app.produces) < set(everything)
        for topic in everything:
            error, _, _ = produce(conf, topic)
            if topic in app.produces:
                assert error is None, f"{name} may write {topic}: {error}"
            else:  # another asset class's topics
                assert refused_code(error) == KafkaError.TOPIC_AUTHORIZATION_FAILED, (name, topic, error)
        # A producer reads nothing and has no group.
        assert refused_code(consume(conf, name, {app.produces[0]: records[app.produces[0]]})[app.produces[0]]) \
            == KafkaError.TOPIC_AUTHORIZATION_FAILED


@pytest.mark.parametrize("name", ["iceberg-writer", "asx-market-maker", "crypto-arbitrage", "compliance-monitor",
                                  "equities-analytics", "reference-loader"])
def test_consumers_read_their_topics_commit_their_group_and_nothing_else(
        deployed: Deployed, records: dict[str, tuple[int, int]], name: str):
    app = deployed.apps[name]
    conf = deployed.login(name)
    mine = {t: records[t] for t in app.consumes}
    others = {t: where for t, where in records.items() if t not in app.consumes}
    assert mine, name

    # Its own topics, in its own group: read, and the commit is accepted.
    got = consume(conf, app.group or name, mine)
    assert {t: got[t] for t in mine} == {t: t.encode() for t in mine}, got
    assert got["commit"] is None, got["commit"]
    reader = Consumer({**conf, "group.id": app.group})
    try:
        committed = reader.committed([TopicPartition(t, p) for t, (p, _) in mine.items()], timeout=DEADLINE)
    finally:
        reader.close()
    assert {tp.topic: tp.offset for tp in committed} == {t: o + 1 for t, (_, o) in mine.items()}

    # Every other topic (another asset class, another data type): refused.
    if others:
        got = refused_reads(conf, app.group or name, sorted(others))
        assert {t: refused_code(got[t]) for t in others} == dict.fromkeys(others, KafkaError.TOPIC_AUTHORIZATION_FAILED)

    # Another group: refused, even for its own topics.
    got = refused_reads(conf, f"{name}-not-mine", sorted(mine), expect=("group",))
    assert refused_code(got["group"]) == KafkaError.GROUP_AUTHORIZATION_FAILED, got

    # Writing a topic it only reads: refused.
    topic = app.consumes[0]
    error, _, _ = produce(conf, topic, idempotent=False)
    assert refused_code(error) == KafkaError.TOPIC_AUTHORIZATION_FAILED, error


def test_an_acl_added_by_hand_is_drift_in_the_preview(deployed: Deployed):
    admin = admin_of(deployed.platform)
    by_hand = AclBinding(ResourceType.TOPIC, "market.crypto.trades.binance", ResourcePatternType.LITERAL,
                         "User:asx-market-maker", "*", AclOperation.READ, AclPermissionType.ALLOW)
    for future in admin.create_acls([by_hand], request_timeout=DEADLINE).values():
        future.result(timeout=DEADLINE)
    try:
        preview = deployed.stack.run("preview")
        assert ("drift: an ACL K2 did not declare is on the cluster: User:asx-market-maker Allow Read on Topic "
                "Literal market.crypto.trades.binance") in flat(preview), flat(preview)
    finally:
        as_filter = AclBindingFilter(by_hand.restype, by_hand.name, by_hand.resource_pattern_type, by_hand.principal,
                                     by_hand.host, by_hand.operation, by_hand.permission_type)
        for future in admin.delete_acls([as_filter], request_timeout=DEADLINE).values():
            future.result(timeout=DEADLINE)
    assert "drift:" not in flat(deployed.stack.run("preview"))
    assert acls_on_cluster(deployed.platform) == declared(deployed.apps)


def test_a_removed_subscription_loses_its_acls_on_up(deployed: Deployed, records: dict[str, tuple[int, int]]):
    stack = deployed.stack
    text = (stack.project / "topics.yaml").read_text()
    assert text.count(ANALYTICS_BEFORE) == 1
    stack.set_topology(text.replace(ANALYTICS_BEFORE, ANALYTICS_AFTER))
    after = {a.name: a for a in load_topology(stack.project / "topics.yaml", "dev").apps}
    lost = declared(deployed.apps) - declared(after)
    assert lost == {("User:equities-analytics", "Topic", "Literal", "market.equities.quotes.asx", op, "Allow")
                    for op in ("Read", "Describe")}

    preview = flat(stack.run("preview"))
    for operation in ("Read", "Describe"):
        assert (f"equities-analytics loses {operation} on Topic Literal market.equities.quotes.asx: no longer "
                "declared in topics.yaml, the ACL is removed") in preview
    before_up = acls_on_cluster(deployed.platform)
    assert lost <= before_up  # a preview changes nothing
    stack.up()
    assert acls_on_cluster(deployed.platform) == declared(after)

    conf = deployed.login("equities-analytics")
    quotes, trades = "market.equities.quotes.asx", "market.equities.trades.asx"
    refused = refused_reads(conf, "equities-analytics", [quotes])
    assert refused_code(refused[quotes]) == KafkaError.TOPIC_AUTHORIZATION_FAILED  # its quotes access is gone
    got = consume(conf, "equities-analytics", {trades: records[trades]})
    assert (got[trades], got["commit"]) == (trades.encode(), None)  # its trades access is not


def test_the_admin_password_is_in_no_log(deployed: Deployed):
    password = str(deployed.platform.client_config()["sasl.password"])
    credentials = Path(deployed.platform.security.credentials)  # type: ignore[union-attr]
    platform_dir = credentials.parent.parent
    logs = [*platform_dir.rglob("*.log")]
    assert logs and not [log for log in logs if password in log.read_text(errors="replace")]
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"


def test_observe_acls_is_none_on_a_plaintext_platform_without_an_authorizer(platform: PlatformState):
    assert observe_acls({"bootstrap.servers": platform.bootstrap_servers}) is None
