"""`python -m tests.hostile [ID-PATTERN...]`: one line per case of the catalogue, pass or what is wrong, for a
report; the same cases and judgement as tests/hostile/test_catalogue.py."""

from __future__ import annotations

import fnmatch
import sys
import tempfile
from pathlib import Path

from tests.hostile.catalogue import CASES
from tests.hostile.test_catalogue import try_all


def main(patterns: list[str]) -> int:
    cases = [c for c in CASES if not patterns or any(fnmatch.fnmatch(c.id, p) for p in patterns)]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="k2-hostile-") as tmp:
        pool, futures = try_all(cases, Path(tmp))
        try:
            for case, future in zip(cases, futures, strict=True):
                verdict = future.result()
                failed += bool(verdict.wrong)
                said = "pass" if not verdict.wrong else "FAIL " + "; ".join(verdict.wrong)
                print(f"{case.id:45} {case.kind:15} exit={verdict.outcome.code!s:4} "
                      f"{verdict.outcome.seconds:5.1f}s {said}", flush=True)
        finally:
            pool.shutdown(cancel_futures=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
