"""A stack created by the previous release (9f07e56, before issue 19 moved the dynamic providers to
k2infra.providers) is refreshed and destroyed by this one.

Pulumi stores each dynamic provider in state pickled by reference to its module path; the previous release's
state names k2infra.components.schema_subject and k2infra.components.published_outputs, which are shims now.
The previous release's program runs from `git archive` of its commit, with its own k2infra on PYTHONPATH; the
refresh, preview and destroy run from a project directory that holds no k2infra, so every provider call imports
this checkout's code (the shims) and nothing else.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.aws import REGION, MotoServer, aws_env, environ_with, moto_server
from tests.conftest import ROOT, make_project
from tests.e2e.conftest import (
    DESIGN_SUBJECTS,
    DESIGN_TOPICS,
    PulumiStack,
    empty_platform,
    stack_config,
    subjects_in_registry,
    topics_on_cluster,
)

PREVIOUS_RELEASE = "9f07e56"
PROGRAM = ["k2infra", "__main__.py", "Pulumi.yaml", "schemas", "topics.yaml"]
DYNAMIC = "pulumi-python:dynamic:Resource"
STACK = "upgrade"
OUTPUTS_BUCKET = "k2-upgrade-outputs"
OUTPUTS_KEY = f"{STACK}.json"


@dataclass
class ReleaseStack(PulumiStack):
    """PulumiStack with the environment of one release: its k2infra first on PYTHONPATH, AWS only through moto."""

    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return environ_with(self.extra, super().env())


def previous_release(directory: Path) -> Path:
    """The previous release's program and its k2infra, as `git archive` of its commit gives them."""
    archive = ["git", "-C", str(ROOT), "archive", "--format=tar", PREVIOUS_RELEASE, *PROGRAM]
    done = subprocess.run(archive, capture_output=True, timeout=120)
    if done.returncode != 0:  # a shallow clone lacks the commit: fetch the history from where it was cloned, once
        subprocess.run(["git", "-C", str(ROOT), "fetch", "--quiet", "--unshallow"], capture_output=True, timeout=300)
        done = subprocess.run(archive, capture_output=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"cannot read release {PREVIOUS_RELEASE} from {ROOT}'s git history (a shallow clone?): "
                    f"{done.stderr.decode(errors='replace')}")
    directory.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(directory, filter="data")
    assert (directory / "k2infra" / "components" / "schema_subject.py").is_file()
    assert not (directory / "k2infra" / "providers").exists(), "not the release before the move"
    return directory


def pickled_modules(export: dict) -> dict[str, set[str]]:
    """Each dynamic resource's type name -> the module paths its pickled provider names."""
    found: dict[str, set[str]] = {}
    for resource in export["deployment"].get("resources", []):
        if resource.get("type") != DYNAMIC:
            continue
        provider = resource["inputs"]["__provider"]
        if isinstance(provider, dict):  # a secret (the SDK marks the pickled provider so); export --show-secrets
            provider = json.loads(provider["plaintext"])
        pickled = base64.b64decode(provider)
        kind = resource["urn"].split("::")[-1]
        found[kind] = {m for m in ("k2infra.components.schema_subject", "k2infra.components.published_outputs",
                                   "k2infra.providers.schema_subject", "k2infra.providers.published_outputs")
                       if m.encode() in pickled}
    return found


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[MotoServer]:
    with moto_server(tmp_path / "moto") as server:
        server.client("s3").create_bucket(Bucket=OUTPUTS_BUCKET)
        yield server


def test_a_stack_of_the_previous_release_is_refreshed_and_destroyed_after_the_move(tmp_path, platform, admin, registry,
                                                                                   moto):
    home = tmp_path / "home"
    home.mkdir()
    aws = aws_env(moto.endpoint, home)
    old_dir = previous_release(tmp_path / "previous")
    old = ReleaseStack(old_dir, tmp_path / "backend", STACK, extra={**aws, "PYTHONPATH": str(old_dir)})
    config = {**stack_config(platform), "k2:allowTopicDeletion": "true",
              "k2:publishOutputs": f"s3://{OUTPUTS_BUCKET}/{OUTPUTS_KEY}?region={REGION}",
              "k2:unpublishOnDestroy": "true"}
    old.init(config)
    # This checkout's code, from a directory without a k2infra of its own: the same state, config and backend.
    new_dir = make_project(tmp_path / "current")
    shutil.copy(old_dir / f"Pulumi.{STACK}.yaml", new_dir / f"Pulumi.{STACK}.yaml")
    assert not (new_dir / "k2infra").exists()
    new = ReleaseStack(new_dir, old.backend, STACK, extra=aws)
    try:
        old.up()
        assert topics_on_cluster(admin) == DESIGN_TOPICS
        assert subjects_in_registry(registry) == DESIGN_SUBJECTS
        ids = {s: registry.get_latest_version(s).schema_id for s in DESIGN_SUBJECTS}
        published = moto.client("s3").get_object(Bucket=OUTPUTS_BUCKET, Key=OUTPUTS_KEY)["Body"].read()
        outputs = old.outputs()
        assert json.loads(published)["topics"] == outputs["topics"]
        # The previous release's state names the old module paths: what the shims are for.
        pickled = pickled_modules(json.loads(old.run("stack", "export", "--show-secrets").stdout))
        assert {kind: modules for kind, modules in pickled.items() if kind in DESIGN_SUBJECTS} == {
            s: {"k2infra.components.schema_subject"} for s in DESIGN_SUBJECTS}
        assert pickled["published-outputs"] == {"k2infra.components.published_outputs"}


        # Refresh reads every subject and the published object through the unpickled (shimmed) providers.
        new.run("refresh", "--yes")
        assert subjects_in_registry(registry) == DESIGN_SUBJECTS
        assert all(registry.get_versions(s) == [1] for s in DESIGN_SUBJECTS)
        assert {s: registry.get_latest_version(s).schema_id for s in DESIGN_SUBJECTS} == ids
        refreshed = json.loads(new.run("stack", "export", "--show-secrets").stdout)
        assert pickled_modules(refreshed) == pickled  # refresh keeps them
        # This release's program plans nothing for the previous release's stack: same resources, same outputs.
        new.run("preview", "--expect-no-changes")
        assert new.outputs() == outputs

        # Destroy deletes through the shims as the previous release would have: a throwaway stack's topics go,
        # its subjects are deleted softly (their schemas still decode kept messages by id), the object goes.
        new.run("destroy", "--yes")
        assert topics_on_cluster(admin) == {}
        assert subjects_in_registry(registry) == []
        trade_id = ids["market.crypto.trades-value"]
        assert '"name":"Trade"' in registry.get_schema(trade_id).schema_str.replace(" ", "")
        listed = moto.client("s3").list_objects_v2(Bucket=OUTPUTS_BUCKET)
        assert [o["Key"] for o in listed.get("Contents", [])] == []
        assert json.loads(new.run("stack", "export").stdout)["deployment"].get("resources") in (None, [])
    finally:
        new.run("destroy", "--yes", check=False)
        empty_platform(admin, registry, platform.schema_registry_url)
