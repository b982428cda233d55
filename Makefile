# berth: build, install, test, demo, bench.
# `make` builds; `make demo` and `make check` first install missing Debian
# packages through scripts/deps.sh.

CC ?= gcc
PREFIX ?= /usr/local
DESTDIR ?=
BATS ?= bats

PKGS := jansson libcap libseccomp libmnl libnftnl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -ljansson -lcap -lcrypto)
# jansson and libcap are linked statically by default: every container start
# pays for loading each shared object (~0.3 ms of a ~5 ms `run`).
# With STATIC_DEPS=1 (the default) berth is a static PIE: no dynamic loader
# at all, which saves ~1 ms per `run` (berth executes twice: once more from
# a read-only bind of itself, see runtime/selfexec.c).
STATIC_DEPS ?= 1
# Debian 12 has no libmnl.a: scripts/static-libmnl.sh provides one (see there).
MNL_A := build/deps/libmnl.a
ifeq ($(STATIC_DEPS),1)
BERTH_LIBS := -static-pie $(filter-out -lmnl,$(PKG_LIBS)) $(MNL_A)
BERTH_DEPS := $(MNL_A)
else
BERTH_LIBS := $(PKG_LIBS)
BERTH_DEPS :=
endif

WARN := -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-missing-field-initializers
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fPIE \
          -fcf-protection
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(WARN) $(HARDEN) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
ALL_LDFLAGS := -pie -Wl,-z,relro,-z,now,-z,noexecstack $(LDFLAGS)

# The part of image/ that berth runs itself (the overlay bundle of a cached
# image, image/bundle_overlay.c): jansson and libcrypto's SHA256 only; the
# rest of image/ is berth-image's (libcurl, libarchive).
IMAGE_CORE_SRCS := image/bundle_overlay.c image/config.c image/digest_text.c image/gc.c \
                   image/ref.c image/rootless.c image/store_read.c
LIB_SRCS := $(wildcard common/*.c runtime/*.c netns/*.c cgroup/*.c seccomp/*.c vm/*.c) \
            $(IMAGE_CORE_SRCS)
CMD_SRCS := $(wildcard cmd/*.c)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_HDRS := $(wildcard tests/unit/*.h)

OBJ := build/obj
ASAN_OBJ := build/asan
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ)/%.o)
CMD_OBJS := $(CMD_SRCS:%.c=$(OBJ)/%.o)
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all deps install uninstall check soak unit integration parity asan lint format registry-test \
        reliability \
        format-check demo bench bench-cri clean clients clients-parity fuzz fuzz-build image-tests image-test \
        vm-assets check-v2 bench-microvm

all: berth berth-image

berth: $(LIB_OBJS) $(CMD_OBJS) $(BERTH_DEPS)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $(LIB_OBJS) $(CMD_OBJS) $(BERTH_LIBS)

$(MNL_A):
	@scripts/static-libmnl.sh $@

# berth-test: the same sources with -DBERTH_TEST_HOOKS, for tests/reliability
# only: BERTH_TEST_KILL_AT makes it die at a named phase (common/testhook.h).
# Never installed.
TEST_OBJ := build/testhooks
berth-test: $(LIB_SRCS:%.c=$(TEST_OBJ)/%.o) $(CMD_SRCS:%.c=$(TEST_OBJ)/%.o) $(BERTH_DEPS)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(BERTH_LIBS)

$(TEST_OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC test $<"
	@$(CC) $(ALL_CFLAGS) -DBERTH_TEST_HOOKS -c -o $@ $<

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

# ASan+UBSan build of the same sources (FORTIFY off: it hides bugs from ASan);
# a test build, so it honours the fault-injection hooks as berth-test does.
berth-asan: $(LIB_SRCS:%.c=$(ASAN_OBJ)/%.o) $(CMD_SRCS:%.c=$(ASAN_OBJ)/%.o)
	$(CC) $(ASAN_FLAGS) -pie -o $@ $^ $(PKG_LIBS)

$(ASAN_OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC asan $<"
	@$(CC) -std=gnu11 $(WARN) -fPIE -O1 -g $(ASAN_FLAGS) $(PKG_CFLAGS) -DBERTH_TEST_HOOKS -MMD -MP -c -o $@ $<

tests/unit/run_unit_asan: $(UNIT_SRCS) $(UNIT_HDRS) $(LIB_SRCS:%.c=$(ASAN_OBJ)/%.o)
	@echo "  LD asan $@"
	@$(CC) -std=gnu11 $(WARN) -fPIE -O1 -g $(ASAN_FLAGS) $(PKG_CFLAGS) -pie -o $@ $(filter-out %.h,$^) $(PKG_LIBS)

tests/unit/run_unit: $(UNIT_SRCS) $(UNIT_HDRS) $(LIB_OBJS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(UNIT_SRCS) $(LIB_OBJS) $(PKG_LIBS)

# The registry source of image/ (issue #12), linked dynamically as
# berth-image will be (Debian 12 has no static libcurl); driven by
# tests/image/registry_test.sh against real registries on loopback.
REGISTRY_SRCS := image/registry.c image/registry_auth.c
REGISTRY_LIBS := $(shell pkg-config --libs libcurl libcrypto jansson 2>/dev/null || echo -lcurl -lcrypto -ljansson)

tests/image/registry_test: tests/image/registry_test.c $(REGISTRY_SRCS) $(wildcard image/*.h) \
                           $(wildcard common/*.c common/*.h)
	@echo "  LD      $@"
	@$(CC) -std=gnu11 $(WARN) $(HARDEN) $(PKG_CFLAGS) $(CFLAGS) $(ALL_LDFLAGS) -o $@ $< \
	  $(REGISTRY_SRCS) $(wildcard common/*.c) $(REGISTRY_LIBS)

# Needs docker-registry skopeo apache2-utils socat openssl (not yet in deps.sh).
registry-test: tests/image/registry_test
	@tests/image/registry_test.sh
# image/ is linked into berth-image, a dynamically linked executable
# (Debian 12 has no static libarchive/libcurl); until it exists only these
# test programs link its pieces. `make image-test` runs them (as root).
IMAGE_LIBS := -larchive -lcrypto -lpthread
UNPACK_OBJS := $(addprefix $(OBJ)/,image/unpack.o image/unpack_stream.o image/unpack_fs.o \
                 image/unpack_pipeline.o \
                 common/err.o common/fileutil.o)

tests/image/unpack_test: tests/image/unpack_test.c $(UNPACK_OBJS)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(IMAGE_LIBS) -lz

tests/image/unpack_layers: tests/image/unpack_layers.c $(UNPACK_OBJS)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(IMAGE_LIBS)

image-test: tests/image/unpack_test tests/image/unpack_layers
	@tests/image/unpack_test
	@tests/image/umoci_parity.sh

deps:
	@scripts/deps.sh test

# microVM guest (vm/guest): PID 1 of the guest, static, linked with
# berth's own cgroup/ code (which then runs on the guest's pure cgroup v2).
# `make vm-assets` puts it with Debian's cloud kernel and the modules it
# needs into an initramfs under VM_ASSETS_DIR, where berth looks by default.
VM_ASSETS_DIR ?= /var/cache/berth/vm
# The network inside the guest goes through netns/'s rtnetlink code.
GUEST_NET_SRCS := netns/iface.c netns/rtnl.c netns/nlmsg.c netns/config.c netns/loopback.c
GUEST_SRCS := $(wildcard vm/guest/*.c) vm/proto.c $(wildcard cgroup/*.c common/*.c) runtime/caps.c \
              $(GUEST_NET_SRCS)

build/vm/init: $(GUEST_SRCS) $(wildcard vm/*.h vm/guest/*.h cgroup/*.h common/*.h runtime/*.h \
               netns/*.h) $(MNL_A)
	@mkdir -p $(dir $@)
	@echo "  LD      $@ (static)"
	@$(CC) -std=gnu11 $(WARN) -D_FORTIFY_SOURCE=2 -fstack-protector-strong $(CFLAGS) -static \
	  -o $@ $(GUEST_SRCS) -ljansson -lcap $(MNL_A)

vm-assets: build/vm/init
	@scripts/vm-assets.sh build/vm/init $(VM_ASSETS_DIR)

# berth's cgroup integration tests inside a microVM on pure cgroup v2.
check-v2: deps berth vm-assets
	@scripts/check-v2.sh

# microVM cold start split into phases, against the linux backend.
bench-microvm: deps berth vm-assets
	@bench/microvm.sh


# image/ goes into berth-image, a separate dynamically linked executable
# (Debian 12 has no static libarchive/libcurl); berth itself stays static.
# The sources and store so far, and their test on fixtures built at test time.
IMAGE_SRC_SRCS := image/ref.c image/digest.c image/digest_text.c image/manifest.c image/store.c \
                  image/store_read.c image/source_local.c image/archive_extract.c
IMAGE_TEST_LIBS := -ljansson -larchive -lcrypto
IMAGE_TEST_OBJS := $(OBJ)/tests/image/source_test.o $(IMAGE_SRC_SRCS:%.c=$(OBJ)/%.o) \
                   $(patsubst %.c,$(OBJ)/%.o,$(wildcard common/*.c))

tests/image/source_test: $(IMAGE_TEST_OBJS)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(IMAGE_TEST_LIBS)

# berth-image: every image/ file, its CLI (cmd/image), the shared base and
# the default spec (bundle create). Installed beside berth, which runs it
# for pull, image and bundle.
BERTH_IMAGE_SRCS := $(wildcard image/*.c cmd/image/*.c common/*.c) runtime/spec_default.c \
                    seccomp/profile.c
BERTH_IMAGE_LIBS := $(shell pkg-config --libs jansson libarchive libcurl libcrypto 2>/dev/null || \
                      echo -ljansson -larchive -lcurl -lcrypto) -lpthread

berth-image: $(BERTH_IMAGE_SRCS:%.c=$(OBJ)/%.o)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(BERTH_IMAGE_LIBS)

# berth-image-test: berth-image from the same sources with -DBERTH_TEST_HOOKS
# (as berth-test): tests/integration/image_faults.bats kills a pull at each
# TEST_POINT of image/ (BERTH_TEST_KILL_AT=pull:...). Never installed.
berth-image-test: $(BERTH_IMAGE_SRCS:%.c=$(TEST_OBJ)/%.o)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(BERTH_IMAGE_LIBS)

# Builds the fixtures into a temporary directory and runs the test there.
image-tests: tests/image/source_test
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  tests/image/make-fixtures.sh "$$tmp/fx" && tests/image/source_test "$$tmp/fx"

# The CNI plugin berth-bridge is berth under another name (cmd/cni.c),
# linked into PREFIX/lib/cni, beside where Debian keeps the reference
# plugins (/usr/lib/cni); point the runtime's CNI plugin path there.
CNI_DIR ?= $(PREFIX)/lib/cni

install: berth berth-image
	install -D -m 0755 berth $(DESTDIR)$(PREFIX)/bin/berth
	install -D -m 0755 berth-image $(DESTDIR)$(PREFIX)/bin/berth-image
	install -d $(DESTDIR)$(CNI_DIR)
	ln -sf $(PREFIX)/bin/berth $(DESTDIR)$(CNI_DIR)/berth-bridge

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/berth $(DESTDIR)$(PREFIX)/bin/berth-image $(DESTDIR)$(CNI_DIR)/berth-bridge

# Unit tests, then the bats suite; ends with "N passed, N failed".
check: deps
	@$(MAKE) --no-print-directory berth berth-image berth-test berth-image-test tests/unit/run_unit
	@tests/run.sh

# The race cases of tests/security for longer than `make check` gives them
# (SEC_ITER/SEC_SECONDS per ns_windows.bats case, RACE_ITERATIONS for race.bats),
# and tests/reliability at the sizes of issue #16 (make check runs it bounded).
soak: deps
	@$(MAKE) --no-print-directory berth berth-test
	@SEC_ITER=$${SEC_ITER:-5000} SEC_SECONDS=$${SEC_SECONDS:-1200} RACE_ITERATIONS=$${RACE_ITERATIONS:-10000} \
	  REL_RANDOM_ITER=$${REL_RANDOM_ITER:-300} REL_RACE_IDS=$${REL_RACE_IDS:-100} \
	  REL_LOAD_SEQ=$${REL_LOAD_SEQ:-1000} REL_LOAD_PAR=$${REL_LOAD_PAR:-100} REL_LOAD_ROUNDS=$${REL_LOAD_ROUNDS:-10} \
	  tests/run.sh --integration-only tests/security/ns_windows.bats tests/security/race.bats tests/reliability

# tests/reliability alone, bounded as in make check (REL_* variables: see
# tests/reliability/rel_helpers.bash).
reliability: berth berth-test
	@tests/run.sh --integration-only tests/reliability

unit: tests/unit/run_unit
	@tests/unit/run_unit

integration: berth berth-test
	@tests/run.sh --integration-only

# The same bats files against runc (cases runc cannot do are skipped).
parity: deps
	@scripts/deps.sh parity
	@BERTH=runc tests/run.sh --integration-only

# Real clients (podman 4.3 + conmon, containerd 1.6 + ctr, docker 20.10 +
# dockerd, buildah 1.28) driving berth (tests/clients); clients-parity runs
# the same scenarios with runc.
clients: deps
	@scripts/deps.sh clients
	@$(MAKE) --no-print-directory berth
	@RUNTIME=berth tests/run.sh --integration-only tests/clients

clients-parity: deps
	@scripts/deps.sh clients
	@RUNTIME=runc tests/run.sh --integration-only tests/clients

# The unit tests and the bats suite (or ASAN_TESTS: bats files or dirs)
# against berth-asan. An ASan or LeakSanitizer report goes to a file under
# ASAN_REPORTS, so one from a process whose stderr a test discards (a
# background run, a killed create) fails the target too. UBSan ignores
# log_path beside ASan (gcc): its reports abort (exit 134, which no test
# takes for success or for a one-line error) and stay on stderr.
ASAN_TESTS ?=
ASAN_REPORTS := build/sanitizer-reports
asan: deps
	@$(MAKE) --no-print-directory berth-asan tests/unit/run_unit_asan
	@rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	@UNIT=tests/unit/run_unit_asan BERTH=$(CURDIR)/berth-asan \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(CURDIR)/$(ASAN_REPORTS)/asan \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1 \
	  tests/run.sh $(ASAN_TESTS); rc=$$?; \
	  if [ -n "$$(ls -A $(ASAN_REPORTS))" ]; then \
	    echo "sanitizer reports ($(ASAN_REPORTS)):"; head -n 40 $(ASAN_REPORTS)/*; exit 1; fi; \
	  echo "no sanitizer report"; exit $$rc

lint:
	@scripts/deps.sh lint
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem --inline-suppr -D__GNUC__ \
	  $(sort $(LIB_SRCS) $(CMD_SRCS) $(wildcard image/*.c cmd/image/*.c vm/guest/*.c))
	clang-tidy --quiet $(sort $(LIB_SRCS) $(CMD_SRCS) $(wildcard image/*.c cmd/image/*.c vm/guest/*.c)) -- -std=gnu11 \
	  $(PKG_CFLAGS) -D_GNU_SOURCE 2>/dev/null

format:
	clang-format -i $(LIB_SRCS) $(CMD_SRCS) $(UNIT_SRCS) $(UNIT_HDRS) $(wildcard */*.h) tests/fixtures/*.c tests/security/*.c \
	  tests/fuzz/*.[ch] $(wildcard vm/guest/*.[ch] image/*.c cmd/image/*.[ch] tests/image/*.c)

format-check:
	clang-format --dry-run -Werror $(LIB_SRCS) $(CMD_SRCS) $(UNIT_SRCS) $(UNIT_HDRS) $(wildcard */*.h) \
	  tests/fixtures/*.c tests/security/*.c tests/fuzz/*.[ch] \
	  $(wildcard vm/guest/*.[ch] image/*.c cmd/image/*.[ch] tests/image/*.c)

demo: deps
	@$(MAKE) --no-print-directory berth
	@scripts/demo.sh

bench: deps
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory berth berth-image tests/image/unpack_layers
	@bench/bench.sh

# Pod start latency through containerd's CRI, berth's handler against runc's.
bench-cri: deps
	@scripts/deps.sh clients
	@$(MAKE) --no-print-directory berth
	@bench/cri.sh

# libFuzzer harnesses (clang, ASan+UBSan): config.json parsing, seccomp
# translation, linux.resources. `make fuzz FUZZ_TIME=N` runs each for N
# seconds, one after the other, on a copy of tests/fuzz/corpus in
# build/fuzz/corpus; exit non-zero on any crash, leak or timeout.
FUZZ_CC ?= clang-14
FUZZ_TIME ?= 60
FUZZ_DIR := build/fuzz
FUZZ_OBJ := $(FUZZ_DIR)/obj
FUZZ_TARGETS := fuzz_spec fuzz_seccomp fuzz_resources
# Only what the harnesses reach: the code under test, none of the runtime.
FUZZ_SRCS := $(wildcard common/*.c cgroup/*.c seccomp/*.c runtime/spec.c runtime/hooks.c netns/config.c \
                          vm/config.c)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# No -Werror: clang warns where gcc does not, and this build must not break on that.
FUZZ_CFLAGS := -std=gnu11 $(filter-out -Werror,$(WARN)) -Wno-format-nonliteral -fPIE -O1 -g \
               $(FUZZ_SAN) $(PKG_CFLAGS) -MMD -MP

fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run.sh $(FUZZ_TIME)

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)

$(FUZZ_DIR)/libberth.a: $(FUZZ_SRCS:%.c=$(FUZZ_OBJ)/%.o)
	@rm -f $@
	@ar rcs $@ $^

$(FUZZ_OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC fuzz $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_TARGETS:%=$(FUZZ_DIR)/%): $(FUZZ_DIR)/%: tests/fuzz/%.c $(FUZZ_DIR)/libberth.a
	@echo "  LD fuzz $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Wl,--wrap=seccomp_init,--wrap=seccomp_release \
	  -o $@ $< $(FUZZ_DIR)/libberth.a $(PKG_LIBS)

clean:
	rm -rf build berth berth-asan berth-test berth-image berth-image-test tests/unit/run_unit tests/unit/run_unit_asan \
	  tests/image/source_test tests/image/registry_test tests/image/unpack_test tests/image/unpack_layers

-include $(shell find build -name '*.d' 2>/dev/null)
