"""k2infra.local.processes on the real OS: sockets, detached children, signals, fake `java` launchers."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from k2infra.local.processes import (
    START_TIME_TOLERANCE,
    PlatformError,
    ProcessRecord,
    alive,
    env_path,
    find_java,
    free_ports,
    java_major,
    port_open,
    start_process,
    stop_processes,
    tail,
    wait_until,
)
from tests.local.conftest import (
    DEADLINE,
    SLEEPER,
    TERM_IGNORER,
    Children,
    exists,
    log_says,
    wait_for,
    write_fake_java,
)

# --- ports ---------------------------------------------------------------------------------------


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(7)
    assert len(ports) == len(set(ports)) == 7
    sockets = []
    try:
        for port in ports:
            s = socket.socket()
            sockets.append(s)
            s.bind(("127.0.0.1", port))  # raises if the port was not free
    finally:
        for s in sockets:
            s.close()


def test_free_ports_avoid_the_ports_given():
    taken = free_ports(40)
    ports = free_ports(5, avoid=taken)
    assert len(set(ports)) == 5 and not set(ports) & set(taken)


def test_port_open_while_listening_and_not_after_close():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        assert port_open(port)
    finally:
        server.close()
    assert not port_open(port)


def test_a_bound_but_not_listening_port_is_not_open():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    try:
        assert not port_open(s.getsockname()[1])
    finally:
        s.close()


# --- start_process -------------------------------------------------------------------------------


def test_start_process_detaches_into_its_own_session_and_logs(children: Children, tmp_path: Path):
    log = tmp_path / "deep" / "er" / "child.log"  # parents are created
    code = ("import os, sys; print('cwd', os.getcwd()); print('stdin', repr(sys.stdin.read()));"
            "print('to stderr', file=sys.stderr); print('up', flush=True)\n"
            "import time\nwhile True: time.sleep(0.05)")
    workdir = tmp_path / "work"
    workdir.mkdir()
    pid = start_process([sys.executable, "-u", "-c", code], log, cwd=workdir)
    children.pids.append(pid)
    wait_for(log_says(log, "up"), "the child to log")
    assert alive(pid)
    assert os.getsid(pid) == pid != os.getsid(0)  # a session leader of its own session
    assert os.getpgid(pid) == pid != os.getpgid(0)  # so the caller's terminal signals do not reach it
    text = log.read_text()
    assert f"cwd {workdir.resolve()}" in text
    assert "stdin ''" in text  # stdin is /dev/null, not the caller's terminal
    assert "to stderr" in text  # stderr goes to the same log


def test_start_process_appends_to_an_existing_log(children: Children, tmp_path: Path):
    log = tmp_path / "kafka.log"
    log.write_text("from an earlier run\n")
    pid = start_process([sys.executable, "-c", "print('second run')"], log)
    children.pids.append(pid)
    wait_for(log_says(log, "second run"), "the child to log")
    assert log.read_text().splitlines() == ["from an earlier run", "second run"]


def test_start_process_of_a_missing_program_raises(tmp_path: Path):
    with pytest.raises(OSError):
        start_process([str(tmp_path / "no-such-program")], tmp_path / "x.log")


# --- alive ---------------------------------------------------------------------------------------


def test_alive_for_a_running_child_and_not_after_it_exits(children: Children, tmp_path: Path):
    flag = tmp_path / "exit-now"
    pid, _ = children.start(f"import os, time; print('up', flush=True)\nwhile not os.path.exists({str(flag)!r}): "
                            "time.sleep(0.02)")
    assert alive(pid)
    assert alive(pid)  # asking twice changes nothing
    flag.touch()
    wait_for(lambda: not alive(pid), "the child to exit")
    assert not exists(pid)  # alive() reaped the zombie: the pid is really gone
    assert not alive(pid)


def test_alive_is_true_while_running_and_reaps_the_zombie(children: Children):
    pid = children.sleeper()
    assert alive(pid)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None,
             "the child to become a zombie")
    assert exists(pid)  # a zombie: kill(pid, 0) still succeeds
    assert not alive(pid)  # but alive() counts it as gone ...
    assert not exists(pid)  # ... and reaped it


def test_alive_is_false_for_a_pid_that_does_not_exist(dead_pid: int):
    assert not alive(dead_pid)


def test_alive_is_true_for_a_running_process_that_is_not_our_child():
    assert alive(os.getppid())  # waitpid cannot tell; kill(pid, 0) says it exists


# --- ProcessRecord -------------------------------------------------------------------------------


def test_a_record_is_the_pid_start_time_and_command_line_of_a_child(children: Children, tmp_path: Path):
    args = [sys.executable, "-u", "-c", SLEEPER]
    pid = start_process(args, tmp_path / "child.log")
    children.pids.append(pid)
    record = ProcessRecord.of_child(pid, args)
    assert record.pid == pid and record.cmdline == tuple(args)
    process = psutil.Process(pid)
    assert record.start_time == process.create_time()
    assert abs(record.start_time - time.time()) < DEADLINE
    wait_for(log_says(tmp_path / "child.log", "up"), "the child to start")
    assert tuple(process.cmdline()) == record.cmdline  # what the OS reports is what was started
    assert record.running()


def test_a_record_of_a_child_that_already_exited_still_has_its_start_time(tmp_path: Path):
    pid = start_process([sys.executable, "-c", "pass"], tmp_path / "x.log")
    wait_for(lambda: os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None,
             "the child to exit")
    record = ProcessRecord.of_child(pid, [sys.executable, "-c", "pass"])  # a zombie: no command line any more
    assert record.start_time > 0
    assert not record.running()  # and it reaped the zombie
    assert not exists(pid)


def test_another_popen_does_not_reap_a_child_k2_started(tmp_path: Path):
    """subprocess reaps the children of Popen objects that were dropped, on the next Popen anywhere in the process
    (another thread's, say): start_process keeps its own, so the child stays K2's to reap."""
    pid = start_process([sys.executable, "-c", "pass"], tmp_path / "x.log")
    wait_for(lambda: os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None,
             "the child to exit")
    subprocess.run(["true"], check=True)  # subprocess._cleanup() runs here
    assert os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None  # still ours, unreaped
    assert not alive(pid)  # K2 reaps it
    assert not exists(pid)


def test_a_record_of_a_process_that_is_gone_is_a_platform_error(dead_pid: int):
    with pytest.raises(PlatformError, match=rf"^process {dead_pid} \(java\) vanished right after it started"):
        ProcessRecord.of_child(dead_pid, ["java"])


def test_a_record_stops_running_when_its_process_exits(children: Children):
    record = children.record()
    os.kill(record.pid, signal.SIGKILL)
    wait_for(record.gone, "the process to be gone")
    assert not record.running()
    assert not exists(record.pid)  # the zombie was reaped


@pytest.mark.parametrize(
    ("start_shift", "cmdline", "running"),
    [(0, None, True),
     (START_TIME_TOLERANCE / 2, None, True),  # the same process, read against another boot-time reading
     (-3600, None, False),  # the pid now belongs to a process started an hour later
     (START_TIME_TOLERANCE * 2, None, False),
     (0, ("/usr/bin/java", "kafka.Kafka", "server.properties"), False),  # same start, another program
     (0, (sys.executable, "-u", "-c"), False)],  # a prefix of the command line is not the command line
    ids=["same", "within-tolerance", "older", "beyond-tolerance", "other-program", "prefix"],
)
def test_a_record_runs_only_while_pid_start_time_and_command_line_all_match(
        children: Children, start_shift: float, cmdline: tuple[str, ...] | None, running: bool):
    live = children.record()
    record = ProcessRecord(live.pid, live.start_time + start_shift, cmdline or live.cmdline)
    assert record.running() is running
    assert alive(live.pid)  # asking never harms the process


def test_a_record_of_a_pid_that_does_not_exist_is_not_running(dead_pid: int):
    assert not ProcessRecord(dead_pid, time.time(), ("java",)).running()


def test_a_record_of_a_process_of_another_user_is_not_ours():
    init = psutil.Process(1)  # pid 1: init or the container's entry point, never started by us
    assert not ProcessRecord(1, init.create_time() + 3600, ("java",)).running()


def test_a_record_round_trips_json():
    record = ProcessRecord(4242, 1795000000.25, ("java", "-cp", "/lib/*", "kafka.Kafka"))
    assert record.to_json() == {"pid": 4242, "start_time": 1795000000.25,
                                "cmdline": ["java", "-cp", "/lib/*", "kafka.Kafka"]}
    assert ProcessRecord.from_json(record.to_json()) == record
    assert ProcessRecord.from_json({"pid": 1, "start_time": 7, "cmdline": ["x"]}).start_time == 7.0


@pytest.mark.parametrize(
    "data",
    [None, [], 4242, {"pid": 4242}, {"pid": 4242, "start_time": 1.0, "cmdline": ["x"], "more": 1},
     {"pid": "4242", "start_time": 1.0, "cmdline": ["x"]}, {"pid": True, "start_time": 1.0, "cmdline": ["x"]},
     {"pid": 0, "start_time": 1.0, "cmdline": ["x"]}, {"pid": 1, "start_time": "1.0", "cmdline": ["x"]},
     {"pid": 1, "start_time": 1.0, "cmdline": "x"}, {"pid": 1, "start_time": 1.0, "cmdline": []},
     {"pid": 1, "start_time": 1.0, "cmdline": [1]}],
)
def test_a_record_refuses_json_it_did_not_write(data):
    with pytest.raises(ValueError, match="not a process record"):
        ProcessRecord.from_json(data)


def test_signal_reaches_only_the_recorded_process(children: Children):
    live = children.record()
    assert not ProcessRecord(live.pid, live.start_time - 3600, live.cmdline).signal(signal.SIGKILL)
    assert alive(live.pid)
    assert live.signal(signal.SIGKILL)
    wait_for(live.gone, "the child to die")
    assert not live.signal(signal.SIGKILL)  # gone: nothing to signal


# --- stop_processes ------------------------------------------------------------------------------


def test_stop_processes_terminates_gracefully_with_sigterm(children: Children):
    records = [children.record(), children.record()]
    started = time.monotonic()
    stop_processes(records, grace_seconds=DEADLINE)
    assert time.monotonic() - started < DEADLINE / 2  # returned once both were gone, not after the grace
    assert not any(exists(r.pid) for r in records)  # gone, zombies reaped


def test_stop_processes_escalates_to_sigkill_and_returns_only_when_the_process_is_gone(children: Children):
    pid, log = children.start(TERM_IGNORER, "stubborn")
    grace = 0.6
    started = time.monotonic()
    stop_processes([children.records[pid]], grace_seconds=grace)
    elapsed = time.monotonic() - started
    assert not exists(pid)  # at once, without polling: stop_processes waited until the SIGKILL had taken effect
    assert elapsed >= grace  # SIGKILL only after the grace period ...
    wait_for(log_says(log, "got SIGTERM"), "the child to log SIGTERM")  # ... which followed a SIGTERM


def test_stop_processes_waits_for_a_killed_process_that_is_not_its_child(tmp_path: Path):
    # A grandchild: its parent exits at once, so our waitpid cannot reap it; init (or a subreaper) does.
    log = tmp_path / "orphan.log"
    spawn = ("import subprocess, sys\n"
             "with open(sys.argv[2], 'ab') as out:\n"
             "    p = subprocess.Popen([sys.executable, '-u', '-c', sys.argv[1]], stdout=out, stderr=out,\n"
             "                         stdin=subprocess.DEVNULL, start_new_session=True)\n"
             "print(p.pid)")
    done = subprocess.run([sys.executable, "-c", spawn, TERM_IGNORER, str(log)], capture_output=True, text=True,
                          timeout=DEADLINE, check=True)
    pid = int(done.stdout.strip())
    cmdline = (sys.executable, "-u", "-c", TERM_IGNORER)
    try:
        wait_for(log_says(log, "up"), "the orphan to start")
        assert psutil.Process(pid).ppid() != os.getpid()  # not our child (its parent may be init, like ours)
        record = ProcessRecord(pid, psutil.Process(pid).create_time(), cmdline)
        assert record.running()
        stop_processes([record], grace_seconds=0.3)
        assert record.gone()  # at once: exited (at most a zombie of its new parent's, its files closed)
        assert log_says(log, "got SIGTERM")()
    finally:
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if tuple(psutil.Process(pid).cmdline()) == cmdline:
                os.kill(pid, signal.SIGKILL)


def test_stop_processes_leaves_a_reused_pid_alone(children: Children):
    live = children.record("stranger")
    started = time.monotonic()
    stop_processes([ProcessRecord(live.pid, live.start_time - 3600, ("java", "kafka.Kafka"))], grace_seconds=DEADLINE)
    assert time.monotonic() - started < DEADLINE / 2  # nothing to wait for
    assert alive(live.pid)


def test_stop_processes_ignores_pids_that_are_gone(children: Children, dead_pid: int):
    live = children.record()
    stop_processes([ProcessRecord(dead_pid, live.start_time, live.cmdline), live], grace_seconds=DEADLINE)
    assert not alive(live.pid)


def test_stop_processes_of_nothing_returns_at_once():
    started = time.monotonic()
    stop_processes([], grace_seconds=DEADLINE)
    assert time.monotonic() - started < DEADLINE


# --- env_path ------------------------------------------------------------------------------------


def test_env_path_is_none_when_unset_or_empty(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("K2_SOME_DIR", raising=False)
    assert env_path("K2_SOME_DIR") is None
    monkeypatch.setenv("K2_SOME_DIR", "")
    assert env_path("K2_SOME_DIR") is None  # not Path(""), which is the current directory
    monkeypatch.setenv("K2_SOME_DIR", str(tmp_path))
    assert env_path("K2_SOME_DIR") == tmp_path


# --- wait_until ----------------------------------------------------------------------------------


def test_wait_until_returns_when_the_check_becomes_true(children: Children, tmp_path: Path):
    pid = children.sleeper()
    calls = []

    def check() -> bool:
        calls.append(1)
        return len(calls) >= 3

    wait_until(check, DEADLINE, "thing", [pid], tmp_path / "thing.log")
    assert len(calls) == 3
    assert alive(pid)


def test_wait_until_raises_naming_the_log_tail_when_the_process_exits(children: Children):
    code = "print('up'); [print(f'line {i}') for i in range(30)]; print('FATAL: port taken'); raise SystemExit(1)"
    pid, log = children.start(code, "early-exit", wait_up=False)
    started = time.monotonic()
    with pytest.raises(PlatformError) as error:
        wait_until(lambda: False, DEADLINE, "Kafka (127.0.0.1:1)", [pid], log)
    assert time.monotonic() - started < DEADLINE  # noticed the exit, did not run into the timeout
    message = str(error.value)
    assert message.startswith(f"Kafka (127.0.0.1:1) exited while starting; last lines of {log}:\n")
    assert message.endswith("FATAL: port taken")
    assert "line 29" in message and "line 15" not in message  # only the tail (15 lines)


def test_wait_until_times_out(children: Children, tmp_path: Path):
    pid = children.sleeper()
    log = tmp_path / "registry.log"
    log.write_text("still booting\n")
    started = time.monotonic()
    with pytest.raises(PlatformError, match=r"^Schema registry not ready after 1s; last lines of .*\nstill booting$"):
        wait_until(lambda: False, 1, "Schema registry", [pid], log)
    assert time.monotonic() - started >= 1
    assert alive(pid)  # a timeout does not stop the process; the caller does


def test_wait_until_times_out_without_a_log(tmp_path: Path):
    with pytest.raises(PlatformError, match=r"not ready after 0s.*\n\(no log\)$"):
        wait_until(lambda: False, 0.1, "thing", [], tmp_path / "missing.log")


# --- tail ----------------------------------------------------------------------------------------


def test_tail_gives_the_last_lines(tmp_path: Path):
    log = tmp_path / "a.log"
    log.write_text("".join(f"{i}\n" for i in range(40)))
    assert tail(log) == "\n".join(str(i) for i in range(25, 40))
    assert tail(log, lines=2) == "38\n39"
    log.write_text("only\n")
    assert tail(log) == "only"


def test_tail_of_a_missing_log_and_of_bad_utf8(tmp_path: Path):
    assert tail(tmp_path / "nope.log") == "(no log)"
    log = tmp_path / "b.log"
    log.write_bytes(b"ok\n\xff\xfe broken\n")
    assert tail(log) == "ok\n\ufffd\ufffd broken"


# --- find_java -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "major"),
    [
        ('openjdk version "21.0.2" 2024-01-16', 21),
        ('openjdk version "17" 2021-09-14', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "25-ea" 2025-09-16', 25),
        ("not a java at all", None),
    ],
)
def test_java_major_reads_the_version_from_stderr(tmp_path: Path, line: str, major: int | None):
    assert java_major(str(write_fake_java(tmp_path, line))) == major


def test_java_major_of_a_missing_program_is_none(tmp_path: Path):
    assert java_major(str(tmp_path / "bin" / "java")) is None


def test_find_java_prefers_java_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = write_fake_java(tmp_path / "home", 'openjdk version "21.0.2" 2024-01-16')
    on_path = write_fake_java(tmp_path / "path", 'openjdk version "25" 2025-09-16')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_java(17) == str(home)


def test_find_java_skips_a_java_home_that_is_too_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_fake_java(tmp_path / "home", 'openjdk version "11.0.2" 2019-01-15')
    on_path = write_fake_java(tmp_path / "path", 'openjdk version "21.0.2" 2024-01-16')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_java(17) == str(on_path)


def test_find_java_uses_path_without_java_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    on_path = write_fake_java(tmp_path / "path", 'openjdk version "17.0.9" 2023-10-17')
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_java(17) == str(on_path)


def test_find_java_names_every_version_found_when_none_is_new_enough(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch):
    home = write_fake_java(tmp_path / "home", 'java version "1.8.0_392"')
    on_path = write_fake_java(tmp_path / "path", 'openjdk version "11.0.2" 2019-01-15')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", str(on_path.parent))
    # 99: newer than any real JDK under /usr/lib/jvm, which find_java also lists.
    with pytest.raises(PlatformError) as error:
        find_java(99)
    message = str(error.value)
    assert message.startswith(f"needs Java 99+; found {home} (8), {on_path} (11)")
    assert message.endswith("Install a JDK 99+ or set JAVA_HOME.")


def test_find_java_reports_a_broken_java_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PlatformError, match=rf"found {re.escape(str(tmp_path / 'no-jdk' / 'bin' / 'java'))} \(None\)"):
        find_java(99)
