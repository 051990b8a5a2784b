"""The `k2` command (Typer): one module per command group, wired in k2infra.cli.app; `python -m k2infra.cli` and
the `k2` console script run it."""

import sys

try:
    import rich  # noqa: F401
    import typer  # noqa: F401
except ImportError:  # `pip install k2infra` is an app's install: the helpers, without the operator tools
    sys.exit("k2: this command is part of the operator tools: pip install 'k2infra[operator]'")

from k2infra.cli.app import app, main
from k2infra.cli.common import environment_of

__all__ = ["app", "environment_of", "main"]
