"""A registry that only K2 writes, on a secure platform of its own (`up --secure`): Apicurio serves HTTPS with the
platform's CA and authenticates every request against the platform's Keycloak realm. Anonymous requests get 401;
each app's client (one per app of the shipped topics.yaml, its secret in a 0600 file) may read and is refused every
write (403); K2's deployer, logged in with its client secret as a Pulumi secret and the CA as `k2:caCert`, registers
the design's subjects with `pulumi up` and evolves one. Every effect is checked through the registry's own API.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from k2infra.local import LocalPlatform, PlatformState
from k2infra.local.identity import DEPLOYER, read_client
from k2infra.model.parse import read_spec
from tests.conftest import ROOT, make_project
from tests.e2e.conftest import DESIGN_SUBJECTS, PulumiStack
from tests.e2e.test_access import set_secret

APPS = sorted(read_spec(ROOT / "topics.yaml").apps)
SUBJECT = "market.equities.trades-value"
CONTENT_TYPE = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
# A compatible next version of the trade schema (an optional field with a default), as an outsider would send it.
OUTSIDER_SCHEMA = {"schema": json.dumps({"type": "record", "name": "Trade", "namespace": "k2.marketdata", "fields": [
    {"name": "symbol", "type": "string"}, {"name": "outsider", "type": ["null", "string"], "default": None}]})}
NEW_FIELD = {"name": "venue_flags", "type": ["null", "string"], "default": None,
             "doc": "Added by the registry-auth test: a backward-compatible change."}


@dataclass
class Deployed:
    platform: PlatformState
    stack: PulumiStack

    @property
    def url(self) -> str:
        return self.platform.schema_registry_url

    @property
    def ca(self) -> str:
        assert self.platform.security is not None
        return self.platform.security.ca_cert

    def client_file(self, client_id: str) -> Path:
        assert self.platform.security is not None
        return self.platform.security.registry_client_file(client_id)

    def http(self, client_id: str | None = None, secret: str | None = None) -> httpx.Client:
        """A client of the registry trusting the platform's CA; as `client_id` (its own secret unless given)."""
        auth = None
        if client_id is not None:
            auth = (client_id, secret if secret is not None else read_client(self.client_file(client_id)).secret)
        return httpx.Client(base_url=self.url, verify=self.ca, auth=auth, timeout=60, headers=CONTENT_TYPE)

    def versions(self, subject: str = SUBJECT) -> list[int]:
        with self.http(DEPLOYER) as http:
            response = http.get(f"/subjects/{subject}/versions")
            response.raise_for_status()
            return list(response.json())

    def compatibility(self, subject: str = SUBJECT) -> str:
        with self.http(DEPLOYER) as http:
            response = http.get(f"/config/{subject}")
            response.raise_for_status()
            return str(response.json()["compatibilityLevel"])


def writes(subject: str = SUBJECT) -> list[tuple[str, str, dict | None]]:
    """The three changes that break producers or consumers: a new version, compatibility NONE, a permanent delete."""
    return [("POST", f"/subjects/{subject}/versions", OUTSIDER_SCHEMA),
            ("PUT", f"/config/{subject}", {"compatibility": "NONE"}),
            ("DELETE", f"/subjects/{subject}?permanent=true", None)]


def native(deployed: Deployed) -> str:
    """Apicurio's own API (v3) beside the Confluent one."""
    return deployed.url.removesuffix("/apis/ccompat/v7") + "/apis/registry/v3/groups/default/artifacts"


def send(http: httpx.Client, method: str, path: str, body: dict | None) -> int:
    return http.request(method, path, json=body).status_code


@pytest.fixture(scope="module")
def secure_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformState]:
    local = LocalPlatform(tmp_path_factory.mktemp("registry-auth") / "platform")
    try:
        yield local.up(nodes=1, kafka_port=None, registry_port=None, secure=True, registry_apps=APPS)
    finally:
        local.down(wipe=True)


@pytest.fixture(scope="module")
def deployed(secure_platform: PlatformState, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    base = tmp_path_factory.mktemp("registry-auth-stack")
    assert secure_platform.security is not None
    stack = PulumiStack(make_project(base / "project"), base / "backend", "regauth").init({
        "k2:environment": "dev", "k2:cluster": "existing",
        "k2:bootstrapServers": secure_platform.bootstrap_servers,
        "k2:schemaRegistryUrl": secure_platform.schema_registry_url,
        "k2:tls": "true", "k2:saslMechanism": "scram-sha512", "k2:saslUsername": "admin",
        "k2:schemaRegistryUsername": DEPLOYER,
    })
    set_secret(stack, "k2:saslPassword", str(secure_platform.client_config()["sasl.password"]))
    set_secret(stack, "k2:caCert", Path(secure_platform.security.ca_cert).read_text())
    deployer = read_client(secure_platform.security.registry_client_file(DEPLOYER))
    set_secret(stack, "k2:schemaRegistryPassword", deployer.secret)
    stack.up()
    return Deployed(secure_platform, stack)


def test_the_registry_serves_https_only_and_its_secrets_are_files_of_the_owner(deployed: Deployed):
    assert deployed.url.startswith("https://")
    with pytest.raises(httpx.ConnectError):  # not trusted without the platform's CA
        httpx.get(f"{deployed.url}/subjects", timeout=30)
    recorded = (Path(deployed.ca).parents[1] / "platform.json").read_text()
    for client in [DEPLOYER, *APPS]:
        path = deployed.client_file(client)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert read_client(path).secret not in recorded  # the state names the files, never a secret


def test_the_deployers_pulumi_up_registered_the_design_subjects(deployed: Deployed):
    with deployed.http(DEPLOYER) as http:
        assert sorted(s for s in http.get("/subjects").json() if s.startswith("market.")) == DESIGN_SUBJECTS
    assert deployed.versions() == [1]
    assert deployed.compatibility() == "BACKWARD"


def test_anonymous_requests_are_refused_and_change_nothing(deployed: Deployed):
    before = deployed.versions()
    with deployed.http() as http:
        assert http.get("/subjects").status_code == 401
        assert [send(http, *w) for w in writes()] == [401, 401, 401]
        assert http.delete(f"{native(deployed)}/{SUBJECT}").status_code == 401
    with deployed.http(DEPLOYER, secret="not-the-secret") as http:  # a wrong secret is no login either
        assert http.get("/subjects").status_code == 401
        assert [send(http, *w) for w in writes()] == [401, 401, 401]
    assert deployed.versions() == before
    assert deployed.compatibility() == "BACKWARD"


@pytest.mark.parametrize("app", APPS)
def test_an_app_reads_but_cannot_write(deployed: Deployed, app: str):
    before = deployed.versions()
    with deployed.http(app) as http:
        listed = http.get("/subjects")
        assert listed.status_code == 200 and SUBJECT in listed.json()
        assert http.get(f"/subjects/{SUBJECT}/versions/latest").status_code == 200
        assert [send(http, *w) for w in writes()] == [403, 403, 403]
        assert http.delete(f"{native(deployed)}/{SUBJECT}").status_code == 403  # Apicurio's own API: no way round
    assert deployed.versions() == before
    assert deployed.compatibility() == "BACKWARD"


def test_the_deployers_pulumi_up_evolves_a_subject(deployed: Deployed):
    schema_file = deployed.stack.project / "schemas" / "trade.avsc"
    schema = json.loads(schema_file.read_text())
    schema["fields"].append(NEW_FIELD)
    schema_file.write_text(json.dumps(schema, indent=2))
    deployed.stack.up()
    assert deployed.versions() == [1, 2]
    with deployed.http(DEPLOYER) as http:
        latest = json.loads(http.get(f"/subjects/{SUBJECT}/versions/latest").json()["schema"])
    assert NEW_FIELD["name"] in [f["name"] for f in latest["fields"]]


def test_only_the_deployer_deletes_and_sets_compatibility(deployed: Deployed):
    probe = "registry-auth.probe-value"  # not K2's: the deployer's own API calls, outside pulumi
    with deployed.http(DEPLOYER) as http:
        assert http.post(f"/subjects/{probe}/versions", json=OUTSIDER_SCHEMA).status_code == 200
        assert http.put(f"/config/{probe}", json={"compatibility": "FULL"}).status_code == 200
        assert deployed.compatibility(probe) == "FULL"
        assert http.delete(f"/subjects/{probe}").status_code == 200
        assert http.delete(f"/subjects/{probe}?permanent=true").status_code == 200
        assert probe not in http.get("/subjects", params={"deleted": "true"}).json()
