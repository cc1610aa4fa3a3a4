#!/bin/sh
# deps.sh - installs what epscope needs to build and test, or says exactly how to.
missing=""
need_pc() { pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need_cmd cc gcc
need_cmd make make
need_cmd pkg-config pkg-config
if command -v pkg-config >/dev/null 2>&1; then
    need_pc ncursesw libncurses-dev
    need_pc cmocka libcmocka-dev
else
    missing="$missing libncurses-dev libcmocka-dev"
fi
need_cmd curl curl
need_cmd tmux tmux
need_cmd timeout coreutils
need_cmd python3 python3
# real programs nobody here wrote, recorded and checked by the suite (tests/it_record.sh)
need_cmd nginx nginx-light
need_cmd redis-server redis-server
need_cmd redis-benchmark redis-tools
need_cmd haproxy haproxy
need_cmd node nodejs
need_cmd strace strace
need_cmd wrk wrk
need_cmd ab apache2-utils
# `make fuzz`: libFuzzer comes with clang
[ -n "${NEED_CLANG:-}" ] && need_cmd clang clang
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq $missing >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null; } ||
        { echo "apt-get could not install:$missing" >&2; exit 1; }
    exit 0
fi
echo "epscope needs:$missing" >&2
echo "run: sudo apt-get install -y$missing" >&2
exit 1
