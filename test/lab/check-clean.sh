#!/usr/bin/env bash
# Fails if anything of the lab is left: namespaces, bridge, processes, or its directory.
set -uo pipefail
LAB_DIR=${VMP_LAB_DIR:-/var/lib/vmplacement-lab}
BRIDGE=${VMP_LAB_BRIDGE:-vmplab0}
left=()
ip netns list 2>/dev/null | grep -q -E '^vmp-(h|ceph)' && left+=("namespaces: $(ip netns list | grep -E '^vmp-(h|ceph)' | tr '\n' ' ')")
ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("bridge $BRIDGE")
ip link show vmp-ceph >/dev/null 2>&1 && left+=("link vmp-ceph")
pgrep -f -- "$LAB_DIR/" >/dev/null && left+=("processes: $(pgrep -af -- "$LAB_DIR/" | tr '\n' ';')")
[[ -e $LAB_DIR ]] && left+=("directory $LAB_DIR")
if ((${#left[@]})); then
  printf 'lab not clean: %s\n' "${left[@]}" >&2
  exit 1
fi
echo "lab clean: no namespace, bridge, process or directory left"
