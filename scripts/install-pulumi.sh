#!/usr/bin/env bash
# Builds the pinned Pulumi CLI and its nodejs, python, go and yaml language hosts from Go modules
# into a cache outside the clone, keyed by version, so fresh clones reuse it. Each tool is cached
# on its own: changing one rebuilds only that one.
#   VMP_PULUMI_CACHE   cache root (default: $XDG_CACHE_HOME or ~/.cache, then vmplacement/pulumi)
# Prints the bin directory. A second run with everything cached takes well under a second.
# scripts/pulumi-env.sh calls this only when no recent enough Pulumi CLI is on PATH.
#
# Why the nodejs, python and go hosts come from older sdk releases: the Go module proxy reachable
# here does not serve the hosts' own modules (sdk/*/cmd/pulumi-language-*/v3, untagged), but older
# sdk/v3 releases still carried them as packages. Those hosts speak the same LanguageRuntime
# protocol; they take runtime options only as flags, so a program's Pulumi.yaml runtime options
# are ignored (use TypeScript through ts-node from @pulumi/pulumi, and put a Python venv on PATH).
# The yaml host is its own module (github.com/pulumi/pulumi-yaml), served at its releases.
set -euo pipefail

PULUMI_VERSION=3.259.0
NODEJS_HOST_SDK=v3.68.0  # last sdk/v3 with nodejs/cmd/pulumi-language-nodejs
PYTHON_HOST_SDK=v3.78.0  # last sdk/v3 with python/cmd/pulumi-language-python
GO_HOST_SDK=v3.66.0      # last sdk/v3 with go/pulumi-language-go
YAML_HOST=v1.25.0        # github.com/pulumi/pulumi-yaml

cache_root=${VMP_PULUMI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmplacement/pulumi}
dest=$cache_root/v$PULUMI_VERSION
mkdir -p "$dest/bin" "$dest/recipes"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
need_go() {
  command -v go >/dev/null || {
    echo "no Pulumi CLI v$PULUMI_VERSION or later on PATH, and no Go to build one: install either" >&2
    exit 1
  }
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
built=0

# build_tool <wrapper dir> <go.mod extra lines> <module@version ...> -- <package> <output> <version>
build_tool() {
  local dir=$work/$1 extra=$2
  shift 2
  local modules=()
  while [[ $1 != -- ]]; do modules+=("$1"); shift; done
  local pkg=$2 out=$3 version=$4
  # The recipe names what the binary is built from; a cached binary with the same recipe is it
  # (checked without Go, so a machine with the toolchain cached needs no Go to use it).
  local recipe
  recipe=$(printf '%s\n' "$extra" "${modules[@]}" "$pkg" "$version" | sha256sum | cut -c1-16)
  if [[ -x $dest/bin/$out && -f $dest/recipes/$out && $(cat "$dest/recipes/$out") == "$recipe" ]]; then
    return 0
  fi
  need_go
  local started=$SECONDS
  mkdir -p "$dir"
  printf 'module vmplacement.local/%s\n\ngo 1.21\n\n%s\n' "$(basename "$dir")" "$extra" >"$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$dir/tools.go"
  (
    cd "$dir"
    go get "${modules[@]}" >/dev/null 2>&1 || go get "${modules[@]}"
    go mod tidy >/dev/null 2>&1 || go mod tidy
    go build -trimpath -o "$dest/bin/.$out.tmp.$$" \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" "$pkg"
  )
  # Rename into place, so an interrupted build never leaves a broken tool.
  mv "$dest/bin/.$out.tmp.$$" "$dest/bin/$out"
  echo "$recipe" >"$dest/recipes/$out"
  built=1
  echo "built $out ($version) in $((SECONDS - started))s" >&2
}

# pkg/v3's own go.mod replaces: sdk => ../sdk (we pin sdk instead) and this one.
build_tool cli 'replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e' \
  "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" \
  -- github.com/pulumi/pulumi/pkg/v3/cmd/pulumi pulumi "v$PULUMI_VERSION"

old_sdk_replace='replace golang.org/x/text => golang.org/x/text v0.3.6'
build_tool nodejs "$old_sdk_replace" "github.com/pulumi/pulumi/sdk/v3@$NODEJS_HOST_SDK" \
  -- github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs pulumi-language-nodejs "$NODEJS_HOST_SDK"
build_tool python "$old_sdk_replace" "github.com/pulumi/pulumi/sdk/v3@$PYTHON_HOST_SDK" \
  -- github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python pulumi-language-python "$PYTHON_HOST_SDK"
build_tool go "$old_sdk_replace" "github.com/pulumi/pulumi/sdk/v3@$GO_HOST_SDK" \
  -- github.com/pulumi/pulumi/sdk/v3/go/pulumi-language-go pulumi-language-go "$GO_HOST_SDK"

build_tool yaml '' "github.com/pulumi/pulumi-yaml@$YAML_HOST" \
  -- github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml pulumi-language-yaml "$YAML_HOST"

# The python host runs this helper script from next to itself.
if [[ ! -x $dest/bin/pulumi-language-python-exec ]]; then
  need_go
  go mod download "github.com/pulumi/pulumi/sdk/v3@$PYTHON_HOST_SDK"
  install -m 0755 "$(go env GOMODCACHE)/github.com/pulumi/pulumi/sdk/v3@$PYTHON_HOST_SDK/python/cmd/pulumi-language-python-exec" \
    "$dest/bin/pulumi-language-python-exec"
fi
((built)) && echo "pulumi toolchain v$PULUMI_VERSION ready in $dest/bin" >&2
echo "$dest/bin"
