"""The one builder of librdkafka connection settings (bootstrap servers, security protocol, SASL, CA) for a
stack's cluster: used by the program's guard, every `k2` command, the exporter, the migration, the app helpers
and the local platform's admin.
"""

from __future__ import annotations

from typing import Any

from k2infra.contracts.settings import StackSettings, librdkafka_mechanism


def librdkafka_settings(bootstrap_servers: str, protocol: str = "PLAINTEXT", sasl_mechanism: str | None = None,
                        username: str | None = None, password: str | None = None, *, ca_pem: str | None = None,
                        ca_location: str | None = None) -> dict[str, Any]:
    """librdkafka settings for a cluster (the same values the kafka provider gets). `sasl_mechanism` in either
    spelling (the kafka provider's scram-sha512, or Kafka's SCRAM-SHA-512); the CA as PEM text or a file."""
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap_servers, "security.protocol": protocol}
    if sasl_mechanism:
        conf |= {"sasl.mechanism": librdkafka_mechanism(sasl_mechanism),
                 "sasl.username": username or "", "sasl.password": password or ""}
    if ca_pem:
        conf["ssl.ca.pem"] = ca_pem
    if ca_location:
        conf["ssl.ca.location"] = ca_location
    return conf


def kafka_client_settings(settings: StackSettings, *, username: str | None, password: str | None,
                          ca_pem: str | None = None, bootstrap_servers: str | None = None,
                          ca_location: str | None = None) -> dict[str, Any]:
    """librdkafka settings for a stack's cluster from its settings; the credentials from the caller (the program
    has them as secrets, the commands from the stack's login, k2infra/backend/stack_login.py). The CA only for TLS."""
    security = settings.security
    return librdkafka_settings(bootstrap_servers or ",".join(settings.bootstrap_servers), security.protocol,
                               security.sasl_mechanism, username, password,
                               ca_pem=None if ca_location or not security.tls else ca_pem,
                               ca_location=ca_location if security.tls else None)
