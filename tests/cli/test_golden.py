"""What people read, as golden files (kafka-gitops style): `k2 plan`, `k2 validate` and `k2 migrate plan`, the
refusals included, each run through the real command with only the cluster faked. A change to what they print is
reviewed as a diff of tests/cli/golden; regenerate with K2_UPDATE_GOLDEN=1 (the test then fails: read the diff).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import k2infra.migration
from k2infra.cli import app
from k2infra.migration.dry_run import Check, DryRun, LegacyStatus, Refusals, Tally
from k2infra.model.plan import ObservedTopic
from k2infra.observed import cluster, measure
from k2infra.observed.measure import RetentionCut
from tests.conftest import ROOT, make_project
from tests.golden import check_golden_text
from tests.model.plans import RETENTION_CUT, SHIPPED, observed_from, topology_from, without_asx_text

runner = CliRunner()


def transcript(args: list[str], result: Result) -> str:
    """The command as typed, its exit code, and what it printed on each stream."""
    return (f"$ k2 {' '.join(args)}\nexit {result.exit_code}\n--- stdout\n{result.stdout}--- stderr\n"
            f"{result.stderr}")


def k2(project: Path, args: list[str], monkeypatch: pytest.MonkeyPatch) -> str:
    """`k2 ARGS` run in `project`, so that paths print as a user's would (topics.yaml:LINE)."""
    monkeypatch.chdir(project)
    return transcript(args, runner.invoke(app, args))


# --- k2 plan: topics.yaml against a cluster that holds the shipped topology (or nothing) -----------------------

def shipped_cluster(tmp_path: Path, change: Callable[[ObservedTopic], ObservedTopic] = lambda t: t,
                    ) -> dict[str, ObservedTopic]:
    return observed_from(topology_from(tmp_path / "shipped"), change)


PLANS: dict[str, tuple[str, Callable[[Path], dict[str, ObservedTopic]]]] = {
    "no-change": (SHIPPED, shipped_cluster),
    "fresh-cluster": (SHIPPED, lambda _tmp: {}),
    "partitions-increase": (SHIPPED.replace("partitions: 30", "partitions: 36"), shipped_cluster),
    "partitions-decrease": (SHIPPED.replace("partitions: 40", "partitions: 20"), shipped_cluster),
    "config-change": (SHIPPED.replace('"604800000"', '"1209600000"', 1), shipped_cluster),
    "replication-change": (SHIPPED, lambda tmp: shipped_cluster(
        tmp, lambda t: ObservedTopic(t.name, t.partitions, 3, t.config))),
    "exchange-removed": (without_asx_text(), shipped_cluster),
    "retention-cut": (RETENTION_CUT, shipped_cluster),
    "capped-partitions": (SHIPPED.replace("  dev:\n", "  dev:\n    max_partitions: 8\n", 1), lambda _tmp: {}),
    # Topics outside market.* are seen by name only: one collides with a topic to create in Kafka's metric names.
    "collides-with-a-cluster-topic": (SHIPPED, lambda _tmp: {
        "market_crypto_trades_binance": ObservedTopic("market_crypto_trades_binance", 3, 1, {}),
        "__consumer_offsets": ObservedTopic("__consumer_offsets", 50, 1, {})}),
}
STACK_PLANS = {"capped-partitions"}  # planned for the dev stack (the others: no environment's settings)


@pytest.mark.parametrize("name", sorted(PLANS))
def test_k2_plan_golden(name, tmp_path, monkeypatch):
    text, cluster_of = PLANS[name]
    observed = cluster_of(tmp_path)
    market = {n: t for n, t in observed.items() if n.startswith("market.")}
    monkeypatch.setattr(cluster, "observe_cluster",
                        lambda conf, *args, **kwargs: cluster.ObservedCluster(market, frozenset(observed)))
    # What a retention cut would delete is measured on the live cluster (tests/e2e): a fixed measurement here.
    monkeypatch.setattr(measure, "retention_cut",
                        lambda conf, topic, partitions, new, **kwargs: RetentionCut(topic, 300, 500, 30_600))
    project = make_project(tmp_path / "project", text)
    stack = ["--stack", "dev"] if name in STACK_PLANS else []
    check_golden_text(f"plan/{name}", k2(project, ["plan", "--config", "topics.yaml", *stack], monkeypatch))


def test_k2_plan_warns_of_a_cluster_that_fences_dead_brokers_slowly(tmp_path, monkeypatch):
    """A cluster on Kafka's failure-detection defaults: the plan is unchanged and still passes, with one warning
    naming the stall and the settings to change (k2infra.contracts.failover)."""
    from k2infra.contracts.failover import KAFKA_DEFAULTS

    market = shipped_cluster(tmp_path)
    monkeypatch.setattr(cluster, "observe_cluster", lambda conf, *args, **kwargs: cluster.ObservedCluster(
        market, frozenset(market), dict(KAFKA_DEFAULTS) if kwargs.get("brokers") else {}))
    project = make_project(tmp_path / "project", SHIPPED)
    check_golden_text("plan/slow-failover", k2(project, ["plan", "--config", "topics.yaml"], monkeypatch))


# --- k2 validate: OK for every environment, for one stack, and a file with problems ----------------------------

BROKEN = (SHIPPED.replace('compression.type: "lz4"', 'compression.typ: "lz4"', 1)
          .replace('retention.ms: "604800000"   # 7 days', "retention.ms: a week", 1)
          .replace('cleanup.policy: "compact"', 'cleanup.policy: "compacted"'))


# The example: another team's topic and Kafka's own, listed as legacy topics and for decommissioning.
NOT_K2S = (SHIPPED.replace("  market.trades.raw:\n", "  __consumer_offsets:\n", 1)
           .replace("  market.quotes.raw:\n", "  orders.v1:\n", 1)
           .replace("    min_insync_replicas: 1\n  prod:",
                    "    min_insync_replicas: 1\n    decommission: [__consumer_offsets, orders.v1]\n  prod:"))


# The blanket acknowledgement, and settings an environment would replace or Kafka would refuse.
BLANKET = SHIPPED.replace("defaults:", 'acknowledged_data_loss:\n  - {topics: ["*"], change: retention.ms, to: 1ms, '
                          'reason: "."}\n\ndefaults:', 1)
OUT_OF_RANGE = SHIPPED.replace('retention.ms: "604800000"   # 7 days',
                               'retention.ms: "99999999999999w"\n      segment.bytes: 4294967296\n'
                               "      min.insync.replicas: 3", 1)


# Users as code: a password written in topics.yaml (refused with the file's shape, before anything is derived); a
# user declared twice and a decommissioned user that is still an app's.
APPS = (ROOT / "topics.yaml").read_text()
PASSWORD = APPS.replace('    principal: "User:asx-feed"\n', '    principal: "User:asx-feed"\n    password: "x"\n', 1)
USERS = (APPS.replace('principal: "User:binance-feed"', 'principal: "User:asx-feed"', 1)
         .replace("    min_insync_replicas: 1\n  prod:", "    min_insync_replicas: 1\n"
                  "    decommission: [User:iceberg-writer]\n  prod:", 1))


@pytest.mark.parametrize(("name", "text", "args"), [
    ("ok", None, ["validate", "--config", "topics.yaml"]),
    ("password", PASSWORD, ["validate", "--config", "topics.yaml"]),
    ("users", USERS, ["validate", "--config", "topics.yaml"]),
    ("capped-partitions", SHIPPED.replace("  dev:\n", "  dev:\n    max_partitions: 8\n", 1),
     ["validate", "--config", "topics.yaml"]),
    ("blanket-acknowledgement", BLANKET, ["validate", "--config", "topics.yaml"]),
    ("out-of-range", OUT_OF_RANGE, ["validate", "--config", "topics.yaml", "--stack", "prod"]),
    ("ok-one-stack", None, ["validate", "--config", "topics.yaml", "--stack", "prod"]),
    ("problems", BROKEN, ["validate", "--config", "topics.yaml"]),
    ("no-partitions", SHIPPED.replace("partitions: 40", "partitions: 0"), ["validate", "--config", "topics.yaml"]),
    ("no-such-stack-environment", None, ["validate", "--config", "topics.yaml", "--stack", "staging"]),
    ("not-k2s", NOT_K2S, ["validate", "--config", "topics.yaml"]),
])
def test_k2_validate_golden(name, text, args, tmp_path, monkeypatch):
    project = make_project(tmp_path / "project", text)
    check_golden_text(f"validate/{name}", k2(project, args, monkeypatch))


# A stack file with a password in plain text, and a protected environment's registry without https: each refused at
# its line, before the command reads anything else.
PROD_STACK = (ROOT / "Pulumi.prod.yaml").read_text()
STACK_FILES = {
    "plain-password": PROD_STACK.replace("  k2:saslUsername: k2-platform\n",
                                         "  k2:saslUsername: k2-platform\n  k2:saslPassword: hunter2\n", 1),
    "plain-registry": PROD_STACK.replace("https://schema-registry.prod", "http://schema-registry.prod", 1),
}


@pytest.mark.parametrize("name", sorted(STACK_FILES))
def test_k2_validate_refuses_a_stack_file_golden(name, tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    assert STACK_FILES[name] != PROD_STACK
    (project / "Pulumi.prod.yaml").write_text(STACK_FILES[name])
    check_golden_text(f"validate/stack-{name}", k2(project, ["validate", "--stack", "prod"], monkeypatch))


# --- k2 migrate plan: the dry run's report, every record routed, refused, or sent to a dead-letter topic --------

def dry_run_report(ctx, sample, dead_letter, refused: bool) -> DryRun:
    report = DryRun(ctx.stack, ctx.topology.environment, ctx.servers, ctx.group, sample, dead_letter)
    report.legacy = [LegacyStatus("market.trades.raw", 6, 12_000, 3_000, read=12_000),
                     LegacyStatus("market.quotes.raw", 6, 48_250, 0, read=48_250)]
    report.targets = {"market.equities.trades.asx": Tally(7_000, 1_603_584), "market.crypto.trades.binance":
                      Tally(5_000, 960_000), "market.equities.quotes.asx": Tally(48_000, 5_529_600)}
    if refused:
        report.targets["market.equities.quotes.asx"] = Tally(47_990, 5_528_448)
        report.refused = {"unknown_exchange": Refusals(8, ["market.quotes.raw[2]@1041: exchange 'lse' is not "
                                                          "declared under asset class 'equities'"]),
                          "undecodable": Refusals(2, ["market.quotes.raw[5]@77: 13 bytes, not Avro"])}
    report.create_topics = ["market.crypto.trades.binance"]
    report.register_subjects = ["market.crypto.trades-value"]
    report.decommission = ["market.quotes.raw", "market.trades.raw"]
    report.checklist = [Check(True, "no consumer group reads the legacy topics"),
                        Check(False, "no producer writes them: market.trades.raw was written 12 s ago"),
                        Check(False, "every record copied: 60,250 record(s) not copied yet "
                                     f"(k2 migrate run --stack {ctx.stack})")]
    return report


@pytest.mark.parametrize(("name", "refused", "extra"), [
    ("routes-everything", False, []),
    ("refused", True, []),
    ("dead-letter", True, ["--dead-letter", "market.legacy.dead-letter"]),
    ("sample", False, ["--sample", "1000"]),
])
def test_k2_migrate_plan_golden(name, refused, extra, tmp_path, monkeypatch):
    monkeypatch.setattr(k2infra.migration, "dry_run", lambda ctx, sample, dead_letter: dry_run_report(
        ctx, sample, dead_letter, refused))
    project = make_project(tmp_path / "project")
    args = ["migrate", "plan", "--stack", "dev", "--config", "topics.yaml", *extra]
    check_golden_text(f"migrate-plan/{name}", k2(project, args, monkeypatch))


def test_k2_migrate_plan_refuses_a_stack_whose_environment_topics_yaml_lacks(tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    check_golden_text("migrate-plan/no-such-environment",
                      k2(project, ["migrate", "plan", "--stack", "staging", "--config", "topics.yaml"], monkeypatch))
