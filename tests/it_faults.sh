#!/usr/bin/env bash
# it_faults.sh - every --fault, driven by a workload that exposes it, is found by
# `epscope check` with the right id and exit 1; correct runs in every mode under varied
# workloads give no diagnosis at all and exit 0.
. "$(dirname "$0")/lib.sh"

start HELLO "$EPSCOPE" backend --listen 127.0.0.1:0 --name hello
start CLOSE "$EPSCOPE" backend --listen 127.0.0.1:0 --name close --close
start SLOWB "$EPSCOPE" backend --listen 127.0.0.1:0 --name slow --delay 300
start DELAY "$EPSCOPE" backend --listen 127.0.0.1:0 --name delay --delay 30
start BIG "$EPSCOPE" backend --listen 127.0.0.1:0 --name big --size 1m
start HUGE "$EPSCOPE" backend --listen 127.0.0.1:0 --name huge --size 32m
start ECHO python3 "$(dirname "$0")/progs/drive.py" backend --echo
start SILENT python3 "$(dirname "$0")/progs/drive.py" backend --silent-ms 600
start BIGCLOSE "$EPSCOPE" backend --listen 127.0.0.1:0 --name bigclose --size 256k --close

# faulty MODE FAULT BACKEND ID -- PROXY_OPTS -- LOAD_ARGS: run, stop, check finds ID.
# PRECOND=FN: FN DUMPFILE must first succeed (what the fault needs happened). The workload
# is run again, at most TRIES times in all (default 3), while it does not: timing decides
# whether a run sets the fault up, never whether check finds it once it is.
faulty() {
    local mode=$1 fault=$2 be=$3 id=$4 popts=() largs=() try=1
    shift 5
    while [ "$1" != "--" ]; do popts+=("$1"); shift; done
    shift
    largs=("$@")
    step "fault $fault ($mode): check must find $id"
    while :; do
        start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode "$mode" --backend "$be" \
            --fault "$fault" --trace "$T/$fault.ept" --force "${popts[@]}"
        STEP_TIMEOUT=30 bounded 30 "$EPSCOPE" load "http://$P_ADDR/" "${largs[@]}" \
            >"$T/$fault.load" 2>&1
        echo "load: $(head -n 1 "$T/$fault.load")"
        stop P || fail "$fault: the proxy did not stop cleanly"
        [ -n "${PRECOND:-}" ] || break
        "$EPSCOPE" dump "$T/$fault.ept" >"$T/$fault.dump"
        $PRECOND "$T/$fault.dump" && break
        [ $try -lt "${TRIES:-3}" ] || fail "$fault: the workload did not set the fault up" \
            "in $try runs"
        echo "$fault: run $try did not set the fault up ($PRECOND); again"
        try=$((try + 1))
    done
    expect_status 1 "$EPSCOPE" check "$T/$fault.ept"
    cat "$LAST_OUT"
    out_has "^error $id: "
    grep -E '^(error|warning) ' "$LAST_OUT" | grep -v " $id: " | grep '^error' &&
        fail "$fault: errors other than $id"
    expect_status 1 "$EPSCOPE" check --json "$T/$fault.ept"
    out_has "\"id\":\"$id\""
}

faulty edge-oneshot mistrigger "$CLOSE_ADDR" mis-trigger -- -- -n 20 --timeout 2000
faulty edge no-drain "$BIG_ADDR" edge-starvation -- --idle-timeout 1000 -- \
    -n 2 --timeout 3000
"$EPSCOPE" dump "$T/no-drain.ept" | grep -q 'unread fd=[0-9]*: [1-9][0-9]* bytes still in the kernel' ||
    fail "no-drain: the proxy did not note the bytes it left in the kernel"
faulty edge-oneshot no-rearm "$HELLO_ADDR" oneshot-not-rearmed -- --idle-timeout 800 -- \
    -n 2 --timeout 2000
faulty level sticky-epollout "$DELAY_ADDR" busy-epollout -- -- -n 2 --keepalive

step "a proxy in a loop that never waits still stops on SIGTERM"
# sticky-epollout keeps a level EPOLLOUT on an idle client: every epoll_pwait returns at
# once, and a signal unblocked only inside epoll_pwait is never delivered then
start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode level --backend "$HELLO_ADDR" \
    --fault sticky-epollout --trace "$T/spin.ept"
exec 3<>"/dev/tcp/127.0.0.1/$P_PORT"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&3
big() { [ "$(stat -c %s "$T/spin.ept")" -gt $((1 << 20)) ]; }
wait_for -t 10 big || fail "the sticky-epollout proxy is not spinning (the precondition)"
stop P || fail "the spinning proxy did not stop cleanly"
exec 3>&-
"$EPSCOPE" dump "$T/spin.ept" | tail -n 1 | grep -q 'end of trace' ||
    fail "the spinning proxy's trace was not closed"

faulty level ignore-eof "$DELAY_ADDR" eof-spin -- -- -n 2 --half-close
# accept-once needs connections left waiting after an accept: the proxy notes its queue
waited() { grep -q 'backlog fd=[0-9]*: [1-9][0-9]* connections\? waiting' "$1"; }
PRECOND=waited faulty edge accept-once "$HELLO_ADDR" accept-starvation -- \
    --listener-mode edge -- -n 300 -c 60 --timeout 2000
step "fault stale-event (level): check must find stale-event"
# stale-event needs one batch holding events of both sockets of a connection, so that
# handling the first closes the second's socket. Made certain: eight requests to the slow
# backend (it answers after 300 ms); once the proxy has forwarded them it is frozen; the
# clients give up at 150 ms and hang up, the backend answers, and both reach the frozen
# proxy's sockets; then it wakes to one batch holding all of it
start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode level --backend "$SLOWB_ADDR" \
    --fault stale-event --trace "$T/stale-event.ept"
bounded 30 "$EPSCOPE" load "http://$P_ADDR/" -n 8 -c 8 --keepalive --timeout 150 -q &
lp=$!
forwarded() { [ "$("$EPSCOPE" dump "$T/stale-event.ept" 2>/dev/null |
    grep -c '  write(.*\[backend')" -ge 8 ]; }
wait_for forwarded || fail "stale-event: the proxy did not forward the eight requests"
kill -STOP "$P_PID"
wait "$lp" && fail "stale-event: the clients did not give up (the backend was not slow)"
# the backend's answers are queued in the frozen proxy's sockets (/proc/net/tcp: their
# receive queue, towards the backend's port, is not empty)
answered() {
    awk -v port="$(printf '%04X' "$SLOWB_PORT")" 'NR > 1 {
        split($3, r, ":"); split($5, q, ":"); if (r[2] == port && q[2] != "00000000") n++ }
        END { exit !(n >= 8) }' /proc/net/tcp
}
wait_for answered || { kill -CONT "$P_PID"; fail "stale-event: the backend never answered"; }
# the precondition: a batch held a client's hang-up and its backend's answer
hangup_and_answer() {
    "$EPSCOPE" dump "$T/stale-event.ept" 2>/dev/null >"$T/stale-event.dump"
    awk '/ epoll_wait\(/ { delete hup; delete ans; next }
         /    ready fd=[0-9]+ [A-Z|]*HUP.*\[client/ { c = $NF; hup[c] = 1; if (c in ans) found = 1 }
         /    ready fd=[0-9]+ EPOLLIN.*\[backend/ { c = $NF; ans[c] = 1; if (c in hup) found = 1 }
         END { exit !found }' "$T/stale-event.dump"
}
kill -CONT "$P_PID"
wait_for hangup_and_answer || { sed -n '/= 1[0-9] </,$p' "$T/stale-event.dump";
    fail "stale-event: no batch held a client's hang-up and its backend's answer"; }
stop P || fail "stale-event: the proxy did not stop cleanly"
expect_status 1 "$EPSCOPE" check "$T/stale-event.ept"
cat "$LAST_OUT"
out_has '^error stale-event: '
grep '^error ' "$LAST_OUT" | grep -v ' stale-event: ' && fail "stale-event: other errors"
faulty level closed-fd-still-registered "$HELLO_ADDR" closed-fd-still-registered -- -- -n 3
# the backend answers and closes at once: the response and its FIN must come in one
# event (EPOLLIN|EPOLLRDHUP) for the fault to lose data; the proxy's close record says how
# many bytes it left unread (FIONREAD), which shows that happened. `backend --close` sends
# the FIN in the response's last segment, so the first run must show it (TRIES=1).
fin_with_data() {
    awk '/    ready fd=[0-9]+ EPOLLIN\|EPOLLRDHUP .*\[backend/ {
             match($0, /fd=[0-9]+/); rdhup[substr($0, RSTART + 3, RLENGTH - 3)] = 1 }
         /  close\([0-9]+\) = 0 .* [1-9][0-9]* bytes unread .*\[backend/ {
             match($0, /close\([0-9]+/)
             if (rdhup[substr($0, RSTART + 6, RLENGTH - 6)]) found = 1 }
         END { exit !found }' "$1"
}
TRIES=1 PRECOND=fin_with_data faulty level rdhup-data-loss "$CLOSE_ADDR" rdhup-data-loss -- -- \
    -n 5 --timeout 1000

step "fault lost-out-edge (edge): an echo through the proxy stalls; check must find it"
# the client sends until the kernel takes no more (its echo unread), then reads: the
# proxy's client socket then reports EPOLLIN|EPOLLOUT together, and the fault drops OUT
start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode edge --backend "$ECHO_ADDR" \
    --sndbuf 16k --idle-timeout 1000 --fault lost-out-edge --trace "$T/lost-out.ept"
expect_status 1 python3 "$(dirname "$0")/progs/drive.py" pipe "$P_ADDR" --size 2000000
cat "$LAST_OUT"
out_has '^fail: .*bytes came back'
stop P || fail "lost-out-edge: the proxy did not stop cleanly"
expect_status 1 "$EPSCOPE" check "$T/lost-out.ept"
cat "$LAST_OUT"
out_has '^error lost-out-edge: '
grep '^error ' "$LAST_OUT" | grep -v ' lost-out-edge: ' && fail "lost-out-edge: other errors"
"$EPSCOPE" dump "$T/lost-out.ept" | grep -q 'ready fd=[0-9]* EPOLLIN|EPOLLOUT  \[client' ||
    fail "lost-out-edge: no client event with EPOLLIN|EPOLLOUT together (the precondition)"

step "fault edge-hog (edge): check must warn edge-hog (a cost, exit 0); the correct proxy not"
# four 32 MiB downloads; the proxy is frozen once all eight sockets are up, so that the
# four backends' data piles up and several are in the first batch after it wakes
socks() { [ "$(ls "/proc/$P_PID/fd" | wc -l)" -ge $((4 + 8)) ]; } # + stdio, epoll, listener...
# the precondition, for both proxies: one epoll_wait reported several backends readable
piled_up() {
    awk '/ epoll_wait\(/ { n = 0; next }
         /    ready fd=[0-9]+ EPOLLIN.*\[backend/ { if (++n >= 2) found = 1 }
         END { exit !found }' "$1"
}
for f in edge-hog none; do
    try=1
    while :; do
        start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode edge --backend "$HUGE_ADDR" \
            --fault "$f" --ring-size 64m --preview 16 --trace "$T/hog-$f.ept" --force
        bounded 60 "$EPSCOPE" load "http://$P_ADDR/" -n 4 -c 4 -q & lp=$!
        wait_for socks || fail "edge-hog: the four connections never came up"
        kill -STOP "$P_PID"
        sleep 0.2 # not a barrier: how long the backends' data piles up (the dump shows it)
        kill -CONT "$P_PID"
        wait "$lp" || fail "edge-hog ($f): the downloads failed"
        stop P
        "$EPSCOPE" dump "$T/hog-$f.ept" >"$T/hog-$f.dump"
        # the hog shows when one backend's data keeps coming faster than the proxy passes
        # it on, for 64 reads and 1 MiB in one event; how long that lasts is the
        # scheduler's (2 runs in 5 fell short on a busy machine): the faulty proxy gets 3
        if piled_up "$T/hog-$f.dump"; then
            [ "$f" = none ] && break
            "$EPSCOPE" check "$T/hog-$f.ept" | grep -q '^warning edge-hog: ' && break
            [ $try -lt 3 ] || break # the checks below say what is missing
            echo "edge-hog ($f): run $try had no handler read 64 times in one go; again"
        else
            [ $try -lt 3 ] || fail "edge-hog ($f): no batch held two backends in $try runs"
            echo "edge-hog ($f): run $try had no batch with two backends readable; again"
        fi
        try=$((try + 1))
    done
    expect_status 0 "$EPSCOPE" check "$T/hog-$f.ept"
    cat "$LAST_OUT"
    grep -q '^error ' "$LAST_OUT" && fail "edge-hog ($f): errors"
    if [ "$f" = none ]; then out_has ': 0 errors, 0 warnings in '
    else out_has '^warning edge-hog: '; fi
done

step "fault double-register (level): check must warn spurious-wakeup (a cost, exit 0)"
# on one CPU, as it_students runs dup_double: woken on another CPU by the first of a
# socket's two registrations, the proxy can take its events before the twin is queued,
# and a client that so loses a few twins falls under the rule's half, though it was
# reported twice in more than three waits (the count below)
cpu=()
command -v taskset >/dev/null && cpu=(taskset -c 0)
start P "${cpu[@]}" "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$HELLO_ADDR" \
    --fault double-register --trace "$T/double.ept"
expect_status 0 "${cpu[@]}" "$EPSCOPE" load "http://$P_ADDR/" -n 40 -c 2 --keepalive
stop P
expect_status 0 "$EPSCOPE" check "$T/double.ept"
cat "$LAST_OUT"
out_has '^warning spurious-wakeup: '
grep -q '^error ' "$LAST_OUT" && fail "double-register: errors besides the warning"
# one warning per client whose double registration showed: reported twice by one
# epoll_wait at least 3 times (the rule's minimum), derived from the trace itself
"$EPSCOPE" dump "$T/double.ept" >"$T/double.dump"
want=$(awk '/ epoll_wait\(/ { delete seen; next }
            /    ready fd=/ && /\[client / { s = $NF; if (seen[s]++ == 1) twice[s]++ }
            END { for (s in twice) if (twice[s] >= 3) n++; print n + 0 }' "$T/double.dump")
echo "clients reported twice in at least 3 waits: $want"
[ "$want" -ge 1 ] || fail "double-register: no client was ever reported twice by one wait"
out_has ": 0 errors, $want warnings? in "   # "1 warning" or "N warnings"

step "a fault in a mode that cannot show it is refused, saying which mode does"
expect_status 2 "$EPSCOPE" proxy --backend "$HELLO_ADDR" --mode level --fault no-drain
grep -q 'edge' "$LAST_ERR" || fail "the refusal does not name the mode"
expect_status 0 "$EPSCOPE" proxy --fault help
for f in mistrigger no-drain no-rearm sticky-epollout ignore-eof accept-once stale-event \
         double-register closed-fd-still-registered rdhup-data-loss lost-out-edge edge-hog; do
    out_has "^  $f "
done

step "correct runs: no diagnosis at all, in every mode, under varied workloads"
for mode in level edge edge-oneshot; do
    for lmode in level edge; do
        start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode "$mode" --listener-mode "$lmode" \
            --backend "$HELLO_ADDR" --backend "$BIG_ADDR" --backend "$SLOWB_ADDR" \
            --trace "$T/ok-$mode-$lmode.ept"
        pids=""
        for args in "-n 400 -c 40 --keepalive" "-n 200 -c 20" "-n 40 -c 4 --pipeline 4" \
                    "-n 8 -c 4 --half-close" "-n 2 -c 2 --slow-read 2m"; do
            # shellcheck disable=SC2086
            bounded 60 "$EPSCOPE" load "http://$P_ADDR/" $args -q & pids="$pids $!"
        done
        for p in $pids; do wait "$p" || fail "$mode/$lmode: a correct run had failed requests"; done
        stop P
        expect_status 0 "$EPSCOPE" check "$T/ok-$mode-$lmode.ept"
        out_has ': 0 errors, 0 warnings in '
    done
    # a backend that closes after every response (HTTP/1.0 style, as in the origin)
    start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode "$mode" --backend "$CLOSE_ADDR" \
        --trace "$T/ok-$mode-close.ept"
    expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 200 -c 20
    expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 100 -c 10 --keepalive
    stop P
    expect_status 0 "$EPSCOPE" check "$T/ok-$mode-close.ept"
    out_has ': 0 errors, 0 warnings in '
    # a request and its FIN in one report, to a backend that waits 0.6 s and hangs up
    # without a word: the client's socket has told all (a short read after EPOLLRDHUP) and
    # is rightly left alone meanwhile, in edge-oneshot too
    for try in 1 2 3; do
        start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode "$mode" \
            --backend "$SILENT_ADDR" --trace "$T/ok-$mode-hangup.ept" --force
        expect_status 0 python3 "$(dirname "$0")/progs/drive.py" hangup "$P_ADDR" --timeout 3
        stop P
        "$EPSCOPE" dump "$T/ok-$mode-hangup.ept" |
            grep -q 'ready fd=[0-9]* EPOLLIN[A-Z|]*RDHUP.*\[client' && break
        [ $try -lt 3 ] ||
            fail "$mode: the request and its FIN never came in one report (the precondition)"
    done
    expect_status 0 "$EPSCOPE" check "$T/ok-$mode-hangup.ept"
    out_has ': 0 errors, 0 warnings in '
    # the end of a big answer and the backend's FIN in one report, to slow readers: the
    # end is passed on (shutdown) only once they took the rest, which is seconds later
    start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode "$mode" --backend "$BIGCLOSE_ADDR" \
        --sndbuf 16k --trace "$T/ok-$mode-slowend.ept"
    expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 2 -c 2 --slow-read 128k \
        --expect-size 256k
    stop P
    "$EPSCOPE" dump "$T/ok-$mode-slowend.ept" | awk '
        /    ready fd=[0-9]+ EPOLLIN[A-Z|]*RDHUP.*\[backend/ { if (!t) t = $2 }
        /  shutdown\([0-9]+, SHUT_WR\).*\[client/ { if (t && $2 - t > 0.2) found = 1 }
        END { exit !found }' ||
        fail "$mode: no end passed on long after the backend's FIN came (the precondition)"
    expect_status 0 "$EPSCOPE" check "$T/ok-$mode-slowend.ept"
    out_has ': 0 errors, 0 warnings in '
done
echo ok
