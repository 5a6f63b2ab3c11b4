#!/usr/bin/env bash
# build-consul.sh: build the Consul binary that musterbench runs side by side
# with muster (`musterbench -consul=PATH`), from the Go module proxy alone.
#
# Usage:
#   scripts/build-consul.sh [OUT]
#
# OUT is where the binary goes (default bench/.bin/consul of this repository,
# which bench/.gitignore ignores). Prints the path and `consul version` at the
# end. Takes about 15 minutes on 2 cores with an empty build cache.
#
# Environment:
#   CONSUL_VERSION      the hashicorp/consul module version (default v1.22.7)
#   CONSUL_API_VERSION  the consul/api module it is built with (default v1.34.5)
#
# How: the hashicorp/consul module zip holds the main module's source, but its
# go.mod replaces api, sdk, proto-public, envoyextensions and troubleshoot with
# ./api, ./sdk, ... , nested modules the zip does not contain. The build drops
# those local replaces, so the versions go.mod requires come from the proxy,
# and raises consul/api to CONSUL_API_VERSION (the required one lacks fields the
# CLI uses). The work dir under ${TMPDIR:-/tmp} is removed at exit; Go's
# module and build caches keep what was downloaded and compiled.
set -euo pipefail

CONSUL_MODULE=github.com/hashicorp/consul
CONSUL_VERSION=${CONSUL_VERSION:-v1.22.7}
CONSUL_API_VERSION=${CONSUL_API_VERSION:-v1.34.5}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/bench/.bin/consul}
case $OUT in
  /*) ;;
  *) OUT=$PWD/$OUT ;;
esac

export GOTOOLCHAIN=local # never try to download another toolchain
export GOWORK=off        # a go.work above the work dir must not capture the copy

log() { printf 'build-consul: %s\n' "$*" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/build-consul.XXXXXX")
cleanup() {
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

log "downloading $CONSUL_MODULE@$CONSUL_VERSION"
cd "$work"
dir=$(go mod download -json "$CONSUL_MODULE@$CONSUL_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
if [ -z "$dir" ] || [ ! -f "$dir/go.mod" ]; then
  log "go mod download gave no module directory for $CONSUL_MODULE@$CONSUL_VERSION"
  exit 1
fi
cp -r "$dir" src
chmod -R u+w src
cd src

# Drop every replace whose target is a local path (./api, ./sdk, ...), in a
# replace ( ... ) block or on a line of its own; "mod v1 => ./x" drops mod@v1.
local_replaces_of() {
  awk '
    /^replace[[:space:]]*\($/ { inblock = 1; next }
    inblock && /^\)/ { inblock = 0; next }
    inblock || $1 == "replace" {
      if ($1 == "replace") { $1 = ""; $0 = $0 }
      for (i = 1; i < NF && $i != "=>"; i++) {}
      if ($(i + 1) ~ /^\.\.?\//) print (i == 3 ? $1 "@" $2 : $1)
    }
  ' "$1"
}
mapfile -t local_replaces < <(local_replaces_of go.mod)
for m in "${local_replaces[@]}"; do
  go mod edit -dropreplace="$m"
done
if grep -Eq '=>[[:space:]]*\.\.?/' go.mod; then
  log "go.mod still replaces a module with a local path:"
  grep -E '=>[[:space:]]*\.\.?/' go.mod >&2
  exit 1
fi
log "dropped ${#local_replaces[@]} local replaces: ${local_replaces[*]}"

log "go get $CONSUL_MODULE/api@$CONSUL_API_VERSION"
GOFLAGS=-mod=mod go get "$CONSUL_MODULE/api@$CONSUL_API_VERSION"

log "go build (CGO_ENABLED=0) -> $OUT"
mkdir -p "$(dirname "$OUT")"
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -o "$OUT" .

"$OUT" version >&2
echo "$OUT"
