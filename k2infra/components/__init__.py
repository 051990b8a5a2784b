"""Pulumi ComponentResources that declare the K2 topology's resources from the pure model."""

from k2infra.components.guard import check_changes
from k2infra.components.platform import DockerPlatform, kafka_provider
from k2infra.components.subjects import SchemaSubjects
from k2infra.components.topics import ExchangeTopics

__all__ = ["DockerPlatform", "ExchangeTopics", "SchemaSubjects", "check_changes", "kafka_provider"]
