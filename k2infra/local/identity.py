"""Keycloak, the secure platform's identity provider: the registry (Apicurio, OpenID Connect) trusts the tokens of
its `k2` realm, whose clients are K2's deployer and one read-only client per app.

Keycloak runs from its Maven Central distribution (org.keycloak:keycloak-quarkus-dist, built once by
scripts/bootstrap for `start --optimized`) on 127.0.0.1, its H2 database under `<platform>/identity/`. Its
bootstrap admin is a service-account client whose secret lives in `security/keycloak.conf` (0600, read by
Keycloak through --config-file, so never on a command line); that admin ensures the realm, its roles and
clients through the admin REST API on every `up`, so an app added to topics.yaml gets its client on the next one
(a realm import only runs when the realm does not exist yet). Each client's secret is generated once and kept in
`security/registry/<client>.json` (0600): the platform sets that secret on the client, never the other way round.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from k2infra.local.processes import (
    PlatformError,
    ProcessRecord,
    env_path,
    find_java,
    start_process,
    stop_processes,
    wait_until,
)
from k2infra.local.security import new_password, write_private

REALM = "k2"
DEPLOYER = "k2-deployer"
BOOTSTRAP_CLIENT = "k2-bootstrap"
CONFIG_FILE = "keycloak.conf"
CLIENTS_DIR = "registry"
# Apicurio 3.3.3's default role names (apicurio.auth.roles.*): admin may change rules and compatibility and
# delete; developer may register; read-only may only read.
ADMIN_ROLE, DEVELOPER_ROLE, READONLY_ROLE = "sr-admin", "sr-developer", "sr-readonly"
ROLES = (ADMIN_ROLE, DEVELOPER_ROLE, READONLY_ROLE)


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    secret: str
    roles: tuple[str, ...]

    def __repr__(self) -> str:  # never shown, not even in a traceback's locals
        return f"ClientCredentials(client_id={self.client_id!r}, secret=***, roles={self.roles!r})"

    @property
    def basic_auth(self) -> str:
        """Apicurio's basic client-credentials form: `client_id:secret` (what basic.auth.user.info takes)."""
        return f"{self.client_id}:{self.secret}"


def client_roles(apps: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Who gets which registry roles: the deployer all three, each app read-only."""
    roles: dict[str, tuple[str, ...]] = {DEPLOYER: ROLES}
    for app in sorted(set(apps)):
        if app in (DEPLOYER, BOOTSTRAP_CLIENT):
            raise PlatformError(f"app {app!r} has the name of a platform client of the registry; rename the app")
        roles[app] = (READONLY_ROLE,)
    return roles


def realm_representation() -> dict[str, Any]:
    return {"realm": REALM, "enabled": True, "roles": {"realm": [{"name": r} for r in ROLES]},
            # Tokens for machines: short-lived, never a login page.
            "accessTokenLifespan": 300, "registrationAllowed": False, "loginWithEmailAllowed": False}


def client_representation(credentials: ClientCredentials) -> dict[str, Any]:
    """A confidential client that can only get tokens for itself (client-credentials grant)."""
    return {"clientId": credentials.client_id, "enabled": True, "protocol": "openid-connect",
            "publicClient": False, "clientAuthenticatorType": "client-secret", "secret": credentials.secret,
            "serviceAccountsEnabled": True, "standardFlowEnabled": False, "implicitFlowEnabled": False,
            "directAccessGrantsEnabled": False}


def keycloak_conf(bootstrap_secret: str) -> str:
    return f"bootstrap-admin-client-id={BOOTSTRAP_CLIENT}\nbootstrap-admin-client-secret={bootstrap_secret}\n"


@dataclass(frozen=True)
class IdentityFiles:
    """The realm's secrets in the platform's security/ directory (0700), each file 0600."""

    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / CONFIG_FILE

    @property
    def clients_dir(self) -> Path:
        return self.directory / CLIENTS_DIR

    def client_file(self, client_id: str) -> Path:
        return self.clients_dir / f"{client_id}.json"

    def bootstrap_secret(self) -> str:
        """The bootstrap admin's secret, created with keycloak.conf on the first `up`."""
        if not self.config.exists():
            write_private(self.config, keycloak_conf(new_password()))
        for line in self.config.read_text().splitlines():
            if line.startswith("bootstrap-admin-client-secret="):
                return line.split("=", 1)[1]
        raise PlatformError(f"{self.config} has no bootstrap admin secret; wipe the platform to start over")

    def ensure_clients(self, roles: Mapping[str, tuple[str, ...]]) -> list[ClientCredentials]:
        """Each client's credentials, its secret generated on first use and kept in its 0600 file."""
        self.clients_dir.mkdir(parents=True, exist_ok=True)
        self.clients_dir.chmod(0o700)
        result = []
        for client_id, client_roles_ in roles.items():
            path = self.client_file(client_id)
            try:
                secret = str(json.loads(path.read_text())["client_secret"])
            except (OSError, ValueError, KeyError, TypeError):
                secret = new_password()
            write_private(path, json.dumps({"client_id": client_id, "client_secret": secret,
                                            "roles": list(client_roles_)}, indent=2) + "\n")
            result.append(ClientCredentials(client_id, secret, tuple(client_roles_)))
        return result


def read_client(path: Path) -> ClientCredentials:
    """A registry client's credentials from the 0600 file `up --secure` wrote."""
    try:
        data = json.loads(path.read_text())
        return ClientCredentials(str(data["client_id"]), str(data["client_secret"]), tuple(data["roles"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PlatformError(f"cannot read registry client credentials from {path} ({type(error).__name__})") from None


@dataclass
class Keycloak:
    base_dir: Path
    port: int
    config: Path
    home: Path | None = field(default_factory=lambda: env_path("K2_KEYCLOAK_DIR"))
    processes: list[ProcessRecord] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def realm_url(self) -> str:
        return f"{self.url}/realms/{REALM}"

    @property
    def token_url(self) -> str:
        return f"{self.realm_url}/protocol/openid-connect/token"

    @property
    def log(self) -> Path:
        return self.base_dir / "keycloak.log"

    def args(self, java: str) -> list[str]:
        """What bin/kc.sh would run, without the shell in between (so the recorded process is Keycloak itself)."""
        assert self.home is not None
        home = self.home.resolve()
        database = (self.base_dir / "data" / "keycloakdb").resolve()
        return [
            java, "-Xms64m", "-Xmx512m", "-XX:MetaspaceSize=96M", "-XX:MaxMetaspaceSize=256m",
            "-Dfile.encoding=UTF-8", "-XX:+ExitOnOutOfMemoryError",
            "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
            "--add-opens=java.base/java.security=ALL-UNNAMED",
            "-Djava.util.concurrent.ForkJoinPool.common.threadFactory="
            "io.quarkus.bootstrap.forkjoin.QuarkusForkJoinWorkerThreadFactory",
            f"-Dkc.home.dir={home}", f"-Djboss.server.config.dir={home / 'conf'}",
            "-Djava.util.logging.manager=org.jboss.logmanager.LogManager", "-Dpicocli.disable.closures=true",
            "-cp", str(home / "lib" / "quarkus-run.jar"), "io.quarkus.bootstrap.runner.QuarkusEntryPoint",
            f"--config-file={self.config.resolve()}",
            "start", "--optimized", "--http-enabled=true", "--http-host=127.0.0.1", f"--http-port={self.port}",
            # Local caches: the default clustered cache looks for the previous run's node on each restart (+10 s).
            "--hostname-strict=false", "--cache=local", "--log-level=WARN",
            f"--db-url=jdbc:h2:file:{database};NON_KEYWORDS=VALUE",
        ]

    def start(self, timeout: float = 180) -> None:
        if self.home is None:
            raise PlatformError("K2_KEYCLOAK_DIR is not set, so Keycloak cannot be found: run scripts/bootstrap "
                                "first, then `. scripts/env.sh`")
        if not (self.home / "lib" / "quarkus" / "build-system.properties").exists():
            raise PlatformError(f"no built Keycloak at {self.home}: run scripts/bootstrap first")
        args = self.args(find_java(21))  # Keycloak 26 needs Java 21+
        (self.base_dir / "data").mkdir(parents=True, exist_ok=True)
        self.processes.append(ProcessRecord.of_child(start_process(args, self.log, cwd=self.base_dir), args))
        wait_until(self.ready, timeout, f"Keycloak ({self.url})", self.pids, self.log)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/realms/master", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        stop_processes(self.processes, grace_seconds=15)
        self.processes.clear()


class AdminApi:
    """Keycloak's admin REST API, as the bootstrap admin (a service account of the master realm)."""

    def __init__(self, url: str, secret: str):
        self.url = url
        self._token = token(f"{url}/realms/master/protocol/openid-connect/token", BOOTSTRAP_CLIENT, secret)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/admin/realms{path}", data=data, method=method,
                                         headers={"Authorization": f"Bearer {self._token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return json.loads(text) if text else None

    def exists(self, path: str) -> bool:
        try:
            self.call("GET", path)
            return True
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return False
            raise


def token(url: str, client_id: str, secret: str) -> str:
    """An access token for a client, by the client-credentials grant (the secret in the body, not the URL)."""
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": secret}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=form, method="POST"), timeout=30) as response:
        return str(json.loads(response.read())["access_token"])


def ensure_realm(api: AdminApi, clients: Iterable[ClientCredentials]) -> None:
    """The realm, its roles and each client with its secret and roles: created or brought back to what K2 says
    (idempotent: safe on every `up`). Roles a client has beyond its own are removed."""
    if not api.exists(f"/{REALM}"):
        api.call("POST", "", realm_representation())
    for role in ROLES:
        if not api.exists(f"/{REALM}/roles/{role}"):
            api.call("POST", f"/{REALM}/roles", {"name": role})
    for credentials in clients:
        _ensure_client(api, credentials)


def _ensure_client(api: AdminApi, credentials: ClientCredentials) -> None:
    wanted = client_representation(credentials)
    found = api.call("GET", f"/{REALM}/clients?clientId={urllib.parse.quote(credentials.client_id)}")
    if found:
        api.call("PUT", f"/{REALM}/clients/{found[0]['id']}", {**found[0], **wanted})
        internal = found[0]["id"]
    else:
        api.call("POST", f"/{REALM}/clients", wanted)
        internal = api.call("GET", f"/{REALM}/clients?clientId={urllib.parse.quote(credentials.client_id)}")[0]["id"]
    user = api.call("GET", f"/{REALM}/clients/{internal}/service-account-user")["id"]
    mappings = f"/{REALM}/users/{user}/role-mappings/realm"
    have = {r["name"]: r for r in api.call("GET", mappings) if r["name"] in ROLES}
    extra = [r for name, r in have.items() if name not in credentials.roles]
    if extra:
        api.call("DELETE", mappings, extra)
    missing = [api.call("GET", f"/{REALM}/roles/{r}") for r in credentials.roles if r not in have]
    if missing:
        api.call("POST", mappings, missing)
