#!/usr/bin/env bash
# `vmutils gcs-logs`: options and their defaults, exit statuses, the input
# file, level filtering, resync, the entry size limit, and records of a live
# stream printed before the stream ends. One TAP line per check.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-${BUILD:-build}}
VMUTILS=$BUILD/vmutils
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -n "${live_pid:-}" ] && kill "$live_pid" 2>/dev/null' EXIT
n=0
failed=0

result() { # NAME STATUS(0 = ok) [DETAIL]
  n=$((n + 1))
  if [ "$2" -eq 0 ]; then
    echo "ok $n - $1"
  else
    failed=$((failed + 1))
    echo "not ok $n - $1"
    [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /' | head -n 12
  fi
}

# run ARGS... (stdin from the caller): sets out, err and status; the host
# time is taken out of the records.
run() {
  "$VMUTILS" gcs-logs "$@" >"$tmp/out" 2>"$tmp/err"
  status=$?
  out=$(sed -E -e 's/"time":"[^"]*",//' -e 's/^time="[^"]*" //' "$tmp/out")
  err=$(cat "$tmp/err")
}

expect() { # NAME WANT_STATUS WANT_OUT [WANT_ERR_SUBSTRING]
  local ok=0
  [ "$status" -eq "$2" ] || ok=1
  [ "$out" = "$3" ] || ok=1
  if [ -n "${4:-}" ]; then case $err in *"$4"*) ;; *) ok=1 ;; esac; fi
  result "$1" $ok "status $status, stdout:
$out
stderr: $err"
}

printf '%s\n' '{"time":"2024-01-15T10:30:00Z","level":"debug","msg":"d"}' '{"level":"warn","msg":"w","n":1.0}' \
  >"$tmp/two.jsonl"
debug_rec='{"level":"debug","msg":"d","uvm-id":"bench-vm","vm.time":"2024-01-15T10:30:00Z"}'
warn_rec='{"level":"warning","msg":"w","n":1,"uvm-id":"bench-vm","vm.time":"0001-01-01T00:00:00Z"}'

run --help </dev/null
case $out in *'default "bench-vm"'*'(default json)'*'(default trace)'*) help_ok=0 ;; *) help_ok=1 ;; esac
[ "$status" -eq 0 ] || help_ok=1
result "--help exits 0 and names the defaults" $help_ok "$out"

run <"$tmp/two.jsonl"
expect "defaults: JSON, level trace, uvm-id bench-vm" 0 "$debug_rec
$warn_rec"

run "$tmp/two.jsonl" </dev/null
expect "reads a FILE argument" 0 "$debug_rec
$warn_rec"

run - <"$tmp/two.jsonl"
expect "reads stdin for -" 0 "$debug_rec
$warn_rec"

run --vm-id=uvm-7 --level warning --format text <"$tmp/two.jsonl"
expect "--vm-id, --level and --format text" 0 'level=warning msg=w n=1 uvm-id=uvm-7 vm.time="0001-01-01 00:00:00 +0000 UTC"'

run -vm-id uvm-8 -level WARN <"$tmp/two.jsonl"
expect "single-dash options, as Go's flag package takes them" 0 "${warn_rec/bench-vm/uvm-8}"

printf '%s\n' '{"msg":"a"}' '{"level":"loud"}' 'noise' '{"msg":"b"}' >"$tmp/bad.jsonl"
run <"$tmp/bad.jsonl"
expect "a bad entry stops forwarding, exit status 0" 0 '{"level":"info","msg":"a","uvm-id":"bench-vm","vm.time":"0001-01-01T00:00:00Z"}
{"error":"not a valid logrus Level: \"loud\"","level":"error","msg":"gcs log read","uvm-id":"bench-vm"}
{"level":"error","msg":"gcs terminated","stderr":"noise\n{\"msg\":\"b\"}","uvm-id":"bench-vm"}'

run --resync <"$tmp/bad.jsonl"
expect "--resync goes on" 0 '{"level":"info","msg":"a","uvm-id":"bench-vm","vm.time":"0001-01-01T00:00:00Z"}
{"entry":"{\"level\":\"loud\"}","error":"not a valid logrus Level: \"loud\"","level":"error","msg":"gcs log read","uvm-id":"bench-vm"}
{"level":"error","msg":"gcs output","stderr":"noise","uvm-id":"bench-vm"}
{"level":"info","msg":"b","uvm-id":"bench-vm","vm.time":"0001-01-01T00:00:00Z"}'

run --max-entry-bytes 10 <"$tmp/two.jsonl"
expect "--max-entry-bytes reports larger entries" 0 '{"entry":"{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"debug\",\"msg\":\"d\"}","error":"gcs log entry exceeds max_entry_bytes (10)","level":"error","msg":"gcs log read","size":57,"uvm-id":"bench-vm"}
{"entry":"{\"level\":\"warn\",\"msg\":\"w\",\"n\":1.0}","error":"gcs log entry exceeds max_entry_bytes (10)","level":"error","msg":"gcs log read","size":34,"uvm-id":"bench-vm"}'

for bad in "--format xml" "--level loud" "--max-entry-bytes 0" "--max-entry-bytes -1" "--nope" "--vm-id" "a b"; do
  # shellcheck disable=SC2086
  run $bad </dev/null
  case $bad in
    "--level loud") want='not a valid logrus Level: "loud"' ;;
    *) want="vmutils gcs-logs:" ;;
  esac
  expect "usage error: $bad" 2 "" "$want"
done

run "$tmp/missing.jsonl" </dev/null
expect "a missing file is exit status 1" 1 "" "open $tmp/missing.jsonl: No such file or directory"

# Output errors: the cause is reported (the records are written by the
# formatting thread, whose errno is not the main thread's), and a reader
# that went away ends the forwarding early.
printf '{"msg":"one"}\n{"msg":"two"}\n' | "$VMUTILS" gcs-logs >/dev/full 2>"$tmp/err"
full_status=$?
err=$(cat "$tmp/err")
ok=1
[ "$full_status" -eq 1 ] && case $err in *"write stdout: No space left on device"*) ok=0 ;; esac
result "a full disk is exit status 1 with its cause" $ok "status $full_status: $err"

yes '{"level":"info","msg":"many"}' | head -n 200000 >"$tmp/many.jsonl"
(trap '' PIPE; "$VMUTILS" gcs-logs "$tmp/many.jsonl" 2>"$tmp/err" | head -c 10 >/dev/null;
 echo "${PIPESTATUS[0]}" >"$tmp/status")
err=$(cat "$tmp/err")
ok=1
[ "$(cat "$tmp/status")" -eq 1 ] && case $err in *"write stdout: Broken pipe"*) ok=0 ;; esac
result "a closed pipe (SIGPIPE ignored) is exit status 1 with its cause" $ok "status $(cat "$tmp/status"): $err"

# A live stream: the first record must come out while the input is still
# open (the read timeout only keeps a failure from hanging the test).
mkfifo "$tmp/in" "$tmp/outfifo"
"$VMUTILS" gcs-logs <"$tmp/in" >"$tmp/outfifo" &
live_pid=$!
exec 7>"$tmp/in" 8<"$tmp/outfifo"
printf '{"msg":"live"}\n' >&7
line=""
read -r -t 20 line <&8
exec 7>&-
cat <&8 >/dev/null
exec 8<&-
wait "$live_pid"
live_status=$?
live_pid=""
case $line in *'"msg":"live"'*) live_ok=$live_status ;; *) live_ok=1 ;; esac
result "a live stream's record is printed before the stream ends" $live_ok "got: $line"

echo "1..$n"
[ "$failed" -eq 0 ]
