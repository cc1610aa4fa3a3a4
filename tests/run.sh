#!/bin/sh
# run.sh - runs every cmocka program and integration script under a timeout, prints a summary.
# usage: tests/run.sh BUILD_DIR [NAME...]   (EPSCOPE=path/to/epscope, VALGRIND=1 optional)
B=${1:-build}; shift
: "${EPSCOPE:=$PWD/$B/epscope}"
export EPSCOPE
LOGS=$B/test-logs
mkdir -p "$LOGS"
pass=0 fail=0 skip=0 failed=""
start=$(date +%s)

run_one() { # name limit cmd...
    name=$1 limit=$2; shift 2
    t0=$(date +%s)
    timeout -k 5 "$limit" "$@" >"$LOGS/$name.log" 2>&1
    rc=$?
    dt=$(( $(date +%s) - t0 ))
    case $rc in
    0) pass=$((pass + 1)); printf 'PASS  %-28s %4ss\n' "$name" "$dt" ;;
    77) skip=$((skip + 1)); printf 'SKIP  %-28s %s\n' "$name" "$(tail -n 1 "$LOGS/$name.log")" ;;
    124|137) fail=$((fail + 1)); failed="$failed $name"
        printf 'FAIL  %-28s timed out after %ss\n' "$name" "$limit"; tail -n 20 "$LOGS/$name.log" ;;
    *) fail=$((fail + 1)); failed="$failed $name"
        printf 'FAIL  %-28s exit %s\n' "$name" "$rc"; tail -n 30 "$LOGS/$name.log" ;;
    esac
}

want() { [ $# -eq 0 ] && return 0; for w in $WANT; do [ "$w" = "$1" ] && return 0; done; return 1; }
WANT="$*"

for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    [ -n "$WANT" ] && ! want "$n" && continue
    if [ -n "${VALGRIND:-}" ]; then
        run_one "$n" 600 valgrind -q --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect "$t"
    else
        run_one "$n" 180 "$t"
    fi
done
for s in tests/it_*.sh; do
    [ -f "$s" ] || continue
    n=$(basename "$s" .sh)
    [ -n "$WANT" ] && ! want "$n" && continue
    run_one "$n" 300 bash "$s"
done

echo "tests: $pass passed, $fail failed, $skip skipped in $(( $(date +%s) - start ))s"
[ $fail -eq 0 ] || { echo "failed:$failed (logs in $LOGS/)"; exit 1; }
