#!/usr/bin/env bash
# `make install` into a prefix, then a C program built with
# `pkg-config --cflags --libs vmutils` against that tree links and runs
# without LD_LIBRARY_PATH (the .pc file's rpath), the C policy host of
# examples/embed builds with `pkg-config vmutils-policy` against the same
# tree and runs, and the installed Lua module loads. Also checks a
# DESTDIR-staged install and `make uninstall`.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-build}
n=0 fails=0
check() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fails=$((fails + 1)); fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
san=""; [ "${SANITIZE:-0}" = 1 ] && san="-fsanitize=address,undefined"
# Only the installed tree and the rpath may lead a program to the libraries.
unset LD_LIBRARY_PATH
pc="PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig pkg-config"

check "make install into a prefix" \
  "make -s install BUILD=$BUILD PREFIX=$tmp/prefix >$tmp/install.log 2>&1"
check "pkg-config finds vmutils" \
  "PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig pkg-config --exists vmutils"
check "pkg-config version is the library version" \
  "[ \"\$(PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig pkg-config --modversion vmutils)\" = \"\$(sed -n 's/^VERSION *:= *//p' Makefile)\" ]"
check "a C program compiles and links with pkg-config flags" \
  "cc $san examples/c/hello.c \$(PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig pkg-config --cflags --libs vmutils) -o $tmp/hello 2>$tmp/cc.log"
check "the program runs without LD_LIBRARY_PATH" \
  "$tmp/hello >$tmp/hello.out 2>&1"
check "it resolved the installed libvmutils.so through its rpath" \
  "ldd $tmp/hello | grep -q \"libvmutils.so.0 => $tmp/prefix/lib/libvmutils.so.0\""
check "its log record is logrus JSON" \
  "grep -q '\"msg\":\"vmutils linked\"' $tmp/hello.out && grep -q '\"uvm-id\":\"example-vm\"' $tmp/hello.out"
check "the sizing call logged its warning and rounded up" \
  "grep -q 'Changing user requested MemorySizeInMB to align to 2MB' $tmp/hello.out && grep -q '\"memory-mb\":4096' $tmp/hello.out"
check "the installed Lua module loads" \
  "lua5.4 -e 'package.cpath=\"$tmp/prefix/lib/lua/5.4/?.so;\"..package.cpath; local v=require\"vmutils\"; assert(v._VERSION:match(\"^vmutils \"))'"

# The policy runtime for C hosts.
check "the runtime header and libraries are installed" \
  "[ -f $tmp/prefix/include/vmutils_policy.h ] && [ -f $tmp/prefix/lib/libvmutils-policy.a ] && [ -L $tmp/prefix/lib/libvmutils-policy.so ] && [ -L $tmp/prefix/lib/libvmutils-policy.so.0 ]"
check "pkg-config finds vmutils-policy, at the library version" \
  "[ \"\$($pc --modversion vmutils-policy)\" = \"\$($pc --modversion vmutils)\" ]"
check "examples/embed builds with pkg-config vmutils-policy against the installed tree" \
  "cc $san -std=c11 -Wall -Wextra -Werror examples/embed/policy_host.c \$($pc --cflags --libs vmutils-policy) -o $tmp/policy_host 2>$tmp/cc.log"
check "the policy host resolved the installed libvmutils-policy.so through its rpath" \
  "ldd $tmp/policy_host | grep -q \"libvmutils-policy.so.0 => $tmp/prefix/lib/libvmutils-policy.so.0\""
check "the policy host runs without LD_LIBRARY_PATH and prints what vmutils policy prints" \
  "$tmp/policy_host scripts/policies/lcow.lua examples/lcow-request.json >$tmp/host.json 2>$tmp/host.err && $tmp/prefix/bin/vmutils policy --compact scripts/policies/lcow.lua examples/lcow-request.json >$tmp/cli.json 2>/dev/null && [ -s $tmp/host.json ] && cmp -s $tmp/host.json $tmp/cli.json"
check "the policy host reports a rejection with status 1" \
  "$tmp/policy_host scripts/policies/lcow.lua examples/lcow-reject-deferred-commit.json >/dev/null 2>$tmp/host.err; [ \$? -eq 1 ] && grep -q '^refused: ' $tmp/host.err"
check "the static runtime and core archives link a policy host too" \
  "cc $san -std=c11 examples/embed/policy_host.c \$($pc --cflags vmutils-policy) $tmp/prefix/lib/libvmutils-policy.a $tmp/prefix/lib/libvmutils.a \$(pkg-config --libs yajl libprotobuf-c hwloc double-conversion lua5.4) -lm -ldl -pthread -o $tmp/policy_host_static 2>$tmp/cc.log && ! ldd $tmp/policy_host_static | grep -q libvmutils && $tmp/policy_host_static scripts/policies/lcow.lua examples/lcow-request.json | cmp -s - $tmp/cli.json"

check "DESTDIR stages the same tree" \
  "make -s install BUILD=$BUILD PREFIX=/usr/local DESTDIR=$tmp/stage >/dev/null 2>&1 && [ -f $tmp/stage/usr/local/include/vmutils.h ] && [ -f $tmp/stage/usr/local/include/vmutils_policy.h ] && [ -f $tmp/stage/usr/local/lib/pkgconfig/vmutils.pc ] && [ -f $tmp/stage/usr/local/lib/pkgconfig/vmutils-policy.pc ] && [ -L $tmp/stage/usr/local/lib/libvmutils.so ] && [ -L $tmp/stage/usr/local/lib/libvmutils-policy.so ]"
check "the staged .pc files name the final prefix, not the staging directory" \
  "grep -q '^libdir=/usr/local/lib\$' $tmp/stage/usr/local/lib/pkgconfig/vmutils-policy.pc && ! grep -q $tmp $tmp/stage/usr/local/lib/pkgconfig/*.pc"
check "the shared libraries carry versioned sonames" \
  "objdump -p $tmp/prefix/lib/libvmutils.so.0.* 2>/dev/null | grep -q 'SONAME *libvmutils.so.0\$' && objdump -p $tmp/prefix/lib/libvmutils-policy.so.0.* 2>/dev/null | grep -q 'SONAME *libvmutils-policy.so.0\$'"
check "make uninstall leaves no file behind" \
  "make -s uninstall BUILD=$BUILD PREFIX=$tmp/prefix >/dev/null 2>&1 && [ -z \"\$(find $tmp/prefix ! -type d)\" ]"
echo "1..$n"
[ $fails -eq 0 ]
