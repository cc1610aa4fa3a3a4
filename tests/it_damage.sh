#!/usr/bin/env bash
# it_damage.sh - traces are untrusted input: damaged or crafted files (made from a shipped
# trace by tests/ept_mangle.py, block CRCs fixed where the damage must reach past them) never
# pass check or compare, are read past the damage, and cost memory and time in proportion to
# their size. Memory is bounded with ulimit -v and time with timeout, never measured.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
TRACES=$HERE/../traces
MANGLE="python3 $HERE/ept_mangle.py"
MIS=$TRACES/origin-mistrigger.ept
OK=$TRACES/origin-healthy.ept

# $LIMITED CMD...: run CMD with at most 300 MB of address space (a reader whose memory
# follows a crafted id instead of the file's size dies of it).
LIMITED=(bash -c 'ulimit -v 300000 && exec "$@"' limited)
# an ASan build reserves terabytes of shadow memory: no address-space limit for it
grep -q __asan_init "$(readlink -f "$EPSCOPE")" 2>/dev/null && LIMITED=(env)

step "a byte flipped in the first block: check and compare exit 2 and say so"
$MANGLE "$MIS" "$T/flip.ept" flip 0 || fail "mangle"
expect_status 2 "$EPSCOPE" check "$T/flip.ept"
err_has "damaged trace: 1 damaged region skipped .*offset 384: block CRC mismatch"
out_has "records lost to damage"
expect_status 2 "$EPSCOPE" check --json "$T/flip.ept"
out_has '"complete":false,"damaged":true'
expect_status 2 "$EPSCOPE" compare "$T/flip.ept" "$OK"
err_has "flip.ept: damaged trace"
expect_status 0 "$EPSCOPE" compare "$MIS" "$OK"

step "dump says where the damage was and reads the blocks after it"
expect_status 0 "$EPSCOPE" dump "$MIS"
intact=$(wc -l <"$LAST_OUT")
expect_status 1 "$EPSCOPE" dump "$T/flip.ept"
out_has "^-- damaged: 376 bytes at offset 384 skipped \(block CRC mismatch\)"
out_has "mis-trigger|epoll_wait"
[ "$(grep -c '^ ' "$LAST_OUT")" -gt 0 ] || fail "no record read after the damage"
[ "$(wc -l <"$LAST_OUT")" -lt "$intact" ] || fail "the damaged block's records were printed"
err_has "1 damaged region skipped"
expect_status 1 "$EPSCOPE" dump --json "$T/flip.ept"
out_has '^\{"type":"damage","offset":384,"bytes":376,"why":"block CRC mismatch"\}$'
expect_status 1 "$EPSCOPE" dump --chrome "$T/flip.ept"
out_has '"complete":false'

step "damage mid-file and near the start: the finding names the records missing"
# 8 bytes flipped at OFFSET of a shipped trace; the records missing are those between the
# last one dump prints before its "-- damaged" line and the first one after it
LEVEL=$TRACES/modes-level.ept
for at in half 600; do
    python3 -c "import sys; d = bytearray(open(sys.argv[1], 'rb').read())
o = len(d) // 2 if sys.argv[3] == 'half' else int(sys.argv[3])
for i in range(8): d[o + i] ^= 0xff
open(sys.argv[2], 'wb').write(d)" "$LEVEL" "$T/dmg.ept" "$at" || fail "flip at $at"
    "$EPSCOPE" dump "$T/dmg.ept" 2>/dev/null >"$T/dmg.dump"
    read -r before after < <(awk '/^-- damaged/ { d = 1; next }
        /^ *[0-9]+ / { if (d) { print prev, $1; exit } prev = $1 }' "$T/dmg.dump")
    [ -n "$after" ] || fail "flip at $at: no record on each side of the damage in dump"
    first=$((before + 1)) last=$((after - 1)) n=$((after - before - 1))
    echo "flip at $at: records $first-$last missing"
    expect_status 2 "$EPSCOPE" check "$T/dmg.ept"
    out_has "^warning lost-records: seq $first-$last, $n records lost to damage\$"
    out_has "fix: Get the trace again"
    expect_status 2 "$EPSCOPE" check --json "$T/dmg.ept"
    python3 -c '
import json, sys
first, last, n = map(int, sys.argv[1:4])
fs = [f for f in json.load(sys.stdin)["findings"] if f["id"] == "lost-records"]
assert len(fs) == 1, fs
f = fs[0]
assert (f["first_seq"], f["last_seq"], f["count"]) == (first, last, n), f
assert f["damaged"] is True and f["fix"].startswith("Get the trace again"), f
' "$first" "$last" "$n" <"$LAST_OUT" || fail "flip at $at: check --json: $(cat "$LAST_OUT")"
done

step "the last block damaged: nothing after it, still not a clean verdict"
$MANGLE "$MIS" "$T/flip1.ept" flip 1 || fail "mangle"
expect_status 2 "$EPSCOPE" check "$T/flip1.ept"
err_has "unreadable from offset 760 to the end"

step "whole blocks but no end record (the writer killed): check says so, the JSON too"
$MANGLE "$MIS" "$T/cut.ept" cut 1 || fail "mangle"
expect_status 0 "$EPSCOPE" check "$T/cut.ept"
err_has "cut.ept: no end record \(the writer was killed, or is still writing\); analysed the 4 records"
out_has "0 errors, 0 warnings in 4 records"
expect_status 0 "$EPSCOPE" check --json "$T/cut.ept"
out_has '"complete":false,"damaged":false'
expect_status 1 "$EPSCOPE" check "$MIS"
[ -s "$LAST_ERR" ] && fail "check of a whole trace wrote to stderr: $(cat "$LAST_ERR")"
expect_status 1 "$EPSCOPE" check --json "$MIS"
out_has '"complete":true,"damaged":false'

step "one socket or connection id of 0xFFFFFFFF costs no more memory than the file"
for field in sid conn; do
    $MANGLE "$MIS" "$T/$field.ept" "$field" 0xFFFFFFFF || fail "mangle"
    expect_status 1 "${LIMITED[@]}" "$EPSCOPE" check "$T/$field.ept"
    expect_status 0 "${LIMITED[@]}" "$EPSCOPE" dump --chrome "$T/$field.ept"
    expect_status 0 "${LIMITED[@]}" "$EPSCOPE" compare "$T/$field.ept" "$OK"
    expect_status 0 "${LIMITED[@]}" "$EPSCOPE" view --snapshot 20 "$T/$field.ept"
done

step "a block length of 16 MiB and its trailer in every slot: read in linear time"
$MANGLE "$MIS" "$T/trailers.ept" trailers 4 || fail "mangle"
STEP_TIMEOUT=10 expect_status 0 "$EPSCOPE" dump "$T/trailers.ept"
err_has "ends inside a block at offset 384"
STEP_TIMEOUT=10 expect_status 0 "$EPSCOPE" check "$T/trailers.ept"

step "a correct proxy under a tiny ring: lost records are gaps, only lost-records is said"
start B "$EPSCOPE" backend --listen 127.0.0.1:0
start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$B_ADDR" --trace "$T/ring.ept" \
    --ring-size 4k
STEP_TIMEOUT=120 expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 20000 -c 50 -k
stop P
expect_status 0 "$EPSCOPE" check "$T/ring.ept"
out_has "^warning lost-records"
grep -q "^error" "$LAST_OUT" && fail "errors in a correct proxy's trace: $(grep '^error' "$LAST_OUT" | sort | uniq -c)"
out_has " 0 errors, [0-9]+ warnings in "

echo "ok"
