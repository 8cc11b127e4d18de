#!/usr/bin/env bash
# Gathers every artifact of one version into dist/release/v<version>/, as a release publishes
# them, with SHA256SUMS over all of them (check with `sha256sum -c SHA256SUMS` in that directory):
#   pulumi-resource-vmplacement-v<v>-linux-{amd64,arm64}.tar.gz   the plugin (the asset names
#       `pulumi plugin install` fetches from the schema's pluginDownloadURL, a GitHub release v<v>)
#   vmplacement-vmplacement-<v>.tgz                               the npm package
#   pulumi_vmplacement-<v>-py3-none-any.whl, pulumi_vmplacement-<v>.tar.gz   wheel and sdist
#   goproxy/github.com/vmplacement/vmplacement/sdk/go/@v/...      the Go module (zip, mod, info)
#   schema.json                                                    the package schema
# Refuses artifacts of another version and a pluginDownloadURL the SDKs do not carry.
# Needs `make dist packages` first (`make release` runs them).
# Usage: scripts/release.sh [nodejs] [python] [go]   (default all; the demo gathers nodejs only,
#        which needs no Go)
#   VMP_RELEASE_DIR   where to gather them (default dist/release/v<version>)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
out=${VMP_RELEASE_DIR:-$root/dist/release/v$version}
languages=${*:-nodejs python go}
wants() { [[ " $languages " == *" $1 "* ]]; }
fail() { echo "release: $*" >&2; exit 1; }

# Where releases live: the schema says it once; every SDK's plugin manifest must say the same.
server=$(node -p 'require(process.argv[1]).pluginDownloadURL' "$root/schema.json")
[[ $(node -p 'require(process.argv[1]).version' "$root/schema.json") == "$version" ]] ||
  fail "schema.json's version differs from package.json's $version: run scripts/set-version.sh $version"
for manifest in sdk/nodejs/package.json sdk/python/pulumi_vmplacement/pulumi-plugin.json sdk/go/vmplacement/pulumi-plugin.json; do
  got=$(node -e 'const m = require(process.argv[1]); console.log((m.pulumi ?? m).server)' "$root/$manifest")
  [[ $got == "$server" ]] || fail "$manifest names plugin server '$got', schema.json '$server': run make gen-sdk"
done

files=(
  "dist/pulumi-resource-vmplacement-v$version-linux-amd64.tar.gz"
  "dist/pulumi-resource-vmplacement-v$version-linux-arm64.tar.gz"
  "schema.json"
)
wants nodejs && files+=("dist/packages/vmplacement-vmplacement-$version.tgz")
wants python && files+=(
  "dist/packages/pulumi_vmplacement-$version-py3-none-any.whl"
  "dist/packages/pulumi_vmplacement-$version.tar.gz"
)
for f in "${files[@]}"; do [[ -f $root/$f ]] || fail "$f is missing: run make dist packages"; done
module=dist/packages/goproxy/github.com/vmplacement/vmplacement/sdk/go/@v
if wants go; then
  for ext in info mod zip; do
    [[ -f $root/$module/v$version.$ext ]] || fail "$module/v$version.$ext is missing: run make packages"
  done
fi

rm -rf "$out"
mkdir -p "$out"
for f in "${files[@]}"; do cp "$root/$f" "$out/"; done
if wants go; then cp -r "$root/dist/packages/goproxy" "$out/goproxy"; fi
(cd "$out" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)
echo "$out"
