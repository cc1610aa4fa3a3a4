# lib.sh - helpers for the integration scripts (bash): a temp dir, servers started in the
# background and always killed, bounded waits, and failing with a message.
#
#   . "$(dirname "$0")/lib.sh"
#   start B1 "$EPSCOPE" backend --listen 127.0.0.1:0     # sets B1_PORT, B1_PID, B1_ADDR
#   expect_status 0 "$EPSCOPE" load "http://$B1_ADDR/" -n 100 || fail "load failed"
#
# Variables: T (temp dir, removed on exit), EPSCOPE (default ./epscope), LAST_OUT and
# LAST_ERR (files with the last expect_status command's stdout and stderr).
# Everything binds 127.0.0.1 port 0; servers announce themselves with one stdout line
# "listening on HOST:PORT".

set -u

: "${EPSCOPE:=./epscope}"
export EPSCOPE
T=$(mktemp -d "${TMPDIR:-/tmp}/epscope-test.XXXXXX") || exit 1
LAST_OUT=$T/last.out
LAST_ERR=$T/last.err
_LIB_PIDS=""

# Stop every started process: TERM, then KILL whatever is still alive after 3 s.
_lib_cleanup() {
    local pid left i
    for pid in $_LIB_PIDS; do kill -TERM "$pid" 2>/dev/null; done
    for i in $(seq 1 60); do
        left=""
        for pid in $_LIB_PIDS; do kill -0 "$pid" 2>/dev/null && left="$left $pid"; done
        [ -z "$left" ] && break
        sleep 0.05
    done
    for pid in $_LIB_PIDS; do kill -KILL "$pid" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap _lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fail MSG...: print "FAIL: MSG" on stderr and exit 1 (the EXIT trap cleans up).
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# step MSG...: say what the script does next (shows in the test log).
step() {
    echo "== $*"
}

# wait_for [-t SECONDS] CMD...: poll CMD every 50 ms until it succeeds; returns 1 after
# SECONDS (default 5) without success.
wait_for() {
    local limit=5
    if [ "${1:-}" = "-t" ]; then limit=$2; shift 2; fi
    local end=$(( $(date +%s%N) + limit * 1000000000 ))
    until "$@"; do
        [ "$(date +%s%N)" -lt "$end" ] || return 1
        sleep 0.05
    done
}

# start NAME CMD...: run CMD in the background (stdout $T/NAME.out, stderr $T/NAME.err),
# wait up to 5 s for its first line "listening on HOST:PORT", then set NAME_PORT,
# NAME_PID and NAME_ADDR (HOST:PORT). Fails the test when CMD exits or stays silent.
start() {
    local name=$1 pid line addr
    shift
    case $name in [A-Za-z_]*) ;; *) fail "start: '$name' is not an identifier" ;; esac
    # a name used again must not find the previous run's line before the new child writes
    rm -f "$T/$name.out" "$T/$name.err"
    : >"$T/$name.out"
    "$@" >"$T/$name.out" 2>"$T/$name.err" &
    pid=$!
    _LIB_PIDS="$_LIB_PIDS $pid"
    _lib_listening() {
        line=$(head -n 1 "$T/$name.out" 2>/dev/null)
        case $line in "listening on "*:*) return 0 ;; esac
        kill -0 "$pid" 2>/dev/null || return 0
        return 1
    }
    if ! wait_for -t 5 _lib_listening; then
        cat "$T/$name.err" >&2
        fail "$name: no 'listening on' line in 5 s"
    fi
    case $line in
    "listening on "*:*) ;;
    *) cat "$T/$name.err" >&2; fail "$name exited before listening: $*" ;;
    esac
    addr=${line#listening on }
    export "${name}_PID=$pid" "${name}_ADDR=$addr" "${name}_PORT=${addr##*:}"
}

# stop NAME: SIGTERM the process started as NAME and wait (bounded, 5 s) for it to exit;
# returns its exit status (fails the test when it does not exit).
stop() {
    local pid_var="${1}_PID" rc
    local pid=${!pid_var}
    kill -TERM "$pid" 2>/dev/null
    wait_for -t 5 eval "! kill -0 $pid 2>/dev/null" || fail "$1 (pid $pid) ignored SIGTERM for 5 s"
    wait "$pid"
    rc=$?
    _LIB_PIDS=$(echo "$_LIB_PIDS" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
    return $rc
}

# bounded SECONDS CMD...: run CMD with a time limit (exit status 124 when it ran out).
bounded() {
    local limit=$1
    shift
    timeout -k 2 "$limit" "$@"
}

# expect_status CODE CMD...: run CMD (at most $STEP_TIMEOUT s, default 30) with stdout in
# $LAST_OUT and stderr in $LAST_ERR; fail the test, showing both, unless it exits with CODE.
expect_status() {
    local want=$1 rc
    shift
    timeout -k 2 "${STEP_TIMEOUT:-30}" "$@" >"$LAST_OUT" 2>"$LAST_ERR"
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "--- stdout:" >&2; tail -n 20 "$LAST_OUT" >&2
        echo "--- stderr:" >&2; tail -n 20 "$LAST_ERR" >&2
        [ "$rc" -eq 124 ] && fail "timed out after ${STEP_TIMEOUT:-30}s: $*"
        fail "exit status $rc, expected $want: $*"
    fi
}

# out_has REGEX: the last expect_status command's stdout has a line matching REGEX (grep -E).
out_has() {
    grep -Eq -- "$1" "$LAST_OUT" || { cat "$LAST_OUT" >&2; fail "stdout lacks /$1/"; }
}

# err_has REGEX: the last expect_status command's stderr has a line matching REGEX (grep -E).
err_has() {
    grep -Eq -- "$1" "$LAST_ERR" || { cat "$LAST_ERR" >&2; fail "stderr lacks /$1/"; }
}

# err_one_line REGEX: the last expect_status command's stderr is exactly one line, matching
# REGEX (grep -E): a failure says what went wrong once, not a cascade.
err_one_line() {
    local n
    n=$(wc -l <"$LAST_ERR")
    [ "$n" -eq 1 ] || { cat "$LAST_ERR" >&2; fail "stderr has $n lines, want 1"; }
    err_has "$1"
}
