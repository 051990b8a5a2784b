"""Small helpers to run the local platform's Java processes: find a JDK, start, wait, stop."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path


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


def free_ports(count: int, avoid: Iterable[int] = ()) -> list[int]:
    """`count` distinct free TCP ports on 127.0.0.1, none of them in `avoid`."""
    sockets: list[socket.socket] = []
    ports: list[int] = []
    avoided = set(avoid)
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)  # kept bound until the end, so the OS cannot hand out the same port twice
            if s.getsockname()[1] not in avoided:
                ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def start_process(args: list[str], log: Path, cwd: Path | None = None) -> int:
    """Start a detached process (its own session, so it outlives the caller) logging to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd, start_new_session=True)
    return proc.pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def stop_processes(pids: list[int], grace_seconds: float = 30) -> None:
    """SIGTERM (Kafka's controlled shutdown), then SIGKILL what is left after the grace period."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


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
