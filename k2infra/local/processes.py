"""Small helpers to run the local platform's Java processes: find a JDK, start, wait, stop."""

from __future__ import annotations

import contextlib
import glob
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil


class PlatformError(RuntimeError):
    """A local Kafka or registry could not be started or stopped; the message says what to do."""


def env_path(variable: str) -> Path | None:
    """The path in an environment variable that scripts/env.sh sets; None when it is unset or empty
    (never the current directory, which an empty Path would silently mean)."""
    value = os.environ.get(variable, "")
    return Path(value) if value else None


def java_major(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def log4j2_config(loggers: dict[str, str]) -> str:
    """A JVM's log4j2.properties: warnings and above to the console (the process's log file), and INFO from the
    `loggers` (name -> a short key) whose lines say what a failed start needs."""
    lines = ["status = warn", "appender.out.type = Console", "appender.out.name = out",
             "appender.out.layout.type = PatternLayout", "appender.out.layout.pattern = [%d] %p %m (%c)%n",
             "rootLogger.level = WARN", "rootLogger.appenderRef.out.ref = out"]
    for name, key in loggers.items():
        lines += [f"logger.{key}.name = {name}", f"logger.{key}.level = INFO"]
    return "\n".join(lines) + "\n"


def find_java(minimum: int) -> str:
    """A `java` of at least `minimum`: $JAVA_HOME, then PATH, then the JDKs under /usr/lib/jvm."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(os.path.join(os.environ["JAVA_HOME"], "bin", "java"))
    if shutil.which("java"):
        candidates.append(shutil.which("java") or "java")
    candidates += sorted(glob.glob("/usr/lib/jvm/*/bin/java"), reverse=True)
    seen: dict[str, int | None] = {}
    for java in candidates:
        if java not in seen:
            seen[java] = java_major(java)
            if (seen[java] or 0) >= minimum:
                return java
    found = ", ".join(f"{j} ({v})" for j, v in seen.items()) or "none"
    raise PlatformError(f"needs Java {minimum}+; found {found}. Install a JDK {minimum}+ or set JAVA_HOME.")


PORT_RANGE = "K2_PORT_RANGE"  # LOW-HIGH: where free_ports picks (each test worker has its own range)


def free_ports(count: int, avoid: Iterable[int] = ()) -> list[int]:
    """`count` distinct free TCP ports on 127.0.0.1, none of them in `avoid`: from $K2_PORT_RANGE if set (outside
    the ephemeral range, so neither another picker with its own range nor an outgoing connection takes them
    before the server binds), else any the OS offers."""
    span = _port_range()
    sockets: list[socket.socket] = []
    ports: list[int] = []
    avoided = set(avoid)
    candidates = None if span is None else random.sample(range(span[0], span[1] + 1), span[1] - span[0] + 1)
    try:
        while len(ports) < count:
            s = socket.socket()
            sockets.append(s)  # kept bound until the end, so the same port is never handed out twice
            if candidates is None:
                s.bind(("127.0.0.1", 0))
            else:
                if not candidates:
                    raise PlatformError(f"${PORT_RANGE}={os.environ[PORT_RANGE]} has fewer than {count} free ports")
                try:
                    s.bind(("127.0.0.1", candidates.pop()))
                except OSError:
                    continue
            if s.getsockname()[1] not in avoided:
                ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


def _port_range() -> tuple[int, int] | None:
    value = os.environ.get(PORT_RANGE, "").strip()
    if not value:
        return None
    low, _, high = value.partition("-")
    try:
        span = int(low), int(high)
    except ValueError:
        span = (0, -1)
    if not 1024 <= span[0] <= span[1] <= 65535:
        raise PlatformError(f"${PORT_RANGE}={value!r}: give LOW-HIGH, two ports from 1024 to 65535, e.g. 20000-23999")
    return span


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


# The Popen objects of the children start_process started, until K2 reaps them itself (_reaped). A Popen object
# dropped while its child runs goes on subprocess's list of children to reap, and the next Popen anywhere in the
# process (another thread's) reaps it with waitpid: the pid K2 records would then be gone, or another process's.
_children: dict[int, subprocess.Popen[bytes]] = {}


def start_process(args: list[str], log: Path, cwd: Path | None = None) -> int:
    """Start a detached process (its own session, so it outlives the caller) logging to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd, start_new_session=True)
    _children[proc.pid] = proc
    return proc.pid


def alive(pid: int) -> bool:
    """Whether some process has this pid (a zombie child of ours counts as gone, and is reaped).
    Only for processes this Python process just started; a pid read from a file says nothing by itself:
    check a ProcessRecord instead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _reaped(pid)


def _reaped(pid: int) -> bool:
    """Reap `pid` if it is an exited child of ours; whether it was."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            _forget(pid)
        return done == pid
    _forget(pid)  # not a child (any more): nothing to keep
    return False


def _forget(pid: int) -> None:
    proc = _children.pop(pid, None)
    if proc is not None:
        proc.returncode = 0  # reaped by K2: its Popen object must not wait for it again


# psutil gives a start time as boot time + ticks since boot; the boot time it reads (/proc/stat btime on Linux)
# moves by a second when the wall clock is adjusted, so two readings of one process may differ that much.
START_TIME_TOLERANCE = 2.0


@dataclass(frozen=True)
class ProcessRecord:
    """A process the platform started: its pid, and the start time and command line that tell it apart from
    a later process given the same pid (after a crash or a reboot)."""

    pid: int
    start_time: float
    cmdline: tuple[str, ...]

    @classmethod
    def of_child(cls, pid: int, args: list[str]) -> ProcessRecord:
        """The record of a child just started with `args` (it may already have exited: a zombie has a start time)."""
        try:
            start_time = psutil.Process(pid).create_time()
        except psutil.Error as error:
            raise PlatformError(f"process {pid} ({args[0]}) vanished right after it started: {error}") from None
        return cls(pid, start_time, tuple(args))

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "start_time": self.start_time, "cmdline": list(self.cmdline)}

    @classmethod
    def from_json(cls, data: Any) -> ProcessRecord:
        """Raises ValueError unless `data` is what to_json wrote."""
        if not isinstance(data, dict) or set(data) != {"pid", "start_time", "cmdline"}:
            raise ValueError(f"not a process record: {data!r}")
        pid, start_time, cmdline = data["pid"], data["start_time"], data["cmdline"]
        if (not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0
                or not isinstance(start_time, int | float) or isinstance(start_time, bool)
                or not isinstance(cmdline, list) or not cmdline or not all(isinstance(a, str) for a in cmdline)):
            raise ValueError(f"not a process record: {data!r}")
        return cls(pid, float(start_time), tuple(cmdline))

    def _same_pid_holder(self) -> psutil.Process | None:
        """The process that holds our pid if it is still the one started then (a zombie is gone, and reaped if
        it is our child); None otherwise."""
        try:
            proc = psutil.Process(self.pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                _reaped(self.pid)
                return None
            if abs(proc.create_time() - self.start_time) > START_TIME_TOLERANCE:
                return None
        except psutil.ZombieProcess:
            _reaped(self.pid)
            return None
        except psutil.NoSuchProcess:
            return None
        return proc

    def running(self) -> bool:
        """Whether this very process still runs: a live (not zombie) process with this pid, start time and
        command line. A process that cannot be inspected is not one we started (we would own it)."""
        proc = self._same_pid_holder()
        try:
            return proc is not None and tuple(proc.cmdline()) == self.cmdline
        except psutil.ZombieProcess:
            _reaped(self.pid)
            return False
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False

    def gone(self) -> bool:
        """Whether the process has exited (a zombie has: its files are closed). Unlike `not running()`, a process
        in the middle of exiting (its command line already empty, its files maybe still open) is not gone."""
        return self._same_pid_holder() is None

    def signal(self, signum: int) -> bool:
        """Send `signum` only if this is still the process we started; whether it was sent."""
        return self.running() and self._kill(signum)

    def _kill(self, signum: int) -> bool:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            return False
        return True


def stop_processes(processes: list[ProcessRecord], grace_seconds: float = 30, kill_seconds: float = 30) -> None:
    """SIGTERM (Kafka's controlled shutdown), then SIGKILL what is left after the grace period, and wait until
    it is gone (its files closed). Only processes that are still the ones recorded are signalled: a pid that
    now belongs to another process is left alone."""
    ours = [p for p in processes if p.signal(signal.SIGTERM)]
    deadline = time.monotonic() + grace_seconds
    while any(not p.gone() for p in ours) and time.monotonic() < deadline:
        time.sleep(0.2)
    # Verified as ours above; a process not gone yet cannot have passed its pid on since.
    killed = [p for p in ours if not p.gone() and p._kill(signal.SIGKILL)]
    deadline = time.monotonic() + kill_seconds
    while any(not p.gone() for p in killed):
        if time.monotonic() > deadline:
            left = ", ".join(str(p.pid) for p in killed if not p.gone())
            raise PlatformError(f"process(es) {left} still there {kill_seconds:.0f}s after SIGKILL "
                                "(stuck in the kernel?); check them with `ps` and retry")
        time.sleep(0.05)


def wait_until(check: Callable[[], bool], timeout: float, what: str, pids: list[int], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not all(alive(p) for p in pids):
            raise PlatformError(f"{what} exited while starting; last lines of {log}:\n{tail(log)}")
        time.sleep(0.3)
    raise PlatformError(f"{what} not ready after {timeout:.0f}s; last lines of {log}:\n{tail(log)}")


def tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
