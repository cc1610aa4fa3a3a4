#!/bin/bash
# it_dump.sh - `epscope dump` end to end: usage and error paths, then a real trace (written by
# build/tests/test_trace in its EPSCOPE_WRITE_SAMPLE mode) as text and as JSON Lines, torn and
# corrupt. Uses $EPSCOPE (default ./epscope) and $TEST_TRACE (default: tests/test_trace next
# to the epscope binary). Every check fails the script through lib.sh's helpers.
. "$(dirname "$0")/lib.sh"
bin=$(readlink -f "$EPSCOPE")
GEN=${TEST_TRACE:-$(dirname "$bin")/tests/test_trace}

[ -x "$bin" ] || fail "no epscope binary at $EPSCOPE"

step "usage and errors"
expect_status 0 "$EPSCOPE" dump --help
out_has '^usage: epscope dump'
expect_status 2 "$EPSCOPE" dump --bogus x.ept
err_has 'epscope dump'
expect_status 2 "$EPSCOPE" dump
err_has 'which trace file'
expect_status 2 "$EPSCOPE" dump a b
[ -s "$LAST_ERR" ] || fail "two files: exit 2 without a word on stderr"
expect_status 2 "$EPSCOPE" dump "$T/missing.ept"
err_one_line "cannot open .*missing\.ept"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\nnot a trace at all, just some text\n' >"$T/text.txt"
expect_status 2 "$EPSCOPE" dump "$T/text.txt"
err_one_line "not an epscope trace"
: >"$T/empty.ept"
expect_status 2 "$EPSCOPE" dump "$T/empty.ept"
err_one_line "empty file"
mkdir "$T/dir"
expect_status 2 "$EPSCOPE" dump "$T/dir"
err_one_line "not a regular file"

step "a real trace"
[ -x "$GEN" ] || fail "no $GEN to write a sample trace (run 'make units' first)"
t=$T/sample.ept
records=$(EPSCOPE_WRITE_SAMPLE=$t "$GEN") || fail "$GEN could not write a sample"
[ "$(stat -c %a "$t")" = 600 ] || fail "sample mode $(stat -c %a "$t"), want 600"
# the writer refuses to overwrite it
expect_status 1 env EPSCOPE_WRITE_SAMPLE="$t" "$GEN"
err_has 'exists'

expect_status 0 "$EPSCOPE" dump "$t"
[ -s "$LAST_ERR" ] && fail "dump of a complete trace wrote to stderr: $(cat "$LAST_ERR")"
n=$(wc -l <"$LAST_OUT")
[ "$n" -eq "$records" ] || fail "$n lines, want one per record ($records)"
head -1 "$LAST_OUT" | grep -Eq '^ +1 +0\.[0-9]{6}  epoll_create1\(EPOLL_CLOEXEC\) = 3$' ||
    fail "seq, time, call columns: first line $(head -1 "$LAST_OUT")"
# has FIXED_STRING: stdout holds a line containing it
has() {
    grep -Fq -- "$1" "$LAST_OUT" || fail "no '$1' in the dump"
}
has "epoll_wait(timeout=1000, max=64) = 2 <0.000120>"
has "  ready fd=4 EPOLLIN|EPOLLRDHUP  [listener s1]"
has "epoll_ctl(ADD, 4, EPOLLIN) = 0  [listener s1]"
has 'read(8, 16384) = 77 "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"  [client s2 c1]'
has "read(8, 16384) = -1 EAGAIN  [client s2 c1]"
has "close(9) = 0 (done) 17 bytes unread  [backend s3 c1]"
has 'story: conn 1: \"GET /\" went\tto backend 1'
tail -1 "$LAST_OUT" | grep -Eq "end of trace \($records records, 0 lost\)$" ||
    fail "does not end with the end record: $(tail -1 "$LAST_OUT")"
# the widest lines: a 1024-byte binary preview and a 1023-byte control-character note
out_has '^ +[0-9]+ +[0-9.]+  read\(8, 65536\) = 1024 "(\\x[0-9a-f]{2}){1024}"  \[client s2 c1\]$'

step "JSON Lines"
expect_status 0 "$EPSCOPE" dump --json "$t"
n=$(wc -l <"$LAST_OUT")
[ "$n" -eq "$records" ] || fail "--json: $n lines, want one object per record ($records)"
if command -v python3 >/dev/null 2>&1; then
    python3 - "$LAST_OUT" "$records" <<'PY' || fail "--json output is not the JSON Lines expected"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
objs = [json.loads(l) for l in lines]
assert [o["seq"] for o in objs] == list(range(1, int(sys.argv[2]) + 1)), "seq"
assert all("type" in o and "t" in o for o in objs)
big = [o for o in objs if o["type"] == "read" and o.get("asked") == 65536]
assert len(big) == 1 and len(big[0]["preview"]) == 1024, "long preview"
want = bytes(((i * 37 + 1) | 0x80) & 0xff for i in range(1024))
assert big[0]["preview"].encode("latin-1") == want, "preview bytes"
note = [o for o in objs if o["type"] == "note" and o["kind"] == 2]
assert len(note) == 1 and note[0]["text"] == "".join(chr(1 + i % 31) for i in range(1023))
assert objs[-1]["type"] == "end" and objs[-1]["records"] == len(objs) and objs[-1]["lost"] == 0
PY
elif command -v jq >/dev/null 2>&1; then
    jq -e . "$LAST_OUT" >/dev/null || fail "--json output is not JSON Lines (jq)"
else
    echo "note: neither python3 nor jq: JSON syntax checked only by test_fmt"
fi

step "torn and corrupt"
size=$(stat -c %s "$t")
head -c $((size - 20)) "$t" >"$T/torn.ept"
expect_status 0 "$EPSCOPE" dump "$T/torn.ept"
err_one_line "ends inside a block at offset [0-9]+"
[ "$(wc -l <"$LAST_OUT")" -lt "$records" ] || fail "torn: printed every record"

cp "$t" "$T/bad.ept"
off=$((size - 30)) # inside the last block's records
byte=$(od -An -tu1 -j "$off" -N1 "$t" | tr -d ' ')
printf "\\$(printf %03o $((byte ^ 0x5a)))" | dd of="$T/bad.ept" bs=1 seek="$off" conv=notrunc 2>/dev/null
expect_status 1 "$EPSCOPE" dump "$T/bad.ept"
err_one_line "stopped at offset [0-9]+: block CRC mismatch"

cp "$t" "$T/hdr.ept"
printf 'x' | dd of="$T/hdr.ept" bs=1 seek=20 conv=notrunc 2>/dev/null
expect_status 2 "$EPSCOPE" dump "$T/hdr.ept"
err_one_line "corrupt trace header"
tr -d '\r' <"$t" >"$T/crlf.ept"
expect_status 2 "$EPSCOPE" dump "$T/crlf.ept"
err_one_line "text-mode"
echo "it_dump: ok"
