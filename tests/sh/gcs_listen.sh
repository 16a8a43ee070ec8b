#!/usr/bin/env bash
# `vmutils gcs-logs --listen`: the GCS log service over real Unix sockets
# with guests in their own processes (tests/gcs_peer.py). Many VMs at once
# (every entry once, whole, in order, memory bounded), a flood beside a slow
# VM, output stalled then resumed, reconnects mid-entry, a guest that
# starts first, stale and live socket files, socket modes, --listen-dir,
# SIGHUP reopening --output, SIGTERM during a flood, and the records of
# every tests/gcs_cases stream over a socket against `vmutils gcs-logs` on
# the same stream. One TAP line per check; progress on stderr.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-${BUILD:-build}}
VMUTILS=$BUILD/vmutils
PEER=tests/gcs_peer.py
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
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
progress() { echo "# $*" >&2; }

# The sanitizer preload of the test runner is for our binaries only.
# Guests run in the background are started as plain commands (not through
# a function, which would fork a subshell) so that $! is the guest itself.
plain() { env -u LD_PRELOAD "$@"; }
# The interpreter itself, not a wrapper that finds it on every start.
PYTHON=$(plain python3 -c 'import sys; print(sys.executable)')
peer() { plain "$PYTHON" "$PEER" "$@"; }
GUEST=(env -u LD_PRELOAD "$PYTHON" "$PEER")

# wait_for TEST... : polls (up to 20 s) until `test TEST...` holds.
wait_for() {
  local i
  for i in $(seq 1 400); do
    test "$@" && return 0
    sleep 0.05
  done
  return 1
}

# start_forwarder OUT ARGS...: runs the service in the background; fwd is its pid.
start_forwarder() {
  local out=$1; shift
  "$VMUTILS" gcs-logs "$@" >"$out" 2>"$out.err" &
  fwd=$!
  pids+=("$fwd")
}

# stop_forwarder: SIGTERM, then its exit status in fwd_status.
stop_forwarder() {
  kill -TERM "$fwd" 2>/dev/null
  wait "$fwd"
  fwd_status=$?
}

# The forwarder's own figure (getrusage), from its last line on stderr.
peak_rss_kib() { sed -nE 's/.*peak RSS ([0-9]+) KiB.*/\1/p' "$1"; }

if [ ! -x "$VMUTILS" ]; then
  result "build $VMUTILS first (make all)" 1
  echo "1..$n"; exit 1
fi

# check_entries OUT VMS COUNT: every "entry" record of VMs vm0..vm(VMS-1)
# exactly once, whole, with its uvm-id, in order. Prints the problems, or ok.
check_entries() {
  plain "$PYTHON" - "$@" <<'EOF'
import json, sys
out, vms, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
next_seq = {}
problems = []
for line in open(out, encoding="utf-8", errors="replace"):
    try:
        r = json.loads(line)
    except ValueError:
        problems.append("not a whole JSON record: %r" % line[:80]); continue
    if r.get("msg") != "entry":
        if r.get("level") in ("error", "warning"):
            problems.append("unexpected record: %s" % line[:120])
        continue
    vm = r.get("vm")
    if r.get("uvm-id") != vm:
        problems.append("uvm-id %r for vm %r" % (r.get("uvm-id"), vm))
    seq = r.get("seq")
    if seq != next_seq.get(vm, 0):
        problems.append("%s: seq %r where %d was due" % (vm, seq, next_seq.get(vm, 0)))
    if r.get("pad") != "p" * (seq % 61 if isinstance(seq, int) else 0):
        problems.append("%s: entry %r not whole" % (vm, seq))
    next_seq[vm] = (seq if isinstance(seq, int) else 0) + 1
for i in range(vms):
    if next_seq.get("vm%d" % i, 0) != count:
        problems.append("vm%d: %d entries of %d" % (i, next_seq.get("vm%d" % i, 0), count))
print("\n".join(problems[:10]) or "ok")
EOF
}

# run_vms VMS COUNT: VMS guests on their own sockets, COUNT entries each;
# sets problems, rss (peak KiB) and status.
run_vms() {
  local vms=$1 count=$2 args=() i writers=()
  mkdir -p "$tmp/vms$vms"
  for i in $(seq 0 $((vms - 1))); do args+=(--listen "unix:$tmp/vms$vms/vm$i.sock_109=vm$i"); done
  start_forwarder "$tmp/vms$vms.out" "${args[@]}"
  wait_for -S "$tmp/vms$vms/vm$((vms - 1)).sock_109"
  for i in $(seq 0 $((vms - 1))); do
    "${GUEST[@]}" entries "$tmp/vms$vms/vm$i.sock_109" "vm$i" "$count" --seed "$i" >/dev/null &
    writers+=($!)
  done
  for i in "${writers[@]}"; do wait "$i"; done
  # Every byte is sent: what the forwarder has not read yet is queued on
  # its sockets, and read at SIGTERM.
  stop_forwarder
  rss=$(peak_rss_kib "$tmp/vms$vms.out.err")
  status=$fwd_status
  problems=$(check_entries "$tmp/vms$vms.out" "$vms" "$count")
}

# ---- many VMs ----
progress "64 VMs x 10000 entries"
run_vms 64 10000
rss64=$rss
result "64 VMs x 10000 entries: each once, whole, with its VM id, in order; exit $status" \
  $([ "$problems" = ok ] && [ "$status" -eq 0 ]; echo $?) "$problems"
progress "1 VM, for the memory figure"
run_vms 1 10000
rss1=$rss
result "1 VM x 10000 entries" $([ "$problems" = ok ] && [ "$status" -eq 0 ]; echo $?) "$problems"
# The sink's pool (2 MiB) and the output buffer are fixed; what grows with
# the VMs is one decoder each, well under 64 KiB.
echo "# peak RSS: 1 VM ${rss1} KiB, 64 VMs ${rss64} KiB"
bound=$((rss1 + 4096 + 64 * 64))
result "peak RSS with 64 VMs (${rss64} KiB) within 1 VM's (${rss1} KiB) + 4 MiB + 64 KiB a VM" \
  $([ "$rss64" -le "$bound" ]; echo $?)

# ---- a flood beside a slow VM ----
progress "flood and slow VM"
mkdir -p "$tmp/fair"
start_forwarder "$tmp/fair.out" --listen "unix:$tmp/fair/flood.sock=flood" \
  --listen "unix:$tmp/fair/slow.sock=slow"
wait_for -S "$tmp/fair/slow.sock"
"${GUEST[@]}" entries "$tmp/fair/flood.sock" flood 0 --until "$tmp/fair/stop" >/dev/null &
flood_pid=$!
pids+=("$flood_pid")
for i in $(seq 1 200); do grep -q '"vm":"flood"' "$tmp/fair.out" && break; sleep 0.05; done
peer entries "$tmp/fair/slow.sock" slow 20 --delay 0.02 >/dev/null
# The flood goes on until the slow VM is served: the slow entries must be
# interleaved with the flood's, not queued behind it.
sleep 0.3
touch "$tmp/fair/stop"
wait "$flood_pid"
stop_forwarder
fair=$(plain "$PYTHON" - "$tmp/fair.out" <<'EOF'
import json, sys
slow, flood_after_last_slow, flood_total, latencies = [], 0, 0, []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("msg") != "entry":
        continue
    if r["vm"] == "slow":
        slow.append(r["seq"])
        flood_after_last_slow = 0
        # The host time is whole seconds: the latency is measured in the
        # bench; here the order proves the slow VM was not held back.
    else:
        flood_total += 1
        flood_after_last_slow += 1
ok = slow == list(range(20)) and flood_after_last_slow > 0 and flood_total > 0
print("ok" if ok else "slow %r, flood %d, flood after last slow %d" % (slow, flood_total, flood_after_last_slow))
EOF
)
result "a flooding VM does not starve a slow one (its 20 entries arrive while the flood goes on)" \
  $([ "$fair" = ok ]; echo $?) "$fair"

# ---- output stalled, then resumed ----
progress "stalled output"
mkdir -p "$tmp/stall"
mkfifo "$tmp/stall/pipe"
# The reader is stopped (SIGSTOP): nobody reads the forwarder's output.
env -u LD_PRELOAD "$PYTHON" -c '
import sys, os
out = open(sys.argv[2], "wb")
src = open(sys.argv[1], "rb")
while True:
    b = src.read1(65536)
    if not b:
        break
    out.write(b)
' "$tmp/stall/pipe" "$tmp/stall.out" &
reader=$!
pids+=("$reader")
args=()
for i in 0 1 2 3 4 5 6 7; do args+=(--listen "unix:$tmp/stall/vm$i.sock=vm$i"); done
"$VMUTILS" gcs-logs "${args[@]}" >"$tmp/stall/pipe" 2>"$tmp/stall.err" &
fwd=$!
pids+=("$fwd")
# The forwarder starts once the reader has opened the pipe: then stop it.
wait_for -S "$tmp/stall/vm7.sock"
kill -STOP "$reader"
writers=()
for i in 0 1 2 3 4 5 6 7; do
  "${GUEST[@]}" entries "$tmp/stall/vm$i.sock" "vm$i" 10000 --seed "$i" >/dev/null &
  writers+=($!)
done
# 80,000 entries (about 9 MB) do not fit in the pipe, the pool and the
# socket buffers: the writers block. Sample the forwarder meanwhile.
sleep 2
stalled_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$fwd/status")
still=0
for w in "${writers[@]}"; do kill -0 "$w" 2>/dev/null && still=$((still + 1)); done
kill -CONT "$reader"
for w in "${writers[@]}"; do wait "$w"; done
stop_forwarder
stall_peak=$(peak_rss_kib "$tmp/stall.err")
wait "$reader"
problems=$(check_entries "$tmp/stall.out" 8 10000)
echo "# stalled: $still of 8 writers blocked, forwarder RSS ${stalled_rss} KiB while stalled, peak ${stall_peak} KiB"
result "output stalled: the writers block ($still of 8 still writing)" $([ "$still" -gt 0 ]; echo $?)
result "output stalled then resumed: nothing lost, exit $fwd_status" \
  $([ "$problems" = ok ] && [ "$fwd_status" -eq 0 ]; echo $?) "$problems"
result "output stalled: peak RSS ${stall_peak} KiB within 1 VM's ${rss1} KiB + 4 MiB" \
  $([ "$stall_peak" -le $((rss1 + 4096 + 8 * 64)) ]; echo $?)

# ---- reconnect mid-entry ----
progress "reconnects"
mkdir -p "$tmp/cut"
start_forwarder "$tmp/cut.out" --listen "unix:$tmp/cut/vm.sock_109=cutvm"
wait_for -S "$tmp/cut/vm.sock_109"
peer cut "$tmp/cut/vm.sock_109"
sleep 0.2
stop_forwarder
cut=$(plain "$PYTHON" - "$tmp/cut.out" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
msgs = [r["msg"] for r in recs]
problems = []
if any(r.get("glued") for r in recs) or "partial" in msgs:
    problems.append("the cut entry was joined to the next connection's bytes")
term = [r.get("stderr") for r in recs if r["msg"] == "gcs terminated"]
if '{"msg":"partial","n":1' not in term:
    problems.append("the cut entry is not reported on its own: %r" % term)
if not any(t and t.startswith(',"glued":true}') for t in term):
    problems.append("the second connection did not start on a decoder of its own: %r" % term)
rec = [r for r in recs if r["msg"] == "gcs log reconnected"]
if len(rec) != 1 or rec[0]["level"] != "info" or rec[0].get("uvm-id") != "cutvm" or rec[0].get("connection") != 2:
    problems.append("reconnect records: %r" % rec)
if msgs.count("one") != 1 or msgs.count("two") != 1:
    problems.append("entries before the cut: %r" % msgs)
if any(r.get("uvm-id") != "cutvm" for r in recs):
    problems.append("a record without the VM id")
print("\n".join(problems) or "ok")
EOF
)
result "reconnect mid-entry: the cut entry reported alone, never glued; the reconnect logged once at info" \
  $([ "$cut" = ok ]; echo $?) "$cut"

# The guest starts first and retries until the listener is there.
rm -rf "$tmp/late"; mkdir -p "$tmp/late"
"${GUEST[@]}" entries "$tmp/late/vm.sock_109" vm0 500 --retry 20 >/dev/null &
early=$!
sleep 0.3
start_forwarder "$tmp/late.out" --listen "unix:$tmp/late/vm.sock_109=vm0"
wait "$early"
early_status=$?
stop_forwarder
problems=$(check_entries "$tmp/late.out" 1 500)
result "listener started after the guest: the retrying guest's 500 entries arrive" \
  $([ "$problems" = ok ] && [ "$early_status" -eq 0 ]; echo $?) "$problems"

# ---- socket files ----
progress "socket files"
mkdir -p "$tmp/files"
start_forwarder "$tmp/files.out" --listen "unix:$tmp/files/a.sock=a"
wait_for -S "$tmp/files/a.sock"
mode=$(stat -c %a "$tmp/files/a.sock")
result "socket file created with mode 0600 (got $mode)" $([ "$mode" = 600 ]; echo $?)
# A second forwarder on the same, live socket: refused, the first untouched.
"$VMUTILS" gcs-logs --listen "unix:$tmp/files/a.sock=a" >/dev/null 2>"$tmp/files/live.err"
st=$?
err=$(cat "$tmp/files/live.err")
result "a live socket file is refused with a clear error (exit $st)" \
  $([ $st -eq 1 ] && [[ $err == *"another process is listening on this socket"* ]] && [ -S "$tmp/files/a.sock" ]; echo $?) "$err"
stop_forwarder
result "SIGTERM removes the socket file it created (exit $fwd_status)" \
  $([ $fwd_status -eq 0 ] && [ ! -e "$tmp/files/a.sock" ]; echo $?) "$(cat "$tmp/files.out.err")"
peer bind "$tmp/files/stale.sock"
start_forwarder "$tmp/files2.out" --listen "unix:$tmp/files/stale.sock=s" --listen "unix:$tmp/files/b.sock=b" \
  --socket-mode 0660
wait_for -S "$tmp/files/b.sock"
peer entries "$tmp/files/stale.sock" vm0 3 >/dev/null
mode=$(stat -c %a "$tmp/files/b.sock")
sleep 0.2
stop_forwarder
result "a stale socket file is replaced and served" \
  $([ "$(grep -c '"uvm-id":"s"' "$tmp/files2.out")" -ge 3 ] && [ $fwd_status -eq 0 ]; echo $?) \
  "$(cat "$tmp/files2.out.err")"
result "--socket-mode 0660 (got $mode)" $([ "$mode" = 660 ]; echo $?)
: >"$tmp/files/plain"
"$VMUTILS" gcs-logs --listen "unix:$tmp/files/plain=p" >/dev/null 2>"$tmp/files/plain.err"
st=$?
result "a path that is not a socket is refused, left alone (exit $st)" \
  $([ $st -eq 1 ] && grep -q "is not a socket" "$tmp/files/plain.err" && [ -f "$tmp/files/plain" ]; echo $?) \
  "$(cat "$tmp/files/plain.err")"
"$VMUTILS" gcs-logs --listen vsock:109 --vm-map 3=a --vm-map x=b >/dev/null 2>"$tmp/files/map.err"
st=$?
result "--vm-map with a bad CID is a usage error (exit $st)" \
  $([ $st -eq 2 ] && grep -q "expected CID=VMID" "$tmp/files/map.err"; echo $?) "$(cat "$tmp/files/map.err")"

# ---- --listen-dir ----
progress "--listen-dir"
mkdir -p "$tmp/dir"
start_forwarder "$tmp/dir.out" --listen-dir "$tmp/dir"
sleep 0.2
"${GUEST[@]}" bind "$tmp/dir/vm7.vsock" --hold >/dev/null &
vmm=$!
pids+=("$vmm")
wait_for -S "$tmp/dir/vm7.vsock_109"
served=$?
peer entries "$tmp/dir/vm7.vsock_109" vm7 5 >/dev/null
kill "$vmm"; wait "$vmm" 2>/dev/null
rm -f "$tmp/dir/vm7.vsock"
wait_for ! -e "$tmp/dir/vm7.vsock_109"
removed=$?
stop_forwarder
result "--listen-dir: a VMM socket that appears is served at <uds_path>_109 with the VM id of its name" \
  $([ $served -eq 0 ] && [ "$(grep -c '"uvm-id":"vm7"' "$tmp/dir.out")" -ge 5 ]; echo $?) "$(cat "$tmp/dir.out.err")"
result "--listen-dir: the listener goes with the VMM socket" $([ $removed -eq 0 ]; echo $?)

# --vm-id-pattern: the VM id is the pattern's capture group in the VMM
# socket's name; a name it does not match is not served (and said so).
mkdir -p "$tmp/pat"
start_forwarder "$tmp/pat.out" --listen-dir "$tmp/pat" --vm-id-pattern '^fc-([a-z0-9]+)\.vsock$'
sleep 0.2
"${GUEST[@]}" bind "$tmp/pat/fc-abc1.vsock" --hold >/dev/null &
vmm1=$!
"${GUEST[@]}" bind "$tmp/pat/other.vsock" --hold >/dev/null &
vmm2=$!
pids+=("$vmm1" "$vmm2")
wait_for -S "$tmp/pat/fc-abc1.vsock_109"
served=$?
peer entries "$tmp/pat/fc-abc1.vsock_109" x 4 >/dev/null
wait_for -S "$tmp/pat/other.vsock"
sleep 0.2
[ ! -e "$tmp/pat/other.vsock_109" ]
unserved=$?
kill "$vmm1" "$vmm2"; wait "$vmm1" "$vmm2" 2>/dev/null
stop_forwarder
result "--vm-id-pattern: the capture group is the VM id" \
  $([ $served -eq 0 ] && [ "$(grep -c '"uvm-id":"abc1"' "$tmp/pat.out")" -ge 4 ]; echo $?) \
  "$(cat "$tmp/pat.out.err" "$tmp/pat.out")"
result "--vm-id-pattern: a name it does not match is not served, and said so" \
  $([ $unserved -eq 0 ] && grep -q "other.vsock does not match --vm-id-pattern" "$tmp/pat.out.err"; echo $?) \
  "$(cat "$tmp/pat.out.err")"

# --vm-id names a unix:PATH listener given without =VMID.
mkdir -p "$tmp/vmid"
start_forwarder "$tmp/vmid.out" --vm-id named-vm --listen "unix:$tmp/vmid/vm.sock_109"
wait_for -S "$tmp/vmid/vm.sock_109"
peer entries "$tmp/vmid/vm.sock_109" x 3 >/dev/null
sleep 0.2
stop_forwarder
result "--vm-id names the VM of a unix:PATH listener without =VMID" \
  $([ "$(grep -c '"uvm-id":"named-vm"' "$tmp/vmid.out")" -ge 3 ] && [ $fwd_status -eq 0 ]; echo $?) \
  "$(cat "$tmp/vmid.out.err")"

# ---- --output and SIGHUP ----
progress "--output and SIGHUP"
mkdir -p "$tmp/hup"
start_forwarder "$tmp/hup.stdout" --listen "unix:$tmp/hup/vm.sock=vm0" --output "$tmp/hup/log"
wait_for -S "$tmp/hup/vm.sock"
peer entries "$tmp/hup/vm.sock" vm0 100 >/dev/null
for i in $(seq 1 200); do [ "$(grep -c '"msg":"entry"' "$tmp/hup/log")" -ge 100 ] && break; sleep 0.05; done
mv "$tmp/hup/log" "$tmp/hup/log.1"
kill -HUP "$fwd"
wait_for -e "$tmp/hup/log"
peer entries "$tmp/hup/vm.sock" vm1 50 >/dev/null
sleep 0.2
stop_forwarder
mode=$(stat -c %a "$tmp/hup/log")
result "--output: created 0640 ($mode), nothing on stdout; SIGHUP reopens it" \
  $([ "$mode" = 640 ] && [ ! -s "$tmp/hup.stdout" ] && [ "$(grep -c '"vm":"vm0"' "$tmp/hup/log.1")" -eq 100 ] &&
    [ "$(grep -c '"vm":"vm1"' "$tmp/hup/log")" -eq 50 ] && [ "$(grep -c '"vm":"vm0"' "$tmp/hup/log")" -eq 0 ]; echo $?) \
  "$(cat "$tmp/hup.stdout.err")"

# ---- SIGTERM during a flood ----
progress "SIGTERM during a flood"
mkdir -p "$tmp/term"
args=()
for i in 0 1 2 3; do args+=(--listen "unix:$tmp/term/vm$i.sock=vm$i"); done
start_forwarder "$tmp/term.out" "${args[@]}"
wait_for -S "$tmp/term/vm3.sock"
writers=()
for i in 0 1 2 3; do
  "${GUEST[@]}" entries "$tmp/term/vm$i.sock" "vm$i" 0 --until "$tmp/term/never" \
    --batch-delay 0.001 --seed "$i" >/dev/null 2>&1 &
  writers+=($!)
  pids+=($!)
done
# Signalled once every VM's entries are flowing, while they still write.
for v in 0 1 2 3; do
  for i in $(seq 1 400); do grep -q -m1 "\"vm\":\"vm$v\"" "$tmp/term.out" && break; sleep 0.05; done
done
flooding=0
for w in "${writers[@]}"; do kill -0 "$w" 2>/dev/null && flooding=$((flooding + 1)); done
stop_forwarder
for w in "${writers[@]}"; do kill "$w" 2>/dev/null; wait "$w" 2>/dev/null; done
term=$(plain "$PYTHON" - "$tmp/term.out" "$tmp/term.out.err" <<'EOF'
import json, re, sys
entries, nexts, problems = 0, {}, []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("msg") == "entry":
        entries += 1
        if r["seq"] != nexts.get(r["vm"], 0):
            problems.append("%s: seq %d where %d was due" % (r["vm"], r["seq"], nexts.get(r["vm"], 0)))
        nexts[r["vm"]] = r["seq"] + 1
m = re.search(r"(\d+) entries", open(sys.argv[2]).read())
if not m or int(m.group(1)) != entries:
    problems.append("decoded %s, written %d" % (m and m.group(1), entries))
if entries == 0:
    problems.append("no entries")
print("\n".join(problems[:5]) or "ok %d" % entries)
EOF
)
left=$(ls "$tmp/term")
result "SIGTERM during a flood ($flooding of 4 VMs writing): exit $fwd_status, every entry read is written (${term#ok }), sockets removed" \
  $([ "$fwd_status" -eq 0 ] && [[ $term == ok* ]] && [ -z "$left" ] && [ "$flooding" -gt 0 ]; echo $?) "$term
$left"

# ---- AF_VSOCK ----
progress "AF_VSOCK"
# Needs a vsock transport with loopback (vsock_loopback, CID 1).
port=$((20000 + $$ % 20000))
probe=$(plain "$PYTHON" - "$port" <<'EOF'
import socket, sys
try:
    l = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    l.bind((socket.VMADDR_CID_ANY, int(sys.argv[1])))
    l.listen(1)
    c = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    c.settimeout(1)
    c.connect((1, int(sys.argv[1])))
    print("ok")
except Exception as e:
    print("%s: %s" % (type(e).__name__, e))
EOF
)
if [ "$probe" != ok ]; then
  n=$((n + 1))
  echo "ok $n # SKIP AF_VSOCK: no loopback transport in this kernel (connect to CID 1: $probe)"
else
  start_forwarder "$tmp/vsock.out" --listen "vsock:$port" --vm-map 2=other
  sleep 0.3
  plain "$PYTHON" - "$port" <<'EOF'
import socket, sys
c = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
c.connect((1, int(sys.argv[1])))
c.sendall(b'{"msg":"not forwarded"}\n')
c.close()
EOF
  sleep 0.3
  stop_forwarder
  result "AF_VSOCK: a connection from an unmapped CID is refused and logged" \
    $(grep -q '"cid":1,.*"msg":"gcs log connection refused"' "$tmp/vsock.out" && ! grep -q "not forwarded" "$tmp/vsock.out"; echo $?) \
    "$(cat "$tmp/vsock.out" "$tmp/vsock.out.err")"
  start_forwarder "$tmp/vsock2.out" --listen "vsock:$port" --vm-map 1=local-vm
  sleep 0.3
  plain "$PYTHON" - "$port" <<'EOF'
import socket, sys
c = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
c.connect((1, int(sys.argv[1])))
c.sendall(b'{"msg":"over vsock"}\n')
c.close()
EOF
  sleep 0.3
  stop_forwarder
  result "AF_VSOCK: a mapped CID's entries carry its VM id" \
    $(grep -q '"msg":"over vsock".*"uvm-id":"local-vm"' "$tmp/vsock2.out"; echo $?) "$(cat "$tmp/vsock2.out.err")"
fi

# ---- the records of each stream equal the single-stream command's ----
progress "tests/gcs_cases over sockets"
mkdir -p "$tmp/cases"
for mode in strict resync; do
  opt=()
  [ $mode = resync ] && opt=(--resync)
  for format in json text; do
    [ $mode = resync ] && [ $format = text ] && continue
    args=()
    for f in tests/gcs_cases/*.jsonl; do
      name=case-$(basename "$f" .jsonl)
      args+=(--listen "unix:$tmp/cases/$name.sock=$name")
    done
    start_forwarder "$tmp/cases/all.$mode.$format" --format "$format" "${opt[@]}" "${args[@]}"
    last=${args[-1]#unix:}
    wait_for -S "${last%=*}"
    peer replay-many "$tmp/cases" tests/gcs_cases/*.jsonl --seed 7
    # Every case is sent and closed: what is queued is read at SIGTERM.
    stop_forwarder
    cmp_out=$(VMUTILS_BIN=$VMUTILS plain "$PYTHON" - "$tmp/cases/all.$mode.$format" "$format" "${opt[@]}" <<'EOF2'
import os, re, subprocess, sys, glob
out, fmt, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
lines = open(out, "rb").read().split(b"\n")
service = re.compile(rb'msg="?gcs log (connected|reconnected|disconnected)"?|"msg":"gcs log (connected|reconnected|disconnected)"')
host_time = re.compile(rb'^time="[^"]*"|"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})"')
def mask(line):
    return host_time.sub(b"T", line)
by_vm = {}
for line in lines:
    if not line or service.search(line):
        continue
    m = re.search(rb'"uvm-id":"(case-[^"]*)"', line) if fmt == "json" else re.search(rb'(?:^| )uvm-id=(case-[^ ]*)(?: |$)', line)
    if m:
        by_vm.setdefault(m.group(1).decode(), []).append(mask(line))
same, differ = 0, []
for f in sorted(glob.glob("tests/gcs_cases/*.jsonl")):
    name = "case-" + os.path.basename(f)[:-6]
    with open(f, "rb") as src:
        want = subprocess.run([os.environ["VMUTILS_BIN"], "gcs-logs", "--vm-id", name, "--format", fmt] + extra,
                              stdin=src, capture_output=True).stdout
    want = [mask(l) for l in want.split(b"\n") if l]
    if want == by_vm.get(name, []):
        same += 1
    else:
        differ.append(name)
print(same, len(differ), " ".join(differ[:5]))
EOF2
)
    set -- $cmp_out
    result "gcs_cases over sockets ($mode, $format): ${1:-0} streams' records as the single-stream command, ${2:-?} differ" \
      $([ "${2:-1}" = 0 ] && [ "${1:-0}" -gt 0 ]; echo $?) "$cmp_out"
  done
done

echo "1..$n"
[ $failed -eq 0 ]
