#!/usr/bin/env bash
# Sets the release version: package.json (and its lock file) is the one source; schema.json carries
# a copy so `pulumi package gen-sdk` stamps the same version, and the SDKs are regenerated from it.
# Usage: scripts/set-version.sh 0.2.0
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=${1:?usage: scripts/set-version.sh <semver>}
cd "$root"
npm version "$version" --no-git-tag-version --allow-same-version >/dev/null
node -e '
  const fs = require("node:fs");
  const text = fs.readFileSync("schema.json", "utf8");
  // Only the top-level field: the first "version" key in the file.
  fs.writeFileSync("schema.json", text.replace(/"version": "[^"]*"/, `"version": "${process.argv[1]}"`));
' "$version"
scripts/gen-sdk.sh >/dev/null
echo "version $version: package.json, schema.json and sdk/ updated"
