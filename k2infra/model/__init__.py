"""The K2 topology model: pure Python, no Pulumi. Parse, validate and derive names from topics.yaml."""

from k2infra.model.errors import Problem, TopologyError
from k2infra.model.topology import Exchange, Subject, Topic, Topology, load_topology, topic_name

__all__ = [
    "Exchange",
    "Problem",
    "Subject",
    "Topic",
    "Topology",
    "TopologyError",
    "load_topology",
    "topic_name",
]
