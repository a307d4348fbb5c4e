#!/usr/bin/env python3
"""Several relays on NATS JetStream, against real nats-server processes on loopback (issue 8's proofs):

    python3 Tests/jetstream/run.py .build/debug/bucket-relay            # CI mode (bounded, a few minutes)
    python3 Tests/jetstream/run.py .build/release/bucket-relay --full   # the issue's sizes (3,000 + 1,000 events...)
    python3 Tests/jetstream/run.py BINARY --only resend-storm,dead-target

Scenarios: `three-relays` (three relays on one NATS server, webhooks to two of them and events straight into
`minio.events`, kill -9 a relay twice), `nats-cluster` (a NATS cluster of three, R3 streams, kill -9 the
deliveries stream's leader under load and restart it), `resend-storm` (20 concurrent identical POSTs over two relays),
`dead-target` (a dead target beside a healthy one over three relays: the healthy one's p99 latency, the dead one's
attempts), `dead-relay-held` (what a killed relay held for retries reaches the target through another relay). Parts that need flags the binary does not have (`--jetstream-subject`, `--instance`) are detected from
`serve --help` and print a `SKIP (needs ...)` line.

Each check prints an `ok`/`FAIL` line, each measurement a `--` line; the last line is `jetstream: N passed, M failed`.
Exit status 1 when a check failed, 2 on bad usage or when nats-server is missing. Standard library only (its own
minimal NATS client, natsnode.py); it reuses the fault suite's harness (Tests/faults/harness.py). Every process it
starts (nats-server, relays) runs in its own session and is stopped by its PID at the end, also on failure or
Ctrl-C; temp dirs are removed.
"""

from __future__ import annotations

import argparse
import atexit
import os
import resource
import signal
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "faults"))

import scenario_dead_relay_held  # noqa: E402
import scenario_dead_target  # noqa: E402
import scenario_nats_cluster  # noqa: E402
import scenario_resend_storm  # noqa: E402
import scenario_three_relays  # noqa: E402
from common import Features  # noqa: E402
from harness import Cleanup, Results, run_suite  # noqa: E402
from natsnode import nats_server_binary  # noqa: E402

SCENARIOS = [
    ("resend-storm", scenario_resend_storm),
    ("dead-relay-held", scenario_dead_relay_held),
    ("three-relays", scenario_three_relays),
    ("nats-cluster", scenario_nats_cluster),
    ("dead-target", scenario_dead_target),
]


class Context:
    def __init__(self, binary: str, full: bool, results: Results, cleanup: Cleanup, features: Features) -> None:
        self.binary = binary
        self.full = full
        self.results = results
        self.cleanup = cleanup
        self.features = features


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", help="path of the bucket-relay executable")
    parser.add_argument("--full", action="store_true", help="the issue's sizes (3,000 + 1,000 events, longer runs)")
    parser.add_argument("--only", help="comma list of scenarios: " + ",".join(n for n, _ in SCENARIOS))
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
    if nats_server_binary() is None:
        print("run.py: nats-server not found (apt-get install nats-server, or NATS_SERVER=path)", file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (65536 if hard == resource.RLIM_INFINITY
                                                        else min(hard, 65536), hard))
        except (ValueError, OSError):
            pass

    features = Features(binary)
    results = Results()
    cleanup = Cleanup()
    atexit.register(cleanup.run)  # whatever happens, the processes started stop

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    print(f"jetstream: binary {binary}, mode {'full' if args.full else 'ci'}", flush=True)
    print(f"jetstream: serve offers {features.describe()}", flush=True)
    if not features.jetstream:
        results.check("run", "the binary has `serve --jetstream`", False, "not in `serve --help`")
    units = [(name, module.run) for name, module in SCENARIOS] if features.jetstream else []
    return run_suite("jetstream", units, chosen, lambda: Context(binary, args.full, results, cleanup, features),
                     results, cleanup, skip_prefix="SKIP ")


if __name__ == "__main__":
    sys.exit(main())
