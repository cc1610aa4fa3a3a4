#!/usr/bin/env bash
# it_balance.sh - load balancing end to end: roundrobin spreads evenly, weights and
# leastconn behave as documented, hash is stable per client, random2 uses every backend.
. "$(dirname "$0")/lib.sh"

count() { awk -v b="$1" '$1 == "backend" && $2 == b":" {print $3}' "$LAST_OUT"; }

start B1 "$EPSCOPE" backend --listen 127.0.0.1:0 --name b1
start B2 "$EPSCOPE" backend --listen 127.0.0.1:0 --name b2
start B3 "$EPSCOPE" backend --listen 127.0.0.1:0 --name b3
start SLOW "$EPSCOPE" backend --listen 127.0.0.1:0 --name slow --delay 200

for mode in level edge edge-oneshot; do
    step "$mode: roundrobin over 3 backends spreads 300 requests 100/100/100"
    start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode "$mode" --balance roundrobin \
        --backend "$B1_ADDR" --backend "$B2_ADDR" --backend "$B3_ADDR"
    expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 300 -c 4
    [ "$(count b1)/$(count b2)/$(count b3)" = "100/100/100" ] ||
        fail "$mode: roundrobin gave $(count b1)/$(count b2)/$(count b3)"
    stop P
done

step "weights: 3:1 gives 300/100 of 400"
start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --backend "$B1_ADDR,weight=3" --backend "$B2_ADDR"
expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 400 -c 4
[ "$(count b1)/$(count b2)" = "300/100" ] || fail "weights gave $(count b1)/$(count b2)"
stop P

step "leastconn: a backend that answers in 200 ms gets few of 20 concurrent clients"
start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --balance leastconn --mode edge \
    --backend "$SLOW_ADDR" --backend "$B1_ADDR"
expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 400 -c 20
slow=$(count slow); fast=$(count b1)
echo "slow $slow, fast $fast"
# roundrobin would give 200/200; leastconn sends new connections where fewer are open
[ "${slow:-0}" -lt 100 ] && [ "$fast" -gt 300 ] || fail "leastconn gave slow $slow, fast $fast"
stop P

step "hash: one client address always reaches the same backend"
start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --balance hash --mode edge-oneshot \
    --backend "$B1_ADDR" --backend "$B2_ADDR" --backend "$B3_ADDR"
expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 90 -c 3
[ "$(grep -c '^backend ' "$LAST_OUT")" -eq 1 ] || fail "hash spread one client over backends"
first=$(grep '^backend ' "$LAST_OUT")
expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 30 -c 1 --keepalive
[ "$(grep '^backend ' "$LAST_OUT" | cut -d: -f1)" = "$(echo "$first" | cut -d: -f1)" ] ||
    fail "hash moved the client"
stop P

step "random2: every request succeeds and both backends serve"
start P "$EPSCOPE" proxy --listen 127.0.0.1:0 --balance random2 --backend "$B1_ADDR" \
    --backend "$B2_ADDR"
expect_status 0 "$EPSCOPE" load "http://$P_ADDR/" -n 200 -c 4
[ "$(count b1)" -gt 20 ] && [ "$(count b2)" -gt 20 ] || fail "random2 gave $(count b1)/$(count b2)"
stop P

step "IPv6 listener"
if curl -s -m 2 -g "http://[::1]:$B1_PORT/" >/dev/null 2>&1 || ip -6 addr show lo | grep -q '::1'; then
    start P "$EPSCOPE" proxy --listen '[::1]:0' --backend "$B1_ADDR"
    [ "$(curl -s -g "http://[::1]:$P_PORT/")" = "Hello, world!" ] || fail "IPv6 proxy"
    stop P
else
    echo "no IPv6 loopback here: skipped"
fi
echo ok
