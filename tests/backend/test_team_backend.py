"""scripts/team-backend: its reading of backend and KMS URLs, and `create` then `check` against moto's server
(real HTTP); the same commands on the real Pulumi CLI are in tests/e2e/test_team_ops.py."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from k2infra.backend.team_backend import KmsKey, S3Backend
from k2infra.cli import app
from tests.aws import MotoServer, aws_env, moto_server
from tests.conftest import ROOT


def test_a_backend_url_with_the_query_parameters_pulumi_takes():
    backend = S3Backend.parse("s3://k2-state/team-a?region=eu-west-1&endpoint=http://127.0.0.1:9000"
                              "&s3ForcePathStyle=true&awssdk=v2")
    assert (backend.bucket, backend.prefix, backend.state_prefix) == ("k2-state", "team-a", "team-a/.pulumi/")
    assert (backend.target.region, backend.target.endpoint, backend.target.path_style) == (
        "eu-west-1", "http://127.0.0.1:9000", True)
    assert S3Backend.parse("s3://k2-state").state_prefix == ".pulumi/"


@pytest.mark.parametrize(("url", "key_id"), [
    ("awskms://alias/k2-team-a?region=eu-west-1", "alias/k2-team-a"),
    ("awskms://1234abcd-12ab-34cd-56ef-1234567890ab?region=eu-west-1", "1234abcd-12ab-34cd-56ef-1234567890ab"),
    ("awskms:///arn:aws:kms:eu-west-1:111122223333:key/1234abcd?region=eu-west-1",
     "arn:aws:kms:eu-west-1:111122223333:key/1234abcd"),
])
def test_a_kms_url_in_each_form_gocloud_reads(url, key_id):
    key = KmsKey.parse(url)
    assert key.key_id == key_id and key.target.region == "eu-west-1"


def test_a_kms_encryption_context_is_kept():
    assert KmsKey.parse("awskms://alias/k?context_team=a&context_env=prod").target.context == {"team": "a",
                                                                                                "env": "prod"}


@pytest.fixture
def aws(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
        ) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        for name in [k for k in os.environ if k.startswith("AWS_")]:
            monkeypatch.delenv(name)
        for name, value in aws_env(server.endpoint, tmp_path).items():
            monkeypatch.setenv(name, value)
        yield server


def main(args: list[str], capsys: pytest.CaptureFixture[str]) -> int:
    """`k2 team-backend ARGS` (scripts/team-backend), its output captured as a process's would be."""
    result = CliRunner().invoke(app, ["team-backend", *args])
    print(result.stdout, end="")
    print(result.stderr, end="", file=sys.stderr)
    return result.exit_code


def test_create_is_idempotent_and_check_then_passes(aws, capsys, monkeypatch, tmp_path):
    args = ["create", "--bucket", "k2-unit-state", "--outputs-bucket", "k2-unit-outputs", "--kms-alias", "k2-unit",
            "--region", "us-east-1"]
    assert main(args, capsys) == 0
    first = capsys.readouterr().out
    assert "bucket k2-unit-state: created" in first and "KMS key alias/k2-unit: created" in first
    assert main(args, capsys) == 0
    assert "bucket k2-unit-state: exists, kept" in capsys.readouterr().out
    s3 = aws.client("s3")
    assert s3.get_bucket_versioning(Bucket="k2-unit-state")["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket="k2-unit-outputs")["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
    kms = aws.client("kms")
    key_id = kms.describe_key(KeyId="alias/k2-unit")["KeyMetadata"]["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]

    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://k2-unit-state?region=us-east-1")
    (tmp_path / "Pulumi.prod.yaml").write_text("secretsprovider: awskms://alias/k2-unit?region=us-east-1\n")
    assert main(["check", "--stack", "prod", "--config", str(tmp_path / "topics.yaml")], capsys) == 0
    out = capsys.readouterr().out
    assert "ok   state bucket k2-unit-state is readable" in out
    assert "ok   stack prod: KMS key alias/k2-unit encrypts (the stack has no data key yet)" in out


def test_check_names_an_unknown_key_and_a_missing_passphrase(aws, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    shutil.copy(ROOT / "topics.yaml", tmp_path / "topics.yaml")  # dev: not protected, so its passphrase may do
    (tmp_path / "Pulumi.prod.yaml").write_text("secretsprovider: awskms://alias/nobody?region=us-east-1\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("encryptionsalt: v1:abc\n")
    assert main(["check", "--stack", "prod", "--stack", "dev", "--config", str(tmp_path / "topics.yaml")],
                capsys) == 1
    err = capsys.readouterr().err
    assert "!!!  stack prod: the KMS key alias/nobody (awskms://alias/nobody?region=us-east-1) cannot encrypt " \
           "with it (NotFoundException" in err
    assert "!!!  stack dev encrypts its secrets with a passphrase: set PULUMI_CONFIG_PASSPHRASE" in err


# --- a protected environment refuses the passphrase ---------------------------------------------------------

DEV_PASSPHRASE_SALT = "encryptionsalt: v1:fRmx3wfZcF0=:v1:FW9OxvTY1kA/Fn4F:uIDxrcIWY6opETEyYvL+1LnWjzhv/Q==\n"
PROD_EU = "  prod-eu:\n    replication_factor: 3\n    min_insync_replicas: 2\n    protected: true\n  prod:\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped project files, a file backend, and the dev passphrase exported in the shell, as the README
    once advised: what `pulumi stack init prod` in that shell then used."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "topics.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "topics.yaml").write_text((ROOT / "topics.yaml").read_text().replace("  prod:\n", PROD_EU))
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}/state")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "k2-dev-only")
    return tmp_path


def check(project: Path, capsys: pytest.CaptureFixture[str], *stacks: str, config: str = "topics.yaml"
          ) -> tuple[int, str, str]:
    code = main(["check", *(a for s in stacks for a in ("--stack", s)), "--config", str(project / config)], capsys)
    out, err = capsys.readouterr()
    return code, out, err


def refusal(stack: str, environment: str, reason: str) -> str:
    key = "'awskms://alias/<team-key>?region=<region>'"
    return (f"!!!  stack {stack}: environment {environment} is protected, yet stack {stack}'s secrets are encrypted "
            f"with a passphrase ({reason}): whoever has or guesses it decrypts them, and the dev stacks' passphrase "
            f"is public: pulumi stack change-secrets-provider --stack {stack} {key} (a new stack: pulumi stack "
            f"init {stack} --secrets-provider {key}), then commit Pulumi.{stack}.yaml (docs/team-operations.md)\n")


@pytest.mark.parametrize(("stack", "environment", "stack_file"), [
    ("prod", "prod", DEV_PASSPHRASE_SALT),                                    # `pulumi stack init prod`
    ("prod-eu", "prod-eu", DEV_PASSPHRASE_SALT),                              # protected under another name
    ("live", "prod", f"config:\n  k2:environment: prod\n{DEV_PASSPHRASE_SALT}"),  # k2:environment says which
    ("prod-us", "prod-us", DEV_PASSPHRASE_SALT),                              # not declared: counts as protected
])
def test_a_protected_environment_under_a_passphrase_fails_even_with_the_passphrase_set(
        project: Path, capsys, stack: str, environment: str, stack_file: str):
    (project / f"Pulumi.{stack}.yaml").write_text(stack_file)
    code, out, err = check(project, capsys, stack)
    assert code == 1
    assert err == refusal(stack, environment, f"Pulumi.{stack}.yaml holds a passphrase's encryptionsalt")
    assert "passphrase is set" not in out


def test_a_protected_stack_that_names_no_provider_fails(project: Path, capsys):
    shutil.copy(ROOT / "Pulumi.prod.yaml", project / "Pulumi.prod.yaml")  # the shipped template, before stack init
    code, _, err = check(project, capsys, "prod")
    assert code == 1 and err == refusal(
        "prod", "prod", "Pulumi.prod.yaml names no secretsprovider, and a file or S3 backend then uses a passphrase")


def test_the_dev_stack_keeps_its_passphrase(project: Path, capsys):
    code, out, err = check(project, capsys, "dev")
    assert (code, err) == (0, "")
    assert "ok   stack dev: passphrase secrets provider, and a passphrase is set" in out


def test_an_unreadable_topology_counts_as_protected_and_says_why(project: Path, capsys):
    (project / "topics.yaml").write_text("asset_classes: [unclosed\n")
    code, out, err = check(project, capsys, "dev")
    assert code == 1
    assert "note stack dev: environment dev is checked as a protected one: the topology cannot be read (" in out
    assert err == refusal("dev", "dev", "Pulumi.dev.yaml holds a passphrase's encryptionsalt")


def test_an_unreadable_stack_file_is_a_named_problem_not_a_traceback(project: Path, capsys):
    (project / "Pulumi.prod.yaml").write_bytes(b"config:\n  k2:tls: \xff\n")
    code, _, err = check(project, capsys, "prod")
    assert code == 1
    assert err == f"!!!  stack prod: {project}/Pulumi.prod.yaml:2: byte 0xff at column 11 is not UTF-8: save the " \
                  "file as UTF-8\n"
