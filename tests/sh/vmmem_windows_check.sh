#!/usr/bin/env bash
# The Win32 backend of the vmmem lookup is compiled only for Windows; this
# builds it (and the lookup) with the mingw-w64 cross compiler, warnings as
# errors, and checks that the objects hold the real API.
set -u
cd "$(dirname "$0")/../.."
n=0 fails=0
check() {
  n=$((n + 1))
  if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fails=$((fails + 1)); fi
}
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
check "make windows-check compiles core/vmmem.c and core/vmmem_win32.c" \
  "make -s windows-check BUILD=$out >$out/log 2>&1 || { cat $out/log; false; }"
check "the Win32 object defines vmu_win32_api_new and vmu_win32_api_free" \
  "x86_64-w64-mingw32-nm $out/windows/vmmem_win32.o | grep -q ' T vmu_win32_api_new' && x86_64-w64-mingw32-nm $out/windows/vmmem_win32.o | grep -q ' T vmu_win32_api_free'"
check "it calls the Toolhelp32, token and account functions" \
  "x86_64-w64-mingw32-nm $out/windows/vmmem_win32.o | grep -q CreateToolhelp32Snapshot && x86_64-w64-mingw32-nm $out/windows/vmmem_win32.o | grep -q Process32NextW && x86_64-w64-mingw32-nm $out/windows/vmmem_win32.o | grep -q LookupAccountSidW && x86_64-w64-mingw32-nm $out/windows/vmmem_win32.o | grep -q GetTokenInformation"
check "the lookup object is the portable one" \
  "x86_64-w64-mingw32-nm $out/windows/vmmem.o | grep -q ' T vmu_lookup_vmmem'"
# The binding's Windows branch (no api: the real one) is checked the same way.
check "bindings/lua/lua_vmmem.c compiles for Windows too" \
  "x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Werror -Icore/include -Ibindings/lua -Ibindings/policy \$(pkg-config --cflags lua5.4) -fsyntax-only bindings/lua/lua_vmmem.c"
[ $fails -eq 0 ]
