#!/bin/sh
# deps.sh - installs what epscope needs, or says exactly how to.
#
# usage: deps.sh [--check] [build] [clang] [clang-format] [valgrind]
#   build          only what builds and runs epscope (for `make demo`); the default is
#                  that and everything the test suite uses
#   clang, clang-format, valgrind
#                  also these (for `make fuzz`, CI's second compiler and format check,
#                  `make valgrind`)
#   --check        install nothing: exit 1, silently, when something is missing
# Installs with apt-get when run as root and says what it installs; otherwise prints the
# one command to run and exits 1.
check=0 only_build=0 extra=""
for a in "$@"; do
    case $a in
    --check) check=1 ;;
    build) only_build=1 ;;
    clang|clang-format|valgrind) extra="$extra $a" ;;
    *) echo "deps.sh: unknown argument '$a'" >&2; exit 2 ;;
    esac
done
missing=""
need_pc() { pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need_cmd cc gcc
need_cmd make make
need_cmd pkg-config pkg-config
if command -v pkg-config >/dev/null 2>&1; then
    need_pc ncursesw libncurses-dev
    [ $only_build = 1 ] || need_pc cmocka libcmocka-dev
else
    missing="$missing libncurses-dev"
    [ $only_build = 1 ] || missing="$missing libcmocka-dev"
fi
if [ $only_build = 0 ]; then
    need_cmd curl curl
    need_cmd tmux tmux
    need_cmd timeout coreutils
    need_cmd python3 python3
    # real programs nobody here wrote, recorded and checked by the suite (tests/it_record.sh)
    need_cmd nginx nginx-light
    need_cmd redis-server redis-server
    need_cmd redis-benchmark redis-tools
    need_cmd haproxy haproxy
    need_cmd memcached memcached
    need_cmd lighttpd lighttpd
    need_cmd node nodejs
    need_cmd strace strace
    need_cmd wrk wrk
    need_cmd ab apache2-utils
fi
for x in $extra; do need_cmd "$x" "$x"; done
[ -z "$missing" ] && exit 0
[ $check = 1 ] && exit 1
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
