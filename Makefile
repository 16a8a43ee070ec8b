# vmutils build. `make` builds the libraries, the Lua module, the policy
# runtime library and the `vmutils` program; `make test` installs what is
# missing, builds the test binaries too and runs every test.

VERSION     := 0.1.0
SOMAJOR     := 0
PREFIX      ?= /usr/local
DESTDIR     ?=
LUA_VERSION := 5.4
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
BINDIR      ?= $(PREFIX)/bin
LUA_CMODDIR ?= $(LIBDIR)/lua/$(LUA_VERSION)
LUA_LMODDIR ?= $(PREFIX)/share/lua/$(LUA_VERSION)
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR      ?= $(PREFIX)/share/man

BUILD ?= build
CC    ?= cc
# CXX (make's default, g++) compiles the one C++ file, core/log/shortest_digits.cc:
# the C face of double-conversion.
SAN   ?=

PKGS       := yajl libprotobuf-c hwloc double-conversion
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LUA_CFLAGS := $(shell pkg-config --cflags lua$(LUA_VERSION) 2>/dev/null)
LUA_LIBS   := $(shell pkg-config --libs lua$(LUA_VERSION) 2>/dev/null)

WARN     := -Wall -Wextra -Werror
OPT      ?= -O2 -g
ifeq ($(SAN),1)
OPT      := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
CFLAGS   ?=
CPPFLAGS += -D_GNU_SOURCE -Icore/include -Icore/gen
# Hidden by default: the shared libraries export only what the public headers
# declare between VMU_API_BEGIN and VMU_API_END (core/include/vmutils/export.h).
ALL_CFLAGS = -std=c11 $(WARN) $(OPT) -fPIC -fvisibility=hidden -pthread $(PKG_CFLAGS) $(CFLAGS)
CXXFLAGS ?=
ALL_CXXFLAGS = -std=c++11 -fno-exceptions -fno-rtti $(WARN) $(OPT) -fPIC -fvisibility=hidden \
  $(PKG_CFLAGS) $(CXXFLAGS)
LDFLAGS  ?=
ALL_LDFLAGS = $(OPT) -pthread $(LDFLAGS)

# Every unit of the core, its folders included (core/log/, ...); core/gen is
# protoc-c's output.
CORE_SRC    := $(sort $(wildcard core/*.c core/*/*.c))
CORE_CXX_SRC := $(wildcard core/*/*.cc)
CORE_OBJ    := $(CORE_SRC:%.c=$(BUILD)/obj/%.o) $(CORE_CXX_SRC:%.cc=$(BUILD)/obj/%.o)
MODULE_SRC  := $(wildcard bindings/lua/*.c)
MODULE_OBJ  := $(MODULE_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC     := $(wildcard bindings/cli/*.c)
CLI_OBJ     := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
# The policy runtime (bindings/policy/, API vmutils_policy.h): the program and
# the hosts that embed policies link it with the module objects and Lua.
POLICY_SRC  := $(wildcard bindings/policy/*.c)
POLICY_OBJ  := $(POLICY_SRC:%.c=$(BUILD)/obj/%.o)
# The binding's three folders: the Lua module, the policy runtime, the program.
BINDINGS_INC := -Ibindings/lua -Ibindings/policy -Ibindings/cli
TEST_SRC    := $(wildcard tests/test_*.c)
TEST_BIN    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

STATIC_LIB := $(BUILD)/libvmutils.a
SHARED_LIB := $(BUILD)/libvmutils.so.$(VERSION)
LUA_MODULE := $(BUILD)/vmutils.so
PROGRAM    := $(BUILD)/vmutils
# The policy runtime as a library for C hosts: the embedding API and the
# module objects; the core comes from libvmutils, Lua from liblua5.4.
POLICY_STATIC_LIB := $(BUILD)/libvmutils-policy.a
POLICY_SHARED_LIB := $(BUILD)/libvmutils-policy.so.$(VERSION)

.PHONY: all test-bins deps test test-only run sanitize memcheck install uninstall clean \
  check-generated generate windows-check
.DEFAULT_GOAL := all

all: $(STATIC_LIB) $(SHARED_LIB) $(LUA_MODULE) $(PROGRAM) $(POLICY_STATIC_LIB) $(POLICY_SHARED_LIB)

# The cmocka test binaries, built by test-only (not by all, nor by run).
test-bins: $(TEST_BIN)

$(BUILD)/obj/%.o: %.c $(wildcard core/include/*.h core/include/vmutils/*.h bindings/*/*.h tests/*.h core/*.h core/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(if $(filter bindings/%,$<),$(LUA_CFLAGS) $(BINDINGS_INC) -Icore/internal) -c $< -o $@

$(BUILD)/obj/%.o: %.cc $(wildcard core/*/*.h)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(ALL_CXXFLAGS) -c $< -o $@

$(STATIC_LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(SHARED_LIB): $(CORE_OBJ)
	$(CC) -shared -Wl,-soname,libvmutils.so.$(SOMAJOR) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
	ln -sf libvmutils.so.$(VERSION) $(BUILD)/libvmutils.so.$(SOMAJOR)
	ln -sf libvmutils.so.$(VERSION) $(BUILD)/libvmutils.so

# The Lua module links the core statically and resolves lua_* from the host;
# --exclude-libs keeps the core's API inside it, so it exports luaopen_vmutils only.
# The policy runtime (vmutils.policy) comes from the runtime archive, so that
# it stays hidden too.
$(LUA_MODULE): $(MODULE_OBJ) $(POLICY_STATIC_LIB) $(STATIC_LIB)
	$(CC) -shared $(ALL_LDFLAGS) -Wl,--exclude-libs,ALL -o $@ $(MODULE_OBJ) $(POLICY_STATIC_LIB) \
	  $(STATIC_LIB) $(PKG_LIBS)

$(POLICY_STATIC_LIB): $(POLICY_OBJ) $(MODULE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The API comes from libvmutils.so. The few core-internal functions the
# embedding code calls (Go number and string formatting, base64), which
# libvmutils.so does not export, come from libvmutils.a after it, kept hidden
# by --exclude-libs. -z defs fails the link on any symbol left unresolved.
$(POLICY_SHARED_LIB): $(POLICY_OBJ) $(MODULE_OBJ) $(SHARED_LIB) $(STATIC_LIB)
	$(CC) -shared -Wl,-soname,libvmutils-policy.so.$(SOMAJOR) -Wl,-z,defs -Wl,--exclude-libs,ALL $(ALL_LDFLAGS) \
	  -o $@ $(POLICY_OBJ) $(MODULE_OBJ) -L$(BUILD) -lvmutils $(STATIC_LIB) $(PKG_LIBS) $(LUA_LIBS) -lm -ldl
	ln -sf libvmutils-policy.so.$(VERSION) $(BUILD)/libvmutils-policy.so.$(SOMAJOR)
	ln -sf libvmutils-policy.so.$(VERSION) $(BUILD)/libvmutils-policy.so

$(PROGRAM): $(CLI_OBJ) $(POLICY_OBJ) $(MODULE_OBJ) $(STATIC_LIB)
	$(CC) $(ALL_LDFLAGS) -Wl,-E -o $@ $(CLI_OBJ) $(POLICY_OBJ) $(MODULE_OBJ) $(STATIC_LIB) $(PKG_LIBS) $(LUA_LIBS) -ledit -lm -ldl

# The embedding API's tests need the runtime objects and Lua besides the core.
$(BUILD)/tests/test_policy $(BUILD)/tests/test_policy_sandbox: $(BUILD)/tests/%: tests/%.c \
  $(POLICY_OBJ) $(MODULE_OBJ) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LUA_CFLAGS) $(BINDINGS_INC) -Itests $(ALL_LDFLAGS) -Wl,-E -o $@ $< \
	  $(POLICY_OBJ) $(MODULE_OBJ) $(STATIC_LIB) $(PKG_LIBS) $(LUA_LIBS) -lcmocka -lm -ldl

# Tests of the binding's C helpers (tests/test_lua_*.c) need the module objects and Lua.
$(BUILD)/tests/test_lua_%: tests/test_lua_%.c $(MODULE_OBJ) $(POLICY_OBJ) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LUA_CFLAGS) $(BINDINGS_INC) -Itests $(ALL_LDFLAGS) -o $@ $< \
	  $(MODULE_OBJ) $(POLICY_OBJ) $(STATIC_LIB) $(PKG_LIBS) $(LUA_LIBS) -lcmocka -lm -ldl

$(BUILD)/tests/%: tests/%.c $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -Itests $(ALL_LDFLAGS) -o $@ $< $(STATIC_LIB) $(PKG_LIBS) -lcmocka -lm

# Debian packages the build, the tests and the benches need (libprotobuf-dev:
# google/protobuf/descriptor.proto for the options tests; golang-go and logrus:
# the Go reference forwarder of tests/go-ref; groff-base and man-db: the man
# page; clang: the fuzz targets); apt-get runs only for missing ones.
DEB_PACKAGES := build-essential pkg-config lua5.4 liblua5.4-dev lua-cjson lua-busted luarocks \
  libyajl-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev libcmocka-dev \
  valgrind golang-go golang-github-sirupsen-logrus-dev python3 util-linux libedit-dev tmux \
  groff-base man-db git time gcc-mingw-w64-x86-64 binutils clang libclang-rt-14-dev \
  libhwloc-dev hwloc libdouble-conversion-dev tzdata
deps:
	@installed=" $$(dpkg-query -W -f='$${db:Status-Abbrev} $${Package}\n' $(DEB_PACKAGES) 2>/dev/null | \
	  awk '$$1 == "ii" { printf "%s ", $$2 }')"; \
	missing=""; for p in $(DEB_PACKAGES); do \
	  case "$$installed" in *" $$p "*) ;; *) missing="$$missing $$p" ;; esac; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test: deps
	$(MAKE) all
	$(MAKE) test-only

test-only: all test-bins
	BUILD=$(BUILD) tests/run_all.sh

# The main job: the default policy on the example request, then the example
# GCS log stream through `vmutils gcs-logs`. That stream ends with a guest
# panic dump on purpose, to show how a crashing guest is reported.
run: deps
	$(MAKE) all
	@echo "== vmutils policy scripts/policies/lcow.lua examples/lcow-request.json"
	@$(PROGRAM) policy scripts/policies/lcow.lua examples/lcow-request.json
	@echo "== vmutils gcs-logs --vm-id example-uvm examples/gcs.log"
	@$(PROGRAM) gcs-logs --vm-id example-uvm examples/gcs.log || echo "(vmutils gcs-logs exited with status $$?)"
	@echo "== examples/gcs.log ends in a guest panic on purpose: the \"gcs terminated\" record above is how"
	@echo "   vmutils reports a crashing guest (its dump is the record's stderr field)."

sanitize: deps
	$(MAKE) BUILD=build/asan SAN=1 all
	$(MAKE) BUILD=build/asan SAN=1 SANITIZE=1 test-only

memcheck: deps
	$(MAKE) all test-bins
	@set -e; for t in $(TEST_BIN); do \
	  echo "valgrind $$t"; \
	  valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all \
	    --show-leak-kinds=definite,indirect,possible $$t >/dev/null; \
	done; echo "memcheck: all C tests clean"

# Runtime options: core/gen holds protoc-c's output for core/proto, committed
# so that a build needs no protoc-c. `generate` rewrites it; `check-generated`
# fails when the committed files differ from a fresh run (tests/sh runs it).
# `windows-check` proves that the Win32 vmmem backend compiles for Windows.
PROTO_SRC       := $(sort $(wildcard core/proto/*.proto))
PROTOC_C        ?= protoc-c
PROTO_INCLUDES  := -Icore/proto -I$(or $(shell pkg-config --variable=includedir libprotobuf-c 2>/dev/null),/usr/include)
MINGW_CC        ?= x86_64-w64-mingw32-gcc
generate:
	$(PROTOC_C) $(PROTO_INCLUDES) --c_out=core/gen $(PROTO_SRC)
check-generated:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PROTOC_C) $(PROTO_INCLUDES) --c_out=$$tmp $(PROTO_SRC) && \
	diff -r -u core/gen $$tmp && echo "core/gen is current"
windows-check:
	@mkdir -p $(BUILD)/windows
	$(MINGW_CC) -std=c11 -Wall -Wextra -Werror -Icore/include -c core/vmmem.c -o $(BUILD)/windows/vmmem.o
	$(MINGW_CC) -std=c11 -Wall -Wextra -Werror -Icore/include -c core/vmmem_win32.c -o $(BUILD)/windows/vmmem_win32.o

# pkg-config files: vmutils (the core) and vmutils-policy (the policy
# runtime for C hosts). Their Libs carry an rpath to LIBDIR, so that a program
# linked with them finds the installed libraries without LD_LIBRARY_PATH.
PC_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
  -e 's|@VERSION@|$(VERSION)|g' -e 's|@LUA_VERSION@|$(LUA_VERSION)|g'

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/vmutils $(DESTDIR)$(LUA_CMODDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR)
	install -m 644 $(STATIC_LIB) $(POLICY_STATIC_LIB) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED_LIB) $(POLICY_SHARED_LIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libvmutils.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvmutils.so.$(SOMAJOR)
	ln -sf libvmutils.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvmutils.so
	ln -sf libvmutils-policy.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvmutils-policy.so.$(SOMAJOR)
	ln -sf libvmutils-policy.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvmutils-policy.so
	install -m 644 core/include/vmutils.h bindings/policy/vmutils_policy.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 core/include/vmutils/*.h $(DESTDIR)$(INCLUDEDIR)/vmutils/
	install -m 755 $(LUA_MODULE) $(DESTDIR)$(LUA_CMODDIR)/vmutils.so
	install -m 755 $(PROGRAM) $(DESTDIR)$(BINDIR)/vmutils
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 644 docs/vmutils.1 $(DESTDIR)$(MANDIR)/man1/
	$(PC_SUBST) vmutils.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/vmutils.pc
	$(PC_SUBST) vmutils-policy.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/vmutils-policy.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libvmutils.* $(DESTDIR)$(LIBDIR)/libvmutils-policy.* \
	  $(DESTDIR)$(INCLUDEDIR)/vmutils.h $(DESTDIR)$(INCLUDEDIR)/vmutils_policy.h \
	  $(DESTDIR)$(LUA_CMODDIR)/vmutils.so $(DESTDIR)$(BINDIR)/vmutils \
	  $(DESTDIR)$(PKGCONFIGDIR)/vmutils.pc $(DESTDIR)$(PKGCONFIGDIR)/vmutils-policy.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/vmutils
	rm -f $(DESTDIR)$(MANDIR)/man1/vmutils.1

clean:
	rm -rf $(BUILD) build

# ---- Fuzzing and the thread sanitizer ----------------------------------------
# `make fuzz FUZZ_SECONDS=N` builds the libFuzzer targets fuzz/fuzz_*.c with
# clang (ASan+UBSan) into build/fuzz and runs each N seconds from its seeds in
# fuzz/corpus/<target>; `make fuzz-smoke` is the short CI run (about 20 s
# each). Found crashes land in build/fuzz/artifacts; bench/fuzz_stats.sh
# prints the executions of the last run. `make tsan` builds everything with
# -fsanitize=thread into build/tsan and runs the C tests there.
FUZZ_CC       ?= clang
FUZZ_CXX      ?= clang++
FUZZ_SECONDS  ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
  -fno-sanitize-recover=undefined
FUZZ_SRC      := $(wildcard fuzz/fuzz_*.c)
# Targets that drive the Lua runtime link the module, the embedding API and Lua.
FUZZ_LUA      := fuzz_request fuzz_policy
FUZZ_BIN       = $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzzers/%)
TSAN_OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=thread

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-binaries tsan

fuzz-build:
	$(MAKE) BUILD=build/fuzz CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) OPT="$(FUZZ_OPT)" fuzz-binaries

fuzz-binaries: $(FUZZ_BIN)

$(FUZZ_LUA:%=$(BUILD)/fuzzers/%): $(BUILD)/fuzzers/%: fuzz/%.c $(wildcard fuzz/*.h) $(POLICY_OBJ) \
  $(MODULE_OBJ) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LUA_CFLAGS) $(BINDINGS_INC) -Ifuzz $(ALL_LDFLAGS) -fsanitize=fuzzer \
	  -Wl,-E -o $@ $< $(POLICY_OBJ) $(MODULE_OBJ) $(STATIC_LIB) $(PKG_LIBS) $(LUA_LIBS) -lm -ldl

$(BUILD)/fuzzers/%: fuzz/%.c $(wildcard fuzz/*.h) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -Ifuzz $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $< \
	  $(STATIC_LIB) $(PKG_LIBS) -lm

# The same targets without libFuzzer, entry points renamed, for
# tests/test_fuzz_regressions.c: it replays saved inputs in every build
# (plain, sanitize, memcheck, tsan).
REPLAY_OBJ     = $(FUZZ_SRC:fuzz/%.c=$(BUILD)/obj/replay/%.o)
$(BUILD)/obj/replay/%.o: fuzz/%.c $(wildcard fuzz/*.h) $(wildcard core/include/*.h core/include/vmutils/*.h bindings/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LUA_CFLAGS) $(BINDINGS_INC) -Ifuzz -DFUZZ_REPLAY \
	  -DLLVMFuzzerTestOneInput=replay_$*_one -DLLVMFuzzerInitialize=replay_$*_init -c $< -o $@
$(BUILD)/tests/test_fuzz_regressions: tests/test_fuzz_regressions.c $(REPLAY_OBJ) $(POLICY_OBJ) \
  $(MODULE_OBJ) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -Itests $(ALL_LDFLAGS) -Wl,-E -o $@ $< $(REPLAY_OBJ) \
	  $(POLICY_OBJ) $(MODULE_OBJ) $(STATIC_LIB) $(PKG_LIBS) $(LUA_LIBS) -lcmocka -lm -ldl

fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_SECONDS)
	bench/fuzz_stats.sh

fuzz-smoke: fuzz-build
	fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

tsan: deps
	$(MAKE) BUILD=build/tsan OPT="$(TSAN_OPT)" $(TEST_BIN:$(BUILD)/%=build/tsan/%)
	@set -e; for t in build/tsan/tests/test_*; do \
	  echo "tsan $$t"; \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	    CMOCKA_MESSAGE_OUTPUT=TAP $$t >build/tsan/last.log 2>&1 \
	    || { tail -n 60 build/tsan/last.log; exit 1; }; \
	done; echo "tsan: all C tests clean"
