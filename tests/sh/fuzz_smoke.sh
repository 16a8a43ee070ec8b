#!/usr/bin/env bash
# CI's fuzz smoke: builds the libFuzzer targets (make fuzz-build: clang,
# ASan+UBSan) and runs each FUZZ_SMOKE_SECONDS seconds (default 10) from its
# committed seeds, two at a time (FUZZ_SMOKE_JOBS). Each target checks its properties on every input (see
# fuzz/README.md); a crash, a leak or a broken property is "not ok", with
# the input left in build/fuzz/artifacts/<target>/. Lines starting with
# "# progress:" say what runs now (tests/run_all.sh shows them as they come).
set -u
cd "$(dirname "$0")/../.."
# Under make sanitize the runner preloads gcc's ASan; the fuzzers carry
# clang's own runtime and the build needs neither.
unset LD_PRELOAD
seconds=${FUZZ_SMOKE_SECONDS:-10}
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

progress() { echo "# progress: $*"; }
# The build and the targets use FUZZ_SMOKE_JOBS at a time (default 2: the
# two cores of the build machine); each target runs the full time.
jobs=${FUZZ_SMOKE_JOBS:-2}

build_log=$(mktemp); trap 'rm -f "$build_log"' EXIT
progress "building the fuzz targets (clang, ASan+UBSan)"
if make -s -j"$jobs" fuzz-build >"$build_log" 2>&1; then
  ok "fuzz targets build (clang -fsanitize=fuzzer,address,undefined)"
else
  not_ok "fuzz targets build"; sed 's/^/# /' "$build_log" | tail -n 30
fi

targets=()
for src in fuzz/fuzz_*.c; do
  t=$(basename "$src" .c)
  if [ -x "build/fuzz/fuzzers/$t" ]; then targets+=("$t"); else not_ok "$t: not built"; fi
done
status_dir=$(mktemp -d); trap 'rm -f "$build_log"; rm -rf "$status_dir"' EXIT
for ((i = 0; i < ${#targets[@]}; i += jobs)); do
  batch=("${targets[@]:i:jobs}")
  for t in "${batch[@]}"; do
    # Each fuzz_policy input runs up to three policies to their limits.
    s=$seconds; [ "$t" = fuzz_policy ] && [ "$s" -gt 10 ] && s=10
    progress "$t: started, ${s} s"
    { fuzz/run.sh "$s" "$t" >/dev/null 2>&1; echo $? >"$status_dir/$t"; } &
  done
  wait
  for t in "${batch[@]}"; do
    if [ "$(cat "$status_dir/$t")" = 0 ]; then
      runs=$(grep -aE '^Done [0-9]+ runs' "build/fuzz/logs/$t.log" | tail -n 1 | awk '{print $2}')
      progress "$t: done, $runs inputs"
      ok "$t: $runs inputs, every property held"
    else
      progress "$t: failed"
      not_ok "$t: failed (input in build/fuzz/artifacts/$t/)"
      # The whole message (a broken property prints the policy or stream it
      # built) and the input in base64: on a CI machine the artifact is gone
      # with the machine.
      awk '/property failed|runtime error|ERROR: AddressSanitizer|ERROR: LeakSanitizer/ { on = 1 }
           /^ *#[0-9]+ 0x/ { on = 0 }
           on && shown < 40 { print; shown++ }
           /^SUMMARY|^Base64: / { print }' "build/fuzz/logs/$t.log" | sed 's/^/# /'
    fi
  done
done
echo "1..$n"
[ "$fails" -eq 0 ]
