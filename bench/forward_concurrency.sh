#!/usr/bin/env bash
# Concurrent forwarding throughput (bench/forward_concurrency.c) for 1, 4
# and 64 streams on one shared logger, over the same corpus each time (the
# 64 MiB GCS corpus of bench/gcs_corpus.py, seed 1, kept in
# $BUILD/bench as bench/gcs_logs.sh keeps it). Best of RUNS (default 3) per
# stream count. Printed figures, not a test: on a 2-core machine the
# streams share two CPUs and one logger lock.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
MB=${MB:-64}
[ -f "$BUILD/libvmutils.a" ] || { echo "build $BUILD/libvmutils.a first (make all)" >&2; exit 2; }

mkdir -p "$BUILD/bench"
bin=$BUILD/bench/forward_concurrency
${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -Icore/include bench/forward_concurrency.c \
  "$BUILD/libvmutils.a" $(pkg-config --libs yajl libprotobuf-c hwloc double-conversion) -lm -pthread -o "$bin" || exit 1

corpus=$BUILD/bench/gcs_corpus-${MB}mib-seed1.jsonl
if [ ! -s "$corpus" ]; then
  echo "generating the ${MB} MiB corpus (seed 1)..."
  python3 bench/gcs_corpus.py --mb "$MB" --seed 1 >"$corpus.part" && mv "$corpus.part" "$corpus"
fi
echo "corpus: $corpus ($(stat -c %s "$corpus") bytes), $(nproc) CPUs, best of $RUNS"
for streams in 1 4 64; do
  best=""
  for _ in $(seq "$RUNS"); do
    line=$("$bin" "$corpus" "$streams") || exit 1
    rate=$(echo "$line" | awk '{print $7}')
    if [ -z "$best" ] || awk -v a="$rate" -v b="$best_rate" 'BEGIN{exit !(a>b)}'; then
      best=$line best_rate=$rate
    fi
  done
  echo "$best"
done
