"""The Pulumi program's own steps, around the components: the stack's config (settings and secret Outputs),
the safety checks that run before any resource is declared (the guard), the SDK tuning, and the exports.
"""

from k2infra.program.exports import export_stack_outputs
from k2infra.program.guard import check_changes, check_flows
from k2infra.program.sdk_tuning import tune_sdk
from k2infra.program.stack_config import StackConfig, StackSecrets

__all__ = ["StackConfig", "StackSecrets", "check_changes", "check_flows", "export_stack_outputs", "tune_sdk"]
