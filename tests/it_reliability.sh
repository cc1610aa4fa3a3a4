#!/usr/bin/env bash
# it_reliability.sh - the proxy when things go wrong that are not its fault (issue 12): a
# busy backend that drops SYNs, a backend that is gone then back, a trace that hits the
# file-size limit or a FIFO, big buffers, and command lines that are almost right.
. "$(dirname "$0")/lib.sh"

sha() { sha256sum | cut -d' ' -f1; }

step "python's http.server (listen backlog 5) behind the proxy: 20 parallel 5 MB downloads"
mkdir "$T/www"
head -c 5242880 /dev/urandom >"$T/www/big.bin"
want=$(sha <"$T/www/big.bin")
# what `python3 -m http.server` runs, on port 0 and saying where it listens
cat >"$T/www.py" <<'PY'
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
class Quiet(h.func):
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=sys.argv[1]))
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

echo "ok"
