#!/usr/bin/env bash
# it_compare.sh - `epscope compare` on real traces: the same workload through a level, an
# edge and an edge-oneshot proxy, every figure of the table and of --json cross-checked
# against counts taken from `epscope dump` (and `epscope check` for the diagnoses); two and
# three columns, a faulty trace's diagnosis rows, usage errors and unusable files.
. "$(dirname "$0")/lib.sh"

SYSCALLS='epoll_create1|epoll_ctl|epoll_wait|listen|accept4|connect|getsockopt|read|write'
SYSCALLS="$SYSCALLS|shutdown|close"
REC='^ *[0-9]+ +[0-9]+\.[0-9]+  ' # seq and time, then the call (two spaces; events get four)

start B "$EPSCOPE" backend --listen 127.0.0.1:0 --size 100k
start CB "$EPSCOPE" backend --listen 127.0.0.1:0 --close

# trace NAME MODE BACKEND [PROXY_OPTS...]: one proxy, the same workload, stopped; $T/NAME.ept
# (each proxy gets its own start name: start reads NAME.out, which must be fresh).
trace() {
    local name=$1 mode=$2 be=$3
    shift 3
    step "trace $name: $mode proxy $*, load ${LOAD[*]}"
    start "P_$name" "$EPSCOPE" proxy --listen 127.0.0.1:0 --mode "$mode" --backend "$be" \
        --trace "$T/$name.ept" "$@"
    local addr_var="P_${name}_ADDR"
    bounded 30 "$EPSCOPE" load "http://${!addr_var}/" "${LOAD[@]}" >"$T/$name.load" 2>&1
    echo "load: $(head -n 1 "$T/$name.load")"
    stop "P_$name" || fail "$name: the proxy did not stop cleanly"
    "$EPSCOPE" dump "$T/$name.ept" >"$T/$name.dump" || fail "$name: dump failed"
}

LOAD=(-n 60 -c 5 --timeout 5000) # the same workload for the three modes: 100 KiB responses
trace level level "$B_ADDR"
trace edge edge "$B_ADDR"
trace oneshot edge-oneshot "$B_ADDR"
LOAD=(-n 10 -c 5 --timeout 1000) # the fault stalls every request until it times out
trace misfire edge-oneshot "$CB_ADDR" --fault mistrigger

# --- figures derived from dump output, the way a user would grep them ----------------------

d_count() { grep -Ec -- "$2" "$T/$1.dump"; }
d_sum() { # NAME CALL: sum of the non-negative results of CALL( lines
    grep -E -- "${REC}$2\(" "$T/$1.dump" | sed -nE 's/.*\) = ([0-9]+).*/\1/p' |
        awk '{s += $1} END {print s + 0}'
}
d_blocked_us() { # sum of the <s.us> of every epoll_wait line, in microseconds
    grep -E -- "${REC}epoll_wait\(" "$T/$1.dump" | sed -nE 's/.*<([0-9]+)\.([0-9]+)>$/\1 \2/p' |
        awk '{s += $1 * 1000000 + $2} END {print s + 0}'
}
d_duration_us() {
    awk 'NR == 1 {f = $2} {l = $2} END {printf "%d\n", (l - f) * 1000000 + 0.5}' "$T/$1.dump"
}
# Events whose handling did nothing: each ready event of an epoll_wait whose fd saw, before
# the next epoll_wait or the end of the trace, no read or write that moved bytes, no
# read() = 0, no accept4 other than EAGAIN, and no close (from the system calls alone).
d_wasted() {
    awk -v rec="$REC" '
        function judge(   i) { for (i = 0; i < n; i++) if (!(ev[i] in did)) w++; n = 0; delete did }
        $0 ~ rec "epoll_wait\\(" || / end of trace / { judge(); next }
        /^ *[0-9]+ +[0-9.]+    ready fd=/ { f = $0; sub(/.*ready fd=/, "", f); sub(/ .*/, "", f); ev[n++] = f; next }
        {
            if (match($0, rec "(read|write|accept4|close)\\([0-9]+")) {
                call = substr($0, RSTART, RLENGTH); fd = call; sub(/.*\(/, "", fd)
                if (call ~ /(read|write)\(/ && /\) = [0-9]+/ && !/\) = 0( |$)/) did[fd] = 1
                if (call ~ /read\(/ && /\) = 0( |$)/) did[fd] = 1
                if (call ~ /accept4\(/ && !/EAGAIN/) did[fd] = 1
                if (call ~ /close\(/) did[fd] = 1
            }
        }
        END { judge(); print w + 0 }' "$T/$1.dump"
}

declare -A WANT
derive() { # NAME: fill WANT[NAME,figure] from its dump and check output
    local n=$1
    WANT[$n,conns]=$(d_count "$n" "${REC}accept4\([0-9]+\) = [0-9]+")
    WANT[$n,bytes_read]=$(d_sum "$n" read)
    WANT[$n,bytes_written]=$(d_sum "$n" write)
    WANT[$n,waits]=$(d_count "$n" "${REC}epoll_wait\(")
    WANT[$n,events]=$(d_count "$n" '^ *[0-9]+ +[0-9.]+    ready fd=')
    WANT[$n,empty]=$(d_count "$n" "${REC}epoll_wait\(.*\) = 0 <")
    WANT[$n,add]=$(d_count "$n" "${REC}epoll_ctl\(ADD")
    WANT[$n,mod]=$(d_count "$n" "${REC}epoll_ctl\(MOD")
    WANT[$n,del]=$(d_count "$n" "${REC}epoll_ctl\(DEL")
    WANT[$n,reads]=$(d_count "$n" "${REC}read\(")
    WANT[$n,writes]=$(d_count "$n" "${REC}write\(")
    WANT[$n,eagain]=$(d_count "$n" '= -1 EAGAIN')
    WANT[$n,wasted]=$(d_wasted "$n")
    WANT[$n,syscalls]=$(d_count "$n" "${REC}($SYSCALLS)\(")
    WANT[$n,blocked_us]=$(d_blocked_us "$n")
    WANT[$n,duration_us]=$(d_duration_us "$n")
    "$EPSCOPE" check "$T/$n.ept" >"$T/$n.check"
    WANT[$n,mode]=$(sed -nE 's/.*\((.*) mode\)$/\1/p' "$T/$n.check")
    "$EPSCOPE" check --json "$T/$n.ept" >"$T/$n.checkjson" # check's text stops after 50
    WANT[$n,diagnoses]=$(grep -o '"id":"[a-z-]*"' "$T/$n.checkjson" | wc -l)
    echo "$n (from dump): mode ${WANT[$n,mode]}, conns ${WANT[$n,conns]}," \
        "waits ${WANT[$n,waits]}, events ${WANT[$n,events]}, MOD ${WANT[$n,mod]}," \
        "reads ${WANT[$n,reads]}, writes ${WANT[$n,writes]}, EAGAIN ${WANT[$n,eagain]}," \
        "wasted ${WANT[$n,wasted]}, syscalls ${WANT[$n,syscalls]}," \
        "diagnoses ${WANT[$n,diagnoses]}"
}
for n in level edge oneshot misfire; do derive "$n"; done
[ "${WANT[level,conns]}" -eq 60 ] || fail "level: ${WANT[level,conns]} connections, want 60"
[ "${WANT[oneshot,mod]}" -gt 0 ] || fail "edge-oneshot trace has no epoll_ctl(MOD"
[ "${WANT[misfire,diagnoses]}" -gt 0 ] || fail "the mistrigger trace has no diagnosis"

# cell LABEL COLUMN NCOLS: the value in the table row LABEL (from $LAST_OUT)
cell() {
    awk -v l="$1" -v c="$2" -v n="$3" \
        'substr($0, 1, length(l)) == l && substr($0, length(l) + 1, 2) == "  " {
            print $(NF - n + c); found = 1; exit }
         END { if (!found) print "MISSING" }' "$LAST_OUT"
}

# near GOT WANT TOLERANCE WHAT: |GOT - WANT| <= TOLERANCE (decimals allowed)
near() {
    awk -v g="$1" -v w="$2" -v t="$3" 'BEGIN { d = g - w; exit !(d <= t && -d <= t) }' ||
        fail "$4: $1, want $2 (within $3)"
}

# check_table NCOLS NAME...: every row of the last table against the dump-derived figures
check_table() {
    local ncols=$1 i=0 n
    shift
    for n in "$@"; do
        i=$((i + 1))
        local w
        eq() { [ "$(cell "$1" "$i" "$ncols")" = "$2" ] || fail "$n: row '$1' is" \
            "'$(cell "$1" "$i" "$ncols")', dump says '$2'"; }
        eq "trace" "$n.ept"
        eq "mode" "${WANT[$n,mode]}"
        eq "client connections" "${WANT[$n,conns]}"
        eq "bytes read" "${WANT[$n,bytes_read]}"
        eq "bytes written" "${WANT[$n,bytes_written]}"
        eq "epoll_wait calls" "${WANT[$n,waits]}"
        eq "events returned" "${WANT[$n,events]}"
        eq "empty waits (0 events)" "${WANT[$n,empty]}"
        eq "epoll_ctl ADD" "${WANT[$n,add]}"
        eq "epoll_ctl MOD" "${WANT[$n,mod]}"
        eq "epoll_ctl DEL" "${WANT[$n,del]}"
        eq "read calls" "${WANT[$n,reads]}"
        eq "write calls" "${WANT[$n,writes]}"
        eq "EAGAIN results" "${WANT[$n,eagain]}"
        eq "wasted events (nothing done)" "${WANT[$n,wasted]}"
        eq "syscalls" "${WANT[$n,syscalls]}"
        eq "diagnoses" "${WANT[$n,diagnoses]}"
        w=$(awk -v e="${WANT[$n,events]}" -v x="${WANT[$n,waits]}" \
            'BEGIN { printf "%.2f", x ? e / x : 0 }')
        eq "events per wait" "$w"
        w=$(awk -v a="${WANT[$n,add]}" -v m="${WANT[$n,mod]}" -v d="${WANT[$n,del]}" \
            -v c="${WANT[$n,conns]}" 'BEGIN { printf "%.2f", c ? (a + m + d) / c : 0 }')
        eq "epoll_ctl per connection" "$w"
        w=$(awk -v s="${WANT[$n,syscalls]}" -v c="${WANT[$n,conns]}" \
            'BEGIN { printf "%.1f", c ? s / c : 0 }')
        eq "syscalls per connection" "$w"
        # dump prints each wait's time truncated to the microsecond, the table rounds to ms
        near "$(cell "blocked in epoll_wait (s)" "$i" "$ncols")" \
            "$(awk -v u="${WANT[$n,blocked_us]}" 'BEGIN { print u / 1e6 }')" \
            "$(awk -v x="${WANT[$n,waits]}" 'BEGIN { print 0.0005 + x / 1e6 }')" \
            "$n: blocked in epoll_wait"
        near "$(cell "duration (s)" "$i" "$ncols")" \
            "$(awk -v u="${WANT[$n,duration_us]}" 'BEGIN { print u / 1e6 }')" 0.0006 \
            "$n: duration"
        # one row per diagnosis id, as check lists them
        local id
        for id in $(grep -o '"id":"[a-z-]*"' "$T/$n.checkjson" | cut -d'"' -f4 | sort -u); do
            eq "  $id" "$(grep -o "\"id\":\"$id\"" "$T/$n.checkjson" | wc -l)"
        done
    done
}

step "three columns: level, edge, edge-oneshot"
expect_status 0 "$EPSCOPE" compare "$T/level.ept" "$T/edge.ept" "$T/oneshot.ept"
cat "$LAST_OUT"
check_table 3 level edge oneshot
M='(level|edge|edge-oneshot)'
out_has "^$M (made|called|got|handled|hit) .*, $M [0-9.]+, $M [0-9.]+\\.\$"
grep -q '^  ' "$LAST_OUT" && fail "healthy traces show diagnosis rows"
closing=$(tail -n 1 "$LAST_OUT")

step "the closing line names the figure with the largest relative spread"
# recompute the rule from the dump figures: (max - min) / (max + floor) over the candidates
want_line=$(for n in level edge oneshot; do
    echo "$n ${WANT[$n,mode]} ${WANT[$n,conns]} ${WANT[$n,waits]} ${WANT[$n,events]}" \
        "$((WANT[$n,add] + WANT[$n,mod] + WANT[$n,del]))" "${WANT[$n,wasted]}" \
        "${WANT[$n,eagain]}"
done | awk '
    { lab[NR] = $2; c = $3
      v[1, NR] = $6 / c; v[2, NR] = $4 / c; v[3, NR] = $4 ? $5 / $4 : 0
      v[4, NR] = $7; v[5, NR] = $8 / c }
    END {
        verb[1] = "made %s epoll_ctl calls per connection"
        verb[2] = "called epoll_wait %s times per connection"
        verb[3] = "got %s events per epoll_wait"
        verb[4] = "handled %s events with nothing to do"
        verb[5] = "hit %s EAGAINs per connection"
        fl[1] = fl[2] = fl[3] = fl[5] = 0.5; fl[4] = 5
        best = 0; bs = 0.10
        for (m = 1; m <= 5; m++) {
            lo = hi = v[m, 1]
            for (i = 2; i <= NR; i++) {
                if (v[m, i] < lo) lo = v[m, i]
                if (v[m, i] > hi) hi = v[m, i]
            }
            s = hi > 0 ? (hi - lo) / (hi + fl[m]) : 0
            if (s >= bs) { best = m; bs = s }
        }
        if (!best) { print "no figure differs by 10% or more between these traces."; exit }
        for (i = 1; i <= NR; i++) o[i] = i
        for (i = 2; i <= NR; i++) for (j = i; j > 1 && v[best, o[j]] > v[best, o[j - 1]]; j--) {
            t = o[j]; o[j] = o[j - 1]; o[j - 1] = t }
        for (i = 1; i <= NR; i++) {
            x = v[best, o[i]]
            f = best == 4 ? sprintf("%.0f", x) : \
                (x != 0 && x < 0.95) ? sprintf("%.2f", x) : sprintf("%.1f", x)
            if (i == 1) { line = lab[o[1]] " "; vb = verb[best]; sub(/%s/, f, vb); line = line vb }
            else line = line ", " lab[o[i]] " " f
        }
        print line "."
    }')
[ "$closing" = "$want_line" ] || fail "closing line '$closing', want '$want_line'"

step "--json: the same figures"
expect_status 0 "$EPSCOPE" compare --json "$T/level.ept" "$T/edge.ept" "$T/oneshot.ept"
if command -v python3 >/dev/null 2>&1; then
    jget() { python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = d
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v))' "$LAST_OUT" "$@"; }
elif command -v jq >/dev/null 2>&1; then
    jget() { local p="" k; for k in "$@"; do case $k in [0-9]*) p="$p[$k]" ;;
        *) p="$p.\"$k\"" ;; esac; done; jq -r "$p" "$LAST_OUT"; }
else
    jget() { echo "note: neither python3 nor jq, --json not checked" >&2; return 77; }
fi
if jget traces >/dev/null; then
    i=0
    for n in level edge oneshot; do
        jeq() { local g; g=$(jget traces "$i" "$@" | tail -n 1)
            [ "$g" = "$J" ] || fail "$n: --json ${*}: '$g', dump says '$J'"; }
        J=$n.ept; [ "$(basename "$(jget traces $i file)")" = "$J" ] || fail "$n: --json file"
        J=${WANT[$n,mode]} jeq mode
        J=${WANT[$n,mode]} jeq label
        J=${WANT[$n,conns]} jeq connections
        J=${WANT[$n,bytes_read]} jeq bytes_read
        J=${WANT[$n,bytes_written]} jeq bytes_written
        J=${WANT[$n,waits]} jeq epoll_wait
        J=${WANT[$n,events]} jeq events
        J=${WANT[$n,empty]} jeq empty_waits
        J=${WANT[$n,add]} jeq epoll_ctl ADD
        J=${WANT[$n,mod]} jeq epoll_ctl MOD
        J=${WANT[$n,del]} jeq epoll_ctl DEL
        J=${WANT[$n,reads]} jeq reads
        J=${WANT[$n,writes]} jeq writes
        J=${WANT[$n,eagain]} jeq eagain
        J=${WANT[$n,wasted]} jeq wasted
        J=${WANT[$n,syscalls]} jeq syscalls
        J=0 jeq lost
        J=true jeq complete
        J="{}" jeq diagnoses
        near "$(jget traces $i blocked_ns)" "$((WANT[$n,blocked_us] * 1000))" \
            "$((WANT[$n,waits] * 1000 + 1000))" "$n: --json blocked_ns"
        near "$(jget traces $i duration_ns)" "$((WANT[$n,duration_us] * 1000))" 2000 \
            "$n: --json duration_ns"
        near "$(jget traces $i events_per_wait)" \
            "$(awk -v e="${WANT[$n,events]}" -v x="${WANT[$n,waits]}" 'BEGIN { print e / x }')" \
            0.0001 "$n: --json events_per_wait"
        i=$((i + 1))
    done
    [ "$(jget summary)" = "${closing%.}" ] || fail "--json summary '$(jget summary)'"
    jget differs_most | grep -Eq '^[a-z_]+$' || fail "--json differs_most"
fi

step "two columns, same mode: columns named by file, diagnosis rows from check"
expect_status 0 "$EPSCOPE" compare "$T/oneshot.ept" "$T/misfire.ept"
cat "$LAST_OUT"
check_table 2 oneshot misfire
out_has '^  mis-trigger +0 +[1-9][0-9]*$'
M='(oneshot|misfire)\.ept'
out_has "^$M (made|called|got|handled|hit) .*, $M [0-9.]+\\.\$"
expect_status 0 "$EPSCOPE" compare --json "$T/oneshot.ept" "$T/misfire.ept"
grep -q '"label":"misfire.ept"' "$LAST_OUT" || fail "--json label of a same-mode column"
grep -Eq '"diagnoses":\{"mis-trigger":[1-9]' "$LAST_OUT" || fail "--json diagnoses by id"

step "usage errors and unusable files: exit 2, one line"
expect_status 0 "$EPSCOPE" compare --help
out_has '^usage: epscope compare'
expect_status 2 "$EPSCOPE" compare "$T/level.ept"
expect_status 2 "$EPSCOPE" compare "$T/level.ept" "$T/edge.ept" "$T/oneshot.ept" "$T/level.ept"
expect_status 2 "$EPSCOPE" compare --bogus "$T/level.ept" "$T/edge.ept"
expect_status 2 "$EPSCOPE" compare "$T/level.ept" "$T/missing.ept"
[ "$(wc -l <"$LAST_ERR")" -eq 1 ] || fail "missing file: stderr is not one line"
grep -q 'missing\.ept' "$LAST_ERR" || fail "missing file: stderr does not name it"
[ -s "$LAST_OUT" ] && fail "missing file: something on stdout"
printf 'not a trace, only text\n' >"$T/text.ept"
expect_status 2 "$EPSCOPE" compare "$T/text.ept" "$T/level.ept"
[ "$(wc -l <"$LAST_ERR")" -eq 1 ] || fail "text file: stderr is not one line"
hsize=$(od -An -tu4 -j12 -N4 "$T/level.ept" | tr -d ' ') # the header's header_size field
head -c "$hsize" "$T/level.ept" >"$T/header-only.ept" # a header and no block
expect_status 2 "$EPSCOPE" compare "$T/level.ept" "$T/header-only.ept"
[ "$(wc -l <"$LAST_ERR")" -eq 1 ] || fail "header-only file: stderr is not one line"
cat "$LAST_ERR"

step "a torn trace compares what it has and says so"
size=$(stat -c %s "$T/edge.ept")
head -c $((size - 100)) "$T/edge.ept" >"$T/torn.ept"
expect_status 0 "$EPSCOPE" compare "$T/level.ept" "$T/torn.ept"
grep -q 'torn.ept: the trace ends early' "$LAST_ERR" || fail "torn: no warning"
echo "ok"
