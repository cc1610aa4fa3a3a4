#!/usr/bin/env bash
# bench_record.sh - what recording costs a real server: nginx as a TCP proxy (stream
# module, one worker) in front of two nginx HTTP backends, driven by wrk, plain and under
# `epscope record` (and under strace, for scale), in one run with the rounds interleaved.
# Prints the median req/s of each over the rounds, keep-alive and one connection per
# request, the ratio recorded/plain (goal >= 0.9), and the records the traces lost (goal 0
# with the default ring). Run by `make bench`; not part of `make test`.
# usage: tests/bench_record.sh [-d SECONDS] [-r ROUNDS] [-c CONNS]   (EPSCOPE=...)
set -u
D=3 R=3 C=50
while getopts d:r:c: o; do case $o in d) D=$OPTARG;; r) R=$OPTARG;; c) C=$OPTARG;; *) exit 2;; esac; done
: "${EPSCOPE:=$PWD/epscope}"
need() { # install a package when root, else say how
    [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 && return
    echo "bench_record: needs $* (apt-get install $*)"; exit 1
}
command -v wrk >/dev/null || need wrk
command -v nginx >/dev/null || need nginx-light
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || need libnginx-mod-stream

W=$(mktemp -d "${TMPDIR:-/tmp}/bench_record.XXXXXX")
PIDS=()
# Each nginx master is told by its pid file: strace started with -o FILE PROG blocks fatal
# signals (its -I3 default), so QUIT to strace is lost and wait would never return.
cleanup() {
    for f in "$W"/b.pid "$W"/*/n.pid; do [ -f "$f" ] && kill -QUIT "$(cat "$f")" 2>/dev/null; done
    for p in "${PIDS[@]}"; do kill -QUIT "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
B1=$(port) B2=$(port)

cat >"$W/backend.conf" <<EOF
worker_processes 1; daemon off; pid $W/b.pid; error_log $W/b.err;
events { worker_connections 4096; }
http { access_log off;
  server { listen 127.0.0.1:$B1 backlog=4096; location / { return 200 "Hello, world!\n"; } }
  server { listen 127.0.0.1:$B2 backlog=4096; location / { return 200 "Hello, world!\n"; } } }
EOF
# proxy NAME PORT: a stream proxy config of its own (pid and logs apart)
proxy_conf() {
    mkdir -p "$W/$1"
    cat >"$W/$1/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1; daemon off; pid $W/$1/n.pid; error_log $W/$1/n.err;
events { worker_connections 4096; }
stream { upstream be { server 127.0.0.1:$B1; server 127.0.0.1:$B2; }
  server { listen 127.0.0.1:$2 backlog=4096; proxy_pass be; } }
EOF
}
P_PLAIN=$(port) P_REC=$(port) P_STRACE=$(port)
proxy_conf plain "$P_PLAIN"
proxy_conf rec "$P_REC"
proxy_conf strace "$P_STRACE"

nginx -c "$W/backend.conf" -p "$W" & PIDS+=($!)
nginx -c "$W/plain/nginx.conf" -p "$W/plain" & PIDS+=($!)
"$EPSCOPE" record -o "$W/rec/nginx.ept" -- nginx -c "$W/rec/nginx.conf" -p "$W/rec" \
    2>"$W/rec/record.err" & PIDS+=($!)
REC_PID=$!
if command -v strace >/dev/null; then
    strace -f -qq -o /dev/null -e trace=epoll_wait,epoll_ctl nginx -c "$W/strace/nginx.conf" \
        -p "$W/strace" & PIDS+=($!)
fi
sleep 1.5

wrk1() { # port keepalive|close -> req/s
    local h=(); [ "$2" = close ] && h=(-H "Connection: close")
    wrk -t1 -c"$C" -d"${D}s" "${h[@]}" "http://127.0.0.1:$1/" 2>/dev/null |
        awk '/Requests\/sec/ {print $2; f=1} END {if (!f) print 0}'
}
targets="plain:$P_PLAIN record:$P_REC"
command -v strace >/dev/null && targets="$targets strace:$P_STRACE"
echo "nginx stream proxy, 1 worker, wrk -t1 -c$C -d${D}s, $R rounds (interleaved)"
for r in $(seq "$R"); do
    for t in $targets; do
        for k in keepalive close; do
            echo "${t%%:*} $k $(wrk1 "${t#*:}" "$k")" >>"$W/raw"
        done
    done
done
median() { sort -n | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : 0}'; }
med() { awk -v t="$1" -v k="$2" '$1 == t && $2 == k {print $3}' "$W/raw" | median; }
printf '%-10s %14s %14s\n' target "keep-alive/s" "close/s"
for t in $targets; do
    n=${t%%:*}
    printf '%-10s %14s %14s\n' "$n" "$(med "$n" keepalive)" "$(med "$n" close)"
done
for k in keepalive close; do
    p=$(med plain $k) q=$(med record $k)
    awk -v p="$p" -v q="$q" -v k="$k" 'BEGIN { r = p > 0 ? q / p : 0
        printf "record/plain %-10s %.2fx%s\n", k, r, (r >= 0.9) ? "" : "  (goal >= 0.90)" }'
    if command -v strace >/dev/null; then
        s=$(med strace $k)
        awk -v p="$p" -v s="$s" -v k="$k" 'BEGIN { r = p > 0 ? s / p : 0
            printf "strace/plain %-10s %.2fx\n", k, r }'
    fi
done
# stop the recorded nginx gracefully: its traces end properly, record says what they hold
kill -QUIT "$REC_PID" 2>/dev/null
for i in $(seq 100); do kill -0 "$REC_PID" 2>/dev/null || break; sleep 0.1; done
wait "$REC_PID" 2>/dev/null
grep 'records,' "$W/rec/record.err" | sed "s|$W/rec/||"
lost=$(sed -n 's/.* \([0-9]*\) lost$/\1/p' "$W/rec/record.err" | awk '{s += $1} END {print s + 0}')
echo "records lost in all: $lost (goal 0 with the default ring)"
