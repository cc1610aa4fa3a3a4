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
# ../../shared/bench (BENCH_DIR) holds the shared comparison scripts: syscalls.sh counts
# system calls per request with strace -c (a count, not a timing: noise does not move it);
# peers.sh runs nginx (stream), HAProxy (mode tcp) and our proxy in each mode on the same
# machine in one run and prints req/s medians and ratios to the better peer.
BENCH_DIR=${BENCH_DIR:-$(dirname "$0")/../../shared/bench}
PROXY_BASE="$EPSCOPE proxy --listen 127.0.0.1:9203 --backend 127.0.0.1:9101 --backend 127.0.0.1:9102 --mode %MODE%"

run_syscalls() {
    sc=${SYSCALLS_SH:-$BENCH_DIR/syscalls.sh}
    if [ ! -f "$sc" ]; then
        echo "== syscalls per request: not run ($sc not found)"
        return
    fi
    echo "== syscalls per request ($sc, one worker, strace -c)"
    PROXY_CMD=${PROXY_CMD_SYSCALLS:-$PROXY_BASE} bash "$sc" ${SYSCALLS_ARGS:-} ||
        { echo "syscalls.sh failed (exit $?)"; status=1; }
}

# One table per worker count (BENCH_WORKERS, default "1 2"). With one worker the traced
# proxy is measured too, and its traces are kept to count lost records. Nine rounds of two
# seconds (PEERS_ARGS): on a shared 2-vCPU machine a target's req/s swings 10-30% from one
# short run to the next, and a median of three moved a ratio by up to 0.3 between runs.
run_peers() {
    peers=${PEERS_SH:-$BENCH_DIR/peers.sh}
    if [ ! -f "$peers" ]; then
        echo "== peers: not run ($peers not found)"
        return
    fi
    cmd=${PROXY_CMD:-$PROXY_BASE --workers %WORKERS%}
    for w in ${BENCH_WORKERS:-1 2}; do
        keep=$(mktemp -d)
        traced=
        [ "$w" = 1 ] && traced=${PROXY_CMD_TRACED:-$cmd --trace %TRACE% --force}
        echo "== peers, --workers $w ($peers${traced:+, traced rows with the default 4 MiB ring})"
        WORKERS=$w PROXY_CMD=$cmd PROXY_CMD_TRACED=$traced KEEP_TRACES=$keep \
            bash "$peers" ${PEERS_ARGS:--d 2 -r 9} || { echo "peers.sh failed (exit $?)"; status=1; }
        for t in "$keep"/*.ept; do
            [ -f "$t" ] || continue
            printf '%-32s %s\n' "$(basename "$t")" "$("$EPSCOPE" check -q "$t" 2>&1 | sed 's/.*: //')"
        done
        rm -rf "$keep"
    done
}

# --- 10,000 idle client connections: what they cost the proxy (target <= 64 MiB RSS) ---------
# Each client costs the proxy two descriptors (it and its backend connection); where the
# hard limit on open files is 20,000 (as on the project's machines) 9,990 is the most that fit.
run_idle() {
    hard=$(ulimit -Hn)
    n=${IDLE_CONNS:-10000}
    [ "$hard" != unlimited ] && [ $((n * 2 + 10)) -gt "$hard" ] && n=$(( (hard - 20) / 2 ))
    echo "== $n idle connections"
    bash -c '
        n=$1; E=$2
        ulimit -n "$(ulimit -Hn)" 2>/dev/null
        out=$(mktemp -d)
        "$E" backend --listen 127.0.0.1:0 >"$out/b" 2>/dev/null & bp=$!
        for i in $(seq 50); do grep -q listening "$out/b" && break; sleep 0.1; done
        "$E" proxy --listen 127.0.0.1:0 --backend "$(sed -n "s/listening on //p" "$out/b")" \
            --max-conns $((n + 100)) --idle-timeout 0 >"$out/p" 2>/dev/null & pp=$!
        for i in $(seq 50); do grep -q listening "$out/p" && break; sleep 0.1; done
        port=$(sed -n "s/.*://p" "$out/p")
        base=$(awk "/VmRSS/ {print \$2}" /proc/$pp/status)
        for i in $(seq "$n"); do exec {fd}<>"/dev/tcp/127.0.0.1/$port" || break; done
        for i in $(seq 100); do
            c=$(ls /proc/$pp/fd | wc -l); [ "$c" -ge $((n * 2)) ] && break; sleep 0.1
        done
        rss=$(awk "/VmRSS/ {print \$2}" /proc/$pp/status)
        echo "proxy fds: $(ls /proc/$pp/fd | wc -l); RSS ${base} kB before, ${rss} kB with $n idle clients and their backend connections ($(( rss / 1024 )) MiB, $(( (rss - base) * 1024 / n )) bytes per connection; target <= 64 MiB for 10,000)"
        kill $pp $bp; wait $pp $bp 2>/dev/null; rm -rf "$out"
    ' idle "$n" "$EPSCOPE" || status=1
}
# --- what `epscope record` costs nginx, beside what strace costs it (tests/bench_record.sh) ----
run_record() {
    echo "== record: nginx stream proxy plain, under epscope record, under strace"
    bash "$(dirname "$0")/bench_record.sh" ${RECORD_ARGS:--d 3 -r 3} ||
        { echo "bench_record.sh failed (exit $?)"; status=1; }
}
run_benches
run_idle
run_record
run_syscalls
run_peers
exit $status
