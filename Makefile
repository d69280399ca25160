# syncspool - a crash-safe spool of data-sync jobs.
#
#   make            build syncspoold and syncspool here
#   make run        build, then run the daemon in the foreground on ./spool
#   make test       unit and system tests, then all of them again under
#                   AddressSanitizer and UBSan
#   make install    PREFIX, DESTDIR
#
# Objects go to $(B) (default build/); the sanitizer pass uses build-asan/.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man

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
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(B)/libsyncspool.a $(LDFLAGS) \
		$(LIBS) $(CMOCKA_LIBS)

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
	SYNCSPOOLD=$(CURDIR)/$(B)/syncspoold SYNCSPOOL=$(CURDIR)/$(B)/syncspool \
		prove -j2 tests/sys/*.t

ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

asan-test:
	$(MAKE) B=build-asan OPT="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" check

test: deps
	$(MAKE) check
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(MAKE) asan-test

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8
	install -m 755 syncspoold $(DESTDIR)$(SBINDIR)/
	install -m 755 syncspool $(DESTDIR)$(BINDIR)/
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 man/*.8 $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/syncspoold $(DESTDIR)$(BINDIR)/syncspool
	cd man && for m in *.[158]; do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m; done

clean:
	rm -rf build build-asan $(PROGS)
