#!/usr/bin/env bash
# Records per second and CPU per record of `vmutils gcs-logs --listen` with
# 1, 8 and 64 VMs writing at once over Unix sockets, each guest its own
# process (tests/gcs_peer.py replaying a pre-generated stream in writes of
# 1..4096 bytes). The same total of entries in every run; records go to
# /dev/null through the async sink. The guests connect first and start
# sending together; wall time runs from then to the forwarder's exit
# (SIGTERM once every guest is done: what is still queued is read then).
# CPU time is the forwarder's own (getrusage, both threads), peak RSS too.
# The guests run on the same cores: records/s is a floor for the
# forwarder, CPU per record its own cost.
#
#   bench/gcs_listen_bench.sh [TOTAL_ENTRIES] [VM_COUNTS...]
#   (defaults: 320000 entries; 1 8 64 VMs)
set -u
cd "$(dirname "$0")/.."
BUILD=${VMUTILS_BUILD:-${BUILD:-build}}
VMUTILS=$BUILD/vmutils
TOTAL=${1:-320000}
shift || true
COUNTS=${*:-1 8 64}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x "$VMUTILS" ] || { echo "build $VMUTILS first (make all)" >&2; exit 1; }
PYTHON=$(python3 -c 'import sys; print(sys.executable)')

printf '%-5s %10s %12s %10s %14s %12s\n' VMs entries "wall s" "CPU s" "records/s" "CPU us/rec"
for vms in $COUNTS; do
  per=$((TOTAL / vms))
  dir=$tmp/run$vms
  mkdir -p "$dir"
  # One stream per VM, generated before the clock starts.
  "$PYTHON" - "$dir" "$vms" "$per" <<'EOF'
import sys
sys.path.insert(0, "tests")
from gcs_peer import entry
d, vms, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for v in range(vms):
    with open("%s/vm%d.jsonl" % (d, v), "wb") as f:
        f.write(b"".join(entry("vm%d" % v, i) for i in range(per)))
EOF
  args=()
  for v in $(seq 0 $((vms - 1))); do args+=(--listen "unix:$dir/vm$v.sock=vm$v"); done
  "$VMUTILS" gcs-logs "${args[@]}" >/dev/null 2>"$dir/err" &
  fwd=$!
  for _ in $(seq 1 200); do [ -S "$dir/vm$((vms - 1)).sock" ] && break; sleep 0.05; done
  writers=()
  for v in $(seq 0 $((vms - 1))); do
    "$PYTHON" tests/gcs_peer.py replay "$dir/vm$v.sock" "$dir/vm$v.jsonl" --seed "$v" --go "$dir/go" &
    writers+=($!)
  done
  # Every guest connected (and counted) before the clock starts.
  for _ in $(seq 1 600); do
    [ "$(ls /proc/$fwd/fd | wc -l)" -ge $((vms * 2 + 5)) ] && break
    sleep 0.05
  done
  start=$(date +%s.%N)
  touch "$dir/go"
  for w in "${writers[@]}"; do wait "$w"; done
  kill -TERM "$fwd"
  wait "$fwd"
  end=$(date +%s.%N)
  line=$(tail -n 1 "$dir/err")
  entries=$(sed -nE 's/.* ([0-9]+) entries.*/\1/p' <<<"$line")
  cpu=$(sed -nE 's/.*CPU ([0-9.]+) s.*/\1/p' <<<"$line")
  rss=$(sed -nE 's/.*peak RSS ([0-9]+) KiB.*/\1/p' <<<"$line")
  awk -v vms="$vms" -v n="$entries" -v s="$start" -v e="$end" -v cpu="$cpu" -v rss="$rss" 'BEGIN {
    wall = e - s
    printf "%-5d %10d %12.3f %10.3f %14.0f %12.3f   (peak RSS %d KiB)\n", vms, n, wall, cpu, n / wall, cpu * 1e6 / n, rss
  }'
  rm -rf "$dir"
done
