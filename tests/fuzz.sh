#!/bin/sh
# fuzz.sh - runs every libFuzzer target in BUILD/fuzz/ for SECONDS, from its corpus in
# tests/fuzz/TARGET/ (trace: the lesson and old-format traces too); fails on any finding.
# usage: tests/fuzz.sh BUILD SECONDS   (run by `make fuzz FUZZ_SECONDS=N`)
B=${1:-build-fuzz} S=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
failed=""
for bin in "$B"/fuzz/*; do
    [ -x "$bin" ] || continue
    t=$(basename "$bin")
    work="$B/corpus/$t"
    mkdir -p "$work" "$B/artifacts"
    seeds="$here/fuzz/$t"
    [ "$t" = trace ] && seeds="$seeds $here/../traces $(ls -d "$here"/compat/*/)"
    echo "fuzz $t: $S s"
    # -rss_limit_mb: a reader's memory must stay in proportion to its input (64 KiB
    # here), so 1 GB is a finding; -timeout: one input taking 10 s is a hang; -max_len:
    # inputs of up to 64 KiB (longer seeds are cut: a torn trace, itself a case)
    # shellcheck disable=SC2086
    if ! "$bin" -max_total_time="$S" -timeout=10 -rss_limit_mb=1024 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$B/artifacts/$t-" "$work" $seeds \
        >"$B/fuzz-$t.log" 2>&1; then
        failed="$failed $t"
        tail -n 40 "$B/fuzz-$t.log"
        echo "fuzz $t: FAILED; the input is in $B/artifacts/ (keep it in tests/fuzz/$t/)"
    else
        grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$B/fuzz-$t.log" | tail -n 2
    fi
done
[ -z "$failed" ] || { echo "fuzz: findings in:$failed"; exit 1; }
echo "fuzz: no findings"
