#!/usr/bin/env bash
# The runtime program as the docs show it: every example request through
# `vmutils policy` with the exit status its name promises, the main job's
# document, the C embedding example built and run against the same request
# (same bytes as `vmutils policy --compact`), and the main script. Then the
# command line's conventions: help for every command on stdout, one line
# and a pointer to --help for a usage error, the same exit statuses for
# every command, messages that name the command. Prints TAP.
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
embed_obj=$(ls bindings/policy/*.c | sed "s|^|$BUILD/obj/|; s|\.c$|.o|")
module_obj=$(ls bindings/lua/*.c | sed "s|^|$BUILD/obj/|; s|\.c$|.o|")
if cc "${sanitize[@]}" -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -Icore/include -Ibindings/lua -Ibindings/policy $(pkg-config --cflags lua5.4) \
     -o "$work/policy_host" examples/embed/policy_host.c $embed_obj $module_obj "$BUILD/libvmutils.a" \
     $(pkg-config --libs yajl libprotobuf-c hwloc double-conversion lua5.4) -Wl,-E -lm -ldl -pthread >"$work/log" 2>&1
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

# ---- The command line's conventions ----
commands=(run policy gcs-logs repl help)

# vm ARGS...: runs vmutils with stdin from /dev/null; sets status, out, err.
vm() {
  "$VMUTILS" "$@" </dev/null >"$work/out" 2>"$work/err"
  status=$?
  out=$(cat "$work/out")
  err=$(cat "$work/err")
}
# expect NAME: passes when the previous vm call's status, stdout and stderr
# are the WANT_* values (WANT_OUT is a glob).
expect() {
  if [ "$status" -eq "$want_status" ] && [[ "$out" == $want_out ]] && [ "$err" = "$want_err" ]; then
    ok "$1"
  else
    printf 'status %s (want %s)\nstdout: %s\nstderr: %s\n(want stderr: %s)\n' "$status" "$want_status" \
      "$(head -n 3 "$work/out")" "$err" "$want_err" >"$work/log"
    not_ok "$1"
  fi
}
exit_table=$(printf '%s\n' 'Exit status:' '  0  success' \
  '  1  the job failed: a policy rejected the request, a script or runtime' \
  '     error, a read or write error' \
  '  2  usage error: a bad option or argument, a missing or unreadable file,' \
  '     a directory where a file is expected')

want_status=0 want_err=""
for args in "--help" "-h" "help"; do
  # shellcheck disable=SC2086
  vm $args
  want_out="Usage: vmutils \\[COMMAND \\[ARGS...\\]\\]*run SCRIPT*policy POLICY*gcs-logs --vm-id ID*repl*help \\[COMMAND\\]*$exit_table"
  expect "vmutils $args: the overview and the exit statuses on stdout, status 0"
done
for cmd in "${commands[@]}"; do
  vm help "$cmd"
  cp "$work/out" "$work/help-$cmd"
  want_out="Usage: vmutils $cmd*$exit_table"
  expect "vmutils help $cmd: its usage and the exit statuses on stdout, status 0"
  for flag in --help -h; do
    vm "$cmd" "$flag"
    want_out="Usage: vmutils $cmd*"
    if cmp -s "$work/out" "$work/help-$cmd"; then expect "vmutils $cmd $flag prints what vmutils help $cmd does"
    else echo "stdout differs from vmutils help $cmd" >"$work/log"; not_ok "vmutils $cmd $flag prints what vmutils help $cmd does"; fi
  done
  if grep -Eqi 'bench|anchor|go-gcslogs' "$work/help-$cmd"; then
    grep -Ei 'bench|anchor|go-gcslogs' "$work/help-$cmd" >"$work/log"; not_ok "vmutils help $cmd names nothing internal"
  else ok "vmutils help $cmd names nothing internal"; fi
done
vm policy --compact --help
want_out="Usage: vmutils policy*" expect "--help among a command's options prints its usage"
vm gcs-logs --format text -help
want_out="Usage: vmutils gcs-logs*" expect "-help, as Go's flag package takes it, prints the usage of gcs-logs"

if "$VMUTILS" --help >/dev/full 2>"$work/log"; then not_ok "vmutils --help into a full disk is status 1"
else ok "vmutils --help into a full disk is status 1"; fi

# Usage errors: one line that names the command, then where help is.
want_status=2 want_out=""
vm --bogus
want_err=$(printf '%s\n' "vmutils: unrecognized option '--bogus'" "Try 'vmutils --help'.")
expect "vmutils --bogus: two lines on stderr, status 2"
vm frob
want_err=$(printf '%s\n' "vmutils: unknown command 'frob'" "Try 'vmutils --help'.")
expect "vmutils frob: two lines on stderr, status 2"
vm help frob
expect "vmutils help frob: as vmutils frob"
for cmd in "${commands[@]}"; do
  vm "$cmd" --bogus
  want_err=$(printf '%s\n' "vmutils $cmd: unrecognized option '--bogus'" "Try 'vmutils $cmd --help'.")
  expect "vmutils $cmd --bogus: two lines on stderr, status 2"
done

# The exit status table, command by command. check_status NAME STATUS
# STDERR-START ARGS...: the status, and stderr starting with the given text.
check_status() {
  local name=$1 want=$2 start=$3; shift 3
  vm "$@"
  if [ "$status" -eq "$want" ] && [[ "$err" == "$start"* ]]; then ok "$name"
  else printf 'status %s\nstderr: %s\n' "$status" "$err" >"$work/log"; not_ok "$name"; fi
}
printf 'print("hello")\n' >"$work/ok.lua"
printf 'error("boom")\n' >"$work/fails.lua"
printf 'x = = 1\n' >"$work/syntax.lua"
printf 'return function() return nil, "not this one" end\n' >"$work/rejects.lua"
printf 'return function() local t = nil; return t.x end\n' >"$work/breaks.lua"
printf '{ not json' >"$work/bad.json"
printf '{"msg":"m"}\n' >"$work/gcs.jsonl"
missing=$work/missing
check_status "run: success is 0" 0 "" run "$work/ok.lua"
check_status "run: a script error is 1" 1 "vmutils run: $work/fails.lua:1: boom" run "$work/fails.lua"
check_status "run: a syntax error is 1" 1 "vmutils run: $work/syntax.lua:1:" run "$work/syntax.lua"
check_status "run: no SCRIPT is 2" 2 "vmutils run: missing SCRIPT" run
check_status "run: a missing file is 2" 2 "vmutils run: cannot open $missing: No such file or directory" run "$missing"
check_status "run: a directory is 2" 2 "vmutils run: $work: Is a directory" run "$work"
check_status "run: -- ends the options" 0 "" run -- "$work/ok.lua"
check_status "policy: success is 0" 0 "" policy "$POLICY" examples/lcow-request.json
check_status "policy: a rejection is 1" 1 "vmutils policy: not this one" policy "$work/rejects.lua"
check_status "policy: a script error is 1" 1 "vmutils policy: $work/breaks.lua:1:" policy "$work/breaks.lua"
check_status "policy: a policy that does not compile is 1" 1 "vmutils policy: " policy "$work/syntax.lua"
check_status "policy: a malformed request is a usage error, 2" 2 "vmutils policy: request: invalid JSON" policy "$POLICY" "$work/bad.json"
check_status "policy: a missing policy is 2" 2 "vmutils policy: cannot open $missing: No such file or directory" policy "$missing"
check_status "policy: a directory as the policy is 2" 2 "vmutils policy: $work: Is a directory" policy "$work"
check_status "policy: a missing request is 2" 2 "vmutils policy: cannot open $missing: No such file or directory" policy "$POLICY" "$missing"
check_status "policy: a directory as the request is 2" 2 "vmutils policy: $work: Is a directory" policy "$POLICY" "$work"
check_status "policy: a bad flag value is 2" 2 "vmutils policy: --memory needs a number" policy --memory lots "$POLICY"
check_status "gcs-logs: success is 0" 0 "" gcs-logs --vm-id v "$work/gcs.jsonl"
check_status "gcs-logs: a missing file is 2" 2 "vmutils gcs-logs: cannot open $missing: No such file or directory" gcs-logs --vm-id v "$missing"
check_status "gcs-logs: a directory is 2" 2 "vmutils gcs-logs: $work: Is a directory" gcs-logs --vm-id v "$work"
check_status "gcs-logs: a bad level is 2" 2 'vmutils gcs-logs: not a valid logrus Level: "loud"' gcs-logs --vm-id v --level loud
check_status "gcs-logs: no --vm-id is 2" 2 "vmutils gcs-logs: missing --vm-id" gcs-logs "$work/gcs.jsonl"
check_status "repl: an argument is 2" 2 "vmutils repl: unexpected argument 'x'" repl x
check_status "help: two commands is 2" 2 "vmutils help: unexpected argument 'policy'" help run policy
if [ -r /proc/self/mem ]; then
  check_status "gcs-logs: a read error is 1" 1 "vmutils gcs-logs: read /proc/self/mem: Input/output error" gcs-logs --vm-id v /proc/self/mem
else
  n=$((n + 1)); echo "ok $n - # SKIP gcs-logs: a read error is 1 (/proc/self/mem is not readable here)"
fi
printf 'error("from stdin")\n' | "$VMUTILS" >/dev/null 2>"$work/err"
status=$?
if [ "$status" -eq 1 ] && grep -q '^vmutils: stdin:1: from stdin' "$work/err"; then ok "a script on stdin: an error is 1, as vmutils: message"
else cp "$work/err" "$work/log"; not_ok "a script on stdin: an error is 1, as vmutils: message"; fi

echo "1..$n"
[ "$failed" -eq 0 ]
