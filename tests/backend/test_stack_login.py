"""The operator commands' login: the K2_* variables key by key over the stack's own settings and secrets, which are
decrypted only when a command needs one the environment does not give (the real `pulumi config --show-secrets`
is used in tests/e2e/test_users.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from k2infra.backend.stack_login import LoginError, stack_login
from k2infra.backend.stack_state import StackStateError
from k2infra.contracts.settings import StackSettings

SECURE = ("config:\n  k2:environment: prod\n  k2:cluster: existing\n  k2:bootstrapServers: kafka:9093\n"
          "  k2:schemaRegistryUrl: https://registry/apis/ccompat/v7\n  k2:tls: 'true'\n"
          "  k2:saslMechanism: scram-sha512\n  k2:saslUsername: k2-platform\n  k2:schemaRegistryUsername: k2-deployer\n"
          "  k2:saslPassword:\n    secure: v1:aaa\n  k2:schemaRegistryPassword:\n    secure: v1:bbb\n"
          "  k2:caCert:\n    secure: v1:ccc\n")
DECRYPTED = {"k2:saslPassword": "kafka-pw", "k2:schemaRegistryPassword": "registry-pw", "k2:caCert": "PEM",
             "k2:other": "x"}


class Reader:
    def __init__(self, values=DECRYPTED, error: StackStateError | None = None):
        self.values, self.error, self.calls = values, error, 0

    def __call__(self, stack: str, project_dir: Path):
        self.calls += 1
        if self.error:
            raise self.error
        return self.values


def project(tmp_path: Path, stack_file: str = SECURE) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: k2\nruntime: python\n")
    (tmp_path / "Pulumi.prod.yaml").write_text(stack_file)
    return tmp_path


def login(tmp_path: Path, env: dict[str, str], reader: Reader, stack_file: str = SECURE):
    directory = project(tmp_path, stack_file)
    return stack_login(StackSettings.from_files(directory, "prod"), directory, env, reader)


def test_the_stacks_own_settings_and_secrets(tmp_path):
    reader = Reader()
    found = login(tmp_path, {}, reader)
    assert (found.kafka_username, found.kafka_password, found.ca_pem) == ("k2-platform", "kafka-pw", "PEM")
    assert found.registry_basic_auth() == "k2-deployer:registry-pw" and reader.calls == 1


def test_each_variable_overrides_its_own_value_only(tmp_path):
    found = login(tmp_path, {"K2_KAFKA_USERNAME": "ops", "K2_KAFKA_PASSWORD": "ops-pw"}, Reader())
    assert (found.kafka_username, found.kafka_password) == ("ops", "ops-pw")
    assert found.registry_basic_auth() == "k2-deployer:registry-pw" and found.ca_pem == "PEM"


def test_nothing_is_decrypted_when_the_environment_gives_every_secret(tmp_path):
    reader = Reader(error=StackStateError("must not be called", "failed"))
    found = login(tmp_path, {"K2_KAFKA_PASSWORD": "a", "K2_SCHEMA_REGISTRY_PASSWORD": "b",
                             "K2_KAFKA_CA_LOCATION": "/etc/k2/ca.pem"}, reader)
    assert reader.calls == 0 and found.ca_location == "/etc/k2/ca.pem" and found.ca_pem is None


def test_a_plain_stack_decrypts_nothing(tmp_path):
    reader = Reader(error=StackStateError("must not be called", "failed"))
    plain = "config:\n  k2:environment: dev\n  k2:bootstrapServers: 127.0.0.1:9092\n" \
            "  k2:schemaRegistryUrl: http://127.0.0.1:8081\n"
    found = login(tmp_path, {}, reader, plain)
    assert reader.calls == 0 and found.kafka_password is None and found.registry_basic_auth() is None


def test_a_stack_that_cannot_be_decrypted_names_its_keys_and_the_overrides(tmp_path):
    error = StackStateError("failed", "failed", stderr="error: incorrect passphrase")
    with pytest.raises(LoginError) as raised:
        login(tmp_path, {"K2_KAFKA_CA_LOCATION": "/ca.pem"}, Reader(error=error))
    message = str(raised.value)
    assert "stack prod's secrets (k2:saslPassword, k2:schemaRegistryPassword) cannot be decrypted here" in message
    assert "incorrect passphrase" in message and "PULUMI_CONFIG_PASSPHRASE" in message
    assert "set K2_KAFKA_PASSWORD, K2_SCHEMA_REGISTRY_PASSWORD" in message


def test_the_login_never_shows_a_secret(tmp_path):
    shown = repr(login(tmp_path, {}, Reader()))
    assert "kafka-pw" not in shown and "registry-pw" not in shown and "k2-platform" in shown
