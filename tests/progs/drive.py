#!/usr/bin/env python3
"""drive.py - the clients (and a tiny backend) that drive the student epoll programs of
tests/progs/ through the scenario that shows each one's bug.

    drive.py backend [--body-size N] [--linger-ms MS] [--echo] [--silent-ms MS]
    drive.py echo    ADDR [--size N]         any echo server: a line, 8 MiB with backpressure,
                                             half-close, 8 clients at once
    drive.py nodrain ADDR                    8192 bytes at once, the whole echo within 1 s
    drive.py eofspin ADDR --pid PID          a line, SHUT_WR, the echo, then 0.5 s idle:
                                             the server must not use the CPU meanwhile
    drive.py busyout ADDR --pid PID          a line, its echo, then 0.5 s idle: the same
    drive.py proxy   ADDR [--body-size N] [--half-close]
                                             one request through a proxy to `backend`: the
                                             whole response, then end-of-file, within 1 s
    drive.py pipe    ADDR [--size N]         N bytes through a proxy to `backend --echo`
                                             and back, with half-close
    drive.py accept  ADDR [--pid PID] [--conns 50]
                                             50 connections at once, then a line on each
    drive.py stale   ADDR [--no-reuse]       a chat-pair server (stale_close.c): two hang-ups
                                             in one batch, then an fd number reused in one
    drive.py rounds  ADDR [--pid PID] [--rounds 20]
                                             20 request/response rounds on one connection;
                                             with --pid, the server's read() calls counted
    drive.py rdhup   ADDR [--pid PID]        a line and SHUT_WR together (with --pid the
                                             server is frozen meanwhile): echo, then EOF
    drive.py hangup  ADDR                    a request and SHUT_WR through a proxy to
                                             `backend --silent-ms`: EOF and no bytes

ADDR is HOST:PORT. `backend` prints "listening on 127.0.0.1:PORT" and serves until killed.
A scenario exits 0 when the server behaved correctly ("ok: ..." on stdout) and 1 when it
did not ("fail: <what went wrong>", one line); 2 for bad arguments. Every wait is bounded.

--pid must be the server process itself (not a wrapper): the CPU time and the read()
count come from /proc/PID/stat and /proc/PID/io, and `accept` freezes it with SIGSTOP
while the 50 connections arrive (then SIGCONT), which makes the race it shows certain.
"""

import argparse
import os
import select
import signal
import socket
import socketserver
import sys
import threading
import time

STEP = 5.0  # seconds allowed for a step that should be quick for a correct server
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Fail(Exception):
    """The server misbehaved; the message is the one-line symptom."""


def parse_addr(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
    return host, int(port)


def pattern(n, seed=0):
    """n bytes of a recognisable pattern (a shift by `seed` tells streams apart)."""
    block = bytes((i * 7 + seed) % 251 for i in range(251))
    return (block * (n // 251 + 1))[:n]


START_WAIT = 5.0  # seconds the first connect waits for a server that is still starting
server_seen = False  # a connect has succeeded: from then on a refusal is a failure


def connect(addr, timeout=STEP, rcvbuf=0):
    """A connected TCP socket; rcvbuf, when set, shrinks its receive buffer first so that
    the server's writes fill up and come back short (its EPOLLOUT path gets used).
    Until the first connect succeeds, "connection refused" is retried for up to
    START_WAIT seconds: a server started in the background a moment ago (python under
    `epscope record` takes most of a second) is not listening yet. Once one connect has
    succeeded, a refusal means the server stopped listening, and fails at once."""
    global server_seen
    deadline = time.monotonic() + START_WAIT
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        try:
            s.connect(addr)
            break
        except ConnectionRefusedError as e:
            s.close()
            if server_seen or time.monotonic() >= deadline:
                raise Fail("cannot connect to %s:%d: %s%s" % (
                    addr[0], addr[1], e, "" if server_seen else
                    " (nothing listening there after %.0f s: is the server running?)"
                    % START_WAIT))
            time.sleep(0.05)
        except OSError as e:
            s.close()
            raise Fail("cannot connect to %s:%d: %s" % (addr[0], addr[1], e))
    server_seen = True
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def left(deadline):
    return max(0.0, deadline - time.monotonic())


def recv_upto(s, n, deadline):
    """Read until n bytes, end-of-file or the deadline. Returns (bytes, eof)."""
    got = bytearray()
    while len(got) < n:
        r, _, _ = select.select([s], [], [], left(deadline))
        if not r:
            return bytes(got), False
        try:
            chunk = s.recv(min(65536, n - len(got)))
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            return bytes(got), True
        if not chunk:
            return bytes(got), True
        got += chunk
    return bytes(got), False


def recv_to_eof(s, deadline, limit=1 << 24):
    """Read until end-of-file or the deadline. Returns (bytes, eof)."""
    return recv_upto(s, limit, deadline)


def exchange(s, data, deadline, half_close=False, stall=0.0):
    """Send data and read what comes back. With stall, first only send, until the kernel
    has taken nothing more for `stall` seconds: the server's writes to us have then come
    back short and it has stopped reading (backpressure; its EPOLLOUT path gets used).
    Then send and read concurrently. With half_close, SHUT_WR after the last byte and read
    until end-of-file. Returns (bytes received, eof seen)."""
    s.setblocking(False)
    sent, got, shut = 0, bytearray(), False
    try:
        while stall and sent < len(data) and time.monotonic() < deadline:
            _, w, _ = select.select([], [s], [], stall)
            if not w:
                break
            try:
                sent += s.send(data[sent:sent + 65536])
            except BlockingIOError:
                pass
        while half_close or len(got) < len(data):
            if sent >= len(data) and half_close and not shut:
                s.shutdown(socket.SHUT_WR)
                shut = True
            wl = [s] if sent < len(data) else []
            r, w, _ = select.select([s], wl, [], left(deadline))
            if not r and not w:
                return bytes(got), False
            if w:
                try:
                    sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
            if r:
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    return bytes(got), True
                if not chunk:
                    return bytes(got), True
                got += chunk
        return bytes(got), False
    finally:
        s.setblocking(True)


def cpu_seconds(pid):
    """User plus system CPU time of the whole process (all threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def read_calls(pid):
    """read() system calls made so far by the process (syscr of /proc/PID/io; recv() is
    not counted there)."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("syscr:"):
                return int(line.split()[1])
    raise Fail("no syscr in /proc/%d/io" % pid)


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def show_diff(what, want, got):
    if got == want:
        return
    if len(got) < len(want) and want.startswith(got):
        raise Fail("%s: only %d of %d bytes came back" % (what, len(got), len(want)))
    raise Fail("%s: %d bytes came back, not the %d sent (first difference at byte %d)"
               % (what, len(got), len(want),
                  next(i for i in range(min(len(got), len(want)) + 1)
                       if i >= len(got) or i >= len(want) or got[i] != want[i])))


# ---- scenarios ----------------------------------------------------------------------

def sc_echo(a):
    """A correct echo server passes all four steps."""
    s = connect(a.addr, rcvbuf=4096)
    line = b"hello, epoll\n"
    s.sendall(line)
    got, _ = recv_upto(s, len(line), time.monotonic() + STEP)
    show_diff("one line", line, got)

    data = pattern(a.size, 1)
    got, _ = exchange(s, data, time.monotonic() + STEP, stall=0.2)
    show_diff("%d bytes sent faster than read" % a.size, data, got)

    last = b"last words\n"
    got, eof = exchange(s, last, time.monotonic() + STEP, half_close=True)
    show_diff("a line then SHUT_WR", last, got)
    if not eof:
        raise Fail("no end-of-file after the client's SHUT_WR and the echo")
    s.close()

    errors = []

    def one(i):
        try:
            c = connect(a.addr)
            d = pattern(64 << 10, i)
            g, _ = exchange(c, d, time.monotonic() + STEP)
            show_diff("client %d of 8" % i, d, g)
            c.close()
        except (Fail, OSError) as e:
            errors.append("client %d of 8: %s" % (i, e) if isinstance(e, OSError) else str(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise Fail(errors[0])
    return "a line, %d bytes with backpressure, half-close, 8 clients at once" % a.size


def sc_nodrain(a):
    """8192 bytes in one send: an edge-triggered server that reads once per event echoes
    one buffer and never hears about the rest."""
    s = connect(a.addr)
    data = pattern(8192, 2)
    s.sendall(data)
    got, _ = recv_upto(s, len(data), time.monotonic() + a.timeout)
    if len(got) < len(data):
        raise Fail("echo stalled: %d of %d bytes came back within %.1f s"
                   % (len(got), len(data), a.timeout))
    show_diff("8192 bytes", data, got)
    s.close()
    return "8192 bytes echoed"


def idle_cpu(a, s, what):
    """Hold connection s open for a.hold seconds and judge the server's CPU time."""
    c0, r0 = cpu_seconds(a.pid), read_calls(a.pid)
    time.sleep(a.hold)
    c1, r1 = cpu_seconds(a.pid), read_calls(a.pid)
    s.close()
    used, reads = c1 - c0, r1 - r0
    if used > a.max_cpu:
        raise Fail("server spun: %d ms of CPU and %d read() calls in the %d ms %s"
                   % (used * 1000, reads, a.hold * 1000, what))
    return "%d ms of CPU and %d read() calls in the %d ms %s" % (
        used * 1000, reads, a.hold * 1000, what)


def sc_eofspin(a):
    """After the client's SHUT_WR and the echo, a correct server is idle."""
    s = connect(a.addr)
    line = b"one line, then end-of-file\n"
    s.sendall(line)
    s.shutdown(socket.SHUT_WR)
    got, _ = recv_upto(s, len(line), time.monotonic() + STEP)
    show_diff("a line then SHUT_WR", line, got)
    return idle_cpu(a, s, "after the client's end-of-file")


def sc_busyout(a):
    """A connected but quiet client: a correct server is idle."""
    s = connect(a.addr)
    line = b"one line, then silence\n"
    s.sendall(line)
    got, _ = recv_upto(s, len(line), time.monotonic() + STEP)
    show_diff("one line", line, got)
    return idle_cpu(a, s, "with a quiet client connected")


def http_response(body_size):
    body = b"hello" if body_size is None else pattern(body_size, 3)
    return b"HTTP/1.0 200 OK\r\n\r\n" + body


def sc_proxy(a):
    """One request through the proxy to `drive.py backend`: the whole response and the
    backend's end-of-file must reach the client."""
    s = connect(a.addr)
    s.sendall(b"GET / HTTP/1.0\r\nHost: epscope\r\n\r\n")
    if a.half_close:
        s.shutdown(socket.SHUT_WR)
    want = http_response(a.body_size)
    got, eof = recv_to_eof(s, time.monotonic() + a.timeout, len(want) + 1)
    s.close()
    if len(got) < len(want) and want.startswith(got):
        raise Fail("the response never arrived: %d of %d bytes within %.1f s"
                   % (len(got), len(want), a.timeout))
    show_diff("the response", want, got)
    if not eof:
        raise Fail("the response arrived but no end-of-file followed within %.1f s"
                   % a.timeout)
    return "%d-byte response and end-of-file" % len(got)


def sc_hangup(a):
    """A request and its FIN in one go, to `drive.py backend --silent-ms`: the backend's
    hang-up must reach the client as its end-of-file, with nothing before it."""
    s = connect(a.addr)
    s.sendall(b"GET / HTTP/1.0\r\nHost: epscope\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    got, eof = recv_to_eof(s, time.monotonic() + a.timeout, 1 << 16)
    s.close()
    if got:
        raise Fail("%d bytes came from a backend that sent none" % len(got))
    if not eof:
        raise Fail("no end-of-file within %.1f s" % a.timeout)
    return "end-of-file, no bytes"


def sc_pipe(a):
    """N bytes up through the proxy to `backend --echo` and back, then half-close."""
    s = connect(a.addr)
    data = pattern(a.size, 4)
    got, eof = exchange(s, data, time.monotonic() + STEP, half_close=True, stall=0.2)
    s.close()
    show_diff("%d bytes there and back" % a.size, data, got)
    if not eof:
        raise Fail("no end-of-file came back after SHUT_WR")
    return "%d bytes there and back, then end-of-file" % a.size


def sc_rdhup(a):
    """A line and the client's end-of-file arriving together (with --pid, certainly: the
    server is frozen while both are sent): the line must still be echoed, then EOF."""
    s = connect(a.addr)
    line = b"the last line, and then end-of-file\n"
    stopped = False
    try:
        if a.pid:
            os.kill(a.pid, signal.SIGSTOP)
            stopped = True
            deadline = time.monotonic() + 1
            while proc_state(a.pid) != "T" and time.monotonic() < deadline:
                time.sleep(0.005)
        s.sendall(line)
        s.shutdown(socket.SHUT_WR)
        time.sleep(0.05)  # both in the server's socket before it runs again
    finally:
        if stopped:
            os.kill(a.pid, signal.SIGCONT)
    got, eof = recv_to_eof(s, time.monotonic() + a.timeout, len(line) + 1)
    s.close()
    if got != line:
        raise Fail("the line sent with the end-of-file was lost: %d of %d bytes echoed"
                   % (len(got), len(line)))
    if not eof:
        raise Fail("the echo came but no end-of-file within %.1f s" % a.timeout)
    return "a line sent with the end-of-file was echoed, then end-of-file"


def sc_accept(a):
    """Many connections arriving at once, then one line on each: all must be served."""
    socks = []
    stopped = False
    try:
        if a.pid:
            # Freeze the server while the connections arrive, so that their wake-ups
            # all land in one epoll_wait: what happens by chance to any busy server.
            os.kill(a.pid, signal.SIGSTOP)
            stopped = True
            deadline = time.monotonic() + 1
            while proc_state(a.pid) != "T" and time.monotonic() < deadline:
                time.sleep(0.005)
        for _ in range(a.conns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(a.addr)
            socks.append(s)
        pending = list(socks)
        deadline = time.monotonic() + STEP
        while pending and time.monotonic() < deadline:
            _, w, _ = select.select([], pending, [], left(deadline))
            pending = [s for s in pending if s not in w]
        if pending:
            raise Fail("%d of %d connects did not complete" % (len(pending), a.conns))
        time.sleep(0.1)  # let the last handshakes reach the listener's queue
    finally:
        if stopped:
            os.kill(a.pid, signal.SIGCONT)
    want = {}
    for i, s in enumerate(socks):
        want[s] = b"connection %d\n" % i
        s.send(want[s])
    got = {s: b"" for s in socks}
    deadline = time.monotonic() + a.timeout
    waiting = list(socks)
    while waiting and time.monotonic() < deadline:
        r, _, _ = select.select(waiting, [], [], left(deadline))
        for s in r:
            try:
                chunk = s.recv(4096)
            except OSError:
                chunk = b""
            got[s] += chunk
            if not chunk or len(got[s]) >= len(want[s]):
                waiting.remove(s)
    served = sum(1 for s in socks if got[s] == want[s])
    for s in socks:
        s.close()
    if served < a.conns:
        raise Fail("%d of %d connections were never served (no echo within %.1f s)"
                   % (a.conns - served, a.conns, a.timeout))
    return "all %d connections served" % a.conns


def expect_line(s, line, what, timeout=STEP):
    got, _ = recv_upto(s, len(line), time.monotonic() + timeout)
    if got != line:
        raise Fail("%s: expected %r, got %r" % (what, line, got))


def sc_stale(a):
    """For stale_close.c, a server that pairs clients in order of arrival and relays what
    one sends to the other; it sleeps 50 ms before each epoll_wait ("simulated work"), so
    what the driver does right after one relay lands in the same batch."""
    # 1. Two hang-ups in one batch. Handling the first closes both sockets; the second
    #    event is stale (a buggy server reads the closed fd and gets EBADF: invisible).
    p, q = connect(a.addr), connect(a.addr)
    p.sendall(b"hi\n")
    expect_line(q, b"hi\n", "pair 1: relay p -> q")
    # the server has just relayed and sleeps 50 ms: both hang-ups go into its next batch
    p.shutdown(socket.SHUT_WR)
    q.shutdown(socket.SHUT_WR)
    for s, name in ((p, "p"), (q, "q")):
        got, eof = recv_to_eof(s, time.monotonic() + STEP, 1024)
        if not eof:
            raise Fail("pair 1: the server did not close %s after the hang-ups" % name)
        s.close()
    if a.no_reuse:
        return "two hang-ups in one batch handled (no visible symptom either way)"
    # 2. The same, but a new client takes the closed fd's number within the batch.
    b = connect(a.addr)  # accepted first: the lower fd number
    time.sleep(0.2)
    c = connect(a.addr)
    c.sendall(b"ping\n")
    expect_line(b, b"ping\n", "pair 2: relay c -> b")
    # the server sleeps 50 ms; its next batch will hold, in this order:
    c.close()  # 1. c's end-of-file: the server closes c and b
    time.sleep(0.003)
    d = connect(a.addr)  # 2. the listener: d is accepted and gets b's old fd number
    d.sendall(b"from d\n")  # ...and what d says waits in its socket
    time.sleep(0.003)
    b.sendall(b"late\n")  # 3. b's data: a stale event for b's old fd, now d's
    time.sleep(0.2)
    e = connect(a.addr)  # d's partner: d's first message must reach e
    got, _ = recv_upto(e, len(b"from d\n"), time.monotonic() + a.timeout)
    if got != b"from d\n":
        raise Fail("a new client's first message was lost (read through a stale event "
                   "of the closed fd whose number it took): got %r within %.1f s"
                   % (got, a.timeout))
    e.sendall(b"from e\n")
    expect_line(d, b"from e\n", "pair 3: relay e -> d")
    for s in (b, d, e):
        s.close()
    return "hang-ups in one batch, and an fd number reused within a batch, handled"


def sc_rounds(a):
    """Request/response rounds on one connection; with --pid, count the read() calls."""
    s = connect(a.addr)
    r0 = read_calls(a.pid) if a.pid else 0
    for i in range(a.rounds):
        line = b"round %d\n" % i
        s.sendall(line)
        expect_line(s, line, "round %d" % i)
        time.sleep(0.005)  # think time: the next request never races the server's reads
    reads = read_calls(a.pid) - r0 if a.pid else None
    s.close()
    if reads is None:
        return "%d rounds echoed (no --pid: read() calls not counted)" % a.rounds
    if reads > a.rounds * 3 // 2:
        raise Fail("%d read() calls for %d requests: the server keeps waking up for "
                   "nothing to read" % (reads, a.rounds))
    return "%d rounds echoed with %d read() calls" % (a.rounds, reads)


# ---- the backend --------------------------------------------------------------------

def run_backend(a):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            s = self.request
            s.settimeout(STEP)
            try:
                if a.echo:
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        s.sendall(chunk)
                    return
                req = b""
                while b"\r\n\r\n" not in req:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    req += chunk
                if a.silent_ms:
                    # a backend that takes its time and then hangs up without a word
                    time.sleep(a.silent_ms / 1000)
                    return
                s.sendall(http_response(a.body_size))
                # answer first, close later: the answer and the end-of-file reach the
                # proxy as two separate events
                time.sleep(a.linger_ms / 1000)
            except OSError:
                pass

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", 0), Handler)
    print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever(poll_interval=0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("backend")
    b.add_argument("--body-size", type=int)
    b.add_argument("--linger-ms", type=int, default=100)
    b.add_argument("--echo", action="store_true")
    b.add_argument("--silent-ms", type=int, default=0,
                   help="answer nothing: close this many ms after the request")
    for name, fn in (("echo", sc_echo), ("nodrain", sc_nodrain), ("eofspin", sc_eofspin),
                     ("busyout", sc_busyout), ("proxy", sc_proxy), ("pipe", sc_pipe),
                     ("accept", sc_accept), ("stale", sc_stale), ("rounds", sc_rounds),
                     ("rdhup", sc_rdhup), ("hangup", sc_hangup)):
        p = sub.add_parser(name)
        p.set_defaults(fn=fn)
        p.add_argument("addr", type=parse_addr)
        p.add_argument("--pid", type=int, default=0)
        p.add_argument("--timeout", type=float, default=1.0,
                       help="seconds to wait for what a buggy server never sends")
        p.add_argument("--hold", type=float, default=0.5)
        p.add_argument("--max-cpu", type=float, default=0.05,
                       help="CPU seconds a server may use while idle for --hold")
        p.add_argument("--body-size", type=int)
        p.add_argument("--half-close", action="store_true")
        p.add_argument("--size", type=int, default=8 << 20)
        p.add_argument("--conns", type=int, default=50)
        p.add_argument("--rounds", type=int, default=20)
        p.add_argument("--no-reuse", action="store_true",
                       help="stale: only the two hang-ups, no fd number reused")
    a = ap.parse_args()
    if a.cmd == "backend":
        run_backend(a)
        return 0
    if a.cmd in ("eofspin", "busyout") and not a.pid:
        ap.error("%s needs --pid (the server's CPU time is what it measures)" % a.cmd)
    try:
        print("ok: " + a.fn(a))
        return 0
    except Fail as e:
        print("fail: %s" % e)
        return 1
    except OSError as e:
        print("fail: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
