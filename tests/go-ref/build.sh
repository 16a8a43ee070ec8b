#!/usr/bin/env bash
# Builds the Go reference forwarder (tests/go-ref/main.go) offline with
# Debian's golang-go and golang-github-sirupsen-logrus-dev into OUTDIR
# (default build/go-ref), its Go build cache inside OUTDIR too, and prints
# the program's path. Used by tests/sh/gcs_diff.sh and bench/gcs_logs.sh.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
out=${1:-build/go-ref}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# GOPATH is Debian's tree of Go packages; no module download, no network.
(cd "$src" && env -u LD_PRELOAD GO111MODULE=off GOFLAGS= GOPROXY=off GOPATH=/usr/share/gocode \
   GOCACHE="$out/cache" go build -o "$out/gcs-forward-ref" .) >&2
echo "$out/gcs-forward-ref"
