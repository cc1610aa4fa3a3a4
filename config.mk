# config.mk - build settings; override on the command line (make CC=clang PREFIX=/usr).
VERSION    = 0.1.0
PREFIX    ?= /usr/local
MANPREFIX ?= $(PREFIX)/share/man
LIBDIR    ?= $(PREFIX)/lib/epscope
CC        ?= cc
PKG_CONFIG ?= pkg-config

# ncursesw through pkg-config, with a fallback for systems without the .pc file. Each is
# asked once (:=), not on every use, unless given on the command line or in the environment.
ifeq ($(origin CURSES_CFLAGS),undefined)
CURSES_CFLAGS := $(shell $(PKG_CONFIG) --cflags ncursesw 2>/dev/null)
endif
ifeq ($(origin CURSES_LIBS),undefined)
CURSES_LIBS := $(shell $(PKG_CONFIG) --libs ncursesw 2>/dev/null || echo -lncursesw)
endif
ifeq ($(origin CMOCKA_CFLAGS),undefined)
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
endif
ifeq ($(origin CMOCKA_LIBS),undefined)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
endif

# SANITIZER=address,undefined builds everything with those sanitizers into build-san/.
SANITIZER ?=
# The optimisation level when CFLAGS does not choose one: CFLAGS comes after it, so a
# packager's CFLAGS (say -O3 or -Og) wins.
OPT       ?= -O2
# WERROR=1 turns warnings into errors: for CI and developers, who control the compiler; a
# packager's newer compiler may warn about what ours does not.
WERROR    ?=
