"""A region's stack and the regions it aggregates: each flow's source read from the home region's own stack (its
outputs: the cluster MirrorMaker consumes from, and the schema ids its producers write), and the check that those
ids decode here. Run before any resource is declared, so a refused flow applies nothing.

Schema ids: a record carries the id its home region's registry gave its schema, and a consumer here looks that id
up in this region's registry. K2's answer is one registry per environment (docs/regions.md): every region's stack
registers its subjects there, so an id means the same schema everywhere. The check refuses a flow whose ids would
not decode here, which is what a registry per region (or a wrong URL) gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from k2infra.backend.stack_state import StackStateError, read_outputs
from k2infra.contracts.naming import region_stack
from k2infra.contracts.outputs import StackOutputs, StackOutputsError
from k2infra.contracts.replication import LOCAL_INTERVALS, Intervals, MirrorOptions
from k2infra.model import Topology
from k2infra.model.avro_files import same_schema
from k2infra.model.regions import ReplicationFlow
from k2infra.observed.cluster import Unreachable, schemas_by_id

NOTHING_CHANGED = "Nothing was changed"


@dataclass(frozen=True)
class FlowSource:
    flow: ReplicationFlow
    stack: str  # the home region's stack
    outputs: StackOutputs

    def to_output(self) -> dict[str, object]:
        """The flow as the stack outputs publish it (k2infra.contracts.outputs.FlowInfo)."""
        return {"source": self.flow.source, "target": self.flow.target, "topics": list(self.flow.topics),
                "source_bootstrap_servers": self.outputs.bootstrap_servers}


def mirror_options(topology: Topology, local: bool) -> MirrorOptions:
    """MirrorMaker's own topics as replicated as the environment's; a cluster on this machine looks every second."""
    replication = max((t.replication_factor for t in topology.topics), default=1)
    return MirrorOptions(replication_factor=replication, intervals=LOCAL_INTERVALS if local else Intervals())


def flow_sources(topology: Topology, stack: str, project_dir: Path) -> list[FlowSource]:
    """Each flow into the stack's region with its home region's deployed outputs; refused when a home stack is not
    deployed, is another region's, or lacks a topic the flow copies."""
    if topology.region is None:
        return []
    problems, found = [], []
    for flow in topology.replication:
        home = region_stack(stack, topology.region, flow.source)
        try:
            outputs = StackOutputs.parse(read_outputs(home, cwd=project_dir), f"stack {home}'s outputs")
        except (StackStateError, StackOutputsError) as err:
            problems.append(f"flow {flow.name}: cannot read the outputs of {flow.source}'s stack {home} ({err}): "
                            f"deploy it first (`pulumi up --stack {home}`), since its cluster is what MirrorMaker "
                            "copies from")
            continue
        problems += _source_problems(flow, home, outputs)
        found.append(FlowSource(flow, home, outputs))
    if problems:
        _refuse(problems)
    return found


def _source_problems(flow: ReplicationFlow, home: str, outputs: StackOutputs) -> list[str]:
    if outputs.region != flow.source:
        return [f"flow {flow.name}: stack {home} is region {outputs.region!r}'s, not {flow.source}'s: set k2:region "
                f"{flow.source} on it (or name {flow.source}'s stack {home})"]
    deployed = {t.name for t in outputs.topics}
    missing = [t for t in flow.topics if t not in deployed]
    if missing:
        return [f"flow {flow.name}: {flow.source}'s stack {home} has not deployed {', '.join(missing[:5])}"
                f"{' ...' if len(missing) > 5 else ''} yet: `pulumi up --stack {home}` first, so the home topics "
                "exist before their mirrors are fed"]
    return []


def check_schema_ids(sources: list[FlowSource], registry_url: str, basic_auth: str | None,
                     ca_pem: str | None) -> None:
    """Every schema id the home regions' producers write into the flows' topics decodes here to the same schema."""
    wanted: dict[int, tuple[str, str, str]] = {}  # id -> (flow, subject, schema at home)
    for source in sources:
        copied = set(source.flow.topics)
        for subject in source.outputs.subjects:
            if subject.schema_id is not None and subject.schema_text and copied & set(subject.topics):
                wanted.setdefault(subject.schema_id, (source.flow.name, subject.subject, subject.schema_text))
    if not wanted:
        return
    try:
        here = schemas_by_id(registry_url, wanted, basic_auth, ca_pem=ca_pem)
    except Unreachable as err:
        _refuse([f"cannot check that the flows' schema ids decode in this region's registry: {err}"])
    problems = []
    for schema_id, (flow, name, text) in sorted(wanted.items()):
        found = here.get(schema_id)
        if found is None or not same_schema(found, text):
            what = "has no schema" if found is None else "holds another schema"
            problems.append(f"flow {flow}: records of {name} carry schema id {schema_id} from the home "
                            f"region's registry, but this region's registry ({registry_url}) {what} under that id, "
                            "so consumers here could not decode them (or would decode them wrongly). Point every "
                            "region's stack at the environment's one registry (k2:schemaRegistryUrl; "
                            "docs/regions.md)")
    if problems:
        _refuse(problems)


def _refuse(problems: list[str]) -> None:
    raise pulumi.RunError(f"Refused, {NOTHING_CHANGED.lower()}:\n" + "\n".join(f"  - {p}" for p in problems))
