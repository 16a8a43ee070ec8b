#!/usr/bin/env bash
# What a fresh machine and a new user meet first: `make deps` installs every
# package the build, the tests and the benches use; nothing in the
# repository's code or build files points outside it; `make run` builds no
# test binary and says that the example stream ends in a guest panic on
# purpose; tests/run_all.sh shows progress on long runners. Prints TAP.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { local name=$1; shift; if "$@" >"$tmp/log" 2>&1; then ok "$name"; else not_ok "$name"; sed 's/^/# /' "$tmp/log" | tail -n 20; fi; }

# The Makefile's package list, as make sees it.
printf 'print-deb-packages:\n\t@echo $(DEB_PACKAGES)\n' >"$tmp/print.mk"
packages=$(make -s --no-print-directory -f Makefile -f "$tmp/print.mk" print-deb-packages)

for p in libprotobuf-dev golang-go golang-github-sirupsen-logrus-dev groff-base man-db tmux clang python3 \
         luarocks lua-busted libcmocka-dev valgrind; do
  case " $packages " in
    *" $p "*) ok "make deps installs $p" ;;
    *) not_ok "make deps installs $p" ;;
  esac
done

# Every file the build, the tests and the benches use comes from a package
# make deps installs, or from one of their dependencies.
if command -v apt-cache >/dev/null && command -v dpkg-query >/dev/null; then
  # shellcheck disable=SC2086
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances $packages 2>/dev/null | grep -v '^ ' | sed 's/:.*//' | sort -u >"$tmp/closure"
  for f in /usr/include/google/protobuf/descriptor.proto /usr/share/gocode/src/github.com/sirupsen/logrus/logrus.go \
           /usr/bin/go /usr/bin/cc /usr/bin/clang /usr/bin/python3 /usr/bin/lua5.4 /usr/bin/busted /usr/bin/luarocks \
           /usr/bin/protoc /usr/bin/protoc-c /usr/bin/valgrind /usr/bin/tmux /usr/bin/groff /usr/bin/man \
           /usr/bin/taskset /usr/bin/time /usr/bin/git /usr/bin/objdump /usr/bin/pkg-config /usr/bin/x86_64-w64-mingw32-gcc \
           /usr/include/cmocka.h /usr/include/yajl/yajl_parse.h /usr/include/protobuf-c/protobuf-c.h \
           /usr/include/editline/readline.h /usr/include/lua5.4/lua.h; do
    real=$(readlink -f "$f")
    owner=$(dpkg-query -S "$real" 2>/dev/null | head -n 1 | sed 's/:.*//; s/, .*//')
    if [ -z "$owner" ]; then
      not_ok "$f is installed by a Debian package"
    elif grep -qx "$owner" "$tmp/closure"; then
      ok "$f comes with make deps ($owner)"
    else
      not_ok "$f comes with make deps: its package $owner is not in DEB_PACKAGES nor a dependency"
    fi
  done
else
  skip "the files the tests use come with make deps" "no apt-cache or dpkg-query here"
fi

# Nothing outside the repository (this
# file names the patterns): no ../shared, no absolute path under /work,
# /home or /root.
outside='\.\./shared|(^|[[:space:]"'"'"'=:(])/(work|home|root)/'
if git rev-parse --git-dir >/dev/null 2>&1; then
  check "no file of the repository refers to ../shared, /work, /home or /root" \
    bash -c '! git grep -nE "$1" -- ":!tests/sh/setup.sh"' _ "$outside"
else
  skip "no code, test or build file refers to a path outside the repository" "not a git checkout"
fi

# make run: no test binary, and the panic is announced.
check "make run builds no test binary" \
  bash -c "make -n run BUILD='$tmp/build' 2>&1 | tee '$tmp/run-n.log' | grep -q 'vmutils gcs-logs' && ! grep -qE 'tests/test_|-lcmocka' '$tmp/run-n.log'"
check "make run says the example stream ends in a guest panic on purpose" \
  bash -c "make -s run BUILD='$BUILD' >'$tmp/run.log' 2>&1 && grep -q 'ends in a guest panic on purpose' '$tmp/run.log' && tail -n 3 '$tmp/run.log' | grep -q 'panic on purpose'"
check "the Makefile carries no development history" \
  bash -c "! grep -niE 'issue [0-9]|not built yet|TEST_SUPPORT' Makefile"

# tests/run_all.sh announces a runner past PROGRESS_AFTER seconds and shows
# its progress lines (a copy of it in a tree with one slow shell test).
mkdir -p "$tmp/tree/tests/sh"
cp tests/run_all.sh "$tmp/tree/tests/"
cat >"$tmp/tree/tests/sh/slow.sh" <<'SLOW'
echo "# progress: first half"
sleep 3
echo "ok 1 - slow"
SLOW
check "run_all.sh shows a runner's progress lines and announces it when it runs long" \
  bash -c "PROGRESS_AFTER=1 bash '$tmp/tree/tests/run_all.sh' >'$tmp/ra.log' 2>&1; cat '$tmp/ra.log';
    grep -qx '   slow.sh: first half' '$tmp/ra.log' && grep -qx '   slow.sh: running for 1 s' '$tmp/ra.log' &&
    grep -q '^== slow.sh: 1 ok, 0 not ok' '$tmp/ra.log' && tail -n 1 '$tmp/ra.log' | grep -qx '1 passed, 0 failed'"

echo "1..$n"
[ "$failed" -eq 0 ]
