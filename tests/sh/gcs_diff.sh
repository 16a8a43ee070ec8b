#!/usr/bin/env bash
# Differential test of `vmutils gcs-logs` against the Go reference forwarder
# (tests/go-ref, built here with golang-go and
# golang-github-sirupsen-logrus-dev): generated corpora (bench/gcs_corpus.py,
# several seeds, some ending in a Go panic dump) and every hand-written
# stream of tests/gcs_cases/, in both formats. The records must be the same
# bytes apart from the host "time" value and Go type names in error texts.
# Also random streams of corners from tests/gcs_random_stream.py.
# Prints one TAP line per stream and format.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-${BUILD:-build}}
VMUTILS=$BUILD/vmutils
# Both forwarders get the same VM id.
VM_ID=diff-vm

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }

# The sanitizer preload of the test runner is for our binaries only.
plain() { env -u LD_PRELOAD "$@"; }

if [ ! -x "$VMUTILS" ]; then
  not_ok "build $VMUTILS first (make all)"
  echo "1..$n"; exit 1
fi

# The reference goes to the build tree, its Go cache with it.
if GO_REF=$(tests/go-ref/build.sh "$BUILD/go-ref" 2>"$tmp/build.log"); then
  ok "the Go reference forwarder builds"
else
  not_ok "the Go reference forwarder builds (needs golang-go and golang-github-sirupsen-logrus-dev)"
  sed 's/^/# /' "$tmp/build.log"
  echo "1..$n"; exit 1
fi

# Host time and Go type names are the only allowed differences. In JSON the
# host time is not always the first "time" key (a nested object may hold one
# earlier), so every value of the host time's shape (RFC 3339 to the second)
# is masked, in both outputs alike.
host_time='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})'
mask() {
  sed -E -e 's/^time="[^"]*"/time="T"/' -e "s/\"time\":\"$host_time\"/\"time\":\"T\"/g" \
         -e 's/of type [A-Za-z0-9_.]+/of type TYPE/g'
}

# compare NAME FILE FORMAT [vmutils options...]
compare() {
  local name=$1 file=$2 format=$3; shift 3
  plain "$GO_REF" -vm-id "$VM_ID" -format "$format" <"$file" >"$tmp/go.raw" 2>"$tmp/go.err"
  local go_status=$?
  "$VMUTILS" gcs-logs --vm-id "$VM_ID" --format "$format" "$@" <"$file" >"$tmp/c.raw" 2>"$tmp/c.err"
  local c_status=$?
  mask <"$tmp/go.raw" >"$tmp/go.out"
  mask <"$tmp/c.raw" >"$tmp/c.out"
  if [ $go_status -eq 0 ] && [ $c_status -eq 0 ] && cmp -s "$tmp/go.out" "$tmp/c.out"; then
    ok "$name ($format, $(wc -l <"$tmp/go.out") records)"
  else
    not_ok "$name ($format): Go reference exit $go_status, vmutils exit $c_status"
    diff "$tmp/go.out" "$tmp/c.out" | head -n 10 | sed 's/^/# /'
    head -n 3 "$tmp/c.err" | sed 's/^/# /'
  fi
}

# Generated corpora: a few MiB in all keeps the Go part short.
echo "# progress: generated corpora"
for spec in "1 2" "2 1" "3 1" "4 1 --panic" "5 0.5 --panic"; do
  set -- $spec
  seed=$1 mb=$2; shift 2
  corpus=$tmp/corpus-$seed.jsonl
  if ! plain python3 bench/gcs_corpus.py --mb "$mb" --seed "$seed" "$@" >"$corpus"; then
    not_ok "corpus seed $seed generates"
    continue
  fi
  for format in json text; do
    compare "corpus seed $seed ${mb}MiB $*" "$corpus" "$format"
  done
  # Resync changes nothing on a stream Go forwards whole.
  [ $# -eq 0 ] && compare "corpus seed $seed ${mb}MiB with --resync" "$corpus" json --resync
done

# Hand-written corner cases, one stream each.
echo "# progress: the streams of tests/gcs_cases"
for file in tests/gcs_cases/*.jsonl; do
  for format in json text; do
    compare "case $(basename "$file" .jsonl)" "$file" "$format"
  done
done

# Random streams of corners (tests/gcs_random_stream.py), fixed seeds.
echo "# progress: random streams of corners"
for seed in $(seq 1 30); do
  stream=$tmp/random-$seed.jsonl
  plain python3 tests/gcs_random_stream.py "$seed" 60 >"$stream"
  for format in json text; do
    compare "random stream seed $seed" "$stream" "$format"
  done
done

# Go's shortest float text on 16,000 random float64s (gcs_random_stream.py
# --floats: any bit pattern, subnormals, powers of two's neighbours, short
# decimals), top-level and nested, in both formats.
echo "# progress: random floats"
for seed in 1 2; do
  stream=$tmp/floats-$seed.jsonl
  plain python3 tests/gcs_random_stream.py --floats "$seed" 1000 >"$stream"
  for format in json text; do
    compare "random floats seed $seed" "$stream" "$format"
  done
done

# vm.time in text names the host's zone when the offset is the host's (a
# time in Local): the time cases under other zones, summer time included.
for zone in Europe/Paris America/New_York; do
  for file in tests/gcs_cases/time_variants.jsonl tests/gcs_cases/time_null.jsonl; do
    if [ -e "/usr/share/zoneinfo/$zone" ]; then
      TZ=$zone compare "case $(basename "$file" .jsonl) in TZ=$zone" "$file" text
    else
      n=$((n + 1)); echo "ok $n - # SKIP case $(basename "$file" .jsonl) in TZ=$zone: no /usr/share/zoneinfo/$zone (make deps installs tzdata)"
    fi
  done
done

# The same stream through a pipe written in small pieces (the decoder sees
# short reads) prints the same records.
corpus=$tmp/corpus-4.jsonl
VMUTILS_BIN=$VMUTILS VM_ID=$VM_ID plain python3 - "$corpus" >"$tmp/c.out" <<'EOF'
import os, random, sys
data = open(sys.argv[1], 'rb').read()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    rnd = random.Random(7)
    i = 0
    while i < len(data):
        n = rnd.randint(1, 300)
        os.write(w, data[i:i + n])
        i += n
    os._exit(0)
os.close(w)
os.dup2(r, 0)
os.execvp(os.environ["VMUTILS_BIN"], ["vmutils", "gcs-logs", "--vm-id", os.environ["VM_ID"]])
EOF
mask <"$tmp/c.out" >"$tmp/c.masked"
plain "$GO_REF" -vm-id "$VM_ID" <"$corpus" | mask >"$tmp/go.out"
if cmp -s "$tmp/go.out" "$tmp/c.masked"; then
  ok "corpus seed 4 through a pipe in short writes"
else
  not_ok "corpus seed 4 through a pipe in short writes"
  diff "$tmp/go.out" "$tmp/c.masked" | head -n 10 | sed 's/^/# /'
fi

echo "1..$n"
[ "$failed" -eq 0 ]
