# it_backend_load.sh - epscope backend and epscope load against each other, and checked
# with curl and raw sockets: body sizes, keep-alive, pipelining, half-close, slow reads,
# --close, --delay, failures and usage errors.
. "$(dirname "$0")/lib.sh"

L="$EPSCOPE load"

# sha256 of a URL fetched with curl, and of what a backend with these options sends.
curl_sum() { bounded 30 curl -sf "$1" | sha256sum | cut -d' ' -f1; }
body_sum() { "$EPSCOPE" backend "$@" --print-body | sha256sum | cut -d' ' -f1; }

step "usage: --help exits 0, bad options exit 2"
expect_status 0 "$EPSCOPE" backend --help
out_has '^ *--listen ADDR:PORT'
expect_status 0 "$EPSCOPE" load --help
out_has '^ *--slow-read'
expect_status 2 "$EPSCOPE" backend --listen 127.0.0.1:0 --bogus
expect_status 2 "$EPSCOPE" backend --listen 127.0.0.1:0 --size lots
expect_status 2 "$EPSCOPE" backend --size 10 --body x --listen 127.0.0.1:0
expect_status 2 "$EPSCOPE" backend
expect_status 2 "$EPSCOPE" load http://127.0.0.1:1/ --bogus
expect_status 2 "$EPSCOPE" load ftp://127.0.0.1:1/
expect_status 2 "$EPSCOPE" load http://127.0.0.1:1/ --requests 0

step "the pattern: printable, no short period, the same from --print-body"
"$EPSCOPE" backend --size 4096 --print-body >"$T/p4k"
[ "$(wc -c <"$T/p4k")" -eq 4096 ] || fail "--print-body wrote the wrong size"
LC_ALL=C grep -q '[^A-Za-z0-9.-]' "$T/p4k" && fail "pattern has characters outside [A-Za-z0-9.-]"
# a shifted copy must differ: compare bytes [0,2048) with [k,k+2048) for small k
for k in 1 2 3 4 8 16 32 64 128 256 512 1024; do
    cmp -s <(head -c 2048 "$T/p4k") <(tail -c +$((k + 1)) "$T/p4k" | head -c 2048) &&
        fail "pattern repeats with period $k"
done

step "13-byte default body: load and curl"
start B1 "$EPSCOPE" backend --listen 127.0.0.1:0
[ "$(bounded 10 curl -sf "http://$B1_ADDR/")" = "Hello, world!" ] ||
    fail "curl: wrong default body"
bounded 10 curl -sfi "http://$B1_ADDR/" -o "$T/h" || fail "curl failed"
grep -q '^X-Backend: 127.0.0.1:'"$B1_PORT" "$T/h" || fail "no X-Backend: ADDR header"
grep -q '^X-Body: text' "$T/h" || fail "no X-Body: text header"
grep -q '^Content-Length: 13' "$T/h" || fail "no Content-Length: 13"
expect_status 0 $L "http://$B1_ADDR/" -n 200 -c 4 --expect-body 'Hello, world!'
out_has '^requests: 200 ok, 0 failed in [0-9.]+s \([0-9]+ req/s\)$'
out_has '^latency: p50 [0-9.]+ms p90 [0-9.]+ms p99 [0-9.]+ms max [0-9.]+ms$'
out_has '^bytes: 2600 body bytes verified$'
out_has "^backend 127.0.0.1:$B1_PORT: 200$"

step "wrong --expect-size and --expect-body fail with exit 1"
expect_status 1 $L "http://$B1_ADDR/" -n 10 --expect-size 12
out_has '^requests: 0 ok, 10 failed'
out_has '^failures: size 10$'
expect_status 1 $L "http://$B1_ADDR/" -n 3 -k --expect-body 'Hello, World!'
out_has '^failures: body 3$'

step "keep-alive, concurrency 50, and a throughput figure"
expect_status 0 $L "http://$B1_ADDR/" -n 50000 -c 50 -k
out_has '^requests: 50000 ok, 0 failed'
echo "   throughput: $(head -n 1 "$LAST_OUT")"

step "keep-alive with 1000 connections"
expect_status 0 $L "http://$B1_ADDR/" -n 5000 -c 1000 -k
out_has '^requests: 5000 ok, 0 failed'

step "one connection per request, and half-close"
expect_status 0 $L "http://$B1_ADDR/" -n 500 -c 10
out_has '^requests: 500 ok, 0 failed'
expect_status 0 $L "http://$B1_ADDR/" -n 200 -c 10 --half-close
out_has '^requests: 200 ok, 0 failed'

step "pipelining: 16 requests per write, answered in order"
expect_status 0 $L "http://$B1_ADDR/" -n 3200 -c 10 --pipeline 16 --expect-body 'Hello, world!'
out_has '^requests: 3200 ok, 0 failed'
expect_status 0 $L "http://$B1_ADDR/" -n 64 -c 2 --pipeline 8 --half-close
out_has '^requests: 64 ok, 0 failed'

step "raw requests: pipelined in one write, HTTP/1.0 closes, garbage gets 400"
exec 3<>"/dev/tcp/127.0.0.1/$B1_PORT"
{
    printf 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n'
    printf 'POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'
    printf 'GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
} >&3
bounded 5 cat <&3 >"$T/raw" || fail "pipelined raw requests: no EOF after Connection: close"
exec 3<&-
[ "$(grep -o 'HTTP/1.1 200 OK' "$T/raw" | wc -l)" -eq 3 ] ||
    fail "3 pipelined requests, not 3 responses"
[ "$(grep -o 'Hello, world!' "$T/raw" | wc -l)" -eq 3 ] ||
    fail "3 pipelined requests, not 3 bodies"
exec 3<>"/dev/tcp/127.0.0.1/$B1_PORT"
printf 'GET / HTTP/1.0\r\n\r\n' >&3
bounded 5 cat <&3 >"$T/raw" || fail "HTTP/1.0: connection not closed after the response"
exec 3<&-
grep -q 'Hello, world!$' "$T/raw" || fail "HTTP/1.0: no body"
exec 3<>"/dev/tcp/127.0.0.1/$B1_PORT"
printf 'this is not http\r\n\r\n' >&3
bounded 5 cat <&3 >"$T/raw" || fail "garbage: connection not closed"
exec 3<&-
grep -q '^HTTP/1.1 400' "$T/raw" || fail "garbage: no 400"
head -c 20000 /dev/zero | tr '\0' 'a' >"$T/big"
exec 3<>"/dev/tcp/127.0.0.1/$B1_PORT"
{ printf 'GET / HTTP/1.1\r\nX-Big: '; cat "$T/big"; } >&3 2>/dev/null
bounded 5 cat <&3 >"$T/raw" 2>/dev/null
exec 3<&-
grep -q '^HTTP/1.1 400' "$T/raw" || fail "head over 16 KiB: no 400"
exec 3<>"/dev/tcp/127.0.0.1/$B1_PORT"
printf 'HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n' >&3
bounded 5 cat <&3 >"$T/raw" || fail "HEAD then GET: connection not closed"
exec 3<&-
[ "$(grep -o 'HTTP/1.1 200 OK' "$T/raw" | wc -l)" -eq 2 ] || fail "HEAD then GET: not 2 responses"
[ "$(grep -o 'Hello, world!' "$T/raw" | wc -l)" -eq 1 ] || fail "HEAD answered with a body"
# the backend still serves after all that
expect_status 0 $L "http://$B1_ADDR/" -n 10
stop B1 || fail "backend exited with status $? on SIGTERM"

step "1-byte body"
start B2 "$EPSCOPE" backend --listen 127.0.0.1:0 --size 1 --name one
expect_status 0 $L "http://$B2_ADDR/" -n 100 -c 5 -k --expect-size 1
out_has '^bytes: 100 body bytes verified$'
out_has '^backend one: 100$'
[ "$(curl_sum "http://$B2_ADDR/")" = "$(body_sum --size 1)" ] || fail "curl: 1-byte body differs"

step "1 MiB body: load, curl, slow-read"
start B3 "$EPSCOPE" backend --listen 127.0.0.1:0 --size 1m
expect_status 0 $L "http://$B3_ADDR/" -n 40 -c 4 -k --expect-size 1m
out_has '^bytes: 41943040 body bytes verified$'
[ "$(curl_sum "http://$B3_ADDR/")" = "$(body_sum --size 1m)" ] || fail "curl: 1 MiB body differs"
expect_status 0 $L "http://$B3_ADDR/" -n 2 -c 2 --slow-read 2m --expect-size 1m
out_has '^requests: 2 ok, 0 failed in ([0-9]*[1-9][0-9]*\.|0\.[4-9])'
out_has '^bytes: 2097152 body bytes verified$'

step "64 MiB body: load and curl"
start B4 "$EPSCOPE" backend --listen 127.0.0.1:0 --size 64m
expect_status 0 $L "http://$B4_ADDR/" -n 2 -c 2 --expect-size 64m
out_has '^bytes: 134217728 body bytes verified$'
[ "$(curl_sum "http://$B4_ADDR/")" = "$(body_sum --size 64m)" ] || fail "curl: 64 MiB body differs"
stop B4 || fail "64 MiB backend exited with status $?"

step "--close: every connection closed after its response"
start B5 "$EPSCOPE" backend --listen 127.0.0.1:0 --close --body 'bye'
expect_status 0 $L "http://$B5_ADDR/" -n 200 -c 10 -k --expect-body bye
out_has '^requests: 200 ok, 0 failed'
bounded 10 curl -sfi "http://$B5_ADDR/" -o "$T/h" || fail "curl --close failed"
grep -qi '^Connection: close' "$T/h" || fail "--close: no Connection: close header"
exec 3<>"/dev/tcp/127.0.0.1/$B5_PORT"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&3
bounded 5 cat <&3 >"$T/raw" || fail "--close: connection stayed open"
exec 3<&-

step "--delay 200: p50 at least 200 ms"
start B6 "$EPSCOPE" backend --listen 127.0.0.1:0 --delay 200
expect_status 0 $L "http://$B6_ADDR/" -n 10 -c 10 -k
p50=$(awk '/^latency:/ { sub("ms", "", $3); print $3 }' "$LAST_OUT")
awk -v p="$p50" 'BEGIN { exit !(p >= 200 && p < 2000) }' || fail "--delay 200 gave p50 ${p50}ms"

step "--timeout: a delay longer than the timeout fails the request"
expect_status 1 $L "http://$B6_ADDR/" -n 2 --timeout 50
out_has '^failures: timeout 2$'

step "a body without Content-Length ends when the server closes (RFC 9112 6.3); chunked is refused"
DRIVE=$(dirname "$0")/progs/drive.py
start B8 python3 "$DRIVE" backend --body-size 100000 --linger-ms 20
expect_status 0 $L "http://$B8_ADDR/" -n 20 -c 4 --expect-size 100000
out_has '^bytes: 2000000 body bytes verified$'
expect_status 1 $L "http://$B8_ADDR/" -n 3 --expect-size 99999
out_has '^failures: size 3$'
grep -q '100000 body bytes before the server closed' "$LAST_ERR" || fail "no size detail"
# pipelined behind a response that ends at close: the one after it cannot be answered
expect_status 1 $L "http://$B8_ADDR/" -n 2 --pipeline 2
out_has '^requests: 1 ok, 1 failed'
out_has '^failures: closed 1$'
stop B8
start B9 python3 "$DRIVE" backend --linger-ms 3000
expect_status 1 $L "http://$B9_ADDR/" -n 1 --timeout 300
out_has '^failures: timeout 1$'
stop B9
cat >"$T/chunked.py" <<'EOF'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept(); c.recv(4096)
    c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    c.close()
EOF
start B10 python3 "$T/chunked.py"
expect_status 1 $L "http://$B10_ADDR/" -n 2
out_has '^failures: no-length 2$'
kill "$B10_PID"
# interim responses (RFC 9110 15.2) come before the final one: load skips them; in one
# segment with the final response, and in a segment of their own
cat >"$T/interim.py" <<'EOF'
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
n = 0
while True:
    c, _ = s.accept(); c.recv(4096); n += 1
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if n % 2:
        time.sleep(0.05)  # most likely a read of its own (either way the client must cope)
    c.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
              b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
    c.close()
EOF
start B11 python3 "$T/interim.py"
expect_status 0 $L "http://$B11_ADDR/" -n 4 --expect-body hello
out_has '^requests: 4 ok, 0 failed'
kill "$B11_PID"

step "a closed port: every request fails, exit 1"
start B7 "$EPSCOPE" backend --listen 127.0.0.1:0
port=$B7_PORT
stop B7 || fail "backend exited with status $?"
expect_status 1 $L "http://127.0.0.1:$port/" -n 5
out_has '^requests: 0 ok, 5 failed in [0-9.]+s$' # no rate, no latency: no request was answered
grep -q '^latency:' "$LAST_OUT" && fail "latencies printed for requests that all failed"
out_has '^failures: connect 5$'

step "--wait: a server that starts late is waited for; one that never does fails after it"
expect_status 2 $L "http://127.0.0.1:$port/" --wait 0
expect_status 2 $L "http://127.0.0.1:$port/" --wait 601
expect_status 1 $L "http://127.0.0.1:$port/" -n 5 --wait 0.3
err_has "127.0.0.1:$port: Connection refused \(after waiting 0\.3[0-9]*s for it to listen\)"
$L "http://127.0.0.1:$port/" -n 5 --wait 20 >"$T/wait.out" 2>"$T/wait.err" &
wp=$!
_LIB_PIDS="$_LIB_PIDS $wp"
wait_for grep -q 'refused the connection; trying again for 20s' "$T/wait.err" ||
    fail "load --wait said nothing of the refused connection: $(cat "$T/wait.err")"
$L "http://127.0.0.1:$port/" -n 5 --wait 20 >"$T/wait2.out" 2>"$T/wait2.err" &
wp2=$!
_LIB_PIDS="$_LIB_PIDS $wp2"
wait_for grep -q 'refused the connection' "$T/wait2.err" || fail "the second load --wait is silent"
kill -TERM "$wp2"
wait "$wp2"
rc=$?
[ $rc -eq 1 ] || fail "load --wait ended by SIGTERM: exit $rc, not 1 (the run failed)"
grep -q "interrupted after waiting [0-9.]*s for 127.0.0.1:$port to listen" "$T/wait2.err" ||
    fail "load --wait ended by SIGTERM does not say so: $(cat "$T/wait2.err")"
start B7 "$EPSCOPE" backend --listen "127.0.0.1:$port"
wait "$wp" || fail "load --wait failed once the backend listened: $(cat "$T/wait.err")"
grep -q '^requests: 5 ok, 0 failed' "$T/wait.out" || fail "load --wait: $(cat "$T/wait.out")"
stop B7 || fail "backend exited with status $?"

step "every backend exits 0 on SIGTERM"
for b in B2 B3 B5 B6; do
    stop $b || fail "$b exited with status $? on SIGTERM: $(tail -n 5 "$T/$b.err")"
done

echo "all backend/load checks passed"
