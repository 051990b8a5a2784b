"""The secure local platform without starting a broker: the throwaway CA and broker certificate, the admin's
credentials file, the SASL_SSL/authorizer broker configs for one and three nodes, formatting with the admin's
SCRAM credential (Kafka's real storage tool), the marker and state of a secure platform, its mode guards, and
the node kill/restart used by the failure drills (real child processes standing in for Kafka)."""

from __future__ import annotations

import datetime
import json
import re
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from k2infra.local.kafka import KafkaCluster, new_cluster_id, read_cluster_id
from k2infra.local.platform import LocalPlatform, PlatformIdentity, PlatformState, StateSecurity
from k2infra.local.processes import PlatformError, ProcessRecord, alive, stop_processes
from k2infra.local.security import (
    AUTHORIZER,
    AdminCredentials,
    SecureSettings,
    SecurityFiles,
    issue_certificates,
    scram_argument,
)
from tests.local.conftest import Children, wait_for, write_fake_java
from tests.local.test_kafka_config import parse

CLUSTER_ID = "q1Sh-9_ISia_zwGINzRvyQ"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def unescape(value: str) -> str:
    """A properties value as java.util.Properties reads it (the only escape our values use is \\n)."""
    return value.replace("\\n", "\n")


@pytest.fixture
def files(tmp_path: Path) -> SecurityFiles:
    return SecurityFiles(tmp_path / "platform" / "security")


@pytest.fixture
def secure(files: SecurityFiles) -> SecureSettings:
    return SecureSettings(files, files.ensure(may_create_credentials=True))


# --- certificates and credentials ----------------------------------------------------------------


def test_the_ca_signs_a_broker_certificate_for_localhost_and_127_0_0_1():
    ca_pem, broker_pem = issue_certificates()
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    chain = x509.load_pem_x509_certificates(broker_pem[broker_pem.index("-----BEGIN CERTIFICATE"):].encode())
    broker = chain[0]
    assert [c.subject for c in chain] == [broker.subject, ca.subject]  # leaf first, then the CA
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    broker.verify_directly_issued_by(ca)
    assert broker.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usages = broker.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages
    key = serialization.load_pem_private_key(broker_pem.encode(), password=None)  # PKCS#8, unencrypted
    assert broker_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key() == broker.public_key()
    now = datetime.datetime.now(datetime.UTC)
    assert broker.not_valid_before_utc < now < broker.not_valid_after_utc
    assert "PRIVATE KEY" not in ca_pem  # the CA's key is never written anywhere


def test_ensure_creates_private_files_once_and_keeps_them(files: SecurityFiles):
    credentials = files.ensure(may_create_credentials=True)
    assert credentials.username == "admin" and len(credentials.password) >= 32
    assert mode_of(files.directory) == 0o700
    assert mode_of(files.credentials) == 0o600 and mode_of(files.broker_pem) == 0o600
    assert json.loads(files.credentials.read_text()) == {"sasl_mechanism": "SCRAM-SHA-512", "username": "admin",
                                                         "password": credentials.password}
    assert files.certificates_valid()
    before = {p.name: p.read_bytes() for p in files.directory.iterdir()}
    assert files.ensure(may_create_credentials=False) == credentials  # a restart: same password, same CA
    assert {p.name: p.read_bytes() for p in files.directory.iterdir()} == before
    assert "password=***" in repr(credentials) and credentials.password not in repr(credentials)


def test_two_platforms_get_different_passwords_and_cas(tmp_path: Path):
    one, two = SecurityFiles(tmp_path / "one"), SecurityFiles(tmp_path / "two")
    assert one.ensure(True).password != two.ensure(True).password
    assert one.ca_cert.read_bytes() != two.ca_cert.read_bytes()


@pytest.mark.parametrize("damage", ["broker-missing", "broker-garbage", "other-ca", "expiring"])
def test_certificates_are_renewed_when_missing_unreadable_foreign_or_expiring(files: SecurityFiles, damage: str):
    credentials = files.ensure(may_create_credentials=True)
    if damage == "broker-missing":
        files.broker_pem.unlink()
    elif damage == "broker-garbage":
        files.broker_pem.write_text("not a pem\n")
    elif damage == "other-ca":
        files.ca_cert.write_text(issue_certificates()[0])
    else:
        in_a_while = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=825)
        assert not files.certificates_valid(now=in_a_while)
        return
    assert not files.certificates_valid()
    old_ca = files.ca_cert.read_text()
    assert files.ensure(may_create_credentials=False) == credentials  # the credentials are kept
    assert files.certificates_valid() and files.ca_cert.read_text() != old_ca
    assert mode_of(files.broker_pem) == 0o600


def test_credentials_are_never_invented_for_data_formatted_with_others(files: SecurityFiles):
    with pytest.raises(PlatformError, match=r"credentials\.json is missing, yet Kafka's data here was formatted "
                                            r"with the admin credentials it held; wipe the platform"):
        files.ensure(may_create_credentials=False)
    files.directory.mkdir(parents=True, exist_ok=True)
    files.credentials.write_text("{not json")
    with pytest.raises(PlatformError, match=r"^cannot read the platform admin's credentials from .*credentials\.json "
                                            r"\(JSONDecodeError\)"):
        files.read_credentials()


# --- broker configs ------------------------------------------------------------------------------


def test_a_secure_node_serves_sasl_ssl_only_and_denies_what_no_acl_allows(tmp_path: Path, secure: SecureSettings):
    cluster = KafkaCluster.with_ports(tmp_path / "kafka", [19092], [19192], secure=secure)
    props = parse(cluster._properties(cluster.nodes[0]))
    password = secure.credentials.password
    assert props["listeners"] == "SASL_SSL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19192"
    assert props["advertised.listeners"] == "SASL_SSL://127.0.0.1:19092"
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:SASL_SSL"
    assert "PLAINTEXT" not in props["listeners"] + props["listener.security.protocol.map"]
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["listener.name.sasl_ssl.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"  # no PLAIN for clients
    assert props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" '
        f'password="{password}";')
    # KRaft cannot use SCRAM on the controller listener: PLAIN there, for the admin alone.
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert props["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert props["listener.name.controller.plain.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" '
        f'password="{password}" user_admin="{password}";')
    assert props["authorizer.class.name"] == AUTHORIZER == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin"
    assert props["ssl.truststore.type"] == "PEM"
    assert props["ssl.truststore.location"] == str(secure.files.ca_cert)
    assert props["ssl.keystore.type"] == "PEM"
    key, chain = secure.files.broker_key_and_chain()
    assert unescape(props["ssl.keystore.key"]) == key  # the PEM's line breaks survive, escaped
    assert unescape(props["ssl.keystore.certificate.chain"]) == chain
    assert chain.count("BEGIN CERTIFICATE") == 2
    assert props["ssl.endpoint.identification.algorithm"] == "https"
    # The rest is the plaintext node's config.
    assert props["process.roles"] == "broker,controller" and props["auto.create.topics.enable"] == "false"


def test_three_secure_nodes_talk_to_each_other_on_their_secure_listeners(tmp_path: Path, secure: SecureSettings):
    cluster = KafkaCluster.with_ports(tmp_path / "kafka", [19092, 19093, 19094], [19192, 19193, 19194],
                                      secure=secure)
    for i, props in enumerate(parse(cluster._properties(node)) for node in cluster.nodes):
        assert props["node.id"] == str(i + 1)
        assert props["listeners"] == f"SASL_SSL://127.0.0.1:{19092 + i},CONTROLLER://127.0.0.1:{19192 + i}"
        assert props["advertised.listeners"] == f"SASL_SSL://127.0.0.1:{19092 + i}"
        assert props["controller.quorum.voters"] == "1@127.0.0.1:19192,2@127.0.0.1:19193,3@127.0.0.1:19194"
        assert props["super.users"] == "User:admin" and props["default.replication.factor"] == "3"
    assert cluster.client_config() == {
        "bootstrap.servers": "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094", "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "admin", "sasl.password": secure.credentials.password,
        "ssl.ca.location": str(secure.files.ca_cert)}


def test_plaintext_nodes_get_none_of_it(tmp_path: Path):
    cluster = KafkaCluster.with_ports(tmp_path / "kafka", [19092], [19192])
    props = parse(cluster._properties(cluster.nodes[0]))
    assert not any(k.startswith(("ssl.", "authorizer", "super.users", "allow.everyone")) for k in props)
    assert cluster.client_config() == {"bootstrap.servers": "127.0.0.1:19092"}


def test_a_secure_cluster_has_no_extra_sasl_plaintext_listener(tmp_path: Path, secure: SecureSettings):
    with pytest.raises(ValueError, match="a secure cluster has no extra SASL_PLAINTEXT listener"):
        KafkaCluster.with_ports(tmp_path, [19092], [19192], sasl_ports=[19292], sasl_users={"a": "b"}, secure=secure)


def test_scram_argument():
    assert scram_argument(AdminCredentials("admin", "s3cret_-x")) == "SCRAM-SHA-512=[name=admin,password=s3cret_-x]"


# --- formatting ----------------------------------------------------------------------------------


def test_storage_tool_arguments_travel_in_a_private_file_never_on_the_command_line(
        tmp_path: Path, secure: SecureSettings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("k2infra.local.kafka.find_java", lambda minimum: "java")
    cluster = KafkaCluster.with_ports(tmp_path / "kafka", [19092], [19192], secure=secure)
    cluster.lib = tmp_path
    seen: list[tuple[list[str], str, int]] = []

    def run(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        argfile = Path(cmd[-1][1:])
        seen.append((cmd, argfile.read_text(), mode_of(argfile)))
        return subprocess.CompletedProcess(cmd, 1, "", f"bad argument password={secure.credentials.password}")

    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(PlatformError) as refused:
        cluster.format(CLUSTER_ID)
    [(cmd, argfile_text, argfile_mode)] = seen
    password = secure.credentials.password
    assert cmd[-1].startswith("@") and password not in " ".join(cmd)
    assert argfile_mode == 0o600
    props = tmp_path / "kafka" / "node-1" / "server.properties"
    assert argfile_text.splitlines() == ['"kafka.tools.StorageTool"', '"format"', '"-t"', f'"{CLUSTER_ID}"', '"-c"',
                                         f'"{props}"', '"--add-scram"',
                                         f'"SCRAM-SHA-512=[name=admin,password={password}]"']
    assert not Path(cmd[-1][1:]).exists()  # removed at once
    assert password not in str(refused.value) and "password=***" in str(refused.value)
    assert mode_of(props) == 0o600  # it holds the admin's password


@pytest.fixture
def kafka_lib() -> Path:
    lib = KafkaCluster(base_dir=Path("unused"), nodes=[]).lib
    if lib is None or not lib.is_dir():
        pytest.fail("the Kafka jars are needed: run the tests after scripts/bootstrap and `. scripts/env.sh`")
    return lib


def test_kafka_formats_a_secure_node_with_the_admins_scram_credential(tmp_path: Path, secure: SecureSettings,
                                                                      kafka_lib: Path):
    cluster_id = new_cluster_id()
    cluster = KafkaCluster.with_ports(tmp_path / "kafka", [19092], [19192], secure=secure)
    assert cluster.format(cluster_id) == cluster_id  # Kafka's own tool accepts the config and the SCRAM argument
    data = tmp_path / "kafka" / "node-1" / "data"
    assert read_cluster_id(data) == cluster_id
    bootstrap = (data / "bootstrap.checkpoint").read_bytes()
    assert b"admin" in bootstrap  # the SCRAM credential record, salted: never the password itself
    assert secure.credentials.password.encode() not in bootstrap
    assert [p.name for p in (tmp_path / "kafka" / "node-1").iterdir() if p.suffix == ".args"] == []


# --- the platform's marker, state and guards -----------------------------------------------------


def test_a_secure_marker_says_so_and_a_plaintext_one_is_as_before():
    assert PlatformIdentity(1, CLUSTER_ID).to_json() == {"k2_local_platform": 1, "nodes": 1, "cluster_id": CLUSTER_ID}
    secure = PlatformIdentity(3, CLUSTER_ID, secure=True)
    assert secure.to_json() == {"k2_local_platform": 1, "nodes": 3, "cluster_id": CLUSTER_ID, "secure": True}
    assert PlatformIdentity.from_json(secure.to_json()) == secure
    for bad in ({**secure.to_json(), "secure": "yes"}, {**secure.to_json(), "secure": 1}):
        with pytest.raises(ValueError):
            PlatformIdentity.from_json(bad)


def secure_state(tmp_path: Path, files: SecurityFiles, kafka: list[ProcessRecord] | None = None,
                 registry: list[ProcessRecord] | None = None) -> PlatformState:
    security = StateSecurity(str(files.ca_cert), str(files.credentials), "admin")
    return PlatformState(1, [19092], [19192], 18081, kafka or [], registry or [], security)


def test_a_secure_state_records_listeners_ca_and_credentials_file_but_no_password(
        tmp_path: Path, files: SecurityFiles, secure: SecureSettings):
    state = secure_state(tmp_path, files, [ProcessRecord(101, 1795000000.5, ("java", "kafka.Kafka"))],
                         [ProcessRecord(102, 1795000001.5, ("java", "-jar", "quarkus-run.jar"))])
    data = state.to_json()
    assert data["security"] == {"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                                "listeners": ["SASL_SSL://127.0.0.1:19092"], "ca_cert": str(files.ca_cert),
                                "credentials": str(files.credentials), "username": "admin"}
    assert secure.credentials.password not in json.dumps(data)
    assert PlatformState.from_json(json.loads(json.dumps(data))) == state
    assert state.secure and state.security_protocol == "SASL_SSL"
    assert state.client_config() == {"bootstrap.servers": "127.0.0.1:19092", "security.protocol": "SASL_SSL",
                                     "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "admin",
                                     "sasl.password": secure.credentials.password,
                                     "ssl.ca.location": str(files.ca_cert)}
    plain = PlatformState(1, [19092], [19192], 18081)
    assert "security" not in plain.to_json() and plain.listeners == ["PLAINTEXT://127.0.0.1:19092"]
    assert plain.client_config() == {"bootstrap.servers": "127.0.0.1:19092"}
    with pytest.raises(ValueError):
        PlatformState.from_json({**data, "security": {**data["security"], "password": "x"}})


@pytest.fixture
def no_kafka_jars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K2_KAFKA_LIB", str(tmp_path / "no-jars"))
    write_fake_java(tmp_path / "jdk", 'openjdk version "21.0.2" 2024-01-16')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))


def formatted(platform: LocalPlatform, secure: bool) -> None:
    platform.base_dir.mkdir(parents=True, exist_ok=True)
    platform.marker_file.write_text(json.dumps(PlatformIdentity(1, CLUSTER_ID, secure).to_json()))
    data = platform.base_dir / "kafka" / "node-1" / "data"
    data.mkdir(parents=True)
    (data / "meta.properties").write_text(f"cluster.id={CLUSTER_ID}\nnode.id=1\nversion=1\n")


def tree(directory: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(directory)): None if p.is_dir() else p.read_bytes() for p in directory.rglob("*")}


@pytest.mark.parametrize("had_secure", [False, True])
def test_a_stopped_platform_keeps_its_mode(tmp_path: Path, no_kafka_jars: None, had_secure: bool):
    platform = LocalPlatform(tmp_path / "platform", echo=lambda _: None)
    formatted(platform, had_secure)
    before = tree(platform.base_dir)
    was, asked = ("secure \\(SASL_SSL\\)", "plaintext") if had_secure else ("plaintext", "secure \\(SASL_SSL\\)")
    hint = "with --secure" if had_secure else "without --secure"
    with pytest.raises(PlatformError, match=rf"^{platform.base_dir} holds a {was} platform \(Kafka cluster "
                                            rf"{CLUSTER_ID}\), stopped; it cannot be started {asked}: .*\. Start it "
                                            rf"{hint}, or run `k2 local down --wipe --dir {platform.base_dir}` "
                                            rf"first to start over {asked} .*Nothing was changed$"):
        platform.up(nodes=1, kafka_port=None, registry_port=None, secure=not had_secure)
    assert tree(platform.base_dir) == before


def test_a_running_platform_keeps_its_mode(tmp_path: Path, children: Children, files: SecurityFiles):
    platform = LocalPlatform(tmp_path / "platform", echo=lambda _: None)
    formatted(platform, True)
    state = secure_state(tmp_path, files, [children.record("kafka")], [children.record("registry")])
    platform.state_file.write_text(json.dumps(state.to_json()))
    assert platform.up(nodes=1, secure=True) == state  # running: nothing to do
    with pytest.raises(PlatformError, match=r"^a secure \(SASL_SSL\) platform is running in .*; its mode cannot "
                                            r"change: start it with --secure, or run `k2 local down --wipe"):
        platform.up(nodes=1)
    assert all(alive(p) for p in state.kafka_pids + state.registry_pids)


def test_a_new_secure_platform_writes_its_material_before_kafka_starts(tmp_path: Path, no_kafka_jars: None):
    platform = LocalPlatform(tmp_path / "platform", echo=lambda _: None)
    with pytest.raises(PlatformError, match="Kafka jars not found"):
        platform.up(nodes=1, kafka_port=None, registry_port=None, secure=True)
    assert json.loads(platform.marker_file.read_text())["secure"] is True
    files = SecurityFiles(platform.base_dir / "security")
    assert files.certificates_valid() and mode_of(files.credentials) == 0o600
    assert platform.identity() == PlatformIdentity(1, platform.identity().cluster_id, True)  # type: ignore[union-attr]
    assert sorted(e.name for e in platform.base_dir.iterdir()) == ["k2-platform.json", "kafka", "security"]
    platform.down(wipe=True)  # its own entries: wiped
    assert not platform.base_dir.exists()


# --- failure drills ------------------------------------------------------------------------------


def test_kill_node_signals_only_the_recorded_process_and_restart_starts_it_again(
        tmp_path: Path, children: Children, monkeypatch: pytest.MonkeyPatch):
    platform = LocalPlatform(tmp_path / "platform", echo=lambda _: None)
    platform.base_dir.mkdir()
    nodes = [children.record(f"kafka-{i}") for i in range(3)]
    state = PlatformState(3, [19092, 19093, 19094], [19192, 19193, 19194], 18081, nodes,
                          [children.record("registry")])
    platform.state_file.write_text(json.dumps(state.to_json()))
    killed = platform.kill_node(2)
    assert killed == nodes[1] and not alive(nodes[1].pid)
    assert alive(nodes[0].pid) and alive(nodes[2].pid)
    assert not platform.running()
    with pytest.raises(PlatformError, match=r"^Kafka node 2 \(pid \d+\) is not running: nothing was signalled$"):
        platform.kill_node(2)
    with pytest.raises(PlatformError, match=r"^no Kafka node 4: the platform has node\(s\) 1 to 3$"):
        platform.kill_node(4)
    with pytest.raises(PlatformError, match=r"^Kafka node 1 \(pid \d+\) is still running$"):
        platform.restart_node(1)
    asked: list[int] = []
    monkeypatch.setattr("k2infra.local.platform._answers", lambda s, node_id: asked.append(node_id) or True)
    restarted = platform.restart_node(2, timeout=30)
    new = restarted.kafka[1]
    try:
        assert new.pid != nodes[1].pid and new.cmdline == nodes[1].cmdline
        wait_for(new.running, "the restarted node to run its command line")  # it may still be exec'ing
        assert asked == [2]
        assert platform.state() == restarted and platform.running()
    finally:
        stop_processes([new], grace_seconds=5)


def test_no_node_to_kill_without_a_platform(tmp_path: Path):
    with pytest.raises(PlatformError, match=re.escape("no local platform recorded in")):
        LocalPlatform(tmp_path / "nothing").kill_node(1)


# --- the k2 command ------------------------------------------------------------------------------


def test_k2_local_status_shows_where_the_ca_and_credentials_are_never_the_password(
        tmp_path: Path, children: Children, files: SecurityFiles, secure: SecureSettings):
    from typer.testing import CliRunner

    from k2infra.cli import app

    platform = LocalPlatform(tmp_path / "platform", echo=lambda _: None)
    formatted(platform, True)
    state = secure_state(tmp_path, files, [children.record("kafka")], [children.record("registry")])
    platform.state_file.write_text(json.dumps(state.to_json()))
    runner = CliRunner()
    status = runner.invoke(app, ["local", "status", "--dir", str(platform.base_dir)])
    assert status.exit_code == 0, status.output
    assert status.output.splitlines()[-3:] == [
        "security:            SASL_SSL, SCRAM-SHA-512, ACLs enforced; super user admin",
        f"CA certificate:      {files.ca_cert}",
        f"admin credentials:   {files.credentials} (mode 0600)"]
    up = runner.invoke(app, ["local", "up", "--secure", "--dir", str(platform.base_dir)])  # already running
    assert up.exit_code == 0, up.output
    assert f"CA certificate:      {files.ca_cert}" in up.output
    assert secure.credentials.password not in status.output + up.output
    assert "--secure" in runner.invoke(app, ["local", "up", "--help"]).output
