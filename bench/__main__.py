"""`python -m bench [slow|overhead|client|web ...]`: run benchmarks, write results, report.

Without names all four run (about 8-10 minutes). Each writes bench/results/<name>.json;
bench/REPORT.md is then regenerated from every result file present.

Options:
  --max-wait S    wait up to S seconds in all for a quiet machine (no pytest, low load)
                  before the benchmarks (default 1200; 0 = do not wait)
  --max-load L    "quiet" means a 1-minute load average below L (default 0.7)
  --report-only   only regenerate bench/REPORT.md from the existing results
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .common import load_snapshot, log, machine_info, save_result, wait_until_quiet

NAMES = ("slow", "overhead", "client", "web")


def _run_one(name: str) -> dict[str, Any]:
    if name == "slow":
        from . import slow

        return slow.run()
    if name == "overhead":
        from . import overhead

        return overhead.run()
    if name == "client":
        from . import client

        return client.run()
    from . import web

    return web.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=" | ".join(NAMES))
    parser.add_argument("--max-wait", type=float, default=1200)
    parser.add_argument("--max-load", type=float, default=0.7)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    names = args.names or list(NAMES)
    for name in names:
        if name not in NAMES:
            parser.error(f"unknown benchmark {name!r}; choose from {', '.join(NAMES)}")
    if not args.report_only:
        machine = machine_info()
        # One waiting budget for the whole run: a machine still busy after it is benchmarked
        # anyway, and the load found is recorded in the results and the report.
        wait_until = time.monotonic() + args.max_wait
        for name in names:
            quiet = wait_until_quiet(max(0.0, wait_until - time.monotonic()), args.max_load)
            log(f"=== {name} ===")
            started = time.time()
            result = _run_one(name)
            result["machine"] = machine
            result["started_at"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started))
            result["duration_s"] = round(time.time() - started, 1)
            result["load_before"] = quiet
            result["load_after"] = load_snapshot()
            result["command"] = "python -m bench " + name
            path = save_result(name, result)
            log(f"{name}: results in {path}")
    from .report import write_report

    path = write_report()
    log(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
