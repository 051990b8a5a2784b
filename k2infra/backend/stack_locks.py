"""Stale locks of a self-managed (file) Pulumi backend: the one thing an update killed midway leaves behind.

Pulumi's file backend writes a lock per running update (`.pulumi/locks/<org>/<project>/<stack>/*.json`,
with the pid and host of the CLI that took it) and refuses every later update while it exists; `pulumi
cancel` deletes it without asking whether that update is still running. A lock is stale here only when it
was taken on this host by a process that no longer runs (or whose pid now belongs to a process started
after the lock was taken): only those are removed, so a live update is never unlocked.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import psutil


@dataclass(frozen=True)
class StackLock:
    path: Path
    pid: int
    username: str
    hostname: str
    taken: datetime | None

    def describe(self) -> str:
        when = self.taken.isoformat(timespec="seconds") if self.taken else "an unknown time"
        return f"{self.path.name}: taken by {self.username}@{self.hostname} (pid {self.pid}) at {when}"

    def stale(self) -> bool:
        """Taken on this host by a process that has ended (a reused pid is a newer process)."""
        if self.hostname != socket.gethostname():
            return False  # cannot tell whether an update on another machine still runs
        try:
            process = psutil.Process(self.pid)
            started = datetime.fromtimestamp(process.create_time()).astimezone()
        except psutil.NoSuchProcess:
            return True
        return self.taken is not None and started > self.taken


def backend_directory(backend_url: str) -> Path:
    """The directory of a file:// backend; ValueError for any other (their locks are not checked here)."""
    parsed = urlparse(backend_url)
    if parsed.scheme != "file":
        raise ValueError(f"{backend_url} is not a file backend: stale locks are checked only in file:// backends")
    return Path(parsed.path)


def stack_locks(backend: Path, project: str, stack: str) -> list[StackLock]:
    """The locks held on `stack` of `project`, in a file backend directory."""
    locks = []
    for path in sorted((backend / ".pulumi" / "locks").glob(f"*/{project}/{stack}/*.json")):
        try:
            content = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # written by another process as we read it, or removed meanwhile
        locks.append(StackLock(path, int(content.get("pid", 0)), str(content.get("username", "")),
                               str(content.get("hostname", "")), _time(content.get("timestamp"))))
    return locks


def remove_stale(locks: list[StackLock]) -> tuple[list[StackLock], list[StackLock]]:
    """Delete the stale locks; return (removed, kept)."""
    removed, kept = [], []
    for lock in locks:
        if lock.stale():
            lock.path.unlink(missing_ok=True)
            removed.append(lock)
        else:
            kept.append(lock)
    return removed, kept


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
