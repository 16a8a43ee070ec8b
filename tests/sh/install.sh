#!/usr/bin/env bash
# `make install` into a prefix, then a C program built with
# `pkg-config --cflags --libs vmutils` against that tree links and runs, and
# the installed Lua module loads. Also checks a DESTDIR-staged install.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-build}
n=0 fails=0
check() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fails=$((fails + 1)); fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
san=""; [ "${SANITIZE:-0}" = 1 ] && san="-fsanitize=address,undefined"

check "make install into a prefix" \
  "make -s install BUILD=$BUILD PREFIX=$tmp/prefix >$tmp/install.log 2>&1"
check "pkg-config finds vmutils" \
  "PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig pkg-config --exists vmutils"
check "pkg-config version is the library version" \
  "[ \"\$(PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig pkg-config --modversion vmutils)\" = \"\$(sed -n 's/^VERSION *:= *//p' Makefile)\" ]"
check "a C program compiles and links with pkg-config flags" \
  "cc $san examples/c/hello.c \$(PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig pkg-config --cflags --libs vmutils) -o $tmp/hello 2>$tmp/cc.log"
check "the program runs against the installed shared library" \
  "LD_LIBRARY_PATH=$tmp/prefix/lib $tmp/hello >$tmp/hello.out 2>&1"
check "it resolved the installed libvmutils.so" \
  "LD_LIBRARY_PATH=$tmp/prefix/lib ldd $tmp/hello | grep -q \"$tmp/prefix/lib/libvmutils.so.0\""
check "its log record is logrus JSON" \
  "grep -q '\"msg\":\"vmutils linked\"' $tmp/hello.out && grep -q '\"uvm-id\":\"example-vm\"' $tmp/hello.out"
check "the sizing call logged its warning and rounded up" \
  "grep -q 'Changing user requested MemorySizeInMB to align to 2MB' $tmp/hello.out && grep -q '\"memory-mb\":4096' $tmp/hello.out"
check "the installed Lua module loads" \
  "lua5.4 -e 'package.cpath=\"$tmp/prefix/lib/lua/5.4/?.so;\"..package.cpath; local v=require\"vmutils\"; assert(v._VERSION:match(\"^vmutils \"))'"
check "DESTDIR stages the same tree" \
  "make -s install BUILD=$BUILD PREFIX=/usr/local DESTDIR=$tmp/stage >/dev/null 2>&1 && [ -f $tmp/stage/usr/local/include/vmutils.h ] && [ -f $tmp/stage/usr/local/lib/pkgconfig/vmutils.pc ] && [ -L $tmp/stage/usr/local/lib/libvmutils.so ]"
check "the shared library carries a versioned soname" \
  "objdump -p $tmp/prefix/lib/libvmutils.so.* 2>/dev/null | grep -q 'SONAME *libvmutils.so.0'"
[ $fails -eq 0 ]
