"""The two dynamic providers behind an app's user: a password generated once and kept, and the credential source
written as a 0600 file or a Secrets Manager secret (moto's server)."""

from __future__ import annotations

import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from k2infra.clients.credentials import read_source
from k2infra.providers.credential_source import CredentialSourceProvider
from k2infra.providers.generated_password import GeneratedPasswordProvider
from tests.aws import MotoServer, moto_server, point_at


def test_a_password_is_generated_once_and_only_a_replacement_makes_another():
    provider = GeneratedPasswordProvider()
    created = provider.create({"bytes": 32, "password": None})
    password = created.outs["password"]
    assert len(password) >= 43 and password != provider.create({"bytes": 32}).outs["password"]
    assert not provider.diff(created.id, created.outs, {"bytes": 32, "password": None}).changes
    assert provider.read(created.id, created.outs).outs["password"] == password


def props(source: str, password: str = "first-password") -> dict:
    return {"source": source, "username": "asx-feed", "password": password, "mechanism": "SCRAM-SHA-512"}


def test_a_file_source_is_written_0600_updated_refreshed_and_removed(tmp_path):
    provider = CredentialSourceProvider()
    path = tmp_path / "credentials" / "dev" / "asx-feed.json"
    created = provider.create(props(f"file:{path}"))
    assert created.id == f"file:{path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_source(str(path)).password == "first-password"
    rotated = props(f"file:{path}", "second-password")
    diff = provider.diff(created.id, created.outs, rotated)
    assert diff.changes and not diff.replaces
    provider.update(created.id, created.outs, rotated)
    assert read_source(str(path)).password == "second-password"
    assert provider.diff(created.id, rotated, props(f"file:{tmp_path}/elsewhere.json")).replaces == ["source"]
    path.unlink()
    assert provider.read(created.id, rotated).id is None  # removed by hand: the next up writes it again
    provider.create(rotated)
    provider.delete(created.id, rotated)
    assert not path.exists()


def test_a_bad_source_is_refused_at_check():
    failures = CredentialSourceProvider().check({}, props("secretsmanager:")).failures
    assert [f.property for f in failures] == ["source"] and "k2:userSources" in failures[0].reason


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


def test_a_secrets_manager_source_is_created_updated_deleted_and_restored(moto, monkeypatch, tmp_path: Path):
    point_at(moto, monkeypatch, tmp_path)
    provider = CredentialSourceProvider()
    source = "secretsmanager:k2/prod/asx-feed"
    created = provider.create(props(source))
    assert read_source(source).password == "first-password"
    provider.update(created.id, created.outs, props(source, "second-password"))
    assert read_source(source).password == "second-password"
    provider.delete(created.id, props(source))
    described = moto.client("secretsmanager").describe_secret(SecretId="k2/prod/asx-feed")
    assert "DeletedDate" in described  # scheduled, within Secrets Manager's recovery window
    assert provider.read(created.id, props(source)).id is None
    provider.create(props(source, "third-password"))  # a decommission undone: restored and written
    assert read_source(source).password == "third-password"


def test_the_providers_hold_no_credentials_when_pickled_into_state(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-that-must-not-be-pickled")
    for provider in (CredentialSourceProvider(), GeneratedPasswordProvider()):
        assert b"secret-that-must-not-be-pickled" not in pickle.dumps(provider)
