#!/usr/bin/env bash
# make-lessons.sh - records the lesson library in traces/ with the project's own proxy
# (run by `make traces`). Each trace is small, and `epscope check` on it gives exactly the
# diagnoses listed for it in traces/lessons.txt (tests/it_lessons.sh asserts that).
# usage: traces/make-lessons.sh [OUTDIR [NAME...]]  (default: the folder this script is
# in; with NAMEs, e.g. fault-no-drain, only those lessons are recorded again)
here=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$here}
shift
ONLY=" $* "
: "${EPSCOPE:=$here/../epscope}"
. "$here/../tests/lib.sh"
mkdir -p "$OUT"

start HELLO "$EPSCOPE" backend --listen 127.0.0.1:0 --name hello
start ORIGIN "$EPSCOPE" backend --listen 127.0.0.1:0 --name origin --close
start BIG "$EPSCOPE" backend --listen 127.0.0.1:0 --name big --size 96k
start DELAY "$EPSCOPE" backend --listen 127.0.0.1:0 --name delay --delay 2
start HUGE "$EPSCOPE" backend --listen 127.0.0.1:0 --name huge --size 4m
start ECHO python3 "$here/../tests/progs/drive.py" backend --echo

# wanted NAME: true when this run records lesson NAME
wanted() { [ "$ONLY" = "  " ] || [[ $ONLY == *" $1 "* ]]; }

# record NAME MODE BACKEND [PROXY OPTIONS...] -- LOAD RUNS (each a quoted argument list)
record() {
    local name=$1 mode=$2 be=$3 opts=()
    wanted "$name" || return 0
    shift 3
    while [ "$1" != "--" ]; do opts+=("$1"); shift; done
    shift
    start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode "$mode" --backend "$be" \
        --preview 256 --trace "$T/$name.ept" --force "${opts[@]}"
    for run in "$@"; do
        # shellcheck disable=SC2086
        bounded 30 "$EPSCOPE" load "http://$P_ADDR/" $run -q
    done
    stop P
    cp "$T/$name.ept" "$OUT/$name.ept"
    lesson_line "$name"
}

# lesson_line NAME: the trace's size and what check says of it
lesson_line() {
    printf '%-34s %8s bytes  %s\n' "$1.ept" "$(stat -c %s "$OUT/$1.ept")" \
        "$("$EPSCOPE" check -q "$OUT/$1.ept" | sed 's/.*: //')"
}

record origin-healthy edge-oneshot "$ORIGIN_ADDR" -- "-n 1"
# The mis-trigger needs the backend's FIN to beat the proxy's next epoll_wait: a race the
# origin lost often, and every time here, as `backend --close` sends the FIN with the data.
record origin-mistrigger edge-oneshot "$ORIGIN_ADDR" --fault mistrigger -- "-n 1 --timeout 1000"
# the same workload in each mode: a small request, a response that needs several reads and
# an EPOLLOUT wait (a slow reader), keep-alive, and a half-close
# (a 16 KiB send buffer on client sockets, as the demo has: loopback's auto-tuned one, up
# to 4 MiB, would swallow any response whole, and no write would ever come back short)
for mode in level edge edge-oneshot; do
    record "modes-$mode" "$mode" "$BIG_ADDR" --sndbuf 16k -- "-n 2 -c 2 --keepalive" \
        "-n 1 --slow-read 256k" "-n 1 --half-close"
done
record fault-no-drain edge "$BIG_ADDR" --fault no-drain --idle-timeout 500 -- \
    "-n 1 --timeout 1000"
record fault-no-rearm edge-oneshot "$HELLO_ADDR" --fault no-rearm --idle-timeout 500 -- \
    "-n 1 --timeout 1000"
record fault-sticky-epollout level "$HELLO_ADDR" --fault sticky-epollout -- "-n 1"
record fault-ignore-eof level "$DELAY_ADDR" --fault ignore-eof -- "-n 1 --half-close"
record fault-accept-once edge "$HELLO_ADDR" --listener-mode edge --fault accept-once -- \
    "-n 40 -c 20 --timeout 1000"
record fault-double-register level "$HELLO_ADDR" --fault double-register -- "-n 6 --keepalive"
# Both ends' EOFs must land in one epoll_wait: likely with a dozen clients, not certain.
for try in $(seq 1 20); do
    record fault-stale-event level "$ORIGIN_ADDR" --fault stale-event -- \
        "-n 60 -c 12 --timeout 1000" >/dev/null
    "$EPSCOPE" check -q "$OUT/fault-stale-event.ept" >/dev/null || break
done
lesson_line fault-stale-event
record fault-closed-fd-still-registered level "$HELLO_ADDR" \
    --fault closed-fd-still-registered -- "-n 2"
# The response and the backend's FIN must come in one event: `backend --close` sends them
# in one segment.
record fault-rdhup-data-loss level "$ORIGIN_ADDR" --fault rdhup-data-loss -- "-n 1 --timeout 1000"

# lost-out-edge: an echo through the proxy (drive.py pipe): the client sends until the
# kernel takes no more, then reads; the EPOLLOUT that then comes with EPOLLIN is dropped
if wanted fault-lost-out-edge; then
    start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode edge --backend "$ECHO_ADDR" \
        --sndbuf 16k --idle-timeout 500 --preview 64 --fault lost-out-edge \
        --trace "$T/fault-lost-out-edge.ept"
    bounded 30 python3 "$here/../tests/progs/drive.py" pipe "$P_ADDR" --size 2000000 >/dev/null
    stop P
    cp "$T/fault-lost-out-edge.ept" "$OUT/"
    lesson_line fault-lost-out-edge
fi

# edge-hog: four 4 MiB downloads; the proxy is frozen once their sockets are up, so that
# every backend's data piles up and all of them are in the batch it wakes to
if wanted fault-edge-hog; then
    start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode edge --backend "$HUGE_ADDR" \
        --ring-size 64m --preview 16 --fault edge-hog --trace "$T/fault-edge-hog.ept"
    bounded 30 "$EPSCOPE" load "http://$P_ADDR/" -n 4 -c 4 -q & lp=$!
    wait_for eval '[ "$(ls "/proc/$P_PID/fd" | wc -l)" -ge 12 ]'
    kill -STOP "$P_PID"
    sleep 0.2
    kill -CONT "$P_PID"
    wait "$lp"
    stop P
    cp "$T/fault-edge-hog.ept" "$OUT/"
    lesson_line fault-edge-hog
fi

# the thundering herd: three workers sharing one listener (shared: each paced connection
# wakes every idle worker), the same with EPOLLEXCLUSIVE, and one listener per worker
# (SO_REUSEPORT); shared must show the herd in every worker's trace (most runs do)
herd() {
    local acc=$1
    start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$HELLO_ADDR" --workers 3 \
        --accept "$acc" --preview 64 --trace "$T/herd-$acc.ept" --force
    bounded 30 "$EPSCOPE" load "http://$P_ADDR/" -n 40 -c 1 --rate 100 -q
    stop P
    cp "$T/herd-$acc".w[012].ept "$OUT/"
}
if wanted herd; then
    for try in $(seq 1 20); do
        herd shared
        [ "$("$EPSCOPE" check "$OUT"/herd-shared.w[012].ept | grep -c '^warning thundering-herd')" \
            -eq 3 ] && break
    done
    herd exclusive
    herd reuseport
    for f in "$OUT"/herd-*.w[012].ept; do lesson_line "$(basename "$f" .ept)"; done
fi
