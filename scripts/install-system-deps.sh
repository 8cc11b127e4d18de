#!/usr/bin/env bash
# Debian/Ubuntu packages the lab, the tests and the toolchain build need. Idempotent.
set -euo pipefail

PACKAGES=(
  qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients
  openssh-server openssh-client openssl nasm iproute2 jq util-linux procps
  ovmf gnu-efi binutils mtools  # the UEFI lab guest (test/lab/guest/uefi-guest.c)
  python3 python3-venv  # the Python example's virtualenv (scripts/install-python-env.sh)
  qemu-user libc6-arm64-cross libstdc++6-arm64-cross  # runs the linux-arm64 plugin in its test
  ceph-mon ceph-mgr ceph-osd ceph-common  # the lab's Ceph cluster (test/lab/ceph.sh); `ceph` for storage fencing
  qemu-block-extra libvirt-daemon-driver-storage-rbd  # QEMU's rbd driver and libvirt's rbd pools
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "missing $tool: install npm (with any Node.js) first; the project then installs its own Node (scripts/install-node.sh)" >&2; exit 1; }
done
