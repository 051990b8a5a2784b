"""The K2 topology model: pure Python, no Pulumi. Parse, validate and derive the topology from topics.yaml.

The public API (what the program, the CLI, the policy pack and the app helpers use):
`load_topology` for the derived topology (`load_topologies`: several environments from one parse), `read_spec`
for the file's checked shape, the domain types, and `TopologyError`, whose problems each name the file, line and key.
"""

from k2infra.model.derive import load_topologies, load_topology
from k2infra.model.entities import Exchange, Subject, Topic
from k2infra.model.errors import Problem, TopologyError
from k2infra.model.parse import read_spec
from k2infra.model.spec import ExchangeSpec, TopologySpec
from k2infra.model.topology import Topology

__all__ = [
    "Exchange",
    "ExchangeSpec",
    "Problem",
    "Subject",
    "Topic",
    "Topology",
    "TopologyError",
    "TopologySpec",
    "load_topologies",
    "load_topology",
    "read_spec",
]
