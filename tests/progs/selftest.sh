#!/usr/bin/env bash
# selftest.sh - proves, without epscope, that each student program of tests/progs/ behaves
# as its header says: every control passes its scenarios, every buggy program fails its
# own scenario with the expected symptom, every one of them exits 0 on SIGTERM and 2 on
# bad arguments, and all compile warning-free with gcc (and clang, when installed).
#
#   tests/progs/selftest.sh            (CC=clang to run the clang builds instead)
#
# Everything binds 127.0.0.1, port 0; every process started is killed by pid; every wait
# is bounded; the temp dir is removed on exit. Exit status 0 when all cases pass.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
DRIVE=(python3 "$HERE/drive.py")
CC=${CC:-gcc}
CFLAGS=(-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
        -Wmissing-prototypes -pthread)
PROGS=(echo_lt echo_et proxy_oneshot echo_threads echo_et_nodrain echo_lt_eofspin
       echo_lt_busyout proxy_mistrigger proxy_oneshot_norearm accept_et_once stale_close
       dup_double echo_lt_rdhup)

T=$(mktemp -d "${TMPDIR:-/tmp}/progs-selftest.XXXXXX") || exit 1
PIDS=""
FAILED=0
PASSED=0

# Stop whatever is still running (TERM, then KILL after 3 s) and remove the temp dir.
cleanup() {
    local pid i left
    for pid in $PIDS; do kill -TERM "$pid" 2>/dev/null; done
    for i in $(seq 1 60); do
        left=""
        for pid in $PIDS; do kill -0 "$pid" 2>/dev/null && left="$left $pid"; done
        [ -z "$left" ] && break
        sleep 0.05
    done
    for pid in $PIDS; do kill -KILL "$pid" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME CMD...: run CMD in the background, wait (5 s at most) for its first line
# "listening on HOST:PORT", set NAME_PID and NAME_ADDR. Returns 1 if it never says so.
start() {
    local name=$1 pid line i
    shift
    # empty the file first: the shell truncates it only once the child runs, and until
    # then the previous NAME's line (a port nobody listens on any more) would be read
    : >"$T/$name.out"
    "$@" >"$T/$name.out" 2>"$T/$name.err" &
    pid=$!
    PIDS="$PIDS $pid"
    printf -v "${name}_PID" %s "$pid"
    for i in $(seq 1 100); do
        line=$(head -n 1 "$T/$name.out" 2>/dev/null)
        case $line in "listening on 127.0.0.1:"*) break ;; esac
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    case $line in
    "listening on 127.0.0.1:"*) printf -v "${name}_ADDR" %s "${line#listening on }" ;;
    *) echo "    $name did not announce itself: $* ($(head -c 300 "$T/$name.err"))"; return 1 ;;
    esac
}

# stop NAME: SIGTERM, wait at most 5 s; returns the exit status (124 if it would not stop:
# it is then killed).
stop() {
    local pid_var="${1}_PID" i rc
    local pid=${!pid_var}
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rc=124
    else
        wait "$pid"
        rc=$?
    fi
    PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
    return $rc
}

pass() { PASSED=$((PASSED + 1)); echo "ok   $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }

# case_ PROG WANT_RC REGEX [--backend "BACKEND OPTS"] SCENARIO [ARGS...]: start PROG (in
# front of a fresh `drive.py backend BACKEND OPTS` when --backend is given), run
# `drive.py SCENARIO ADDR ARGS` (@PID in ARGS becomes the server's pid), and require exit
# status WANT_RC with a last line matching REGEX; then SIGTERM must stop PROG, status 0.
case_() {
    local prog=$1 want=$2 regex=$3 backend=0 bopts="" sc rc line src args=() x server
    shift 3
    if [ "$1" = "--backend" ]; then
        backend=1
        bopts=$2
        shift 2
    fi
    sc=$1
    shift
    local label="$prog $sc $*"
    [ "$backend" -eq 1 ] && label="$label (backend ${bopts:-with defaults})"
    server=("$T/bin/$prog" --listen 127.0.0.1:0)
    if [ "$backend" -eq 1 ]; then
        # shellcheck disable=SC2086 # bopts holds several words on purpose
        start B "${DRIVE[@]}" backend $bopts || { bad "$label: no backend"; return; }
        server+=(--backend "$B_ADDR")
    fi
    if ! start S "${server[@]}"; then
        bad "$label: did not start"
        [ "$backend" -eq 1 ] && stop B
        return
    fi
    for x in "$@"; do args+=("${x//@PID/$S_PID}"); done
    timeout -k 2 60 "${DRIVE[@]}" "$sc" "$S_ADDR" "${args[@]}" >"$T/drive.out" 2>&1
    rc=$?
    line=$(tail -n 1 "$T/drive.out")
    stop S
    src=$?
    [ "$backend" -eq 1 ] && stop B
    if [ "$rc" -ne "$want" ]; then
        bad "$label: drive.py exit $rc, expected $want: $line"
    elif ! grep -Eq -- "$regex" <<<"$line"; then
        bad "$label: expected /$regex/, got: $line"
    elif [ "$src" -ne 0 ]; then
        bad "$label: exit status $src after SIGTERM, expected 0 ($(head -c 300 "$T/S.err"))"
    else
        pass "$label -> $line"
    fi
}

# evidence KIND FILE: look in strace output FILE for the system-call pattern of bug KIND;
# print what was found (exit 0) or what is missing (exit 1).
evidence() {
    python3 - "$1" "$2" <<'PYEOF'
import re, sys
kind, path = sys.argv[1], sys.argv[2]
lines = [l.rstrip("\n") for l in open(path) if not l.startswith(("---", "+++"))]
def call(l):
    m = re.match(r"(\w+)\((\d+)?", l)
    return (m.group(1), int(m.group(2)) if m.group(2) else None) if m else (None, None)
def ret(l):
    m = re.search(r"\)\s+= (-?\d+)( \w+)?", l)
    return (int(m.group(1)), (m.group(2) or "").strip()) if m else (None, "")
found, what = 0, ""
if kind == "mis-trigger":
    what = "read() = 0 on one socket, then write(other, \"\", 0) with no epoll_wait between"
    for a, b in zip(lines, lines[1:]):
        ca, fa = call(a); cb, fb = call(b)
        if ca == "read" and ret(a)[0] == 0 and cb == "write" and fb != fa \
                and re.search(r', "", 0\)', b):
            found += 1
elif kind == "stale-event":
    what = "read() of an fd closed earlier in the same batch (EBADF, and after fd reuse)"
    ebadf = reuse = 0
    closed, reopened = None, set()  # None: before the first epoll_wait
    for l in lines:
        c, fd = call(l)
        if c == "epoll_wait":
            closed, reopened = set(), set()
        elif closed is None:
            continue
        elif c == "close" and ret(l)[0] == 0:
            closed.add(fd)
        elif c in ("accept", "accept4") and ret(l)[0] in closed:
            reopened.add(ret(l)[0])
        elif c == "read" and fd in closed:
            r, err = ret(l)
            ebadf += err == "EBADF"
            reuse += fd in reopened and r is not None and r > 0
    found = min(ebadf, reuse)
    what += ": %d EBADF, %d reads of a reused fd" % (ebadf, reuse)
elif kind == "spurious-wakeup":
    what = "dup() of a client, both reported by one epoll_wait, the second read EAGAIN"
    dups = {int(m.group(1)) for l in lines for m in [re.match(r"dup\((\d+)\)", l)] if m}
    for i, l in enumerate(lines):
        if call(l)[0] != "epoll_wait":
            continue
        for fd in dups:
            if l.count("data={u32=%d, u64=%d}" % (fd, fd)) == 2:
                nxt = lines[i + 1:i + 4]
                if any(call(x) == ("read", fd) and ret(x)[1] == "EAGAIN" for x in nxt):
                    found += 1
elif kind == "eof-spin":
    what = "read() = 0 on the same fd (3 needed)"
    counts = {}
    for l in lines:
        c, fd = call(l)
        if c == "read" and ret(l)[0] == 0:
            counts[fd] = counts.get(fd, 0) + 1
    found = max(counts.values(), default=0) if max(counts.values(), default=0) >= 3 else 0
elif kind == "busy-epollout":
    what = "epoll_wait returning only EPOLLOUT, nothing done in between (longest run)"
    run = 0
    for a, b in zip(lines, lines[1:]):
        if call(a)[0] == "epoll_wait" and "EPOLLOUT" in a and "EPOLLIN" not in a \
                and call(b)[0] == "epoll_wait":
            run += 1
            found = max(found, run) if run >= 3 else found
        elif call(a)[0] == "epoll_wait":
            run = 0
elif kind == "edge-starvation":
    what = "a recv() that filled the 1024-byte buffer, its echo, then epoll_wait (no EAGAIN)"
    for a, b, c in zip(lines, lines[1:], lines[2:]):
        if call(a)[0] == "recvfrom" and re.search(r", 1024, 0, NULL, NULL\)\s+= 1024$", a) \
                and call(b)[0] == "sendto" and call(c)[0] == "epoll_wait":
            found += 1
print(("found %d: " % found if found else "MISSING: ") + what)
sys.exit(0 if found else 1)
PYEOF
}

# traced PROG KIND [--backend "OPTS"] SCENARIO [ARGS...]: run PROG under strace through the
# scenario (@PID in ARGS: the program's pid, not strace's) and look in the system calls for
# KIND's pattern.
traced() {
    local prog=$1 kind=$2 backend=0 bopts="" sc child i args=() server
    shift 2
    if [ "$1" = "--backend" ]; then
        backend=1
        bopts=$2
        shift 2
    fi
    sc=$1
    shift
    server=(strace -o "$T/$prog.strace" "$T/bin/$prog" --listen 127.0.0.1:0)
    if [ "$backend" -eq 1 ]; then
        # shellcheck disable=SC2086 # bopts holds several words on purpose
        start B "${DRIVE[@]}" backend $bopts || { bad "$prog (strace): no backend"; return; }
        server+=(--backend "$B_ADDR")
    fi
    if ! start S "${server[@]}"; then
        bad "$prog (strace): did not start"
        [ "$backend" -eq 1 ] && stop B
        return
    fi
    child=$(cat "/proc/$S_PID/task/$S_PID/children" 2>/dev/null) # the program itself
    for i in "$@"; do args+=("${i//@PID/${child// /}}"); done
    timeout -k 2 60 "${DRIVE[@]}" "$sc" "$S_ADDR" "${args[@]}" >"$T/drive.out" 2>&1
    for i in $child; do kill -TERM "$i"; done # strace ends with it
    stop S
    [ "$backend" -eq 1 ] && stop B
    if line=$(evidence "$kind" "$T/$prog.strace"); then
        pass "$prog under strace: $kind: $line"
    else
        bad "$prog under strace: $kind: $line (drive.py: $(tail -n 1 "$T/drive.out"))"
    fi
}

echo "== build ($CC)"
mkdir -p "$T/bin" "$T/other"
for p in "${PROGS[@]}"; do
    if "$CC" "${CFLAGS[@]}" -o "$T/bin/$p" "$HERE/$p.c" 2>"$T/cc.err"; then
        pass "$CC $p.c"
    else
        bad "$CC $p.c: $(head -c 600 "$T/cc.err")"
    fi
done
other=clang
[ "$CC" = clang ] && other=gcc
if command -v "$other" >/dev/null; then
    for p in "${PROGS[@]}"; do
        "$other" "${CFLAGS[@]}" -o "$T/other/$p" "$HERE/$p.c" 2>"$T/cc.err" ||
            bad "$other $p.c: $(head -c 600 "$T/cc.err")"
    done
    pass "$other: all ${#PROGS[@]} compile warning-free"
else
    echo "skip $other is not installed"
fi
# stale_close.c has no control file; its fix is one line, made here
python3 - "$HERE/stale_close.c" "$T/stale_fixed.c" <<'EOF'
import re, sys
src = open(sys.argv[1]).read()
fixed, n = re.subn(r"(/\* BUG: missing here.*?\*/)",
                   r"\1\n            if (closed_in[fd] == batch)\n                continue;",
                   src, flags=re.S)
assert n == 1, "stale_close.c: the BUG comment in main() has changed"
open(sys.argv[2], "w").write(fixed)
EOF
"$CC" "${CFLAGS[@]}" -o "$T/bin/stale_fixed" "$T/stale_fixed.c" ||
    bad "$CC stale_fixed.c (stale_close.c with its fix)"

echo "== bad arguments: exit status 2"
for p in "${PROGS[@]}"; do
    timeout 5 "$T/bin/$p" --listen nowhere >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 2 ] && pass "$p --listen nowhere -> 2" || bad "$p --listen nowhere -> $rc"
done

echo "== controls: every scenario passes"
for p in echo_lt echo_et echo_threads; do
    case_ "$p" 0 '^ok: ' echo
    case_ "$p" 0 '^ok: 8192 bytes echoed' nodrain
    case_ "$p" 0 '^ok: ' eofspin --pid @PID
    case_ "$p" 0 '^ok: ' busyout --pid @PID
    case_ "$p" 0 '^ok: all 50 connections served' accept --pid @PID
    case_ "$p" 0 '^ok: 20 rounds echoed' rounds --pid @PID
    case_ "$p" 0 '^ok: a line sent with the end-of-file was echoed' rdhup --pid @PID
done
case_ proxy_oneshot 0 '^ok: 24-byte response and end-of-file' --backend "" proxy
case_ proxy_oneshot 0 '^ok: 24-byte response and end-of-file' --backend "" proxy --half-close
case_ proxy_oneshot 0 '^ok: 24-byte response and end-of-file' --backend "--linger-ms 0" proxy
case_ proxy_oneshot 0 '^ok: 3000019-byte response' --backend "--body-size 3000000" \
    proxy --body-size 3000000 --timeout 5
case_ proxy_oneshot 0 '^ok: 8388608 bytes there and back' --backend "--echo" pipe
case_ stale_fixed 0 '^ok: ' stale

echo "== buggy programs: their scenario fails, with the expected symptom"
# (1024 bytes, or 2048 when the data's arrival races with the first event's harvest)
case_ echo_et_nodrain 1 '^fail: echo stalled: [0-9]+ of 8192 bytes' nodrain
case_ echo_lt_eofspin 1 '^fail: server spun: ' eofspin --pid @PID
case_ echo_lt_busyout 1 '^fail: server spun: ' busyout --pid @PID
case_ proxy_mistrigger 1 '^fail: the response arrived but no end-of-file' --backend "" proxy
case_ proxy_oneshot_norearm 1 '^fail: the response arrived but no end-of-file' \
    --backend "" proxy
case_ accept_et_once 1 '^fail: 49 of 50 connections were never served' accept --pid @PID
case_ stale_close 1 "^fail: a new client's first message was lost" stale
case_ dup_double 1 '^fail: [0-9]+ read\(\) calls for 20 requests' rounds --pid @PID
case_ echo_lt_rdhup 1 '^fail: the line sent with the end-of-file was lost' rdhup --pid @PID

echo "== buggy programs: ordinary use does not show the bug (it is the only mistake)"
case_ echo_et_nodrain 0 '^ok: ' rounds
case_ echo_lt_busyout 0 '^ok: ' echo
case_ accept_et_once 0 '^ok: ' rounds
case_ dup_double 0 '^ok: ' echo
case_ stale_close 0 '^ok: ' stale --no-reuse
case_ echo_lt_rdhup 0 '^ok: ' rounds

if command -v strace >/dev/null; then
    echo "== buggy programs under strace: the system calls show the mistake"
    traced proxy_mistrigger mis-trigger --backend "" proxy
    traced stale_close stale-event stale
    traced dup_double spurious-wakeup rounds --rounds 5
    traced echo_lt_eofspin eof-spin eofspin --pid @PID --hold 0.3
    traced echo_lt_busyout busy-epollout busyout --pid @PID --hold 0.3
    traced echo_et_nodrain edge-starvation nodrain
else
    echo "skip strace is not installed: no system-call evidence"
fi

echo "== $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
