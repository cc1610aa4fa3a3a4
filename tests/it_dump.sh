#!/bin/bash
# it_dump.sh - `epscope dump` end to end: usage and error paths, then a real trace (written by
# build/tests/test_trace in its EPSCOPE_WRITE_SAMPLE mode) as text and as JSON Lines, torn and
# corrupt. Uses $EPSCOPE (default ./epscope) and $TEST_TRACE (default: tests/test_trace next
# to the epscope binary).
set -u
EPSCOPE=${EPSCOPE:-./epscope}
bin=$(readlink -f "$EPSCOPE")
GEN=${TEST_TRACE:-$(dirname "$bin")/tests/test_trace}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/epscope-it-dump.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok:   $*"; }

# run EXPECTED_STATUS DESC CMD...: stdout to $tmp/out, stderr to $tmp/err, check the status.
run() {
    local want=$1 desc=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$desc: exit $rc, want $want"; sed 's/^/    /' "$tmp/err" | head -5; return 1
    fi
    return 0
}
# one_line DESC PATTERN: stderr is exactly one line and matches PATTERN (grep -E).
one_line() {
    local n; n=$(wc -l <"$tmp/err")
    if [ "$n" -ne 1 ]; then fail "$1: stderr has $n lines, want 1"; cat "$tmp/err"; return; fi
    if grep -Eq -- "$2" "$tmp/err"; then ok "$1"; else fail "$1: stderr '$(cat "$tmp/err")'"; fi
}
has() { # DESC FIXED_STRING: stdout holds a line containing it
    if grep -Fq -- "$2" "$tmp/out"; then ok "$1"; else fail "$1: no '$2' in output"; fi
}

[ -x "$bin" ] || { echo "FAIL: no epscope binary at $EPSCOPE"; exit 1; }

# --- usage and errors ----------------------------------------------------------------------
run 0 "--help" "$EPSCOPE" dump --help && grep -q '^usage: epscope dump' "$tmp/out" &&
    ok "--help prints usage, exit 0"
run 2 "unknown option" "$EPSCOPE" dump --bogus x.ept && grep -q 'epscope dump' "$tmp/err" &&
    ok "unknown option: exit 2"
run 2 "no file" "$EPSCOPE" dump && grep -q 'which trace file' "$tmp/err" && ok "no file: exit 2"
run 2 "two files" "$EPSCOPE" dump a b && ok "two files: exit 2"
run 2 "missing file" "$EPSCOPE" dump "$tmp/missing.ept" &&
    one_line "missing file: exit 2, one line" "cannot open .*missing\.ept"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\nnot a trace at all, just some text\n' >"$tmp/text.txt"
run 2 "text file" "$EPSCOPE" dump "$tmp/text.txt" &&
    one_line "text file: exit 2, one line" "not an epscope trace"
: >"$tmp/empty.ept"
run 2 "empty file" "$EPSCOPE" dump "$tmp/empty.ept" &&
    one_line "empty file: exit 2, one line" "empty file"
run 2 "directory" "$EPSCOPE" dump "$tmp" && one_line "directory: exit 2, one line" "not a regular file"

# --- a real trace --------------------------------------------------------------------------
if [ ! -x "$GEN" ]; then
    fail "no $GEN to write a sample trace (run 'make units' first)"
    exit 1
fi
t=$tmp/sample.ept
records=$(EPSCOPE_WRITE_SAMPLE=$t "$GEN") || { fail "$GEN could not write a sample"; exit 1; }
[ "$(stat -c %a "$t")" = 600 ] && ok "sample trace is mode 0600" || fail "sample mode $(stat -c %a "$t")"
# the writer refuses to overwrite it
if EPSCOPE_WRITE_SAMPLE=$t "$GEN" >/dev/null 2>"$tmp/err"; then fail "sample overwritten"
else grep -q 'exists' "$tmp/err" && ok "existing trace not overwritten"; fi

run 0 "dump" "$EPSCOPE" dump "$t" || exit 1
[ -s "$tmp/err" ] && fail "dump of a complete trace wrote to stderr: $(cat "$tmp/err")"
n=$(wc -l <"$tmp/out")
[ "$n" -eq "$records" ] && ok "one line per record ($n)" || fail "$n lines, want $records"
if grep -Eq '^ +1 +0\.[0-9]{6}  epoll_create1\(EPOLL_CLOEXEC\) = 3$' "$tmp/out"; then
    ok "seq, time, call columns"
else
    fail "first line: $(head -1 "$tmp/out")"
fi
has "epoll_wait" "epoll_wait(timeout=1000, max=64) = 2 <0.000120>"
has "ready" "  ready fd=4 EPOLLIN|EPOLLRDHUP  [listener s1]"
has "epoll_ctl" "epoll_ctl(ADD, 4, EPOLLIN) = 0  [listener s1]"
has "read with preview" 'read(8, 16384) = 77 "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"  [client s2 c1]'
has "error result" "read(8, 16384) = -1 EAGAIN  [client s2 c1]"
has "close, with the bytes left unread" "close(9) = 0 (done) 17 bytes unread  [backend s3 c1]"
has "note" 'story: conn 1: \"GET /\" went\tto backend 1'
if tail -1 "$tmp/out" | grep -Eq "end of trace \($records records, 0 lost\)$"; then
    ok "ends with the end record"
else
    fail "last line: $(tail -1 "$tmp/out")"
fi
# the widest lines: a 1024-byte binary preview and a 1023-byte control-character note
if grep -Eq '^ +[0-9]+ +[0-9.]+  read\(8, 65536\) = 1024 "(\\x[0-9a-f]{2}){1024}"  \[client s2 c1\]$' "$tmp/out"; then
    ok "1024-byte binary preview printed whole"
else
    fail "long preview line cut or missing"
fi

# --- JSON Lines ----------------------------------------------------------------------------
run 0 "dump --json" "$EPSCOPE" dump --json "$t" || exit 1
n=$(wc -l <"$tmp/out")
[ "$n" -eq "$records" ] && ok "--json: one object per record" || fail "--json: $n lines"
if command -v python3 >/dev/null 2>&1; then
    if python3 - "$tmp/out" "$records" <<'PY'
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
    then ok "--json: every line parses (python3), previews decode exactly"
    else fail "--json output is not valid JSON Lines"; fi
elif command -v jq >/dev/null 2>&1; then
    jq -e . "$tmp/out" >/dev/null && ok "--json: every line parses (jq)" || fail "--json invalid"
else
    echo "note: neither python3 nor jq: JSON syntax checked only by test_fmt"
fi

# --- torn and corrupt ----------------------------------------------------------------------
size=$(stat -c %s "$t")
head -c $((size - 20)) "$t" >"$tmp/torn.ept"
run 0 "torn trace" "$EPSCOPE" dump "$tmp/torn.ept" &&
    one_line "torn: exit 0, one warning line" "ends inside a block at offset [0-9]+"
[ "$(wc -l <"$tmp/out")" -lt "$records" ] && ok "torn: only complete blocks printed" ||
    fail "torn: printed everything"

cp "$t" "$tmp/bad.ept"
off=$((size - 30)) # inside the last block's records
byte=$(od -An -tu1 -j "$off" -N1 "$t" | tr -d ' ')
printf "\\$(printf %03o $((byte ^ 0x5a)))" | dd of="$tmp/bad.ept" bs=1 seek="$off" conv=notrunc 2>/dev/null
run 1 "corrupt trace" "$EPSCOPE" dump "$tmp/bad.ept" &&
    one_line "corrupt: exit 1, one line" "stopped at offset [0-9]+: block CRC mismatch"

cp "$t" "$tmp/hdr.ept"
printf 'x' | dd of="$tmp/hdr.ept" bs=1 seek=20 conv=notrunc 2>/dev/null
run 2 "corrupt header" "$EPSCOPE" dump "$tmp/hdr.ept" &&
    one_line "corrupt header: exit 2, one line" "corrupt trace header"
tr -d '\r' <"$t" >"$tmp/crlf.ept"
run 2 "text-mode transfer" "$EPSCOPE" dump "$tmp/crlf.ept" &&
    one_line "CRLF->LF mangled: exit 2, one line" "text-mode"

exit $failed
