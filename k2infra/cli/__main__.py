"""`python -m k2infra.cli` (bin/k2) runs the `k2` command."""

from k2infra.cli.app import main

main()
