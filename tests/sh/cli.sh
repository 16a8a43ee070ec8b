#!/usr/bin/env bash
# The runtime program as the docs show it: every example request through
# `vmutils policy` with the exit status its name promises, the main job's
# document, the C embedding example built and run against the same request
# (same bytes as `vmutils policy --compact`), and the main script. Prints TAP.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-build}
VMUTILS=$BUILD/vmutils
POLICY=scripts/policies/lcow.lua

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$work/log" | tail -n 20; }

examples=(examples/lcow-*.json)
echo "1..$((${#examples[@]} + 5))"

for request in "${examples[@]}"; do
  want=0
  case $request in *-reject-*) want=1 ;; esac
  "$VMUTILS" policy "$POLICY" "$request" >"$work/out" 2>"$work/log"
  status=$?
  if [ "$status" -eq "$want" ] && { [ "$want" -ne 0 ] || lua5.4 -e '
      local doc = require("cjson").decode(io.read("a"))
      assert(type(doc.VirtualMachine.ComputeTopology.Processor.Count) == "number")' <"$work/out" 2>>"$work/log"; }
  then
    ok "$(basename "$request") exits $want"
  else
    echo "exit status $status" >>"$work/log"
    not_ok "$(basename "$request") exits $want"
  fi
done

"$VMUTILS" policy "$POLICY" examples/lcow-request.json >"$work/main.json" 2>"$work/log"
if lua5.4 -e '
    local doc = require("cjson").decode(io.read("a"))
    local vm = doc.VirtualMachine
    assert(vm.ComputeTopology.Processor.Count == 2, "count")
    assert(vm.ComputeTopology.Memory.SizeInMB == 2048, "memory")
    assert(vm.Chipset.LinuxKernelDirect.KernelFilePath:match("/examples/boot%-files/vmlinux$"), "kernel")
    assert(#doc.ConfidentialOptions.EncodedUVMReference > 0, "reference info")' <"$work/main.json" 2>>"$work/log"
then ok "the main job's document (make run)"; else not_ok "the main job's document (make run)"; fi

# The C embedding example, built as docs/runtime.md says.
sanitize=()
[ "${SANITIZE:-0}" = 1 ] && sanitize=(-fsanitize=address,undefined)
embed_obj=$(ls bindings/vmutils_runtime*.c | sed "s|^|$BUILD/obj/|; s|\.c$|.o|")
module_obj=$(ls bindings/lua_*.c | sed "s|^|$BUILD/obj/|; s|\.c$|.o|")
if cc "${sanitize[@]}" -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -Icore/include -Ibindings $(pkg-config --cflags lua5.4) \
     -o "$work/policy_host" examples/embed/policy_host.c $embed_obj $module_obj "$BUILD/libvmutils.a" \
     $(pkg-config --libs yajl libprotobuf-c hwloc lua5.4) -Wl,-E -lm -ldl -pthread >"$work/log" 2>&1
then ok "examples/embed/policy_host.c builds against the embedding API"; else not_ok "examples/embed/policy_host.c builds against the embedding API"; fi

"$work/policy_host" "$POLICY" examples/lcow-request.json >"$work/host.json" 2>"$work/log"
"$VMUTILS" policy --compact "$POLICY" examples/lcow-request.json >"$work/cli.json" 2>>"$work/log"
if cmp -s "$work/host.json" "$work/cli.json"; then ok "the C host prints the bytes vmutils policy prints"; else not_ok "the C host prints the bytes vmutils policy prints"; fi

"$work/policy_host" "$POLICY" examples/lcow-reject-deferred-commit.json >"$work/out" 2>"$work/log"
status=$?
if [ "$status" -eq 1 ] && grep -q '^refused: failed to parse memory parameters' "$work/log"; then
  ok "the C host sees a rejection as such"
else
  not_ok "the C host sees a rejection as such"
fi

if "$VMUTILS" run scripts/main.lua >"$work/out" 2>"$work/log" && [ -s "$work/out" ]; then
  ok "vmutils run scripts/main.lua"
else
  not_ok "vmutils run scripts/main.lua"
fi

[ "$failed" -eq 0 ]
