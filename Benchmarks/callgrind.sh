#!/usr/bin/env bash
# Instructions per event for decode + match, counted by valgrind's callgrind (instructions, not seconds: the number
# does not move with the machine's load).
#
#   Benchmarks/callgrind.sh [rules] [hits] [path]
#
# Defaults: 10000 rules, 1 matching rule, path `scanner` (`EventDecoder.decode`, the fast path); `full` is the full
# parse (`EventDecoder.decodeByFullParse`) with the same matcher, `naive` the full parse with the naive per-rule scan.
# Builds DecodeMatchLoop in release mode, runs it under callgrind with 2,000 and with 4,000 iterations and prints
# (Ir(4000) - Ir(2000)) / 2000: the instructions of one decode + match of minio/put-image.json, without the setup
# (reading the fixture, compiling the rules). Needs valgrind (`apt-get install valgrind`).
set -euo pipefail
# Dictionaries hash with a per-process seed: fixed, the setup costs the same in both runs.
export SWIFT_DETERMINISTIC_HASHING=1
cd "$(dirname "$0")"
rules=${1:-10000}
hits=${2:-1}
path=${3:-scanner}
swift build -c release --product DecodeMatchLoop >/dev/null
bin=$(swift build -c release --show-bin-path)/DecodeMatchLoop
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() {
    valgrind --tool=callgrind --callgrind-out-file="$out/$1.out" "$bin" --rules "$rules" --hits "$hits" \
        --path "$path" --iterations "$1" >"$out/$1.log" 2>&1
    sed -n 's/^summary: *//p' "$out/$1.out"
}
low=$(count 2000)
high=$(count 4000)
echo "decode+match, $path, $rules rules, $hits matching: $(((high - low) / 2000)) instructions per event"
