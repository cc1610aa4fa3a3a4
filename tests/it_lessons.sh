#!/usr/bin/env bash
# it_lessons.sh - each lesson trace in traces/, checked with `epscope check`, gives exactly
# the diagnoses traces/lessons.txt (and its paragraph in traces/README.md) names, and is
# small enough to keep in git.
. "$(dirname "$0")/lib.sh"
dir="$(cd "$(dirname "$0")/../traces" && pwd)"
n=0
while read -r file ids; do
    case $file in ''|'#'*) continue ;; esac
    n=$((n + 1))
    f="$dir/$file"
    [ -f "$f" ] || fail "$file is missing (make traces)"
    size=$(stat -c %s "$f")
    [ "$size" -lt 1048576 ] || fail "$file is $size bytes, over 1 MiB"
    set_name=${file%.w[0-9]*.ept}.w*.ept # a worker's trace: one paragraph for the set
    grep "^### " "$dir/README.md" | grep -qF -e "$file" -e "$set_name" ||
        fail "$file has no paragraph in traces/README.md"
    want=$(echo "$ids" | tr ' ' '\n' | grep -v '^-$' | sort -u | tr '\n' ' ')
    "$EPSCOPE" check --json "$f" >"$T/out.json" 2>"$T/err"
    rc=$?
    got=$(grep -o '"id":"[a-z-]*"' "$T/out.json" | cut -d'"' -f4 | sort -u | tr '\n' ' ')
    echo "$file: want [$want] got [$got] (exit $rc)"
    [ "$got" = "$want" ] || fail "$file: check gives [$got], the lesson names [$want]"
    errors=$(grep -o '"errors":[0-9]*' "$T/out.json" | cut -d: -f2)
    if [ "$errors" -eq 0 ]; then [ $rc -eq 0 ] || fail "$file: exit $rc with no error"
    else [ $rc -eq 1 ] || fail "$file: exit $rc with $errors errors, expected 1"; fi
    # the same trace as Chrome trace-event JSON: valid, one marked instant per finding
    "$EPSCOPE" dump --chrome "$f" >"$T/c.json" || fail "$file: dump --chrome failed"
    nf=$(grep -o '"id":"' "$T/out.json" | wc -l)
    python3 - "$T/c.json" "$nf" <<'PY' || fail "$file: bad Chrome JSON"
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
waits = [e for e in ev if e["ph"] == "X" and e["name"] == "epoll_wait"]
marks = [e for e in ev if e["ph"] == "i" and e.get("s") == "g"]
assert waits, "no epoll_wait spans"
assert len(marks) == int(sys.argv[2]), "%d diagnosis marks, %s findings" % (len(marks), sys.argv[2])
PY
done <"$dir/lessons.txt"
[ $n -ge 8 ] || fail "only $n lessons"

# What docs/lab.md's answers say about these traces holds (the modes traces' EPOLLOUT
# path among it): a trace recorded again cannot make an answer silently false.
T=$T EPSCOPE=$EPSCOPE python3 "$(dirname "$0")/lab_answers.py" "$dir" ||
    fail "an answer of docs/lab.md does not hold on the shipped traces"

# traces/README.md's keys for fault-no-drain reach the empty wait it describes
expect_status 0 "$EPSCOPE" view --snapshot 1 --size 80x24 --keys dnnn "$dir/fault-no-drain.ept"
out_has '^.  31 .* epoll_wait\(timeout=500, max=256\) = 0 '
out_has ' 80 KiB unread$'
echo ok
