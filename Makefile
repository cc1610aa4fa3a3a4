# Makefile - builds the epscope binary, its tests and its benchmarks.
include config.mk

ifeq ($(SANITIZER),)
B       := build
SANFLAGS :=
else
B       := build-san
SANFLAGS := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
ifeq ($(WERROR),1)
WARN     += -Werror
endif
# What the project needs (EPS_*) comes first and the user's CPPFLAGS, CFLAGS and LDFLAGS
# after it, so that theirs win where the two disagree and ours survive when they set them.
EPS_CPPFLAGS := -D_GNU_SOURCE -DEPSCOPE_VERSION=\"$(VERSION)\" -DEPSCOPE_LIBDIR=\"$(LIBDIR)\" \
	-Isrc -Itui
EPS_CFLAGS   := -std=c11 -g $(OPT) $(WARN) $(SANFLAGS) -pthread
EPS_LDFLAGS  := $(SANFLAGS) -pthread
ALL_CPPFLAGS  = $(EPS_CPPFLAGS) $(CPPFLAGS)
ALL_CFLAGS    = $(EPS_CFLAGS) $(CFLAGS)
ALL_LDFLAGS   = $(EPS_LDFLAGS) $(LDFLAGS)
LDLIBS   += $(CURSES_LIBS) -lm

SRC      := $(wildcard src/*.c)
TUI      := $(wildcard tui/*.c)
LIBOBJ   := $(patsubst %.c,$(B)/%.o,$(filter-out src/main.c src/preload.c,$(SRC)) $(TUI))
# The recorder library that `epscope record` preloads into other programs: position-
# independent, only its interposed functions exported, and never sanitized (it runs inside
# programs that were not built with the sanitizer's runtime).
PRELOAD     := $(B)/libepscope-record.so
PRELOAD_SRC := src/preload.c src/ring.c src/crc32c.c src/ept.c
PRELOAD_OBJ := $(patsubst src/%.c,$(B)/pic/%.o,$(PRELOAD_SRC))
PICFLAGS    := -std=c11 -g $(OPT) $(WARN) -pthread
MAINOBJ  := $(B)/src/main.o
UNITS    := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_*.c))
# Fuzz targets (tests/fuzz_*.c): in the normal builds each is linked with a driver that
# replays its corpus (tests/fuzz/TARGET/, run by tests/it_fuzz_corpus.sh); `make fuzz`
# builds them with clang's libFuzzer into build-fuzz/fuzz/ and runs each for FUZZ_SECONDS.
FUZZ_SRC := $(filter-out tests/fuzz_driver.c,$(wildcard tests/fuzz_*.c))
FUZZ_REPLAY := $(patsubst tests/%.c,$(B)/tests/%,$(FUZZ_SRC))
FUZZ_BIN := $(patsubst tests/fuzz_%.c,$(B)/fuzz/%,$(FUZZ_SRC))
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
FUZZ_SECONDS ?= 60
BENCHES  := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/bench_*.c))
BIN      := $(B)/epscope
# Student-style epoll programs (tests/progs/): plain programs the suite records, built
# without sanitizers as a student would build them
PROGS    := $(patsubst tests/progs/%.c,$(B)/tests/progs/%,$(wildcard tests/progs/*.c))
PROGFLAGS := -std=c11 -g -O2 $(WARN) -pthread

.PHONY: all test check deps demo bench fuzz fuzzers valgrind tsan format install uninstall clean traces units

all: $(BIN) $(PRELOAD)
ifeq ($(SANITIZER),)
	@ln -sf $(BIN) epscope
endif

$(BIN): $(MAINOBJ) $(LIBOBJ)
	@echo "LD  $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# src/ never includes curses: only tui/ gets its flags
$(B)/src/%.o: src/%.c $(wildcard src/*.h) config.mk
	@mkdir -p $(@D)
	@echo "CC  $<"
	@$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# -fPIC and hidden visibility after the user's CFLAGS: a shared library needs them
$(B)/pic/%.o: src/%.c $(wildcard src/*.h) config.mk
	@mkdir -p $(@D)
	@echo "CC  $< (shared)"
	@$(CC) $(ALL_CPPFLAGS) $(PICFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(PRELOAD): $(PRELOAD_OBJ)
	@echo "LD  $@"
	@$(CC) -shared -pthread $(LDFLAGS) -o $@ $^ -ldl

$(B)/tui/%.o: tui/%.c $(wildcard src/*.h tui/*.h) config.mk
	@mkdir -p $(@D)
	@echo "CC  $<"
	@$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(CURSES_CFLAGS) -c -o $@ $<

# Per-test link flags. The tests of the event loops fake the system calls at link time
# (tests/fakesys.h: __wrap_read answers for read...). A wrap reaches only calls left
# unresolved in an object, which the loops' are: the code under test is linked as separate
# objects (LIBOBJ).
FAKESYS_LDFLAGS := -Wl,--wrap=read,--wrap=write,--wrap=send,--wrap=shutdown,--wrap=close \
	-Wl,--wrap=epoll_create1,--wrap=epoll_ctl,--wrap=epoll_wait,--wrap=epoll_pwait \
	-Wl,--wrap=signalfd,--wrap=accept4,--wrap=socket,--wrap=connect,--wrap=bind \
	-Wl,--wrap=listen,--wrap=open,--wrap=clock_gettime,--wrap=getsockopt \
	-Wl,--wrap=setsockopt,--wrap=getsockname
test_proxy_LDFLAGS := $(FAKESYS_LDFLAGS)
test_backend_LDFLAGS := $(FAKESYS_LDFLAGS)
test_load_LDFLAGS := $(FAKESYS_LDFLAGS)

$(B)/tests/%: tests/%.c $(LIBOBJ) $(wildcard tests/*.h)
	@mkdir -p $(@D)
	@echo "CC  $<"
	@$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Wno-missing-prototypes -o $@ $< \
		$(LIBOBJ) $(ALL_LDFLAGS) $($*_LDFLAGS) $(CMOCKA_LIBS) $(LDLIBS)

$(B)/tests/fuzz_%: tests/fuzz_%.c tests/fuzz_driver.c tests/fuzz.h $(LIBOBJ)
	@mkdir -p $(@D)
	@echo "CC  $< (replay driver)"
	@$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -o $@ $< tests/fuzz_driver.c $(LIBOBJ) $(ALL_LDFLAGS) \
		$(LDLIBS)

$(B)/fuzz/%: tests/fuzz_%.c tests/fuzz.h $(LIBOBJ)
	@mkdir -p $(@D)
	@echo "CC  $< (libFuzzer)"
	@$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -DEPSCOPE_LIBFUZZER -fsanitize=fuzzer -o $@ $< \
		$(LIBOBJ) $(ALL_LDFLAGS) $(LDLIBS)

fuzzers: $(FUZZ_BIN)

$(B)/tests/progs/%: tests/progs/%.c
	@mkdir -p $(@D)
	@echo "CC  $<"
	@$(CC) -D_GNU_SOURCE $(PROGFLAGS) -o $@ $<

units: $(BIN) $(PRELOAD) $(UNITS) $(PROGS) $(FUZZ_REPLAY)

# The one step that installs anything (apt-get as root, which it says it does; otherwise it
# prints the command to run). DEPS narrows or widens it: see .ci/deps.sh. demo, test,
# bench, valgrind and fuzz call it only when something is missing; `make` and
# `make install` never do.
DEPS ?=
deps:
	@sh .ci/deps.sh $(DEPS)

# need WHAT: make deps DEPS=WHAT unless everything in WHAT is already there
need = @sh .ci/deps.sh --check $(1) || $(MAKE) --no-print-directory deps DEPS="$(1)"

# The whole suite: every cmocka program and every integration script, each under a timeout.
test check:
	$(call need,)
	@$(MAKE) --no-print-directory units
	@EPSCOPE=$(CURDIR)/$(BIN) sh tests/run.sh $(B)

demo:
	$(call need,build)
	@$(MAKE) --no-print-directory all
	@./$(BIN) demo

bench:
	$(call need,)
	@$(MAKE) --no-print-directory all $(BENCHES)
	@EPSCOPE=$(CURDIR)/$(BIN) sh tests/bench.sh $(B)

# Fuzz every target for FUZZ_SECONDS under ASan+UBSan (clang's libFuzzer); fails on any
# crash, leak, hang or memory blow-up, and says how to keep the input as a regression test.
fuzz:
	$(call need,build clang)
	@$(MAKE) --no-print-directory B=build-fuzz CC=clang SANFLAGS="$(FUZZ_SAN)" fuzzers
	@sh tests/fuzz.sh build-fuzz $(FUZZ_SECONDS)

# The unit programs whose code runs threads (the ring and its flusher, the trace writer, the
# reader's checker thread, the replay over it) under ThreadSanitizer, in build-tsan.
TSAN_UNITS := test_ring test_trace test_replay
tsan:
	$(call need,)
	@$(MAKE) --no-print-directory B=build-tsan SANFLAGS="-fsanitize=thread" \
		$(TSAN_UNITS:%=build-tsan/tests/%)
	@for t in $(TSAN_UNITS); do \
		TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/$$t >build-tsan/$$t.log 2>&1 || \
			{ tail -40 build-tsan/$$t.log; echo "tsan: $$t failed"; exit 1; }; \
	done; echo "tsan: $(TSAN_UNITS): no data race"

# The lesson library: record every trace in traces/ again with this build.
traces: all
	@EPSCOPE=$(CURDIR)/$(BIN) bash traces/make-lessons.sh

valgrind:
	$(call need,valgrind)
	@$(MAKE) --no-print-directory units OPT=-O1
	@VALGRIND=1 EPSCOPE=$(CURDIR)/$(BIN) sh tests/run.sh $(B)

# Format the lines changed since the last commit (the tree predates .clang-format and is
# held to it by .ci/format-check, not reformatted wholesale).
format:
	git clang-format --extensions c,h

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANPREFIX)/man1 $(DESTDIR)$(LIBDIR)
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/epscope
	install -m 755 $(PRELOAD) $(DESTDIR)$(LIBDIR)/libepscope-record.so
	install -m 644 docs/epscope.1 $(DESTDIR)$(MANPREFIX)/man1/epscope.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/epscope $(DESTDIR)$(MANPREFIX)/man1/epscope.1
	rm -f $(DESTDIR)$(LIBDIR)/libepscope-record.so
	-rmdir $(DESTDIR)$(LIBDIR) 2>/dev/null

clean:
	rm -rf build build-san build-tsan build-fuzz epscope
