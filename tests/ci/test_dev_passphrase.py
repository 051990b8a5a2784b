"""The dev stacks' public passphrase stays with the dev stacks: scripts/dev-pulumi gives it to one pulumi command on
dev or dev-docker and refuses any other stack, and no script or doc exports it into a shell (where `pulumi stack
init prod` would use it). With the real Pulumi CLI on a file backend in a temporary directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

DEV_PULUMI = str(ROOT / "scripts" / "dev-pulumi")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    (tmp_path / "state").mkdir()
    return project


def run(project: Path, *args: str, command: str = DEV_PULUMI) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG_PASSPHRASE")}
    env["PULUMI_BACKEND_URL"] = f"file://{project.parent / 'state'}"
    return subprocess.run([command, *args, "--non-interactive"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_dev_stack_gets_the_passphrase_for_one_command(project: Path):
    assert run(project, "stack", "init", "--stack", "dev").returncode == 0
    assert "encryptionsalt:" in (project / "Pulumi.dev.yaml").read_text()
    assert run(project, "config", "set", "--secret", "k2:saslPassword", "dev-only-pw", "--stack", "dev").returncode == 0
    assert run(project, "config", "get", "k2:saslPassword", "--stack", "dev").stdout.strip() == "dev-only-pw"
    # Without the script, the shell has no passphrase: nothing else can use it.
    bare = run(project, "config", "get", "k2:saslPassword", "--stack", "dev", command="pulumi")
    assert bare.returncode != 0 and "passphrase must be set" in bare.stderr


@pytest.mark.parametrize(("args", "got"), [
    (("stack", "init", "--stack", "prod"), "prod"),
    (("stack", "init", "-s", "prod-eu"), "prod-eu"),
    (("stack", "init", "--stack=staging"), "staging"),
    (("stack", "init", "prod"), "none"),  # the positional name is not trusted: --stack must say it
])
def test_any_other_stack_is_refused_before_pulumi_runs(project: Path, args: tuple[str, ...], got: str):
    done = run(project, *args)
    assert done.returncode == 2
    assert done.stderr == (f"scripts/dev-pulumi: only for the dev stacks (dev dev-docker), named with --stack; got "
                           f"{got}. Run pulumi itself for other stacks: they have their own secrets provider "
                           "(docs/team-operations.md)\n")
    assert sorted(p.name for p in project.iterdir()) == ["Pulumi.yaml"]  # no stack file written
    assert not any((project.parent / "state").iterdir())


def test_no_script_or_doc_exports_the_passphrase_into_a_shell():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "scripts").iterdir()),
             ROOT / "bin" / "k2"]
    exported = re.compile(r"export\s+PULUMI_CONFIG_PASSPHRASE")
    assert [f.name for f in files if f.is_file() and exported.search(f.read_text())] == []
    env_sh = (ROOT / "scripts" / "env.sh").read_text()
    assert "K2_DEV_PASSPHRASE=k2-dev-only" in env_sh and "export K2_DEV_PASSPHRASE" not in env_sh
    dev_up = (ROOT / "scripts" / "dev-up").read_text()
    assert 'dev_secrets=(env "PULUMI_CONFIG_PASSPHRASE=' in dev_up  # given to its dev-stack commands one by one
