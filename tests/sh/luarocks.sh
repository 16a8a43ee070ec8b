#!/usr/bin/env bash
# The LuaRocks package, as a new user gets it: a fresh `git clone` of this
# checkout's HEAD, then in that clone `luarocks make` of
# vmutils-0.1.0-1.rockspec into a temporary tree (offline, Debian's
# luarocks, --lua-version=5.4 --deps-mode=none), then `require "vmutils"`,
# the `vmutils` program and the shipped policy from that tree alone, then
# `luarocks remove`, which must leave none of them behind. Prints TAP.
set -u
cd "$(dirname "$0")/../.."
ROCKSPEC=vmutils-0.1.0-1.rockspec
VERSION=0.1.0-1
# A plain build, whatever make runs this test: under `make sanitize` the
# variables of the outer make (SAN=1) would reach the rock's make through
# MAKEFLAGS and build an ASan module that plain lua5.4 cannot load.
# The rock's make gets the two jobs of its own.
LUAROCKS=(env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL -u SAN -u LD_PRELOAD MAKEFLAGS=-j2
          luarocks --lua-version=5.4)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
clone=$tmp/clone tree=$tmp/tree log=$tmp/log

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$log" | tail -n 30; }
check() { local name=$1; shift; if "$@" >"$log" 2>&1; then ok "$name"; else not_ok "$name"; fi; }
# rocks ARGS...: luarocks ARGS in the clone.
rocks() { (cd "$clone" && "${LUAROCKS[@]}" "$@"); }

if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "1..0 # SKIP not a git checkout: the test clones HEAD"
  exit 0
fi

check "git clone of HEAD" git clone -q --no-hardlinks "$(git rev-parse --show-toplevel)" "$clone"
check "the rockspec passes luarocks lint" rocks lint "$ROCKSPEC"
check "the rockspec has a homepage and the licence of LICENSE" \
  lua5.4 -e "
    local env = {}
    assert(loadfile('$clone/$ROCKSPEC', 't', env))()
    assert(env.description.homepage:match('^https://'), 'homepage')
    local licence = io.open('$clone/LICENSE'):read('l')
    assert(licence == env.description.license .. ' License', licence .. ' vs ' .. env.description.license)"
check "luarocks make in the fresh clone installs into a temporary tree" \
  rocks make --tree "$tree" --deps-mode=none "$ROCKSPEC"
check "luarocks lists the rock" \
  bash -c "cd '$clone' && $(printf '%q ' "${LUAROCKS[@]}") --tree '$tree' list --porcelain | grep -q '^vmutils	$VERSION	installed'"
check "the module, the program and the policy are in the tree" \
  test -f "$tree/lib/lua/5.4/vmutils.so" -a -x "$tree/bin/vmutils" -a -f "$tree/share/lua/5.4/vmutils/policies/lcow.lua"

# Only the tree on the paths: neither build directory may be what loads.
paths=$(rocks --tree "$tree" path 2>/dev/null)
require_script='
local v = require "vmutils"
local where = package.searchpath("vmutils", package.cpath)
assert(where:find(os.getenv("TREE"), 1, true) == 1, "loaded from " .. where)
assert(v._VERSION == "vmutils 0.1.0", v._VERSION)
assert(v.normalize_memory_size("", 1023) == 1024)
assert(v.MAX_VPMEM_COUNT == 128)
local opts = assert(v.unmarshal_runtime_options(nil))
assert(opts.vm_processor_count == 0)
local policy = package.searchpath("vmutils.policies.lcow", package.path)
assert(policy and policy:find(os.getenv("TREE"), 1, true) == 1, "policy at " .. tostring(policy))
print(where)'
check 'require "vmutils" from the tree works, and the policy is on package.path' \
  env -i PATH="$PATH" TREE="$tree" bash -c "$paths
export LUA_CPATH_5_4=\"\$LUA_CPATH\" LUA_PATH_5_4=\"\$LUA_PATH\"
cd / && lua5.4 -e '$require_script'"
check "the tree's vmutils program evaluates the tree's policy" \
  bash -c "cd '$clone' && env -i PATH=/usr/bin:/bin '$tree/bin/vmutils' policy --compact '$tree/share/lua/5.4/vmutils/policies/lcow.lua' examples/lcow-request.json >'$tmp/doc.json' && grep -q '\"VirtualMachine\"' '$tmp/doc.json'"
check "luarocks show names the module" \
  bash -c "cd '$clone' && $(printf '%q ' "${LUAROCKS[@]}") --tree '$tree' show vmutils | grep -qF '$tree/lib/lua/5.4/vmutils.so'"
check "luarocks remove takes the module, the program and the policy out again" \
  bash -c "cd '$clone' && $(printf '%q ' "${LUAROCKS[@]}") --tree '$tree' remove vmutils &&
    test ! -e '$tree/lib/lua/5.4/vmutils.so' -a ! -e '$tree/bin/vmutils' -a ! -e '$tree/share/lua/5.4/vmutils/policies/lcow.lua' &&
    ! $(printf '%q ' "${LUAROCKS[@]}") --tree '$tree' list --porcelain | grep -q '^vmutils'"

echo "1..$n"
[ "$failed" -eq 0 ]
