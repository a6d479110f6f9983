# xray-seg: X-Ray subsegments for shell scripts.
VERSION    = 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DATADIR   ?= $(PREFIX)/share
DESTDIR   ?=

CC        ?= cc
CFLAGS    ?= -O2 -g
WARNINGS   = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wpointer-arith \
             -Wstrict-prototypes -Wmissing-prototypes -Wvla
JSONC_CFLAGS != pkg-config --cflags json-c 2>/dev/null || true
# json-c is linked statically where its archive exists: one shared library
# fewer to load is start-up time saved on every call.
JSONC_LIBS   != if [ -f "$$(pkg-config --variable=libdir json-c 2>/dev/null)/libjson-c.a" ]; \
                then echo -Wl,-Bstatic -ljson-c -Wl,-Bdynamic; else echo -ljson-c; fi
XCFLAGS    = -std=c11 -D_GNU_SOURCE $(WARNINGS) -DVERSION='"$(VERSION)"' $(JSONC_CFLAGS)

# A static binary is the default: a call then starts as fast as an empty C
# program (no dynamic loader, no shared libraries to map, about half the peak
# memory), and it runs on any Linux of the same architecture. glibc resolves
# a daemon hostname through /etc/hosts and DNS itself; only other NSS modules
# (LDAP, mDNS) would need the build machine's glibc. libcurl is never linked:
# the api transport loads the system's with dlopen when it runs, which from a
# static binary works only with the glibc it was built against. STATIC=0 links
# dynamically (json-c still statically where its archive exists), the build
# to ship to other systems.
STATIC    ?= 1
LDLIBS     = -ldl
ifeq ($(STATIC),1)
LDFLAGS   += -static
XCFLAGS   += -DXRAY_SEG_STATIC
JSONC_LIBS = -ljson-c
LDLIBS     =
endif

BUILD     ?= build
BIN       ?= xray-seg
SRCS       = $(wildcard src/*.c)
OBJS       = $(SRCS:src/%.c=$(BUILD)/%.o)

BUILD_DEPS = gcc make pkg-config libc6-dev libjson-c-dev libcurl4-openssl-dev
TEST_DEPS  = zip unzip openssl bats bats-assert bats-support python3 python3-jsonschema jq mandoc shellcheck zsh fish cppcheck clang clang-tidy libclang-rt-dev valgrind strace
SANITIZE   = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
VALGRIND   = valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
             --errors-for-leak-kinds=definite

space := $(subst ,, )

.PHONY: all deps test-deps check asan valgrind fuzz aws-names bench layer install uninstall lint demo clean

all: $(BIN)

$(BIN): $(OBJS)
	@# glibc warns that a static getaddrinfo may need NSS modules: see STATIC above.
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(JSONC_LIBS) $(LDLIBS) 2>$(BUILD)/link.log || \
	    { cat $(BUILD)/link.log >&2; exit 1; }
	@grep -v -e "statically linked applications requires" -e ": in function" $(BUILD)/link.log >&2 || true

$(BUILD)/%.o: src/%.c src/*.h | $(BUILD)/.dir
	@pkg-config --exists json-c libcurl 2>/dev/null || $(MAKE) -s deps
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

$(BUILD)/.dir:
	mkdir -p $(BUILD) && touch $@

# The aws CLI's service and operation names, regenerated from the installed botocore.
aws-names:
	python3 src/gen-awsnames.py > src/awsnames.c.new && mv src/awsnames.c.new src/awsnames.c

# Install what is missing with apt-get when root; otherwise say the command and stop.
define need_packages
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing packages; run: sudo apt-get install$$missing" >&2; exit 1; \
	  fi; \
	fi
endef

deps:
	$(call need_packages,$(BUILD_DEPS))

test-deps:
	$(call need_packages,$(TEST_DEPS))

check: $(BIN) test-deps
	XRAY_SEG=$(CURDIR)/$(BIN) bats $(BATS_FLAGS) test

# The load test starts 2,000 calls; sanitized or under valgrind, 400 are enough.
asan:
	XS_LOAD_JOBS=40 $(MAKE) STATIC=0 BUILD=build/asan BIN=build/asan/xray-seg \
	    CFLAGS="-O1 -g $(SANITIZE)" LDFLAGS="$(SANITIZE)" check

# memcheck needs a dynamic binary: in a static one it cannot see malloc.
# Each call writes its report, if any, to a file of its own: the run fails
# when one is not empty, whatever the test that made the call checked. Every
# call costs about 12 times as much under it, so by default only the first
# call of each command in each test runs under it (test/helpers/valgrind-sample):
# every command of every test, once. VALGRIND_SAMPLE=0 checks every call;
# VALGRIND_TESTS picks files.
VALGRIND_TESTS  ?= test
VALGRIND_SAMPLE ?= 1
VALGRIND_LOGS   = $(CURDIR)/build/valgrind/reports
VALGRIND_RUN    = $(VALGRIND) --log-file=$(VALGRIND_LOGS)/%p
valgrind: test-deps
	$(MAKE) STATIC=0 BUILD=build/valgrind BIN=build/valgrind/xray-seg build/valgrind/xray-seg
	rm -rf $(VALGRIND_LOGS) && mkdir -p $(VALGRIND_LOGS)
	XRAY_SEG=$(CURDIR)/build/valgrind/xray-seg XS_LOAD_JOBS=40 \
	    $(if $(filter 0,$(VALGRIND_SAMPLE)),XRAY_SEG_WRAPPER="$(VALGRIND_RUN)", \
	    XS_VALGRIND="$(VALGRIND_RUN)" XRAY_SEG_WRAPPER=$(CURDIR)/test/helpers/valgrind-sample) \
	    bats $(BATS_FLAGS) $(VALGRIND_TESTS); rc=$$?; \
	n=$$(find $(VALGRIND_LOGS) -type f | wc -l); \
	bad=$$(find $(VALGRIND_LOGS) -type f -size +0); \
	echo "valgrind: $$n calls, $$(echo "$$bad" | grep -c .) with a report"; \
	if [ -n "$$bad" ]; then head -n 40 $$bad; exit 1; fi; exit $$rc

# libFuzzer targets for the parsers of outside input; FUZZ_SECONDS each, on
# the checked-in seed corpus (new finds go to build/fuzz/corpus-*).
FUZZ_SECONDS ?= 20
FUZZERS    = tracectx address segdoc awscli headers state
FUZZ_SRCS  = $(filter-out src/main.c src/cmd_%.c,$(SRCS))

fuzz:
	@mkdir -p build/fuzz
	@for f in $(FUZZERS); do \
	  clang -g -O1 -std=c11 -D_GNU_SOURCE -DVERSION='"$(VERSION)"' $(JSONC_CFLAGS) -fsanitize=fuzzer,address,undefined \
	    -o build/fuzz/$$f test/fuzz/fuzz_$$f.c $(FUZZ_SRCS) $(JSONC_LIBS) || exit 1; \
	  mkdir -p build/fuzz/corpus-$$f; \
	  echo "fuzz $$f: $(FUZZ_SECONDS) s"; \
	  build/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	    build/fuzz/corpus-$$f test/fuzz/corpus/$$f 2>build/fuzz/$$f.log || \
	    { tail -30 build/fuzz/$$f.log; exit 1; }; \
	  grep -E '^Done [0-9]+ runs' build/fuzz/$$f.log; \
	done

# clang-tidy: the analyzer and bugprone checks, less those that only restate
# the style here (snprintf/memcpy, !strcmp, char from toupper, va_list handed
# on: a known false positive of clang 14).
TIDY_CHECKS = -*,clang-analyzer-*,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,\
	-clang-analyzer-valist.Uninitialized,bugprone-*,-bugprone-easily-swappable-parameters,\
	-bugprone-reserved-identifier,-bugprone-narrowing-conversions,\
	-bugprone-implicit-widening-of-multiplication-result,-bugprone-suspicious-string-compare,\
	-bugprone-branch-clone,misc-redundant-expression,performance-*

lint:
	mandoc -T lint -W warning man/xray-seg.1
	shellcheck -s bash completions/xray-seg.bash test/test_helper.bash
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability -D_GNU_SOURCE src
	clang-tidy --quiet --warnings-as-errors='*' -checks='$(subst $(space),,$(TIDY_CHECKS))' \
	    src/*.c -- -std=c11 -D_GNU_SOURCE -DVERSION='"$(VERSION)"' $(JSONC_CFLAGS)

bench: $(BIN) test-deps
	$(call need_packages,hyperfine time)
	bench/bench.sh $(BENCH_FLAGS)

demo: $(BIN)
	@sh examples/demo.sh

# A Lambda layer: bin/xray-seg linked dynamically against glibc (what
# provided.al2023 has, 2.34), json-c inside, libcurl found at run time.
LAYER_DIR  ?= build/layer
LAYER_ARCH != uname -m
LAYER_ZIP  ?= build/xray-seg-layer-$(LAYER_ARCH).zip
GLIBC_MAX  = 2.34

layer:
	mkdir -p $(LAYER_DIR)/bin
	$(MAKE) STATIC=0 BUILD=$(LAYER_DIR)/obj BIN=$(LAYER_DIR)/bin/xray-seg \
	    $(LAYER_DIR)/bin/xray-seg
	@newest=$$(objdump -T $(LAYER_DIR)/bin/xray-seg | grep -o 'GLIBC_[0-9.]*' | \
	    sed 's/GLIBC_//' | sort -uV | tail -1); \
	if [ "$$(printf '%s\n%s\n' "$$newest" $(GLIBC_MAX) | sort -V | tail -1)" != $(GLIBC_MAX) ]; then \
	    echo "layer: needs glibc $$newest, newer than provided.al2023's $(GLIBC_MAX)" >&2; exit 1; fi; \
	echo "layer: glibc symbols up to $$newest (provided.al2023 has $(GLIBC_MAX))"
	rm -f $(LAYER_ZIP)
	cd $(LAYER_DIR) && zip -q -X -r $(abspath $(LAYER_ZIP)) bin
	@echo "layer: $(LAYER_ZIP), $$(wc -c <$(LAYER_ZIP)) bytes" \
	    "($$(wc -c <$(LAYER_DIR)/bin/xray-seg) bytes unpacked)"

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(DATADIR)/bash-completion/completions \
	    $(DESTDIR)$(DATADIR)/zsh/site-functions \
	    $(DESTDIR)$(DATADIR)/fish/vendor_completions.d
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/xray-seg
	install -m 644 man/xray-seg.1 $(DESTDIR)$(MANDIR)/man1/xray-seg.1
	install -m 644 completions/xray-seg.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/xray-seg
	install -m 644 completions/_xray-seg $(DESTDIR)$(DATADIR)/zsh/site-functions/_xray-seg
	install -m 644 completions/xray-seg.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/xray-seg.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/xray-seg $(DESTDIR)$(MANDIR)/man1/xray-seg.1 \
	    $(DESTDIR)$(DATADIR)/bash-completion/completions/xray-seg \
	    $(DESTDIR)$(DATADIR)/zsh/site-functions/_xray-seg \
	    $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/xray-seg.fish

clean:
	rm -rf build $(BIN)
