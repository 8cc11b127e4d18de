#!/usr/bin/env bash
# Generates the nodejs, python and go SDKs from schema.json into sdk/ (or the given directory),
# at package.json's version (schema.json must carry the same; scripts/set-version.sh sets both).
# Usage: scripts/gen-sdk.sh [out-dir]
#
# Uses tools/gen-sdk (Pulumi's codegen libraries called directly; see its main.go for why not
# `pulumi package gen-sdk`), built once into the cache by scripts/go-tool.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/sdk}
tool=$("$root/scripts/go-tool.sh" gen-sdk)
version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
# The one Pulumi minimum (scripts/find-pulumi.sh), which the Go SDK's go.mod requires.
pulumi_min=$(sed -n 's/^PULUMI_MIN_VERSION=//p' "$root/scripts/find-pulumi.sh")
"$tool" -schema "$root/schema.json" -out "$out" -version "$version" -pulumi "$pulumi_min"
