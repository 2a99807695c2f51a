# cdcsink - plain Makefile: pkg-config for the four libraries, strict
# warnings with -Werror, -MMD dependencies, variants in their own build dirs.
#
#   make              build ./cdcsink (build/release)
#   make test         install what is missing, build, run every test tier
#   make unit         unit tests only (no servers); tests/run.sh TIER runs one tier
#                     (unit integration chaos fuzz static)
#   make asan         unit + integration tests under ASan/UBSan
#   make fuzz         build the libFuzzer targets (clang); make fuzz-run runs
#                     each briefly, make fuzz-long for hours (FUZZ_SECONDS)
#   make coverage     unit tests with gcov counters
#   make bench        build the benchmarks; make bench-e2e runs bench/e2e
#   make demo         local stack + sample workload + verification
#   make stack-up / stack-down
#   make install PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := rdkafka yajl libpq hiredis
VARIANT ?= release
BUILD   := build/$(VARIANT)

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -Wpointer-arith -Wcast-qual \
        -Wwrite-strings -Wnull-dereference -Wundef -Wdouble-promotion \
        -Werror

ifeq ($(VARIANT),asan)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
       -fno-sanitize-recover=undefined
LDOPT := -fsanitize=address,undefined
else ifeq ($(VARIANT),coverage)
OPT := -O0 -g --coverage
LDOPT := --coverage
else
OPT := -O2 -g
LDOPT :=
endif

CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -I. $(OPT) $(WARN) $(PKG_CFLAGS) -MMD -MP
LDFLAGS += $(LDOPT)
LDLIBS  += $(PKG_LIBS) -lpthread -lm

MODULES  := common consumer/decode offsets schemas apply verify consumer consumer/cli
LIB_SRC  := $(filter-out consumer/cli/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/consumer/cli/main.o
BIN      := $(BUILD)/cdcsink

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
HARNESS_OBJ := $(BUILD)/tests/unit/harness.o
# C integration tests: same harness, need the servers named in CDC_TEST_* env
INTEG_SRC  := $(wildcard tests/integration/test_*.c)
INTEG_BIN  := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)

BENCH_SRC := $(wildcard bench/*/main.c)
BENCH_BIN := $(BENCH_SRC:bench/%/main.c=$(BUILD)/bench/%)

.PHONY: all build unit test asan asan-build fuzz fuzz-run fuzz-long coverage demo \
        stack-up stack-down stack-clean image-check install clean check-deps bench bench-e2e config-doc readme

all: cdcsink

cdcsink: $(BIN)
	@cp $(BIN) $@

build: $(BIN) $(UNIT_BIN) $(INTEG_BIN)

$(BIN): $(MAIN_OBJ) $(BUILD)/libcdcsink.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libcdcsink.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(HARNESS_OBJ) $(BUILD)/libcdcsink.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/integration/%: $(BUILD)/tests/integration/%.o $(HARNESS_OBJ) $(BUILD)/libcdcsink.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# bench objects live apart: build/VARIANT/bench/NAME is the binary itself
$(BUILD)/bench-obj/%/main.o: bench/%/main.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/bench/%: $(BUILD)/bench-obj/%/main.o $(BUILD)/libcdcsink.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: $(BENCH_BIN)

# end to end against the Debezium JDBC sink and raw COPY, on a private stack
# (bench/e2e/README.md); BENCH_EVENTS=100000 for a quick run
bench-e2e: $(BIN) $(BUILD)/bench/e2e
	@bench/e2e/run.sh

# ---- tests ----

unit:
	@CDC_VARIANT=$(VARIANT) tests/run.sh unit

check-deps:
	@docker/stack/stack.sh install

test: check-deps
	@tests/run.sh

asan:
	@$(MAKE) --no-print-directory VARIANT=asan build
	@CDC_VARIANT=asan tests/run.sh unit integration

# ---- fuzzing: every parser of outside input under libFuzzer + ASan/UBSan
# (clang). The library is built apart with fuzzer coverage; each
# tests/fuzz/fuzz_NAME.c is a target with its seeds in tests/fuzz/corpus/NAME/.
FUZZ_DIR   := build/fuzz
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_OBJ   := $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=address,undefined $(WARN) \
              $(PKG_CFLAGS)

fuzz: $(FUZZ_BIN)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/libcdcsink.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/libcdcsink.a
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lpthread -lm

# a short bounded run of each target (the test tier), or hours of each
# (FUZZ_SECONDS per target, default 3600)
fuzz-run: fuzz
	@tests/fuzz/run.sh $(FUZZ_BIN)

fuzz-long: fuzz
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-3600} tests/fuzz/run.sh $(FUZZ_BIN)

coverage:
	@CDC_VARIANT=coverage tests/run.sh unit

config-doc: $(BIN)
	@$(BIN) config-doc

readme: $(BIN)
	@tests/update-readme.sh $(BIN)

# ---- local stack and demo ----

stack-up:
	@docker/stack/stack.sh up

stack-down:
	@docker/stack/stack.sh down

stack-clean:
	@docker/stack/stack.sh down --purge

demo: check-deps
	@$(MAKE) --no-print-directory cdcsink
	@docker/demo/demo.sh

# the Dockerfile's runtime stage built with debootstrap + chroot (no engine)
image-check: cdcsink
	@docker/image-check.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/cdcsink

clean:
	rm -rf build cdcsink

-include $(shell find build -name '*.d' 2>/dev/null)
