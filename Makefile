# berth: build, install, test, demo, bench.
# `make` builds; `make demo` and `make check` first install missing Debian
# packages through scripts/deps.sh.

CC ?= gcc
PREFIX ?= /usr/local
DESTDIR ?=
BATS ?= bats

PKGS := jansson libcap libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -ljansson -lcap)
# jansson and libcap are linked statically by default: every container start
# pays for loading each shared object (~0.3 ms of a ~5 ms `run`).
STATIC_DEPS ?= 1
ifeq ($(STATIC_DEPS),1)
BERTH_LIBS := -Wl,-Bstatic $(PKG_LIBS) -Wl,-Bdynamic
else
BERTH_LIBS := $(PKG_LIBS)
endif

WARN := -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-missing-field-initializers
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fPIE \
          -fcf-protection
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(WARN) $(HARDEN) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
ALL_LDFLAGS := -pie -Wl,-z,relro,-z,now,-z,noexecstack $(LDFLAGS)

LIB_SRCS := $(wildcard common/*.c runtime/*.c netns/*.c cgroup/*.c seccomp/*.c)
CMD_SRCS := $(wildcard cmd/*.c)
UNIT_SRCS := $(wildcard tests/unit/*.c)

OBJ := build/obj
ASAN_OBJ := build/asan
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ)/%.o)
CMD_OBJS := $(CMD_SRCS:%.c=$(OBJ)/%.o)
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all deps install uninstall check unit integration parity asan lint format \
        format-check demo bench clean

all: berth

berth: $(LIB_OBJS) $(CMD_OBJS)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(BERTH_LIBS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

# ASan+UBSan build of the same sources (FORTIFY off: it hides bugs from ASan).
berth-asan: $(LIB_SRCS:%.c=$(ASAN_OBJ)/%.o) $(CMD_SRCS:%.c=$(ASAN_OBJ)/%.o)
	$(CC) $(ASAN_FLAGS) -pie -o $@ $^ $(PKG_LIBS)

$(ASAN_OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC asan $<"
	@$(CC) -std=gnu11 $(WARN) -fPIE -O1 -g $(ASAN_FLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

tests/unit/run_unit_asan: $(UNIT_SRCS) $(LIB_SRCS:%.c=$(ASAN_OBJ)/%.o)
	@echo "  LD asan $@"
	@$(CC) -std=gnu11 $(WARN) -fPIE -O1 -g $(ASAN_FLAGS) $(PKG_CFLAGS) -pie -o $@ $^ $(PKG_LIBS)

tests/unit/run_unit: $(UNIT_SRCS) $(LIB_OBJS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(UNIT_SRCS) $(LIB_OBJS) $(PKG_LIBS)

deps:
	@scripts/deps.sh test

install: berth
	install -D -m 0755 berth $(DESTDIR)$(PREFIX)/bin/berth

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/berth

# Unit tests, then the bats suite; ends with "N passed, N failed".
check: deps
	@$(MAKE) --no-print-directory berth tests/unit/run_unit
	@tests/run.sh

unit: tests/unit/run_unit
	@tests/unit/run_unit

integration: berth
	@tests/run.sh --integration-only

# The same bats files against runc (cases runc cannot do are skipped).
parity: deps
	@scripts/deps.sh parity
	@BERTH=runc tests/run.sh --integration-only

asan: deps
	@$(MAKE) --no-print-directory berth-asan tests/unit/run_unit_asan
	@UNIT=tests/unit/run_unit_asan BERTH=$(CURDIR)/berth-asan \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/run.sh

lint:
	@scripts/deps.sh lint
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem --inline-suppr -D__GNUC__ $(LIB_SRCS) $(CMD_SRCS)
	clang-tidy --quiet $(LIB_SRCS) $(CMD_SRCS) -- -std=gnu11 $(PKG_CFLAGS) -D_GNU_SOURCE 2>/dev/null

format:
	clang-format -i $(LIB_SRCS) $(CMD_SRCS) $(UNIT_SRCS) $(wildcard */*.h) tests/fixtures/*.c

format-check:
	clang-format --dry-run -Werror $(LIB_SRCS) $(CMD_SRCS) $(UNIT_SRCS) $(wildcard */*.h) tests/fixtures/*.c

demo: deps
	@$(MAKE) --no-print-directory berth
	@scripts/demo.sh

bench: deps
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory berth
	@bench/bench.sh

clean:
	rm -rf build berth berth-asan tests/unit/run_unit tests/unit/run_unit_asan

-include $(shell find build -name '*.d' 2>/dev/null)
