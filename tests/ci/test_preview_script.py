"""scripts/preview --topology DIR: a pull request gives its topics.yaml and schemas/ as data and nothing else; the
program, the stack files and the policy pack stay the project's. Run against an s3:// backend with no credentials,
so each stack stops at the backend pre-check: no Pulumi, no cluster, about a second."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.aws import aws_env, environ_with
from tests.conftest import ROOT

EVIL_STACK_FILE = ("config:\n  k2:environment: prod\n  k2:bootstrapServers: attacker.example:9092\n"
                   "secretsprovider: awskms://alias/attacker?region=us-east-1\n")


@pytest.fixture
def pull_request(tmp_path: Path) -> Path:
    """A pull request's checkout: the shipped topology, plus code and a stack file of its own."""
    head = tmp_path / "pull-request"
    head.mkdir()
    shutil.copy(ROOT / "topics.yaml", head / "topics.yaml")
    shutil.copytree(ROOT / "schemas", head / "schemas")
    (head / "__main__.py").write_text("raise SystemExit('the pull request's program ran')\n")
    (head / "Pulumi.prod.yaml").write_text(EVIL_STACK_FILE)
    return head


def preview(tmp_path: Path, head: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    out = tmp_path / "preview.md"
    env = environ_with({**aws_env(None, tmp_path, credentials=False),
                        "PULUMI_BACKEND_URL": "s3://k2-no-such-state?region=us-east-1"})
    env.pop("PULUMI_CONFIG_PASSPHRASE", None)
    done = subprocess.run([str(ROOT / "scripts" / "preview"), "--topology", str(head), "--stack", "prod",
                           "--out", str(out)], env=env, capture_output=True, text=True, timeout=120)
    return done, out.read_text()


def test_the_pull_requests_topology_is_checked_with_the_projects_stack_files(tmp_path: Path, pull_request: Path):
    text = (pull_request / "topics.yaml").read_text()
    (pull_request / "topics.yaml").write_text(text.replace("partitions: 30", "partitions: 0", 1))
    done, report = preview(tmp_path, pull_request)
    assert done.returncode == 1
    assert "topology (topics.yaml, schemas/) from `none`, code and stack files from `" in report
    # The pull request's topics.yaml is the one validated, and named as the repository names it.
    assert "  - topics.yaml:12: asset_classes.equities.exchanges.asx.partitions: must be 1 or more, got 0" in report
    # The stack file is the project's (the shipped Pulumi.prod.yaml), not the one the pull request brought.
    assert "stack prod's secrets are encrypted with a passphrase (Pulumi.prod.yaml names no secretsprovider" \
        in report
    assert "attacker" not in report


@pytest.mark.parametrize("odd", ["schemas/trade.avsc", "schemas", "topics.yaml"])
def test_a_symlink_in_the_pull_request_is_refused_before_anything_reads_it(tmp_path: Path, pull_request: Path,
                                                                         odd: str):
    target = pull_request / odd
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    target.symlink_to("/etc/passwd")
    done, report = preview(tmp_path, pull_request)
    assert done.returncode == 1
    assert "the pull request's topics.yaml and schemas/: ❌ failed (exit 1)" in report
    if odd == "topics.yaml":
        assert f"{pull_request}/topics.yaml is not a regular file: only regular files are read from a pull " \
               "request" in report
    else:
        assert f"not regular files: {odd}: only regular files are read from a pull request's topics.yaml and " \
               "schemas/" in report
    assert "`k2 validate`: not run" in report and "k2 validate: " not in report and "root:" not in report
    assert "| `prod` |" not in report  # no stack was previewed
