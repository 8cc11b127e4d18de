#!/usr/bin/env bash
# Builds dist/pulumi-resource-vmplacement-v<version>-linux-amd64.tar.gz, a plugin tarball that
# `pulumi plugin install resource vmplacement <version> --file <tarball>` accepts: the launcher,
# the compiled provider, schema.json, and production node_modules.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(node -p "require('$root/package.json').version")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$root/provider/bin/pulumi-resource-vmplacement" "$root/package.json" "$root/package-lock.json" "$root/schema.json" "$stage/"
mkdir -p "$stage/build"
cp -r "$root/build/provider" "$stage/build/"
(cd "$stage" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null 2>&1)
rm "$stage/package-lock.json"
mkdir -p "$root/dist"
out="$root/dist/pulumi-resource-vmplacement-v$version-linux-amd64.tar.gz"
tar -czf "$out" -C "$stage" .
echo "$out"
