"""The secure registry's identity material, without starting anything: who gets which Apicurio role, the realm
and clients K2 asks Keycloak for, the 0600 files of their secrets (kept across `up`s), Keycloak's and Apicurio's
command lines (no secret on them) and the platform state that names the files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from k2infra.local.identity import (
    ADMIN_ROLE,
    DEPLOYER,
    READONLY_ROLE,
    ROLES,
    IdentityFiles,
    Keycloak,
    client_representation,
    client_roles,
    read_client,
    realm_representation,
)
from k2infra.local.platform import PlatformState, StateSecurity
from k2infra.local.processes import PlatformError
from k2infra.local.registry import RegistryAuth, SchemaRegistry


def test_the_deployer_has_every_role_and_each_app_only_reads():
    roles = client_roles(["risk", "asx-feed", "risk"])
    assert roles == {DEPLOYER: ROLES, "asx-feed": (READONLY_ROLE,), "risk": (READONLY_ROLE,)}
    assert ADMIN_ROLE in roles[DEPLOYER]


def test_an_app_cannot_take_a_platform_clients_name():
    with pytest.raises(PlatformError, match="k2-deployer"):
        client_roles([DEPLOYER])


def test_the_realm_has_apicurios_roles_and_no_self_service():
    realm = realm_representation()
    assert [r["name"] for r in realm["roles"]["realm"]] == ["sr-admin", "sr-developer", "sr-readonly"]
    assert realm["registrationAllowed"] is False


def test_a_client_is_confidential_and_gets_tokens_for_itself_only(tmp_path: Path):
    [credentials] = IdentityFiles(tmp_path).ensure_clients({"asx-feed": (READONLY_ROLE,)})
    client = client_representation(credentials)
    assert client["publicClient"] is False and client["serviceAccountsEnabled"] is True
    assert not client["standardFlowEnabled"] and not client["directAccessGrantsEnabled"]
    assert client["secret"] == credentials.secret
    assert credentials.secret not in repr(credentials)


def test_client_secrets_are_0600_files_kept_across_ups(tmp_path: Path):
    files = IdentityFiles(tmp_path / "security")
    files.directory.mkdir()
    first = {c.client_id: c.secret for c in files.ensure_clients(client_roles(["asx-feed"]))}
    again = {c.client_id: c.secret for c in files.ensure_clients(client_roles(["asx-feed", "risk"]))}
    assert again[DEPLOYER] == first[DEPLOYER] and again["asx-feed"] == first["asx-feed"]
    assert again["risk"] not in first.values()
    for client in again:
        path = files.client_file(client)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert read_client(path).secret == again[client]
    assert stat.S_IMODE(files.clients_dir.stat().st_mode) == 0o700


def test_the_bootstrap_admin_secret_is_in_a_0600_config_file_not_on_the_command_line(tmp_path: Path):
    files = IdentityFiles(tmp_path)
    secret = files.bootstrap_secret()
    assert files.bootstrap_secret() == secret  # created once
    assert stat.S_IMODE(files.config.stat().st_mode) == 0o600
    keycloak = Keycloak(tmp_path / "identity", 18080, files.config, home=tmp_path / "kc")
    args = keycloak.args("java")
    assert not any(secret in a for a in args)
    assert f"--config-file={files.config.resolve()}" in args
    assert "--http-host=127.0.0.1" in args and "--optimized" in args
    assert any(a.startswith(f"--db-url=jdbc:h2:file:{(tmp_path / 'identity').resolve()}") for a in args)


def test_a_secure_registry_serves_https_only_and_authorizes_by_role(tmp_path: Path):
    auth = RegistryAuth(tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem",
                        "http://127.0.0.1:18080/realms/k2")
    registry = SchemaRegistry(tmp_path / "registry", 8443, home=tmp_path, auth=auth)
    args = registry.args("java", tmp_path / "quarkus-run.jar", 9000)
    assert registry.url == "https://127.0.0.1:8443/apis/ccompat/v7"
    for setting in ("-Dquarkus.http.ssl-port=8443", "-Dquarkus.http.insecure-requests=disabled",
                    "-Dquarkus.oidc.tenant-enabled=true", "-Dapicurio.auth.role-based-authorization=true",
                    "-Dapicurio.authn.basic-client-credentials.enabled=true",
                    "-Dapicurio.auth.anonymous-read-access.enabled=false", "-Dapicurio.config.dynamic.allow-all=false",
                    "-Dquarkus.oidc.auth-server-url=http://127.0.0.1:18080/realms/k2"):
        assert setting in args
    plain = SchemaRegistry(tmp_path / "registry", 8081, home=tmp_path)
    assert plain.url.startswith("http://") and "-Dquarkus.oidc.tenant-enabled=true" not in plain.args(
        "java", tmp_path / "quarkus-run.jar", 9000)


def test_the_state_of_a_secure_platform_names_the_registry_clients_files(tmp_path: Path):
    security = StateSecurity("/p/security/ca.pem", "/p/security/credentials.json", "admin",
                             registry_clients="/p/security/registry", identity_url="http://127.0.0.1:1/realms/k2")
    state = PlatformState(1, [9092], [9192], 8081, security=security)
    again = PlatformState.from_json(json.loads(json.dumps(state.to_json())))
    assert again.security == security
    assert again.schema_registry_url.startswith("https://")
    assert again.security.registry_client_file("asx-feed") == Path("/p/security/registry/asx-feed.json")
    assert not again.complete()  # no Keycloak process recorded: nothing secure is running


def test_a_state_from_before_the_secure_registry_still_reads(tmp_path: Path):
    old = StateSecurity("/p/ca.pem", "/p/credentials.json", "admin")
    state = PlatformState.from_json(json.loads(json.dumps(PlatformState(1, [9092], [9192], 8081, security=old)
                                                          .to_json())))
    assert state.security == old and state.schema_registry_url.startswith("http://")
