#!/usr/bin/env bash
# it_fuzz_corpus.sh - every fuzz target replays its corpus (tests/fuzz/TARGET/: seeds and
# every input that ever crashed or hung it) with this build; the trace target also every
# lesson trace and every old-format trace. A crash, a sanitizer report or a hang fails.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
bdir=$(dirname "$EPSCOPE")/tests
n=0
for src in "$here"/fuzz_*.c; do
    t=$(basename "$src" .c)
    [ "$t" = fuzz_driver ] && continue
    step "$t replays its corpus"
    [ -x "$bdir/$t" ] || fail "$bdir/$t is not built"
    extra=()
    [ "$t" = fuzz_trace ] && extra=("$here/../traces" "$here"/compat/*/)
    STEP_TIMEOUT=120 expect_status 0 "$bdir/$t" "$here/fuzz/${t#fuzz_}" "${extra[@]}"
    cat "$LAST_OUT"
    out_has 'inputs replayed'
    n=$((n + 1))
done
[ $n -ge 3 ] || fail "only $n fuzz targets"
echo ok
