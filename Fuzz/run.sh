#!/usr/bin/env bash
# Builds RelayCore's libFuzzer targets and runs each for a while.
#
#   Fuzz/run.sh [seconds-per-target] [target ...]
#
# Default: 30 s for each of FuzzEventDecoder, FuzzRuleLoader, FuzzJSONDifferential and FuzzEventScanner (a short
# CI run). Seeds come from Tests/Fixtures, examples/events, rules/, Tests/rgw/rules.json and Fuzz/seeds; the corpus
# grows in Fuzz/.build/fuzz/corpus/<target> and is reused by the next run on the same machine. A crash (or a timeout,
# or an out-of-memory) saves the input to Fuzz/.build/fuzz/artifacts/<target>/ and fails the run; reproduce it with
# `<bin>/<target> <file>`, minimise it with `<bin>/<target> -minimize_crash=1 -runs=100000 <file>`.
# Exits non-zero when a target fails to build or crashes; the last line is `fuzz: N passed, M failed`.
set -uo pipefail
# The Swift runtime's own crash backtracer is slow and trips AddressSanitizer; libFuzzer reports crashes itself.
export SWIFT_BACKTRACE=enable=no

cd "$(dirname "$0")"
seconds=${1:-30}
if [ $# -gt 0 ]; then shift; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(FuzzEventDecoder FuzzRuleLoader FuzzJSONDifferential FuzzEventScanner)
fi
case "$seconds" in
    '' | *[!0-9]*)
        echo "usage: $0 [seconds-per-target] [target ...]" >&2
        exit 2
        ;;
esac

# `--sanitize fuzzer` makes SwiftPM link each executable against libFuzzer's main; `-sanitize=fuzzer,address` is
# what instruments the code: passing `--sanitize fuzzer --sanitize address` to SwiftPM gives the compiler two
# `-sanitize=` flags of which only one takes effect, and the targets then run without coverage feedback.
build_flags=(-c release --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address)
work=.build/fuzz
started=$(date +%s)

echo "== fuzz: building (${build_flags[*]})"
if ! swift build "${build_flags[@]}"; then
    echo "fuzz: 0 passed, ${#targets[@]} failed"
    exit 1
fi
bin=$(swift build "${build_flags[@]}" --show-bin-path)

# Seeds, copied fresh each run (libFuzzer reads every file of a directory as one input).
rm -rf "$work/seeds"
mkdir -p "$work/seeds/events" "$work/seeds/rules"
for seed in ../Tests/Fixtures/*/*.json ../Tests/Fixtures/bad/*.txt ../examples/events/*.json seeds/events/*; do
    cp "$seed" "$work/seeds/events/$(basename "$(dirname "$seed")")-$(basename "$seed")"
done
for seed in ../rules/*.json ../Tests/rgw/rules.json seeds/rules/*; do
    cp "$seed" "$work/seeds/rules/$(basename "$(dirname "$seed")")-$(basename "$seed")"
done
# The shipped rules split targets and rules over files: join them as the rule loader's two files (NUL between).
for rules in ../rules/[2-9]*.json; do
    { cat ../rules/10-targets.json; printf '\0'; cat "$rules"; } >"$work/seeds/rules/joined-$(basename "$rules")"
done

seed_dirs() {
    case "$1" in
        FuzzEventDecoder | FuzzEventScanner) echo "$work/seeds/events" ;;
        FuzzRuleLoader) echo "$work/seeds/rules" ;;
        *) echo "$work/seeds/events $work/seeds/rules" ;;
    esac
}

passed=0
failed=0
mkdir -p "$work"
touch "$work/run-started"
for target in "${targets[@]}"; do
    corpus="$work/corpus/$target"
    artifacts="$work/artifacts/$target"
    log="$work/logs/$target.log"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    echo "== fuzz: $target for ${seconds}s (log $log)"
    # shellcheck disable=SC2046
    "$bin/$target" \
        -max_total_time="$seconds" \
        -dict=json.dict \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -print_final_stats=1 \
        -artifact_prefix="$artifacts/" \
        "$corpus" $(seed_dirs "$target") >"$log" 2>&1 </dev/null
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
        echo "$target: ok, ${runs:-?} inputs, ${rate:-?} exec/s, ${coverage:-cov: ?}, corpus $(ls "$corpus" | wc -l)"
    else
        failed=$((failed + 1))
        echo "$target: FAILED (exit $status), ${runs:-?} inputs; the end of its log:"
        tail -n 40 "$log"
        echo "new artifacts: $(find "$artifacts" -type f -newer "$work/run-started" | tr '\n' ' ')"
        echo "reproduce: $bin/$target <artifact>"
    fi
done

echo "== fuzz: $(($(date +%s) - started))s in all"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
