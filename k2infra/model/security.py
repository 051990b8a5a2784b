"""How the stack's security settings map onto Kafka client settings (one place for the program, the
`k2` command, the live-cluster checks and the app helpers)."""

from __future__ import annotations

# Stack config spells mechanisms as the kafka provider does; librdkafka wants Kafka's names.
SASL_MECHANISMS = {"plain": "PLAIN", "scram-sha256": "SCRAM-SHA-256", "scram-sha512": "SCRAM-SHA-512"}


def security_protocol(tls: bool, sasl_mechanism: str | None) -> str:
    """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
    return ("SASL_" if sasl_mechanism else "") + ("SSL" if tls else "PLAINTEXT")


def librdkafka_mechanism(sasl_mechanism: str) -> str:
    return SASL_MECHANISMS.get(sasl_mechanism.lower(), sasl_mechanism.upper())
