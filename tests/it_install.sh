#!/usr/bin/env bash
# it_install.sh - `make install` and `make uninstall` into a temporary DESTDIR: the binary,
# the recorder library (PREFIX/lib/epscope) and the man page land under PREFIX (and
# MANPREFIX), the installed binary runs and `record` finds the installed library, the page
# renders, and uninstall removes them all. The recursive make only copies the binary under test: it gets
# the same SANITIZER as the build that made $EPSCOPE, so an up-to-date tree is not rebuilt.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
bin=$(readlink -f "$EPSCOPE")
[ -x "$bin" ] || fail "no epscope binary at $EPSCOPE"

# The build directory decides the flags: build/ plain, build-san/ with sanitizers. Under
# `make SANITIZER=... test` the value comes down in MAKEFLAGS; run by hand, name it.
san=()
case $bin in
"$ROOT"/build-san/epscope)
    case " ${MAKEFLAGS:-} " in
    *" SANITIZER="*) ;;
    *) san=(SANITIZER="${SANITIZER:-address,undefined}") ;;
    esac ;;
"$ROOT"/build/epscope)
    case " ${MAKEFLAGS:-} " in *" SANITIZER="?*) fail "SANITIZER set for a plain build" ;; esac ;;
*) echo "epscope under test ($bin) is not this tree's build: nothing to install"; exit 77 ;;
esac

# mk TARGET VARS...: make in the repository root, output in $T/make.out
mk() {
    bounded 120 make --no-print-directory -C "$ROOT" "${san[@]}" "$@" >"$T/make.out" 2>&1 ||
        { cat "$T/make.out"; fail "make $*"; }
    cat "$T/make.out"
}

# installed DIR: the binary and the page are there, as the binary under test and the page
installed() {
    local prefix=$1 man=$2
    [ -x "$prefix/bin/epscope" ] || fail "no $prefix/bin/epscope"
    [ "$(stat -c %a "$prefix/bin/epscope")" = 755 ] || fail "bin/epscope is not mode 755"
    [ -f "$man/man1/epscope.1" ] || fail "no $man/man1/epscope.1"
    [ "$(stat -c %a "$man/man1/epscope.1")" = 644 ] || fail "epscope.1 is not mode 644"
    cmp -s "$man/man1/epscope.1" "$ROOT/docs/epscope.1" || fail "the installed page differs"
    if grep -Eq '^(CC|LD) ' "$T/make.out"; then
        echo "note: make install rebuilt something (the tree changed since the build)"
    else
        cmp -s "$prefix/bin/epscope" "$bin" || fail "the installed binary is not $bin"
    fi
    expect_status 0 "$prefix/bin/epscope" help
    out_has '^usage: epscope COMMAND'
    out_has '^  compare '
    expect_status 0 "$prefix/bin/epscope" version
    [ -f "$prefix/lib/epscope/libepscope-record.so" ] || fail "no lib/epscope/libepscope-record.so"
    [ "$(stat -c %a "$prefix/lib/epscope/libepscope-record.so")" = 755 ] ||
        fail "libepscope-record.so is not mode 755"
    # the installed record finds the installed library, wherever the prefix is
    (cd "$T" && expect_status 0 "$prefix/bin/epscope" record -o "$T/inst.ept" --force -- \
        sh -c 'exec 3<>/dev/null; true') || fail "the installed record failed"
    grep -q "cannot find" "$LAST_ERR" && fail "the installed record cannot find its library"
    rm -f "$T/inst.ept"
    if command -v man >/dev/null 2>&1; then
        MANWIDTH=80 man -l "$man/man1/epscope.1" >"$T/man.out" 2>"$T/man.err" ||
            fail "man -l failed: $(cat "$T/man.err")"
        [ -s "$T/man.err" ] && fail "man -l warns: $(cat "$T/man.err")"
        grep -q 'epscope compare' "$T/man.out" || fail "the rendered page lacks 'epscope compare'"
    fi
}

step "make install DESTDIR=... PREFIX=/usr"
D=$T/root
mk install DESTDIR="$D" PREFIX=/usr
installed "$D/usr" "$D/usr/share/man"
others=$(find "$D" -type f ! -path "$D/usr/bin/epscope" ! -path "$D/usr/share/man/man1/epscope.1" \
    ! -path "$D/usr/lib/epscope/libepscope-record.so")
[ -z "$others" ] || fail "install wrote other files: $others"

step "make uninstall with the same DESTDIR and PREFIX removes both"
mk uninstall DESTDIR="$D" PREFIX=/usr
[ -e "$D/usr/bin/epscope" ] && fail "uninstall left bin/epscope"
[ -e "$D/usr/share/man/man1/epscope.1" ] && fail "uninstall left man1/epscope.1"
[ -e "$D/usr/lib/epscope" ] && fail "uninstall left lib/epscope"
[ -z "$(find "$D" -type f)" ] || fail "files left: $(find "$D" -type f)"

step "default PREFIX /usr/local, MANPREFIX overridden"
D=$T/root2
mk install DESTDIR="$D"
installed "$D/usr/local" "$D/usr/local/share/man"
mk uninstall DESTDIR="$D"
[ -z "$(find "$D" -type f)" ] || fail "files left: $(find "$D" -type f)"
mk install DESTDIR="$D" PREFIX=/opt/epscope MANPREFIX=/opt/epscope/man
installed "$D/opt/epscope" "$D/opt/epscope/man"
mk uninstall DESTDIR="$D" PREFIX=/opt/epscope MANPREFIX=/opt/epscope/man
[ -z "$(find "$D" -type f)" ] || fail "files left: $(find "$D" -type f)"

step "the page renders without warnings"
if command -v groff >/dev/null 2>&1; then
    groff -man -Tutf8 -ww -z "$ROOT/docs/epscope.1" 2>"$T/groff.err" || fail "groff failed"
    [ -s "$T/groff.err" ] && fail "groff warns: $(cat "$T/groff.err")"
fi
if command -v mandoc >/dev/null 2>&1; then
    mandoc -T lint -W warning "$ROOT/docs/epscope.1" || fail "mandoc -T lint warns"
fi
echo ok
