"""`k2 local up --regions`: one local platform per region of topics.yaml, and MirrorMaker 2 in dedicated mode for
the flows into each aggregating region, started once K2 has created their mirrors.

Each region's platform lives in <dir>/<region> on ports of its own (region i: Kafka 19092 + 10i, its
controllers 100 above, the registry 18081 + 10i), the same on every start, so the regions' stacks keep their
settings. Every region's stack points at one registry (docs/regions.md): the first aggregating region's.

MirrorMaker starts only for a flow whose mirrors all exist in the target: MirrorMaker 4.1 creates a listed topic it
does not find, and a mirror is K2's to create (the aggregate's `pulumi up`). Rerun after that `up`: a running
MirrorMaker whose flows changed is restarted with the new ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k2infra.local.mirror import Flow, MirrorMaker
from k2infra.local.platform import LocalPlatform, PlatformState, write_json
from k2infra.local.processes import PlatformError, ProcessRecord, stop_processes

MAX_REGIONS = 10  # the fixed port plan's room
MIRROR_STATE = "mirrormaker.json"


def region_ports(index: int) -> tuple[int, int]:
    """(first Kafka port, registry port) of the index-th region."""
    return 19092 + 10 * index, 18081 + 10 * index


@dataclass
class RegionalPlatforms:
    base_dir: Path
    echo: Callable[[str], None] = print

    def platform(self, region: str) -> LocalPlatform:
        return LocalPlatform(self.base_dir / region, echo=self.echo)

    def up(self, regions: Sequence[str], timeout: float = 180) -> dict[str, PlatformState]:
        if len(regions) > MAX_REGIONS:
            raise PlatformError(f"the local platform runs at most {MAX_REGIONS} regions; topics.yaml declares "
                                f"{len(regions)}")
        states = {}
        for index, region in enumerate(regions):
            kafka, registry = region_ports(index)
            self.echo(f"==> region {region}")
            states[region] = self.platform(region).up(kafka_port=kafka, registry_port=registry, timeout=timeout)
        return states

    def mirror(self, flows: list[Flow], missing: Callable[[Flow], list[str]], timeout: float = 180) -> list[Flow]:
        """MirrorMaker for the flows whose mirrors exist (restarted when the flows changed); the flows it runs."""
        ready = []
        for flow in flows:
            absent = missing(flow)
            if absent:
                self.echo(f"    flow {flow.name} not started: {len(absent)} mirror(s) missing in {flow.target.name} "
                          f"(e.g. {absent[0]}): `pulumi up` the {flow.target.name} stack, then rerun")
            else:
                ready.append(flow)
        key = _flows_key(ready)
        running = self._recorded()
        if running is not None and running[0] == key and running[1].running():
            self.echo(f"    MirrorMaker already running (pid {running[1].pid}) for {_names(ready)}")
            return ready
        self.stop_mirror()
        if not ready:
            return []
        mirror = MirrorMaker(self.base_dir / "mirrormaker", ready)
        self.echo(f"==> starting MirrorMaker 2 (dedicated mode) for {_names(ready)}")
        mirror.start(timeout)
        assert mirror.process is not None
        write_json(self.base_dir / MIRROR_STATE, {"flows": key, "process": mirror.process.to_json()})
        self.echo(f"    MirrorMaker ready (log {mirror.log})")
        return ready

    def stop_mirror(self) -> None:
        running = self._recorded()
        if running is not None:
            stop_processes([running[1]])
            self.echo("    MirrorMaker stopped")
        (self.base_dir / MIRROR_STATE).unlink(missing_ok=True)

    def down(self, regions: Sequence[str], wipe: bool = False) -> None:
        self.stop_mirror()
        for region in regions:
            self.platform(region).down(wipe=wipe)

    def _recorded(self) -> tuple[str, ProcessRecord] | None:
        try:
            data: Any = json.loads((self.base_dir / MIRROR_STATE).read_text())
            return str(data["flows"]), ProcessRecord.from_json(data["process"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _flows_key(flows: list[Flow]) -> str:
    text = json.dumps([[f.source.name, f.source.bootstrap_servers, f.target.name, f.target.bootstrap_servers,
                        sorted(f.topics)] for f in sorted(flows, key=lambda f: f.name)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _names(flows: list[Flow]) -> str:
    return ", ".join(f"{f.name} ({len(f.topics)} topics)" for f in flows)
