#!/usr/bin/env bash
# Builds the SDK packages from sdk/ into dist/packages, all at package.json's version:
#   vmplacement-vmplacement-<v>.tgz          npm package: compiled JavaScript and typings
#   pulumi_vmplacement-<v>-py3-none-any.whl  Python wheel, and the sdist beside it
#   goproxy/                                 a module proxy tree serving the Go SDK module
#                                            (GOPROXY=file://<dir>/goproxy,https://proxy.golang.org)
# Usage: scripts/packages.sh [nodejs] [python] [go]     (default: all three; only go needs Go)
#   VMP_PYTHON_BUILD   cache root of the venv holding Python's `build` frontend
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
languages=${*:-nodejs python go}
wants() { [[ " $languages " == *" $1 "* ]]; }
out=$root/dist/packages
mkdir -p "$out"
# The stage sits inside the checkout so the SDK compiles against the project's own pinned
# typescript, @types/node and @pulumi/pulumi (resolved from the root node_modules), offline.
stage=$root/build/packages-stage
rm -rf "$stage"
mkdir -p "$stage"
trap 'rm -rf "$stage"' EXIT

# npm: compile to bin/, then pack bin/ with the manifest, readme and licence, as Pulumi's own
# providers publish their SDKs (the package's root is the compiled code).
if wants nodejs; then
  rm -f "$out"/vmplacement-vmplacement-*.tgz
  cp -r "$root/sdk/nodejs" "$stage/nodejs"
  (
    cd "$stage/nodejs"
    "$root/node_modules/.bin/tsc" -p tsconfig.json
    cp package.json README.md "$root/LICENSE" bin/
    npm pack ./bin --pack-destination "$out" --silent >/dev/null
  )
fi

# Python: wheel and sdist through the standard `build` frontend in a cached venv.
if wants python; then
  rm -f "$out"/pulumi_vmplacement-*
  build_root=${VMP_PYTHON_BUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/vmplacement/python-build}
  builder=$build_root/build-1.3.0
  if [[ ! -x $builder/bin/pyproject-build ]]; then
    rm -rf "$builder"
    python3 -m venv "$builder"
    "$builder/bin/pip" install --quiet --disable-pip-version-check build==1.3.0
  fi
  cp -r "$root/sdk/python" "$stage/python"
  cp "$root/sdk/python/pulumi_vmplacement/README.md" "$root/LICENSE" "$stage/python/"
  "$builder/bin/pyproject-build" --sdist --wheel --outdir "$out" "$stage/python" >"$stage/python-build.log" 2>&1 ||
    { cat "$stage/python-build.log" >&2; exit 1; }
fi

# Go: the SDK module, zipped by the go command's own rules into a proxy tree.
if wants go; then
  rm -rf "$out/goproxy"
  "$("$root/scripts/go-tool.sh" go-module-proxy)" -dir "$root/sdk/go" -version "v$version" -out "$out/goproxy" >/dev/null
fi

(cd "$out" && find . -type f -name '*.tgz' -o -type f -name '*.whl' -o -type f -name '*.tar.gz' -o -type f -name '*.zip') |
  sort | while read -r f; do printf '%8s  dist/packages/%s\n' "$(du -h "$out/$f" | cut -f1)" "${f#./}"; done
