#!/usr/bin/env bash
# it_output.sh - a command whose output cannot be written (a full disk: /dev/full) never
# exits 0: it says so on stderr and exits 2, whichever command it is; a reader that left
# (dump | head) is not an error worth a message.
. "$(dirname "$0")/lib.sh"
TRACES=$(cd "$(dirname "$0")/../traces" && pwd)
OK=$TRACES/origin-healthy.ept
MIS=$TRACES/origin-mistrigger.ept

# full CMD...: run CMD with stdout on /dev/full; it must exit 2 with one line saying why.
full() {
    timeout -k 2 30 "$@" >/dev/full 2>"$LAST_ERR"
    local rc=$?
    [ "$rc" -eq 2 ] || { cat "$LAST_ERR" >&2; fail "exit $rc, expected 2, stdout full: $*"; }
    grep -q "could not be written" "$LAST_ERR" ||
        { cat "$LAST_ERR" >&2; fail "no message for a full stdout: $*"; }
}

step "every reader and report to a full disk"
full "$EPSCOPE" check "$OK"
full "$EPSCOPE" check --json "$OK"
full "$EPSCOPE" dump "$OK"
full "$EPSCOPE" dump --json "$OK"
full "$EPSCOPE" dump --story "$OK"
full "$EPSCOPE" dump --chrome "$OK"
full "$EPSCOPE" compare "$OK" "$MIS"
full "$EPSCOPE" compare --json "$OK" "$MIS"
full "$EPSCOPE" view --snapshot 5 "$OK"

step "help and version texts"
full "$EPSCOPE" --help
full "$EPSCOPE" --version
full "$EPSCOPE" help check
full "$EPSCOPE" check --help
full "$EPSCOPE" load --help

step "an unknown command, run or asked about: a message and exit 2, nothing on stdout"
for args in "bogus" "help bogus" "--help bogus"; do
    # shellcheck disable=SC2086 # the words of args are the arguments
    expect_status 2 "$EPSCOPE" $args
    err_has "^epscope: unknown command 'bogus'$"
    [ -s "$LAST_OUT" ] && { cat "$LAST_OUT" >&2; fail "epscope $args wrote to stdout"; }
done
expect_status 0 "$EPSCOPE" help help
out_has '^usage: epscope COMMAND'

step "load's report"
start B "$EPSCOPE" backend --listen 127.0.0.1:0
full "$EPSCOPE" load "http://$B_ADDR/" -n 10

step "a reader that leaves early: no message"
"$EPSCOPE" dump "$TRACES/fault-sticky-epollout.ept" 2>"$LAST_ERR" | head -n 1 >/dev/null
[ -s "$LAST_ERR" ] && { cat "$LAST_ERR" >&2; fail "dump | head printed a message"; }

echo "ok"
