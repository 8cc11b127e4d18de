#!/usr/bin/env bash
# Generates the nodejs, python and go SDKs from schema.json into sdk/ (or the given directory),
# stamped with package.json's version. Usage: scripts/gen-sdk.sh [out-dir]
#   VMP_PULUMI_CACHE   cache root shared with scripts/install-pulumi.sh
#
# Uses tools/gen-sdk (Pulumi's codegen libraries called directly; see its main.go for why not
# `pulumi package gen-sdk`). The tool is built once into the cache, keyed by a hash of its sources,
# so later runs take about a second.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/sdk}
src=$root/tools/gen-sdk

cache_root=${VMP_PULUMI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmplacement/pulumi}
hash=$(cd "$src" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)
tool=$cache_root/gen-sdk-$hash/gen-sdk

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
  echo "built gen-sdk in $((SECONDS - started))s ($tool)" >&2
fi

version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
"$tool" -schema "$root/schema.json" -out "$out" -version "$version"
