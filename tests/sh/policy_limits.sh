#!/usr/bin/env bash
# The sandbox's per-call limits through `vmutils policy`: --timeout ends C
# work the instruction budget cannot see, --open-files limits the files a
# policy holds open, and their values are checked. Prints TAP.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-build}
VMUTILS=$BUILD/vmutils

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0 failed=0
check() { # description, wanted status, wanted stderr part, command...
  local what=$1 want=$2 part=$3
  shift 3
  "$@" >"$work/out" 2>"$work/err" </dev/null
  local status=$?
  n=$((n + 1))
  if [ "$status" -eq "$want" ] && grep -qF -- "$part" "$work/err" "$work/out"; then
    echo "ok $n - $what"
  else
    failed=$((failed + 1))
    echo "not ok $n - $what (status $status)"
    sed 's/^/# /' "$work/err" | tail -n 5
  fi
}

cat >"$work/move.lua" <<'LUA'
return function() table.move({}, 1, math.maxinteger - 1, 1, {}) return { done = true } end
LUA
cat >"$work/files.lua" <<'LUA'
return function()
  local kept, err = {}, nil
  for i = 1, 20 do
    local f, e = io.open("/dev/null")
    if not f then err = e break end
    kept[#kept + 1] = f
  end
  return { opened = #kept, err = err }
end
LUA
cat >"$work/stdin.lua" <<'LUA'
return function() for l in io.lines("/dev/stdin") do end return {} end
LUA

echo "1..6"
check "--timeout ends a C loop without a budget" 1 "policy exceeded its time limit" \
  "$VMUTILS" policy --instructions 0 --timeout 100 "$work/move.lua"
check "the default time limit holds without a budget" 1 "policy exceeded its time limit" \
  "$VMUTILS" policy --instructions 0 "$work/move.lua"
check "--timeout needs a duration" 2 "--timeout needs a CPU time" \
  "$VMUTILS" policy --timeout soon "$work/move.lua"
check "--open-files limits the files held open" 0 '"opened":3' \
  "$VMUTILS" policy --compact --open-files 3 "$work/files.lua"
check "the default open-file limit" 0 '"err":"too many open files (the limit is 16)"' \
  "$VMUTILS" policy --compact "$work/files.lua"
check "standard input is out of reach" 1 "/dev/stdin" \
  "$VMUTILS" policy "$work/stdin.lua"
[ "$failed" -eq 0 ]
