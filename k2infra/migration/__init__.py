"""`k2 migrate`: from the legacy flat topics (market.trades.raw...) to the exchange topics, nothing lost, nothing
doubled. Pure (no Pulumi): the topology model for what to copy where, the app helpers' encoder, registry and
client settings, and confluent-kafka's transactional producer.

- transcode: one legacy record -> its exchange topic, key and value, or why it routes nowhere
- dry_run: `k2 migrate plan`, changing nothing
- copier: `k2 migrate run`, exactly once through Kafka transactions
- verify: `k2 migrate verify`, counts and per-key digests of both sides
- cutover: `k2 migrate cutover`, a consumer group's offsets from the legacy topics to the exchange topics and back
"""

from k2infra.migration.context import Context, MigrationError, migration_group, stack_outputs
from k2infra.migration.copier import Copier, RunResult
from k2infra.migration.cutover import Cutover, cutover
from k2infra.migration.dry_run import DryRun, dry_run
from k2infra.migration.transcode import Copy, Refusal, Transcoder
from k2infra.migration.verify import Verification, verify

__all__ = [
    "Context",
    "Copier",
    "Copy",
    "Cutover",
    "DryRun",
    "MigrationError",
    "Refusal",
    "RunResult",
    "Transcoder",
    "Verification",
    "cutover",
    "dry_run",
    "migration_group",
    "stack_outputs",
    "verify",
]
