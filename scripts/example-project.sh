#!/usr/bin/env bash
# Sets an example up as a user adopts it: copies examples/<name> into <dir> (a fresh project,
# outside this repository; an Automation API program is built too), installs its dependencies
# from the files `make release` gathered (npm tarball, Python wheel, Go module proxy tree) and the
# rest from the public registries, and installs the plugin from the release's tarball with
# `pulumi plugin install --file` into $PULUMI_HOME (the caller's Pulumi CLI must be on PATH).
# Prints the environment the project's Pulumi runs need as KEY=VALUE lines, for `export`.
# Usage: scripts/example-project.sh <example> <dir>
#   VMP_RELEASE_DIR   the release's files (default: dist/release/v<version>, scripts/release.sh)
#   VMP_EXAMPLE_DEPS  where installed dependency sets are kept and shared between projects with
#                     the same manifest and package (default: $TMPDIR/vmplacement-example-deps)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
name=${1:?usage: scripts/example-project.sh <example> <dir>}
dir=${2:?usage: scripts/example-project.sh <example> <dir>}
version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
# Everything from one release's files (make release), as a user without the registries would.
packages=${VMP_RELEASE_DIR:-$root/dist/release/v$version}
pulumi_min=$(sed -n 's/^PULUMI_MIN_VERSION=//p' "$root/scripts/find-pulumi.sh")
deps_root=${VMP_EXAMPLE_DEPS:-${TMPDIR:-/tmp}/vmplacement-example-deps}
case $(uname -m) in x86_64) platform=linux-amd64 ;; aarch64) platform=linux-arm64 ;; *) platform=unknown ;; esac

artifact() {
  [[ -e $1 ]] || { echo "$1 is missing: run 'make release' first" >&2; exit 1; }
  echo "$1"
}

# deps_dir <kind> <files the set depends on...>: the directory a dependency set is installed in,
# named by a hash of those files; it holds .ready once installed.
deps_dir() {
  local kind=$1
  shift
  echo "$deps_root/$kind-$(cat "$@" | sha256sum | cut -c1-16)"
}

mkdir -p "$dir"
# The example's own files, none of what a run in place may have left.
tar -C "$root/examples/$name" --exclude=node_modules --exclude=venv --exclude=__pycache__ \
  --exclude='Pulumi.*.yaml' -cf - . | tar -C "$dir" -xf -
# A Pulumi project names its runtime; an Automation API program (no Pulumi.yaml) is a Node program.
runtime=none
[[ -f $dir/Pulumi.yaml ]] && runtime=$(sed -nE 's/^runtime:[[:space:]]*([a-z]+)[[:space:]]*$/\1/p; /^runtime:[[:space:]]*$/{n; s/^[[:space:]]+name:[[:space:]]*([a-z]+).*/\1/p}' "$dir/Pulumi.yaml" | head -1)

case $runtime in
  nodejs | none)
    tarball=$(artifact "$packages/vmplacement-vmplacement-$version.tgz")
    deps=$(deps_dir npm "$dir/package.json" "$tarball" "$root/scripts/find-pulumi.sh")
    if [[ ! -f $deps/.ready ]]; then
      rm -rf "$deps" && mkdir -p "$deps"
      cp "$dir/package.json" "$deps/"
      # The SDK from the tarball; everything else the manifest names from the registry.
      sdk=()
      grep -q '"@vmplacement/vmplacement"' "$dir/package.json" && sdk=("$tarball")
      # Pulumi's SDK at the project's one minimum, the lowest version the packages declare: what is
      # tested is the oldest a user may have (a range like ^3.259.0 would take the newest).
      grep -q '"@pulumi/pulumi"' "$dir/package.json" && sdk+=("@pulumi/pulumi@$pulumi_min")
      (cd "$deps" && npm install --no-audit --no-fund --prefer-offline --loglevel=error "${sdk[@]}" >/dev/null)
      touch "$deps/.ready"
    fi
    ln -s "$deps/node_modules" "$dir/node_modules"
    if [[ $runtime == none ]]; then (cd "$dir" && npm run build --silent >/dev/null); fi
    ;;
  python)
    wheel=$(artifact "$packages/pulumi_vmplacement-$version-py3-none-any.whl")
    deps=$(deps_dir venv "$dir/requirements.txt" "$wheel")
    if [[ ! -f $deps/.ready ]]; then
      rm -rf "$deps" && mkdir -p "$deps"
      python3 -m venv "$deps/venv"
      # pulumi-vmplacement from the directory holding the wheel, the rest from PyPI.
      "$deps/venv/bin/pip" install --quiet --disable-pip-version-check --find-links "$packages" -r "$dir/requirements.txt"
      touch "$deps/.ready"
    fi
    # Where Pulumi.yaml's `virtualenv` option points; first on PATH for language hosts that ignore it.
    ln -s "$deps/venv" "$dir/venv"
    echo "VIRTUAL_ENV=$deps/venv"
    echo "PATH=$deps/venv/bin:$PATH"
    ;;
  go)
    # The SDK module from the proxy tree, everything else from the public proxy; the SDK is not in
    # the public checksum database, so go.sum records it on first use.
    echo "GOPROXY=file://$(artifact "$packages/goproxy"),https://proxy.golang.org"
    echo "GONOSUMDB=github.com/vmplacement"
    echo "GOFLAGS=-mod=mod"
    ;;
  yaml) ;;
  *)
    echo "examples/$name: runtime '$runtime' is not set up here" >&2
    exit 1
    ;;
esac

if [[ $runtime == none ]]; then exit 0; fi
plugin=$(artifact "$packages/pulumi-resource-vmplacement-v$version-$platform.tar.gz")
out=$(pulumi plugin install resource vmplacement "$version" --file "$plugin" --non-interactive 2>&1) ||
  { echo "$out" >&2; exit 1; }
