#!/usr/bin/env bash
# it_reliability.sh - the proxy when things go wrong that are not its fault (issue 12): a
# busy backend that drops SYNs, a backend that is gone then back, a trace that hits the
# file-size limit or a FIFO, big buffers, and command lines that are almost right.
. "$(dirname "$0")/lib.sh"

sha() { sha256sum | cut -d' ' -f1; }
# err_has REGEX: the last expect_status command's stderr has a line matching REGEX
err_has() { grep -Eq -- "$1" "$LAST_ERR" || { cat "$LAST_ERR" >&2; fail "stderr lacks /$1/"; }; }

step "python's http.server (listen backlog 5) behind the proxy: 20 parallel 5 MB downloads"
mkdir "$T/www"
head -c 5242880 /dev/urandom >"$T/www/big.bin"
want=$(sha <"$T/www/big.bin")
# what `python3 -m http.server` runs, on port 0 and saying where it listens
cat >"$T/www.py" <<'PY'
import functools, http.server, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                    functools.partial(Quiet, directory=sys.argv[1]))
assert s.request_queue_size == 5
print("listening on 127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
PY
start WWW python3 "$T/www.py" "$T/www"
[ "$(curl -s "http://$WWW_ADDR/big.bin" | sha)" = "$want" ] || fail "python serves a wrong body"
for mode in level edge edge-oneshot; do
    start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode "$mode" --backend "$WWW_ADDR" \
        --trace "$T/www-$mode.ept"
    pids=()
    for i in $(seq 1 20); do
        curl -s -m 30 -o "$T/dl.$i" "http://$P_ADDR/big.bin" &
        pids+=($!)
    done
    bad=0
    for i in $(seq 1 20); do
        wait "${pids[$((i - 1))]}"
        rc=$?
        [ $rc -eq 0 ] && [ "$(sha <"$T/dl.$i")" = "$want" ] || { bad=$((bad + 1)); echo "curl $i: exit $rc"; }
    done
    stop P || fail "$mode: proxy exit status $?"
    "$EPSCOPE" dump "$T/www-$mode.ept" >"$T/www-$mode.txt" 2>&1
    echo "$mode: $bad of 20 downloads failed; $(grep -c 'down for' "$T/www-$mode.txt") backend downs"
    [ $bad -eq 0 ] || fail "$mode: $bad of 20 downloads through the proxy failed"
    rm -f "$T"/dl.*
done

step "the last backend standing is tried even when marked down"
start GONE "$EPSCOPE" backend --listen 127.0.0.1:0 --name gone
gone=$GONE_ADDR
stop GONE
start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$gone" --max-fails 1 \
    --down-time 60000 --trace "$T/last.ept"
curl -s -m 5 "http://$P_ADDR/" >/dev/null && fail "curl succeeded with nothing listening"
start BACK "$EPSCOPE" backend --listen "$gone" --name back
[ "$(curl -s -m 5 "http://$P_ADDR/")" = "Hello, world!" ] ||
    fail "the only backend, back up, stays refused while marked down"
stop P
expect_status 0 "$EPSCOPE" dump "$T/last.ept"
out_has 'backend 0 down for 60000 ms: ECONNREFUSED'
out_has 'backend 0 up'
stop BACK

step "the trace reaches the file-size limit (ulimit -f): the proxy keeps serving"
start HELLO "$EPSCOPE" backend --listen 127.0.0.1:0 --name hello
start P bash -c "ulimit -f 256; exec \"$EPSCOPE\" proxy --listen 127.0.0.1:0 \
    --backend $HELLO_ADDR --trace $T/fsize.ept"
expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 3000 -c 4 --keepalive \
    --expect-body 'Hello, world!'
out_has '^requests: 3000 ok, 0 failed'
kill -0 "$P_PID" || fail "the proxy died at the file-size limit"
# said at once, while still running, not only in the exit summary
wait_for -t 5 grep -q "fsize.ept: File too large" "$T/P.err" ||
    fail "no message on stderr while the proxy runs: $(cat "$T/P.err")"
stop P
[ $? -eq 1 ] || fail "a trace that could not be written whole must give exit status 1"
cat "$T/P.err"
written=$(sed -n 's/^epscope proxy: trace .*: \([0-9]*\) records written, \([0-9]*\) lost, .*/\1/p' "$T/P.err")
lost=$(sed -n 's/^epscope proxy: trace .*: \([0-9]*\) records written, \([0-9]*\) lost, .*/\2/p' "$T/P.err")
[ "$(stat -c %s "$T/fsize.ept")" -le 262144 ] || fail "the trace outgrew ulimit -f"
"$EPSCOPE" dump "$T/fsize.ept" >"$T/fsize.txt" 2>"$T/fsize.err"
read_back=$(sed -n 's/.*; \([0-9]*\) records read$/\1/p' "$T/fsize.err")
echo "summary: $written written, $lost lost; dump reads $read_back"
[ -n "$written" ] && [ "$written" = "$read_back" ] ||
    fail "the summary says $written records written, the file holds $read_back"
[ "${lost:-0}" -gt 0 ] || fail "records that could not be written are not counted as lost"

step "a FIFO as a trace: refused at once by the proxy (even with --force) and the readers"
mkfifo "$T/fifo.ept"
STEP_TIMEOUT=5 expect_status 1 "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$HELLO_ADDR" \
    --trace "$T/fifo.ept" --force
err_has 'fifo.ept is not a regular file \(a FIFO\)'
for cmd in dump check "view --snapshot 1" "dump --chrome"; do
    STEP_TIMEOUT=5 expect_status 2 "$EPSCOPE" $cmd "$T/fifo.ept"
    err_has 'fifo.ept is not a regular file \(a FIFO\)'
done
STEP_TIMEOUT=5 expect_status 2 "$EPSCOPE" compare "$T/fifo.ept" "$T/fifo.ept"
err_has 'fifo.ept is not a regular file \(a FIFO\)'
STEP_TIMEOUT=5 expect_status 1 "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$HELLO_ADDR" \
    --trace "$T" --force
err_has 'is not a regular file \(a directory\)'
# without --force too: the first word is what the file is, not a hint that --force would do
STEP_TIMEOUT=5 expect_status 1 "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$HELLO_ADDR" \
    --trace "$T"
err_has 'is not a regular file \(a directory\)'
grep -q -- '--force' "$LAST_ERR" && fail "a directory as --trace is met with a --force hint"

step "command lines that are almost right: one clear message each, exit 2"
# bad_cli REGEX ARGS...: epscope ARGS exits 2 at once, its stderr is the one message
# matching REGEX and the --help hint, nothing from getopt
bad_cli() {
    local want=$1
    shift
    STEP_TIMEOUT=5 expect_status 2 "$EPSCOPE" "$@"
    err_has "$want"
    [ "$(wc -l <"$LAST_ERR")" -eq 2 ] || { cat "$LAST_ERR" >&2; fail "not one message: $*"; }
}
B=$HELLO_ADDR
bad_cli "'127.0.0.1:0': port 0 cannot be connected to" proxy --backend 127.0.0.1:0
bad_cli "'\\[::1\\]:0': port 0" proxy --backend "$B" --backend '[::1]:0'
bad_cli '--listen given twice' proxy --backend "$B" --listen 127.0.0.1:0 --listen 127.0.0.1:0
bad_cli "--listen needs a value \\('--backend' is an option" proxy --listen --backend "$B"
bad_cli '^epscope proxy: --listen needs a value$' proxy --backend "$B" --listen
bad_cli '^epscope proxy: --mode needs a value$' proxy --backend "$B" --mode
bad_cli "^epscope proxy: unknown option '--bogus'$" proxy --backend "$B" --bogus
bad_cli '^epscope backend: --listen needs a value$' backend --listen
bad_cli '--listen given twice' backend --listen 127.0.0.1:0 --listen 127.0.0.1:0
bad_cli '^epscope load: -n needs a value$' load "http://$B/" -n
bad_cli "^epscope load: -c needs a value \\('--keepalive' is an option" load -c --keepalive "http://$B/"
bad_cli "^epscope dump: unknown option '--bogus'$" dump --bogus x.ept
step "an IPv4-mapped IPv6 address works as the IPv4 address it is"
start P "$EPSCOPE" proxy --listen '[::ffff:127.0.0.1]:0' --backend "[::ffff:127.0.0.1]:$HELLO_PORT"
[ "$(curl -s -m 5 "http://$P_ADDR/")" = "Hello, world!" ] || fail "proxy on [::ffff:127.0.0.1]"
stop P

step "big buffers: memory goes back once 12 slow readers are done (VmRSS)"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
start MID "$EPSCOPE" backend --listen 127.0.0.1:0 --name mid --size 16m
for buf in 64m 1m; do
    # under ASan, freed memory waits in a quarantine first: none here, so what is freed is
    # given back as it would be without ASan (no effect on a plain build)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
        start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$MID_ADDR" --buffer "$buf"
    base=$(rss "$P_PID")
    STEP_TIMEOUT=60 expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 12 -c 12 \
        --slow-read 8m --expect-size 16m --timeout 30000
    peak=$(awk '/VmHWM/ {print $2}' "/proc/$P_PID/status")
    # 64m: never pooled (bigger than the pool's 4 MiB); 1m: pooled, then given back after
    # a second without connections
    wait_for -t 5 eval '[ $(( $(rss "$P_PID") - base )) -lt 4096 ]' ||
        fail "--buffer $buf: RSS $(rss "$P_PID") kB after the readers left, $base kB before"
    echo "--buffer $buf: RSS $base kB before, peak $peak kB, $(rss "$P_PID") kB after"
    stop P
done

echo "ok"
