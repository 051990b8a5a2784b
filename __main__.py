"""K2 market-data topology: topics.yaml -> Kafka topics and Avro subjects on the stack's cluster.

Only wiring: stack config in, safety checks, components declared from the pure model, plain outputs.
"""

import pulumi

from k2infra.components import DockerPlatform, ExchangeTopics, SchemaSubjects, check_changes, kafka_provider
from k2infra.model import TopologyError, load_topology
from k2infra.model.plan import declared_by_exchange
from k2infra.stack import StackSettings

settings = StackSettings.from_config()
try:
    topology = load_topology(settings.topics_file, settings.environment)
except TopologyError as err:
    raise pulumi.RunError(str(err)) from None
plan = check_changes(settings, topology)  # refuses data-losing changes before anything is declared

platform_ready: list[pulumi.Resource] = []
if settings.cluster == "docker":
    platform = DockerPlatform("k2-dev", settings.docker)
    platform_ready = [platform.kafka, platform.registry]

provider = kafka_provider("kafka", settings.bootstrap_servers, settings.security,
                          opts=pulumi.ResourceOptions(depends_on=platform_ready))
exchanges = [
    ExchangeTopics(asset_class, exchange, topics, environment=topology.environment, adopt=plan.adopt,
                   protect=topology.protected, opts=pulumi.ResourceOptions(providers=[provider]))
    for (asset_class, exchange), topics in declared_by_exchange(topology, plan).items()
]
subjects = SchemaSubjects("schemas", topology.subjects, environment=topology.environment,
                          registry_url=settings.schema_registry_url, basic_auth=settings.registry_basic_auth(),
                          protect=topology.protected, opts=pulumi.ResourceOptions(depends_on=platform_ready))

pulumi.export("stack", settings.stack)
pulumi.export("environment", topology.environment)
pulumi.export("bootstrap_servers", ",".join(settings.bootstrap_servers))
pulumi.export("security_protocol", settings.security.protocol)
pulumi.export("sasl_mechanism", settings.security.sasl_mechanism)
pulumi.export("schema_registry_url", settings.schema_registry_url)
desired = {t.name for t in topology.topics}
pulumi.export("topics", pulumi.Output.all(*[o for group in exchanges for o in group.outputs(desired)]))
pulumi.export("subjects", pulumi.Output.all(*subjects.outputs(topology.subjects)))
pulumi.export("exchanges", [e.to_dict() for e in topology.exchanges])
# Plain lists, so they are recorded even when an update fails: the next run's ownership record.
pulumi.export("managed_topics", sorted([t.name for t in topology.topics] + [t.name for t in plan.retain]))
pulumi.export("retained_topics", sorted(t.name for t in plan.retain))
