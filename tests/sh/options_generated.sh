#!/usr/bin/env bash
# core/gen is committed protoc-c output; it must be what protoc-c makes of
# core/proto today (`make check-generated`), and every .proto must have its
# generated pair.
set -u
cd "$(dirname "$0")/../.."
n=0 fails=0
check() {
  n=$((n + 1))
  if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fails=$((fails + 1)); fi
}
log=$(mktemp); trap 'rm -f "$log"' EXIT
check "make check-generated: core/gen matches a fresh protoc-c run" \
  "make -s check-generated >$log 2>&1 || { cat $log; false; }"
for proto in core/proto/*.proto; do
  base=$(basename "$proto" .proto)
  check "core/gen has $base.pb-c.c and $base.pb-c.h" "[ -f core/gen/$base.pb-c.c ] && [ -f core/gen/$base.pb-c.h ]"
done
check "core/gen holds nothing else" \
  "[ \$(ls core/gen | wc -l) -eq \$((2 * \$(ls core/proto/*.proto | wc -l))) ]"
[ $fails -eq 0 ]
