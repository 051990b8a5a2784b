"""Shim: `python -m k2infra.team_backend create|check ...`, as scripts/dev-up calls it, runs
`k2 team-backend create|check ...` (`--project DIR` becomes `--config DIR/topics.yaml`). Remove once
scripts/dev-up calls k2 itself.
"""

import sys

if __name__ == "__main__":
    from k2infra.cli.app import main

    args = sys.argv[1:]
    for index, arg in enumerate(args[:-1]):
        if arg == "--project":
            args[index:index + 2] = ["--config", f"{args[index + 1]}/topics.yaml"]
    sys.argv = ["k2", "team-backend", *args]
    main()
