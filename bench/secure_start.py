"""How long `k2 local up --secure` takes, part by part: Kafka, Keycloak (start + the realm and clients ensured
through its admin API) and Apicurio on HTTPS with OIDC; first on a new directory, then restarted on its data.

    . scripts/env.sh && python bench/secure_start.py [--rounds 3]

Each part's time is the one `up` reports (`... ready in N s`). Writes bench/results/secure_start.json and its
section of bench/RESULTS.md. Not part of the test run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for `bench` and `k2infra`

from bench.report import HERE, save
from k2infra.local import LocalPlatform
from k2infra.model.parse import read_spec

PARTS = ("Kafka", "Keycloak", "registry")
BEGIN, END = "<!-- secure_start: begin -->", "<!-- secure_start: end -->"


def one_up(platform: LocalPlatform, apps: list[str], lines: list[str]) -> dict[str, float]:
    lines.clear()
    started = time.monotonic()
    platform.up(kafka_port=None, registry_port=None, secure=True, registry_apps=apps)
    total = time.monotonic() - started
    times = {part: float(m.group(1)) for line in lines for part in PARTS
             if (m := re.search(rf"{part} ready in ([0-9.]+)s", line))}
    return {**times, "total": round(total, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    apps = sorted(read_spec(Path(__file__).resolve().parents[1] / "topics.yaml").apps)
    runs: dict[str, list[dict[str, float]]] = {"new directory": [], "restart on its data": []}
    load_before = os.getloadavg()
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            lines: list[str] = []
            platform = LocalPlatform(Path(tmp) / "platform", echo=lines.append)
            try:
                runs["new directory"].append(one_up(platform, apps, lines))
                platform.down()
                runs["restart on its data"].append(one_up(platform, apps, lines))
            finally:
                platform.down(wipe=True)
    results = {"date": datetime.date.today().isoformat(), "cores": os.cpu_count(), "apps": len(apps),
               "load_before": load_before, "load_after": os.getloadavg(), "runs": runs,
               "versions": {"keycloak": os.environ.get("K2_KEYCLOAK_VERSION"),
                            "apicurio": os.environ.get("K2_APICURIO_VERSION"),
                            "kafka": os.environ.get("K2_KAFKA_VERSION")}}
    path = save(results, HERE / "results" / "secure_start.json", markdown(results), BEGIN, END)
    print(f"wrote {path}")


def markdown(r: dict) -> str:
    v = r["versions"]
    rows = "\n".join(
        f"| {case} | " + " | ".join(f"{statistics.median(run[p] for run in runs):.1f}" for p in (*PARTS, "total"))
        + " |" for case, runs in r["runs"].items())
    return (f"## Secure platform start (`bench/secure_start.py`)\n\n"
            f"`python bench/secure_start.py` on {r['date']}: {r['cores']} cores, Kafka {v['kafka']}, Keycloak "
            f"{v['keycloak']} (`start --optimized`, H2 file), Apicurio {v['apicurio']} (HTTPS + OIDC); the realm "
            f"with the deployer and {r['apps']} app clients; load average {r['load_before'][0]:.2f} before, "
            f"{r['load_after'][0]:.2f} after. Median seconds of {len(next(iter(r['runs'].values())))} rounds. "
            f"Raw figures: [results/secure_start.json](results/secure_start.json).\n\n"
            f"| `up --secure` | Kafka | Keycloak (+ realm) | registry | total |\n| --- | ---: | ---: | ---: | ---: |\n"
            f"{rows}\n\n")


if __name__ == "__main__":
    main()
