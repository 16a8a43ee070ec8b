#!/usr/bin/env bash
# Runs every test (cmocka binaries, busted specs, shell tests), all in TAP,
# and ends with one line "N passed, N failed" summing them.
# BUILD selects the build tree; SANITIZE=1 preloads ASan for the Lua side.
# A runner still going after PROGRESS_AFTER seconds (default 10) is
# announced, then every 30 s, and the lines a shell test prints as
# "# progress: ..." are shown as they come.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export VMUTILS_BUILD=$BUILD
passed=0 failed=0 skipped=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

# count FILE EXIT_STATUS NAME: adds the TAP results of one runner's output.
count() {
  local out=$1 status=$2 name=$3 ok notok skip
  ok=$(grep -cE '^ok [0-9]+' "$out" | tr -d ' ')
  skip=$(grep -cE '^ok [0-9]+.*# (SKIP|skip)' "$out" | tr -d ' ')
  notok=$(grep -cE '^not ok [0-9]+' "$out" | tr -d ' ')
  ok=$((ok - skip))
  if [ "$status" -ne 0 ] && [ "$notok" -eq 0 ]; then
    echo "FAILED: $name exited with status $status and reported no failing test"
    notok=1
  fi
  grep -E '^not ok' "$out" | sed "s|^|$name: |"
  passed=$((passed + ok)); failed=$((failed + notok)); skipped=$((skipped + skip))
}

# run NAME CMD...: runs one runner in the foreground (as a job of its own it
# would ignore SIGINT), its output in $log; sets $st and $took. For a shell
# test (FOLLOW=1), a follower relays its progress lines from the log until
# the sentinel process it watches is ended after the runner.
run() {
  local name=$1 start=$SECONDS sentinel="" follower="" watch; shift
  : >"$log"
  if [ "${FOLLOW:-0}" = 1 ]; then
    sleep 100000 >/dev/null 2>&1 </dev/null &
    sentinel=$!
    tail -s 0.05 -n +1 -f --pid="$sentinel" "$log" 2>/dev/null |
      grep --line-buffered '^# progress: ' | sed -u "s|^# progress: |   $name: |" &
    follower=$!
  fi
  # The watcher sleeps a second at a time, its sleeps not holding stdout;
  # SIGKILL ends it without running the EXIT trap it inherited.
  ( next=${PROGRESS_AFTER:-10}
    while sleep 1 >/dev/null 2>&1 </dev/null; do
      [ $((SECONDS - start)) -ge "$next" ] || continue
      echo "   $name: running for $next s"; next=$((next + 30))
    done ) &
  watch=$!
  "$@" >>"$log" 2>&1
  st=$?
  kill -KILL "$watch" 2>/dev/null; wait "$watch" 2>/dev/null
  if [ -n "$sentinel" ]; then
    kill "$sentinel" 2>/dev/null; wait "$sentinel" 2>/dev/null
    wait "$follower"
  fi
  took=$((SECONDS - start))
}

# report NAME: the summary line of the runner just run, then its results.
report() {
  echo "== $1: $(grep -cE '^ok ' "$log") ok, $(grep -cE '^not ok ' "$log") not ok (${took} s)"
  count "$log" "$st" "$1"
}

lua_env=()
if [ "${SANITIZE:-0}" = 1 ]; then
  lua_env=(env LD_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so)"
           ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1)
fi

for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  run "$(basename "$t")" env CMOCKA_MESSAGE_OUTPUT=TAP "$t"
  report "$(basename "$t")"
  [ "$st" -ne 0 ] && tail -n 30 "$log"
done

if ls spec/*_spec.lua >/dev/null 2>&1; then
  run busted "${lua_env[@]}" busted --lua=lua5.4 -o TAP spec
  report busted
  [ "$st" -ne 0 ] && grep -vE '^ok ' "$log" | tail -n 60
fi

for t in tests/sh/*.sh; do
  [ -f "$t" ] || continue
  FOLLOW=1 run "$(basename "$t")" "${lua_env[@]}" bash "$t"
  report "$(basename "$t")"
  [ "$st" -ne 0 ] && tail -n 30 "$log"
done

[ "$skipped" -gt 0 ] && echo "($skipped skipped tests are not counted as passed)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
