"""The dev stack's cluster as containers (k2:cluster: docker): a KRaft Kafka and an Apicurio registry."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from k2infra.contracts.naming import DOCKER_PLATFORM_TYPE
from k2infra.contracts.settings import DockerSettings

KAFKA_INTERNAL_PORT = 19092
REGISTRY_INTERNAL_PORT = 8080


class DockerPlatform(pulumi.ComponentResource):
    """A one-node KRaft Kafka and an Apicurio registry (Confluent API) on one Docker network."""

    def __init__(self, name: str, settings: DockerSettings, opts: pulumi.ResourceOptions | None = None):
        super().__init__(DOCKER_PLATFORM_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.network = docker.Network(f"{name}-net", name=f"{name}-net", opts=child)
        kafka_image = docker.RemoteImage(f"{name}-kafka-image", name=settings.kafka_image, keep_locally=True,
                                         opts=child)
        registry_image = docker.RemoteImage(f"{name}-registry-image", name=settings.registry_image,
                                            keep_locally=True, opts=child)
        self.kafka = docker.Container(
            f"{name}-kafka",
            name=f"{name}-kafka",
            image=kafka_image.image_id,
            hostname="kafka",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=self.network.name, aliases=["kafka"])],
            ports=[docker.ContainerPortArgs(internal=settings.kafka_port, external=settings.kafka_port,
                                            ip="127.0.0.1")],
            envs=kafka_env(settings.kafka_port),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD-SHELL", f"/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server "
                                    f"localhost:{KAFKA_INTERNAL_PORT} >/dev/null"],
                interval="5s", timeout="10s", retries=24, start_period="10s",
            ),
            wait=True,
            wait_timeout=180,
            restart="unless-stopped",
            opts=child,
        )
        self.registry = docker.Container(
            f"{name}-registry",
            name=f"{name}-registry",
            image=registry_image.image_id,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=self.network.name, aliases=["registry"])],
            ports=[docker.ContainerPortArgs(internal=REGISTRY_INTERNAL_PORT, external=settings.registry_port,
                                            ip="127.0.0.1")],
            envs=["QUARKUS_HTTP_HOST=0.0.0.0", "APICURIO_STORAGE_KIND=sql", "APICURIO_STORAGE_SQL_KIND=h2"],
            restart="unless-stopped",
            opts=child,
        )
        self.register_outputs({"kafka": self.kafka.name, "registry": self.registry.name})


def kafka_env(host_port: int) -> list[str]:
    """KRaft single node: one listener for the Docker network, one advertised to the host."""
    return [
        "KAFKA_NODE_ID=1",
        "KAFKA_PROCESS_ROLES=broker,controller",
        f"KAFKA_LISTENERS=INTERNAL://0.0.0.0:{KAFKA_INTERNAL_PORT},HOST://0.0.0.0:{host_port},"
        "CONTROLLER://0.0.0.0:9093",
        f"KAFKA_ADVERTISED_LISTENERS=INTERNAL://kafka:{KAFKA_INTERNAL_PORT},HOST://127.0.0.1:{host_port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=INTERNAL:PLAINTEXT,HOST:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_INTER_BROKER_LISTENER_NAME=INTERNAL",
        "KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
        "KAFKA_CONTROLLER_QUORUM_VOTERS=1@kafka:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE=false",
    ]
