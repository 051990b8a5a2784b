"""Shim: the published-outputs dynamic provider lives in k2infra.providers.published_outputs.

Keep this module: Pulumi stores a dynamic provider in state pickled by reference to its module, and stacks
created before the move name this path; their refresh and destroy unpickle the provider from here
(tests/providers/test_old_paths.py, tests/e2e/test_upgrade.py).
"""

from k2infra.providers.published_outputs import PublishedOutputs, PublishedOutputsProvider

__all__ = ["PublishedOutputs", "PublishedOutputsProvider"]
