#!/usr/bin/env bash
# default_processor_count_for_uvm follows the process's CPU affinity, as
# Go's runtime.NumCPU does: pinned with `taskset -c 0` it is 1; unpinned it
# is 2 on a machine with more than one allowed CPU (1 on a single-CPU one).
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
n=0 fails=0
check() { # name expected actual
  n=$((n + 1))
  if [ "$2" = "$3" ]; then echo "ok $n - $1"; else
    echo "not ok $n - $1 (expected '$2', got '$3')"; fails=$((fails + 1)); fi
}
count_code="package.cpath='$BUILD/?.so;'..package.cpath
io.write(require('vmutils').default_processor_count_for_uvm())"
count() { "$@" lua5.4 -e "$count_code" 2>&1; }

# The CPUs this shell may use, one per line ("0-2,5" becomes 0 1 2 5).
allowed_cpus() {
  taskset -pc $$ | sed 's/.*: //' | tr ',' '\n' | while IFS=- read -r lo hi; do
    seq "$lo" "${hi:-$lo}"
  done
}
cpus=($(allowed_cpus))
unpinned=$([ "${#cpus[@]}" -gt 1 ] && echo 2 || echo 1)

check "pinned to one CPU (taskset -c ${cpus[0]}) it is 1" 1 "$(count taskset -c "${cpus[0]}")"
check "unpinned, with ${#cpus[@]} CPUs allowed, it is $unpinned" "$unpinned" "$(count env)"
check "nproc agrees on the allowed CPUs" "${#cpus[@]}" "$(nproc)"
all=$(IFS=,; echo "${cpus[*]}")
check "pinned to every allowed CPU (taskset -c $all) it is $unpinned" "$unpinned" \
  "$(count taskset -c "$all")"
echo "1..$n"
[ "$fails" -eq 0 ]
