"""Client settings from the design's "Producer/Consumer Best Practices", in librdkafka's names.

The design writes Java client settings; where librdkafka names a setting differently the
translation is noted. Connection settings come from the stack outputs; credentials, which the
outputs never hold, from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from k2infra.clients.credentials import SaslLogin, read_source
from k2infra.clients.errors import StackOutputsError
from k2infra.contracts.kafka_client import librdkafka_settings
from k2infra.contracts.outputs import StackOutputs

# Java's default partitioner for keyed records (murmur2); librdkafka's default (CRC32) places keys
# elsewhere, so Streams/Flink jobs and Python producers would disagree on a symbol's partition.
JAVA_COMPATIBLE_PARTITIONER = {"partitioner": "murmur2_random"}


@dataclass(frozen=True)
class ProducerProfile:
    name: str
    config: Mapping[str, Any] = field(default_factory=dict)


QUOTES = ProducerProfile("quotes", MappingProxyType({
    # Speed over durability: a lost quote is superseded by the next one for the symbol.
    "acks": "1",
    "compression.type": "lz4",
    "linger.ms": 0,
    "batch.size": 16384,
    "queue.buffering.max.kbytes": 32768,  # Java buffer.memory = 32 MiB
    "max.in.flight.requests.per.connection": 5,
    **JAVA_COMPATIBLE_PARTITIONER,
}))

TRADES = ProducerProfile("trades", MappingProxyType({
    # Reliability: every trade once, in order per symbol (sequence numbers are checked downstream).
    "acks": "all",
    "enable.idempotence": True,
    "compression.type": "lz4",
    "linger.ms": 1,
    # The design says 1 in flight; with idempotence that is not needed for order: the broker
    # checks per-partition sequence numbers of the last 5 batches and librdkafka re-sends in order
    # after an error, so 5 keeps order and duplicates out while not waiting a round trip per batch.
    # (5 is also the most librdkafka allows with idempotence.)
    "max.in.flight.requests.per.connection": 5,
    **JAVA_COMPATIBLE_PARTITIONER,
}))

# Reference data is compacted (latest record per symbol wins): order and no loss matter as for trades.
REFERENCE_DATA = ProducerProfile("reference_data", MappingProxyType(dict(TRADES.config)))

PRODUCER_PROFILES = {"quotes": QUOTES, "trades": TRADES, "reference_data": REFERENCE_DATA}

LOW_LATENCY_CONSUMER: Mapping[str, Any] = MappingProxyType({
    "fetch.min.bytes": 1,  # don't wait for a batch
    "fetch.wait.max.ms": 100,  # Java fetch.max.wait.ms
    "max.partition.fetch.bytes": 1048576,
    "enable.auto.commit": False,  # commit after the handler returned, never before
    "isolation.level": "read_committed",
    "enable.partition.eof": False,
})


def producer_profile(data_type: str) -> ProducerProfile:
    """The data type's profile; data types added to topics.yaml later get the durable one."""
    return PRODUCER_PROFILES.get(str(data_type), TRADES)


@dataclass(frozen=True)
class Credentials:
    """Secrets for a SASL/TLS cluster and an authenticated registry; from K2_* variables by default."""

    kafka_username: str | None = None
    kafka_password: str | None = None
    ca_location: str | None = None
    registry_username: str | None = None
    registry_password: str | None = None

    # The app's credential source (k2infra/clients/credentials.py), when the login came from it: the producer and
    # consumer helpers reread it when the brokers refuse the login (after `k2 users rotate`).
    kafka_source: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if env is None else env
        found = cls(env.get("K2_KAFKA_USERNAME"), env.get("K2_KAFKA_PASSWORD"), env.get("K2_KAFKA_CA_LOCATION"),
                    env.get("K2_SCHEMA_REGISTRY_USERNAME"), env.get("K2_SCHEMA_REGISTRY_PASSWORD"))
        source = env.get("K2_KAFKA_CREDENTIAL_SOURCE")
        return found._with_source(source) if source and not found.kafka_password else found

    @classmethod
    def from_source(cls, source: str, env: Mapping[str, str] | None = None) -> Credentials:
        """The Kafka login from the app's credential source (a file's path, secretsmanager:<name> or a secret's
        ARN); K2_KAFKA_USERNAME/K2_KAFKA_PASSWORD, when set, override it (and the source is then not followed)."""
        env = os.environ if env is None else env
        return cls.from_env({**env, "K2_KAFKA_CREDENTIAL_SOURCE": source})

    def _with_source(self, source: str) -> Credentials:
        login = read_source(source)
        return replace(self, kafka_username=self.kafka_username or login.username, kafka_password=login.password,
                       kafka_source=source)

    def login(self) -> SaslLogin | None:
        if not (self.kafka_username and self.kafka_password):
            return None
        return SaslLogin(self.kafka_username, self.kafka_password)

    def __repr__(self) -> str:  # the passwords never reach a log or a traceback
        return (f"Credentials(kafka_username={self.kafka_username!r}, ca_location={self.ca_location!r}, "
                f"registry_username={self.registry_username!r}, kafka_source={self.kafka_source!r})")


def kafka_config(outputs: StackOutputs, credentials: Credentials | None = None) -> dict[str, Any]:
    """bootstrap.servers and security settings for the stack's cluster."""
    servers, _ = outputs.require_cluster()
    creds = credentials or Credentials.from_env()
    protocol, mechanism = outputs.security_protocol, None
    if protocol.startswith("SASL"):
        if not (creds.kafka_username and creds.kafka_password):
            raise StackOutputsError(f"{outputs.source}: the cluster uses {protocol}: set "
                                    "K2_KAFKA_USERNAME and K2_KAFKA_PASSWORD (or pass credentials=...)")
        mechanism = outputs.sasl_mechanism or "plain"
    return librdkafka_settings(servers, protocol, mechanism, creds.kafka_username, creds.kafka_password,
                               ca_location=creds.ca_location if "SSL" in protocol else None)


def registry_config(outputs: StackOutputs, credentials: Credentials | None = None) -> dict[str, Any]:
    """SchemaRegistryClient settings for the stack's registry."""
    _, url = outputs.require_cluster()
    return registry_settings(url, credentials)


def registry_settings(url: str, credentials: Credentials | None = None) -> dict[str, Any]:
    """SchemaRegistryClient settings for the registry at `url`: basic auth and, for https, the CA file."""
    creds = credentials or Credentials.from_env()
    config: dict[str, Any] = {"url": url}
    if creds.registry_username and creds.registry_password:
        config["basic.auth.user.info"] = f"{creds.registry_username}:{creds.registry_password}"
    if creds.ca_location and url.startswith("https"):
        config["ssl.ca.location"] = creds.ca_location
    return config
