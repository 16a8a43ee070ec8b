#!/usr/bin/env bash
# The documentation (README.md, docs/) describes the product as it is: it
# names no file outside the repository and carries no development-history
# notes (sessions, issue numbers, "earlier", aims), and every docs/ file that
# README.md or another page links to exists.
set -u
cd "$(dirname "$0")/../.."
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; fails=$((fails + 1)); }

files=(README.md docs/*.md docs/*.1)

# pattern|what it catches
checks=(
  '\.\./shared|/work/|/home/|/root/|names a file outside the repository'
  '[Tt]his session|[Ee]arlier in the day|[Aa]s before\b|[Ii]ssue #?[0-9]|is filed|was filed|speaks of the work history'
  '\| *aim *\||[Tt]he aim\b|[Bb]elow the aim|states aims instead of the product'
)
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  for c in "${checks[@]}"; do
    pattern=${c%|*} what=${c##*|}
    hit=$(grep -nE "$pattern" "$f" | head -1)
    if [ -z "$hit" ]; then ok "$f: no line that $what"
    else not_ok "$f: a line $what: ${hit:0:120}"; fi
  done
done

# docs/NAME files named in the pages exist.
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  for ref in $(grep -oE 'docs/[A-Za-z0-9_.-]+\.(md|1)' "$f" | sort -u); do
    if [ -f "$ref" ]; then ok "$f: $ref exists"
    else not_ok "$f: names $ref, which does not exist"; fi
  done
done

echo "1..$n"
[ $fails -eq 0 ]
