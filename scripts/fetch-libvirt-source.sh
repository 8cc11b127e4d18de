#!/usr/bin/env bash
# Downloads and unpacks the upstream source of the installed libvirt (Debian's source package,
# pristine upstream tarball) for scripts/gen-libvirt.mjs. Prints the source directory.
# Uses a private apt configuration with deb-src entries derived from the system's own sources;
# the system's apt setup is left untouched.
set -euo pipefail
version=$(dpkg-query -W -f='${Version}' libvirt-daemon 2>/dev/null || true)
[[ -n $version ]] || { echo "libvirt-daemon is not installed" >&2; exit 1; }
work=${1:-$(mktemp -d)}
mkdir -p "$work/apt/lists/partial" "$work/apt/sources.list.d"
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -e $f ]] && sed 's/^Types: deb$/Types: deb-src/' "$f" >"$work/apt/sources.list.d/$(basename "$f")"
done
[[ -f /etc/apt/sources.list ]] && sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$work/apt/sources.list"
touch "$work/apt/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$work/apt/sources.list" -o "Dir::Etc::sourceparts=$work/apt/sources.list.d"
  -o "Dir::State::lists=$work/apt/lists" -o "Debug::NoLocking=1")
apt-get "${apt_opts[@]}" update -qq
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only -qq "libvirt=$version")
tarball=$(ls "$work"/libvirt_*.orig.tar.xz)
tar -xJf "$tarball" -C "$work"
ls -d "$work"/libvirt-*/ | head -1
