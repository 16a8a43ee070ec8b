#!/usr/bin/env bash
# `vmutils policy` against hostile input and output: size caps on the
# request and the policy (/dev/zero, 600 MB on stdin, with the peak RSS
# measured), the document byte cap, strict requests, write errors, and the
# example requests through scripts/policies/lcow.lua giving the documents in
# tests/policy_golden (made with `vmutils policy --compact` before the strict
# request check and the bounded encoder existed; the working directory is
# written @CWD@ there and log times @TIME@). Prints TAP.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-build}
VMUTILS=$BUILD/vmutils
POLICY=scripts/policies/lcow.lua

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$work/err" | tail -n 10; }
check() { if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2"; fi; }

# Runs a command with stdin from $1 (a file, or "-pipe CMD": that command's
# output through a pipe), output to $work/out and $work/err; sets $status and
# $rss_kb (the command's peak RSS, from getrusage of the child).
run() {
  local input=$1; shift
  python3 - "$input" "$@" >"$work/out" 2>"$work/err" 3>"$work/status" <<'PY'
import os, resource, subprocess, sys
src, argv = sys.argv[1], sys.argv[2:]
if src.startswith("-pipe "):
    feeder = subprocess.Popen(src[6:], shell=True, stdout=subprocess.PIPE)
    status = subprocess.run(argv, stdin=feeder.stdout).returncode
    feeder.stdout.close()
    feeder.kill()
    feeder.wait()
else:
    with open(src, "rb") as f:
        status = subprocess.run(argv, stdin=f).returncode
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
os.write(3, b"%d %d\n" % (status, rss))
PY
  read -r status rss_kb <"$work/status"
}

echo "1..17"

run /dev/null "$VMUTILS" policy --memory 16M "$POLICY" /dev/zero
grep -qx 'vmutils policy: cannot read /dev/zero: larger than 16777216 bytes (--max-request-bytes)' "$work/err"
check $(( $? + (status != 2) )) "a request of /dev/zero stops at the request cap, exit 2"

run /dev/null "$VMUTILS" policy /dev/zero
grep -qx 'vmutils policy: policy larger than 4194304 bytes' "$work/err"
check $(( $? + (status != 2) )) "a policy of /dev/zero stops at the policy cap, exit 2"

run "-pipe head -c 600000000 /dev/zero" "$VMUTILS" policy --memory 16M "$POLICY" -
grep -qx 'vmutils policy: cannot read the request from stdin: larger than 16777216 bytes (--max-request-bytes)' "$work/err"
r=$?
echo "# 600 MB on stdin with --memory 16M: exit $status, peak RSS ${rss_kb} KiB"
check $(( r + (status != 2) )) "600 MB on stdin stops at the request cap, exit 2"
# The cap (16 MiB) plus the runtime: well under a tenth of the input.
if [ "${SANITIZE:-0}" = 1 ]; then
  n=$((n + 1)); echo "ok $n - # SKIP peak RSS: ASan's shadow memory and quarantine are no measure of it"
else
  check $(( rss_kb > 60000 )) "600 MB on stdin: peak RSS ${rss_kb} KiB stays under 60000 KiB"
fi

# examples/lcow-request.json: 598 bytes.
run /dev/null "$VMUTILS" policy --max-request-bytes 500 "$POLICY" examples/lcow-request.json
grep -qx 'vmutils policy: cannot read examples/lcow-request.json: larger than 500 bytes (--max-request-bytes)' "$work/err"
check $(( $? + (status != 2) )) "--max-request-bytes 500 refuses a request of 598 bytes"
run /dev/null "$VMUTILS" policy --max-request-bytes 598 --max-policy-bytes 0 "$POLICY" examples/lcow-request.json
check $(( status != 0 )) "--max-request-bytes 598 and --max-policy-bytes 0 (no cap) accept it"
run /dev/null "$VMUTILS" policy --max-policy-bytes 1K "$POLICY"
grep -qx 'vmutils policy: policy larger than 1024 bytes' "$work/err"
check $(( $? + (status != 2) )) "--max-policy-bytes 1K refuses scripts/policies/lcow.lua"

# The cap against the example document's own length (it holds the
# working directory, so it varies).
"$VMUTILS" policy --compact "$POLICY" examples/lcow-request.json >"$work/doc"
len=$(( $(wc -c <"$work/doc") - 1 ))
run /dev/null "$VMUTILS" policy --compact --max-document-bytes $((len - 1)) "$POLICY" examples/lcow-request.json
grep -qx "vmutils policy: document exceeds $((len - 1)) bytes" "$work/err"
check $(( $? + (status != 1) )) "--max-document-bytes one short of the document ($len bytes) fails it (exit 1)"
run /dev/null "$VMUTILS" policy --compact --max-document-bytes "$len" "$POLICY" examples/lcow-request.json
cmp -s "$work/out" "$work/doc"
check $(( $? + (status != 0) )) "--max-document-bytes $len passes it"

# Strict requests: each fails with its byte offset, exit 2.
strict=(
  '[]|request: must be a JSON object, got an array at byte offset 0'
  '{"a":0x10}|request: invalid JSON: lexical error: invalid char in json text at byte offset 6'
  '{"a":-nan}|at byte offset 5'
  '{"host": []}|request: host must be an object, got an array at byte offset 9'
)
for c in "${strict[@]}"; do
  printf '%s' "${c%%|*}" >"$work/req.json"
  run "$work/req.json" "$VMUTILS" policy "$POLICY" -
  grep -qF "${c#*|}" "$work/err"
  check $(( $? + (status != 2) )) "request ${c%%|*} fails with exit 2: ${c#*|}"
done

# A 600-byte path (300 two-byte characters): the message holds it whole
# and ends with the reason.
long=/tmp/$(printf '\303\251%.0s' $(seq 300))
for what in "policy:$long.lua" "request:$long.json"; do
  if [ "${what%%:*}" = policy ]; then
    run /dev/null "$VMUTILS" policy "${what#*:}"
  else
    run /dev/null "$VMUTILS" policy "$POLICY" "${what#*:}"
  fi
  grep -qxF "vmutils policy: cannot open ${what#*:}: File name too long" "$work/err"
  check $(( $? + (status != 2) )) "a ${what%%:*} path of 600 bytes: the whole path and the reason, exit 2"
done

# Write errors are reported, exit 1.
if [ -w /dev/full ]; then
  "$VMUTILS" policy "$POLICY" examples/lcow-request.json >/dev/full 2>"$work/err"
  status=$?
  grep -qx 'vmutils policy: write stdout: No space left on device' "$work/err"
  check $(( $? + (status != 1) )) "stdout on /dev/full: the write error on stderr, exit 1"
else
  n=$((n + 1)); echo "ok $n - # SKIP /dev/full is not writable here"
fi

# Every example request gives the same document, warnings and exit status
# recorded in tests/policy_golden/ (lcow.lua decodes every request the same way).
diffs=0
for request in examples/lcow-*.json; do
  golden=tests/policy_golden/$(basename "$request" .json).txt
  "$VMUTILS" policy --compact "$POLICY" "$request" >"$work/o" 2>"$work/e"
  s=$?
  { cat "$work/o"; echo "--- stderr"; cat "$work/e"; echo "--- exit $s"; } |
    sed -e "s|$PWD|@CWD@|g" -e 's/^time="[^"]*"/time=@TIME@/' >"$work/got"
  if ! diff -u "$golden" "$work/got" >>"$work/err"; then diffs=$((diffs + 1)); fi
done
check "$diffs" "every examples/lcow-*.json gives its tests/policy_golden output"

[ "$failed" -eq 0 ]
