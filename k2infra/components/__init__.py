"""Everything that imports Pulumi: the stack's config, the safety checks run before any resource is
declared, the ComponentResources that declare resources from the pure model, and the exports.

The pure layers (k2infra.contracts, k2infra.model, k2infra.observe, k2infra.clients, the CLI) never
import from here.
"""

from k2infra.components.app_access import AppAccess
from k2infra.components.docker_platform import DockerPlatform
from k2infra.components.exchange_topics import ExchangeTopics, topic_records
from k2infra.components.exports import export_stack_outputs
from k2infra.components.guard import check_changes
from k2infra.components.kafka_provider import kafka_provider
from k2infra.components.schema_subjects import SchemaSubjects
from k2infra.components.sdk_tuning import tune_sdk
from k2infra.components.stack_config import StackConfig

__all__ = [
    "AppAccess",
    "DockerPlatform",
    "ExchangeTopics",
    "SchemaSubjects",
    "StackConfig",
    "check_changes",
    "export_stack_outputs",
    "kafka_provider",
    "topic_records",
    "tune_sdk",
]
