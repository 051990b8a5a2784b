"""prod-replication-factor, prod-min-insync-replicas, prod-kafka-transport-security, prod-no-plaintext-secrets,
prod-no-passphrase-secrets: each applies where topics.yaml protects the stack's environment, whatever its name (and
where it cannot tell: an environment it does not declare, a file it cannot read), and nowhere else."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.conftest import (
    KMS_PROVIDER,
    PROD_CLUSTER,
    SHIPPED_TOPICS,
    exchange_topics,
    kafka_provider,
    of,
    schema_subjects,
    stack_resource,
    subject,
    topic,
)
from tests.policy.harness import Analyzer, Violation

PROD_CONFIG = {"compression.type": "lz4", "retention.ms": "604800000", "cleanup.policy": "delete",
               "min.insync.replicas": "2"}


def prod_topic(analyzer: Analyzer, replication: int = 3, config: dict[str, str] | None = None,
               environment: str = "prod", stack: str = "prod") -> list[Violation]:
    group = exchange_topics("equities", "asx", environment, stack)
    return analyzer.analyze(group) + analyzer.analyze(
        topic("market.equities.trades.asx", 30, replication, config or PROD_CONFIG, parent=group, stack=stack))


def test_prod_topics_with_three_replicas_pass(analyzer: Analyzer):
    found = prod_topic(analyzer, 3)
    assert of("prod-replication-factor", found) == of("prod-min-insync-replicas", found) == []


@pytest.mark.parametrize("replication", [1, 2])
def test_prod_topics_with_fewer_replicas_fail(analyzer: Analyzer, replication: int):
    [found] = of("prod-replication-factor", prod_topic(analyzer, replication))
    assert found.level == "mandatory"
    assert f"market.equities.trades.asx: replication factor {replication} in prod is below 3" in found.message
    assert "Fix: set environments.prod.replication_factor: 3 (or more) in topics.yaml" in found.message


@pytest.mark.parametrize(("value", "shown"), [("1", "1"), (None, "unset (the broker's default, 1)")])
def test_prod_topics_with_fewer_in_sync_replicas_fail(analyzer: Analyzer, value: str | None, shown: str):
    config = {k: v for k, v in PROD_CONFIG.items() if k != "min.insync.replicas"}
    if value:
        config["min.insync.replicas"] = value
    [found] = of("prod-min-insync-replicas", prod_topic(analyzer, 3, config))
    assert found.level == "mandatory"
    assert f"market.equities.trades.asx: min.insync.replicas is {shown} in prod, below 2" in found.message
    assert "Fix: set environments.prod.min_insync_replicas: 2" in found.message


def test_dev_topics_may_have_one_replica(analyzer: Analyzer):
    found = prod_topic(analyzer, 1, {**PROD_CONFIG, "min.insync.replicas": "1"}, environment="dev", stack="dev")
    assert of("prod-replication-factor", found) == of("prod-min-insync-replicas", found) == []


def test_the_environment_comes_from_the_component_not_the_stack_name(analyzer: Analyzer):
    # k2:environment may differ from the stack's name; the component says which one the program used.
    assert of("prod-replication-factor", prod_topic(analyzer, 1, environment="prod", stack="eu-live"))
    assert of("prod-replication-factor", prod_topic(Analyzer(analyzer.deployment.project_dir), 1,
                                                    environment="dev", stack="prod")) == []


def test_without_a_k2_component_the_stack_name_is_the_environment(analyzer: Analyzer):
    assert of("prod-replication-factor", analyzer.analyze(topic("market.equities.trades.asx", 30, 1, stack="prod")))
    other = Analyzer(analyzer.deployment.project_dir)
    assert of("prod-replication-factor", other.analyze(topic("market.equities.trades.asx", 30, 1, stack="dev"))) == []


def prod_stack(provider, *extra, outputs=None, environment: str = "prod", stack: str = "prod"):
    return [stack_resource(stack, outputs), provider, schema_subjects(environment, stack), *extra]


@pytest.mark.parametrize("provider", [
    kafka_provider("prod", tls=True, servers=PROD_CLUSTER),
    kafka_provider("prod", tls=True, sasl_username="k2-platform", sasl_password="s3cret-pw", servers=PROD_CLUSTER),
])
def test_prod_kafka_with_tls_passes_with_or_without_sasl(analyzer: Analyzer, provider):
    assert of("prod-kafka-transport-security", analyzer.analyze_all(prod_stack(provider))) == []


@pytest.mark.parametrize("mechanism", ["plain", "scram-sha256", "scram-sha512"])
def test_prod_sasl_without_tls_fails_because_the_password_crosses_in_clear(analyzer: Analyzer, mechanism):
    provider = kafka_provider("prod", sasl_username="k2-platform", sasl_password="s3cret-pw", servers=PROD_CLUSTER)
    provider.props["saslMechanism"] = mechanism
    [found] = of("prod-kafka-transport-security", analyzer.analyze_all(prod_stack(provider)))
    assert found.level == "mandatory" and found.urn == provider.urn
    assert (f"authenticates to kafka-1.prod.k2.internal:9093, kafka-2.prod.k2.internal:9093 in prod with SASL "
            f"{mechanism.upper()} without TLS: the password crosses the network in clear") in found.message
    assert "Fix: pulumi config set k2:tls true --stack prod" in found.message


@pytest.mark.parametrize("provider", [
    kafka_provider("prod", servers=PROD_CLUSTER),
    # A mechanism alone is not SASL: the program always names one; credentials switch it on.
    kafka_provider("prod", sasl_username="k2-platform", servers=PROD_CLUSTER),
])
def test_prod_kafka_in_plain_text_fails(analyzer: Analyzer, provider):
    [found] = of("prod-kafka-transport-security", analyzer.analyze_all(prod_stack(provider)))
    assert found.level == "mandatory"
    assert found.urn == provider.urn
    assert ("kafka provider kafka: connects to kafka-1.prod.k2.internal:9093, kafka-2.prod.k2.internal:9093 in "
            "prod without TLS or SASL") in found.message
    assert "Fix: pulumi config set k2:tls true --stack prod" in found.message


def test_dev_kafka_may_be_plain_text(analyzer: Analyzer):
    resources = prod_stack(kafka_provider("dev"), environment="dev", stack="dev")
    assert of("prod-kafka-transport-security", analyzer.analyze_all(resources)) == []


def secrets(analyzer: Analyzer, *extra, outputs=None, stack: str = "prod", environment: str = "prod"):
    provider = kafka_provider(stack, tls=True, sasl_username="k2-platform", sasl_password="kafka-pw-123",
                              servers=PROD_CLUSTER)
    resources = prod_stack(provider, *extra, outputs=outputs, environment=environment, stack=stack)
    return of("prod-no-plaintext-secrets", analyzer.analyze_all(resources))


def test_the_shipped_prod_config_and_outputs_pass(analyzer: Analyzer):
    outputs = {"environment": "prod", "bootstrap_servers": ",".join(PROD_CLUSTER), "security_protocol": "SASL_SSL",
               "sasl_mechanism": "scram-sha512", "topics": [{"name": "market.equities.trades.asx"}]}
    basic_auth = subject("market.equities.trades-value", basic_auth="k2-platform:registry-pw", stack="prod")
    assert secrets(analyzer, basic_auth, outputs=outputs) == []


def set_config(project: Path, file: str, lines: str) -> None:
    path = project / file
    path.write_text(path.read_text() + lines)


@pytest.mark.parametrize(("key", "line"), [
    ("k2:saslPassword", "  k2:saslPassword: hunter2-plain\n"),
    ("k2:schemaRegistryPassword", "  k2:schemaRegistryPassword: 'registry'\n"),
    ("k2:caCert", "  k2:caCert: '-----BEGIN CERTIFICATE-----'\n"),
])
def test_credentials_in_plain_text_in_the_stack_config_fail(analyzer: Analyzer, project: Path, key, line):
    set_config(project, "Pulumi.prod.yaml", line)
    [found] = secrets(analyzer)
    assert found.level == "mandatory"
    assert f"stack config {key}: stored in plain text in Pulumi.prod.yaml" in found.message
    assert f"Fix: pulumi config set --secret {key} <value> --stack prod" in found.message


def test_encrypted_credentials_in_the_stack_config_pass(analyzer: Analyzer, project: Path):
    set_config(project, "Pulumi.prod.yaml", "  k2:saslPassword:\n    secure: v1:abc:def\n")
    assert secrets(analyzer) == []


def test_credentials_in_the_project_config_fail(analyzer: Analyzer, project: Path):
    set_config(project, "Pulumi.yaml", "  k2:schemaRegistryPassword:\n    value: not-a-secret\n")
    [found] = secrets(analyzer)
    assert "stack config k2:schemaRegistryPassword: stored in plain text in Pulumi.yaml" in found.message


def test_dev_config_may_hold_plain_text(analyzer: Analyzer, project: Path):
    set_config(project, "Pulumi.dev.yaml", "  k2:saslPassword: dev-only-pw\n")
    assert secrets(analyzer, stack="dev", environment="dev") == []


@pytest.mark.parametrize(("outputs", "name"), [
    ({"sasl_password": "anything"}, "sasl_password"),
    ({"schema_registry_url": "https://k2:registry-pw@registry.prod/apis/ccompat/v7"}, "schema_registry_url"),
    ({"kafka": {"bootstrap": "kafka-1:9093", "auth": "k2-platform/kafka-pw-123"}}, "kafka.auth"),
    ({"apps": [{"name": "writer", "basic_auth": "u:p"}]}, "apps[0].basic_auth"),
])
def test_credentials_in_stack_outputs_fail(analyzer: Analyzer, outputs, name):
    [found] = secrets(analyzer, outputs=outputs)
    assert found.level == "mandatory"
    assert found.urn == stack_resource("prod").urn
    assert f"stack output {name}: carries a credential" in found.message
    assert "Fix: export only endpoints and names" in found.message


def test_credentials_not_declared_secret_on_a_resource_fail(analyzer: Analyzer):
    leaky = subject("market.equities.trades-value", basic_auth="k2-platform:registry-pw", secret_outputs=(),
                    stack="prod")
    [found] = secrets(analyzer, leaky)
    assert found.urn == leaky.urn
    assert ("market.equities.trades-value: property basic_auth holds a credential but is not listed in "
            "additional_secret_outputs") in found.message
    assert "Fix: pass it as pulumi.Output.secret(...) and add additional_secret_outputs=['basic_auth']" \
        in found.message


# --- every protected environment, whatever its name ----------------------------------------------------------

PROD_EU = SHIPPED_TOPICS.replace("  prod:\n", "  prod-eu:\n    replication_factor: 3\n    min_insync_replicas: 2\n"
                                 "    protected: true\n  prod:\n")


def test_a_protected_environment_under_another_name_gets_the_production_rules(analyzer_for, project: Path):
    analyzer = analyzer_for(PROD_EU)
    [found] = of("prod-replication-factor", prod_topic(analyzer, 1, environment="prod-eu", stack="prod-eu"))
    assert "market.equities.trades.asx: replication factor 1 in prod-eu is below 3" in found.message
    assert "Fix: set environments.prod-eu.replication_factor: 3" in found.message
    provider = kafka_provider("prod-eu", servers=PROD_CLUSTER)
    resources = prod_stack(provider, environment="prod-eu", stack="prod-eu")
    [plain] = of("prod-kafka-transport-security", analyzer.analyze_all(resources))
    assert "in prod-eu without TLS or SASL" in plain.message
    (project / "Pulumi.prod-eu.yaml").write_text("config:\n  k2:environment: prod-eu\n  k2:saslPassword: in-clear\n")
    [leak] = secrets(analyzer, stack="prod-eu", environment="prod-eu")
    assert "stack config k2:saslPassword: stored in plain text in Pulumi.prod-eu.yaml" in leak.message


def test_an_environment_named_prod_that_topics_yaml_does_not_protect_is_not_held_to_them(analyzer_for):
    analyzer = analyzer_for(SHIPPED_TOPICS.replace("    protected: true\n", ""))
    assert of("prod-replication-factor", prod_topic(analyzer, 1)) == []


@pytest.mark.parametrize("environment", ["prod-eu", "staging"])
def test_an_environment_topics_yaml_does_not_declare_counts_as_protected(analyzer: Analyzer, environment: str):
    # The program refuses to deploy it ("no environment 'prod-eu'"); the pack does not wave it through meanwhile.
    [found] = of("prod-replication-factor", prod_topic(analyzer, 1, environment=environment, stack=environment))
    assert f"replication factor 1 in {environment} is below 3" in found.message


def test_when_topics_yaml_cannot_be_read_every_environment_counts_as_protected(analyzer_for):
    analyzer = analyzer_for("asset_classes: [unclosed\n")
    assert of("prod-replication-factor", prod_topic(analyzer, 1, environment="dev", stack="dev"))


# --- prod-no-passphrase-secrets --------------------------------------------------------------------------------

def passphrase(analyzer: Analyzer, stack: str = "prod", environment: str = "prod") -> list[Violation]:
    provider = kafka_provider(stack, tls=True, servers=PROD_CLUSTER)
    return of("prod-no-passphrase-secrets", analyzer.analyze_all(prod_stack(provider, environment=environment,
                                                                            stack=stack)))


@pytest.mark.parametrize(("stack_file", "reason"), [
    ("encryptionsalt: v1:fRmx3wfZcF0=:v1:FW9OxvTY1kA/Fn4F:uIDxrcIWY6opETEyYvL+1LnWjzhv/Q==\n",
     "Pulumi.prod.yaml holds a passphrase's encryptionsalt"),
    ("secretsprovider: passphrase\n", "Pulumi.prod.yaml names secretsprovider: passphrase"),
    ("", "Pulumi.prod.yaml names no secretsprovider, and a file or S3 backend then uses a passphrase"),
])
def test_a_protected_stack_under_a_passphrase_fails(analyzer: Analyzer, project: Path, stack_file: str, reason: str):
    # `export PULUMI_CONFIG_PASSPHRASE=k2-dev-only` then `pulumi stack init prod` writes the first of these.
    set_config(project, "Pulumi.prod.yaml", stack_file)
    [found] = passphrase(analyzer)
    assert found.level == "mandatory" and found.urn == ""
    assert found.message.endswith(
        f"stack prod: environment prod is protected, yet stack prod's secrets are encrypted with a passphrase "
        f"({reason}): whoever has or guesses it decrypts them, and the dev stacks' passphrase is public. "
        "Fix: pulumi stack change-secrets-provider --stack prod 'awskms://alias/<team-key>?region=<region>' "
        "(a new stack: pulumi stack init prod --secrets-provider 'awskms://alias/<team-key>?region=<region>'), "
        "then commit Pulumi.prod.yaml (docs/team-operations.md).")


def test_a_protected_stack_under_a_kms_key_passes(analyzer: Analyzer, project: Path):
    set_config(project, "Pulumi.prod.yaml", f"secretsprovider: {KMS_PROVIDER}\nencryptedkey: AQICAHh0ZXN0\n")
    assert passphrase(analyzer) == []


def test_the_dev_stack_keeps_its_passphrase(analyzer: Analyzer):
    assert "encryptionsalt:" in (analyzer.deployment.project_dir / "Pulumi.dev.yaml").read_text()
    assert passphrase(analyzer, stack="dev", environment="dev") == []


def test_a_protected_environment_under_another_name_refuses_a_passphrase(analyzer_for, project: Path):
    analyzer = analyzer_for(PROD_EU)
    (project / "Pulumi.prod-eu.yaml").write_text("config:\n  k2:environment: prod-eu\nencryptionsalt: v1:abc\n")
    [found] = passphrase(analyzer, stack="prod-eu", environment="prod-eu")
    assert "environment prod-eu is protected, yet stack prod-eu's secrets are encrypted with a passphrase " \
           "(Pulumi.prod-eu.yaml holds a passphrase's encryptionsalt)" in found.message


def test_an_unreadable_stack_file_is_named_not_a_crash(analyzer: Analyzer, project: Path):
    (project / "Pulumi.prod.yaml").write_bytes(b"config:\n  k2:tls: \xff\n")
    found = of("prod-no-passphrase-secrets", analyzer.analyze_all(
        prod_stack(kafka_provider("prod", tls=True, servers=PROD_CLUSTER))))
    [message] = [v.message for v in found]
    assert "stack prod: its config files cannot be read: " in message
    assert "Pulumi.prod.yaml:2: byte 0xff at column 11 is not UTF-8: save the file as UTF-8" in message


# --- the credential keys -------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["k2:clientKeyPassphrase", "k2:adminPwd", "k2:saslJaas", "kafka:sasl.jaas.config",
                                 "k2:ssl.key.password", "k2:keystore", "k2:apiKey", "k2:api_key", "k2:auth",
                                 "k2:privateKey", "k2:clientSecret", "k2:authToken", "k2:credential"])
def test_every_kind_of_credential_in_plain_text_fails(analyzer: Analyzer, project: Path, key: str):
    set_config(project, "Pulumi.prod.yaml", f"  {key}: in-clear-value\n")
    [found] = secrets(analyzer)
    assert f"stack config {key}: stored in plain text in Pulumi.prod.yaml" in found.message


def test_structured_config_is_checked_by_its_whole_key(analyzer: Analyzer, project: Path):
    set_config(project, "Pulumi.prod.yaml", "  k2:kafka:\n    sasl.jaas.config: PlainLoginModule required ...\n"
                                            "    sasl.mechanism: PLAIN\n")
    [found] = secrets(analyzer)
    assert "stack config k2:kafka.sasl.jaas.config: stored in plain text" in found.message


@pytest.mark.parametrize("key", ["k2:authorizer", "k2:securityProtocol", "k2:author"])
def test_keys_that_merely_look_like_credentials_pass(analyzer: Analyzer, project: Path, key: str):
    set_config(project, "Pulumi.prod.yaml", f"  {key}: plain-value\n")
    assert secrets(analyzer) == []


@pytest.mark.parametrize(("outputs", "name"), [
    ({"passphrase": "correct horse"}, "passphrase"),
    ({"kafka": {"sasl.jaas.config": "PlainLoginModule required"}}, "kafka.sasl.jaas.config"),
    ({"admin_pwd": "hunter22"}, "admin_pwd"),
])
def test_new_credential_keys_in_stack_outputs_fail(analyzer: Analyzer, outputs, name):
    [found] = secrets(analyzer, outputs=outputs)
    assert f"stack output {name}: carries a credential" in found.message
