#!/usr/bin/env bash
# The REPL on a terminal, driven through tmux as a person would drive it:
# keys in with send-keys, the screen read back with capture-pane. Covers the
# prompt, expressions, multi-line input, pretty printing, tab completion,
# history (in the session and across sessions), Ctrl-C stopping a loop and
# clearing a line, and Ctrl-D leaving. Prints TAP.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-build}
VMUTILS=$PWD/$BUILD/vmutils

work=$(mktemp -d)
socket="vmutils-repl-test-$$"
session=repl
trap 'tmux -L "$socket" kill-server 2>/dev/null; rm -rf "$work"' EXIT

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
  n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
  screen | sed 's/^/# /'
}

screen() { tmux -L "$socket" capture-pane -p -t "$session" -S -200; }
# Types text literally (tmux reads words such as "end" as key names otherwise).
type_text() { tmux -L "$socket" send-keys -t "$session" -l "$1"; }
key() { tmux -L "$socket" send-keys -t "$session" "$@"; }
line() { type_text "$1"; key Enter; }

# Waits (up to 10 s) until the screen matches the extended regex.
wait_for() {
  local pattern=$1 i
  for i in $(seq 1 100); do
    if screen | grep -Eq -- "$pattern"; then return 0; fi
    sleep 0.1
  done
  return 1
}
# Waits for the screen to stop changing, so that the next keys meet a prompt.
settle() {
  local before after i
  before=$(screen)
  for i in $(seq 1 50); do
    sleep 0.1
    after=$(screen)
    [ "$after" = "$before" ] && return 0
    before=$after
  done
}
check() { if wait_for "$2"; then ok "$1"; else not_ok "$1"; fi; }
# The last non-empty line of the screen.
last_line() { screen | grep -v '^$' | tail -n 1; }

# start SESSION: a new session running vmutils with no command.
start() {
  session=$1
  # No command and a terminal: the REPL starts by itself.
  tmux -L "$socket" new-session -d -s "$session" -x 100 -y 50 \
    "cd '$PWD' && VMUTILS_HISTORY='$work/history' TERM=xterm '$VMUTILS'; echo EXIT=\$?; sleep 600"
}

echo "1..19"
if [ ! -x "$VMUTILS" ]; then
  echo "Bail out! $VMUTILS is not built"
  exit 1
fi

start first
check "vmutils on a terminal starts the REPL with its banner" '^vmutils [0-9.]+ \(Lua 5\.4'
check "a prompt" '^> ?$'

line '1 + 2'
check "an expression prints its value" '^3$'

line 'for i = 1, 3 do'
check "an unfinished chunk continues with >>" '^>> ?$'
line 'io.write(i, " ")'
line 'end'
check "the continued chunk runs once complete" '^1 2 3 '

line 't = { b = { 1, 2 }, a = "x", [10] = true }'
settle
line 't'
check "tables print with sorted keys" '^\{ \[10\] = true, a = "x", b = \{ 1, 2 \} \}$'

line 'c = {} c.me = c'
settle
line 'c'
check "cycles are named, not followed" '^\{ me = <cycle: table: 0x[0-9a-f]+> \}$'

type_text 'vmut'
key Tab
settle
type_text '._VER'
key Tab
settle
if last_line | grep -Eq '^> vmutils\._VERSION$'; then ok "Tab completes globals and vmutils. members"; else not_ok "Tab completes globals and vmutils. members"; fi
key Enter
check "the completed line runs" '^"vmutils [0-9.]+"$'

type_text 'vmutils.normalize_'
key Tab
settle
key Tab
check "a second Tab lists the candidates" 'normalize_memory_size +vmutils\.normalize_processor_count'
key C-u
settle
type_text 'vmutils.normalize_m'
key Tab
settle
type_text '("", 1023)'
key Enter
check "a unique candidate completes in full" '^1024$'

line '6 * 7'
check "a second expression" '^42$'
key Up
settle
key Up
settle
if last_line | grep -Eq '^> vmutils\.normalize_memory_size\("", 1023\)$'; then ok "Up recalls earlier lines"; else not_ok "Up recalls earlier lines"; fi
key C-u
settle

line 'while true do end'
sleep 1 # let the loop start: Ctrl-C must meet it running
key C-c
check "Ctrl-C stops a running loop" 'interrupted!'
line '"back at the prompt"'
check "the REPL goes on after Ctrl-C" '^"back at the prompt"$'

type_text 'half a line'
key C-c
settle
line '"fresh line"'
check "Ctrl-C at the prompt drops the line" '^"fresh line"$'

line 'error("oops")'
check "errors are reported and the REPL goes on" 'vmutils: stdin:1: oops'

key C-d
check "Ctrl-D leaves with status 0" '^EXIT=0$'

# History persists: a new session recalls the last line of the old one.
start second
wait_for '^> ?$'
key Up
settle
if last_line | grep -Eq '^> error\("oops"\)$'; then ok "history survives across sessions"; else not_ok "history survives across sessions"; fi
key C-u
key C-d
wait_for '^EXIT=0$'

[ "$failed" -eq 0 ]
