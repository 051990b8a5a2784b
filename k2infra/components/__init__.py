"""The ComponentResources the program declares from the pure model: each exchange's topics, the schema subjects,
each app's ACLs, docker mode's platform, and a region's MirrorMaker 2 connectors. Only these and k2infra.providers
declare resources.

The pure layers (k2infra.contracts, k2infra.model, k2infra.observed, k2infra.clients, the CLI) never import from
here; the import-linter contracts in pyproject.toml keep it so.
"""

from k2infra.components.app_access import AppAccess
from k2infra.components.app_user import AppUserAccount
from k2infra.components.docker_platform import DockerPlatform
from k2infra.components.exchange_topics import ExchangeTopics, topic_records
from k2infra.components.mirror_connectors import MirrorConnectors
from k2infra.components.schema_subjects import SchemaSubjects

__all__ = ["AppAccess", "AppUserAccount", "DockerPlatform", "ExchangeTopics", "MirrorConnectors", "SchemaSubjects",
           "topic_records"]
