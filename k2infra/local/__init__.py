"""A local K2 platform for development and end-to-end tests: real Kafka (KRaft) and a real registry."""

from k2infra.local.platform import LocalPlatform, PlatformState
from k2infra.local.processes import PlatformError, free_ports

__all__ = ["LocalPlatform", "PlatformError", "PlatformState", "free_ports"]
