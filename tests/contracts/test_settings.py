"""Stack settings: one reader for the program (Pulumi config), the CLI and the policy pack (config files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from k2infra.contracts.settings import (
    DockerSettings,
    SettingsError,
    StackConfigFiles,
    StackSettings,
    is_credential_key,
    plain_registry,
    project_name,
)
from tests.conftest import ROOT


def test_the_shipped_prod_stack_file():
    settings = StackSettings.from_files(ROOT, "prod")
    assert settings.environment == "prod" and settings.cluster == "existing"
    assert settings.bootstrap_servers[0] == "kafka-1.prod.k2.internal:9093" and len(settings.bootstrap_servers) == 3
    assert settings.security.tls and settings.security.sasl_mechanism == "scram-sha512"
    assert settings.security.protocol == "SASL_SSL"
    assert settings.topics_file == "topics.yaml"  # from Pulumi.yaml's project config


def test_the_shipped_dev_stack_file():
    settings = StackSettings.from_files(ROOT, "dev")
    assert (settings.cluster, settings.bootstrap_servers, settings.security.protocol) == \
        ("local", ("127.0.0.1:9092",), "PLAINTEXT")


def write(project: Path, stack: str, config: str, project_config: str = "") -> Path:
    project.mkdir(exist_ok=True)
    (project / "Pulumi.yaml").write_text(f"name: k2\nruntime: python\n{project_config}")
    (project / f"Pulumi.{stack}.yaml").write_text(config)
    return project


def test_values_from_pulumi_config_and_from_files_agree(tmp_path):
    config = {"environment": "prod", "cluster": "existing", "bootstrapServers": "a:1, b:2", "tls": "true",
              "schemaRegistryUrl": "https://r", "saslMechanism": "plain", "saslUsername": "u"}
    lines = "".join(f"  k2:{k}: {v!r}\n" for k, v in config.items())
    from_files = StackSettings.from_files(write(tmp_path / "p", "staging", f"config:\n{lines}"), "staging")
    assert from_files == StackSettings.from_values("staging", config.get)
    assert from_files.bootstrap_servers == ("a:1", "b:2") and from_files.security.protocol == "SASL_SSL"


def test_docker_mode_derives_its_endpoints(tmp_path):
    settings = StackSettings.from_values("dev", {"cluster": "docker", "dockerKafkaPort": "29092"}.get)
    assert settings.bootstrap_servers == ("127.0.0.1:29092",)
    assert settings.schema_registry_url == "http://127.0.0.1:8081/apis/ccompat/v7"


@pytest.mark.parametrize(("values", "message"), [
    ({"cluster": "k8s"}, "k2:cluster is 'k8s'; use one of local, docker, existing"),
    ({"schemaRegistryUrl": "u"}, "k2:bootstrapServers is not set for stack s: pulumi config set k2:bootstrapServers"),
    ({"bootstrapServers": "h:1", "schemaRegistryUrl": "u", "tls": "yes"}, "k2:tls is 'yes' for stack s; use true"),
    ({"cluster": "docker", "dockerKafkaPort": "x"}, "k2:dockerKafkaPort is 'x' for stack s; use a whole number"),
])
def test_bad_settings_name_the_key(values, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        StackSettings.from_values("s", values.get)


def test_the_file_reader_knows_encrypted_values_without_reading_them(tmp_path):
    project = write(tmp_path / "p", "prod",
                    "config:\n  k2:saslPassword:\n    secure: v1:abc\n  k2:saslUsername: k2\n",
                    "config:\n  k2:topicsFile:\n    value: other.yaml\n")
    files = StackConfigFiles.read(project, "prod")
    by_key = {e.key: e for e in files.entries}
    assert by_key["k2:saslPassword"].secure and by_key["k2:saslPassword"].value is None
    assert files.value("topicsFile") == "other.yaml" and files.value("saslUsername") == "k2"
    assert files.value("saslPassword") is None


def test_the_stack_file_wins_over_the_project_file_and_stack_config_dir_is_followed(tmp_path):
    project = tmp_path / "p"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: k2\nstackConfigDir: stacks\nconfig:\n  k2:topicsFile:\n"
                                         "    value: a.yaml\n")
    (project / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  k2:topicsFile: b.yaml\n")
    assert StackConfigFiles.read(project, "dev").value("topicsFile") == "b.yaml"


def test_a_broken_stack_file_is_named(tmp_path):
    project = write(tmp_path / "p", "dev", "config: [unclosed\n")
    with pytest.raises(SettingsError, match=r"Pulumi\.dev\.yaml:\d+: YAML syntax error"):
        StackSettings.from_files(project, "dev")


@pytest.mark.parametrize(("content", "message"), [
    (b"config:\n  k2:cluster: caf\xe9\n", r"Pulumi\.dev\.yaml:2: byte 0xe9 at column 18 is not UTF-8"),
    (b"config:\n  k2:cluster: \x00\n", r"Pulumi\.dev\.yaml:2: character U\+0000 at column 15 is not allowed"),
    (b"a: &x [1]\nconfig: *x\n", r"Pulumi\.dev\.yaml:1: anchor &x: YAML anchors and aliases are not accepted"),
    (b"config:\n  k2:cluster: local\n  k2:cluster: docker\n", r"Pulumi\.dev\.yaml:3: duplicate key 'k2:cluster'"),
    (b"config: " + b"[" * 70 + b"]" * 70 + b"\n", r"Pulumi\.dev\.yaml:1: nested more than 64 levels deep"),
    (b"#" * (1024 * 1024 + 1), r"Pulumi\.dev\.yaml: the file is 1\.0 MB; K2 reads at most 1 MB here"),
])
def test_a_careless_or_hostile_stack_file_is_a_located_error(tmp_path, content, message):
    project = write(tmp_path / "p", "dev", "")
    (project / "Pulumi.dev.yaml").write_bytes(content)
    with pytest.raises(SettingsError, match=message):
        StackSettings.from_files(project, "dev")


def test_a_stack_file_that_is_a_fifo_or_a_directory_is_refused(tmp_path):
    project = write(tmp_path / "p", "dev", "")
    (project / "Pulumi.dev.yaml").unlink()
    os.mkfifo(project / "Pulumi.dev.yaml")
    with pytest.raises(SettingsError, match=r"Pulumi\.dev\.yaml: is not a regular file"):
        StackConfigFiles.read(project, "dev")
    (project / "Pulumi.dev.yaml").unlink()
    (project / "Pulumi.dev.yaml").mkdir()
    with pytest.raises(SettingsError, match=r"Pulumi\.dev\.yaml: is a directory, not a file"):
        StackConfigFiles.read(project, "dev")


def test_a_missing_stack_file_is_no_settings(tmp_path):
    project = write(tmp_path / "p", "dev", "")
    (project / "Pulumi.dev.yaml").unlink()
    assert StackConfigFiles.read(project, "dev").entries == ()


def test_a_project_without_a_name_is_named(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("runtime: python\n")
    with pytest.raises(SettingsError, match=r"Pulumi\.yaml: no project name"):
        project_name(tmp_path)


def test_docker_images_default_to_the_versions_the_bootstrap_fetches():
    """K2's images are built from the Kafka jars and Apicurio distribution of scripts/env.sh's versions."""
    env = dict(line.split("=", 1) for line in (ROOT / "scripts" / "env.sh").read_text().splitlines()
               if line.startswith("export K2_") and "_VERSION=" in line)
    kafka, apicurio = (env[f"export K2_{k}_VERSION"].split()[0] for k in ("KAFKA", "APICURIO"))
    assert DockerSettings().kafka_image == f"localhost/k2/kafka:{kafka}"
    assert DockerSettings().registry_image == f"localhost/k2/apicurio:{apicurio}"


@pytest.mark.parametrize(("stack_file", "reason"), [
    ("encryptionsalt: v1:fRmx3wfZcF0=:v1:FW9O\n", "Pulumi.prod.yaml holds a passphrase's encryptionsalt"),
    ("secretsprovider: passphrase\n", "Pulumi.prod.yaml names secretsprovider: passphrase"),
    ("config: {}\n", "Pulumi.prod.yaml names no secretsprovider, and a file or S3 backend then uses a passphrase"),
    ("secretsprovider: awskms://alias/k2-team-a?region=eu-west-1\nencryptedkey: AQICAHh0\n", None),
    ("secretsprovider: hashivault://k2\n", None),
])
def test_the_stack_file_says_whether_its_secrets_hang_on_a_passphrase(tmp_path, stack_file, reason):
    # `pulumi stack init` writes only an encryptionsalt for a passphrase, a secretsprovider for a key service.
    assert StackConfigFiles.read(write(tmp_path / "p", "prod", stack_file), "prod").passphrase() == reason


def test_a_missing_stack_file_counts_as_a_passphrase_stack(tmp_path):
    project = write(tmp_path / "p", "dev", "config: {}\n")
    assert StackConfigFiles.read(project, "prod").passphrase() == (
        "Pulumi.prod.yaml names no secretsprovider, and a file or S3 backend then uses a passphrase")


@pytest.mark.parametrize(("content", "message"), [
    (b"config:\n  k2:tls: \xff\n", r"Pulumi\.dev\.yaml:2: byte 0xff at column 11 is not UTF-8: save the file as UTF-8"),
    (b"config:\n  k2:tls: a\x00b\n", r"Pulumi\.dev\.yaml:2: character U\+0000 at column 12 is not allowed in YAML"),
    (b"config: " + b"[" * 5000 + b"]" * 5000 + b"\n", r"Pulumi\.dev\.yaml:1: nested more than 64 levels deep"),
    (b"- config\n- k2:environment\n", r"Pulumi\.dev\.yaml:1: the file must be a mapping .*, not a list"),
    (b"a: 1\nconfig: [k2:environment]\n", r"Pulumi\.dev\.yaml:2: config: must be a mapping of keys"),
])
def test_a_stack_file_that_is_not_text_is_named_not_a_traceback(tmp_path, content, message):
    project = write(tmp_path / "p", "dev", "")
    (project / "Pulumi.dev.yaml").write_bytes(content)
    with pytest.raises(SettingsError, match=message):
        StackConfigFiles.read(project, "dev")


CREDENTIALS = ["k2:saslPassword", "k2:schemaRegistryPassword", "k2:caCert", "k2:clientKeyPassphrase", "passphrase",
               "k2:adminPwd", "pwd", "k2:saslJaas", "sasl.jaas.config", "ssl.key.password", "ssl.keystore.key",
               "k2:keystore", "k2:secret", "k2:clientSecret", "token", "k2:authToken", "k2:credentials",
               "apikey", "apiKey", "api_key", "k2:privateKey", "private_key", "k2:accessKey", "basic_auth", "auth",
               "k2:auth", "k2:proxyAuth", "sasl.auth", "AUTH_TOKEN"]
NOT_CREDENTIALS = ["k2:saslUsername", "k2:saslMechanism", "k2:bootstrapServers", "k2:schemaRegistryUrl", "k2:tls",
                   "k2:environment", "k2:topicsFile", "k2:cluster", "author", "authority", "k2:authorizer",
                   "authorizer.class.name", "authentication", "oauth", "OAuth", "security_protocol"]


@pytest.mark.parametrize("key", CREDENTIALS)
def test_keys_that_name_a_credential(key):
    assert is_credential_key(key)


@pytest.mark.parametrize("key", NOT_CREDENTIALS)
def test_keys_that_name_no_credential(key):
    assert not is_credential_key(key)


def test_credentials_in_plain_text_are_located_and_encrypted_ones_pass(tmp_path):
    project = write(tmp_path / "p", "dev", "config:\n  k2:environment: dev\n  k2:saslPassword:\n    secure: v1:x\n"
                    "  k2:kafka:\n    sasl.jaas.config: PlainLoginModule\n  k2:schemaRegistryPassword: pw\n",
                    project_config="config:\n  k2:apiKey:\n    value: abc\n")
    files = StackConfigFiles.read(project, "dev")
    assert [(e.where, key) for e, key in files.plain_credential_entries()] == [
        ("Pulumi.yaml:4", "k2:apiKey"), ("Pulumi.dev.yaml:5", "k2:kafka.sasl.jaas.config"),
        ("Pulumi.dev.yaml:7", "k2:schemaRegistryPassword")]
    assert files.secure_keys() == {"saslPassword"}
    assert files.plain_credentials()[2].startswith("Pulumi.dev.yaml:7: k2:schemaRegistryPassword: a credential "
                                                   "written in plain text; store it encrypted with `pulumi config "
                                                   "set --secret k2:schemaRegistryPassword <value> --stack dev`")


@pytest.mark.parametrize(("url", "refused"), [("http://r:8081/apis/ccompat/v7", True),
                                               ("HTTPS://r/apis/ccompat/v7", False),
                                               ("http://127.0.0.1:8081/apis/ccompat/v7", False),  # crosses no network
                                               ("http://[::1", True)])
def test_a_protected_registry_must_be_https(tmp_path, url, refused):
    project = write(tmp_path / "p", "prod", f"config:\n  k2:environment: prod\n  k2:bootstrapServers: k:9093\n"
                    f"  k2:schemaRegistryUrl: {url}\n")
    problem = plain_registry(StackSettings.from_files(project, "prod"), StackConfigFiles.read(project, "prod"))
    assert (problem is not None) == refused
    if refused:
        assert problem.startswith(f"Pulumi.prod.yaml:4: k2:schemaRegistryUrl: '{url}' is not https")
