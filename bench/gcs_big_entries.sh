#!/usr/bin/env bash
# GCS decoding of very large entries with the entry limit raised to 1 GiB
# (`vmutils gcs-logs --max-entry-bytes 1073741824`): one string entry of 8,
# 32 and 128 MiB, 96 entries of 1 MiB, and one entry holding an array of
# 512 Ki zeros (1 MiB of text). Prints wall time, peak RSS and RSS per input
# byte of each; time should grow linearly with the entry and RSS stay a
# small multiple of it. Printed figures, not a test.
#
# Environment: BUILD (default build), SIZES (MiB, default "8 32 128").
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SIZES=${SIZES:-8 32 128}
VMUTILS=$BUILD/vmutils
[ -x "$VMUTILS" ] || { echo "build $VMUTILS first (make all)" >&2; exit 2; }
for tool in python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# gen KIND MIB FILE
gen() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
kind, mib, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    if kind == "string":
        f.write('{"level":"info","msg":"' + "a" * (mib << 20) + '"}\n')
    elif kind == "many":
        line = '{"level":"info","msg":"' + "a" * (1 << 20) + '"}\n'
        for _ in range(mib):
            f.write(line)
    else:
        f.write('{"level":"info","msg":"x","a":[' + ",".join(["0"] * (mib << 19)) + "]}\n")
PY
}

# run LABEL FILE
run() {
  local bytes s kb
  bytes=$(stat -c %s "$2")
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$VMUTILS" gcs-logs --max-entry-bytes 1073741824 "$2" \
    >/dev/null 2>"$tmp/err" || { echo "$1 failed:"; cat "$tmp/err"; exit 1; }
  read -r s kb <"$tmp/time"
  awk -v l="$1" -v b="$bytes" -v s="$s" -v kb="$kb" 'BEGIN {
    printf "%-34s %10.1f MB in %7.2f s  %7.1f MB/s  peak RSS %7.1f MB (%.2f x input)\n",
      l, b / 1e6, s, (s > 0 ? b / 1e6 / s : 0), kb / 1024, kb * 1024 / b }'
}

for mb in $SIZES; do
  gen string "$mb" "$tmp/in.json"
  run "one string entry of $mb MiB" "$tmp/in.json"
done
gen many 96 "$tmp/in.json"
run "96 entries of 1 MiB" "$tmp/in.json"
gen array 1 "$tmp/in.json"
run "an array of 512 Ki zeros (1 MiB)" "$tmp/in.json"
