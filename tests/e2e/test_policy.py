"""`pulumi preview --policy-pack policy` with the real engine and our Python language host: the shipped
dev stack passes; a stack that breaks the design fails the preview, and the output names each
resource and its fix. Previews only: nothing is created, so each test takes a few seconds."""

from __future__ import annotations

from tests.conftest import ROOT

POLICY_PACK = str(ROOT / "policy")
SHIPPED = (ROOT / "topics.yaml").read_text()


def preview(stack) -> tuple[int, str]:
    done = stack.run("preview", "--policy-pack", POLICY_PACK, check=False)
    return done.returncode, done.stdout + done.stderr


def test_the_shipped_dev_stack_passes(new_stack):
    code, output = preview(new_stack("policy-dev"))
    assert code == 0, output
    assert "k2-market-data@v0.1.0" in output
    assert "[mandatory]" not in output and "[advisory]" not in output


def test_prod_settings_with_one_replica_fail_the_preview(new_stack):
    # The session's broker runs no authorizer: prod's ACLs are left out (the program would refuse them first).
    one_replica = SHIPPED.replace("replication_factor: 3", "replication_factor: 1") \
                         .replace("min_insync_replicas: 2", "min_insync_replicas: 1") \
                         .replace("    access_control: true", "    access_control: false")
    stack = new_stack("policy-prod", one_replica)
    stack.run("config", "set", "k2:environment", "prod")
    stack.run("config", "set", "k2:schemaRegistryUsername", "k2-platform")

    code, output = preview(stack)
    print(output)
    assert code != 0
    assert "[mandatory]  prod-replication-factor  (kafka:index:Topic: market.crypto.trades.binance)" in output
    assert ("market.crypto.trades.binance: replication factor 1 in prod is below 3: one broker lost loses its "
            "data. Fix: set environments.prod.replication_factor: 3 (or more) in topics.yaml.") in output
    assert ("market.equities.reference_data.asx: min.insync.replicas is 1 in prod, below 2: an acknowledged "
            "write may live on one broker only. Fix: set environments.prod.min_insync_replicas: 2") in output
    assert "[mandatory]  prod-kafka-transport-security  (pulumi:providers:kafka: kafka)" in output
    assert "without TLS or SASL" in output and "Fix: pulumi config set k2:tls true --stack policy-prod" in output
    assert output.count("[mandatory]  prod-replication-factor") == 6
    assert "error: preview failed" in output

    # A password set without --secret is refused by the program itself, at its line, before any resource (the
    # policy pack's own check, prod-plaintext-secrets, is tested in tests/policy).
    stack.run("config", "set", "k2:schemaRegistryPassword", "written-in-clear")
    code, output = preview(stack)
    assert code != 0
    lines = (stack.project / "Pulumi.policy-prod.yaml").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "k2:schemaRegistryPassword:" in text)
    assert (f"Pulumi.policy-prod.yaml:{line}: k2:schemaRegistryPassword: a credential written in plain text; store "
            "it encrypted with") in output, output


def test_partitions_above_the_guidelines_fail_the_preview(new_stack):
    stack = new_stack("policy-wide", SHIPPED.replace("partitions: 40", "partitions: 400"))
    code, output = preview(stack)
    print(output)
    assert code != 0
    assert ("market.crypto.quotes.binance: 400 partitions is outside the design's guideline range 10-200. "
            "Fix: set asset_classes.crypto.exchanges.binance.partitions (or its overrides.quotes.partitions) "
            "in topics.yaml to a count from 10 to 200") in output
    assert output.count("[mandatory]  partitions-within-guidelines") == 2  # trades and quotes; not reference data
