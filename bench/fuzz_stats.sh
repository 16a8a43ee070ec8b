#!/usr/bin/env bash
# Prints, per fuzz target, what its last run (fuzz/run.sh, make fuzz or make
# fuzz-smoke) did: seconds, total executions, executions per second, corpus
# size and peak RSS, read from build/fuzz/logs/<target>.log.
set -u
cd "$(dirname "$0")/.."
logs=build/fuzz/logs
ls "$logs"/fuzz_*.log >/dev/null 2>&1 || { echo "no fuzz logs in $logs: run make fuzz first" >&2; exit 1; }
printf '%-18s %8s %14s %10s %8s %8s  %s\n' target seconds executions execs/s corpus rss_mb result
total=0
for log in "$logs"/fuzz_*.log; do
  t=$(basename "$log" .log)
  stat() { grep -a "^stat::$1:" "$log" | tail -n 1 | awk '{print $2}'; }
  execs=$(stat number_of_executed_units)
  rate=$(stat average_exec_per_sec)
  rss=$(stat peak_rss_mb)
  secs=$(grep -aE '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 | awk '{print $5}')
  corpus=$(grep -aE '^#[0-9]+' "$log" | tail -n 1 | sed -nE 's/.*corp: ([0-9]+)\/.*/\1/p')
  if grep -aqE '^Done [0-9]+ runs' "$log"; then result=clean; else result=FAILED; fi
  printf '%-18s %8s %14s %10s %8s %8s  %s\n' "$t" "${secs:--}" "${execs:--}" "${rate:--}" \
    "${corpus:--}" "${rss:--}" "$result"
  total=$((total + ${execs:-0}))
done
echo "total executions: $total"
