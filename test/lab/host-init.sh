#!/usr/bin/env bash
# Runs inside a lab host's network, mount and UTS namespaces (see lab.sh):
# gives the host its own libvirt state directories and hostname, starts libvirtd and sshd,
# then stays as the anchor process that keeps the namespaces alive.
set -euo pipefail
name=$1 dir=$2

hostname "$name"
mkdir -p /run/libvirt /var/lib/libvirt /etc/libvirt /var/log/libvirt /var/cache/libvirt
mount --bind "$dir/run" /run/libvirt
mount --bind "$dir/lib" /var/lib/libvirt
mount --bind "$dir/etc" /etc/libvirt
mount --bind "$dir/log" /var/log/libvirt
mount --bind "$dir/cache" /var/cache/libvirt

# Under the lab's reaper (see reaper.py): its exited QEMUs are reaped at once, as on a real host.
"$(dirname "$0")/reaper.py" libvirtd --daemon --listen -p "$dir/libvirtd.pid" -f /etc/libvirt/libvirtd.conf
/usr/sbin/sshd -f "$dir/ssh/sshd_config" -E "$dir/sshd.log"

echo $$ >"$dir/anchor.pid"
exec -a "vmplacement-lab-anchor $dir/" sleep infinity
