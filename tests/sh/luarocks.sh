#!/usr/bin/env bash
# The LuaRocks package: `luarocks make` of vmutils-0.1.0-1.rockspec into a
# temporary tree (offline, Debian's luarocks), then `require "vmutils"` from
# that tree alone, then removal. Prints TAP.
set -u
cd "$(dirname "$0")/../.."
ROCKSPEC=vmutils-0.1.0-1.rockspec
# A plain build, whatever make runs this test: under `make sanitize` the
# variables of the outer make (SAN=1) would reach the rock's make through
# MAKEFLAGS and build an ASan module that plain lua5.4 cannot load; and the
# rock's build directory starts empty, so that no object built with other
# flags is reused.
LUAROCKS=(env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL -u SAN luarocks --lua-version=5.4)
rm -rf build/rock

tree=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$tree" "$log"' EXIT

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$log" | tail -n 30; }
check() { local name=$1; shift; if "$@" >"$log" 2>&1; then ok "$name"; else not_ok "$name"; fi; }

echo "1..7"

check "the rockspec passes luarocks lint" "${LUAROCKS[@]}" lint "$ROCKSPEC"
check "luarocks make installs into a temporary tree" \
  "${LUAROCKS[@]}" make --tree "$tree" --deps-mode=none "$ROCKSPEC"
check "luarocks lists the rock" bash -c "$(printf '%q ' "${LUAROCKS[@]}") --tree '$tree' list --porcelain | grep -q '^vmutils	0.1.0-1	installed'"
check "the module is in the tree" test -f "$tree/lib/lua/5.4/vmutils.so"

# Only the tree on the paths: the build directory must not be what loads.
paths=$("${LUAROCKS[@]}" --tree "$tree" path 2>/dev/null)
require_script='
local v = require "vmutils"
local where = package.searchpath("vmutils", package.cpath)
assert(where:find(os.getenv("TREE"), 1, true) == 1, "loaded from " .. where)
assert(v._VERSION == "vmutils 0.1.0", v._VERSION)
assert(v.normalize_memory_size("", 1023) == 1024)
assert(v.MAX_VPMEM_COUNT == 128)
local opts = assert(v.unmarshal_runtime_options(nil))
assert(opts.vm_processor_count == 0)
print(where)'
check 'require "vmutils" from the tree works' \
  env -i PATH="$PATH" TREE="$tree" bash -c "$paths
export LUA_CPATH_5_4=\"\$LUA_CPATH\" LUA_PATH_5_4=\"\$LUA_PATH\"
cd / && lua5.4 -e '$require_script'"
check "luarocks show names the module" \
  bash -c "$(printf '%q ' "${LUAROCKS[@]}") --tree '$tree' show vmutils | grep -qF '$tree/lib/lua/5.4/vmutils.so'"
check "luarocks remove takes it out again" bash -c "$(printf '%q ' "${LUAROCKS[@]}") --tree '$tree' remove vmutils && test ! -e '$tree/lib/lua/5.4/vmutils.so'"

[ "$failed" -eq 0 ]
