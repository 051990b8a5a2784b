"""K2 market-data topology: topics.yaml -> Kafka topics and Avro subjects on the stack's cluster.

Only wiring: stack config in, safety checks, components declared from the pure model, outputs out.
"""

import pulumi

from k2infra.components import (
    AppAccess,
    AppUserAccount,
    DockerPlatform,
    ExchangeTopics,
    MirrorConnectors,
    SchemaSubjects,
    topic_records,
)
from k2infra.contracts.containers import EngineNames
from k2infra.model import TopologyError, load_topology
from k2infra.model.plan import declared_by_exchange, deletable
from k2infra.model.replication_access import checkpointed_groups
from k2infra.program import StackConfig, check_changes, check_flows, export_stack_outputs, tune_sdk
from k2infra.program.regions import mirror_options
from k2infra.program.users import declared_users
from k2infra.providers.kafka import kafka_provider
from k2infra.providers.published_outputs import PublishedOutputs

tune_sdk()  # SDK costs that grow with the number of topics (k2infra/program/sdk_tuning.py)
config = StackConfig.load()
settings = config.settings
try:
    topology = load_topology(settings.topics_file, settings.environment, region=settings.region)
except TopologyError as err:
    raise pulumi.RunError(str(err)) from None
plan = check_changes(config, topology)  # refuses data-losing changes before anything is declared
flows = check_flows(config, topology)  # regions: the home stacks' outputs; their schema ids decode here

keep_off = deletable(topology, plan, throwaway=settings.allow_topic_deletion)  # all others: retain_on_delete

platform_ready: list[pulumi.Resource] = []
if settings.cluster == "docker":
    platform = DockerPlatform(EngineNames.of(settings.stack), settings.docker)
    platform_ready = [platform.kafka, platform.registry]

provider = kafka_provider("kafka", settings.bootstrap_servers, settings.security, config.secrets,
                          opts=pulumi.ResourceOptions(depends_on=platform_ready))
exchanges = [
    ExchangeTopics(asset_class, exchange, topics, environment=topology.environment, adopt=plan.adopt,
                   protect=topology.protected, deletable=keep_off, opts=pulumi.ResourceOptions(providers=[provider]))
    for (asset_class, exchange), topics in declared_by_exchange(topology, plan).items()
]
subjects = SchemaSubjects("schemas", [*topology.subjects, *plan.retain_subjects, *plan.release_subjects],
                          environment=topology.environment, registry_url=settings.schema_registry_url,
                          basic_auth=config.registry_basic_auth(), ca_cert=config.secrets.ca_cert,
                          protect=topology.protected, deletable=keep_off,
                          opts=pulumi.ResourceOptions(depends_on=platform_ready))

# Least-privilege ACLs, where the environment's brokers enforce them.
access = [AppAccess(app, environment=topology.environment, opts=pulumi.ResourceOptions(providers=[provider]))
          for app in topology.apps] if topology.access_control else []
# Each app's SCRAM user and credential source, where the environment manages users (k2infra/program/users.py).
users = [AppUserAccount(user, source=source, environment=topology.environment, provider=provider)
         for user, source in declared_users(topology, settings.stack)]

# Regions in prod: the flows into this region as MirrorMaker 2 connectors on an existing Kafka Connect cluster,
# once their mirrors exist (the local platform runs a dedicated MirrorMaker instead: `k2 local up --regions`).
mirrors = [MirrorConnectors(f"replication-{s.flow.source}", s.flow, connect_url=settings.connect_url,
                            source_bootstrap_servers=str(s.outputs.bootstrap_servers),
                            target_bootstrap_servers=",".join(settings.bootstrap_servers),
                            groups=checkpointed_groups(topology.apps, s.flow.topics),
                            options=mirror_options(topology, local=settings.cluster == "local"),
                            opts=pulumi.ResourceOptions(depends_on=exchanges))
           for s in flows] if settings.connect_url else []

desired = {t.name for t in topology.topics}
outputs = export_stack_outputs(
    {
        "stack": settings.stack,
        "environment": topology.environment,
        "bootstrap_servers": ",".join(settings.bootstrap_servers),
        "security_protocol": settings.security.protocol,
        "sasl_mechanism": settings.security.sasl_mechanism,
        "schema_registry_url": settings.schema_registry_url,
        "exchanges": [e.to_dict() for e in topology.exchanges],
        "managed_topics": sorted([*desired, *(t.name for t in [*plan.retain, *plan.release])]),
        "retained_topics": sorted(t.name for t in [*plan.retain, *plan.release]),
        "retained_subjects": sorted(s.subject for s in [*plan.retain_subjects, *plan.release_subjects]),
        "region": topology.region,
        "replication": [source.to_output() for source in flows],
    },
    topics=topic_records([t for group in exchanges for t in group.applied(desired)]),
    subjects=subjects.outputs(topology.subjects),
)
if settings.publish_outputs:  # for apps: the outputs as an S3 object, rewritten by every up
    PublishedOutputs("published-outputs", location=settings.publish_outputs, outputs=outputs, stack=settings.stack,
                     delete_on_destroy=settings.unpublish_on_destroy)
