"""Apicurio Registry (Confluent-compatible API at /apis/ccompat/v7) on 127.0.0.1, keeping its subjects, versions
and schema ids on disk (SQL storage on an embedded H2 database in file mode) so they survive a restart.

On a secure platform it serves HTTPS only (a certificate of the platform's CA) and authenticates every request
against the Keycloak realm (k2infra.local.identity) with Apicurio's role-based authorization: anonymous requests
get 401, and clients may send HTTP Basic `client_id:client_secret`, which Apicurio exchanges at Keycloak for a
token (apicurio.authn.basic-client-credentials), so every Confluent client's basic.auth.user.info works as is."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from k2infra.local.processes import (
    PlatformError,
    ProcessRecord,
    env_path,
    find_java,
    free_ports,
    start_process,
    stop_processes,
    wait_until,
)

CCOMPAT_PATH = "/apis/ccompat/v7"
# H2 names its files after the last part of the JDBC path: <data dir>/registry.mv.db.
DATABASE_NAME = "registry"


@dataclass(frozen=True)
class RegistryAuth:
    """A secure registry's TLS files (PEM; the key 0600) and the OIDC realm whose tokens it trusts."""

    ca_cert: Path
    certificate: Path
    key: Path
    realm_url: str

    def properties(self) -> list[str]:
        """HTTPS only, every request authenticated, Apicurio's roles from the token's realm roles; dynamic
        settings off, so not even an admin can switch anonymous reads on at run time. Paths and URLs only."""
        return [
            "-Dquarkus.http.insecure-requests=disabled",
            f"-Dquarkus.http.ssl.certificate.files={self.certificate.resolve()}",
            f"-Dquarkus.http.ssl.certificate.key-files={self.key.resolve()}",
            "-Dquarkus.oidc.tenant-enabled=true",
            f"-Dquarkus.oidc.auth-server-url={self.realm_url}",
            f"-Dquarkus.oidc.token-path={self.realm_url}/protocol/openid-connect/token",
            "-Dapicurio.authn.basic-client-credentials.enabled=true",
            "-Dapicurio.auth.role-based-authorization=true",
            "-Dapicurio.auth.role-source=token",
            "-Dapicurio.auth.anonymous-read-access.enabled=false",
            "-Dapicurio.auth.authenticated-read-access.enabled=false",
            "-Dapicurio.config.dynamic.allow-all=false",
        ]


@dataclass
class SchemaRegistry:
    base_dir: Path
    port: int
    home: Path | None = field(default_factory=lambda: env_path("K2_REGISTRY_DIR"))
    processes: list[ProcessRecord] = field(default_factory=list)
    auth: RegistryAuth | None = None  # None: plain HTTP, anyone may do anything

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    @property
    def url(self) -> str:
        return f"{'https' if self.auth else 'http'}://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    @property
    def data_dir(self) -> Path:
        """Where the registry's database lives: everything it knows (subjects, versions, ids, rules)."""
        return self.base_dir / "data"

    @property
    def database_url(self) -> str:
        """The JDBC URL of the registry's H2 database, in file mode (Apicurio's default is in memory,
        `jdbc:h2:mem:`). WRITE_DELAY=0 writes each commit to the file at once: with H2's default delay a registry
        killed right after a registration forgets the schema while Kafka keeps the messages that name its id."""
        path = (self.data_dir / DATABASE_NAME).resolve()  # absolute: Apicurio runs in its own directory
        if ";" in str(path):
            raise PlatformError(f"the platform directory {self.base_dir} contains ';', which a JDBC URL cannot "
                                "carry; choose another --dir")
        return f"jdbc:h2:file:{path};WRITE_DELAY=0"

    def args(self, java: str, jar: Path, management_port: int) -> list[str]:
        # A secure registry's Quarkus still binds a plain HTTP port (0: any free one), which only refuses.
        http = ([f"-Dquarkus.http.ssl-port={self.port}", "-Dquarkus.http.port=0", *self.auth.properties()]
                if self.auth else [f"-Dquarkus.http.port={self.port}"])
        return [
            java, "-Xms64m", "-Xmx384m",
            "-Dquarkus.http.host=127.0.0.1",
            *http,
            # Its management interface is built in and would take port 9000 on every instance.
            "-Dquarkus.management.host=127.0.0.1",
            f"-Dquarkus.management.port={management_port}",
            "-Dquarkus.log.level=WARN",
            "-Dquarkus.banner.enabled=false",
            # Persistent storage: Apicurio 3's SQL storage (already its default kind) on H2 in a file.
            "-Dapicurio.storage.kind=sql",
            "-Dapicurio.storage.sql.kind=h2",
            f"-Dapicurio.datasource.url={self.database_url}",
            "-jar", str(jar),
        ]

    def start(self, timeout: float = 120) -> None:
        if self.home is None:
            raise PlatformError("K2_REGISTRY_DIR is not set, so Apicurio Registry cannot be found: "
                                "run scripts/bootstrap first, then `. scripts/env.sh`")
        jar = self.home / "quarkus-run.jar"
        if not jar.exists():
            raise PlatformError(f"Apicurio Registry not found at {self.home}: run scripts/bootstrap first")
        java = find_java(21)  # Apicurio 3.x is built for Java 21
        args = self.args(java, jar, free_ports(1, avoid=[self.port])[0])
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.processes.append(ProcessRecord.of_child(
            start_process(args, self.base_dir / "registry.log", cwd=self.home), args))
        wait_until(self.ready, timeout, f"Schema registry ({self.url})", self.pids, self.base_dir / "registry.log")

    def ready(self) -> bool:
        """Answers its API: 200, or on a secure registry the 401 of a request without credentials."""
        context = ssl.create_default_context(cafile=str(self.auth.ca_cert)) if self.auth else None
        try:
            with urllib.request.urlopen(f"{self.url}/subjects", timeout=2, context=context) as response:
                return bool(response.status == 200)
        except urllib.error.HTTPError as error:
            return self.auth is not None and error.code == 401
        except OSError:
            return False

    def stop(self) -> None:
        stop_processes(self.processes, grace_seconds=15)
        self.processes.clear()
