#!/usr/bin/env bash
# it_story.sh - the origin's narrative: `proxy --story` live and `dump --story` from the
# trace tell the same story, healthy and broken (the mis-trigger's extra empty read).
. "$(dirname "$0")/lib.sh"

start ORIGIN "$EPSCOPE" backend --listen 127.0.0.1:0 --close --name origin
for fault in none mistrigger; do
    step "edge-oneshot, fault $fault"
    extra=(); [ $fault = none ] || extra=(--fault "$fault")
    start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode edge-oneshot --backend "$ORIGIN_ADDR" \
        --story --preview 256 --trace "$T/$fault.ept" "${extra[@]}"
    # The extra EPOLLIN needs the backend's FIN to arrive before the proxy waits again, a
    # race the origin lost most of the time; `backend --close` sends its last bytes and the
    # FIN in one segment, so every one of ten requests shows it.
    bodies=""
    for i in 1 2 3 4 5 6 7 8 9 10; do bodies="$bodies|$(curl -s -m 5 "http://$P_ADDR/")"; done
    stop P
    grep -v '^epscope proxy' "$T/P.err" >"$T/live-$fault.txt"
    expect_status 0 "$EPSCOPE" dump --story "$T/$fault.ept"
    diff "$T/live-$fault.txt" "$LAST_OUT" || fail "$fault: dump --story differs from the live story"
    cat "$LAST_OUT"
    c=$(grep -c '^Received incoming data on socket' "$LAST_OUT")
    grep -q '^Hello, world!$' "$LAST_OUT" || fail "$fault: the response is not told"
    grep -Eq '^Closing connection with client and backend server on socket [0-9]+ and [0-9]+$' \
        "$LAST_OUT" || fail "$fault: no closing line"
    if [ $fault = none ]; then
        [ "$c" -eq 20 ] || fail "healthy: $c 'Received' lines for 10 requests, expected 20"
        grep -q '^Read Data: $' "$LAST_OUT" && fail "healthy: an empty read was told as data"
        [ "$bodies" = "$(printf '|Hello, world!%.0s' 1 2 3 4 5 6 7 8 9 10)" ] ||
            fail "healthy: the clients got '$bodies'"
    else
        [ "$c" -eq 30 ] || fail "broken: $c 'Received' lines for 10 requests, expected 30"
        grep -q '^Read Data: $' "$LAST_OUT" || fail "broken: no empty 'Read Data:' line"
        [ "$bodies" = "||||||||||" ] || fail "broken: the clients got '$bodies', not ten empty bodies"
        expect_status 1 "$EPSCOPE" check "$T/$fault.ept"
        out_has '^error mis-trigger: '
    fi
done
expect_status 2 "$EPSCOPE" dump --story --json "$T/none.ept"
echo ok
