#!/usr/bin/env bash
# docs/vmutils.1: groff finds nothing to warn about, man renders it at 80
# columns, every subcommand (those `vmutils --help` lists, and the fixed set)
# has a section, every option the commands' --help texts name is described,
# the standard sections are there, and `make install` / `make uninstall`
# handle the page.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-build}
PAGE=docs/vmutils.1
n=0 fails=0
check() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fails=$((fails + 1)); fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C.UTF-8
# groff and man are the system's: `make sanitize` preloads ASan for lua5.4,
# and under it troff aborts on its own malloc / delete[] mismatch. Nothing
# here loads our module into a foreign program, so the preload goes.
unset LD_PRELOAD

# groff-base and man-db are in `make deps`; without them nothing here can run.
if ! command -v groff >/dev/null || ! command -v man >/dev/null; then
  echo "ok 1 - # SKIP groff or man is not installed (make deps installs groff-base and man-db)"
  echo "1..1"; exit 0
fi

check "groff -ww -man prints no warning" \
  "groff -ww -man -Tutf8 $PAGE >/dev/null 2>$tmp/groff.err && [ ! -s $tmp/groff.err ]"
[ -s "$tmp/groff.err" ] && sed 's/^/# /' "$tmp/groff.err" | head -5

check "man -l renders it without a message" \
  "MANWIDTH=80 man -l $PAGE >$tmp/page.txt 2>$tmp/man.err && [ ! -s $tmp/man.err ] && grep -q '^NAME' $tmp/page.txt"
check "no rendered line is wider than 80 columns" \
  "[ \"\$(wc -L <$tmp/page.txt)\" -le 80 ]"

for section in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS 'EXIT STATUS' ENVIRONMENT FILES EXAMPLES 'SEE ALSO'; do
  check "section $section" "grep -qx '$section' $tmp/page.txt"
done

# The fixed set, and any command the program's help lists ("  NAME ...").
commands="run repl policy gcs-logs help"
if [ -x "$BUILD/vmutils" ]; then
  listed=$("$BUILD/vmutils" --help 2>/dev/null |
    sed -nE 's/^  ([a-z][a-z-]*)([[:space:]].*)?$/\1/p')
  commands=$(printf '%s\n' $commands $listed | sort -u)
fi
for cmd in $commands; do
  check "subcommand $cmd has a section" "grep -qx '   $cmd' $tmp/page.txt"
done

# Every --option of `vmutils --help` and of each `vmutils CMD --help` is
# described in the page (as a tagged paragraph or in running text).
if [ -x "$BUILD/vmutils" ]; then
  { "$BUILD/vmutils" --help
    for cmd in $commands; do "$BUILD/vmutils" "$cmd" --help </dev/null; done
  } >"$tmp/help.txt" 2>&1
  for opt in $(grep -oE -- '--[a-z][a-z-]*' "$tmp/help.txt" | sort -u); do
    check "option $opt is described" "grep -qF -- '$opt' $tmp/page.txt"
  done
else
  n=$((n + 1)); echo "ok $n - # SKIP $BUILD/vmutils is not built: options not compared"
fi

# One exit status table: 0, 1 and 2, each a tagged paragraph.
status_lines=$(sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$tmp/page.txt")
check "exit statuses 0, 1 and 2 are listed" \
  "printf '%s\n' \"\$status_lines\" | grep -qE '^ +0 +Success' &&
   printf '%s\n' \"\$status_lines\" | grep -qE '^ +1 +The +job +failed' &&
   printf '%s\n' \"\$status_lines\" | grep -qE '^ +2 +Usage +error'"

check "make install puts the page in MANDIR/man1" \
  "make -s install BUILD=$BUILD PREFIX=$tmp/prefix >$tmp/install.log 2>&1 &&
   cmp -s $PAGE $tmp/prefix/share/man/man1/vmutils.1"
check "the installed page renders with man" \
  "MANWIDTH=80 man -l $tmp/prefix/share/man/man1/vmutils.1 2>/dev/null | grep -q '^EXIT STATUS'"
check "make uninstall removes it" \
  "make -s uninstall BUILD=$BUILD PREFIX=$tmp/prefix >/dev/null 2>&1 &&
   [ ! -e $tmp/prefix/share/man/man1/vmutils.1 ]"

echo "1..$n"
[ $fails -eq 0 ]
