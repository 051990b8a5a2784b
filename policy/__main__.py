"""The entry point the language host runs (`python policy/ <engine address>`): serves the K2 rules."""

import sys
from pathlib import Path

# Run as a directory, Python puts policy/ itself first on sys.path, where its modules could shadow
# others by name. Import them as the `policy` package of this checkout instead, beside k2infra.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy.context import Deployment  # noqa: E402
from policy.pack import k2_policies  # noqa: E402

PolicyPack("k2-market-data", k2_policies(Deployment.from_process()), EnforcementLevel.ADVISORY)
