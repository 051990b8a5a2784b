"""What observe.py reads from a real broker that the unit tests cannot fake: whether it runs an authorizer."""

from __future__ import annotations

from k2infra.observe import client_config, observe_acls


def test_a_broker_without_an_authorizer_has_no_acls_to_list(platform):
    # Kafka lists no ACLs without error there, yet refuses to create any: None says "cannot enforce".
    assert observe_acls(client_config(platform.bootstrap_servers)) is None
