#!/usr/bin/env bash
# it_record.sh - `epscope record -- CMD` as a user runs it: bad usage, CMD's exit status,
# signals and output kept; the trace files (names, 0600, --force, one per process of the
# tree); the program sees no difference (errno, fds, a program that closes every fd); a
# program killed outright still leaves a readable trace; small rings report what they
# lose; the counts of epoll_wait, epoll_ctl and accepts equal strace's for the same run;
# and real servers nobody here wrote (nginx with a forked worker, python's asyncio, and
# redis, HAProxy, memcached, lighttpd and node where installed) are recorded with no
# diagnosis.
. "$(dirname "$0")/lib.sh"
cd "$T" || fail "cd $T"
# A sanitized epscope recorded by record has the recorder preloaded ahead of ASan's runtime,
# which ASan refuses by default: the order does not matter to either here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
PY=$(command -v python3) || { echo "python3 is needed"; exit 77; }

# records_of TRACE ERRFILE: the records and lost counts record printed for TRACE
records_of() { sed -n "s|^epscope record: $1: .*: \([0-9]*\) records, \([0-9]*\) lost$|\1 \2|p" "$2"; }

step "usage errors: exit 2 and one clear line"
expect_status 2 "$EPSCOPE" record
grep -q 'which program' "$LAST_ERR" || fail "no word on the missing CMD"
expect_status 2 "$EPSCOPE" record --ring 3000 -- true
grep -q 'power of two' "$LAST_ERR" || fail "--ring 3000 not explained"
expect_status 2 "$EPSCOPE" record --preview 2000 -- true
expect_status 2 "$EPSCOPE" record --bogus -- true
grep -q "unknown option '--bogus'" "$LAST_ERR" || fail "unknown option not named"
expect_status 2 "$EPSCOPE" record -o
expect_status 0 "$EPSCOPE" record --help
out_has '^usage: epscope record'
for w in --output --force --ring --no-data --preview --quiet; do
    out_has -- "$w" || fail "--help lacks $w"
done

step "CMD not found: 127; not executable: 126"
expect_status 127 "$EPSCOPE" record -- no-such-command-epscope
grep -q 'command not found' "$LAST_ERR" || fail "no 'command not found'"
printf '#!/bin/sh\n' >noexec.sh
expect_status 126 "$EPSCOPE" record -- ./noexec.sh

step "CMD's exit status, output and signals are its own"
expect_status 3 "$EPSCOPE" record -q -- sh -c 'echo out; echo err >&2; exit 3'
[ "$(cat "$LAST_OUT")" = out ] || fail "CMD's stdout changed"
grep -qx err "$LAST_ERR" || fail "CMD's stderr changed"
expect_status 143 "$EPSCOPE" record -q -- sh -c 'kill -TERM $$'
"$EPSCOPE" record -q -- sh -c 'trap "echo got-term >'"$T"'/term; exit 7" TERM; \
    echo ready >'"$T"'/ready; while :; do sleep 0.05; done' & rp=$!
wait_for test -f "$T/ready" || fail "CMD did not start"
kill -TERM "$rp"
wait "$rp"; rc=$?
[ $rc -eq 7 ] || fail "record exited $rc after SIGTERM, CMD's trap exits 7"
[ "$(cat "$T/term")" = got-term ] || fail "SIGTERM sent to record did not reach CMD"

step "a program with no epoll or socket call: no trace, and it says why"
expect_status 0 "$EPSCOPE" record -- true
grep -q 'no trace written' "$LAST_ERR" || fail "no word when nothing was recorded"
ls ./*.ept >/dev/null 2>&1 && fail "a trace was left: $(ls ./*.ept)"
if printf 'int main(void){return 0;}\n' >st.c && cc -static -o st st.c 2>/dev/null; then
    expect_status 0 "$EPSCOPE" record -- ./st
    grep -q 'statically linked' "$LAST_ERR" || fail "a static binary is not called so"
fi

step "trace files: default name, 0600, -o, --force, never through a symlink"
cat >sock.py <<'EOF'
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
c = socket.create_connection(s.getsockname()); a, _ = s.accept()
c.sendall(b"ping"); print(a.recv(10).decode())
EOF
expect_status 0 "$EPSCOPE" record -- "$PY" sock.py
[ "$(cat "$LAST_OUT")" = ping ] || fail "the program's output changed"
f=$(ls python3*.ept 2>/dev/null | head -1)
case $f in python3.[0-9]*.ept) ;; *) fail "default trace name: '$f', want python3.PID.ept" ;; esac
[ "$(stat -c %a "$f")" = 600 ] || fail "$f is not mode 0600"
grep -q "^epscope record: $T/$f: python3, pid [0-9]*: [0-9]* records, 0 lost\$" "$LAST_ERR" ||
    fail "no summary line for $f"
grep -q "epscope check $T/$f" "$LAST_ERR" || fail "no hint how to look at it"
read -r n _ < <(records_of "$T/$f" "$LAST_ERR")
"$EPSCOPE" dump "$f" | tail -1 | grep -q "^ *$n .*end of trace ($n records, 0 lost)\$" ||
    fail "record said $n records, dump's end of trace says otherwise"
"$EPSCOPE" dump --chrome "$f" | grep -q '"process_name".*"name":"python3, pid [0-9]*, recorded"' ||
    fail "dump --chrome does not name the recorded program"
expect_status 0 "$EPSCOPE" record -o out.ept -- "$PY" sock.py
expect_status 1 "$EPSCOPE" record -o out.ept -- "$PY" sock.py
grep -q 'exists (use --force' "$LAST_ERR" || fail "an existing file is not refused"
expect_status 0 "$EPSCOPE" record -o out.ept --force -- "$PY" sock.py
ln -s out.ept link.ept
expect_status 1 "$EPSCOPE" record -o link.ept --force -- "$PY" sock.py
grep -q 'not a regular file' "$LAST_ERR" || fail "a symlink is not refused"
mkdir adir
expect_status 1 "$EPSCOPE" record -o adir -- "$PY" sock.py
grep -q 'not a regular file' "$LAST_ERR" || fail "a directory as -o is met with: $(cat "$LAST_ERR")"
expect_status 0 "$EPSCOPE" dump out.ept
out_has 'socket\(AF_INET, SOCK_STREAM'
out_has 'accept4?\([0-9]+\) = [0-9]+'
out_has 'sendall|send(to)?\([0-9]+, 4\) = 4 "ping"'
expect_status 0 "$EPSCOPE" record -q -o nodata.ept --no-data -- "$PY" sock.py
expect_status 0 "$EPSCOPE" dump nodata.ept
grep -q '"ping"' "$LAST_OUT" && fail "--no-data kept payload bytes"

step "one trace per process of the tree: a forked child writes FILE.PID.ept"
cat >fork.py <<'EOF'
import os, socket
s = socket.socket(); s.close()
pid = os.fork()
if pid == 0:
    t = socket.socket(); t.close(); os._exit(0)
os.waitpid(pid, 0)
print(pid)
EOF
expect_status 0 "$EPSCOPE" record -o tree.ept -- "$PY" fork.py
child=$(cat "$LAST_OUT")
[ -f tree.ept ] || fail "no tree.ept"
[ -f "tree.$child.ept" ] || fail "no tree.$child.ept for the forked child ($(ls))"
expect_status 0 "$EPSCOPE" dump tree.ept
out_has "fork\(\) = $child"
expect_status 0 "$EPSCOPE" dump "tree.$child.ept"
out_has 'socket\(AF_INET'
grep -q 'fork()' "$LAST_OUT" && fail "the child's trace holds the parent's fork"

step "CMD that cannot be run: one line, no word on static binaries"
printf '#!/nonexistent/interp\n' >badinterp.sh
chmod +x badinterp.sh
expect_status 127 "$EPSCOPE" record -- ./badinterp.sh
err_one_line 'cannot run ./badinterp.sh: No such file or directory'
head -c 200 /dev/urandom >garbage.bin
chmod +x garbage.bin
expect_status 126 "$EPSCOPE" record -- ./garbage.bin
err_one_line 'cannot run ./garbage.bin: Exec format error'

step "a trace that cannot be made or written is never lost in silence"
expect_status 1 "$EPSCOPE" record -o /proc/epscope-x.ept -- "$PY" sock.py
err_one_line '^epscope record: cannot make a trace in /proc: '
[ -s "$LAST_OUT" ] && fail "CMD ran although its trace could not be made"
long=$(printf 'n%.0s' $(seq 250)).ept
expect_status 2 "$EPSCOPE" record -o "$long" -- "$PY" sock.py
err_has 'the file name is too long: a forked process'
# a forked process whose trace cannot be opened (its folder went away): said, exit 1
mkdir gone
expect_status 1 "$EPSCOPE" record -o gone/g.ept -- sh -c 'rm -r gone; '"$PY"' sock.py'
[ "$(cat "$LAST_OUT")" = ping ] || fail "the program did not run"
err_has "^epscope record: pid [0-9]+ could not open its trace $T/gone/g\.[0-9]+\.ept: No such file or directory; nothing of that process is recorded\$"
grep -q 'no trace written' "$LAST_ERR" && fail "a trace that could not be opened was called none made"
# more failing processes at once than a datagram queue holds (net.unix.max_dgram_qlen, 10
# by default): record reads as they come, so each is named
mkdir gone
expect_status 1 "$EPSCOPE" record -o gone/g.ept -- sh -c 'rm -r gone; for i in $(seq 24); do '"$PY"' sock.py & done; wait'
n=$(grep -c 'could not open its trace' "$LAST_ERR")
[ "$n" -eq 24 ] || fail "$n of 24 processes whose trace could not be opened were named"
# a report without this run's token (anyone may send to an abstract socket) is not believed
cat >forge.py <<'EOF'
import os, socket, struct
name = os.environ["EPSCOPE_RECORD_REPORT"].rsplit(":", 1)[0]
r = struct.pack("<IIiiQ1024s32s", 0x45505352, 1, os.getpid(), 2, 0, b"FORGED\x1b[31m", b"0" * 32)
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(r, "\0" + name)
print("sent")
EOF
expect_status 0 "$EPSCOPE" record -o forged.ept -- "$PY" forge.py
[ "$(cat "$LAST_OUT")" = sent ] || fail "the forging program did not run"
grep -q FORGED "$LAST_ERR" && fail "a report without the token was believed"
# the file size limit (as a full disk) stops the writes: the loss is told, exit 1
cat >many.py <<'EOF'
import socket
a, b = socket.socketpair()
for i in range(20000):
    a.send(b"x"); b.recv(1)
print("bye")
EOF
expect_status 1 bash -c 'ulimit -f 64; exec "$0" record -o big.ept -- "$1" many.py' "$EPSCOPE" "$PY"
[ "$(cat "$LAST_OUT")" = bye ] || fail "the program did not run to its end"
err_has '^epscope record: pid [0-9]+ could not write its trace '"$T"'/big\.ept: File too large; the records after that are lost: [0-9]+ lost$'
lost=$(sed -n 's/.*could not write its trace .*: \([0-9]*\) lost$/\1/p' "$LAST_ERR")
[ "${lost:-0}" -ge 30000 ] || fail "the records lost to the failed write: '$lost', want >= 30000"
# the file is cut back to its last whole block: it reads clean, with no end record (a trace
# with no whole block holds no record and is removed)
if [ -f big.ept ]; then
    err_has '^epscope record: '"$T"'/big\.ept: python3, pid [0-9]+: [0-9]+ records, [0-9]+ lost; cut short where a write failed'
    expect_status 0 "$EPSCOPE" check big.ept
    grep -q 'inside a block' "$LAST_ERR" && fail "big.ept ends inside a block"
fi
# a process that execs after its trace failed writes a second, whole one: only the first
# is called cut short (failures are matched by path, not by pid)
cat >execs.py <<'EOF'
import os, socket, sys
a, b = socket.socketpair()
for i in range(20000):
    a.send(b"x"); b.recv(1)
os.execv(sys.executable, [sys.executable, "sock.py"])
EOF
expect_status 1 bash -c 'ulimit -f 64; exec "$0" record -o ex.ept -- "$1" execs.py' "$EPSCOPE" "$PY"
[ "$(cat "$LAST_OUT")" = ping ] || fail "the exec'ed program did not run"
[ "$(grep -c 'could not write its trace' "$LAST_ERR")" -eq 1 ] || fail "not one failure named"
err_has '^epscope record: '"$T"'/ex-2\.ept: python3, pid [0-9]+: [0-9]+ records, 0 lost$'
# the same program within the limit: exit 0, nothing said of failures
expect_status 0 bash -c 'ulimit -f 100000; exec "$0" record -o within.ept -- "$1" many.py' "$EPSCOPE" "$PY"
grep -q 'could not' "$LAST_ERR" && fail "a failure reported where none was"

step "CMD that leaves a daemon behind: record says it still runs, its trace goes on"
cat >slow.py <<'EOF'
import socket, time
a, b = socket.socketpair()
for i in range(20):
    a.send(b"x"); b.recv(1); time.sleep(0.05)
EOF
expect_status 0 "$EPSCOPE" record -o d.ept -- sh -c "$PY slow.py & echo \$!; exit 0"
daemon=$(cat "$LAST_OUT")
err_has "^epscope record: sh exited, but a process it started still runs \(pid $daemon\); "
grep -q 'no trace written' "$LAST_ERR" && fail "a daemon still writing was called no trace"
ended() { "$EPSCOPE" dump "d.$daemon.ept" 2>/dev/null | tail -1 | grep -q 'end of trace'; }
wait_for -t 10 ended || fail "the daemon's trace d.$daemon.ept did not end"
expect_status 0 "$EPSCOPE" check "d.$daemon.ept"
out_has "in [0-9]+ records \(recorded from python3, pid $daemon"

step "the program sees no difference: errno, its fds, closing every fd"
cat >fds.py <<'EOF'
import errno, fcntl, os, socket
s = socket.socket(); s.setblocking(False)
a, b = socket.socketpair(); a.setblocking(False)
try:
    a.recv(10)
    print("no error")
except BlockingIOError as e:
    print("errno", errno.errorcode[e.errno])
fds = sorted(int(x) for x in os.listdir("/proc/self/fd"))
mine = {0, 1, 2, s.fileno(), a.fileno(), b.fileno()}
for fd in fds:
    if fd in mine or not os.path.exists("/proc/self/fd/%d" % fd):
        continue
    link = os.readlink("/proc/self/fd/%d" % fd)
    cloexec = fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    print("extra", fd, link.endswith(".ept"), bool(cloexec))
os.closerange(3, 1 << 16)          # a daemon closing every fd it did not open
t = socket.socket(); t.close()     # still recorded after that
print("done")
EOF
expect_status 0 "$PY" fds.py           # without record: what this environment passes on
grep '^extra ' "$LAST_OUT" >"$T/fds.base"
expect_status 0 "$EPSCOPE" record -o fds.ept -- "$PY" fds.py
grep -q '^errno EAGAIN$' "$LAST_OUT" || fail "errno changed: $(cat "$LAST_OUT")"
grep '^extra ' "$LAST_OUT" | grep -vxF -f "$T/fds.base" >"$T/fds.new"
[ "$(wc -l <"$T/fds.new")" -eq 1 ] || fail "record left fds the program sees: $(cat "$T/fds.new")"
read -r _ fd ept cloexec <"$T/fds.new"
[ "$ept $cloexec" = "True True" ] || fail "fd $fd: the trace's? $ept, close-on-exec? $cloexec"
[ "$fd" -ge 100 ] || fail "the trace's fd $fd is in the program's way"
grep -q '^done$' "$LAST_OUT" || fail "the program did not finish"
expect_status 0 "$EPSCOPE" dump fds.ept
[ "$(grep -c 'socket(AF_INET' "$LAST_OUT")" -eq 2 ] || fail "the socket made after closerange is missing"
out_has 'end of trace'

step "a program killed outright leaves a trace readable to its last block"
start B "$EPSCOPE" record -o killed.ept -- "$EPSCOPE" backend --listen 127.0.0.1:0
expect_status 0 "$EPSCOPE" load "http://$B_ADDR/" -n 200 -c 4 --keepalive -q
sleep 0.1 # the flusher writes every few ms; what it has not written is lost to SIGKILL
pkill -KILL -P "$B_PID" || fail "no backend under record"
wait "$B_PID"; rc=$?
[ $rc -eq 137 ] || fail "record exited $rc, CMD was killed by SIGKILL (137)"
expect_status 0 "$EPSCOPE" dump killed.ept
grep -q 'no end record' "$LAST_ERR" || fail "dump does not say the trace has no end"
n=$(grep -c 'accept4' "$LAST_OUT")
[ "$n" -ge 4 ] || fail "only $n accepts in the killed program's trace"
expect_status 0 "$EPSCOPE" check killed.ept
grep -q "killed.ept: .*: [0-9]* records, 0 lost; no end record: it was killed by SIGKILL," \
    "$T/B.err" || fail "record's summary does not say the killed trace has no end: $(cat "$T/B.err")"

step "an idle program's flusher sleeps; the first record after wakes it, and none is lost"
cat >"$T/idle.py" <<'EOF'
import socket, sys, time
a, b = socket.socketpair()
a.send(b"x"); b.recv(1)
print("idle", flush=True)
sys.stdin.readline()  # the test's go: after it counted the flusher's wake-ups
for i in range(60000):  # 120000 records: seven times what the 1 MiB ring holds
    a.send(b"y"); b.recv(1)
EOF
mkfifo "$T/go"
"$EPSCOPE" record -o idle.ept -- "$PY" "$T/idle.py" <"$T/go" >"$T/idle.out" 2>"$T/idle.err" &
rp=$!
_LIB_PIDS="$_LIB_PIDS $rp"
exec 5>"$T/go"
wait_for grep -q '^idle$' "$T/idle.out" || fail "the idle program never started"
# flushwakes PID: the voluntary context switches (sleeps ended) of PID's flusher thread
flushwakes() {
    local t
    for t in /proc/"$1"/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = epscope-flush ] &&
            sed -n 's/^voluntary_ctxt_switches:\t*//p' "$t/status"
    done
}
sleep 0.5 # the flusher naps ever longer for ~0.2 s, then sleeps until a record comes
ip=$(pgrep -P "$rp" -f idle.py)
w0=$(flushwakes "$ip")
[ -n "$w0" ] || fail "no thread named epscope-flush in the recorded program"
sleep 1 # the window the wake-ups are counted in
w1=$(flushwakes "$ip")
echo "flusher wake-ups in 1 s of an idle program: $((w1 - w0))"
[ $((w1 - w0)) -le 3 ] || fail "the flusher woke $((w1 - w0)) times in 1 s of an idle program"
echo go >&5
exec 5>&-
wait "$rp" || fail "record exited $? for the idle program"
read -r recs lost < <(records_of "$T/idle.ept" "$T/idle.err")
echo "idle, then a burst: $recs records, $lost lost"
[ "${lost:-1}" -eq 0 ] && [ "${recs:-0}" -ge 120000 ] ||
    fail "records lost after the flusher slept: $(cat "$T/idle.err")"

step "a ring too small loses records, says how many, and nothing else is diagnosed"
start B "$EPSCOPE" record -o small.ept --ring 4k -- "$EPSCOPE" backend --listen 127.0.0.1:0
expect_status 0 "$EPSCOPE" load "http://$B_ADDR/" -n 3000 -c 30 --keepalive -q
stop B
read -r recs lost < <(records_of "$T/small.ept" "$T/B.err")
echo "ring 4k: $recs records, $lost lost"
[ "${lost:-0}" -gt 0 ] || fail "a 4k ring under load lost nothing (or no summary)"
"$EPSCOPE" check small.ept >"$T/small.check"
grep -q '^warning lost-records' "$T/small.check" || fail "no lost-records warning"
sum=$("$EPSCOPE" check --json small.ept | python3 -c '
import json, sys
print(sum(f["count"] for f in json.load(sys.stdin)["findings"] if f["id"] == "lost-records"))')
[ "$sum" = "$lost" ] || fail "check counts $sum records lost, record said $lost"
grep -q '^error ' "$T/small.check" && { cat "$T/small.check"; fail "errors after lost records"; }
# each lost record names the numbers its records would have had: a run of count numbers
# right before its own (docs/trace-format.md), as the proxy's do; never "seq 0-0"
"$EPSCOPE" dump small.ept | python3 -c '
import re, sys
n = 0
for line in sys.stdin:
    m = re.match(r" *(\d+) .* lost (\d+) records \(seq (\d+)-(\d+),", line)
    if not m:
        continue
    seq, count, first, last = map(int, m.groups())
    n += 1
    if first < 1 or last - first + 1 != count or last + 1 != seq:
        sys.exit("bad range: " + line.strip())
sys.exit(0 if n else "no lost record with a range")' || fail "lost records without their seq range"
grep -Eq '^    [0-9]+ records? dropped \(seq [1-9][0-9]*-[0-9]+\)' "$T/small.check" ||
    fail "check gives no seq range for the lost records: $(grep -A1 '^warning lost' "$T/small.check")"

step "strace cross-check: epoll_wait, epoll_ctl and accepts counted alike"
if command -v strace >/dev/null 2>&1; then
    strace -f -qq -o "$T/strace.out" -e trace=epoll_wait,epoll_pwait,epoll_ctl,accept,accept4 \
        "$EPSCOPE" record -q -o xc.ept -- "$EPSCOPE" backend --listen 127.0.0.1:0 \
        >"$T/xc.out" 2>&1 & xp=$!
    wait_for grep -q 'listening on' "$T/xc.out" || fail "backend under strace did not start"
    addr=$(sed -n 's/listening on //p' "$T/xc.out")
    expect_status 0 "$EPSCOPE" load "http://$addr/" -n 300 -c 6 -q
    expect_status 0 "$EPSCOPE" load "http://$addr/" -n 100 -c 2 --keepalive -q
    pkill -TERM -f "backend --listen 127.0.0.1:0" -P "$(pgrep -P $xp | head -1)" 2>/dev/null
    kill -TERM $xp 2>/dev/null
    wait $xp
    pid=$(grep -a '^pid=' xc.ept | head -1 | cut -d= -f2)
    [ -n "$pid" ] || pid=$(grep -ao 'pid=[0-9]*' xc.ept | head -1 | cut -d= -f2)
    "$EPSCOPE" dump xc.ept >"$T/xc.dump"
    s_wait=$(grep -c "^$pid \+epoll_wait(" "$T/strace.out")
    s_ctl=$(grep -c "^$pid \+epoll_ctl(" "$T/strace.out")
    s_acc=$(grep -cE "^$pid +accept4?\(.*\) = [0-9]+$" "$T/strace.out")
    r_wait=$(grep -c '  epoll_wait(' "$T/xc.dump")
    r_ctl=$(grep -c '  epoll_ctl(' "$T/xc.dump")
    r_acc=$(grep -cE '  accept4?\([0-9]+\) = [0-9]+' "$T/xc.dump")
    echo "strace: $s_wait epoll_wait, $s_ctl epoll_ctl, $s_acc accepts; trace: $r_wait, $r_ctl, $r_acc"
    [ "$s_wait" -gt 0 ] && [ "$s_acc" -ge 302 ] || fail "strace saw too little (pid $pid)"
    [ "$s_wait" = "$r_wait" ] || fail "epoll_wait: strace $s_wait, trace $r_wait"
    [ "$s_ctl" = "$r_ctl" ] || fail "epoll_ctl: strace $s_ctl, trace $r_ctl"
    [ "$s_acc" = "$r_acc" ] || fail "accepts: strace $s_acc, trace $r_acc"
else
    echo "strace not installed: cross-check skipped"
fi

# checked NAME [MIN [WARNING]]: every trace record wrote for NAME (at least MIN) checks with
# no error and no warning, or with no warning but WARNING (a true cost the server pays)
checked() {
    local n=0 f
    for f in "$T/$1.ept" "$T/$1".[0-9]*.ept; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        "$EPSCOPE" check "$f" >"$T/c.out" 2>&1 || { cat "$T/c.out"; fail "$1: check $f found errors"; }
        if [ -n "${3:-}" ]; then
            grep -E '^(error|warning) ' "$T/c.out" | grep -v "^warning $3: " &&
                { cat "$T/c.out"; fail "$1: $f has findings besides $3"; }
        else
            grep -q ': 0 errors, 0 warnings in ' "$T/c.out" ||
                { cat "$T/c.out"; fail "$1: $f has findings"; }
        fi
        tail -1 "$T/c.out"
    done
    [ $n -ge "${2:-1}" ] || fail "$1: $n traces, want ${2:-1}"
}

step "python's asyncio (level-triggered, one epoll set) is recorded with no diagnosis"
cat >aio.py <<'EOF'
import asyncio
async def echo(r, w):
    while line := await r.readline():
        w.write(line); await w.drain()
    w.close()
async def main():
    s = await asyncio.start_server(echo, "127.0.0.1", 0)
    print("listening on 127.0.0.1:%d" % s.sockets[0].getsockname()[1], flush=True)
    await s.serve_forever()
asyncio.run(main())
EOF
cat >echo_client.py <<'EOF'
import socket, sys
host, port = sys.argv[1].split(":")
for i in range(int(sys.argv[2])):
    c = socket.create_connection((host, int(port)), timeout=5)
    for j in range(20):
        c.sendall(b"line %d %d\n" % (i, j)); got = b""
        while not got.endswith(b"\n"):
            got += c.recv(100)
    c.close()
EOF
start A "$EPSCOPE" record -o aio.ept -- "$PY" aio.py
bounded 30 "$PY" echo_client.py "$A_ADDR" 8 || fail "asyncio echo failed under record"
stop A
checked aio

if command -v nginx >/dev/null 2>&1; then
    step "nginx: a master and a forked worker that becomes nobody, each traced, no diagnosis"
    mkdir -p ng
    cat >ng/nginx.conf <<EOF
daemon off;
master_process on;
worker_processes 1;
error_log $T/ng/error.log;
pid $T/ng/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $T/ng/body; proxy_temp_path $T/ng/proxy;
    fastcgi_temp_path $T/ng/fcgi; uwsgi_temp_path $T/ng/uwsgi; scgi_temp_path $T/ng/scgi;
    server { listen 127.0.0.1:0; location / { return 200 "hello from nginx\n"; } }
}
EOF
    # nginx cannot announce a port it was given as 0: pick a free one first
    port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    sed -i "s/listen 127.0.0.1:0;/listen 127.0.0.1:$port;/" ng/nginx.conf
    "$EPSCOPE" record -o ng.ept -- nginx -c "$T/ng/nginx.conf" -p "$T/ng" >"$T/ng.out" 2>"$T/ng.err" &
    np=$!
    _LIB_PIDS="$_LIB_PIDS $np"
    wait_for curl -s -o /dev/null "http://127.0.0.1:$port/" || { cat "$T/ng.err"; fail "nginx did not start"; }
    expect_status 0 "$EPSCOPE" load "http://127.0.0.1:$port/" -n 500 -c 10 --keepalive -q
    expect_status 0 "$EPSCOPE" load "http://127.0.0.1:$port/" -n 200 -c 10 -q
    kill -QUIT "$np"
    wait_for -t 10 eval "! kill -0 $np 2>/dev/null" || fail "nginx did not stop"
    wait "$np"
    cat "$T/ng.err"
    checked ng 2
    worker=$(ls ng.[0-9]*.ept | head -1)
    "$EPSCOPE" dump "$worker" >"$T/w.dump"
    grep -q 'listening on 127.0.0.1' "$T/w.dump" || fail "the worker's inherited listener is not announced"
    grep -q 'EPOLLET' "$T/w.dump" || fail "nginx registers its connections EPOLLET"
else
    echo "nginx not installed: skipped (.ci/deps.sh installs it)"
fi

if command -v redis-server >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1; then
    step "redis (level-triggered, one read per event) is recorded with no diagnosis"
    port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$EPSCOPE" record -o rd.ept -- redis-server --port "$port" --bind 127.0.0.1 --save '' \
        --appendonly no --loglevel warning >"$T/rd.out" 2>&1 &
    rp=$!
    _LIB_PIDS="$_LIB_PIDS $rp"
    wait_for redis-cli -p "$port" ping || fail "redis did not start"
    bounded 60 redis-benchmark -p "$port" -n 5000 -c 20 -q -t set,get >/dev/null || fail "redis-benchmark"
    bounded 60 redis-benchmark -p "$port" -n 2000 -c 5 -P 8 -q -t set >/dev/null || fail "redis-benchmark -P"
    # idle, redis still records an epoll_wait ten times a second (its timer): the flusher
    # writes each and sleeps again, about twice a record, not every few milliseconds
    sleep 0.5 # the clients gone, the flusher back from busy naps
    w0=$(flushwakes "$(pgrep -P "$rp" redis-server)")
    sleep 1 # the window the wake-ups are counted in
    w1=$(flushwakes "$(pgrep -P "$rp" redis-server)")
    echo "flusher wake-ups in 1 s of an idle redis: $((w1 - w0))"
    [ -n "$w0" ] && [ $((w1 - w0)) -le 40 ] ||
        fail "the flusher woke $((w1 - w0)) times in 1 s of an idle redis (its timer: 10 records)"
    kill -TERM "$rp"
    wait "$rp"
    checked rd
fi

if command -v haproxy >/dev/null 2>&1; then
    step "HAProxy (two threads, two epoll sets, speculative I/O) is recorded with no error"
    start HB "$EPSCOPE" backend --listen 127.0.0.1:0
    port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >hap.cfg <<EOF
global
    nbthread 2
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:$port
    default_backend be
backend be
    server s1 $HB_ADDR
EOF
    "$EPSCOPE" record -o hp.ept -- haproxy -f hap.cfg -db >"$T/hp.out" 2>&1 &
    hp=$!
    _LIB_PIDS="$_LIB_PIDS $hp"
    wait_for curl -s -o /dev/null "http://127.0.0.1:$port/" || { cat "$T/hp.out"; fail "haproxy did not start"; }
    expect_status 0 "$EPSCOPE" load "http://127.0.0.1:$port/" -n 1000 -c 20 --keepalive -q
    expect_status 0 "$EPSCOPE" load "http://127.0.0.1:$port/" -n 300 -c 10 -q
    kill -TERM "$hp"
    wait "$hp"
    # HAProxy 2.6 polls one listening socket from both threads' epoll sets: a thread idle in
    # epoll_wait is woken for connections the other one accepts. That is a true
    # thundering-herd (2.7 added `bind ... shards` against it), the only finding allowed
    checked hp 1 thundering-herd
    stop HB
fi

if command -v memcached >/dev/null 2>&1; then
    step "memcached (libevent: a listener thread, 4 workers' epoll sets) is recorded with no diagnosis"
    port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$EPSCOPE" record -o mc.ept -- memcached -l 127.0.0.1 -p "$port" -U 0 -t 4 -u nobody \
        >"$T/mc.out" 2>&1 &
    mp=$!
    _LIB_PIDS="$_LIB_PIDS $mp"
    cat >mc.py <<'EOF'
# mc.py PORT: 16 threads, each 60 connections: set, get, pipelined gets; half say quit
import socket, sys, threading
port, bad = int(sys.argv[1]), []
def client(t):
    for i in range(60):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        key, val = b"k%d-%d" % (t, i), b"v" * (i * 97 % 3000)
        s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(val), val) + b"get %s\r\n" % key * 5)
        want, got = b"STORED\r\n" + (b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (key, len(val), val)) * 5, b""
        while len(got) < len(want):
            d = s.recv(65536)
            if not d:
                break
            got += d
        if got != want:
            bad.append(key)
        if i % 2:
            s.sendall(b"quit\r\n")
        s.close()
ts = [threading.Thread(target=client, args=(t,)) for t in range(16)]
[t.start() for t in ts]
[t.join() for t in ts]
print("%d of %d answers wrong" % (len(bad), 16 * 60))
sys.exit(1 if bad else 0)
EOF
    wait_for "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $port))" ||
        { cat "$T/mc.out"; fail "memcached did not start"; }
    bounded 60 "$PY" mc.py "$port" || fail "memcached answered wrong under record"
    kill -TERM "$mp"
    wait "$mp"
    checked mc
fi

if command -v lighttpd >/dev/null 2>&1; then
    step "lighttpd (its own epoll loop, sendfile, slow readers) is recorded with no diagnosis"
    mkdir -p lt
    head -c 1000000 /dev/urandom >lt/big.bin
    echo hello >lt/index.html
    port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >lt.conf <<EOF
server.document-root = "$T/lt"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$T/lt.log"
index-file.names = ("index.html")
EOF
    "$EPSCOPE" record -o lh.ept -- lighttpd -D -f lt.conf >"$T/lh.out" 2>&1 &
    lp=$!
    _LIB_PIDS="$_LIB_PIDS $lp"
    wait_for curl -sf -o /dev/null "http://127.0.0.1:$port/" || { cat "$T/lh.out"; fail "lighttpd did not start"; }
    expect_status 0 "$EPSCOPE" load "http://127.0.0.1:$port/" -n 1000 -c 20 --keepalive -q
    expect_status 0 "$EPSCOPE" load "http://127.0.0.1:$port/" -n 300 -c 10 -q
    # three slow readers of a big file: lighttpd waits for EPOLLOUT on each
    bounded 30 bash -c "for i in 1 2 3; do curl -sf --limit-rate 2M -o lt\$i.out \\
        http://127.0.0.1:$port/big.bin & done; wait" || fail "lighttpd: a slow reader failed"
    for i in 1 2 3; do cmp lt/big.bin "lt$i.out" || fail "lighttpd: slow reader $i got other bytes"; done
    kill -TERM "$lp"
    wait "$lp"
    checked lh
    "$EPSCOPE" dump lh.ept | grep -q 'EPOLLOUT' || fail "lighttpd never waited for EPOLLOUT"
fi

if command -v node >/dev/null 2>&1; then
    step "node (libuv) is recorded with no diagnosis"
    start ND "$EPSCOPE" record -o nd.ept -- node -e "require('http').createServer((q, s) => \
        s.end('hi\n')).listen(0, '127.0.0.1', function () { \
        console.log('listening on 127.0.0.1:' + this.address().port) })"
    expect_status 0 "$EPSCOPE" load "http://$ND_ADDR/" -n 1000 -c 20 --keepalive -q
    expect_status 0 "$EPSCOPE" load "http://$ND_ADDR/" -n 300 -c 10 -q
    kill -TERM "$ND_PID"
    wait "$ND_PID"
    checked nd
fi
echo ok
