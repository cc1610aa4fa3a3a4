#!/usr/bin/env bash
# it_view.sh - `epscope view` for real: bad input, --help, --snapshot against golden screens,
# and the program in tmux (fixed size, TERM and locale): open, step, jump to a diagnosis,
# help, go to, resize, monochrome, ASCII, quit and SIGTERM restoring the terminal, three
# traces side by side, and --follow on a trace a live proxy is writing.
#
# The traces come from `test_view --gen DIR` (tests/synth.h): every time, fd, port and byte
# count in them is fixed, so snapshots are compared byte for byte, with no normalising.
# UPDATE_GOLDEN=1 rewrites tests/golden/view_*.txt instead of comparing.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
GOLDEN=$HERE/golden
GEN=$(dirname "$EPSCOPE")/tests/test_view
[ -x "$GEN" ] || fail "$GEN is missing: run make units first"
"$GEN" --gen "$T" || fail "cannot generate the traces"
export TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8
unset NO_COLOR

step "bad input: one line on stderr, exit 2, before the terminal is touched"
expect_status 2 "$EPSCOPE" view "$T/missing.ept"
[ "$(wc -l <"$LAST_ERR")" -eq 1 ] || fail "more than one line: $(cat "$LAST_ERR")"
grep -q "missing.ept" "$LAST_ERR" || fail "the error does not name the file"
printf 'not a trace at all\n' >"$T/text.ept"
expect_status 2 "$EPSCOPE" view "$T/text.ept"
[ "$(wc -l <"$LAST_ERR")" -eq 1 ] || fail "more than one line: $(cat "$LAST_ERR")"
expect_status 2 "$EPSCOPE" view
expect_status 2 "$EPSCOPE" view "$T/small.ept" "$T/level.ept" "$T/edge.ept" "$T/oneshot.ept"
expect_status 2 "$EPSCOPE" view --size 80 --snapshot 1 "$T/small.ept"
# below the smallest screen: an error, not a snapshot of the too-small notice
for size in 79x24 80x23 60x20 10x5; do
    expect_status 2 "$EPSCOPE" view --snapshot 1 --size $size "$T/small.ept"
    err_has "^epscope view: --size $size is below the smallest screen, 80x24$"
    [ -s "$LAST_OUT" ] && fail "--size $size printed a screen: $(cat "$LAST_OUT")"
done
expect_status 2 "$EPSCOPE" view "$T/small.ept" </dev/null   # no terminal, no --snapshot
grep -q "needs a terminal" "$LAST_ERR" || fail "no terminal: $(cat "$LAST_ERR")"

step "--help lists every option and key"
expect_status 0 "$EPSCOPE" view --help
for w in --follow --snapshot --size --keys --align --speed --no-color --ascii \
    Space "n  Right" "p  Left" " w " " W " " c " " C " " d " " D " " + " " - " "g  Home" \
    "G  End" " : " " / " " f " " F " " a " "]  [" " i " " z " Tab "?  h" " q " PgUp Enter Esc \
    mouse; do
    grep -qF -- "$w" "$LAST_OUT" || fail "--help lacks '$w'"
done
# docs/viewer.md shows --help whole under Options: word for word what the program prints
awk '/^## Options/ { on = 1; next } on && /^```/ { if (in_block) exit; in_block = 1; next }
     in_block' "$(dirname "$0")/../docs/viewer.md" >"$T/viewer-md-help.txt"
diff "$T/viewer-md-help.txt" "$LAST_OUT" || fail "docs/viewer.md's Options differ from --help"

step "--snapshot: golden screens"
# The goldens hold the layout. A diagnosis' words are the rules' (src/rules.c) and may be
# reworded: in the Explanation pane only the id, severity and record range are compared,
# the pane's prose lines are dropped on both sides, and so is how many lines the prose
# takes in its title ("lines 1-5 of 16: [ ] scroll", narrow "1-4/5 [ ]").
layout() {
    awk '/^─ Explanation|^- Explanation/ {
             gsub(/lines [0-9]+-[0-9]+ of [0-9]+/, "lines #")
             gsub(/ [0-9]+-[0-9]+\/[0-9]+ \[ \]/, " # [ ]")
             gsub(/(─)(─)+/, "─"); gsub(/--+/, "-"); print; inpane = 1; next }
         inpane && /records [0-9]+-[0-9]+:/ { sub(/records [0-9]+-[0-9]+: .*/, "&"); \
             match($0, /records [0-9]+-[0-9]+:/); print substr($0, 1, RSTART + RLENGTH - 1) " ..."; next }
         inpane && (/^  / || /^ *$/) { next }
         { inpane = 0; print }' "$1"
}
golden() { # NAME VIEW-ARGS...
    local name=$1
    shift
    expect_status 0 "$EPSCOPE" view "$@"
    if [ -n "${UPDATE_GOLDEN:-}" ]; then
        mkdir -p "$GOLDEN"
        cp "$LAST_OUT" "$GOLDEN/view_$name.txt"
        echo "updated $GOLDEN/view_$name.txt"
    else
        layout "$GOLDEN/view_$name.txt" >"$T/golden.layout"
        layout "$LAST_OUT" >"$T/out.layout"
        diff -u "$T/golden.layout" "$T/out.layout" || fail "snapshot $name differs from golden"
    fi
}
cd "$T" || fail "cd $T"
golden main_100x30 --snapshot 40 --size 100x30 small.ept
golden diag_80x24 --snapshot 1 --size 80x24 --keys d small.ept
golden diag_100x30 --snapshot 1 --size 100x30 --keys d small.ept
golden help_100x40 --snapshot 1 --size 100x40 --keys '?' small.ept
golden side_120x30 --snapshot 1 --size 120x30 --keys 'aw<Tab><Tab>wwwwwnnn' \
    level.ept edge.ept oneshot.ept
golden filter_100x30 --snapshot 1 --size 100x30 --keys 'cccnf' small.ept
golden timeout_100x30 --snapshot 1 --size 100x30 --keys 'wwwwwwwwwwwww' small.ept
LANG=C LC_ALL=C golden ascii_80x24 --snapshot 1 --size 80x24 --keys d small.ept
cd - >/dev/null || true

command -v tmux >/dev/null || { echo "tmux not installed: the terminal part is skipped"; exit 77; }

TMUX_SOCK=epscope-it-view-$$
tm() { tmux -L "$TMUX_SOCK" -f /dev/null "$@"; }
_view_cleanup() { tm kill-server 2>/dev/null; _lib_cleanup; }
trap _view_cleanup EXIT

# open NAME W H ARGS...: a detached tmux session running epscope view (kept when it exits).
open_view() {
    local name=$1 w=$2 h=$3
    shift 3
    # the shell records the viewer's exit status: tmux's own may come late or not at all.
    # When the last session was just killed, its server is still exiting and a new
    # session can reach it and fail ("server exited unexpectedly"): try again then.
    local cmd="env TERM=$TERM LANG=$LANG LC_ALL=${LC_ALL:-} ${VIEW_ENV:-} $EPSCOPE view $*;
         echo \$? >$T/$name.rc"
    _new_session() { tm new-session -d -s "$name" -x "$w" -y "$h" "$cmd" 2>>"$T/tmux.err"; }
    wait_for -t 5 _new_session || { cat "$T/tmux.err" >&2; fail "tmux new-session $name"; }
    tm set-option -t "$name" remain-on-exit on >/dev/null
}
screen_of() { tm capture-pane -p -t "$1"; }
shows() { screen_of "$1" | grep -qF -- "$2"; }
# see NAME TEXT: wait (bounded) until the screen shows TEXT.
see() {
    wait_for -t 5 shows "$1" "$2" || { screen_of "$1" >&2; fail "$1: the screen never showed '$2'"; }
}
gone() { ! shows "$1" "$2"; }
unsee() {
    wait_for -t 5 gone "$1" "$2" || { screen_of "$1" >&2; fail "$1: the screen still shows '$2'"; }
}
dead() { [ -s "$T/$1.rc" ]; }
# viewer_pid NAME: the viewer's pid (the child of the session's shell).
viewer_pid() {
    local sh
    sh=$(tm display-message -p -t "$1" '#{pane_pid}')
    pgrep -P "$sh" | head -n 1
}
keys() { local s=$1; shift; tm send-keys -t "$s" "$@"; }

step "tmux 100x30: open, step, diagnosis, help, go to, resize, quit"
open_view v1 100 30 "$T/small.ept"
see v1 "record 1/252"
see v1 "Ready list"
see v1 "Interest list"
see v1 "Event log"
see v1 "Explanation"
see v1 "? Help"
keys v1 n
see v1 "record 2/252"
keys v1 Right
see v1 "record 3/252"
keys v1 Left
see v1 "record 2/252"
keys v1 w
see v1 "epoll_wait #1 returned 1"
keys v1 d
see v1 "mis-trigger (error)"
see v1 "  Why: " # the cause comes first (its words are the rule's)
see v1 "[ ] scroll"
keys v1 ']' ']' ']' ']' ']' ']'
see v1 "  Fix: " # then, scrolled, the fix
keys v1 '[' '[' '[' '[' '[' '['
see v1 "mis-trigger (error), records"
keys v1 i # the record's socket, in words
see v1 "in words"
keys v1 i
see v1 "mis-trigger (error), records"
screen_of v1 | grep -q "▶✖" || fail "the diagnosed record under the cursor has no glyph"
keys v1 '?'
see v1 "this help"
keys v1 Escape
unsee v1 "this help"
keys v1 : 1 0 0 Enter
see v1 "record 100/252"
keys v1 / c l o s e '(' Enter
see v1 "found at record"
tm resize-window -t v1 -x 80 -y 24
see v1 "record 1"
wait_for -t 5 eval '[ "$(screen_of v1 | wc -l)" -eq 24 ]' || fail "not redrawn at 80x24"
tm resize-window -t v1 -x 60 -y 20
see v1 "needs at least 80x24 (now 60x20)"
tm resize-window -t v1 -x 100 -y 30
see v1 "Interest list"
keys v1 g
see v1 "record 1/252"
keys v1 q
wait_for -t 5 dead v1 || fail "q did not quit"
[ "$(cat "$T/v1.rc")" = 0 ] || { screen_of v1 >&2; fail "view exited with status $(cat "$T/v1.rc")"; }
[ "$(tm display-message -p -t v1 '#{alternate_on}')" = 0 ] || fail "left the alternate screen on"
tm kill-session -t v1

step "SIGTERM and SIGINT restore the terminal"
for sig in TERM INT; do
    open_view "s$sig" 100 30 "$T/small.ept"
    see "s$sig" "Event log"
    pid=$(viewer_pid "s$sig")
    [ -n "$pid" ] || fail "no viewer process"
    kill -"$sig" "$pid"
    wait_for -t 5 dead "s$sig" || fail "SIG$sig did not stop the viewer"
    [ "$(cat "$T/s$sig.rc")" = 0 ] || fail "SIG$sig: exit status $(cat "$T/s$sig.rc")"
    [ "$(tm display-message -p -t "s$sig" '#{alternate_on}')" = 0 ] ||
        fail "SIG$sig left the alternate screen on"
    tm kill-session -t "s$sig"
done

step "a terminal it cannot draw on (unknown, or unable to move the cursor): one line, exit 1"
for t in bogusterm dumb; do
    VIEW_ENV="TERM=$t" open_view "t$t" 100 30 "$T/small.ept" "2>$T/t$t.err"
    wait_for -t 5 dead "t$t" || { screen_of "t$t" >&2; fail "TERM=$t: the viewer did not exit"; }
    [ "$(cat "$T/t$t.rc")" = 1 ] || fail "TERM=$t: exit status $(cat "$T/t$t.rc")"
    grep -qF "cannot draw on this terminal (TERM=$t)" "$T/t$t.err" ||
        fail "TERM=$t: no word of why: $(cat "$T/t$t.err")"
    [ "$(wc -l <"$T/t$t.err")" = 1 ] || fail "TERM=$t: more than one line: $(cat "$T/t$t.err")"
    tm kill-session -t "t$t"
done

step "colour by default; NO_COLOR and --no-color are monochrome; LANG=C is ASCII"
open_view c1 100 30 "$T/small.ept"
see c1 "Event log"
tm capture-pane -e -p -t c1 | grep -qE $'\e\\[[0-9;]*(3[0-7]|38;5)' || fail "no colour at all"
keys c1 q
VIEW_ENV="NO_COLOR=1" open_view c2 100 30 "$T/small.ept"
see c2 "Event log"
tm capture-pane -e -p -t c2 | grep -qE $'\e\\[[0-9;]*(3[0-7]|38;5|4[0-7])m' &&
    fail "NO_COLOR: colours used"
tm capture-pane -e -p -t c2 | grep -qE $'\e\\[[0-9;]*7m' || fail "NO_COLOR: no reverse video"
keys c2 q
open_view c3 100 30 --no-color "$T/small.ept"
see c3 "Event log"
tm capture-pane -e -p -t c3 | grep -qE $'\e\\[[0-9;]*(3[0-7]|38;5|4[0-7])m' &&
    fail "--no-color: colours used"
keys c3 q
LANG=C LC_ALL=C open_view c4 100 30 "$T/small.ept"
see c4 "Event log"
keys c4 d
see c4 "mis-trigger (error)"
screen_of c4 | grep -q "^>E" || fail "ASCII: no '>E' marks"
screen_of c4 | LC_ALL=C grep -q $'[\x80-\xff]' && fail "ASCII locale: UTF-8 on screen"
keys c4 q

step "three traces side by side, aligned by record, epoll_wait, connection"
open_view s3 120 30 "$T/level.ept" "$T/edge.ept" "$T/oneshot.ept"
see s3 "· level · 0 diag · level.ept"
see s3 "· edge · 0 diag · edge.ept"
see s3 "· edge-oneshot · 0 diag · oneshot"
see s3 "aligned by record"
keys s3 n n n
see s3 "4/172 · level"
[ "$(screen_of s3 | grep -oE '(^|│)4/[0-9]+ · ' | wc -l)" -eq 3 ] || fail "not stepped together"
keys s3 a
see s3 "aligned by epoll_wait"
keys s3 a
see s3 "aligned by connection"
keys s3 c c
see s3 "pick conn=2"
wait_for -t 5 eval '[ "$(screen_of s3 | grep -o "pick conn=2" | wc -l)" -ge 3 ]' ||
    { screen_of s3 >&2; fail "connection 2 not aligned in all three columns"; }
keys s3 q
wait_for -t 5 dead s3 || fail "side by side: q did not quit"

step "three traces at lecture sizes, monochrome and ASCII: quit stays, z zooms a column"
for size in 80x24 100x30; do
    LANG=C LC_ALL=C VIEW_ENV="NO_COLOR=1" open_view "z$size" "${size%x*}" "${size#*x}" \
        "$T/level.ept" "$T/edge.ept" "$T/oneshot.ept"
    see "z$size" "aligned by record"
    keys "z$size" w w w
    see "z$size" "q Quit"
    see "z$size" "I in O out D rdhup" # the legend of the narrow columns
    screen_of "z$size" | tail -n 1 | grep -q "z Zoom.*q Quit" ||
        fail "$size: key bar lacks zoom or quit"
    keys "z$size" z
    see "z$size" "zoomed on 1 of 3"
    see "z$size" "fd  role     conn  IN  OUT" # the whole column, its full header
    unsee "z$size" "I in O out D rdhup"
    screen_of "z$size" | LC_ALL=C grep -q $'[\x80-\xff]' && fail "$size ASCII: UTF-8 on screen"
    tm capture-pane -e -p -t "z$size" | grep -qE $'\e\\[[0-9;]*(3[0-7]|38;5|4[0-7])m' &&
        fail "$size NO_COLOR: colours used"
    keys "z$size" z
    see "z$size" "I in O out D rdhup"
    keys "z$size" q
    wait_for -t 5 dead "z$size" || fail "$size: q did not quit"
done

step "--follow: a trace a live proxy is still writing"
start BE "$EPSCOPE" backend --listen 127.0.0.1:0
start PX "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$BE_ADDR" --mode edge-oneshot \
    --trace "$T/live.ept"
wait_for -t 5 test -s "$T/live.ept" || fail "the proxy wrote no trace"
open_view f1 100 30 --follow "$T/live.ept"
see f1 "following"
STEP_TIMEOUT=20 expect_status 0 "$EPSCOPE" load "http://$PX_ADDR/" -n 3 -c 1
see f1 "close("
n1=$(screen_of f1 | grep -o 'record [0-9]*/[0-9]*' | head -n 1)
STEP_TIMEOUT=20 expect_status 0 "$EPSCOPE" load "http://$PX_ADDR/" -n 5 -c 1
wait_for -t 5 eval '[ "$(screen_of f1 | grep -o "record [0-9]*/[0-9]*" | head -n 1)" != "$n1" ]' ||
    fail "no new records after the second load ($n1)"
# at the end it stays at the end: record N/N
wait_for -t 5 eval 'screen_of f1 | grep -qE "record ([0-9]+)/\\1 "' ||
    { screen_of f1 >&2; fail "follow did not stay at the end"; }
keys f1 q
wait_for -t 5 dead f1 || fail "follow: q did not quit"
stop PX || true

step "--follow: the followed file shrinks (truncate, a proxy restarted with --force): no SIGBUS"
TRACES=$(cd "$(dirname "$0")/../traces" && pwd)
cp "$TRACES/fault-sticky-epollout.ept" "$T/shrink.ept"
open_view s1 100 30 --follow "$T/shrink.ept"
see s1 "following"
truncate -s 0 "$T/shrink.ept"
see s1 "shrank (truncated or rewritten)"
keys s1 G
keys s1 w
[ -n "$(viewer_pid s1)" ] && ! dead s1 || { screen_of s1 >&2; fail "the viewer died on a shrunk file"; }
cat "$TRACES/origin-mistrigger.ept" >"$T/shrink.ept" # written again in place
see s1 "was truncated or replaced: reloaded"
see s1 "/41 "
truncate -s 1000 "$T/shrink.ept" # cut inside a block: reloaded with what is whole
see s1 "record 4/4 "
keys s1 p
see s1 "record 3/4 "
keys s1 q
wait_for -t 5 dead s1 || { screen_of s1 >&2; fail "shrink: q did not quit"; }
[ "$(cat "$T/s1.rc")" = 0 ] || fail "the viewer exited with $(cat "$T/s1.rc")"
echo "it_view: all passed"
