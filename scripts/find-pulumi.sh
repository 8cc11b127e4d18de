#!/usr/bin/env bash
# Prints the directory of a Pulumi CLI already on PATH when it is recent enough for this project
# (at least PULUMI_MIN_VERSION, the version the tests run against), and fails otherwise, saying
# why on standard error. scripts/pulumi-env.sh builds the pinned CLI only when this fails.
set -euo pipefail

PULUMI_MIN_VERSION=3.259.0

cli=$(command -v pulumi) || { echo "no pulumi on PATH" >&2; exit 1; }
version=$("$cli" version 2>/dev/null | head -1) || { echo "$cli version failed" >&2; exit 1; }
version=${version#v}
if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]]; then
  echo "$cli reports version '$version', not a release" >&2
  exit 1
fi
version=${BASH_REMATCH[0]}
oldest=$(printf '%s\n%s\n' "$PULUMI_MIN_VERSION" "$version" | sort -V | head -1)
if [[ $oldest != "$PULUMI_MIN_VERSION" ]]; then
  echo "$cli is v$version; this project needs v$PULUMI_MIN_VERSION or later" >&2
  exit 1
fi
dirname "$(readlink -f "$cli")"
