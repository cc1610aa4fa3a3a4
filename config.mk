# config.mk - build settings; override on the command line (make CC=clang PREFIX=/usr).
VERSION    = 0.1.0
PREFIX    ?= /usr/local
MANPREFIX ?= $(PREFIX)/share/man
LIBDIR    ?= $(PREFIX)/lib/epscope
CC        ?= cc
PKG_CONFIG ?= pkg-config

# ncursesw through pkg-config, with a fallback for systems without the .pc file.
CURSES_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags ncursesw 2>/dev/null)
CURSES_LIBS   ?= $(shell $(PKG_CONFIG) --libs ncursesw 2>/dev/null || echo -lncursesw)
CMOCKA_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   ?= $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

# SANITIZER=address,undefined builds everything with those sanitizers into build-san/.
SANITIZER ?=
OPT       ?= -O2
