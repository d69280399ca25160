# syncspool - a crash-safe spool of data-sync jobs.
#
#   make            build syncspoold and syncspool here
#   make run        build, then run the daemon in the foreground on ./spool
#   make test       unit and system tests, then all of them again under
#                   AddressSanitizer and UBSan
#   make install    PREFIX, DESTDIR, SYSCONFDIR, LOCALSTATEDIR (see install:)
#   make uninstall  the same variables
#   make bench      the performance figures (tests/bench/README.md)
#   make crashtest  the long crash loop: 2,000 jobs, 100 kills
#   make fuzz       each fuzzer for FUZZ_SECONDS (make test runs 30 s each)
#   make check-valgrind  the system tests with the daemon under memcheck
#
# Objects go to $(B) (default build/); the sanitizer pass uses build-asan/.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
SPOOLDIR ?= $(LOCALSTATEDIR)/spool/syncspool
PKGLIBDIR ?= $(PREFIX)/lib/syncspool
HANDLERDIR ?= $(PKGLIBDIR)/handlers
DOCDIR ?= $(PREFIX)/share/doc/syncspool
EXAMPLEDIR ?= $(DOCDIR)/examples
# systemd reads /usr/local/lib/... as well as /usr/lib/..., so these follow
# PREFIX.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d

B ?= build
CC ?= cc
PKGS = yaml-0.1 lmdb jansson
OPT ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wformat=2 -Wno-format-nonliteral
CFLAGS ?= $(OPT)
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(XCFLAGS) \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

LIB_SRC = $(filter-out src/syncspoold.c src/syncspool.c,$(wildcard src/*.c))
LIB_OBJ = $(LIB_SRC:src/%.c=$(B)/%.o)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(B)/%)
HDR = $(wildcard src/*.h)

PROGS = syncspoold syncspool

.PHONY: all deps run test unit systest check asan-test clean install uninstall

all: $(PROGS)

# The top-level programs are copies of the ones built in $(B), so that
# `make B=build-asan` never overwrites them.
syncspoold: $(B)/syncspoold
	cp $< $@
syncspool: $(B)/syncspool
	cp $< $@

$(B)/syncspoold: $(B)/syncspoold.o $(B)/libsyncspool.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LIBS)
$(B)/syncspool: $(B)/syncspool.o $(B)/libsyncspool.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LIBS)

$(B)/libsyncspool.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/%.o: src/%.c $(HDR) | $(B)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/test_%: tests/unit/test_%.c $(B)/libsyncspool.a $(HDR) | $(B)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Isrc -o $@ $< $(B)/libsyncspool.a \
		$(LDFLAGS) $(LIBS) $(CMOCKA_LIBS)

$(B):
	mkdir -p $@

deps:
	@sh contrib/deps.sh

# deps first, in its own step: the pkg-config flags above are read when
# make starts, so the build runs in a make started after the install.
run: deps
	@$(MAKE) --no-print-directory all
	./syncspoold -c etc/syncspool.yaml

# One pass: unit tests, then the system tests against the binaries in $(B).
check: $(B)/syncspoold $(B)/syncspool $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "# $$t"; $$t; done
	SYNCSPOOLD=$(abspath $(B))/syncspoold SYNCSPOOL=$(abspath $(B))/syncspool \
		prove -j2 -f tests/sys/*.t

ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

asan-test:
	$(MAKE) B=build-asan OPT="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" check

test: deps
	$(MAKE) check
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(MAKE) asan-test
	$(MAKE) fuzz-smoke

# The system tests again with the daemon under valgrind's memcheck:
# SYNCSPOOLD is a wrapper written to $(B) that execs valgrind on the real
# binary. Memcheck runs with -q, so it prints nothing but errors and
# definite or indirect leaks: tests/sys/lib.sh fails a test whose daemon
# log holds such a report, and --error-exitcode makes the daemon's exit
# status say so too. Valgrind is some 20 times slower, so every wait_for
# limit is stretched by TIMEOUT_SCALE. Valgrind 3.19 (Debian bookworm)
# has no pidfd_open(2) ("unhandled amd64-linux syscall: 434"), without
# which no handler starts; the wrapper preloads a shim that takes each
# handler's pidfd from clone(CLONE_PIDFD) instead, and asks a helper
# outside valgrind for the pidfd of a handler adopted after a restart
# (tests/valgrind/).
VALGRIND ?= valgrind
VALGRIND_FLAGS = -q --tool=memcheck --leak-check=full --error-exitcode=99 \
	--errors-for-leak-kinds=definite,indirect \
	--show-leak-kinds=definite,indirect --child-silent-after-fork=yes
VALGRIND_TIMEOUT_SCALE ?= 10
VG_DIR = $(abspath $(B))

.PHONY: check-valgrind

$(B)/libpidfd_shim.so: tests/valgrind/pidfd_shim.c | $(B)
	$(CC) -std=gnu11 $(WARN) -O1 -g -fPIC -shared -o $@ $< -ldl
$(B)/pidfd-helper: tests/valgrind/pidfd_helper.c | $(B)
	$(CC) -std=gnu11 $(WARN) -O1 -g -o $@ $<

$(B)/syncspoold-valgrind: $(B)/syncspoold $(B)/libpidfd_shim.so \
		$(B)/pidfd-helper Makefile
	printf '%s\n' '#!/bin/sh' \
		'# Written by make check-valgrind: syncspoold under memcheck.' \
		'PIDFD_HELPER=$(VG_DIR)/pidfd-helper \' \
		'LD_PRELOAD=$(VG_DIR)/libpidfd_shim.so$${LD_PRELOAD:+:$$LD_PRELOAD} \' \
		'	exec $(VALGRIND) $(VALGRIND_FLAGS) $(VG_DIR)/syncspoold "$$@"' >$@
	chmod +x $@

check-valgrind: $(B)/syncspoold-valgrind $(B)/syncspool
	SYNCSPOOLD=$(VG_DIR)/syncspoold-valgrind SYNCSPOOL=$(VG_DIR)/syncspool \
	TIMEOUT_SCALE=$(VALGRIND_TIMEOUT_SCALE) prove -j2 tests/sys/*.t

# What install puts in place. The programs are taken from $(B), not the
# top-level copies, so that a test (tests/sys/install.t) or a package
# build can name the binaries it has built: SYNCSPOOLD_BIN=... .
SYNCSPOOLD_BIN ?= $(B)/syncspoold
SYNCSPOOL_BIN ?= $(B)/syncspool
HANDLERS = contrib/handlers/demo contrib/handlers/webhook
MAN_PAGES = $(wildcard man/*.1 man/*.5 man/*.7 man/*.8)
CONF = $(SYSCONFDIR)/syncspool/syncspool.yaml

# The default config, made to work from where it is installed: the tree's
# relative spool and handler paths become the install's.
CONFIG_SED = sed -e 's|\.\./spool|$(SPOOLDIR)|g' \
	-e 's|\.\./contrib/handlers/|$(HANDLERDIR)/|g'
# The contrib/systemd files are written for the default install; these
# put in the paths of this one.
SYSTEMD_SED = sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' \
	-e 's|/etc/syncspool/|$(SYSCONFDIR)/syncspool/|g' \
	-e 's|/var/spool/syncspool|$(SPOOLDIR)|g'

# The config in $(SYSCONFDIR) is written only when there is none: an
# admin's edits are never overwritten. The default of this version is
# always in $(EXAMPLEDIR) to compare with. The spool itself is created by
# systemd-tmpfiles from the installed tmpfiles.d entry, not here.
install: $(SYNCSPOOLD_BIN) $(SYNCSPOOL_BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(HANDLERDIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(EXAMPLEDIR) $(DESTDIR)$(SYSCONFDIR)/syncspool \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(SYSUSERSDIR)
	install -m 755 $(SYNCSPOOLD_BIN) $(DESTDIR)$(SBINDIR)/syncspoold
	install -m 755 $(SYNCSPOOL_BIN) $(DESTDIR)$(BINDIR)/syncspool
	for m in $(MAN_PAGES); do \
		install -d $(DESTDIR)$(MANDIR)/man$${m##*.} && \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/ || exit 1; \
	done
	install -m 755 $(HANDLERS) $(DESTDIR)$(HANDLERDIR)/
	install -m 644 contrib/sftp/README.md $(DESTDIR)$(DOCDIR)/sftp-drop-box.md
	$(CONFIG_SED) etc/syncspool.yaml >$(DESTDIR)$(EXAMPLEDIR)/syncspool.yaml
	chmod 644 $(DESTDIR)$(EXAMPLEDIR)/syncspool.yaml
	@if [ -e $(DESTDIR)$(CONF) ]; then \
		echo "install: kept $(DESTDIR)$(CONF) as it is; this" \
		     "version's default is $(DESTDIR)$(EXAMPLEDIR)/syncspool.yaml"; \
	else \
		echo "install -m 644 $(DESTDIR)$(EXAMPLEDIR)/syncspool.yaml $(DESTDIR)$(CONF)"; \
		install -m 644 $(DESTDIR)$(EXAMPLEDIR)/syncspool.yaml \
			$(DESTDIR)$(CONF); \
	fi
	$(SYSTEMD_SED) contrib/systemd/syncspoold.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/syncspoold.service
	$(SYSTEMD_SED) contrib/systemd/syncspool.tmpfiles \
		>$(DESTDIR)$(TMPFILESDIR)/syncspool.conf
	$(SYSTEMD_SED) contrib/systemd/syncspool.sysusers \
		>$(DESTDIR)$(SYSUSERSDIR)/syncspool.conf
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/syncspoold.service \
		$(DESTDIR)$(TMPFILESDIR)/syncspool.conf \
		$(DESTDIR)$(SYSUSERSDIR)/syncspool.conf

# Removes what install put, but the config only while it is the default
# that was installed (the copy in $(EXAMPLEDIR)): an edited one is kept,
# and so is the spool with its jobs and history. Directories go when
# empty.
uninstall:
	@conf=$(DESTDIR)$(CONF); ex=$(DESTDIR)$(EXAMPLEDIR)/syncspool.yaml; \
	if [ -e "$$conf" ]; then \
		if [ -e "$$ex" ] && cmp -s "$$conf" "$$ex"; then \
			echo "rm -f $$conf"; rm -f "$$conf"; \
		else \
			echo "uninstall: kept $$conf: it is not the default" \
		     "that was installed"; \
		fi; \
	fi
	rm -f $(DESTDIR)$(SBINDIR)/syncspoold $(DESTDIR)$(BINDIR)/syncspool
	for m in $(MAN_PAGES); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; done
	for h in $(HANDLERS); do rm -f $(DESTDIR)$(HANDLERDIR)/$${h##*/}; done
	rm -f $(DESTDIR)$(EXAMPLEDIR)/syncspool.yaml \
		$(DESTDIR)$(DOCDIR)/sftp-drop-box.md \
		$(DESTDIR)$(SYSTEMDUNITDIR)/syncspoold.service \
		$(DESTDIR)$(TMPFILESDIR)/syncspool.conf \
		$(DESTDIR)$(SYSUSERSDIR)/syncspool.conf
	@for d in $(DESTDIR)$(HANDLERDIR) $(DESTDIR)$(PKGLIBDIR) \
		$(DESTDIR)$(EXAMPLEDIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(SYSCONFDIR)/syncspool; do \
		rmdir "$$d" 2>/dev/null || :; done

clean:
	rm -rf build build-asan $(PROGS)

# make bench: the performance figures of issue 6 (tests/bench/README.md).
# Not part of `make test`: it takes up to ~15 minutes. Everything is built
# with -O2 into build-bench/; the results are printed and written as JSON
# to build-bench/bench-<date>.json. `make bench-profile` runs smaller
# bursts under perf, callgrind and strace (tests/bench/profile.sh).
BENCH_B = build-bench
BENCH_PROGS = floor handler-stamp handler-persist fill-history

.PHONY: bench bench-build bench-profile

bench:
	@$(MAKE) --no-print-directory B=$(BENCH_B) OPT="-O2 -g" bench-build
	SYNCSPOOLD=$(CURDIR)/$(BENCH_B)/syncspoold \
	SYNCSPOOL=$(CURDIR)/$(BENCH_B)/syncspool BENCH_BIN=$(CURDIR)/$(BENCH_B) \
		bash tests/bench/run.sh

bench-profile:
	@$(MAKE) --no-print-directory B=$(BENCH_B) OPT="-O2 -g" bench-build
	SYNCSPOOLD=$(CURDIR)/$(BENCH_B)/syncspoold \
	SYNCSPOOL=$(CURDIR)/$(BENCH_B)/syncspool BENCH_BIN=$(CURDIR)/$(BENCH_B) \
		bash tests/bench/profile.sh

bench-build: $(B)/syncspoold $(B)/syncspool $(BENCH_PROGS:%=$(B)/%)

$(B)/floor: tests/bench/floor.c | $(B)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS) -llmdb
$(B)/handler-stamp: tests/bench/handler-stamp.c | $(B)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS)
$(B)/handler-persist: tests/bench/handler-persist.c | $(B)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS)
$(B)/fill-history: tests/bench/fill-history.c $(B)/libsyncspool.a $(HDR) | $(B)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(B)/libsyncspool.a $(LDFLAGS) $(LIBS)

# ---- reliability (issue 5): fault injection, crash loop, fuzzing ----

# tests/sys/faults.t preloads this shim into the daemon to make renames,
# fsyncs and LMDB commits fail (tests/fault/inject.c). It is built
# without $(CFLAGS) and $(LDFLAGS), so that the sanitizer pass does not
# tie it to ASan's runtime.
$(B)/libinject.so: tests/fault/inject.c | $(B)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) -O2 -g -fPIC -shared -o $@ $< -ldl
check: $(B)/libinject.so
check-valgrind: $(B)/libinject.so

# tests/sys/powerloss.t preloads this one to journal the daemon's renames
# and directory fsyncs and keep a copy of data.mdb as of its last durable
# commit; tests/fault/powercut then undoes what a power loss would have
# lost (tests/fault/powerloss.c). Built like libinject.so.
$(B)/libpowerloss.so: tests/fault/powerloss.c | $(B)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) -O2 -g -fPIC -shared -o $@ $< -ldl
check: $(B)/libpowerloss.so
check-valgrind: $(B)/libpowerloss.so

# tests/sys/loop.t preloads this one to make the daemon miss inotify
# events, which only the periodic rescan then finds (tests/fault/deaf.c).
# Built like libinject.so.
$(B)/libdeaf.so: tests/fault/deaf.c | $(B)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) -O2 -g -fPIC -shared -o $@ $< -ldl
check: $(B)/libdeaf.so
check-valgrind: $(B)/libdeaf.so

# make crashtest: tests/sys/crashloop.t at full length, the daemon killed
# 100 times (make test kills it 20 times).
CRASH_JOBS ?= 2000
CRASH_KILLS ?= 100

.PHONY: crashtest
crashtest: $(B)/syncspoold $(B)/syncspool
	CRASH_JOBS=$(CRASH_JOBS) CRASH_KILLS=$(CRASH_KILLS) \
	SYNCSPOOLD=$(abspath $(B))/syncspoold SYNCSPOOL=$(abspath $(B))/syncspool \
		prove -v tests/sys/crashloop.t

# make fuzz: each libFuzzer harness in tests/fuzz/ (job_parse,
# config_parse, the LMDB record decoders) for FUZZ_SECONDS, after its
# regression cases and its seeds (tests/fuzz/run.sh says what it does
# with a crash). make fuzz-smoke, a step of make test, runs each for
# FUZZ_SMOKE_SECONDS, and is skipped, with a message, without clang.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_DIR = $(B)/fuzz
FUZZ_HARNESSES = job config record
FUZZ_BIN = $(FUZZ_HARNESSES:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_OBJ = $(patsubst %,$(FUZZ_DIR)/%.o,job yamlev util config record)
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined \
	$(shell pkg-config --cflags yaml-0.1 2>/dev/null)

.PHONY: fuzz fuzz-build fuzz-smoke
# The objects are kept: they are only named in the pattern rule below.
.SECONDARY: $(FUZZ_OBJ)

$(FUZZ_DIR):
	mkdir -p $@
$(FUZZ_DIR)/%.o: src/%.c $(HDR) | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ) $(HDR) | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Isrc -o $@ $< \
		$(FUZZ_OBJ) $(shell pkg-config --libs yaml-0.1 2>/dev/null)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	sh tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

fuzz-smoke:
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory fuzz \
			FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS); \
	else \
		echo "fuzz-smoke: $(FUZZ_CC) not found: the fuzzers are skipped"; \
	fi

