#!/usr/bin/env bash
# Creates (or reuses) a development virtualenv for Python programs run inside this checkout (the
# e2e test programs): pulumi pinned by examples/python/requirements.txt plus the SDK straight from
# sdk/python, not from a built wheel. Prints its path. (Projects outside the checkout install the
# wheel instead: scripts/example-project.sh.)
#   VMP_PYTHON_VENV   cache root (default: $XDG_CACHE_HOME or ~/.cache, then vmplacement/python-venv)
#   VMP_PYTHON        interpreter to build it from (default: python3)
# Each venv lives in a directory named by a hash of the interpreter, the requirements, the SDK and
# this script, so a change to any of them builds a fresh one; clones and concurrent runs share it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${VMP_PYTHON:-python3}
requirements=$root/examples/python/requirements.txt
cache_root=${VMP_PYTHON_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/vmplacement/python-venv}

# The SDK's sources only: what pip or Python may leave in the tree does not count.
sdk_files() {
  (cd "$root/sdk/python" && find . -type f \
    ! -path '*/__pycache__/*' ! -path './build/*' ! -path './dist/*' ! -path '*.egg-info/*' | LC_ALL=C sort)
}
key=$(
  {
    "$python" -c 'import sys; print(sys.executable, sys.version)'
    cat "${BASH_SOURCE[0]}" "$requirements"
    sdk_files | (cd "$root/sdk/python" && xargs -d '\n' sha256sum)
  } | sha256sum | cut -c1-16
)
venv=$cache_root/$key

mkdir -p "$cache_root"
# One builder per venv; others wait, then find it ready.
exec 9>"$venv.lock"
flock 9
if [[ ! -f $venv/.ready ]]; then
  started=$SECONDS
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # pip builds a local directory in place; a copy keeps build leftovers out of the clone.
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -r "$root/sdk/python" "$work/sdk-python"
  # Everything the example requires except the SDK itself, which comes from the source tree.
  grep -v '^pulumi-vmplacement' "$requirements" >"$work/requirements.txt"
  cp "$root/sdk/python/pulumi_vmplacement/README.md" "$work/sdk-python/"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input --use-pep517 \
    -r "$work/requirements.txt" "$work/sdk-python" >&2
  touch "$venv/.ready"
  echo "python venv built in $((SECONDS - started))s ($venv)" >&2
fi
echo "$venv"
