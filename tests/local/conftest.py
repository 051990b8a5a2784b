"""Helpers for the local platform's tests: small real child processes (always killed at teardown),
polling with generous deadlines instead of fixed sleeps, and fake `java` launchers."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from k2infra.local.processes import ProcessRecord, start_process
from tests.conftest import wait_for

# Deadlines are generous: the machine may be a busy 2-core box. Polls return as soon as they can.
DEADLINE = 30.0

# A child that says it is up once its SIGTERM handler is in place, then runs until killed.
SLEEPER = "import time; print('up', flush=True)\nwhile True: time.sleep(0.05)"
# A child that traps SIGTERM (logs it and keeps running), so only SIGKILL ends it.
TERM_IGNORER = (
    "import signal, sys, time\n"
    "def on_term(signum, frame):\n"
    "    print('got SIGTERM', flush=True)\n"
    "signal.signal(signal.SIGTERM, on_term)\n"
    "print('up', flush=True)\n"
    "while True: time.sleep(0.05)\n"
)


def log_says(log: Path, text: str) -> Callable[[], bool]:
    return lambda: log.exists() and text in log.read_text(errors="replace")


def exists(pid: int) -> bool:
    """Whether `pid` exists at all (a zombie counts), without reaping it: unlike processes.alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def write_fake_java(directory: Path, version_line: str) -> Path:
    """An executable `java` in directory/bin that prints `version_line` to stderr, as `java -version` does."""
    java = directory / "bin" / "java"
    java.parent.mkdir(parents=True, exist_ok=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return java


class Children:
    """Starts Python children through start_process and kills whatever is left at teardown."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.pids: list[int] = []
        self.records: dict[int, ProcessRecord] = {}

    def start(self, code: str, name: str = "child", wait_up: bool = True) -> tuple[int, Path]:
        log = self.directory / f"{name}-{len(self.pids)}.log"
        args = [sys.executable, "-u", "-c", code]
        pid = start_process(args, log)
        self.pids.append(pid)
        self.records[pid] = ProcessRecord.of_child(pid, args)  # as the platform records what it starts
        if wait_up:
            wait_for(log_says(log, "up"), f"{name} (pid {pid}) to start")
        return pid, log

    def sleeper(self, name: str = "sleeper") -> int:
        return self.start(SLEEPER, name)[0]

    def record(self, name: str = "sleeper", code: str = SLEEPER) -> ProcessRecord:
        """A running child and its record (pid, start time, command line)."""
        return self.records[self.start(code, name)[0]]

    def kill_all(self) -> None:
        for pid in self.pids:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue  # already reaped: the pid may belong to someone else by now, leave it alone
            if done == 0:  # still running
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Children]:
    kids = Children(tmp_path / "children")
    try:
        yield kids
    finally:
        kids.kill_all()


@pytest.fixture
def dead_pid() -> int:
    """The pid of a child that has exited and been reaped: no such process any more."""
    import subprocess

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=DEADLINE)
    assert not exists(proc.pid)
    return proc.pid
