#!/usr/bin/env python3
"""Fault-injection tests of bucket-relay's promise: a 2xx means the event reaches each matched target or the
dead-letter file, across crashes, full disks, backlogs, restarts and hostile clients.

    python3 Tests/faults/run.py .build/debug/bucket-relay            # CI mode (bounded, a few minutes)
    python3 Tests/faults/run.py .build/release/bucket-relay --full   # the big runs whose figures go in a report
    python3 Tests/faults/run.py BINARY --only crash-loop,backlog      # some scenarios

Standard library only; everything listens on 127.0.0.1; every process started is stopped by its PID at the end,
temp dirs are removed, the tmpfs of the full-disk scenario is unmounted. The last line is
`faults: N passed, M failed`; the exit status is 1 when a check failed (2 on bad usage).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import scenario_backlog  # noqa: E402
import scenario_crash_loop  # noqa: E402
import scenario_full_disk  # noqa: E402
import scenario_graceful_stop  # noqa: E402
import scenario_hostile  # noqa: E402
from harness import Cleanup, Results, run_suite  # noqa: E402

SCENARIOS = [
    ("crash-loop", scenario_crash_loop),
    ("full-disk", scenario_full_disk),
    ("backlog", scenario_backlog),
    ("graceful-stop", scenario_graceful_stop),
    ("hostile", scenario_hostile),
]


class Context:
    def __init__(self, binary: str, full: bool, results: Results, cleanup: Cleanup, seed: int) -> None:
        self.binary = binary
        self.full = full
        self.results = results
        self.cleanup = cleanup
        self.rng = random.Random(seed)
        self.seed = seed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", help="path of the bucket-relay executable")
    parser.add_argument("--full", action="store_true", help="the big runs (20+ kills, 1M backlog, ...)")
    parser.add_argument("--only", help="comma list of scenarios: " + ",".join(n for n, _ in SCENARIOS))
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time based, printed)")
    args = parser.parse_args()

    binary = os.path.abspath(args.binary)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print(f"run.py: {binary} is not an executable file", file=sys.stderr)
        return 2
    names = [n for n, _ in SCENARIOS]
    chosen = args.only.split(",") if args.only else names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"run.py: unknown scenario(s) {unknown}; choose from {names}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else int(time.time()) % 100000

    # 1,000 held connections need descriptors on both sides; the relay inherits this limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536) if hard != resource.RLIM_INFINITY
                                                        else 65536, hard))
        except (ValueError, OSError):
            pass

    results = Results()
    cleanup = Cleanup()

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    mode = "full" if args.full else "ci"
    print(f"faults: binary {binary}, mode {mode}, seed {seed}, "
          f"RLIMIT_NOFILE {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}", flush=True)
    return run_suite("faults", [(name, module.run) for name, module in SCENARIOS], chosen,
                     lambda: Context(binary, args.full, results, cleanup, seed), results, cleanup,
                     skip_prefix="skipped: ")


if __name__ == "__main__":
    sys.exit(main())
