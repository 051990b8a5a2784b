"""Shim: `python -m k2infra.engine start-stopped STACK`, as scripts/dev-up calls it, runs
`k2 engine start-stopped --stack STACK`. Remove once scripts/dev-up calls k2 itself.
"""

import sys

if __name__ == "__main__":
    from k2infra.cli.app import main

    if sys.argv[1:2] != ["start-stopped"] or len(sys.argv) != 3:
        sys.exit("usage: python -m k2infra.engine start-stopped STACK")
    sys.argv = ["k2", "engine", "start-stopped", "--stack", sys.argv[2]]
    main()
