"""k2infra.backend.stack_locks with real processes: only a lock whose process has ended on this host is removed."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from k2infra.backend.stack_locks import backend_directory, remove_stale, stack_locks
from k2infra.cli import app
from tests.conftest import stop


def write_lock(backend: Path, pid: int, *, host: str | None = None, taken: datetime | None = None,
               stack: str = "dev") -> Path:
    directory = backend / ".pulumi" / "locks" / "organization" / "k2" / stack
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"lock-{pid}-{len(list(directory.iterdir()))}.json"
    when = (taken or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    path.write_text(json.dumps({"pid": pid, "username": "root", "hostname": host or socket.gethostname(),
                                "timestamp": when}))
    return path


@pytest.fixture
def ended_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


@pytest.fixture
def running():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield process
    stop(process)


def test_a_lock_whose_process_has_ended_is_removed(tmp_path, ended_pid):
    path = write_lock(tmp_path, ended_pid)
    removed, kept = remove_stale(stack_locks(tmp_path, "k2", "dev"))
    assert [lock.path for lock in removed] == [path] and kept == []
    assert not path.exists()


def test_a_lock_of_a_running_process_is_kept(tmp_path, running):
    path = write_lock(tmp_path, running.pid)
    removed, kept = remove_stale(stack_locks(tmp_path, "k2", "dev"))
    assert removed == [] and [lock.path for lock in kept] == [path]
    assert path.exists()


def test_a_pid_reused_by_a_newer_process_counts_as_ended(tmp_path, running):
    path = write_lock(tmp_path, running.pid, taken=datetime.now(UTC) - timedelta(hours=1))
    removed, _ = remove_stale(stack_locks(tmp_path, "k2", "dev"))
    assert [lock.path for lock in removed] == [path]


def test_a_lock_from_another_host_is_kept_whatever_its_pid(tmp_path, ended_pid):
    path = write_lock(tmp_path, ended_pid, host="some-other-host")
    removed, kept = remove_stale(stack_locks(tmp_path, "k2", "dev"))
    assert removed == [] and [lock.path for lock in kept] == [path]


def test_only_the_named_stack_and_project_are_looked_at(tmp_path, ended_pid):
    other = write_lock(tmp_path, ended_pid, stack="prod")
    assert stack_locks(tmp_path, "k2", "dev") == []
    assert stack_locks(tmp_path, "another-project", "prod") == []
    assert [lock.path for lock in stack_locks(tmp_path, "k2", "prod")] == [other]


def test_only_file_backends_are_checked():
    assert backend_directory("file:///tmp/state") == Path("/tmp/state")
    with pytest.raises(ValueError, match="not a file backend"):
        backend_directory("s3://bucket/state")


def test_k2_unlock_removes_stale_locks_and_exits_1_naming_a_live_one(tmp_path, ended_pid, running, monkeypatch):
    (tmp_path / "Pulumi.yaml").write_text("name: k2\nruntime: python\n")
    backend = tmp_path / "state"
    stale = write_lock(backend, ended_pid)
    live = write_lock(backend, running.pid)
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{backend}")
    result = CliRunner().invoke(app, ["unlock", "--stack", "dev", "--config", str(tmp_path / "topics.yaml")])
    assert result.exit_code == 1
    assert f"removed stale lock {stale.name}" in result.output
    assert f"kept lock {live.name}" in result.output and f"pid {running.pid}" in result.output
    assert not stale.exists() and live.exists()
