#!/usr/bin/env bash
# NUMA placement benchmark (bench/numa_fit_bench.c), printed: fits per second
# of vmutils' placement on a 64-node host (8 sockets of 8 nodes) for VMs of 1,
# 3 and 13 nodes, and on an 8-node host beside an exhaustive search of every
# set of nodes.
#
#   bench/numa_fit_bench.sh [SECONDS]
#
# Run from anywhere; builds what it needs with make. BUILD picks the tree.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECONDS_PER_CASE=${1:-2}

make -s BUILD="$BUILD" "$BUILD/libvmutils.a" >/dev/null
mkdir -p "$BUILD/bench"
cc -std=c11 -O2 -D_GNU_SOURCE -Icore/include -o "$BUILD/bench/numa_fit_bench" bench/numa_fit_bench.c \
  "$BUILD/libvmutils.a" $(pkg-config --libs yajl libprotobuf-c hwloc double-conversion) -lm -pthread

"$BUILD/bench/numa_fit_bench" "$SECONDS_PER_CASE" | awk '
  { printf "%-30s %10d fits/s  (%d fits in %.2f s)\n", $2, $8, $4, $6 }
  $2 == "64-nodes-3-node-vm" { aim = $8 }
  END { printf "aim: over 10000 fits/s on 64 nodes: %s\n", (aim > 10000 ? "met" : "missed") }'
