#!/usr/bin/env bash
# Interleaved A/B of two builds of `vmutils gcs-logs --format json` on the
# 64 MiB corpus (bench/gcs_corpus.py, seed 1), output to /dev/null: the two
# binaries run alternately, ROUNDS times each (default 8), so that a drift
# of the shared machine's speed falls on both. Prints the minimum and the
# median of the wall time and of the CPU time (user + system) of each, and
# B's change against A. These are printed figures, not a test.
#
# Usage: bench/gcs_ab.sh BUILD_A BUILD_B   (each holds a built `vmutils`)
# Environment: ROUNDS (default 8), MB (corpus size, default 64).
set -u
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 BUILD_A BUILD_B" >&2; exit 2; }
ROUNDS=${ROUNDS:-8}
MB=${MB:-64}
for b in "$1" "$2"; do
  [ -x "$b/vmutils" ] || { echo "build $b/vmutils first (make BUILD=$b)" >&2; exit 2; }
done

mkdir -p build/bench
corpus=build/bench/gcs_corpus-${MB}mib-seed1.jsonl
if [ ! -s "$corpus" ]; then
  echo "generating the ${MB} MiB corpus (seed 1)..."
  python3 bench/gcs_corpus.py --mb "$MB" --seed 1 >"$corpus.part" && mv "$corpus.part" "$corpus"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME BUILD: one run, its wall and CPU seconds appended to $tmp/NAME.
# bash's `time` gives milliseconds (/usr/bin/time only hundredths).
run() {
  local TIMEFORMAT='%3R %3U %3S'
  { time "$2/vmutils" gcs-logs --vm-id bench-vm --format json <"$corpus" >/dev/null \
      2>"$tmp/err"; } 2>"$tmp/time" || { echo "$2 failed:"; cat "$tmp/err"; exit 1; }
  awk '{ print $1, $2 + $3 }' "$tmp/time" >>"$tmp/$1"
}

echo "corpus: $corpus; $ROUNDS rounds, A and B alternating; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  # Alternate which one goes first, so neither always follows the other.
  if [ $((r % 2)) -eq 1 ]; then run a "$1"; run b "$2"; else run b "$2"; run a "$1"; fi
done

# stats NAME COLUMN: "min median" of a column.
stats() {
  cut -d' ' -f"$2" "$tmp/$1" | sort -n |
    awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f", v[1], m }'
}
read -r a_wmin a_wmed <<<"$(stats a 1)"; read -r a_cmin a_cmed <<<"$(stats a 2)"
read -r b_wmin b_wmed <<<"$(stats b 1)"; read -r b_cmin b_cmed <<<"$(stats b 2)"
printf "%-4s %-24s wall min %6.3f s median %6.3f s   CPU min %6.3f s median %6.3f s\n" \
  A "$1" "$a_wmin" "$a_wmed" "$a_cmin" "$a_cmed" B "$2" "$b_wmin" "$b_wmed" "$b_cmin" "$b_cmed"
awk -v a1="$a_wmin" -v a2="$a_wmed" -v b1="$b_wmin" -v b2="$b_wmed" \
    -v c1="$a_cmin" -v c2="$a_cmed" -v d1="$b_cmin" -v d2="$b_cmed" 'BEGIN {
  printf "B vs A: wall min %+.1f %%, median %+.1f %%; CPU min %+.1f %%, median %+.1f %%\n",
    (b1 / a1 - 1) * 100, (b2 / a2 - 1) * 100, (d1 / c1 - 1) * 100, (d2 / c2 - 1) * 100 }'
