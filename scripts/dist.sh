#!/usr/bin/env bash
# Builds the plugin as a single executable per platform and a tarball for each that
# `pulumi plugin install resource vmplacement <version> --file <tarball>` accepts:
#   dist/pulumi-resource-vmplacement-v<version>-linux-{amd64,arm64}.tar.gz
# Each holds pulumi-resource-vmplacement: the project's Node binary (scripts/install-node.sh, the
# current LTS from the npm registry's node-linux-* packages) with the bundled provider, schema.json
# and package.json injected as a Node single executable application; it needs no node on the host.
# Needs `make build` first.
#   VMP_PLATFORMS    platforms to build (default "linux-amd64 linux-arm64")
set -euo pipefail

# The fuse Node's single-executable support looks for (see Node's "Single executable applications").
SEA_FUSE=NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2

root=$(cd "$(dirname "$0")/.." && pwd)
version=$(node -p "require('$root/package.json').version")
platforms=${VMP_PLATFORMS:-linux-amd64 linux-arm64}
[[ -f $root/build/provider/src/server/main.js ]] || { echo "dist: run 'make build' first" >&2; exit 1; }

# node_binary <platform>: the project's Node binary for a platform (scripts/install-node.sh).
node_binary() {
  echo "$("$root/scripts/install-node.sh" "$1")/node"
}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# One script: single executables load only Node's built-in modules. The native add-ons ssh2 may
# use stay out; it falls back to its JavaScript implementations when they do not load.
"$root/node_modules/.bin/esbuild" "$root/build/provider/src/server/main.js" --bundle --platform=node \
  --target=node24 --external:*.node --legal-comments=none --log-level=warning --outfile="$stage/provider.js"
cp "$root/schema.json" "$root/package.json" "$stage/"
cat >"$stage/sea-config.json" <<JSON
{
  "main": "provider.js",
  "output": "provider.blob",
  "disableExperimentalSEAWarning": true,
  "useSnapshot": false,
  "useCodeCache": false,
  "assets": { "schema.json": "schema.json", "package.json": "package.json" }
}
JSON
# Without a snapshot or code cache the blob is the same for every CPU, but it must be prepared
# by the Node version it runs on: the amd64 binary prepares it (this script runs on amd64).
(cd "$stage" && "$(node_binary linux-amd64)" --experimental-sea-config sea-config.json >sea.log 2>&1) ||
  { cat "$stage/sea.log" >&2; exit 1; }

mkdir -p "$root/dist"
for platform in $platforms; do
  dir=$stage/$platform
  mkdir -p "$dir"
  cp "$(node_binary "$platform")" "$dir/pulumi-resource-vmplacement"
  chmod u+w "$dir/pulumi-resource-vmplacement"
  # postject warns about every ELF note it cannot name; only a failure's output matters.
  "$root/node_modules/.bin/postject" "$dir/pulumi-resource-vmplacement" NODE_SEA_BLOB "$stage/provider.blob" \
    --sentinel-fuse "$SEA_FUSE" >"$stage/postject.log" 2>&1 || { cat "$stage/postject.log" >&2; exit 1; }
  cp "$root/LICENSE" "$dir/"
  cp "$(dirname "$(node_binary "$platform")")/../LICENSE" "$dir/LICENSE.node"
  cp "$root/README.md" "$dir/"
  out=$root/dist/pulumi-resource-vmplacement-v$version-$platform.tar.gz
  tar -czf "$out" -C "$dir" .
  echo "$out"
done
