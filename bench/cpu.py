"""CPU use during a run, from /proc: the whole machine (other tenants included) and given processes."""

from __future__ import annotations

import os
from dataclasses import dataclass

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Snapshot:
    machine_busy: float  # seconds of CPU time, all cores
    machine_total: float
    processes: float  # seconds of CPU time of the watched processes


def snapshot(pids: list[int]) -> Snapshot:
    with open("/proc/stat") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return Snapshot((sum(ticks) - idle) / TICKS, sum(ticks) / TICKS, sum(_process_seconds(p) for p in pids))


def machine_busy(before: Snapshot, after: Snapshot) -> float:
    """Percent of all cores busy between two snapshots, whoever used them."""
    return round(100 * (after.machine_busy - before.machine_busy) / max(after.machine_total - before.machine_total,
                                                                       1e-9), 1)


def process_share(before: Snapshot, after: Snapshot, wall: float) -> float:
    """The watched processes' CPU between two snapshots, in percent of one core."""
    return round(100 * (after.processes - before.processes) / wall, 1)


def _process_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
