"""The providers the components declare resources through: the kafka provider for the stack's cluster, and two
dynamic providers (schema-registry subjects, the outputs published to S3).

Pulumi stores a dynamic provider in state pickled by reference to its module. Stacks created before these
modules moved here name k2infra.components.schema_subject and k2infra.components.published_outputs: those paths
stay, as shims that re-export the providers (tests/providers/test_old_paths.py, tests/e2e/test_upgrade.py).
"""
