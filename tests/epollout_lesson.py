#!/usr/bin/env python3
"""epollout_lesson.py JSON MODE - exits 0 when a trace (as `epscope dump --json` lines)
shows the EPOLLOUT lesson of its trigger mode: a client write came back short or with
EAGAIN, and then, on that socket,
  level         EPOLLOUT registered (MOD), reported, a write, EPOLLOUT removed (MOD);
  edge          no epoll_ctl at all: an EPOLLOUT report once room was made, then a write;
  edge-oneshot  re-armed with EPOLLOUT, reported, a write, re-armed without it.
Used by it_lessons.sh (the shipped modes traces) and it_demo.sh (a demo run)."""
import json, sys
mode = sys.argv[2]
recs = [json.loads(l) for l in open(sys.argv[1])]
def ev(r):
    return r.get("events", "").split("|")
full = {}          # client socket (sid) -> seq of its first short or EAGAIN write
shown = []
for r in recs:
    if r.get("role") != "client":
        continue
    fd = r.get("sid")  # a socket, not a number: numbers are reused
    if r["type"] == "write" and (r["result"] < 0 and r.get("errno") == "EAGAIN"
                                 or 0 <= r["result"] < r["asked"]):
        full.setdefault(fd, r["seq"])
    elif fd in full and r["type"] == "epoll_ctl" and r["op"] == "MOD":
        shown.append(("mod", fd, "EPOLLOUT" in ev(r), r["seq"]))
    elif fd in full and r["type"] == "ready" and "EPOLLOUT" in ev(r):
        shown.append(("ready-out", fd, True, r["seq"]))
    elif fd in full and r["type"] == "write" and r["result"] > 0:
        shown.append(("write", fd, True, r["seq"]))
assert full, "no client write came back short or with EAGAIN"
def has(seq):
    """the kinds in order, for some fd"""
    for fd in full:
        kinds = [(k, on) for k, f, on, _ in shown if f == fd]
        i = 0
        for k in kinds:
            if i < len(seq) and k == seq[i]:
                i += 1
        if i == len(seq):
            return True
    return False
if mode == "level":   # EPOLLOUT registered after the short write, reported, then removed
    ok = has([("mod", True), ("ready-out", True), ("write", True), ("mod", False)])
elif mode == "edge":  # no epoll_ctl at all: an EPOLLOUT edge once room is made, then a write
    ok = has([("ready-out", True), ("write", True)]) and not any(k == "mod" for k, *_ in shown)
else:                 # re-armed for EPOLLOUT, reported once, re-armed without it
    ok = has([("mod", True), ("ready-out", True), ("write", True), ("mod", False)])
print("%s: %d client sockets filled, %s" % (mode, len(full), "EPOLLOUT lesson ok" if ok else "NOT shown"))
assert ok
