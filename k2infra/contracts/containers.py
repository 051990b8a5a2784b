"""Docker mode's contract with K2's images (toolchain/images, built by scripts/container-engine): their names, the
environment their entrypoints read, where they keep their data, how they answer a health check; and the names
of the engine objects a stack owns. Pure values: the component (k2infra.components.docker_platform) and the
engine checks (k2infra.local.container_engine) read them.

Data rule, as the local platform's: Kafka's log directory and the registry's H2 database live in two named
volumes that stay with the containers across restarts (of a container or of the engine) and are removed
together with them by `pulumi destroy` (both wiped together, never one alone).
"""

from __future__ import annotations

from dataclasses import dataclass

KAFKA_VERSION = "4.1.1"  # as scripts/env.sh: K2_KAFKA_VERSION
APICURIO_VERSION = "3.3.3"  # as scripts/env.sh: K2_APICURIO_VERSION
# Built locally (no registry): podman names a local image localhost/<name>; Docker takes the same name as is.
KAFKA_IMAGE = f"localhost/k2/kafka:{KAFKA_VERSION}"
REGISTRY_IMAGE = f"localhost/k2/apicurio:{APICURIO_VERSION}"

KAFKA_INTERNAL_PORT = 19092  # the broker's listener on the stack's network (alias `kafka`)
KAFKA_CONTROLLER_PORT = 9093
REGISTRY_INTERNAL_PORT = 8080
KAFKA_DATA = "/var/lib/kafka/data"
REGISTRY_DATA = "/var/lib/apicurio/data"
# The registry's storage, as the local platform's (k2infra.local.registry): SQL on H2 in a file, each commit
# written at once (WRITE_DELAY=0) so a killed registry keeps what it acknowledged.
REGISTRY_DATABASE_URL = f"jdbc:h2:file:{REGISTRY_DATA}/registry;WRITE_DELAY=0"

# Health checks that need no JVM: the image's ApiVersions probe, and curl on the Confluent API.
KAFKA_HEALTHCHECK = ["CMD", "/opt/kafka/bin/healthcheck", str(KAFKA_INTERNAL_PORT)]
REGISTRY_HEALTHCHECK = ["CMD", "curl", "-fsS", "-o", "/dev/null",
                        f"http://127.0.0.1:{REGISTRY_INTERNAL_PORT}/apis/ccompat/v7/subjects"]


@dataclass(frozen=True)
class EngineNames:
    """The engine objects of one stack's platform: named after the stack, so two stacks never share one."""

    prefix: str

    @classmethod
    def of(cls, stack: str) -> EngineNames:
        return cls(f"k2-{stack}")

    @property
    def network(self) -> str:
        return f"{self.prefix}-net"

    @property
    def kafka(self) -> str:
        return f"{self.prefix}-kafka"

    @property
    def registry(self) -> str:
        return f"{self.prefix}-registry"

    @property
    def kafka_volume(self) -> str:
        return f"{self.prefix}-kafka-data"

    @property
    def registry_volume(self) -> str:
        return f"{self.prefix}-registry-data"

    @property
    def containers(self) -> tuple[str, str]:
        return (self.kafka, self.registry)

    @property
    def volumes(self) -> tuple[str, str]:
        return (self.kafka_volume, self.registry_volume)


def kafka_env(host_port: int) -> list[str]:
    """KRaft single node: one listener for the stack's network, one published to the host, one for the
    controller. The image's entrypoint writes each KAFKA_X_Y=v as x.y=v into server.properties."""
    return [
        "KAFKA_NODE_ID=1",
        "KAFKA_PROCESS_ROLES=broker,controller",
        f"KAFKA_LISTENERS=INTERNAL://0.0.0.0:{KAFKA_INTERNAL_PORT},HOST://0.0.0.0:{host_port},"
        f"CONTROLLER://0.0.0.0:{KAFKA_CONTROLLER_PORT}",
        f"KAFKA_ADVERTISED_LISTENERS=INTERNAL://kafka:{KAFKA_INTERNAL_PORT},HOST://127.0.0.1:{host_port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=INTERNAL:PLAINTEXT,HOST:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_INTER_BROKER_LISTENER_NAME=INTERNAL",
        "KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
        f"KAFKA_CONTROLLER_QUORUM_VOTERS=1@kafka:{KAFKA_CONTROLLER_PORT}",
        f"KAFKA_LOG_DIRS={KAFKA_DATA}",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE=false",
        # A laptop cluster, as the local platform's: small segments and index preallocation.
        f"KAFKA_LOG_SEGMENT_BYTES={16 * 1024 * 1024}",
        f"KAFKA_LOG_INDEX_SIZE_MAX_BYTES={1024 * 1024}",
    ]


def registry_env() -> list[str]:
    return [
        "QUARKUS_HTTP_HOST=0.0.0.0",
        f"QUARKUS_HTTP_PORT={REGISTRY_INTERNAL_PORT}",
        "APICURIO_STORAGE_KIND=sql",
        "APICURIO_STORAGE_SQL_KIND=h2",
        f"APICURIO_DATASOURCE_URL={REGISTRY_DATABASE_URL}",
    ]
