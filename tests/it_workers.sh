#!/usr/bin/env bash
# it_workers.sh - proxy --workers 3 in each --accept mode: byte-exact service, one trace
# per worker ending cleanly, connections spread by reuseport, the thundering herd (wake-
# ups whose first accept is EAGAIN) in shared mode and not in reuseport, `check` warning
# thundering-herd on shared only, a worker killed with SIGKILL restarted, SIGTERM stopping
# them all.
. "$(dirname "$0")/lib.sh"

# children PID: the pids of PID's children, one a line (the master's workers)
children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$'; }
nchildren() { [ "$(children "$1" | wc -l)" -eq "$2" ]; }
# herd FILE: "WAKES EMPTY ACCEPTED" of one trace: listener events handled, those whose
# first accept found EAGAIN (a worker woken for a connection another one took), accepts
herd() {
    "$EPSCOPE" dump "$1" | awk '
        /  handle fd=[0-9]+ .*\[listener/ { w = 1; wakes++; next }
        w && /accept4\(/ { if (/= -1 EAGAIN/) empty++; w = 0 }
        /accept4\([0-9]+\) = [0-9]+ / { acc++ }
        END { printf "%d %d %d\n", wakes, empty, acc }'
}

step "backends"
start B1 "$EPSCOPE" backend --listen 127.0.0.1:0 --name b1 --size 2k
start B2 "$EPSCOPE" backend --listen 127.0.0.1:0 --name b2 --size 2k

step "options: the bad ones are refused"
expect_status 2 "$EPSCOPE" proxy --backend "$B1_ADDR" --workers 0
expect_status 2 "$EPSCOPE" proxy --backend "$B1_ADDR" --workers 65
expect_status 2 "$EPSCOPE" proxy --backend "$B1_ADDR" --workers 2 --accept herd
: >"$T/taken.w1.ept"
expect_status 1 "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$B1_ADDR" --workers 2 \
    --trace "$T/taken.ept"
grep -q 'taken.w1.ept exists' "$LAST_ERR" || fail "no word on the existing worker trace"
expect_status 0 "$EPSCOPE" proxy --help
out_has '--accept MODE'

# Linux lets any socket of the same user with SO_REUSEPORT join a port's group: without
# a look first, a second proxy would start and quietly take a share of the first one's
# connections (a stray proxy did that to a benchmark).
step "a port another proxy's reuseport workers listen on is refused, in every accept mode"
start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$B1_ADDR" --workers 2
for args in "--workers 2" "--workers 2 --accept shared" "--accept reuseport" ""; do
    # shellcheck disable=SC2086 # the words of args are the options
    STEP_TIMEOUT=5 expect_status 1 "$EPSCOPE" proxy --listen "$P_ADDR" --backend "$B2_ADDR" $args
    err_one_line "cannot listen on $P_ADDR: Address already in use"
done
expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 200 -c 10 --expect-size 2k
out_has '^requests: 200 ok, 0 failed'
stop P || fail "reuseport pair: exit status $?"

# traces ACC NAME WANT: the checks of one run's trace set $T/NAME.w{0,1,2}.ept: each ends
# with its end record, the workers accepted WANT connections in all (reuseport: each a
# share), check finds no diagnosis but the herd (its report left in $T/check.out), the set
# reads in dump, compare and view. Adds the wake-ups that found EAGAIN first to EMPTY[ACC];
# PLAIN names a worker whose trace shows the herd plainly (at least 10 such wake-ups, 1 in
# 10 of its listener's or more: twice what check's rule asks), or is empty.
traces() {
    local acc=$1 name=$2 want=$3 f w e a total=0 empty=0
    PLAIN=
    local files=("$T/$name.w0.ept" "$T/$name.w1.ept" "$T/$name.w2.ept")
    [ -e "$T/$name.ept" ] && fail "$name: the unnumbered $name.ept was written"
    for f in "${files[@]}"; do
        [ -s "$f" ] || fail "$name: no trace $f"
        expect_status 0 "$EPSCOPE" dump "$f"
        out_has 'end of trace'
        read -r w e a <<<"$(herd "$f")"
        echo "$(basename "$f"): $w listener wake-ups, $e found EAGAIN first, $a accepted"
        total=$((total + a)) empty=$((empty + e))
        [ "$e" -ge 10 ] && [ $((e * 10)) -ge "$w" ] && PLAIN="$(basename "$f") ($e of $w)"
        [ "$acc" = reuseport ] && [ "$a" -lt $((want / 10)) ] &&
            fail "reuseport: $(basename "$f") accepted only $a of $want connections"
    done
    [ "$total" -eq "$want" ] || fail "$name: the workers accepted $total connections, not $want"
    EMPTY[$acc]=$((${EMPTY[$acc]:-0} + empty))
    grep -q "^worker=1$" <(strings "${files[1]}") || fail "$name: w1's header lacks worker=1"
    grep -q "^accept=$acc$" <(strings "${files[1]}") || fail "$name: the header lacks accept="
    expect_status 0 "$EPSCOPE" dump "${files[@]}"
    [ "$(grep -c '^==> ' "$LAST_OUT")" -eq 3 ] || fail "$name: dump of the set lacks a file"
    [ "$(grep -c 'end of trace' "$LAST_OUT")" -eq 3 ] || fail "$name: dump of the set: ends"
    expect_status 0 "$EPSCOPE" compare "${files[@]}"
    out_has '^client connections +[0-9]+ +[0-9]+ +[0-9]+'
    expect_status 0 "$EPSCOPE" view --snapshot 30 --size 150x30 "${files[@]}"
    out_has " diag .*│.* diag .*│.* diag "
    "$EPSCOPE" check "${files[@]}" >"$T/check.out" 2>&1 || {
        cat "$T/check.out" >&2; fail "$name: check found an error in a correct run"; }
    grep -E '^(error|warning) ' "$T/check.out" | grep -v ' thundering-herd: ' &&
        fail "$name: check found a diagnosis other than the herd"
    if [ "$acc" != shared ]; then
        [ "$(grep -c '0 errors, 0 warnings' "$T/check.out")" -eq 3 ] ||
            { cat "$T/check.out" >&2; fail "$name: check did not clear all three traces"; }
    fi
}

# proxy_on ACC MODE NAME: start P, 3 workers accepting in mode ACC, traced to $T/NAME.ept
proxy_on() {
    start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$B1_ADDR" --backend "$B2_ADDR" \
        --mode "$2" --workers 3 --accept "$1" --trace "$T/$3.ept"
    wait_for nchildren "$P_PID" 3 || fail "$3: not 3 workers: $(children "$P_PID")"
}

declare -A EMPTY
HERD_SEEN=0
for acc in shared exclusive reuseport; do
    case $acc in
    shared) mode=level ;; exclusive) mode=edge ;; reuseport) mode=edge-oneshot ;;
    esac
    step "$acc ($mode): 3 workers serve 30 connections at a time byte-exact"
    proxy_on "$acc" "$mode" "$acc"
    expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 1500 -c 30 --expect-size 2k
    out_has '^requests: 1500 ok, 0 failed'
    out_has '^bytes: 3072000 body bytes verified'
    stop P || fail "$acc: the master's exit status was $? after SIGTERM"
    grep -q 'workers stopped' "$T/P.err" || fail "$acc: no word of the stop"
    step "$acc: one trace per worker, each ending with its end record, no diagnosis"
    traces "$acc" "$acc" 1500

    # One connection at a time, paced, so idle workers wait on the listener: in shared
    # mode each connection wakes them all. A woken worker that polls the listener only
    # after another one accepted sleeps on unseen; how many losers the trace shows depends
    # on the scheduler, and a trace of their own keeps the busy run above from diluting
    # their share. A loser needs a second CPU free at that moment: alone this shows 20-50
    # a worker, with a busy loop on the other CPU 0-2, and check then rightly says nothing.
    # So check is judged by what the traces show: a round where a worker shows the herd
    # plainly must bring the warning; up to 3 rounds wait for one, and when none comes
    # (a machine too busy to run two workers at once) that is said, not judged.
    # Exclusive runs paced too: with no thread waiting in a set, the kernel passes an
    # exclusive wake-up on to the next set, so every set gets the event (CI saw a herd
    # warning on exclusive so when it ran busy); it is paced as it would be served.
    for round in 1 2 3; do
        step "$acc: 400 paced connections, one at a time, round $round"
        proxy_on "$acc" "$mode" "$acc-paced$round"
        expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 400 -c 1 --rate 400 \
            --expect-size 2k
        out_has '^requests: 400 ok, 0 failed'
        stop P || fail "$acc paced: the master's exit status was $? after SIGTERM"
        traces "$acc" "$acc-paced$round" 400
        [ "$acc" = shared ] || break
        grep -q '^warning thundering-herd: ' "$T/check.out" && HERD_SEEN=1 && break
        [ -z "$PLAIN" ] || fail "shared: $PLAIN wake-ups found EAGAIN first; no herd warning"
        [ $round -lt 3 ] || echo "NOTE: shared: no round showed the herd plainly (the" \
            "machine seldom ran two workers at once): check's warning not judged this run"
    done
done
echo "empty wake-ups: shared ${EMPTY[shared]}, exclusive ${EMPTY[exclusive]}," \
    "reuseport ${EMPTY[reuseport]}"
[ "${EMPTY[shared]}" -gt 0 ] || fail "shared: no worker ever woke for a connection another took"
[ "${EMPTY[reuseport]}" -eq 0 ] || fail "reuseport: a worker woke for another's connection"
# exclusive's losers (0-20 a round) against shared's (about 100 a round), when shared
# showed its herd at all
[ $HERD_SEEN = 0 ] || [ "${EMPTY[exclusive]}" -lt "${EMPTY[shared]}" ] ||
    fail "exclusive woke as many losers as shared"

for lm in level edge; do
    step "exclusive, $lm listener, --max-conns 2: a full worker leaves the set (DEL), never MOD"
    start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$B1_ADDR" --workers 2 \
        --accept exclusive --listener-mode "$lm" --max-conns 2 --trace "$T/x$lm.ept"
    expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 200 -c 8 --expect-size 2k
    out_has '^requests: 200 ok, 0 failed'
    stop P || fail "exclusive $lm: exit status $?"
    expect_status 0 "$EPSCOPE" dump "$T/x$lm.w0.ept" "$T/x$lm.w1.ept"
    grep -Eq 'epoll_ctl\(ADD, [0-9]+, EPOLLIN\|(EPOLLET\|)?EPOLLEXCLUSIVE\) = 0  \[listener' \
        "$LAST_OUT" || fail "exclusive $lm: the listener was not added with EPOLLEXCLUSIVE"
    grep -q 'epoll_ctl(DEL, [0-9]*) = 0  \[listener' "$LAST_OUT" ||
        grep -q 'epoll_ctl(DEL, [0-9]*, 0) = 0  \[listener' "$LAST_OUT" ||
        fail "exclusive $lm: a full worker never left the set"
    grep -q 'epoll_ctl(MOD, .*\[listener' "$LAST_OUT" && fail "exclusive $lm: MOD on the listener"
    grep -q ' = -1 EINVAL' "$LAST_OUT" && fail "exclusive $lm: an EINVAL"
done

step "a worker killed with SIGKILL is reported and replaced; the service goes on"
start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$B1_ADDR" --workers 3 \
    --trace "$T/k.ept"
wait_for nchildren "$P_PID" 3 || fail "not 3 workers"
old=$(children "$P_PID" | sort)
victim=$(grep -o 'worker 1 started, pid [0-9]*' "$T/P.err" | grep -o '[0-9]*$')
[ -n "$victim" ] && echo "$old" | grep -qx "$victim" || fail "no pid for worker 1: $old"
kill -KILL "$victim"
have_new() { local now; now=$(children "$P_PID" | sort); [ "$(echo "$now" | wc -l)" -eq 3 ] &&
    ! echo "$now" | grep -qx "$victim"; }
wait_for have_new || fail "no new worker in place of $victim: $(children "$P_PID")"
grep -q "worker 1 (pid $victim) killed by signal 9; starting another" "$T/P.err" ||
    { cat "$T/P.err" >&2; fail "the death was not reported"; }
expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 600 -c 30 --expect-size 2k
out_has '^requests: 600 ok, 0 failed'
[ -s "$T/k.w1-1.ept" ] || fail "the new worker 1 writes no k.w1-1.ept"
step "SIGTERM to the master stops every worker, each trace closed with its end record"
workers=$(children "$P_PID")
stop P || fail "exit status $? after SIGTERM"
for pid in $workers; do kill -0 "$pid" 2>/dev/null && fail "worker $pid outlived its master"; done
for f in k.w0.ept k.w1-1.ept k.w2.ept; do
    expect_status 0 "$EPSCOPE" dump "$T/$f"
    out_has 'end of trace'
done
echo "ok"
