#!/usr/bin/env python3
"""Hostile-input regression suite of bucket-relay: every defect found by trying the relay as an attacker would
(issue 7), and the attacks that held, against the real binary on loopback.

    python3 Tests/hostile/run.py .build/debug/bucket-relay            # CI mode (bounded, under ~2 minutes)
    python3 Tests/hostile/run.py .build/release/bucket-relay --full   # bigger runs, figures for a report
    python3 Tests/hostile/run.py BINARY --only logs,slow-senders      # some groups

Each check prints one `ok`/`FAIL` line; figures print as `--` lines. Checks marked "[other branch: item N]" assert
behaviour fixed on another branch (they fail until it is merged). The last line is `hostile: N passed, M failed`;
the exit status is 1 when a check failed (2 on bad usage). Standard library only; it reuses the fault suite's
harness (Tests/faults/harness.py): every process started is stopped by its PID, temp dirs are removed.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "faults"))

import attacks_held  # noqa: E402
import defects  # noqa: E402
import other_branches  # noqa: E402
from harness import Cleanup, Results, run_suite  # noqa: E402

GROUPS = [
    ("data-dir", defects.data_directory),
    ("logs", defects.forged_log_lines),
    ("slow-senders", defects.slow_senders),
    ("tokens", defects.tokens_and_connections),
    ("smuggling", attacks_held.smuggling),
    ("nesting", attacks_held.deep_nesting),
    ("headers", attacks_held.huge_headers),
    ("cardinality", attacks_held.cardinality),
    ("secrets", attacks_held.secrets),
    ("dribble", attacks_held.healthz_while_dribbling),
    ("amplification", other_branches.dead_letter_amplification),
    ("duplicate-keys", other_branches.duplicate_keys),
    ("url-secrets", other_branches.url_credentials),
    ("replay-proxy", other_branches.replay_as_proxy),
]


class Context:
    def __init__(self, binary: str, full: bool, results: Results, cleanup: Cleanup) -> None:
        self.binary = binary
        self.full = full
        self.results = results
        self.cleanup = cleanup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", help="path of the bucket-relay executable")
    parser.add_argument("--full", action="store_true", help="bigger runs (more senders, longer attacks)")
    parser.add_argument("--only", help="comma list of groups: " + ",".join(n for n, _ in GROUPS))
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print(f"run.py: {binary} is not an executable file", file=sys.stderr)
        return 2
    names = [n for n, _ in GROUPS]
    chosen = args.only.split(",") if args.only else names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"run.py: unknown group(s) {unknown}; choose from {names}", file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (65536 if hard == resource.RLIM_INFINITY
                                                        else min(hard, 65536), hard))
        except (ValueError, OSError):
            pass

    results = Results()
    cleanup = Cleanup()

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    print(f"hostile: binary {binary}, mode {'full' if args.full else 'ci'}", flush=True)
    return run_suite("hostile", GROUPS, chosen, lambda: Context(binary, args.full, results, cleanup), results,
                     cleanup, unit="group")


if __name__ == "__main__":
    sys.exit(main())
