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
    grep -q "^### .*$file" "$dir/README.md" || fail "$file has no paragraph in traces/README.md"
    want=$(echo "$ids" | tr ' ' '\n' | grep -v '^-$' | sort -u | tr '\n' ' ')
    "$EPSCOPE" check --json "$f" >"$T/out.json" 2>"$T/err"
    rc=$?
    got=$(grep -o '"id":"[a-z-]*"' "$T/out.json" | cut -d'"' -f4 | sort -u | tr '\n' ' ')
    echo "$file: want [$want] got [$got] (exit $rc)"
    [ "$got" = "$want" ] || fail "$file: check gives [$got], the lesson names [$want]"
    if [ -z "$want" ]; then [ $rc -eq 0 ] || fail "$file: exit $rc for a correct run"
    else [ $rc -eq 1 ] || fail "$file: exit $rc, expected 1"; fi
done <"$dir/lessons.txt"
[ $n -ge 8 ] || fail "only $n lessons"
echo ok
