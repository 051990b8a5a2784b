"""Production: no single broker loses a trade, and nobody reads or writes the feed unauthenticated, in every
environment topics.yaml protects (prod, prod-eu...), whatever its name.

Topic rules run per resource; the provider rule looks at the whole stack, because the provider is
registered before anything says which environment the stack is for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pulumi_policy import PolicyResource

from policy.context import Deployment
from policy.design import PROD_MIN_INSYNC, PROD_MIN_REPLICATION
from policy.resources import KAFKA_PROVIDER, KafkaProvider, TopicResource, as_int, stack_of, violation

StackViolation = tuple[str, str | None]  # message, URN of the resource it is about


def replication_factor(topic: TopicResource, deployment: Deployment) -> Iterator[str]:
    if not deployment.is_protected(topic.environment) or topic.replication_factor is None:
        return
    if topic.replication_factor < PROD_MIN_REPLICATION:
        yield violation(topic.name, f"replication factor {topic.replication_factor} in {topic.environment} "
                        f"is below {PROD_MIN_REPLICATION}: one broker lost loses its data",
                        f"set environments.{topic.environment}.replication_factor: {PROD_MIN_REPLICATION} "
                        "(or more) in topics.yaml")


def min_insync_replicas(topic: TopicResource, deployment: Deployment) -> Iterator[str]:
    if not deployment.is_protected(topic.environment):
        return
    value = topic.config.get("min.insync.replicas")
    replicas = as_int(value)
    if replicas is None or replicas < PROD_MIN_INSYNC:
        shown = "unset (the broker's default, 1)" if value is None else value
        yield violation(topic.name, f"min.insync.replicas is {shown} in {topic.environment}, below "
                        f"{PROD_MIN_INSYNC}: an acknowledged write may live on one broker only",
                        f"set environments.{topic.environment}.min_insync_replicas: {PROD_MIN_INSYNC} "
                        "(or more, below the replication factor) in topics.yaml")


def transport_security(resources: Sequence[PolicyResource],
                       deployment: Deployment) -> Iterator[StackViolation]:
    environment, stack = protected_stack(resources, deployment)
    if environment is None:
        return
    for resource in resources:
        if resource.resource_type != KAFKA_PROVIDER:
            continue
        provider = KafkaProvider.of(resource.urn, resource.name, resource.props)
        servers = ", ".join(provider.bootstrap_servers)
        if not (provider.tls or provider.sasl):
            yield violation(f"kafka provider {provider.name}",
                            f"connects to {servers} in {environment} without TLS or SASL: anyone on the "
                            "network can read and write the feed",
                            f"pulumi config set k2:tls true --stack {stack}; for SASL also set "
                            "k2:saslMechanism, k2:saslUsername and pulumi config set --secret "
                            f"k2:saslPassword <password> --stack {stack}"), resource.urn
        elif not provider.tls:
            # PLAIN sends the password itself; SCRAM's exchange can be replayed or cracked offline when sniffed.
            yield violation(f"kafka provider {provider.name}",
                            f"authenticates to {servers} in {environment} with SASL "
                            f"{provider.sasl_mechanism.upper()} without TLS: the password crosses the network in "
                            "clear", f"pulumi config set k2:tls true --stack {stack} (and k2:caCert if the brokers' "
                            "CA is private)"), resource.urn


def protected_stack(resources: Sequence[PolicyResource], deployment: Deployment) -> tuple[str | None, str]:
    """(the environment if the stack's is protected, else None; the stack's name)."""
    if not resources:
        return None, ""
    environment = deployment.environment(resources[0].urn)
    return (environment if deployment.is_protected(environment) else None), stack_of(resources[0].urn)
