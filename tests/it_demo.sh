#!/usr/bin/env bash
# it_demo.sh - `epscope demo` with no terminal: runs the lab to the end within a minute,
# prints the compare table and the check results, leaves three traces and no process.
. "$(dirname "$0")/lib.sh"

step "demo, no terminal"
STEP_TIMEOUT=60 expect_status 0 "$EPSCOPE" demo --dir "$T/d1" </dev/null
cat "$LAST_OUT"
out_has '^trace +level\.ept +edge\.ept +edge-oneshot\.ept'
out_has '^epoll_wait calls'
out_has 'level\.ept: 0 errors, 0 warnings'
out_has 'edge\.ept: 0 errors, 0 warnings'
out_has 'edge-oneshot\.ept: 0 errors, 0 warnings'
for m in level edge edge-oneshot; do
    [ -s "$T/d1/$m.ept" ] || fail "no $m trace"
    expect_status 0 "$EPSCOPE" dump "$T/d1/$m.ept"
    tail -n 1 "$LAST_OUT" | grep -q 'end of trace' || fail "$m trace not closed cleanly"
    "$EPSCOPE" dump --json "$T/d1/$m.ept" >"$T/$m.json"
    python3 "$(dirname "$0")/epollout_lesson.py" "$T/$m.json" "$m" ||
        fail "the demo's $m trace does not show the EPOLLOUT lesson"
done
pgrep -f "$T/d1" >/dev/null && fail "demo left processes behind: $(pgrep -af "$T/d1")"

step "demo --dir naming a file: said at once, exit 2"
: >"$T/afile"
expect_status 2 "$EPSCOPE" demo --dir "$T/afile" --no-tui
err_one_line "^epscope demo: $T/afile is not a directory$"
expect_status 2 "$EPSCOPE" demo --workers 2 --dir "$T/afile" --no-tui
err_one_line "is not a directory$"

step "demo --fault no-drain: the class sees the diagnosis"
STEP_TIMEOUT=60 expect_status 0 "$EPSCOPE" demo --dir "$T/d2" --fault no-drain --no-tui
out_has '^error edge-starvation: '
out_has 'level\.ept: 0 errors'
# the next command it suggests runs as written: this epscope by the path it was run by
# (`make demo` runs ./epscope, which a fresh clone does not have on PATH)
out_has "^Next: '$EPSCOPE view $T/d2/level.ept "
pgrep -f "$T/d2" >/dev/null && fail "demo left processes behind"
expect_status 2 "$EPSCOPE" demo --fault edge-hog --no-tui
grep -q 'traces/fault-edge-hog.ept' "$LAST_ERR" || fail "edge-hog refused without saying where to look"

step "demo --fault sticky-epollout: the proxy that loops is stopped before it fills the disk"
STEP_TIMEOUT=60 expect_status 0 "$EPSCOPE" demo --dir "$T/d4" --fault sticky-epollout --no-tui
out_has '^epscope demo: the level proxy was stopped when its trace passed 32 MiB'
out_has '^error busy-epollout: '
out_has 'edge\.ept: 0 errors'
[ "$(stat -c %s "$T/d4/level.ept")" -lt $((64 << 20)) ] ||
    fail "the level trace grew to $(stat -c %s "$T/d4/level.ept") bytes"
"$EPSCOPE" dump "$T/d4/level.ept" | tail -n 1 | grep -q 'end of trace' ||
    fail "the stopped proxy's trace was not closed cleanly"
pgrep -f "$T/d4" >/dev/null && fail "demo left processes behind"
rm -rf "$T/d4"

step "demo on a terminal (tmux): three columns live, q quits, nothing left behind"
if command -v tmux >/dev/null; then
    sock="$T/tmux.sock"
    tm() { tmux -S "$sock" "$@"; }
    tm new-session -d -s demo -x 130 -y 36 \
        "LANG=C.UTF-8 TERM=xterm-256color '$EPSCOPE' demo --dir '$T/d3' --pace 200; echo DEMO-EXIT=\$?; sleep 60"
    shows() { tm capture-pane -p -t demo | grep -q "$1"; }
    wait_for -t 20 shows '· edge-oneshot · 0 diag' || { tm capture-pane -p -t demo; fail "no third column"; }
    shows '· level · 0 diag' && shows '· edge · 0 diag' || fail "the three columns are not all there"
    shows 'Ready list' || fail "no ready list on screen"
    # the lab starts at the first record, paused, while the traces grow; G follows the end
    wait_for -t 20 shows '^1/[0-9][0-9][0-9]* · level' ||
        { tm capture-pane -p -t demo; fail "the viewer did not stay at the first record"; }
    shows 'following (G: to the end)' || fail "the header does not say how to follow the end"
    tm send-keys -t demo G
    wait_for -t 5 eval "! shows '^1/[0-9]* · level'" ||
        { tm capture-pane -p -t demo; fail "G did not go to the end"; }
    shows '(G: to the end)' && fail "still holding at the start after G"
    tm send-keys -t demo q
    wait_for -t 10 shows 'DEMO-EXIT=0' || { tm capture-pane -p -t demo; fail "demo did not exit 0 on q"; }
    tm kill-server
    wait_for -t 5 eval '! pgrep -f "$T/d3" >/dev/null' || fail "demo left: $(pgrep -af "$T/d3")"
else
    echo "tmux missing: skipped (make test installs it)"
fi

step "demo --workers 3: the herd lesson, three worker traces compared and checked"
for acc in reuseport shared shared shared; do
    [ "$acc" = shared ] && [ -n "${herd_seen:-}" ] && continue
    rm -rf "$T/w-$acc"
    STEP_TIMEOUT=60 expect_status 0 "$EPSCOPE" demo --workers 3 --accept "$acc" --no-tui \
        --dir "$T/w-$acc"
    out_has '^listener wake-ups +[0-9]+ +[0-9]+ +[0-9]+'
    for w in 0 1 2; do
        [ -s "$T/w-$acc/herd-$acc.w$w.ept" ] || fail "$acc: no trace of worker $w"
        out_has "herd-$acc.w$w.ept: 0 errors, "
    done
    # reuseport: each worker its own listener, so none ever wakes for another's connection
    [ "$acc" = reuseport ] && grep -q '^warning thundering-herd' "$LAST_OUT" &&
        fail "reuseport: a herd was reported"
    pgrep -f "$T/w-$acc" >/dev/null && fail "demo --workers left processes behind"
    # shared: the lesson shows (a worker's wake-ups that found EAGAIN: how many depends on
    # the scheduler, so a loaded machine gets three runs)
    [ "$acc" = shared ] && grep -q '^warning thundering-herd' "$LAST_OUT" && herd_seen=1
done
[ -n "${herd_seen:-}" ] || fail "shared: in 3 demos, check never warned of the herd"

step "bad options"
expect_status 2 "$EPSCOPE" demo --fault nonsense
expect_status 2 "$EPSCOPE" demo --accept shared
expect_status 2 "$EPSCOPE" demo --workers 4
expect_status 2 "$EPSCOPE" demo --workers 3 --fault no-drain
expect_status 0 "$EPSCOPE" demo --help
echo ok
