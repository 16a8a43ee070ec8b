#!/usr/bin/env bash
# Runs every libFuzzer target in build/fuzz/fuzzers for SECONDS seconds each
# (default 60), one after the other. Usage: fuzz/run.sh [SECONDS] [TARGET...]
#
# Seeds come from fuzz/corpus/<target> and fuzz/regressions/<target>
# (committed, never written to); new
# inputs the fuzzer keeps go to build/fuzz/corpus/<target>, so a later run
# starts from where this one ended. A crash or a broken property leaves its
# input in build/fuzz/artifacts/<target>/ and makes this script exit 1; the
# log of each run is build/fuzz/logs/<target>.log (bench/fuzz_stats.sh reads
# them). To keep a crash as a regression test, copy its input to
# fuzz/regressions/<target>/ (tests/test_fuzz_regressions.c replays them).
set -u
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
bin=build/fuzz/fuzzers
[ -d "$bin" ] || { echo "no $bin: run make fuzz-build first" >&2; exit 2; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for t in "$bin"/fuzz_*; do [ -x "$t" ] && targets+=("$(basename "$t")"); done
fi

# Inputs longer than this are not tried; the stream targets need room for
# several entries and for chunking to matter.
max_len() {
  case $1 in
    fuzz_gcs_stream) echo 65536 ;;
    fuzz_request) echo 16384 ;;
    *) echo 8192 ;;
  esac
}

mkdir -p build/fuzz/logs
failed=0
for t in "${targets[@]}"; do
  work=build/fuzz/corpus/$t artifacts=build/fuzz/artifacts/$t
  mkdir -p "$work" "$artifacts" "fuzz/corpus/$t"
  args=(-max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=20 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts/")
  [ -f "fuzz/$t.dict" ] && args+=(-dict="fuzz/$t.dict")
  # Regression inputs run first with the seeds, under clang's sanitizers
  # (gcc's UBSan, which test_fuzz_regressions gets, misses some checks).
  dirs=("$work" "fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  echo "== $t: ${seconds}s"
  # The fuzzers carry clang's sanitizer runtimes: a preloaded gcc ASan (as
  # tests/run_all.sh sets under make sanitize) must not reach them.
  env -u LD_PRELOAD ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin/$t" "${args[@]}" "${dirs[@]}" >"build/fuzz/logs/$t.log" 2>&1
  status=$?
  if [ $status -ne 0 ]; then
    failed=1
    echo "FAILED: $t (exit $status); input in $artifacts/"
    grep -E 'property failed|ERROR: |runtime error|SUMMARY' "build/fuzz/logs/$t.log" | head -n 10
  else
    grep -E '^Done [0-9]+ runs' "build/fuzz/logs/$t.log" | tail -n 1
  fi
done
exit $failed
