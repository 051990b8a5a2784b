"""Secrets stay secrets on the real engine: SASL and registry passwords come from Pulumi secret config,
work against a broker that checks them, and never appear in state, outputs or logs in plain text."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient

from k2infra.local.kafka import KafkaCluster
from k2infra.local.processes import free_ports
from tests.e2e.conftest import topics_on_cluster

KAFKA_PASSWORD = "kafka-pw-7f3a91"
REGISTRY_PASSWORD = "registry-pw-c0ffee"


def test_sasl_and_registry_passwords_are_used_and_never_shown(new_stack, tmp_path):
    broker, controller, sasl = free_ports(3)
    kafka = KafkaCluster.with_ports(tmp_path / "sasl-kafka", [broker], [controller], [sasl],
                                    sasl_users={"k2": KAFKA_PASSWORD})
    kafka.start()
    try:
        stack = new_stack("secrets")
        for key, value in {"k2:bootstrapServers": kafka.sasl_bootstrap_servers, "k2:saslMechanism": "plain",
                           "k2:saslUsername": "k2", "k2:schemaRegistryUsername": "k2"}.items():
            stack.run("config", "set", key, value)
        stack.run("config", "set", "--secret", "k2:saslPassword", KAFKA_PASSWORD)
        stack.run("config", "set", "--secret", "k2:schemaRegistryPassword", REGISTRY_PASSWORD)

        up = stack.up()
        admin = AdminClient({"bootstrap.servers": kafka.sasl_bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
                             "sasl.mechanism": "PLAIN", "sasl.username": "k2", "sasl.password": KAFKA_PASSWORD})
        assert len(topics_on_cluster(admin)) == 6  # the credentials really were used

        exported = stack.run("stack", "export").stdout
        shown = stack.run("stack", "export", "--show-secrets").stdout
        outputs = stack.run("stack", "output", "--json", "--show-secrets").stdout
        stack_file = (stack.project / "Pulumi.secrets.yaml").read_text()
        for password in (KAFKA_PASSWORD, REGISTRY_PASSWORD):
            assert password in shown  # stored, encrypted ...
            assert password not in exported  # ... never in plain text
            assert password not in up.stdout + up.stderr
            assert password not in outputs
            assert password not in stack_file
        assert '"security_protocol": "SASL_PLAINTEXT"' in outputs

        # A wrong password fails the update, naming the cluster, and changes nothing.
        stack.run("config", "set", "--secret", "k2:saslPassword", "wrong")
        stack.set_topology((stack.project / "topics.yaml").read_text().replace("partitions: 30", "partitions: 31"))
        failed = stack.up(check=False)
        assert failed.returncode != 0 and kafka.sasl_bootstrap_servers in failed.stdout + failed.stderr
        assert topics_on_cluster(admin)["market.equities.trades.asx"] == 30
        stack.run("config", "set", "--secret", "k2:saslPassword", KAFKA_PASSWORD)
        stack.run("destroy", "--yes")
    finally:
        kafka.stop()
