"""The prod environment's settings on a real three-node KRaft cluster: replication 3, min ISR 2."""

from __future__ import annotations

import json

from confluent_kafka.admin import AdminClient

from k2infra.local import LocalPlatform
from k2infra.observed.stack_record import parse_export
from tests.conftest import ROOT
from tests.e2e.conftest import topic_configs, topics_on_cluster

SHIPPED = (ROOT / "topics.yaml").read_text()


def test_prod_settings_apply_on_three_nodes(tmp_path, new_stack, platform):
    local = LocalPlatform(tmp_path / "three")
    state = local.up(nodes=3, kafka_port=None, registry_port=None)
    try:
        admin = AdminClient({"bootstrap.servers": state.bootstrap_servers})
        assert len(admin.list_topics(timeout=10).brokers) == 3
        stack = new_stack("three-nodes")
        for key, value in {"k2:environment": "prod", "k2:bootstrapServers": state.bootstrap_servers,
                           "k2:schemaRegistryUrl": state.schema_registry_url}.items():
            stack.run("config", "set", key, value)
        # These brokers run no authorizer: prod's ACLs could not be applied, so nothing is.
        refused = stack.up(check=False)
        assert refused.returncode != 0 and "run no authorizer" in refused.stdout + refused.stderr
        assert topics_on_cluster(admin) == {}
        stack.set_topology(SHIPPED.replace("    access_control: true", "    access_control: false"))
        stack.up()
        topics = admin.list_topics(timeout=10).topics
        assert len(topics_on_cluster(admin)) == 6
        for name in topics_on_cluster(admin):
            assert {len(p.replicas) for p in topics[name].partitions.values()} == {3}, name
            assert topic_configs(admin, name)["min.insync.replicas"] == "2"
        # Prod resources are protected: destroy refuses until they are unprotected on purpose...
        assert stack.run("destroy", "--yes", check=False).returncode != 0
        assert len(topics_on_cluster(admin)) == 6
        stack.run("state", "unprotect", "--all", "--yes")
        stack.run("destroy", "--yes")
        # ...and even then Pulumi only forgets them: retain_on_delete keeps every topic and its data.
        assert len(topics_on_cluster(admin)) == 6
        assert parse_export(json.loads(stack.run("stack", "export").stdout)).empty
    finally:
        local.down(wipe=True)
