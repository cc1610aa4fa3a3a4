#!/usr/bin/env python3
"""lab_answers.py TRACES_DIR - holds the answers of docs/lab.md (sections 2 to 6, 9, 10) to the
shipped lesson traces: each claim an answer makes about a trace is checked here against
that trace, so that a trace recorded again cannot silently make an answer false.
Exits 1 with one line per claim that does not hold. Run by it_lessons.sh."""
import json
import os
import subprocess
import sys

EPSCOPE = os.environ.get("EPSCOPE", "epscope")
DIR = sys.argv[1]
failed = []


def records(name):
    out = subprocess.run([EPSCOPE, "dump", "--json", os.path.join(DIR, name)],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def compare(*names):
    out = subprocess.run([EPSCOPE, "compare"] + [os.path.join(DIR, n) for n in names],
                         check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        parts = line.rsplit(None, len(names))
        if len(parts) == len(names) + 1:
            rows[parts[0].strip()] = parts[1:]
    return rows


def claim(answer, ok, what):
    print("answer %-3s %s %s" % (answer, "ok  " if ok else "FAIL", what))
    if not ok:
        failed.append(answer)


def events(r):
    return set(r.get("events", "").split("|"))


def batches(recs):
    """Each epoll_wait with its ready events, in order."""
    out = []
    for r in recs:
        if r["type"] == "epoll_wait":
            out.append((r, []))
        elif r["type"] == "ready" and out:
            out[-1][1].append(r)
    return out


modes = ["modes-level.ept", "modes-edge.ept", "modes-edge-oneshot.ept"]
rec = {m: records(m) for m in modes}
mods = {m: [r for r in rec[m] if r["type"] == "epoll_ctl" and r["op"] == "MOD"] for m in modes}

# 1: the masks each mode registers a client with
adds = {m: next(r["events"] for r in rec[m] if r["type"] == "epoll_ctl" and r["op"] == "ADD"
                and r["role"] == "client") for m in modes}
claim(1, adds == {"modes-level.ept": "EPOLLIN|EPOLLRDHUP",
                  "modes-edge.ept": "EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET",
                  "modes-edge-oneshot.ept": "EPOLLIN|EPOLLRDHUP|EPOLLET|EPOLLONESHOT"},
      "client ADD masks %s" % adds)

# 2: edge never calls MOD; oneshot re-arms the client; level re-registers the backend
# from EPOLLOUT (connecting) to EPOLLIN once the request is written
claim(2, not mods["modes-edge.ept"], "edge makes no EPOLL_CTL_MOD")
claim(2, any(r["role"] == "client" and "EPOLLONESHOT" in events(r)
             for r in mods["modes-edge-oneshot.ept"]), "edge-oneshot re-arms client sockets")
lv = rec["modes-level.ept"]
backend_switch = False
for i, r in enumerate(lv):
    if r["type"] == "write" and r["role"] == "backend" and r["result"] > 0:
        nxt = next((x for x in lv[i + 1:] if x["type"] in ("epoll_ctl", "epoll_wait")), None)
        if nxt and nxt["type"] == "epoll_ctl" and nxt["sid"] == r["sid"] and \
                events(nxt) >= {"EPOLLIN"} and "EPOLLOUT" not in events(nxt):
            backend_switch = True
claim(2, backend_switch, "level switches the backend to EPOLLIN after writing the request")

# 3, 4: the EPOLLOUT path of each mode (tests/epollout_lesson.py checks it in full)
for m, mode in zip(modes, ["level", "edge", "edge-oneshot"]):
    path = os.path.join(os.environ.get("T", "/tmp"), "lab-%s.json" % mode)
    with open(path, "w") as f:
        for r in rec[m]:
            f.write(json.dumps(r) + "\n")
    ok = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__),
                                                      "epollout_lesson.py"), path, mode],
                        capture_output=True).returncode == 0
    os.unlink(path)
    claim("3-4", ok, "%s shows its EPOLLOUT path after a full send buffer" % mode)

# 5, 6: the costs, as `epscope compare` prints them
c = compare(*modes)
per = [float(x) for x in c["epoll_ctl per connection"]]
claim(5, per[1] == min(per), "edge makes the fewest epoll_ctl per connection %s" % per)
claim(5, per[0] > per[2], "on these traces level makes more than edge-oneshot %s" % per)
wasted = [int(x) for x in c["wasted events (nothing done)"]]
claim(6, wasted[1] == max(wasted) and wasted[2] == min(wasted),
      "edge wastes the most events, edge-oneshot the fewest %s" % wasted)

# 7: the hint: /write*EAGAIN lands on record 69 in modes-level, and the next epoll_wait
# returns the client's EPOLLOUT (the backend was taken out of the set with MOD 0)
ml = records("modes-level.ept")
hit = next(r for r in ml if r["type"] == "write" and r.get("errno") == "EAGAIN")
wait = next(i for i, r in enumerate(ml) if r["type"] == "epoll_wait" and r["seq"] > hit["seq"])
ready = [r for r in ml[wait + 1:wait + 1 + ml[wait]["result"]] if r["type"] == "ready"]
claim(7, hit["seq"] == 69 and ml[wait - 1]["seq"] == 71 and
      any(r["role"] == "client" and events(r) == {"EPOLLOUT"} for r in ready),
      "write*EAGAIN: record 69; record 71 is just before the wait, which reports the "
      "client's EPOLLOUT")

# 9: fault-no-drain: the backend's only read filled the whole buffer
nd = [r for r in records("fault-no-drain.ept") if r["type"] == "read" and r["role"] == "backend"]
claim(9, len(nd) == 1 and nd[0]["result"] == nd[0]["asked"] == 16384,
      "the backend was read once, 16384 of 16384 bytes")
unread = [r for r in records("fault-no-drain.ept") if r["type"] == "queue"
          and r["role"] == "backend" and r["kind"] == "unread"]
claim(9, len(unread) == 1 and unread[0]["count"] == 82040,
      "the proxy noted 82040 bytes (80 KiB) still unread in the backend socket %s" %
      [r["count"] for r in unread])

# 10: fault-ignore-eof: the client's first read after its requests returned 0, then many 0s
ie = [r for r in records("fault-ignore-eof.ept") if r["type"] == "read" and r["role"] == "client"]
zeros = [r for r in ie if r["result"] == 0]
claim(10, len(zeros) > 1000 and ie[ie.index(zeros[0]) - 1]["result"] > 0,
      "thousands of read() = 0 on the client after its request (%d)" % len(zeros))

# 11: fault-accept-once: one accept4 per listener event
ao = records("fault-accept-once.ept")
per_event, count, inside = [], 0, False
for r in ao:
    if r["type"] == "epoll_wait":
        if inside:
            per_event.append(count)
        count, inside = 0, False
    elif r["type"] == "ready" and r["role"] == "listener":
        inside = True
    elif r["type"] == "accept" and inside:
        count += 1
claim(11, per_event and set(per_event) == {1}, "one accept4 per listener event %s" %
      sorted(set(per_event)))
waiting = [r["count"] for r in ao if r["type"] == "queue" and r["kind"] == "backlog"]
claim(11, waiting and waiting[0] == 19 and all(c > 0 for c in waiting),
      "19 connections waited in the listener's queue after the first accept, some after "
      "every one %s" % waiting[:5])

# 12-14: origin-mistrigger
om = records("origin-mistrigger.ept")
bs = batches(om)
hit = any(len(evs) >= 2 and evs[0]["role"] == "backend" and
          events(evs[0]) >= {"EPOLLIN", "EPOLLRDHUP"} and evs[1]["role"] == "client" and
          events(evs[1]) == {"EPOLLOUT"} for _, evs in bs)
claim(12, hit, "a batch with the backend's EPOLLIN|EPOLLRDHUP first, the client's EPOLLOUT next")
seq = [(r["type"], r.get("role"), r.get("result"), r.get("asked")) for r in om
       if r["type"] in ("read", "write")]
claim(13, ("read", "backend", 0, 16384) in seq and
      seq[seq.index(("read", "backend", 0, 16384)) + 1] == ("write", "client", 0, 0),
      "read(backend) = 0, then write(client, 0)")
mod7 = [r for r in om if r["type"] == "epoll_ctl" and r["op"] == "MOD" and r["role"] == "backend"]
claim(14, mod7 and all(events(r) == {"EPOLLIN", "EPOLLRDHUP"} for r in mod7),
      "the backend is re-registered plain level-triggered (EPOLLIN|EPOLLRDHUP)")
r26 = next((r for r in om if r["seq"] == 26), None)
claim(14, r26 is not None and r26["type"] == "ready" and r26["role"] == "backend" and
      "EPOLLRDHUP" in events(r26), "record 26: the backend reported with EPOLLRDHUP already")

# 25: closed-fd-still-registered
cf = records("fault-closed-fd-still-registered.ept")
dup = next((r for r in cf if r["type"] == "dup"), None)
closed = next((i for i, r in enumerate(cf) if r["type"] == "close" and dup and
               r["fd"] == dup["oldfd"] and r["sid"] == dup["sid"]), None)
after = [r for r in cf[closed + 1:] if r["type"] == "ready"] if closed is not None else []
claim(25, dup is not None and closed is not None and after and after[0]["fd"] == dup["oldfd"]
      and after[0]["sid"] == dup["sid"] and "EPOLLHUP" in events(after[0]),
      "a dup, the close of the number, then an event for the closed number")
claim(25, any(r["type"] == "epoll_ctl" and r["op"] == "DEL" and r.get("errno") == "EBADF"
              for r in cf), "epoll_ctl(DEL) on the closed number fails with EBADF")
twice = any(len({e["sid"] for e in evs if e["fd"] == dup["oldfd"]}) == 2
            for _, evs in batches(cf)) if dup else False
claim(25, twice, "one batch names the number twice, for two sockets")

# 26: rdhup-data-loss
rd = records("fault-rdhup-data-loss.ept")
last_be = [r for r in rd if r["type"] == "ready" and r["role"] == "backend"][-1]
be_close = [r for r in rd if r["type"] == "close" and r["role"] == "backend"][-1]
reads_after = [r for r in rd if r["type"] == "read" and r["role"] == "backend" and
               last_be["seq"] < r["seq"] < be_close["seq"]]
claim(26, events(last_be) >= {"EPOLLIN", "EPOLLRDHUP"} and not reads_after and
      be_close.get("unread") == 130, "EPOLLIN|EPOLLRDHUP, no read, closed with 130 unread")

# 27: lost-out-edge
lo = records("fault-lost-out-edge.ept")
eagain = next(r for r in lo if r["type"] == "write" and r["role"] == "client" and
              r.get("errno") == "EAGAIN")
nxt = next(r for r in lo if r["type"] == "ready" and r["role"] == "client" and
           r["seq"] > eagain["seq"])
later_writes = [r for r in lo if r["type"] == "write" and r["role"] == "client" and
                r["seq"] > nxt["seq"]]
claim(27, events(nxt) >= {"EPOLLIN", "EPOLLOUT"} and not later_writes,
      "after EAGAIN the client's event says EPOLLIN|EPOLLOUT, and nothing is written again")
later = [r for r in lo if r["type"] == "ready" and r["role"] == "client" and
         r["seq"] > nxt["seq"]]
eof = next(r for r in lo if r["type"] == "read" and r["role"] == "client" and
           r["result"] == 0)
claim(27, nxt["seq"] == 65 and len(later) == 14 and
      all({"EPOLLIN", "EPOLLOUT"} <= events(r) for r in later) and
      [r["seq"] for r in later][:2] == [80, 95] and later[-1]["seq"] == 294,
      "records 80, 95, ... 294: fourteen more reports, each EPOLLIN|EPOLLOUT %s" %
      [r["seq"] for r in later][:3])
claim(27, eof["seq"] == 358 and not [r for r in later if r["seq"] > eof["seq"]],
      "no report for the client after its FIN (record 358)")

# 28: edge-hog
eh = records("fault-edge-hog.ept")
four = next(i for i, r in enumerate(eh) if r["type"] == "epoll_wait" and r["result"] == 4)
first = eh[four + 1]
run = 0
for r in eh[four + 5:]:
    if r["type"] in ("handle", "epoll_wait"):
        if r["type"] == "epoll_wait" or r["sid"] != first["sid"]:
            break
    if r["type"] == "read" and r["sid"] == first["sid"] and r["result"] == r["asked"]:
        run += 1
claim(28, eh[four]["seq"] == 273, "the first epoll_wait = 4 is record %d" % eh[four]["seq"])
claim(28, run > 100, "over a hundred full reads of the first socket before the next event (%d)"
      % run)

# 29, 30: the herd lessons
herd = {}
for acc in ("shared", "exclusive", "reuseport"):
    herd[acc] = []
    for w in range(3):
        recs = records("herd-%s.w%d.ept" % (acc, w))
        lst = {r["sid"] for r in recs if r["type"] == "listen"}
        wakes = sum(1 for r in recs if r["type"] == "ready" and r["sid"] in lst)
        acc_ok = sum(1 for r in recs if r["type"] == "accept" and r["result"] >= 0)
        herd[acc].append((wakes, acc_ok))
claim(29, herd["shared"][0] == (19, 10) and herd["exclusive"][0] == (40, 40) and
      herd["reuseport"][0] == (18, 18),
      "worker 0: shared 19 wake-ups for 10, exclusive and reuseport one each %s" %
      [herd[a][0] for a in herd])
# record 12 ends an accept loop that took a connection (record 7); records 146-149 are a
# blocked wait that returned the listener alone, whose first accept found nothing
sw = {r["seq"]: r for r in records("herd-shared.w0.ept")}
def eagain(r):
    return r["type"] == "accept" and r["result"] < 0 and r.get("errno") == "EAGAIN"
claim(29, eagain(sw[12]) and sw[7]["type"] == "accept" and sw[7]["result"] >= 0 and
      all(sw[q]["type"] not in ("epoll_wait", "handle") for q in range(8, 12)),
      "record 12's EAGAIN ends the accept loop that took a connection at record 7")
claim(29, sw[146]["type"] == "epoll_wait" and sw[146]["result"] == 1 and
      sw[147]["type"] == "ready" and sw[148]["type"] == "handle" and eagain(sw[149]) and
      sw[146].get("blocked_ns", 0) > 1000000,
      "records 146-149: a blocked wait, the listener alone, its first accept EAGAIN")
claim(30, [a for _, a in herd["shared"]] == [10, 18, 12] and
      [a for _, a in herd["exclusive"]] == [40, 0, 0] and
      [a for _, a in herd["reuseport"]] == [18, 8, 14],
      "accepted per worker: shared 10 18 12, exclusive 40 0 0, reuseport 18 8 14 %s" %
      {k: [a for _, a in v] for k, v in herd.items()})

sys.exit(1 if failed else 0)
