#!/usr/bin/env bash
# Checks the release binary that `make run` builds and the README calls "the binary":
#   - it is linked with the Swift runtime statically: `ldd` lists no libswift*, libFoundation*, libdispatch,
#     libBlocksRuntime or ICU from the toolchain, and every library it does need resolves to a file that a Debian
#     package owns, each package being libcurl4, libsqlite3-0, libnats3.4, one of their dependencies or one of apt's own
#     (libc6, libgcc-s1, libstdc++6);
#   - it starts without the toolchain in its environment: `--help`, `--version`, `validate --rules rules`, and
#     `serve` on a loopback port answers GET /healthz and stops on SIGTERM.
#
#     bash Tests/release/check_static.sh .build/release/bucket-relay
#
# Exit 0 when every check passes; prints one line per check.
set -uo pipefail
cd "$(dirname "$0")/../.."

binary=${1:?usage: check_static.sh BINARY}
failures=0
pass() { echo "ok   $*"; }
fail() {
	echo "FAIL $*"
	failures=$((failures + 1))
}

if [ ! -x "$binary" ]; then
	fail "$binary is an executable file (build it with: make release)"
	exit 1
fi
pass "$binary is an executable file"

libraries=$(ldd "$binary" 2>&1) || {
	fail "ldd $binary: $libraries"
	exit 1
}
toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swift 2>/dev/null || echo /nonexistent/bin/swift)")")")
swift_runtime=$(grep -E 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|libicu' <<<"$libraries")
if [ -z "$swift_runtime" ]; then
	pass "ldd lists no Swift runtime library (libswift*, libFoundation*, libdispatch, ICU)"
else
	fail "ldd lists Swift runtime libraries, so the binary needs the toolchain to start:"
	sed 's/^/       /' <<<"$swift_runtime"
fi
missing=$(grep 'not found' <<<"$libraries")
if [ -z "$missing" ]; then
	pass "every library resolves"
else
	fail "libraries that do not resolve:"
	sed 's/^/       /' <<<"$missing"
fi
unowned=""
packages=""
while read -r path; do
	real=$(readlink -f "$path")
	case "$real" in "$toolchain"/*) unowned="$unowned $real (toolchain)"; continue ;; esac
	owner=$(dpkg -S "$real" 2>/dev/null || dpkg -S "$path" 2>/dev/null) || {
		unowned="$unowned $real"
		continue
	}
	packages="$packages ${owner%%:*}"
done < <(awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]+ \(/ { print $1 }' <<<"$libraries")
if [ -z "$unowned" ]; then
	pass "every library comes from a Debian package:$(tr ' ' '\n' <<<"$packages" | sort -u | tr '\n' ' ')"
else
	fail "libraries no Debian package owns:$unowned"
fi
# "Copyable to a Debian host with only libcurl and SQLite": every package it needs is libcurl4, libsqlite3-0, libnats3.4 or one
# of their dependencies, or apt's own (libc6, libgcc-s1, libstdc++6: on every Debian system that has apt).
allowed=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
	--no-enhances libcurl4 libsqlite3-0 libnats3.4 apt 2>/dev/null | grep -v '^ ' | grep -v '<' | sort -u)
extra=$(comm -23 <(tr ' ' '\n' <<<"$packages" | sed '/^$/d; s/:.*//' | sort -u) <(sed 's/:.*//' <<<"$allowed" | sort -u))
if [ -z "$allowed" ]; then
	fail "apt-cache depends gave no dependency list for libcurl4 libsqlite3-0 libnats3.4"
elif [ -z "$extra" ]; then
	pass "every such package is libcurl4, libsqlite3-0, libnats3.4, one of their dependencies or apt's own"
else
	fail "packages beyond libcurl4, libsqlite3-0, libnats3.4 and their dependencies:" $extra
fi
for needed in libcurl.so.4 libsqlite3.so.0; do
	if grep -q "$needed" <<<"$libraries"; then pass "links $needed from the system"; else fail "links $needed"; fi
done

# Run it with an environment that holds no trace of the toolchain.
run() { env -i PATH=/usr/bin:/bin HOME="${HOME:-/tmp}" "$binary" "$@"; }
if out=$(run --help 2>&1) && grep -q 'serve' <<<"$out"; then
	pass "bucket-relay --help lists the subcommands"
else
	fail "bucket-relay --help: $out"
fi
if out=$(run --version 2>&1) && [ -n "$out" ]; then pass "bucket-relay --version: $out"; else fail "--version: $out"; fi
if out=$(run validate --rules rules 2>&1) && grep -q '^rules: ok:' <<<"$out"; then
	pass "bucket-relay validate --rules rules: $out"
else
	fail "bucket-relay validate --rules rules: $out"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
env -i PATH=/usr/bin:/bin HOME="${HOME:-/tmp}" "$binary" serve --host 127.0.0.1 --port 0 --rules rules \
	--data-dir "$work/data" 2>"$work/serve.log" &
serve=$!
port=""
for _ in $(seq 200); do
	port=$(sed -n '/Relay listening/s/.*server\.port[=:"]*\([0-9][0-9]*\).*/\1/p' "$work/serve.log" | head -1)
	[ -n "$port" ] && break
	kill -0 $serve 2>/dev/null || break
	sleep 0.05
done
if [ -n "$port" ] && curl -fsS "http://127.0.0.1:$port/healthz" >"$work/healthz" 2>&1; then
	pass "bucket-relay serve listens on 127.0.0.1:$port and answers /healthz: $(cat "$work/healthz")"
else
	fail "bucket-relay serve starts and answers /healthz; its log:"
	sed 's/^/       /' "$work/serve.log"
fi
kill -TERM $serve 2>/dev/null
for _ in $(seq 300); do kill -0 $serve 2>/dev/null || break; sleep 0.05; done
if kill -0 $serve 2>/dev/null; then
	kill -KILL $serve
	fail "bucket-relay serve stops within 15 s of SIGTERM"
elif wait $serve; then
	pass "bucket-relay serve stops on SIGTERM with status 0"
else
	fail "bucket-relay serve stops on SIGTERM with status 0 (got $?)"
fi

echo "release binary: $([ $failures = 0 ] && echo ok || echo "$failures check(s) failed")"
[ $failures = 0 ]
