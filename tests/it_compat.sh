#!/usr/bin/env bash
# it_compat.sh - traces written by earlier versions stay readable. tests/compat/1.0/ holds
# the lesson library as version 1.0 of the format wrote it (before records carried their
# thread and the recorder's types existed); tests/compat/1.1/ the modes lessons and the
# student programs recorded by `epscope record` as 1.1 wrote them (before close records
# carried the bytes left unread); tests/compat/1.2/ the lesson library as 1.2 wrote it
# (before the proxy noted what the kernel held when a handler stopped short). Each still
# opens, dumps exactly as it did then (dump.sha256, taken with that version; the small ones
# kept whole to show a difference), gives the diagnoses its list names, and exports to JSON
# and Chrome.
. "$(dirname "$0")/lib.sh"
for dir in "$(cd "$(dirname "$0")/compat" && pwd)"/*/; do
    ver=$(basename "$dir")
    step "format $ver"
    n=0
    while read -r file ids; do
        case $file in ''|'#'*) continue ;; esac
        n=$((n + 1))
        f="$dir/$file"
        [ -f "$f" ] || fail "$ver/$file is missing"
        base=${file%.ept}
        expect_status 0 "$EPSCOPE" dump "$f" || fail "$ver/$file: dump failed"
        if [ -f "$dir/$base.dump" ]; then
            diff -u "$dir/$base.dump" "$LAST_OUT" >"$T/diff" ||
                { head -20 "$T/diff"; fail "$ver/$file: dump differs from $ver's"; }
        fi
        want=$(grep " $base.dump\$" "$dir/dump.sha256" | cut -d' ' -f1)
        got=$(sha256sum <"$LAST_OUT" | cut -d' ' -f1)
        [ -n "$want" ] || fail "$ver/$file: no dump hash in dump.sha256"
        [ "$got" = "$want" ] || fail "$ver/$file: dump differs from $ver's (sha256 $got)"
        want=$(echo "$ids" | tr ' ' '\n' | grep -v '^-$' | sort -u | tr '\n' ' ')
        "$EPSCOPE" check --json "$f" >"$T/out.json" 2>"$T/err"
        rc=$?
        [ $rc -le 1 ] || { cat "$T/err"; fail "$ver/$file: check exit $rc"; }
        got=$(grep -o '"id":"[a-z-]*"' "$T/out.json" | cut -d'"' -f4 | sort -u | tr '\n' ' ')
        echo "$ver/$file: want [$want] got [$got]"
        [ "$got" = "$want" ] || fail "$ver/$file: check gives [$got], the lesson names [$want]"
        expect_status 0 "$EPSCOPE" dump --json "$f" || fail "$ver/$file: dump --json failed"
        expect_status 0 "$EPSCOPE" dump --chrome "$f" || fail "$ver/$file: dump --chrome failed"
    done <"$dir/lessons.txt"
    [ $n -ge 12 ] || fail "$ver: only $n traces"
done
echo ok
