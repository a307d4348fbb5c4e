#!/usr/bin/env python3
"""An example downstream service for bucket-relay: prints every event it receives.

Standard library only. It answers 204 by default; --status makes it answer something else (to watch the
relay retry), --log FILE appends one JSON line per request (path, headers, body) for scripts to inspect,
--ready-file FILE is written once the port is bound (so that a script can tell "listening" from "failed to start").

    python3 examples/receiver/receiver.py --port 9000
"""
import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote_plus


def describe(record, event) -> str:
    """One record: its event name and bucket/key; a CloudEvent (format cloudevents) by its type and subject."""
    if not isinstance(record, dict):
        return json.dumps(record)
    if "specversion" in record:
        return "%s %s" % (record.get("type"), record.get("subject"))
    s3 = record.get("s3", {})
    key = s3.get("object", {}).get("key", "")
    if record.get("eventSource") in ("minio:s3", "aws:s3"):
        key = unquote_plus(key)  # MinIO and AWS escape keys; Ceph RGW sends them raw
    where = event.get("Key") or "%s/%s" % (s3.get("bucket", {}).get("name"), key)
    return "%s %s" % (record.get("eventName"), where)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--status", type=int, default=204, help="HTTP status to answer (default 204)")
    parser.add_argument("--log", help="append one JSON line per request to this file")
    parser.add_argument("--quiet", action="store_true", help="print nothing per request")
    parser.add_argument("--ready-file", help="write this file once the port is bound")
    args = parser.parse_args()
    lock = threading.Lock()

    def say(stream, text: str) -> None:
        """One line, in one write, flushed: lines of concurrent requests never run into each other."""
        data = (text.replace("\r", "\\r").replace("\n", "\\n") + "\n").encode("utf-8", "replace")
        with lock:
            view = memoryview(data)
            while view:
                view = view[os.write(stream.fileno(), view):]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            entry = {"path": self.path, "headers": dict(self.headers.items()), "body": body.decode("utf-8", "replace")}
            if not args.quiet:
                prefix = "%s %s id=%s attempt=%s" % (
                    self.command, self.path, self.headers.get("webhook-id"), self.headers.get("X-Relay-Attempt"))
                try:
                    event = json.loads(body)
                    records = event.get("Records") or [event.get("data") or {}]
                    lines = [describe(record, event if len(records) == 1 else {}) for record in records]
                except (ValueError, AttributeError, IndexError, TypeError):
                    lines = [body.decode("utf-8", "replace")]
                if len(lines) == 1:
                    say(sys.stdout, "%s %s" % (prefix, lines[0]))
                else:  # a batch (a target with "batch"): one line per record
                    for number, line in enumerate(lines, 1):
                        say(sys.stdout, "%s [%d/%d] %s" % (prefix, number, len(lines), line))
            if args.log:
                with lock, open(args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
            self.send_response(args.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *items: object) -> None:  # quiet the default access log
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the relay opens up to a target's maxInFlight connections at once

    try:
        server = Server((args.host, args.port), Handler)
    except OSError as error:
        say(sys.stderr, "receiver: cannot listen on %s:%d: %s" % (args.host, args.port, error.strerror or error))
        return 1
    say(sys.stderr, "receiver listening on http://%s:%d" % (args.host, args.port))
    if args.ready_file:
        with open(args.ready_file, "w", encoding="utf-8") as f:
            f.write("%d\n" % os.getpid())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
