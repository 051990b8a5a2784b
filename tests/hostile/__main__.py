"""`python -m tests.hostile [ID-PATTERN...]`: one line per case of the catalogue, pass or what is wrong, for a
report; the same cases and judgement as tests/hostile/test_catalogue.py."""

from __future__ import annotations

import fnmatch
import sys
import tempfile
from pathlib import Path

from tests.hostile.catalogue import CASES
from tests.hostile.test_catalogue import answer, build, judge


def main(patterns: list[str]) -> int:
    failed = 0
    for case in CASES:
        if patterns and not any(fnmatch.fnmatch(case.id, p) for p in patterns):
            continue
        with tempfile.TemporaryDirectory(prefix="k2-hostile-") as tmp:
            project, outside = build(Path(tmp), case)
            outcome = answer(case, project)
            wrong = judge(case, outcome, project, outside)
        failed += bool(wrong)
        verdict = "pass" if not wrong else "FAIL " + "; ".join(wrong)
        print(f"{case.id:45} {case.kind:15} exit={outcome.code!s:4} {outcome.seconds:5.1f}s {verdict}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
