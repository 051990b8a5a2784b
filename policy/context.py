"""What the pack knows about the stack under analysis beyond one resource's own inputs.

The engine shows a policy one resource at a time and never the stack's config. Two things fill the gap:

- the environment (dev, prod) comes from the props of the program's K2 components
  (k2:market:ExchangeTopics, k2:market:SchemaSubjects). The engine analyzes a parent before its
  children, since a child cannot be registered until its parent has been, so by the time a topic is
  analyzed its component's environment has been seen; the stack rules run last of all. Until a
  component is seen, the stack name stands in: it is the program's own default for k2:environment.
- topics.yaml and the stack's config files are read from the project directory, the working
  directory the engine starts the pack in (K2_TOPICS_FILE overrides the topology file). topics.yaml says
  which environments are protected, and so held to the production rules; Pulumi.<stack>.yaml says which
  secrets provider the stack has.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from k2infra.contracts.naming import EXCHANGE_TOPICS_TYPE, SCHEMA_SUBJECTS_TYPE
from k2infra.model import TopologyError
from policy.declared import DeclaredTopology
from policy.resources import stack_of

K2_COMPONENTS = (EXCHANGE_TOPICS_TYPE, SCHEMA_SUBJECTS_TYPE)


class Deployment:
    def __init__(self, project_dir: Path, topics_file: Path | None = None):
        self.project_dir = project_dir
        self.topics_file = topics_file or project_dir / "topics.yaml"
        self._environment: str | None = None  # one stack, one environment: any K2 component's
        self._topology: DeclaredTopology | None = None
        self.topology_problem: str | None = None

    @classmethod
    def from_process(cls) -> Deployment:
        project = Path.cwd()
        topics = os.environ.get("K2_TOPICS_FILE")
        return cls(project, project / topics if topics else None)

    @property
    def topology(self) -> DeclaredTopology | None:
        """topics.yaml, read once per run; None (and topology_problem says why) if it cannot be read."""
        if self._topology is None and self.topology_problem is None:
            try:
                self._topology = DeclaredTopology.load(self.topics_file)
            except TopologyError as err:
                self.topology_problem = str(err)
        return self._topology

    def observe(self, resource_type: str, props: Mapping[str, Any]) -> None:
        if resource_type in K2_COMPONENTS and props.get("environment"):
            self._environment = str(props["environment"])

    def environment(self, urn: str) -> str:
        """The stack's environment: as its K2 components declare it, else the stack's name."""
        return self._environment or stack_of(urn)

    def is_protected(self, environment: str) -> bool:
        """Whether the production rules hold: topics.yaml's environments.<env>.protected, whatever the name; an
        environment the file does not declare, or a file that cannot be read, counts as protected."""
        topology = self.topology
        return topology is None or topology.spec.protects(environment)
