#!/usr/bin/env bash
# Policy benchmarks, printed:
#  1. evaluations per second of the default policy on the example request, in
#     one process, through the C embedding API (bench/policy_bench.c);
#  2. start-up of `vmutils run empty.lua` against `lua5.4 empty.lua`, measured
#     in the same run, alternating the two so that both see the same machine.
#
#   bench/policy_bench.sh [SECONDS] [STARTUP_RUNS]
#
# Run from anywhere; builds what it needs with make. BUILD picks the tree.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECONDS_PER_RUN=${1:-3}
STARTUP_RUNS=${2:-300}

make -s BUILD="$BUILD" "$BUILD/vmutils" "$BUILD/libvmutils.a" >/dev/null

# The bench program links what an embedding host links: the runtime's
# objects, the module's objects, the core and Lua; Lua statically when the
# static library is there (as Debian's own lua5.4 links it: no PLT between the
# host and the interpreter).
lua_static=$(pkg-config --variable=libdir lua5.4 2>/dev/null)/liblua5.4.a
if [ -f "$lua_static" ]; then lua_libs=$lua_static; else lua_libs=$(pkg-config --libs lua5.4); fi
embed_obj=$(ls bindings/policy/*.c | sed "s|^|$BUILD/obj/|; s|\.c$|.o|")
module_obj=$(ls bindings/lua/*.c | sed "s|^|$BUILD/obj/|; s|\.c$|.o|")
mkdir -p "$BUILD/bench"
cc -std=c11 -O2 -D_GNU_SOURCE -Icore/include -Ibindings/lua -Ibindings/policy $(pkg-config --cflags lua5.4) \
  -o "$BUILD/bench/policy_bench" bench/policy_bench.c $embed_obj $module_obj "$BUILD/libvmutils.a" \
  "$lua_libs" $(pkg-config --libs yajl libprotobuf-c hwloc double-conversion) -Wl,-E -lm -ldl -pthread

echo "== policy evaluations (scripts/policies/lcow.lua on examples/lcow-request.json, one process)"
"$BUILD/bench/policy_bench" scripts/policies/lcow.lua examples/lcow-request.json "$SECONDS_PER_RUN" |
  awk '{ printf "evaluations/s: %d  (%d evaluations in %.2f s; aim: over 20000)\n", $6, $2, $4 }'

echo "== start-up ($STARTUP_RUNS runs each, alternating)"
empty=$(mktemp --suffix=.lua)
trap 'rm -f "$empty"' EXIT
vmutils_ns=0 lua_ns=0
for _ in $(seq "$STARTUP_RUNS"); do
  t0=$(date +%s%N)
  "$BUILD/vmutils" run "$empty"
  t1=$(date +%s%N)
  lua5.4 "$empty"
  t2=$(date +%s%N)
  vmutils_ns=$((vmutils_ns + t1 - t0))
  lua_ns=$((lua_ns + t2 - t1))
done
awk -v v="$vmutils_ns" -v l="$lua_ns" -v n="$STARTUP_RUNS" 'BEGIN {
  printf "vmutils run empty.lua: %.0f us\n", v / n / 1000
  printf "lua5.4 empty.lua:      %.0f us\n", l / n / 1000
  printf "ratio: %.2f (aim: under 1.5)\n", v / l
}'
