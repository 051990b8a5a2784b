"""The MirrorMaker 2 connectors of one replication flow on an existing Kafka Connect cluster (issue 23, prod).

The settings are the contract's (k2infra.contracts.replication), the same as the local platform's dedicated
MirrorMaker: this component only declares the three connectors with them.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Sequence

import pulumi

from k2infra.contracts.naming import MIRROR_CONNECTORS_TYPE
from k2infra.contracts.replication import (
    ClusterLogin,
    Kind,
    MirrorFlow,
    MirrorOptions,
    RegionCluster,
    connector_configs,
    connector_name,
)
from k2infra.model.regions import ReplicationFlow
from k2infra.providers.mirror_connector import MirrorConnector


class MirrorConnectors(pulumi.ComponentResource):
    """`flow`'s source, checkpoint and heartbeat connectors, on the Connect cluster at `connect_url` whose workers
    write to the flow's target region. `groups`: the consumer groups whose offsets follow them (failover);
    `exactly_once` needs exactly.once.source.support=enabled on the workers. A secured region's login is a
    ClusterLogin: a config-provider reference the workers resolve, never the password."""

    def __init__(self, name: str, flow: ReplicationFlow, *, source_bootstrap_servers: pulumi.Input[str],
                 target_bootstrap_servers: pulumi.Input[str], connect_url: pulumi.Input[str],
                 groups: Sequence[str] = (), exactly_once: bool = True, source_login: ClusterLogin | None = None,
                 target_login: ClusterLogin | None = None, options: MirrorOptions | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(MIRROR_CONNECTORS_TYPE, name, {"flow": flow.name}, opts)
        options = options or MirrorOptions()
        if options.exactly_once != exactly_once:
            options = dataclasses.replace(options, exactly_once=exactly_once)

        def configs(servers: list[str]) -> dict[str, dict[str, str]]:
            mirror = MirrorFlow(RegionCluster(flow.source, servers[0], source_login),
                                RegionCluster(flow.target, servers[1], target_login), flow.topics, tuple(groups))
            return connector_configs(mirror, options)

        # The names need only the regions, so they are known at preview even when the servers are not yet.
        every = pulumi.Output.all(source_bootstrap_servers, target_bootstrap_servers).apply(configs)
        names = {kind: connector_name(MirrorFlow(RegionCluster(flow.source, ""), RegionCluster(flow.target, ""),
                                                 ()), kind) for kind in Kind}
        self.connectors: dict[Kind, MirrorConnector] = {
            kind: MirrorConnector(connector, connect_url=connect_url, connector=connector,
                                  config=every.apply(operator.itemgetter(connector)),
                                  opts=pulumi.ResourceOptions(parent=self))
            for kind, connector in names.items()
        }
        self.register_outputs({"flow": flow.name, "connectors": list(names.values())})
