"""Team and prod operations on the real Pulumi CLI, against moto's server on loopback (S3, KMS, IAM) and the
session's Kafka and Apicurio: state in an S3 bucket, secrets under a KMS key (no passphrase), the outputs
published to S3 for apps, two operators' concurrent `up`, rotating the secrets provider, each failure to
use AWS named, and scripts/preview.

One team backend and one stack serve the module (each `up` costs seconds on two shared cores); every test
leaves the stack deployed and consistent, and the module's end destroys it and empties the platform.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from k2infra.backend.team_backend import KmsKey
from k2infra.clients import StackOutputsError, load_stack_outputs
from k2infra.local import PlatformState
from tests.aws import REGION, MotoServer, aws_env, environ_with, moto_server
from tests.conftest import ROOT, make_project, wait_for
from tests.e2e.conftest import PulumiError, empty_platform, stack_config, topics_on_cluster

STATE_BUCKET = "k2-team-a-state"
OUTPUTS_BUCKET = "k2-team-a-outputs"
KEY_ALIAS = "alias/k2-team-a"
NEW_KEY_ALIAS = "alias/k2-team-a-2027"
STACK = "teamops"
PROJECT = "k2"  # Pulumi.yaml's name
REGISTRY_PASSWORD = "registry-pw-5eb1a7e-kms"
BACKEND_URL = f"s3://{STATE_BUCKET}?region={REGION}&s3ForcePathStyle=true"
SECRETS_PROVIDER = f"awskms://{KEY_ALIAS}?region={REGION}"
OUTPUTS_URL = f"s3://{OUTPUTS_BUCKET}/team-a/{STACK}.json?region={REGION}"
STATE_KEY = f".pulumi/stacks/{PROJECT}/{STACK}.json"


@dataclass
class TeamStack:
    """The real `pulumi` CLI on a project copy, state in moto's S3, secrets under moto's KMS."""

    project: Path
    moto: MotoServer
    home: Path
    name: str = STACK
    credentials: tuple[str, str] = ("testing", "testing")

    def env(self, **extra: str) -> dict[str, str]:
        env = environ_with({**aws_env(self.moto.endpoint, self.home), "PULUMI_BACKEND_URL": BACKEND_URL,
                            "PULUMI_SKIP_CONFIRMATIONS": "true",
                            "AWS_ACCESS_KEY_ID": self.credentials[0], "AWS_SECRET_ACCESS_KEY": self.credentials[1]})
        env.pop("PULUMI_CONFIG_PASSPHRASE", None)  # no passphrase anywhere: KMS only
        env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
        return {**env, **extra}

    def run(self, *args: str, check: bool = True, timeout: float = 300, stack: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        command = ["pulumi", *args, *(["--stack", self.name] if stack else []), "--non-interactive"]
        started = time.monotonic()
        done = subprocess.run(command, cwd=self.project, env=env or self.env(), capture_output=True, text=True,
                              timeout=timeout)
        print(f"$ pulumi {' '.join(args)}  ({time.monotonic() - started:.1f}s, exit {done.returncode})")
        if check and done.returncode != 0:
            raise PulumiError(f"pulumi {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def up(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("up", "--yes", "--skip-preview", *extra, check=check)

    def script(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(ROOT / "scripts" / name), *args], cwd=self.project, env=env or self.env(),
                              capture_output=True, text=True, timeout=600)
        print(f"$ scripts/{name} {' '.join(args)}  (exit {done.returncode})\n{done.stdout}\n{done.stderr}")
        return done

    def state_object(self) -> str:
        return self.moto.client("s3").get_object(Bucket=STATE_BUCKET, Key=STATE_KEY)["Body"].read().decode()

    def lock_keys(self) -> list[str]:
        listed = self.moto.client("s3").list_objects_v2(Bucket=STATE_BUCKET, Prefix=".pulumi/locks/")
        return [o["Key"] for o in listed.get("Contents", [])]

    def stack_file(self) -> dict[str, Any]:
        from ruamel.yaml import YAML

        return YAML(typ="safe").load((self.project / f"Pulumi.{self.name}.yaml").read_text())


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="module")
def team(moto: MotoServer, platform: PlatformState, admin, registry,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamStack]:
    """The README's operator commands for a new team: the backend, a KMS-encrypted stack, the first up."""
    home = tmp_path_factory.mktemp("team-home")
    stack = TeamStack(make_project(tmp_path_factory.mktemp("team-project") / "project"), moto, home)
    made = stack.script("team-backend", "create", "--bucket", STATE_BUCKET, "--outputs-bucket", OUTPUTS_BUCKET,
                        "--kms-alias", KEY_ALIAS, "--region", REGION)
    assert made.returncode == 0, made.stderr
    assert f"export PULUMI_BACKEND_URL='s3://{STATE_BUCKET}?region={REGION}'" in made.stdout
    assert f"--secrets-provider 'awskms://{KEY_ALIAS}?region={REGION}'" in made.stdout
    stack.run("stack", "init", "--secrets-provider", SECRETS_PROVIDER)
    for key, value in {**stack_config(platform), "k2:schemaRegistryUsername": "k2",
                       "k2:publishOutputs": OUTPUTS_URL}.items():
        stack.run("config", "set", key, value)
    stack.run("config", "set", "--secret", "k2:schemaRegistryPassword", REGISTRY_PASSWORD)
    try:
        yield stack
    finally:
        moto.enforce_iam(False)
        stack.run("destroy", "--yes", check=False)
        empty_platform(admin, registry, platform.schema_registry_url)


@pytest.fixture(autouse=True)
def aws_here(moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """This process's own boto3 calls (the app helpers under test) reach moto only, with dummy keys."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in aws_env(moto.endpoint, tmp_path).items():
        monkeypatch.setenv(name, value)


def test_state_in_s3_with_kms_secrets_init_preview_up_refresh(team: TeamStack, admin):
    check = team.script("team-backend", "check", "--stack", team.name, "--config", str(team.project / "topics.yaml"))
    assert check.returncode == 0
    assert f"ok   state bucket {STATE_BUCKET} is readable" in check.stdout
    assert f"ok   stack {team.name}: KMS key {KEY_ALIAS} decrypts the stack's data key" in check.stdout

    steps = json.loads(team.run("preview", "--json").stdout)["steps"]
    assert len([s for s in steps if s["op"] == "create"]) >= 13  # 6 topics, 6 subjects, the published outputs
    assert topics_on_cluster(admin) == {}  # a preview creates nothing

    team.up()
    assert len(topics_on_cluster(admin)) == 6
    assert team.lock_keys() == []  # released after the update
    team.run("refresh", "--yes", "--skip-preview")
    team.run("preview", "--expect-no-changes")

    # The state object itself, read with boto3: the password only as KMS-protected ciphertext.
    state = team.state_object()
    assert REGISTRY_PASSWORD not in state
    deployment = json.loads(state)["checkpoint"]["latest"]
    provider = deployment["secrets_providers"]
    assert provider["type"] == "cloud" and provider["state"]["url"] == SECRETS_PROVIDER
    ciphertexts = [json.dumps(r["inputs"]["basic_auth"]) for r in deployment["resources"]
                   if r["type"] == "pulumi-python:dynamic:Resource" and "basic_auth" in r.get("inputs", {})]
    assert len(ciphertexts) == 6 and all('"ciphertext"' in c for c in ciphertexts)
    shown = team.run("stack", "export", "--show-secrets").stdout
    assert f"k2:{REGISTRY_PASSWORD}" in shown  # stored, decryptable with the key ...
    stack_file = team.stack_file()
    assert stack_file["secretsprovider"] == SECRETS_PROVIDER and "encryptionsalt" not in stack_file
    assert REGISTRY_PASSWORD not in (team.project / f"Pulumi.{team.name}.yaml").read_text()
    assert "PULUMI_CONFIG_PASSPHRASE" not in team.env()  # ... and no passphrase was ever given


def test_published_outputs_are_the_stack_outputs_and_an_app_reads_them_without_pulumi(team: TeamStack, tmp_path):
    outputs = json.loads(team.run("stack", "output", "--json").stdout)
    published = team.moto.client("s3").get_object(Bucket=OUTPUTS_BUCKET, Key=f"team-a/{STACK}.json")
    assert json.loads(published["Body"].read()) == load_stack_outputs(outputs).to_json_data()
    assert published["Metadata"]["k2-stack"] == STACK

    # The app: its own credentials, no Pulumi CLI on PATH, no backend URL, no passphrase.
    app_env = environ_with({**aws_env(team.moto.endpoint, tmp_path), "PATH": "/usr/bin:/bin",
                            "PYTHONPATH": str(ROOT), "K2_STACK_OUTPUTS": OUTPUTS_URL})
    app_env = {k: v for k, v in app_env.items() if not k.startswith("PULUMI_")}
    probe = ("import sys, json; from k2infra.clients import get_topic_builder, load_stack_outputs; "
             "o = load_stack_outputs(); print(json.dumps([o.bootstrap_servers, len(o.topics), "
             "sorted(m for m in ('pulumi',) if m in sys.modules)]))")
    done = subprocess.run([str(Path(os.environ.get("K2_VENV", "")) / "bin" / "python"), "-c", probe], env=app_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [outputs["bootstrap_servers"], 6, []]

    # Deleted outside K2: refresh sees it gone, the next up writes it again.
    team.moto.client("s3").delete_object(Bucket=OUTPUTS_BUCKET, Key=f"team-a/{STACK}.json")
    team.run("refresh", "--yes", "--skip-preview")
    team.up()
    assert load_stack_outputs(OUTPUTS_URL).to_json_data() == load_stack_outputs(outputs).to_json_data()


def gate_program(project: Path) -> None:
    """The K2 program, started only once the file named by $K2_E2E_GATE exists: holds an update (and its lock)
    open for as long as the test needs, without sleeping for a guessed time."""
    program = project / "k2_program.py"
    if not program.exists():
        (project / "__main__.py").rename(program)
    (project / "__main__.py").write_text(
        "import os, pathlib, runpy, time\n"
        "gate = os.environ.get('K2_E2E_GATE')\n"
        "deadline = time.monotonic() + 600\n"
        "while gate and not pathlib.Path(gate).exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.1)\n"
        "runpy.run_path(str(pathlib.Path(__file__).with_name('k2_program.py')), run_name='__main__')\n")


def test_a_second_operators_up_is_refused_by_the_lock_and_the_state_stays_intact(team: TeamStack, admin, tmp_path):
    gate_program(team.project)
    before = topics_on_cluster(admin)["market.equities.trades.asx"]
    history = len(json.loads(team.run("stack", "history", "--json").stdout))
    topology = (team.project / "topics.yaml").read_text()
    (team.project / "topics.yaml").write_text(topology.replace("partitions: 30", f"partitions: {before + 1}"))
    gate = tmp_path / "open"

    first = subprocess.Popen(["pulumi", "up", "--yes", "--skip-preview", "--stack", team.name, "--non-interactive"],
                             cwd=team.project, env=team.env(K2_E2E_GATE=str(gate)), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        def locked() -> bool:  # the first operator's update holds the stack's lock
            if team.lock_keys():
                return True
            assert first.poll() is None, first.communicate()[0]
            return False

        assert wait_for(locked, "the first up to take the lock", 120, every=0.1, fail=False), \
            "the first up never took the lock"
        second = team.up(check=False)
        refused = second.stdout + second.stderr
        assert second.returncode != 0
        assert "the stack is currently locked by 1 lock(s)" in refused
        assert f"s3://{STATE_BUCKET}" in refused and ".pulumi/locks/" in refused and "pulumi cancel" in refused
    finally:
        gate.touch()
        output = first.communicate(timeout=600)[0]
    assert first.returncode == 0, output

    assert topics_on_cluster(admin)["market.equities.trades.asx"] == before + 1
    assert team.lock_keys() == []
    updates = json.loads(team.run("stack", "history", "--json").stdout)
    assert len(updates) == history + 1 and updates[0]["result"] == "succeeded"  # the refused up left no trace
    exported = json.loads(team.run("stack", "export").stdout)
    topic = next(r for r in exported["deployment"]["resources"]
                 if r["type"] == "kafka:index/topic:Topic" and r["outputs"].get("name") == "market.equities.trades.asx")
    assert topic["outputs"]["partitions"] == before + 1
    team.run("preview", "--expect-no-changes")


def test_rotating_the_kms_key_reencrypts_every_secret(team: TeamStack):
    kms = team.moto.client("kms")
    new_key = kms.create_key(Description="team-a rotation")["KeyMetadata"]
    kms.create_alias(AliasName=NEW_KEY_ALIAS, TargetKeyId=new_key["KeyId"])
    old_state = json.loads(team.state_object())["checkpoint"]["latest"]
    new_provider = f"awskms://{NEW_KEY_ALIAS}?region={REGION}"

    team.run("stack", "change-secrets-provider", new_provider)

    stack_file = team.stack_file()
    assert stack_file["secretsprovider"] == new_provider
    data_key = kms.decrypt(CiphertextBlob=base64.b64decode(stack_file["encryptedkey"]))
    assert data_key["KeyId"] == new_key["Arn"]  # the stack's data key is now under the new key
    new_state = json.loads(team.state_object())["checkpoint"]["latest"]
    assert new_state["secrets_providers"]["state"]["url"] == new_provider
    old_ciphertexts = {c for c in json.dumps(old_state).split('"ciphertext": ')[1:]}
    assert all(c not in old_ciphertexts for c in json.dumps(new_state).split('"ciphertext": ')[1:])
    assert REGISTRY_PASSWORD not in team.state_object()
    assert team.run("config", "get", "k2:schemaRegistryPassword").stdout.strip() == REGISTRY_PASSWORD
    team.run("preview", "--expect-no-changes")  # the program still gets its secret
    check = team.script("team-backend", "check", "--stack", team.name, "--config", str(team.project / "topics.yaml"))
    assert f"KMS key {NEW_KEY_ALIAS} decrypts the stack's data key" in check.stdout


def iam_user(moto: MotoServer, name: str, statements: list[dict[str, Any]]) -> tuple[str, str]:
    iam = moto.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="k2", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_credentials_without_kms_decrypt_and_an_app_without_state_access(team: TeamStack, tmp_path, monkeypatch):
    """moto checks signatures and IAM policies (reset-auth): an operator who may use the bucket but not the key,
    and an app that may read only its outputs."""
    s3_only = iam_user(team.moto, "operator-no-kms", [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}])
    app = iam_user(team.moto, "app-reader", [{"Effect": "Allow", "Action": "s3:GetObject",
                                              "Resource": f"arn:aws:s3:::{OUTPUTS_BUCKET}/*"}])
    kms_only = iam_user(team.moto, "operator-no-s3", [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}])
    operator = TeamStack(team.project, team.moto, team.home, credentials=s3_only)
    team.moto.enforce_iam(True)
    try:
        no_bucket = TeamStack(team.project, team.moto, team.home, credentials=kms_only)
        denied = no_bucket.run("stack", "ls", stack=False, check=False)
        assert denied.returncode != 0 and "StatusCode: 403" in denied.stderr and "AccessDenied" in denied.stderr
        check = no_bucket.script("team-backend", "check")
        assert check.returncode == 1
        assert (f"!!!  state bucket {STATE_BUCKET} (PULUMI_BACKEND_URL): access denied (") in check.stderr
        assert (f"Pulumi needs s3:ListBucket on arn:aws:s3:::{STATE_BUCKET} and s3:GetObject, s3:PutObject, "
                f"s3:DeleteObject on arn:aws:s3:::{STATE_BUCKET}/.pulumi/*") in check.stderr

        denied = operator.run("preview", check=False)
        said = denied.stdout + denied.stderr
        assert denied.returncode != 0
        assert "get stack secrets manager" in said and "operation error KMS: Decrypt" in said and "403" in said
        check = operator.script("team-backend", "check", "--stack", team.name, "--config",
                                str(team.project / "topics.yaml"))
        assert check.returncode == 1
        assert f"ok   state bucket {STATE_BUCKET} is readable" in check.stdout
        key = KmsKey.parse(team.stack_file()["secretsprovider"]).key_id
        assert f"!!!  stack {team.name}: the KMS key {key}" in check.stderr
        assert "cannot decrypt this stack's data key (its secrets) (AccessDenied: User: " \
               "arn:aws:iam::123456789012:user/operator-no-kms is not authorized to perform: kms:Decrypt" \
               in check.stderr
        assert "the credentials need kms:Decrypt" in check.stderr

        for name, value in {**aws_env(team.moto.endpoint, tmp_path), "AWS_ACCESS_KEY_ID": app[0],
                            "AWS_SECRET_ACCESS_KEY": app[1]}.items():
            monkeypatch.setenv(name, value)
        assert len(load_stack_outputs(OUTPUTS_URL).topics) == 6  # what the app may read ...
        with pytest.raises(StackOutputsError, match=r"access denied .*need s3:GetObject on "
                                                    rf"arn:aws:s3:::{STATE_BUCKET}/{STATE_KEY}"):
            load_stack_outputs(f"s3://{STATE_BUCKET}/{STATE_KEY}")  # ... and not the state
    finally:
        team.moto.enforce_iam(False)


def test_a_missing_bucket_and_missing_credentials_are_named(team: TeamStack):
    missing = team.env(PULUMI_BACKEND_URL=f"s3://k2-no-such-state?region={REGION}&s3ForcePathStyle=true")
    said = team.run("stack", "ls", stack=False, check=False, env=missing)
    assert said.returncode != 0 and "NoSuchBucket: The specified bucket does not exist" in said.stderr
    check = team.script("team-backend", "check", env=missing)
    assert check.returncode == 1
    assert ("!!!  state bucket k2-no-such-state (PULUMI_BACKEND_URL): the bucket k2-no-such-state does not exist: "
            "create it with scripts/team-backend create --bucket k2-no-such-state") in check.stderr

    no_keys = {k: v for k, v in team.env().items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    said = team.run("stack", "ls", stack=False, check=False, env=no_keys)
    assert said.returncode != 0 and "get credentials: failed to refresh cached credentials" in said.stderr
    check = team.script("team-backend", "check", env=no_keys)
    assert check.returncode == 1
    assert (f"!!!  state bucket {STATE_BUCKET}: no AWS credentials were found: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)") in check.stderr

    # The program's own publishing: a bucket that does not exist fails the up, naming the setting; nothing else
    # changes, and the next up with the location corrected converges.
    team.run("config", "set", "k2:publishOutputs", f"s3://k2-no-such-outputs/{STACK}.json?region={REGION}")
    failed = team.up(check=False)
    assert failed.returncode != 0
    assert ("publishing the stack outputs: cannot write s3://k2-no-such-outputs/teamops.json: the bucket "
            "k2-no-such-outputs does not exist") in failed.stdout + failed.stderr
    assert "correct the bucket in k2:publishOutputs" in failed.stdout + failed.stderr
    team.run("config", "set", "k2:publishOutputs", OUTPUTS_URL)
    team.up()
    team.run("preview", "--expect-no-changes")


def test_scripts_preview_writes_the_report_ci_posts(team: TeamStack, tmp_path):
    report = tmp_path / "preview.md"
    done = team.script("preview", "--project", str(team.project), "--stack", team.name, "--out", str(report))
    assert done.returncode == 0
    text = report.read_text()
    assert text.startswith("<!-- k2-preview -->\n## K2 preview: ✅ every check passed")
    assert f"| `{team.name}` | ✅ passed | ✅ passed | ✅ passed |" in text
    assert "OK for dev: 6 topics, 6 subjects" in text  # k2 validate
    assert "Policy Packs run" in text and "k2-market-data|local|" in text  # the policy pack ran
    assert REGISTRY_PASSWORD not in text

    # A change that loses data: k2 plan refuses (exit 2), the preview fails, the report says which and why.
    topology = (team.project / "topics.yaml").read_text()
    try:
        (team.project / "topics.yaml").write_text(topology.replace("partitions: 40", "partitions: 20"))
        done = team.script("preview", "--project", str(team.project), "--stack", team.name, "--out", str(report))
        assert done.returncode == 1
        text = report.read_text()
        assert "## K2 preview: ❌ a check failed" in text
        assert f"| `{team.name}` | ✅ passed | ❌ failed (exit 2) | ❌ failed (exit 1) |" in text
        assert "<details open><summary>teamops: k2 plan: ❌ failed (exit 2)</summary>" in text
        assert "x refused  market.crypto.trades.binance: partitions 40 -> 20 refused" in text  # k2 plan
        assert "error: Refused, nothing was changed:\n  - market.crypto.quotes.binance: partitions 40 -> 20" in text
    finally:
        (team.project / "topics.yaml").write_text(topology)
