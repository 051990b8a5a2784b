"""An app's login from its credential source (a 0600 file, or AWS Secrets Manager on moto's server), environment
variables as an override, and the follower that rereads the source when the brokers refuse the login."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaError

from k2infra.clients import Credentials
from k2infra.clients.credentials import CredentialSourceError, SaslLogin, SourceFollower, follow_source, read_source
from k2infra.contracts.credential_sources import document
from tests.aws import MotoServer, moto_server, point_at


def write(path: Path, username: str = "asx-feed", password: str = "first-password") -> Path:
    path.write_text(document(username, password, "SCRAM-SHA-512"))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


def test_a_file_source_gives_the_login_and_hides_the_password(tmp_path):
    login = read_source(str(write(tmp_path / "asx-feed.json")))
    assert login == SaslLogin("asx-feed", "first-password", "SCRAM-SHA-512")
    assert "first-password" not in repr(login)
    assert read_source(f"file:{tmp_path / 'asx-feed.json'}") == login


def test_an_unreadable_source_names_itself_never_its_content(tmp_path):
    with pytest.raises(CredentialSourceError, match=r"cannot read the credential source .*missing.json"):
        read_source(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text('{"username": "x", "pass": "hunter2"}')
    with pytest.raises(CredentialSourceError, match="holds no username and password") as raised:
        read_source(str(tmp_path / "bad.json"))
    assert "hunter2" not in str(raised.value)


def test_credentials_from_a_source_and_the_environment_as_override(tmp_path):
    source = str(write(tmp_path / "asx-feed.json"))
    creds = Credentials.from_source(source, {"K2_KAFKA_CA_LOCATION": "/ca.pem"})
    assert (creds.kafka_username, creds.kafka_password, creds.ca_location, creds.kafka_source) == (
        "asx-feed", "first-password", "/ca.pem", source)
    assert "first-password" not in repr(creds)
    assert Credentials.from_env({"K2_KAFKA_CREDENTIAL_SOURCE": source}) == creds.__class__(
        "asx-feed", "first-password", kafka_source=source)
    overridden = Credentials.from_source(source, {"K2_KAFKA_USERNAME": "ops", "K2_KAFKA_PASSWORD": "by-hand"})
    assert (overridden.kafka_username, overridden.kafka_password, overridden.kafka_source) == ("ops", "by-hand", None)


def test_a_secrets_manager_source_by_name_and_by_arn(moto, monkeypatch, tmp_path):
    point_at(moto, monkeypatch, tmp_path)
    created = moto.client("secretsmanager").create_secret(
        Name="k2/prod/asx-feed", SecretString=document("asx-feed", "from-aws", "SCRAM-SHA-512"))
    assert read_source("secretsmanager:k2/prod/asx-feed").password == "from-aws"
    assert read_source(created["ARN"]).password == "from-aws"
    with pytest.raises(CredentialSourceError, match=r"secretsmanager:k2/prod/nobody .*GetSecretValue"):
        read_source("secretsmanager:k2/prod/nobody")


class FakeClient:
    def __init__(self) -> None:
        self.given: list[tuple[str, str]] = []

    def set_sasl_credentials(self, username: str, password: str) -> None:
        self.given.append((username, password))


def error(code: int) -> KafkaError:
    return KafkaError(code, "test")


def test_the_follower_rereads_on_a_refused_login_only_and_hands_over_a_new_password(tmp_path):
    source = write(tmp_path / "asx-feed.json")
    seen: list[int] = []
    config = {"error_cb": lambda e: seen.append(e.code())}
    follower = follow_source(config, str(source), read_source(str(source)))
    assert isinstance(follower, SourceFollower) and config["error_cb"] is follower
    client = FakeClient()
    follower.attach(client)
    follower(error(KafkaError._AUTHENTICATION))  # refused, but the source has not changed
    follower.wait()
    assert client.given == []
    write(source, password="rotated-password")
    follower(error(KafkaError._TRANSPORT))  # not a refusal: nothing reread
    assert client.given == []
    follower(error(KafkaError._AUTHENTICATION))
    follower.wait()
    assert client.given == [("asx-feed", "rotated-password")] and follower.refreshed == 1
    follower(error(KafkaError._AUTHENTICATION))  # the same password again: nothing new
    follower.wait()
    assert follower.refreshed == 1
    assert seen == [KafkaError._AUTHENTICATION, KafkaError._TRANSPORT, KafkaError._AUTHENTICATION,
                    KafkaError._AUTHENTICATION]  # the caller's own callback still sees every error


def test_a_source_gone_for_a_moment_keeps_the_login(tmp_path, caplog):
    source = write(tmp_path / "asx-feed.json")
    follower = SourceFollower(str(source), read_source(str(source)))
    client = FakeClient()
    follower.attach(client)
    source.unlink()
    assert follower.refresh() is False and client.given == []
    assert "cannot read the credential source" in caplog.text


def test_no_source_no_follower():
    config: dict = {}
    assert follow_source(config, None, SaslLogin("u", "p")) is None and config == {}


def test_document_is_the_shape_of_the_platform_admins_credentials():
    assert json.loads(document("u", "p", "SCRAM-SHA-512")) == {"username": "u", "password": "p",
                                                               "sasl_mechanism": "SCRAM-SHA-512"}
