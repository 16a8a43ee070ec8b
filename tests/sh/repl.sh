#!/usr/bin/env bash
# The REPL on a terminal, driven through tmux as a person would drive it:
# keys in with send-keys, the screen read back with capture-pane. Covers the
# prompt, expressions, multi-line input (every kind of block closed on its
# own line, nested blocks, a block abandoned with Ctrl-C, a long string
# across lines), pretty printing, tab completion, history (in the session
# and across sessions), Ctrl-C stopping a loop and clearing a line, and
# Ctrl-D leaving. Prints TAP.
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
# The lines given, one after the other, on the screen (trailing blanks of
# screen lines ignored).
has_lines() {
  local want
  want=$(printf '%s\n' "$@")
  [[ "$(screen | sed 's/ *$//')" == *"$want"* ]]
}
# check_lines NAME LINE...: waits for the last line, then checks them all.
check_lines() {
  local name=$1; shift
  local last=${*: -1}
  wait_for "^$(printf '%s' "$last" | sed 's/[][\.*^$(){}?+|/]/\\&/g')\$" >/dev/null
  if has_lines "$@"; then ok "$name"; else not_ok "$name"; fi
}
# The last non-empty line of the screen.
last_line() { screen | grep -v '^$' | tail -n 1; }

# start SESSION: a new session running vmutils with no command.
start() {
  session=$1
  # No command and a terminal: the REPL starts by itself.
  tmux -L "$socket" new-session -d -s "$session" -x 100 -y 50 \
    "cd '$PWD' && VMUTILS_HISTORY='$work/history' TERM=xterm '$VMUTILS'; echo EXIT=\$?; sleep 600"
}

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

# Blocks closed on their own line, typed a line at a time. (The words go
# in with send-keys -l: tmux would take a bare "end" for the End key.)
line 'do'
line 'blk = 41'
line 'end'
line 'blk + 1'
check_lines "do ... end closed on its own line runs" '> do' '>> blk = 41' '>> end' '> blk + 1' '42'

line 'wn = 0'
line 'while wn < 5 do'
line 'wn = wn + 1'
line 'end'
line 'wn * 100'
check_lines "a while block closed on its own line runs" '>> end' '> wn * 100' '500'

line 'function sq(v)'
line 'return v * v'
line 'end'
line 'sq(9)'
check_lines "a function closed on its own line is defined" '>> return v * v' '>> end' '> sq(9)' '81'

line 'if sq(3) == 9 then'
line 'print("nine it is")'
line 'else'
line 'print("not nine")'
line 'end'
check_lines "an if/else block closed on its own line runs" '>> else' '>> print("not nine")' '>> end' 'nine it is'

line 'rk = 0'
line 'repeat'
line 'rk = rk + 7'
line 'until rk >= 21'
line 'rk'
check_lines "a repeat block closed by until on its own line runs" '>> until rk >= 21' '> rk' '21'

line 'for i = 1, 2 do'
line 'for j = 1, 2 do'
line 'if i == j then'
line 'io.write("<", i, j, ">")'
line 'end'
line 'end'
line 'end'
line 'print()'
check_lines "nested blocks each closed on their own line" '>> if i == j then' '>> io.write("<", i, j, ">")' \
  '>> end' '>> end' '>> end' '<11><22>> print()'

line 'do'
line 'abandoned = true'
key C-c
settle
line 'abandoned == nil'
check_lines "Ctrl-C at >> abandons the block, nothing of it runs" '>> abandoned = true' '>>' '> abandoned == nil' 'true'

line 'ls = [[first line'
line 'second line]]'
line 'ls'
check_lines "a long string across lines" '> ls = [[first line' '>> second line]]' '> ls' '"first line\nsecond line"'

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
check "errors are reported and the REPL goes on" '^vmutils repl: stdin:1: oops'

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

echo "1..$n"
[ "$failed" -eq 0 ]
