#!/usr/bin/env bash
# Fails (exit 1, listing the files) when the committed sdk/ differs from what scripts/gen-sdk.sh
# generates from schema.json now. sdk/README.md is hand-written and ignored.
# "Committed" means what git would commit: tracked files plus untracked ones not ignored, read from
# the working tree, so build leftovers (node_modules, __pycache__) do not count.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT

"$root/scripts/gen-sdk.sh" "$fresh" >/dev/null

committed_files() {
  if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$root/sdk" ls-files --cached --others --exclude-standard
  else
    (cd "$root/sdk" && find . -type f -printf '%P\n')
  fi | grep -vx 'README.md' || true
}

status=0
while IFS= read -r f; do
  if [[ ! -e $root/sdk/$f ]]; then
    echo "missing:  sdk/$f"
  elif [[ ! -e $fresh/$f ]]; then
    echo "stale:    sdk/$f (no longer generated)"
  elif ! cmp -s "$fresh/$f" "$root/sdk/$f"; then
    echo "differs:  sdk/$f"
  else
    continue
  fi
  status=1
done < <({ committed_files; (cd "$fresh" && find . -type f -printf '%P\n'); } | sort -u)

if ((status)); then
  echo "sdk/ is out of date with schema.json: run 'make gen-sdk' and commit the result" >&2
  exit 1
fi
echo "sdk/ is up to date"
