"""The providers' tests run the program under Pulumi's mocks too: the same fixtures as tests/program (a fresh
runtime per test, the cluster the guard observes faked)."""

from tests.program.conftest import cluster, fresh_pulumi_runtime  # noqa: F401 (autouse fixtures)
