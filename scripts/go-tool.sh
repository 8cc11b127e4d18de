#!/usr/bin/env bash
# Builds one of the project's Go tools (a directory under tools/) into the cache, keyed by a hash
# of its sources, and prints the binary's path; later calls cost about a millisecond.
# Usage: scripts/go-tool.sh <name>     e.g. "$(scripts/go-tool.sh gen-sdk)" -schema ...
#   VMP_PULUMI_CACHE   cache root shared with scripts/install-pulumi.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
name=${1:?usage: scripts/go-tool.sh <tool directory under tools/>}
src=$root/tools/$name
cache_root=${VMP_PULUMI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmplacement/pulumi}
hash=$(cd "$src" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)
tool=$cache_root/$name-$hash/$name

if [[ ! -x $tool ]]; then
  started=$SECONDS
  mkdir -p "$(dirname "$tool")"
  # Build next to the final path and rename, so an interrupted build never leaves a broken tool.
  (
    cd "$src"
    GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 \
      go build -trimpath -ldflags "-s -w" -o "$tool.tmp.$$" .
  )
  mv "$tool.tmp.$$" "$tool"
  echo "built $name in $((SECONDS - started))s ($tool)" >&2
fi
echo "$tool"
