#!/usr/bin/env bash
# `vmutils gcs-logs`: options and their defaults, the required --vm-id, exit
# statuses, the input file, level filtering (--level against logrus's own
# ParseLevel), resync, the entry size limit, and records of a live stream
# printed before the stream ends. One TAP line per check.
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
debug_rec='{"level":"debug","msg":"d","uvm-id":"vm-1","vm.time":"2024-01-15T10:30:00Z"}'
warn_rec='{"level":"warning","msg":"w","n":1,"uvm-id":"vm-1","vm.time":"0001-01-01T00:00:00Z"}'

run --help </dev/null
help_ok=0
case $out in *'--vm-id ID '*'(required'*'(default json)'*'(default trace)'*) ;; *) help_ok=1 ;; esac
case $out in *bench*|*anchor*|*go-gcslogs*) help_ok=1 ;; esac
[ "$status" -eq 0 ] && [ -z "$err" ] || help_ok=1
result "--help exits 0, names the defaults, --vm-id as required, no internal names" $help_ok "$out"

run <"$tmp/two.jsonl"
expect "no --vm-id: a usage error, nothing forwarded" 2 "" "vmutils gcs-logs: missing --vm-id ID"

run --vm-id vm-1 <"$tmp/two.jsonl"
expect "defaults: JSON, level trace" 0 "$debug_rec
$warn_rec"

run --vm-id vm-1 "$tmp/two.jsonl" </dev/null
expect "reads a FILE argument" 0 "$debug_rec
$warn_rec"

run --vm-id vm-1 - <"$tmp/two.jsonl"
expect "reads stdin for -" 0 "$debug_rec
$warn_rec"

run --vm-id=uvm-7 --level warning --format text <"$tmp/two.jsonl"
expect "--vm-id, --level and --format text" 0 'level=warning msg=w n=1 uvm-id=uvm-7 vm.time="0001-01-01 00:00:00 +0000 UTC"'

run -vm-id uvm-8 -level WARN <"$tmp/two.jsonl"
expect "single-dash options, as Go's flag package takes them" 0 "${warn_rec/vm-1/uvm-8}"

run --vm-id vm-1 --level $'\xc4\xb0NFO' <"$tmp/two.jsonl"
expect "--level İNFO (U+0130) is info, as strings.ToLower makes it" 0 "$warn_rec"

printf '%s\n' '{"msg":"a"}' '{"level":"loud"}' 'noise' '{"msg":"b"}' >"$tmp/bad.jsonl"
run --vm-id bench-vm <"$tmp/bad.jsonl"
expect "a bad entry stops forwarding, exit status 0" 0 '{"level":"info","msg":"a","uvm-id":"bench-vm","vm.time":"0001-01-01T00:00:00Z"}
{"error":"not a valid logrus Level: \"loud\"","level":"error","msg":"gcs log read","uvm-id":"bench-vm"}
{"level":"error","msg":"gcs terminated","stderr":"noise\n{\"msg\":\"b\"}","uvm-id":"bench-vm"}'

run --vm-id bench-vm --resync <"$tmp/bad.jsonl"
expect "--resync goes on" 0 '{"level":"info","msg":"a","uvm-id":"bench-vm","vm.time":"0001-01-01T00:00:00Z"}
{"entry":"{\"level\":\"loud\"}","error":"not a valid logrus Level: \"loud\"","level":"error","msg":"gcs log read","uvm-id":"bench-vm"}
{"level":"error","msg":"gcs output","stderr":"noise","uvm-id":"bench-vm"}
{"level":"info","msg":"b","uvm-id":"bench-vm","vm.time":"0001-01-01T00:00:00Z"}'

run --vm-id bench-vm --max-entry-bytes 10 <"$tmp/two.jsonl"
expect "--max-entry-bytes reports larger entries" 0 '{"entry":"{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"debug\",\"msg\":\"d\"}","error":"gcs log entry exceeds max_entry_bytes (10)","level":"error","msg":"gcs log read","size":57,"uvm-id":"bench-vm"}
{"entry":"{\"level\":\"warn\",\"msg\":\"w\",\"n\":1.0}","error":"gcs log entry exceeds max_entry_bytes (10)","level":"error","msg":"gcs log read","size":34,"uvm-id":"bench-vm"}'

for bad in "--format xml" "--level loud" "--max-entry-bytes 0" "--max-entry-bytes -1" "--nope" "--vm-id" \
           "--resync=true" "a b"; do
  # shellcheck disable=SC2086
  run --vm-id vm-1 $bad </dev/null
  case $bad in
    "--level loud") want='vmutils gcs-logs: not a valid logrus Level: "loud"' ;;
    "--nope") want="vmutils gcs-logs: unrecognized option '--nope'" ;;
    *) want="vmutils gcs-logs:" ;;
  esac
  case $err in "$want"*"
Try 'vmutils gcs-logs --help'.") ;; *) status=99 ;; esac
  expect "usage error: $bad" 2 "" "$want"
done

run --vm-id vm-1 "$tmp/missing.jsonl" </dev/null
expect "a missing file is a usage error, status 2" 2 "" "vmutils gcs-logs: cannot open $tmp/missing.jsonl: No such file or directory"

run --vm-id vm-1 "$tmp" </dev/null
expect "a directory is a usage error, status 2, no record" 2 "" "vmutils gcs-logs: $tmp: Is a directory"

# A read error (reading /proc/self/mem at offset 0 fails with EIO): logged
# as a record, as the Go host does, and the job failed.
if [ -r /proc/self/mem ]; then
  run --vm-id vm-1 /proc/self/mem </dev/null
  expect "a read error is a record and status 1" 1 \
    '{"error":"read /proc/self/mem: input/output error","level":"error","msg":"gcs log read","uvm-id":"vm-1"}' \
    "vmutils gcs-logs: read /proc/self/mem: Input/output error"
else
  n=$((n + 1)); echo "ok $n - # SKIP /proc/self/mem is not readable here"
fi

# --level takes what logrus.ParseLevel takes, to the same level: each name
# through a small Go program and through --level on a stream of one entry
# per level (the number of records printed tells the level; the decoder
# clamps panic and fatal entries to error, so those two print none).
mkdir -p "$tmp/parselevel"
cat >"$tmp/parselevel/main.go" <<'GO'
package main

import (
	"fmt"
	"os"

	"github.com/sirupsen/logrus"
)

func main() {
	for _, name := range os.Args[1:] {
		level, err := logrus.ParseLevel(name)
		if err != nil {
			fmt.Println("rejected")
		} else if level <= logrus.FatalLevel {
			fmt.Println(0)
		} else {
			fmt.Println(int(level) - 1)
		}
	}
}
GO
names=(panic fatal error warn warning info debug trace PANIC Fatal ERROR WARN Warning INFO Debug TRACE
       $'\xc4\xb0NFO' $'\xc4\xb0nfo' $'WARN\xc4\xb0NG' $'PAN\xc4\xb0C' $'warn\xc4\xb1ng' $'\xc4\xb1nfo'
       $'\xc4NFO' $'\xef\xbc\xa9NFO' $'\xe2\x84\xaaNFO' "" " info" "info " inf warnings information loud)
if (cd "$tmp/parselevel" && env -u LD_PRELOAD GO111MODULE=off GOPATH=/usr/share/gocode \
      GOCACHE="${GOCACHE:-$tmp/gocache}" go build -o parselevel main.go) >"$tmp/go.log" 2>&1; then
  env -u LD_PRELOAD "$tmp/parselevel/parselevel" "${names[@]}" >"$tmp/go.levels"
  printf '%s\n' '{"level":"error","msg":"e"}' '{"level":"warning","msg":"w"}' '{"level":"info","msg":"i"}' \
    '{"level":"debug","msg":"d"}' '{"level":"trace","msg":"t"}' >"$tmp/levels.jsonl"
  for name in "${names[@]}"; do
    if "$VMUTILS" gcs-logs --vm-id v --level "$name" "$tmp/levels.jsonl" >"$tmp/out" 2>/dev/null; then
      wc -l <"$tmp/out" | tr -d ' '
    else
      echo rejected
    fi
  done >"$tmp/c.levels"
  if cmp -s "$tmp/go.levels" "$tmp/c.levels"; then level_ok=0; else level_ok=1; fi
  result "--level accepts what logrus.ParseLevel accepts (${#names[@]} names)" $level_ok \
    "$(paste "$tmp/go.levels" "$tmp/c.levels")"
else
  n=$((n + 1)); echo "ok $n - # SKIP the Go check of --level needs golang-go and logrus: $(head -n 1 "$tmp/go.log")"
fi

# Output errors: the cause is reported (the records are written by the
# formatting thread, whose errno is not the main thread's), and a reader
# that went away ends the forwarding early.
printf '{"msg":"one"}\n{"msg":"two"}\n' | "$VMUTILS" gcs-logs --vm-id vm-1 >/dev/full 2>"$tmp/err"
full_status=$?
err=$(cat "$tmp/err")
ok=1
[ "$full_status" -eq 1 ] && case $err in *"write stdout: No space left on device"*) ok=0 ;; esac
result "a full disk is exit status 1 with its cause" $ok "status $full_status: $err"

yes '{"level":"info","msg":"many"}' | head -n 200000 >"$tmp/many.jsonl"
(trap '' PIPE; "$VMUTILS" gcs-logs --vm-id vm-1 "$tmp/many.jsonl" 2>"$tmp/err" | head -c 10 >/dev/null;
 echo "${PIPESTATUS[0]}" >"$tmp/status")
err=$(cat "$tmp/err")
ok=1
[ "$(cat "$tmp/status")" -eq 1 ] && case $err in *"write stdout: Broken pipe"*) ok=0 ;; esac
result "a closed pipe (SIGPIPE ignored) is exit status 1 with its cause" $ok "status $(cat "$tmp/status"): $err"

# A live stream: the first record must come out while the input is still
# open (the read timeout only keeps a failure from hanging the test).
mkfifo "$tmp/in" "$tmp/outfifo"
"$VMUTILS" gcs-logs --vm-id vm-1 <"$tmp/in" >"$tmp/outfifo" &
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

# The service mode (--listen, --listen-dir) follows the same conventions:
# usage errors are one line and a pointer to --help, on stderr, status 2;
# --help is the command's help on stdout, covering both modes.
usage_line() { # NAME WANT_FIRST_LINE ARGS...
  local name=$1 want=$2; shift 2
  run "$@" </dev/null
  local ok=0
  [ "$status" -eq 2 ] && [ -z "$out" ] || ok=1
  [ "$err" = "$want
Try 'vmutils gcs-logs --help'." ] || ok=1
  result "--listen usage error: $name" $ok "status $status, stdout: $out
stderr: $err"
}
L=(--listen "unix:$tmp/svc.sock=vm-1")
usage_line "an unknown option" "vmutils gcs-logs: unrecognized option '--bogus'" "${L[@]}" --bogus
usage_line "an unknown level, Go-quoted" 'vmutils gcs-logs: not a valid logrus Level: "x\"y"' "${L[@]}" --level 'x"y'
usage_line "a bad --format" "vmutils gcs-logs: --format must be text or json, not 'xml'" "${L[@]}" --format xml
usage_line "a bad --max-entry-bytes" "vmutils gcs-logs: --max-entry-bytes must be 1..1073741824" \
  "${L[@]}" --max-entry-bytes 0
usage_line "a value missing" "vmutils gcs-logs: option '--output' needs a value" "${L[@]}" --output
usage_line "a FILE beside --listen" "vmutils gcs-logs: unexpected argument 'x.jsonl' (--listen reads no FILE)" \
  "${L[@]}" x.jsonl
usage_line "an address of no known kind" \
  "vmutils gcs-logs: --listen tcp:1: expected unix:PATH[=VMID][,resync] or vsock:PORT[,resync]" --listen tcp:1
usage_line "unix:PATH without =VMID or --vm-id" \
  "vmutils gcs-logs: --listen unix:$tmp/svc.sock: no VM id: add =VMID or give --vm-id" --listen "unix:$tmp/svc.sock"
usage_line "--vm-id for two listeners without =VMID" \
  "vmutils gcs-logs: --vm-id names the VM of one unix:PATH listener; give the others =VMID" \
  --vm-id a --listen "unix:$tmp/a.sock" --listen "unix:$tmp/b.sock"
usage_line "--vm-id with no listener to name" \
  "vmutils gcs-logs: --vm-id with --listen names a unix:PATH listener without =VMID; there is none" \
  --vm-id a "${L[@]}"
usage_line "a service option without --listen" \
  "vmutils gcs-logs: --output needs --listen or --listen-dir" --vm-id vm-1 --output "$tmp/o.log"
usage_line "a bad --vm-map" "vmutils gcs-logs: --vm-map x=b: expected CID=VMID" --listen vsock:109 --vm-map x=b
usage_line "a bad --socket-mode" \
  "vmutils gcs-logs: --socket-mode must be an octal mode 1..0777, not '999'" "${L[@]}" --socket-mode 999
usage_line "a --vm-id-pattern that does not compile" \
  "vmutils gcs-logs: --vm-id-pattern '(': Unmatched ( or \\(" --listen-dir "$tmp" --vm-id-pattern '('
usage_line "a --vm-id-pattern without one capture group" \
  "vmutils gcs-logs: --vm-id-pattern 'vm[0-9]+' needs exactly one capture group (the VM id), it has 0" \
  --listen-dir "$tmp" --vm-id-pattern 'vm[0-9]+'
usage_line "--vm-id-pattern without --listen-dir" \
  "vmutils gcs-logs: --vm-id-pattern needs --listen-dir" "${L[@]}" --vm-id-pattern '(.*)'

run --listen-dir "$tmp/missing-dir" </dev/null
expect "--listen-dir of a missing directory: status 2" 2 "" \
  "vmutils gcs-logs: --listen-dir $tmp/missing-dir: No such file or directory"
run --listen-dir "$tmp/two.jsonl" </dev/null
expect "--listen-dir of a file: status 2" 2 "" "vmutils gcs-logs: --listen-dir $tmp/two.jsonl: Not a directory"
run --listen vsock:109 --vm-map-file "$tmp/missing.map" </dev/null
expect "a missing --vm-map-file: status 2" 2 "" \
  "vmutils gcs-logs: --vm-map-file $tmp/missing.map: No such file or directory"
run --listen vsock:109 --vm-map-file "$tmp" </dev/null
expect "a directory as --vm-map-file: status 2" 2 "" "vmutils gcs-logs: --vm-map-file $tmp: Is a directory"

run --listen "unix:$tmp/svc.sock=vm-1" --help </dev/null
help_ok=0
for opt in --listen --listen-dir --listen-port --vm-id-pattern --vm-map --vm-map-file --socket-mode --output \
           --vm-id --format --level --resync --max-entry-bytes 'unix:PATH' 'vsock:PORT' SIGTERM SIGHUP; do
  case $out in *"$opt"*) ;; *) help_ok=1; echo "# help lacks $opt" ;; esac
done
[ "$status" -eq 0 ] && [ -z "$err" ] || help_ok=1
[ "$out" = "$("$VMUTILS" help gcs-logs)" ] || help_ok=1
result "--help beside --listen: the one gcs-logs help, both modes, on stdout, status 0" $help_ok "$out
$err"

echo "1..$n"
[ "$failed" -eq 0 ]
