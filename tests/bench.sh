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
# ../shared/bench/peers.sh runs nginx (stream) and HAProxy (mode tcp), one worker each, and
# our proxy in each mode, untraced and traced, on the same machine in one run; it prints
# req/s medians and ratios to the better peer. The traces are kept to count lost records.
run_peers() {
    peers=${PEERS_SH:-$(dirname "$0")/../../shared/bench/peers.sh}
    if [ ! -f "$peers" ]; then
        echo "== peers: not run ($peers not found)"
        return
    fi
    keep=$(mktemp -d)
    : "${PROXY_CMD:=$EPSCOPE proxy --listen 127.0.0.1:9203 --backend 127.0.0.1:9101 --backend 127.0.0.1:9102 --mode %MODE%}"
    : "${PROXY_CMD_TRACED:=$PROXY_CMD --trace %TRACE% --force}"
    echo "== peers ($peers, ring size: the default 4 MiB)"
    PROXY_CMD=$PROXY_CMD PROXY_CMD_TRACED=$PROXY_CMD_TRACED KEEP_TRACES=$keep \
        bash "$peers" ${PEERS_ARGS:--d 3 -r 3} || { echo "peers.sh failed (exit $?)"; status=1; }
    for t in "$keep"/*.ept; do
        [ -f "$t" ] || continue
        printf '%-32s %s\n' "$(basename "$t")" "$("$EPSCOPE" check -q "$t" 2>&1 | sed 's/.*: //')"
    done
    rm -rf "$keep"
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
run_peers
exit $status
