#!/usr/bin/env bash
# docs/lua-api.md against the built module, both ways: every function and
# constant of `require "vmutils"` (members of nested tables included) has a
# heading `### vmutils.NAME`, every such heading names something the module
# has, every function's section shows an example, and every example runs
# and prints what its `-->` comments say.
# LUA_API_DOC selects another page (to see the test fail on a partial one).
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-build}
DOC=${LUA_API_DOC:-docs/lua-api.md}
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; fails=$((fails + 1)); }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$BUILD/vmutils.so" ] || [ ! -f "$DOC" ]; then
  not_ok "the module ($BUILD/vmutils.so) and the page ($DOC) exist"
  echo "1..$n"; exit 1
fi

# "KIND vmutils.PATH" for every entry of the module, nested tables walked.
VMUTILS_SO_DIR=$BUILD lua5.4 -e '
  package.cpath = os.getenv("VMUTILS_SO_DIR") .. "/?.so;" .. package.cpath
  local seen = {}
  local function walk(t, prefix)
    seen[t] = true
    local keys = {}
    for k in pairs(t) do
      if type(k) == "string" then keys[#keys + 1] = k end
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v, path = t[k], prefix .. "." .. k
      print(type(v), path)
      if type(v) == "table" and not seen[v] then walk(v, path) end
    end
  end
  walk(require "vmutils", "vmutils")' >"$tmp/module" 2>"$tmp/lua.err"
if [ ! -s "$tmp/module" ]; then
  not_ok "the module loads and lists its entries ($(head -c 300 "$tmp/lua.err"))"
  echo "1..$n"; exit 1
fi
ok "the module lists $(wc -l <"$tmp/module" | tr -d ' ') entries"

grep -E '^###[[:space:]]+vmutils' "$DOC" | sed -E 's/[[:space:]]+$//' >"$tmp/vmutils_headings"
grep -E '^### vmutils(\.[A-Za-z_][A-Za-z0-9_]*)+$' "$DOC" | sed 's/^### //' >"$tmp/headings"

bad=$(grep -vxE '### vmutils(\.[A-Za-z_][A-Za-z0-9_]*)+' "$tmp/vmutils_headings" | head -3 | tr '\n' '|')
if [ -z "$bad" ]; then ok "every vmutils heading is exactly '### vmutils.NAME'"
else not_ok "every vmutils heading is exactly '### vmutils.NAME' (not: $bad)"; fi

dups=$(sort "$tmp/headings" | uniq -d | tr '\n' ' ')
if [ -z "$dups" ]; then ok "no entry has two headings"
else not_ok "no entry has two headings (twice: $dups)"; fi

# Every entry but a nested table itself needs a heading of its own.
while read -r kind path; do
  [ "$kind" = table ] && continue
  if grep -qxF "$path" "$tmp/headings"; then ok "documented: $path ($kind)"
  else not_ok "documented: $path ($kind) has no '### $path' in $DOC"; fi
done <"$tmp/module"

# Every heading names an entry of the module (a nested table may have one).
while read -r path; do
  if awk -v p="$path" '$2 == p { found = 1 } END { exit !found }' "$tmp/module"; then
    ok "exists in the module: $path"
  else
    not_ok "exists in the module: $path (the page documents a name the module does not have)"
  fi
done <"$tmp/headings"

# A function's section (up to the next ## or ### heading) shows an example.
while read -r kind path; do
  [ "$kind" = function ] || continue
  grep -qxF "$path" "$tmp/headings" || continue
  if awk -v h="### $path" '
       $0 == h { inside = 1; next }
       inside && /^###? / { exit }
       inside && /^```lua/ { found = 1 }
       END { exit !found }' "$DOC"; then
    ok "example given: $path"
  else
    not_ok "example given: $path (no \`\`\`lua block in its section)"
  fi
done <"$tmp/module"

# Every ```lua example runs (in a fresh lua5.4, the module as the global
# `vmutils`, from the top of the repository, without ProgramFiles) and prints what its `--> ...`
# comments say, in order (runs of white space compared as one space).
awk -v dir="$tmp" '
  /^```lua/ { inb = 1; blocks++; file = dir "/example" blocks; print NR > (file ".line"); next }
  /^```/ && inb { inb = 0; next }
  inb {
    print > (file ".lua")
    if (match($0, /-->.*/)) print substr($0, RSTART + 3) > (file ".want")
  }' "$DOC"
for code in "$tmp"/example*.lua; do
  [ -f "$code" ] || continue
  base=${code%.lua} line=$(cat "$base.line")
  env -u ProgramFiles VMUTILS_SO_DIR="$BUILD" lua5.4 -e 'package.cpath = os.getenv("VMUTILS_SO_DIR") .. "/?.so;" .. package.cpath
    vmutils = require "vmutils"' "$code" >"$base.out" 2>"$base.err"
  st=$?
  norm() { sed -E 's/[[:space:]]+/ /g; s/^ //; s/ $//' "$1"; }
  touch "$base.want"
  if [ $st -ne 0 ]; then
    not_ok "the example at line $line runs ($(tail -n 3 "$base.err" | tr '\n' ' ' | head -c 200))"
  elif [ -s "$base.want" ] && ! diff <(norm "$base.want") <(norm "$base.out") >"$base.diff"; then
    not_ok "the example at line $line prints what it says ($(tr '\n' ' ' <"$base.diff" | head -c 200))"
  else
    ok "the example at line $line runs$( [ -s "$base.want" ] && echo ' and prints what it says')"
  fi
done

if grep -nE '\.\./shared|/work/' "$DOC" >"$tmp/outside"; then
  not_ok "the page names no file outside the repository ($(head -1 "$tmp/outside"))"
else
  ok "the page names no file outside the repository"
fi

echo "1..$n"
[ $fails -eq 0 ]
