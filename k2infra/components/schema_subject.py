"""Shim: the subject dynamic provider lives in k2infra.providers.schema_subject.

Keep this module: Pulumi stores a dynamic provider in state pickled by reference to its module, and stacks
created before the move name this path; their refresh and destroy unpickle the provider from here
(tests/providers/test_old_paths.py, tests/e2e/test_upgrade.py).
"""

from k2infra.providers.schema_subject import IncompatibleSchemaError, SchemaSubject, SchemaSubjectProvider

__all__ = ["IncompatibleSchemaError", "SchemaSubject", "SchemaSubjectProvider"]
