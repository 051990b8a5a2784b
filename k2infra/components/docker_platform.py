"""The dev stack's cluster as containers (k2:cluster: docker): a KRaft Kafka and an Apicurio registry.

Their images are K2's own, built locally (scripts/container-engine), used without pulling. Each keeps its data
in a named volume: kept across container and engine restarts, removed together by `pulumi destroy`
(k2infra.contracts.containers). Both containers have health checks and `wait`, so the update goes on to the
topics and subjects only once both answer.
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from k2infra.contracts.containers import (
    KAFKA_DATA,
    KAFKA_HEALTHCHECK,
    REGISTRY_DATA,
    REGISTRY_HEALTHCHECK,
    REGISTRY_INTERNAL_PORT,
    EngineNames,
    kafka_env,
    registry_env,
)
from k2infra.contracts.naming import DOCKER_PLATFORM_TYPE
from k2infra.contracts.settings import DockerSettings

WAIT_SECONDS = 240  # a cold JVM start on a busy 2-core machine


class DockerPlatform(pulumi.ComponentResource):
    """A one-node KRaft Kafka and an Apicurio registry (Confluent API) on one network, published on 127.0.0.1."""

    def __init__(self, names: EngineNames, settings: DockerSettings, opts: pulumi.ResourceOptions | None = None):
        super().__init__(DOCKER_PLATFORM_TYPE, names.prefix, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.network = docker.Network(names.network, name=names.network, opts=child)
        kafka_data = docker.Volume(names.kafka_volume, name=names.kafka_volume, opts=child)
        registry_data = docker.Volume(names.registry_volume, name=names.registry_volume, opts=child)
        # keep_locally: destroy never removes K2's images; a local image is found by name and never pulled.
        kafka_image = docker.RemoteImage(f"{names.prefix}-kafka-image", name=settings.kafka_image,
                                         keep_locally=True, opts=child)
        registry_image = docker.RemoteImage(f"{names.prefix}-registry-image", name=settings.registry_image,
                                            keep_locally=True, opts=child)
        self.kafka = docker.Container(
            names.kafka,
            name=names.kafka,
            image=kafka_image.image_id,
            hostname="kafka",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=self.network.name, aliases=["kafka"])],
            ports=[docker.ContainerPortArgs(internal=settings.kafka_port, external=settings.kafka_port,
                                            ip="127.0.0.1")],
            envs=kafka_env(settings.kafka_port),
            volumes=[docker.ContainerVolumeArgs(volume_name=kafka_data.name, container_path=KAFKA_DATA)],
            healthcheck=_healthcheck(KAFKA_HEALTHCHECK),
            wait=True,
            wait_timeout=WAIT_SECONDS,
            restart="unless-stopped",
            opts=child,
        )
        self.registry = docker.Container(
            names.registry,
            name=names.registry,
            image=registry_image.image_id,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=self.network.name, aliases=["registry"])],
            ports=[docker.ContainerPortArgs(internal=REGISTRY_INTERNAL_PORT, external=settings.registry_port,
                                            ip="127.0.0.1")],
            envs=registry_env(),
            volumes=[docker.ContainerVolumeArgs(volume_name=registry_data.name, container_path=REGISTRY_DATA)],
            healthcheck=_healthcheck(REGISTRY_HEALTHCHECK),
            wait=True,
            wait_timeout=WAIT_SECONDS,
            restart="unless-stopped",
            opts=child,
        )
        self.register_outputs({"kafka": self.kafka.name, "registry": self.registry.name})


def _healthcheck(test: list[str]) -> docker.ContainerHealthcheckArgs:
    # Durations as the engine reports them back (Go's spelling: "60s" would read back as "1m0s", a diff at every up).
    return docker.ContainerHealthcheckArgs(tests=test, interval="5s", timeout="10s", retries=5, start_period="30s")
