"""Stack configuration (Pulumi.<stack>.yaml, namespace k2) as one typed object.

Secrets (SASL and registry passwords) stay pulumi Outputs marked secret from config to provider,
so they are encrypted in state and never printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi

from k2infra.model.security import security_protocol

ClusterMode = Literal["local", "docker", "existing"]
CLUSTER_MODES = ("local", "docker", "existing")


@dataclass(frozen=True)
class KafkaSecurity:
    tls: bool = False
    sasl_mechanism: str | None = None  # plain, scram-sha256, scram-sha512
    sasl_username: str | None = None
    sasl_password: pulumi.Output[str] | None = None
    ca_cert: pulumi.Output[str] | None = None

    @property
    def protocol(self) -> str:
        return security_protocol(self.tls, self.sasl_mechanism)


@dataclass(frozen=True)
class DockerSettings:
    kafka_image: str = "apache/kafka:4.1.1"
    registry_image: str = "apicurio/apicurio-registry:3.3.3"
    kafka_port: int = 9092
    registry_port: int = 8081


@dataclass(frozen=True)
class StackSettings:
    stack: str
    environment: str
    topics_file: str
    cluster: ClusterMode
    bootstrap_servers: tuple[str, ...]
    schema_registry_url: str
    security: KafkaSecurity
    registry_username: str | None
    registry_password: pulumi.Output[str] | None
    docker: DockerSettings
    # Dev convenience: topics that leave topics.yaml are deleted instead of retained.
    allow_topic_deletion: bool = False

    @classmethod
    def from_config(cls, config: pulumi.Config | None = None) -> StackSettings:
        config = config or pulumi.Config("k2")
        stack = pulumi.get_stack()
        cluster = config.get("cluster") or "local"
        if cluster not in CLUSTER_MODES:
            raise ValueError(f"k2:cluster is {cluster!r}; use one of {', '.join(CLUSTER_MODES)}")
        docker = DockerSettings(
            kafka_image=config.get("dockerKafkaImage") or DockerSettings.kafka_image,
            registry_image=config.get("dockerRegistryImage") or DockerSettings.registry_image,
            kafka_port=config.get_int("dockerKafkaPort") or DockerSettings.kafka_port,
            registry_port=config.get_int("dockerRegistryPort") or DockerSettings.registry_port,
        )
        if cluster == "docker":
            servers: tuple[str, ...] = (f"127.0.0.1:{docker.kafka_port}",)
            registry_url = f"http://127.0.0.1:{docker.registry_port}/apis/ccompat/v7"
        else:
            servers = tuple(s.strip() for s in config.require("bootstrapServers").split(",") if s.strip())
            registry_url = config.require("schemaRegistryUrl")
        security = KafkaSecurity(
            tls=config.get_bool("tls") or False,
            sasl_mechanism=config.get("saslMechanism"),
            sasl_username=config.get("saslUsername"),
            sasl_password=config.get_secret("saslPassword"),
            ca_cert=config.get_secret("caCert"),
        )
        return cls(
            stack=stack,
            environment=config.get("environment") or stack,
            topics_file=config.get("topicsFile") or "topics.yaml",
            cluster=cluster,  # type: ignore[arg-type]
            bootstrap_servers=servers,
            schema_registry_url=registry_url,
            security=security,
            registry_username=config.get("schemaRegistryUsername"),
            registry_password=config.get_secret("schemaRegistryPassword"),
            docker=docker,
            allow_topic_deletion=config.get_bool("allowTopicDeletion") or False,
        )

    def registry_basic_auth(self) -> pulumi.Output[str] | None:
        if not self.registry_username or self.registry_password is None:
            return None
        user = self.registry_username
        return pulumi.Output.secret(self.registry_password.apply(lambda password: f"{user}:{password}"))
