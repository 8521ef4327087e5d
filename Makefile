# SPDX-License-Identifier: GPL-2.0
# ctbypass: `make` builds build/ctbypass; `make test` installs what it needs,
# builds and runs every test; `make demo` runs the lab demo. V=1 shows commands.

OUTPUT ?= build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PKGS := libbpf libnftables libnetfilter_conntrack libmnl jansson inih libsystemd libmicrohttpd
# src/ has one folder per concern (cli, bypass, config, conntrack, preflight, doctor,
# watch, netlink); headers are included by name, so each folder is on the path.
SRC_DIRS := $(sort $(dir $(wildcard src/*/*.c src/*/*.h)))
SRC_INCLUDES := $(patsubst %/,-I%,$(SRC_DIRS))
CFLAGS ?= -O2 -g
# Messages are cut to their buffers on purpose: truncation is not a bug there.
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-missing-field-initializers \
	  -Wno-format-truncation \
	  -MMD -MP -Iinclude $(SRC_INCLUDES) -I$(OUTPUT) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lbpf -lnftables \
	  -lnetfilter_conntrack -lmnl -ljansson -linih -lsystemd -lmicrohttpd) -lelf -lz
# The BPF programs are built for the architecture the binary is built for, not the
# build host's: bpf_tracing.h reads kprobe arguments from that architecture's registers
# and vmlinux.h holds its pt_regs. The target is the C compiler's, so
# `make CC=aarch64-linux-gnu-gcc` (scripts/cross-build.sh) builds arm64 programs on an
# x86 host; BPF_ARCH=x86|arm64 overrides. One vmlinux/ARCH/vmlinux.h per architecture.
BPF_ARCH_x86_64 := x86
BPF_ARCH_aarch64 := arm64
ifndef BPF_ARCH
TARGET_MACHINE := $(firstword $(subst -, ,$(shell $(CC) -dumpmachine 2>/dev/null)))
# No compiler yet (a bare machine, before `make test` or `make demo` installs one): the
# build host's machine, which is what that compiler will target.
TARGET_MACHINE := $(or $(TARGET_MACHINE),$(shell uname -m))
BPF_ARCH := $(or $(BPF_ARCH_$(TARGET_MACHINE)),$(TARGET_MACHINE))
endif
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror -MMD -MP \
	      -Ivmlinux/$(BPF_ARCH) -Iinclude
ifeq ($(wildcard vmlinux/$(BPF_ARCH)/vmlinux.h),)
ifneq ($(filter-out clean deps,$(or $(MAKECMDGOALS),all)),)
$(error ctbypass: no vmlinux/$(BPF_ARCH)/vmlinux.h for the target's BPF architecture '$(BPF_ARCH)' (vmlinux/regenerate.sh makes one))
endif
endif

# VERSION holds the release; a build from git says which commit too (0.2.0+g31172a6,
# -dirty with local changes), a release tarball just the release.
VERSION := $(shell cat VERSION 2>/dev/null || echo 0)$(shell git describe --always --dirty \
	--match NONE 2>/dev/null | sed 's/^/+g/')
CFLAGS += -DCTB_VERSION='"$(VERSION)"'
# Rewritten only when the version changes, so that main.o and metrics_format.o (which
# print it) are rebuilt then: a binary must not report the commit it was first built from.
VERSION_STAMP := $(OUTPUT)/version.stamp
$(shell mkdir -p $(OUTPUT) && { echo '$(VERSION)' | cmp -s - $(VERSION_STAMP) || \
	echo '$(VERSION)' >$(VERSION_STAMP); })

BPF_PROGS := classifier lab_smoke empty ct_probes
SKELETONS := $(patsubst %,$(OUTPUT)/%.skel.h,$(BPF_PROGS))
SRCS := $(wildcard src/*/*.c)
OBJS := $(patsubst src/%.c,$(OUTPUT)/src/%.o,$(SRCS))
LIB_OBJS := $(filter-out $(OUTPUT)/src/cli/main.o,$(OBJS))

UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))
BPF_TESTS := $(patsubst tests/bpf/%.c,$(OUTPUT)/tests/%,$(wildcard tests/bpf/test_*.c))
TOOLS := $(patsubst tests/tools/%.c,$(OUTPUT)/tools/%,$(wildcard tests/tools/*.c))
TEST_BPF_OBJS := $(patsubst tests/bpf/%.bpf.c,$(OUTPUT)/tests/%.bpf.o,$(wildcard tests/bpf/*.bpf.c))

# A fresh clone without the build tools: one line saying what to run, not a compiler's.
MISSING_BUILD := $(strip $(foreach t,$(CLANG) $(BPFTOOL) pkg-config $(CC),$(if $(shell command -v $(t) 2>/dev/null),,$(t))))
ifeq ($(MISSING_BUILD),)
MISSING_BUILD := $(if $(shell pkg-config --exists $(PKGS) 2>/dev/null && echo ok),,libraries)
endif
# Goals that install the dependencies first (then build in a make of their own) go on.
ifneq ($(MISSING_BUILD),)
ifneq ($(filter-out deps test demo bench clean deb image test-install,$(or $(MAKECMDGOALS),all)),)
$(error ctbypass: build dependencies missing ($(MISSING_BUILD)): run 'scripts/install-deps.sh' as root, or 'scripts/make deps')
endif
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all clean deps test check unit bpftest netnstest vmtest vmtest-all vmtest-kernels vmtest-arm64 demo bench

all: $(OUTPUT)/ctbypass

$(OUTPUT) $(OUTPUT)/src $(OUTPUT)/bpf $(OUTPUT)/tests $(OUTPUT)/tools:
	$(Q)mkdir -p $@


$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# BPF objects the tests load with tc, standing in for other tools' filters.
$(OUTPUT)/tests/%.bpf.o: tests/bpf/%.bpf.c | $(OUTPUT)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/bpf/%.bpf.o | $(OUTPUT)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

# Every userspace object may include a skeleton.
$(OBJS): | $(SKELETONS)

$(OUTPUT)/src/cli/main.o $(OUTPUT)/src/metrics/metrics_format.o: $(VERSION_STAMP)
$(OUTPUT)/fuzz-obj/metrics/metrics_format.o $(OUTPUT)/asan/src/metrics/metrics_format.o: $(VERSION_STAMP)
$(OUTPUT)/src/%.o: src/%.c | $(OUTPUT)/src
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/ctbypass: $(OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# $(filter): -MMD's dependency files add headers to $^, which must not reach the compiler.
$(OUTPUT)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -lcmocka -o $@

$(OUTPUT)/tests/%: tests/bpf/%.c $(LIB_OBJS) | $(OUTPUT)/tests $(SKELETONS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -o $@

$(OUTPUT)/tools/%: tests/tools/%.c | $(OUTPUT)/tools $(SKELETONS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LDLIBS) -o $@

deps:
	$(Q)scripts/install-deps.sh build test demo vm

# The README's test command: everything, on a fresh machine too.
test: deps
	$(Q)$(MAKE) --no-print-directory check

check: all $(UNIT_TESTS) $(BPF_TESTS) $(TOOLS) $(TEST_BPF_OBJS)
	$(Q)tests/run-all.sh

unit: $(UNIT_TESTS)
	$(Q)tests/run-all.sh unit

bpftest: $(BPF_TESTS)
	$(Q)tests/run-all.sh bpf

netnstest: all $(TOOLS) $(TEST_BPF_OBJS)
	$(Q)tests/run-all.sh netns

# KERNEL=5.10|6.1|6.12: Debian's kernel of that series (default 6.1); vmtest-all: each.
vmtest: all $(TOOLS) $(TEST_BPF_OBJS)
	$(Q)scripts/install-deps.sh vm
	$(Q)VMTEST_SERIES=$(or $(KERNEL),6.1) scripts/vm/vmtest.sh

vmtest-all: all $(TOOLS) $(TEST_BPF_OBJS)
	$(Q)scripts/install-deps.sh vm
	$(Q)scripts/vm/vmtest-all.sh

# CI, after `make test` (whose vm suite is the whole guest suite on 6.1): the parts that
# depend on the kernel, on 5.10 and 6.12 (README, "Kernels").
VMTEST_KERNEL_PARTS := lab_smoke test_bypass_tcp test_upstream test_daemon test_tcx test_watch \
	test_watch_probes test_metrics_probes test_kernel_compat
vmtest-kernels: all $(TOOLS) $(TEST_BPF_OBJS)
	$(Q)scripts/install-deps.sh vm
	$(Q)VMTEST_ONLY="$(VMTEST_KERNEL_PARTS)" scripts/vm/vmtest-all.sh 5.10 6.12

# arm64: cross-built, booted under qemu-system-aarch64, classifier and probe smoke tests.
vmtest-arm64:
	$(Q)scripts/install-deps.sh cross
	$(Q)scripts/vm/arm64-smoke.sh

demo:
	$(Q)scripts/install-deps.sh build demo
	$(Q)$(MAKE) --no-print-directory all $(TOOLS)
	$(Q)scripts/demo.sh

# Not part of `make test`: about thirteen minutes of load, results in bench/results/
BENCH_TOOLS := $(OUTPUT)/bench/classifier_cost $(OUTPUT)/bench/httpload
# Part 4 runs in the VM lab, so it needs what `make vmtest` does.
bench:
	$(Q)scripts/install-deps.sh build demo bench vm
	$(Q)$(MAKE) --no-print-directory all $(TOOLS) $(BENCH_TOOLS) $(TEST_BPF_OBJS)
	$(Q)bench/run.sh

clean:
	$(Q)rm -rf $(OUTPUT)

# ---- man pages ----------------------------------------------------------------------------
# doc/man/NAME.8.scd -> $(OUTPUT)/man/NAME.8 with scdoc. `make man` builds them; `all` does
# not, so building the binary needs no scdoc; `check` (for tests/man/test_man.sh) and
# `install` do. The pages are dated by the last commit that changed them, not by the build.
MAN_SRCS := $(wildcard doc/man/*.8.scd)
MAN_PAGES := $(patsubst doc/man/%.scd,$(OUTPUT)/man/%,$(MAN_SRCS))
MAN_DATE := $(shell git log -1 --format=%ct -- doc/man 2>/dev/null)

.PHONY: man
man: $(MAN_PAGES)

check unit: $(MAN_PAGES)

$(OUTPUT)/man/%.8: doc/man/%.8.scd
	$(call msg,SCDOC,$@)
	$(Q)command -v scdoc >/dev/null || { echo "ctbypass: scdoc missing (the man pages):" \
		"run 'scripts/install-deps.sh' as root" >&2; exit 1; }
	$(Q)mkdir -p $(@D)
	$(Q)$(if $(MAN_DATE),SOURCE_DATE_EPOCH=$(MAN_DATE)) scdoc <$< >$@

# ---- install ----------------------------------------------------------------------------
# `make install` (PREFIX=/usr/local, DESTDIR for staging): the binary, the systemd unit
# (ExecStart= follows PREFIX), the example configuration (never over an existing one), the
# Prometheus rules, the man pages and the bash completion. `make uninstall` removes exactly
# those, the configuration only while it is still the example.
PREFIX ?= /usr/local
SBINDIR := $(PREFIX)/sbin
DATADIR := $(PREFIX)/share/ctbypass
# systemd reads units from /usr/local/lib/systemd/system too; /usr's are in /lib.
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
# The binary reads /etc/ctbypass/ctbypass.conf whatever the prefix.
CONFDIR := /etc/ctbypass
MANDIR := $(PREFIX)/share/man/man8
COMPLETIONDIR := $(PREFIX)/share/bash-completion/completions
INSTALLED := $(SBINDIR)/ctbypass $(UNITDIR)/ctbypass.service \
	$(DATADIR)/prometheus/ctbypass.rules.yml $(addprefix $(MANDIR)/,$(notdir $(MAN_PAGES))) \
	$(COMPLETIONDIR)/ctbypass

.PHONY: install uninstall
install: $(OUTPUT)/ctbypass $(MAN_PAGES)
	$(Q)install -D -m 0755 $(OUTPUT)/ctbypass $(DESTDIR)$(SBINDIR)/ctbypass
	$(Q)install -d $(DESTDIR)$(UNITDIR)
	$(Q)sed 's|^ExecStart=/usr/sbin/ctbypass |ExecStart=$(SBINDIR)/ctbypass |' \
		contrib/systemd/ctbypass.service >$(DESTDIR)$(UNITDIR)/ctbypass.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/ctbypass.service
	$(Q)install -D -m 0644 contrib/prometheus/ctbypass.rules.yml \
		$(DESTDIR)$(DATADIR)/prometheus/ctbypass.rules.yml
	$(Q)install -d $(DESTDIR)$(MANDIR)
	$(Q)install -m 0644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/
	$(Q)install -D -m 0644 contrib/bash-completion/ctbypass $(DESTDIR)$(COMPLETIONDIR)/ctbypass
	$(Q)[ -e $(DESTDIR)$(CONFDIR)/ctbypass.conf ] || \
		install -D -m 0644 contrib/ctbypass.conf $(DESTDIR)$(CONFDIR)/ctbypass.conf
	$(Q)echo "installed ctbypass $(VERSION) under $(DESTDIR)$(PREFIX)"

uninstall:
	$(Q)rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	$(Q)! cmp -s contrib/ctbypass.conf $(DESTDIR)$(CONFDIR)/ctbypass.conf || \
		rm -f $(DESTDIR)$(CONFDIR)/ctbypass.conf
	$(Q)for d in $(DATADIR)/prometheus $(DATADIR) $(CONFDIR); do \
		rmdir $(DESTDIR)$$d 2>/dev/null || true; done

# ---- Debian package --------------------------------------------------------------------
# `make deb`: the binary package (debian/, debhelper) built from a copy of the working tree
# without build/ and .git, so its version is VERSION's alone; the .deb lands in $(OUTPUT)/,
# then lintian reads it (errors fail the build; the warnings accepted are in
# debian/ctbypass.lintian-overrides, each with why).
DEB_VERSION := $(shell cat VERSION 2>/dev/null)
DEB_SRC := $(OUTPUT)/deb/ctbypass-$(DEB_VERSION)

.PHONY: deb
deb:
	$(Q)scripts/install-deps.sh build deb
	$(Q)rm -rf $(OUTPUT)/deb && mkdir -p $(DEB_SRC)
	$(Q)tar -c --exclude=./build --exclude='./build-*' --exclude=./.git . | tar -x -C $(DEB_SRC)
	$(Q)cd $(DEB_SRC) && GIT_CEILING_DIRECTORIES=$(abspath $(OUTPUT)/deb) \
		dpkg-buildpackage -b -us -uc >../build.log 2>&1 || \
		{ tail -n 30 $(OUTPUT)/deb/build.log 2>/dev/null || tail -n 30 ../build.log; exit 1; }
	$(Q)mv $(OUTPUT)/deb/ctbypass_$(DEB_VERSION)_*.deb $(OUTPUT)/
	$(Q)lintian --fail-on error $(OUTPUT)/ctbypass_$(DEB_VERSION)_*.deb
	$(Q)echo "built $$(ls $(OUTPUT)/ctbypass_$(DEB_VERSION)_*.deb)"

# `make image`: the daemon's OCI image from that package, without any image registry
# (scripts/build-image.sh: buildah, debootstrap; root and the mirror, about a minute).
IMAGE_ARCHIVE := $(OUTPUT)/ctbypass_$(DEB_VERSION)_image.oci.tar
.PHONY: image
image: deb
	$(Q)scripts/install-deps.sh test-install
	$(Q)scripts/build-image.sh $(OUTPUT)/ctbypass_$(DEB_VERSION)_amd64.deb $(IMAGE_ARCHIVE)

# `make test-install`: the package in a fresh minbase root, the image under podman and the
# Kubernetes manifest (tests/install/run.sh; needs root, the mirror and the npm registry; a
# few minutes). Not part of `make test`.
.PHONY: test-install
test-install: image
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/install/run.sh $(OUTPUT)/ctbypass_$(DEB_VERSION)_amd64.deb $(IMAGE_ARCHIVE)

-include $(OBJS:.o=.d) $(wildcard $(OUTPUT)/bpf/*.d) $(wildcard $(OUTPUT)/tests/*.d) \
	 $(wildcard $(OUTPUT)/tools/*.d) $(wildcard $(OUTPUT)/bench/*.d)

$(OUTPUT)/bench/%: bench/%.c | $(SKELETONS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(LDLIBS) -o $@

# ---- Sanitizer builds: fuzz harnesses and unit tests under ASan+UBSan ---------------------
# `make fuzz` builds every tests/fuzz/fuzz_*.c as a libFuzzer binary in $(OUTPUT)/fuzz/;
# `make unit-asan` builds the unit tests in $(OUTPUT)/asan/tests/. Each links its own copy of
# the src objects, instrumented its way ($(OUTPUT)/fuzz-obj/, $(OUTPUT)/asan/src/), so
# instrumented code never mixes with the normal build. Both need clang's runtimes
# (libclang-rt-dev, in scripts/install-deps.sh's test group).
SAN_CC ?= $(CLANG)
# clang does not know gcc's -Wno-format-truncation. -O1 keeps reports' stack traces readable;
# -fno-sanitize-recover turns every UBSan report into a failure, not a line in a log.
SAN_CFLAGS = $(CFLAGS) -Wno-unknown-warning-option -O1 -fno-omit-frame-pointer \
	     -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJS := $(patsubst $(OUTPUT)/src/%,$(OUTPUT)/fuzz-obj/%,$(LIB_OBJS))
ASAN_OBJS := $(patsubst $(OUTPUT)/src/%,$(OUTPUT)/asan/src/%,$(LIB_OBJS))
FUZZERS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
ASAN_UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/asan/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: fuzz unit-asan fuzztest asantest

fuzz: $(FUZZERS)

unit-asan: $(ASAN_UNIT_TESTS)

# `make check` (and so `make test`) runs both suites.
check: $(FUZZERS) $(ASAN_UNIT_TESTS)

fuzztest: $(FUZZERS)
	$(Q)tests/run-all.sh fuzz

asantest: $(ASAN_UNIT_TESTS)
	$(Q)tests/run-all.sh asan

$(FUZZ_OBJS) $(ASAN_OBJS): | $(SKELETONS)

$(OUTPUT)/fuzz-obj/%.o: src/%.c
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# An archive, not a list of objects: a harness that compiles a src file in (to reach its
# static parser) defines that file's symbols itself, so the archive's copy is never linked.
$(OUTPUT)/fuzz-obj/libctb.a: $(FUZZ_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# $<, not $^: the dependency file lists src files a harness includes, which must not be
# compiled a second time.
$(OUTPUT)/fuzz/%: tests/fuzz/%.c $(OUTPUT)/fuzz-obj/libctb.a | $(SKELETONS)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -fsanitize=fuzzer $< $(OUTPUT)/fuzz-obj/libctb.a $(LDLIBS) -o $@

$(OUTPUT)/asan/src/%.o: src/%.c
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -c $< -o $@

$(OUTPUT)/asan/tests/%: tests/unit/%.c $(ASAN_OBJS)
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) $< $(filter %.o,$^) $(LDLIBS) -lcmocka -o $@

-include $(wildcard $(OUTPUT)/fuzz-obj/*/*.d) $(wildcard $(OUTPUT)/fuzz/*.d) \
	 $(wildcard $(OUTPUT)/asan/src/*/*.d) $(wildcard $(OUTPUT)/asan/tests/*.d)
