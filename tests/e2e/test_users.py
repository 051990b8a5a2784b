"""Users as code on a secure platform of its own (SASL_SSL, SCRAM-SHA-512, an authorizer): `pulumi up` of an
access-controlled environment creates every app's SCRAM user, with a password generated in the stack (a secret
in its state) and written to the app's credential source, a 0600 file. The test creates no user itself: the apps'
helpers log in with what their source holds. `k2 users rotate` gives an app a new password: the new one works,
the old one is refused, a producer open across the rotation keeps producing, and one that logged in with the
old password rereads its source on the refusal and carries on. Kafka's AdminClient is the witness throughout
(describe_user_scram_credentials).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from k2infra.clients import Credentials, StackOutputs, get_consumer, get_producer, load_stack_outputs
from k2infra.clients.credentials import read_source
from k2infra.clients.profiles import kafka_config
from k2infra.local import LocalPlatform, PlatformState
from k2infra.local.identity import DEPLOYER, read_client
from k2infra.model import load_topology
from k2infra.model.parse import read_spec
from tests.aws import aws_env, moto_server, point_at
from tests.clients.samples import trade
from tests.conftest import ROOT, make_project, wait_for
from tests.e2e.conftest import PulumiStack
from tests.e2e.test_access import TOPOLOGY, set_secret

DEADLINE = 60.0  # generous: a busy 2-core machine; every wait returns as soon as its condition holds
TOPIC = "market.equities.trades.asx"


@dataclass
class Deployed:
    platform: PlatformState
    stack: PulumiStack
    sources: Path
    users: dict[str, str]  # app -> SCRAM user
    outputs: StackOutputs
    up_output: str

    def source(self, app: str) -> Path:
        return self.sources / f"{app}.json"

    def credentials(self, app: str) -> Credentials:
        """The app's login as a helper reads it: Kafka's from its source; the CA and its read-only registry client
        (which the secure platform keeps, not the stack) from the environment."""
        security = self.platform.security
        assert security is not None
        registry = read_client(security.registry_client_file(app))
        return Credentials.from_source(str(self.source(app)), {
            "K2_KAFKA_CA_LOCATION": security.ca_cert, "K2_SCHEMA_REGISTRY_USERNAME": registry.client_id,
            "K2_SCHEMA_REGISTRY_PASSWORD": registry.secret})


@pytest.fixture(scope="module")
def secure_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformState]:
    local = LocalPlatform(tmp_path_factory.mktemp("secure-users") / "platform")
    try:
        yield local.up(nodes=1, kafka_port=None, registry_port=None, secure=True,
                       registry_apps=sorted(read_spec(ROOT / "topics.yaml").apps))
    finally:
        local.down(wipe=True)


@pytest.fixture(scope="module")
def deployed(secure_platform: PlatformState, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    base = tmp_path_factory.mktemp("users")
    project = make_project(base / "project", TOPOLOGY)
    sources = base / "credentials"
    assert secure_platform.security is not None
    stack = PulumiStack(project, base / "backend", "users").init({
        "k2:environment": "dev", "k2:cluster": "existing",
        "k2:bootstrapServers": secure_platform.bootstrap_servers,
        "k2:schemaRegistryUrl": secure_platform.schema_registry_url,
        "k2:tls": "true", "k2:saslMechanism": "scram-sha512", "k2:saslUsername": "admin",
        "k2:userSources": f"file:{sources}", "k2:schemaRegistryUsername": DEPLOYER,
    })
    # The secure registry takes writes from K2's deployer only (tests/e2e/test_registry_auth.py).
    set_secret(stack, "k2:schemaRegistryPassword",
               read_client(secure_platform.security.registry_client_file(DEPLOYER)).secret)
    set_secret(stack, "k2:saslPassword", str(secure_platform.client_config()["sasl.password"]))
    set_secret(stack, "k2:caCert", Path(secure_platform.security.ca_cert).read_text())
    up = stack.up()
    users = {u.app: u.username for u in load_topology(project / "topics.yaml", "dev").users}
    outputs_file = base / "outputs.json"
    outputs_file.write_text(json.dumps(stack.outputs()))
    return Deployed(secure_platform, stack, sources, users, load_stack_outputs(outputs_file), up.stdout + up.stderr)


def scram_users(platform: PlatformState) -> dict[str, set[str]]:
    """SCRAM user -> its mechanisms, as Kafka describes them."""
    admin = AdminClient({**platform.client_config(), "log_level": 0})
    described = admin.describe_user_scram_credentials().result(timeout=DEADLINE)
    return {user: {info.mechanism.name for info in d.scram_credential_infos} for user, d in described.items()}


def login_errors(deployed: Deployed, username: str, password: str) -> set[int]:
    """What the brokers answer a fresh client logged in as `username`: the error codes it saw (none: in)."""
    seen: set[int] = set()
    conf = {**deployed.platform.client_config(), "sasl.username": username, "sasl.password": password,
            "log_level": 0, "error_cb": lambda error: seen.add(error.code())}
    admin = AdminClient(conf)

    def answered() -> bool:
        try:
            admin.list_topics(timeout=2)
            return True
        except Exception:
            admin.poll(0.5)  # serves error_cb
            return KafkaError._AUTHENTICATION in seen

    wait_for(answered, f"an answer to {username}'s login", DEADLINE, every=0)
    return seen


def produce_one(producer, seq: int) -> None:
    producer.produce(TOPIC, trade("BHP", "asx", seq))
    assert producer.flush(DEADLINE) == 0, f"record {seq} undelivered within {DEADLINE}s ({producer.stats})"


def rotate(deployed: Deployed, app: str) -> subprocess.CompletedProcess[str]:
    stack = deployed.stack
    return subprocess.run([str(ROOT / "bin" / "k2"), "users", "rotate", "--stack", stack.name, "--app", app,
                           "--config", str(stack.project / "topics.yaml")], cwd=stack.project, env=stack.env(),
                          capture_output=True, text=True, timeout=600)


def test_the_stack_creates_each_apps_user_and_its_0600_source(deployed):
    on_cluster = scram_users(deployed.platform)
    assert {u: on_cluster.get(u) for u in deployed.users.values()} == {
        u: {"SCRAM_SHA_512"} for u in deployed.users.values()}
    for app, user in deployed.users.items():
        source = deployed.source(app)
        assert stat.S_IMODE(source.stat().st_mode) == 0o600
        login = read_source(str(source))
        assert (login.username, login.mechanism) == (user, "SCRAM-SHA-512")
        assert login.password not in deployed.up_output  # never printed
    assert stat.S_IMODE(deployed.sources.stat().st_mode) == 0o700


def test_helpers_logged_in_from_their_sources_produce_and_consume(deployed):
    seq = int(uuid.uuid4().int % 1_000_000)
    with get_producer("trades", deployed.outputs, credentials=deployed.credentials("asx-feed")) as producer:
        produce_one(producer, seq)
    received = []
    with get_consumer("asx-market-maker", [TOPIC], deployed.outputs, credentials=deployed.credentials(
            "asx-market-maker"), auto_offset_reset="earliest") as consumer:
        def got_it() -> bool:
            consumer.process(received.append, timeout=0.5)
            return any(r.value["sequence_number"] == seq for r in received)

        wait_for(got_it, f"trade {seq} read as asx-market-maker", DEADLINE, every=0)


def test_rotation_new_password_works_old_refused_and_rereading_apps_carry_on(deployed):
    app, user = "asx-feed", deployed.users["asx-feed"]
    before = deployed.credentials(app)  # logged in before the rotation
    open_producer = get_producer("trades", deployed.outputs, credentials=before)
    produce_one(open_producer, 1)

    done = rotate(deployed, app)
    assert done.returncode == 0, done.stdout + done.stderr
    assert before.kafka_password is not None
    assert before.kafka_password not in done.stdout + done.stderr
    after = read_source(str(deployed.source(app)))
    assert after.username == user and after.password != before.kafka_password
    assert stat.S_IMODE(deployed.source(app).stat().st_mode) == 0o600

    assert KafkaError._AUTHENTICATION in login_errors(deployed, user, before.kafka_password)  # old: refused
    assert KafkaError._AUTHENTICATION not in login_errors(deployed, user, after.password)  # new: in
    assert scram_users(deployed.platform)[user] == {"SCRAM_SHA_512"}

    produce_one(open_producer, 2)  # its connection, authenticated before, stays
    open_producer.close()
    stale = get_producer("trades", deployed.outputs, credentials=before)  # the old password, from the source
    produce_one(stale, 3)  # refused once, rereads the source, delivers
    assert stale.follower is not None and stale.follower.refreshed == 1
    stale.close()

    other = read_source(str(deployed.source("binance-feed")))
    assert KafkaError._AUTHENTICATION not in login_errors(deployed, other.username, other.password)  # untouched


def test_a_plain_up_after_rotation_keeps_the_new_password(deployed):
    now = read_source(str(deployed.source("asx-feed")))
    deployed.stack.up()
    assert read_source(str(deployed.source("asx-feed"))) == now
    assert KafkaError._AUTHENTICATION not in login_errors(deployed, now.username, now.password)


def test_environment_variables_override_the_source(deployed):
    env = {**os.environ, "K2_KAFKA_USERNAME": "someone", "K2_KAFKA_PASSWORD": "x"}
    creds = Credentials.from_source(str(deployed.source("asx-feed")), env)
    assert (creds.kafka_username, creds.kafka_source) == ("someone", None)


# --- the operator commands log in with the stack's own settings -----------------------------------------------
# The stack holds admin's password and the CA as secrets and the deployer's registry secret; none is in the
# environment: `k2 plan`, `k2 monitor`, the exporter and `k2 migrate plan` decrypt them from the stack
# (`pulumi config --show-secrets`, with the stack's passphrase), and a K2_* variable still overrides.
LOGIN_VARIABLES = ("K2_KAFKA_USERNAME", "K2_KAFKA_PASSWORD", "K2_KAFKA_CA_LOCATION", "K2_SCHEMA_REGISTRY_USERNAME",
                   "K2_SCHEMA_REGISTRY_PASSWORD", "K2_KAFKA_CREDENTIAL_SOURCE", "K2_STACK_OUTPUTS")


def operator_env(deployed: Deployed, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in deployed.stack.env().items() if k not in LOGIN_VARIABLES}
    return {**env, **overrides}


def operator(deployed: Deployed, *args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    stack = deployed.stack
    command = [str(ROOT / "bin" / "k2"), *args, "--stack", stack.name, "--config", str(stack.project / "topics.yaml")]
    return subprocess.run(command, cwd=stack.project, env=operator_env(deployed, **overrides), capture_output=True,
                          text=True, timeout=300)


def test_k2_plan_and_monitor_log_in_with_the_stacks_secrets(deployed):
    plan = operator(deployed, "plan", "--json")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert TOPIC in json.loads(plan.stdout)["unchanged"]  # TLS with the stack's CA, SCRAM with its password
    monitor = operator(deployed, "monitor", "--interval", "1", "--json")
    assert monitor.returncode in (0, 2), monitor.stdout + monitor.stderr  # 2: degraded (no traffic), but answered
    assert TOPIC in monitor.stdout
    for output in (plan, monitor):  # the secrets never reach what the commands print
        assert str(deployed.platform.client_config()["sasl.password"]) not in output.stdout + output.stderr


def test_an_environment_variable_still_overrides_the_stack(deployed):
    wrong = operator(deployed, "plan", K2_KAFKA_PASSWORD="not-the-password")
    assert wrong.returncode == 1
    assert "refused the SASL credentials" in wrong.stderr and "K2_KAFKA_PASSWORD" in wrong.stderr


def test_a_stack_that_cannot_be_decrypted_says_what_to_set(deployed):
    done = operator(deployed, "plan", PULUMI_CONFIG_PASSPHRASE="not-the-passphrase")
    assert done.returncode == 1
    assert "k2:saslPassword" in done.stderr and "PULUMI_CONFIG_PASSPHRASE" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_the_exporter_reads_the_cluster_and_the_locked_registry_with_the_stacks_secrets(deployed):
    from k2infra.local.processes import free_ports
    from tests.conftest import stop
    from tests.e2e.test_monitoring import metrics

    (port,) = free_ports(1)
    stack = deployed.stack
    process = subprocess.Popen([str(ROOT / "bin" / "k2"), "monitor", "exporter", "--config",
                                str(stack.project / "topics.yaml"), "--stack", stack.name, "--port", str(port),
                                "--address", "127.0.0.1", "--timeout", "10"], cwd=stack.project,
                               env=operator_env(deployed), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def scraped() -> str | None:
            assert process.poll() is None, process.communicate()
            try:
                text = metrics(port)
            except OSError:
                return None
            return text if "\nk2_up 1\n" in text and "\nk2_registry_up 1\n" in text else None

        text = wait_for(scraped, "the exporter up on Kafka and the registry", DEADLINE * 2, every=0.5)
        in_sync = [line for line in text.splitlines() if line.startswith("k2_subject_in_sync{")]
        assert len(in_sync) == 6 and all(float(line.rsplit(" ", 1)[1]) == 1 for line in in_sync), in_sync
    finally:
        stop(process)


def test_k2_migrate_plan_reads_the_cluster_and_the_registry_with_the_stacks_secrets(deployed):
    admin = AdminClient({**deployed.platform.client_config(), "log_level": 0})
    legacy = load_topology(deployed.stack.project / "topics.yaml", "dev").legacy_names
    new = [NewTopic(name, 1) for name in sorted(legacy) if name not in admin.list_topics(timeout=DEADLINE).topics]
    for future in admin.create_topics(new).values():
        future.result(timeout=DEADLINE)
    done = operator(deployed, "migrate", "plan", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert {t["topic"] for t in report["legacy"]} == set(legacy)


REFERENCE_LOADER = ('  reference-loader:\n    principal: "User:reference-loader"\n    consumes:\n'
                    '      - {topics: [market.equities.reference_data.asx, market.crypto.reference_data.binance]}'
                    '  # pattern 5\n')


ASX_QUOTA = '    quota: {produce: "10MB/s"}'
QUOTA = 1_000_000  # bytes per second
RECORD = 10_000  # random, so the batches the broker counts are the bytes sent (nothing compresses)
# Kafka averages a user's bytes over 11 one-second windows and counts at least 10 of them, so a client may send
# about 10 s of quota at once, is muted until the average is back at the quota, and sends again: a cycle of about
# 12 s, within which any 10 s may carry from a third of the quota to more than all of it (docs/access-control.md).
# Two whole cycles from the first record hold the rate Kafka enforces.
MEASURED = 24.0


def produce(conf: dict, topic: str, until: float, paced: float | None, out: list[tuple[float, int]],
            stats: list[dict]) -> None:
    """Send RECORD-byte values to `topic` until `until` (monotonic), as fast as the brokers take them or at `paced`
    bytes/s; `out` gets (time, bytes) of each acknowledged record, `stats` librdkafka's statistics."""
    producer = Producer({**conf, "compression.type": "none", "linger.ms": 5, "queue.buffering.max.kbytes": 1024,
                         "statistics.interval.ms": 1000, "stats_cb": lambda text: stats.append(json.loads(text)),
                         "log_level": 0})
    payload, started, sent = os.urandom(RECORD), time.monotonic(), 0

    def delivered(error, message) -> None:
        if error is None:
            out.append((time.monotonic(), len(message.value())))

    while (now := time.monotonic()) < until:
        if paced is not None and sent * RECORD > (now - started) * paced:
            producer.poll(0.005)
            continue
        try:
            producer.produce(topic, payload, on_delivery=delivered)
            sent += 1
        except BufferError:  # the queue is full: the brokers are holding us back
            producer.poll(0.05)
        producer.poll(0)
    producer.flush(30)


def rate(out: list[tuple[float, int]], start: float, end: float) -> float:
    return sum(size for at, size in out if start <= at < end) / (end - start)


def throttled_ms(stats: list[dict]) -> float:
    """The most any broker held the client back in one statistics interval (librdkafka's throttle window)."""
    return max((b.get("throttle", {}).get("max", 0) for s in stats for b in s.get("brokers", {}).values()),
               default=0)


def test_a_quota_holds_a_producer_to_its_rate_and_leaves_another_app_alone(deployed):
    """asx-feed's quota of 1 MB/s, as the preview shows it changing and `up` applies it: asx-feed pushing as fast as
    it can is held within 20% of it over 24 s, counted from the records the broker acknowledged, and the broker
    throttled it; binance-feed, at 2 MB/s under its own 10 MB/s at the same time, gets its whole rate, unthrottled."""
    assert ASX_QUOTA in TOPOLOGY
    deployed.stack.set_topology(TOPOLOGY.replace(ASX_QUOTA, '    quota: {produce: "1MB/s"}', 1))
    changed = {s["urn"].rsplit("::", 1)[-1] for s in deployed.stack.preview_steps() if s["op"] != "same"}
    assert changed == {"asx-feed/quota"}
    deployed.stack.up()

    def conf(app: str) -> dict:
        return kafka_config(deployed.outputs, deployed.credentials(app))

    asx: list[tuple[float, int]] = []
    binance: list[tuple[float, int]] = []
    asx_stats: list[dict] = []
    binance_stats: list[dict] = []
    start = time.monotonic()
    end = start + MEASURED
    other = threading.Thread(target=produce, args=(conf("binance-feed"), "market.crypto.trades.binance", end,
                                                   2 * QUOTA, binance, binance_stats))
    other.start()
    produce(conf("asx-feed"), TOPIC, end, None, asx, asx_stats)
    other.join()
    measured = rate(asx, start, end)
    assert 0.8 * QUOTA <= measured <= 1.2 * QUOTA, f"asx-feed delivered {measured:,.0f} B/s against {QUOTA:,} B/s"
    assert throttled_ms(asx_stats) > 0
    assert rate(binance, start, end) >= 0.9 * 2 * QUOTA
    assert throttled_ms(binance_stats) == 0


def test_an_app_removed_keeps_its_user_until_its_principal_is_decommissioned(deployed):
    assert REFERENCE_LOADER in TOPOLOGY
    source = deployed.source("reference-loader")
    deployed.stack.set_topology(TOPOLOGY.replace(REFERENCE_LOADER, "", 1))
    up = deployed.stack.up()
    assert "its user reference-loader is kept" in " ".join((up.stdout + up.stderr).split())
    assert "reference-loader" in scram_users(deployed.platform) and source.exists()
    login = read_source(str(source))
    assert KafkaError._AUTHENTICATION not in login_errors(deployed, login.username, login.password)

    dev = "  dev:\n    access_control: true\n"
    assert dev in TOPOLOGY
    deployed.stack.set_topology(TOPOLOGY.replace(REFERENCE_LOADER, "", 1).replace(
        dev, dev + "    decommission: [User:reference-loader]\n", 1))
    deployed.stack.up()
    assert "reference-loader" not in scram_users(deployed.platform) and not source.exists()
    assert KafkaError._AUTHENTICATION in login_errors(deployed, login.username, login.password)
    assert "asx-feed" in scram_users(deployed.platform)  # the others stay


def test_sources_moved_to_secrets_manager_keep_each_password(deployed, monkeypatch, tmp_path):
    """Team and prod stacks keep the sources in AWS Secrets Manager (moto's server here, as for the S3 state): moving
    k2:userSources there writes each app's secret and removes its file; no password changes."""
    stack = deployed.stack
    before = read_source(str(deployed.source("asx-feed")))
    with moto_server(tmp_path / "moto") as moto:
        point_at(moto, monkeypatch, tmp_path)
        stack.run("config", "set", "k2:userSources", "secretsmanager:k2/e2e/")
        done = subprocess.run(["pulumi", "up", "--yes", "--skip-preview", "--stack", stack.name, "--non-interactive"],
                              cwd=stack.project, env={**stack.env(), **aws_env(moto.endpoint, tmp_path)},
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        moved = read_source("secretsmanager:k2/e2e/asx-feed")
        assert moved == before and not deployed.source("asx-feed").exists()
        names = {s["Name"] for s in moto.client("secretsmanager").list_secrets()["SecretList"]}
        assert names == {f"k2/e2e/{app}" for app in deployed.users if app != "reference-loader"}
    assert KafkaError._AUTHENTICATION not in login_errors(deployed, moved.username, moved.password)
