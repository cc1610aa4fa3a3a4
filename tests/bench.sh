#!/bin/sh
# bench.sh - runs every benchmark program in BUILD_DIR/tests (bench_*) and prints its output,
# then the comparison with peer proxies. Not part of `make test`.
# usage: tests/bench.sh BUILD_DIR   (EPSCOPE=path/to/epscope)
B=${1:-build}
: "${EPSCOPE:=$PWD/$B/epscope}"
export EPSCOPE
status=0

run_benches() {
    found=0
    for b in "$B"/tests/bench_*; do
        [ -x "$b" ] || continue
        found=1
        echo "== $(basename "$b")"
        "$b" || { echo "$(basename "$b") failed (exit $?)"; status=1; }
    done
    [ $found -eq 1 ] || { echo "no benchmarks in $B/tests (make bench builds them)"; status=1; }
}

# --- peers: the proxy compared with nginx and HAProxy ---------------------------------------
# PLACE FOR THE PROXY ROWS: ../shared/bench/peers.sh measures the peers and, given PROXY_CMD
# (how to start `epscope proxy` on its ports), the project's proxy in each mode. Whoever owns
# the proxy sets PROXY_CMD here; until then this prints a note and is not an error.
run_peers() {
    peers=${PEERS_SH:-$(dirname "$0")/../../shared/bench/peers.sh}
    if [ -f "$peers" ] && [ -n "${PROXY_CMD:-}" ]; then
        echo "== peers ($peers)"
        bash "$peers" || { echo "peers.sh failed (exit $?)"; status=1; }
    else
        echo "== peers: not run (needs $peers and PROXY_CMD)"
    fi
}

run_benches
run_peers
exit $status
