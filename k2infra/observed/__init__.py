"""What the cluster, the registry and the stack's state hold right now (no Pulumi), and why they cannot be read:
the other half of a plan.

- cluster: topics, registered schema versions, offsets and ACLs, as they are now;
- failures: each failure to use Kafka or the registry, as Unreachable or one of its subclasses;
- measure: what a retention cut would delete;
- stack_record: what a stack manages, from its state (`pulumi stack export`).
"""
