"""The kafka provider for the stack's cluster, configured from its settings and secrets."""

from __future__ import annotations

import pulumi
import pulumi_kafka as kafka

from k2infra.contracts.settings import KafkaSecurity
from k2infra.program.stack_config import StackSecrets


def kafka_provider(name: str, bootstrap_servers: tuple[str, ...], security: KafkaSecurity, secrets: StackSecrets,
                   opts: pulumi.ResourceOptions | None = None) -> kafka.Provider:
    """TLS is the provider's default: say so explicitly either way."""
    return kafka.Provider(
        name,
        bootstrap_servers=list(bootstrap_servers),
        tls_enabled=security.tls,
        skip_tls_verify=False,
        ca_cert=secrets.ca_cert,
        sasl_mechanism=security.sasl_mechanism or "plain",
        sasl_username=security.sasl_username,
        sasl_password=secrets.sasl_password,
        timeout=120,
        opts=opts,
    )
