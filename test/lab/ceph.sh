#!/usr/bin/env bash
# The lab's Ceph cluster (sourced by lab.sh): one monitor, one manager and one BlueStore OSD on a
# file, cephx on, in their own network namespace on the lab bridge. Every lab host reaches it as
# a real KVM host reaches its cluster: librados/librbd in QEMU and libvirt, the cephx key of
# `client.libvirt` held as a libvirt secret (the same UUID on every host), and an `rbd` storage
# pool named `ceph` over the Ceph pool `rbd`. The kernel's rbd module is not needed.
# Expects from lab.sh: LAB_DIR, NET_PREFIX, BRIDGE, log, pid_alive, kill_pids, virsh_on.

CEPH_NS=vmp-ceph
CEPH_ADDR_SUFFIX=2
CEPH_OSD_SIZE=${VMP_LAB_CEPH_OSD_SIZE:-2147483648}
# Ceph pools: `rbd` holds the guests' images; `other` exists so a test can point a pool of the
# same libvirt name at different storage.
CEPH_POOLS=(rbd other)
CEPH_LIBVIRT_POOL=ceph
CEPH_SECRET_UUID=2c1a5d3e-6f4b-4c1e-9a7d-5b0e8f3c7a21

ceph_dir() { printf '%s/ceph' "$LAB_DIR"; }
ceph_addr() { printf '%s.%d' "$NET_PREFIX" "$CEPH_ADDR_SUFFIX"; }
ceph_cli() { ceph -c "$(ceph_dir)/ceph.conf" --name client.admin --keyring "$(ceph_dir)/admin.keyring" "$@"; }
in_ceph_ns() { ip netns exec "$CEPH_NS" "$@"; }

write_ceph_conf() {
  local dir fsid
  dir=$(ceph_dir)
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mkdir -p "$dir"/{run,log,mon,mgr/ceph-x,osd/ceph-0}
  # One copy of each object, one OSD, no CRUSH host level, msgr v1 only (what libvirt's
  # `<host port='6789'>` speaks), every file under the lab directory, memory kept small.
  cat >"$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v1:$(ceph_addr):6789
mon initial members = a
public network = $NET_PREFIX.0/24
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
ms bind msgr2 = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
osd crush chooseleaf type = 0
# A PG's read lease lasts 0.8 x this grace (16 s by default) from its last renewal. The fault
# tier stops the only OSD for 10 s, which outlasted a lease now and then; a lone OSD's PG that
# went laggy then stays so, its ops parked until the next peering (a known Ceph issue with
# single-OSD pools). 60 s keeps the lease across the stop.
osd heartbeat grace = 60
run dir = $dir/run
admin socket = $dir/run/\$cluster-\$name.asok
log file = $dir/log/\$cluster-\$name.log
pid file = $dir/run/\$cluster-\$name.pid
[client.admin]
keyring = $dir/admin.keyring
[mon]
mon data = $dir/mon/\$cluster-\$id
mon data avail warn = 1
mon data avail crit = 0
[mgr]
mgr data = $dir/mgr/\$cluster-\$id
mgr initial modules = 
[osd]
osd data = $dir/osd/\$cluster-\$id
osd objectstore = bluestore
bluestore block create = true
bluestore block size = $CEPH_OSD_SIZE
osd memory target = 939524096
bluestore cache autotune = false
bluestore cache size = 134217728
CONF
}

ceph_mkfs_mon() {
  local dir
  dir=$(ceph_dir)
  ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$dir/admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/admin.keyring" >/dev/null
  monmaptool --create --fsid "$(awk '/^fsid/ {print $3}' "$dir/ceph.conf")" \
    --addv a "[v1:$(ceph_addr):6789]" "$dir/monmap" >/dev/null
  ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/mon.keyring"
}

ceph_start_osd() {
  local dir uuid key id
  dir=$(ceph_dir)
  uuid=$(cat /proc/sys/kernel/random/uuid)
  key=$(ceph-authtool --gen-print-key)
  id=$(printf '{"cephx_secret": "%s"}' "$key" | ceph_cli osd new "$uuid" -i -)
  ceph-authtool --create-keyring "$dir/osd/ceph-$id/keyring" --name "osd.$id" --add-key "$key" >/dev/null
  in_ceph_ns ceph-osd -c "$dir/ceph.conf" -i "$id" --mkfs --osd-uuid "$uuid" \
    --keyring "$dir/osd/ceph-$id/keyring" >/dev/null 2>&1
  in_ceph_ns ceph-osd -c "$dir/ceph.conf" -i "$id" --keyring "$dir/osd/ceph-$id/keyring"
}

ceph_start_mgr() {
  local dir
  dir=$(ceph_dir)
  ceph_cli auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    >"$dir/mgr/ceph-x/keyring"
  in_ceph_ns ceph-mgr -c "$dir/ceph.conf" -i x --keyring "$dir/mgr/ceph-x/keyring"
}

# Starts the cluster in its namespace; leaves the OSD and manager coming up (ceph_wait finishes).
ceph_up() {
  local addr
  addr=$(ceph_addr)
  ip netns add "$CEPH_NS"
  ip link add "$CEPH_NS" type veth peer name eth0 netns "$CEPH_NS"
  ip link set "$CEPH_NS" master "$BRIDGE" up
  ip -n "$CEPH_NS" link set lo up
  ip -n "$CEPH_NS" addr add "$addr/24" dev eth0
  ip -n "$CEPH_NS" link set eth0 up
  write_ceph_conf
  ceph_mkfs_mon
  in_ceph_ns ceph-mon -c "$(ceph_dir)/ceph.conf" -i a
  ceph_start_osd
  ceph_start_mgr
}

# Waits for the OSD, then makes the pools, the libvirt client key and the fence client key.
ceph_wait() {
  local dir pool
  dir=$(ceph_dir)
  for _ in $(seq 300); do
    [[ $(ceph_cli osd stat -f json 2>/dev/null | jq -r '.num_up_osds // 0') -ge 1 ]] && break
    sleep 0.2
  done
  [[ $(ceph_cli osd stat -f json | jq -r '.num_up_osds // 0') -ge 1 ]] || {
    log "the Ceph OSD did not come up:"; tail -20 "$dir/log/ceph-osd.0.log" >&2; return 1; }
  for pool in "${CEPH_POOLS[@]}"; do
    ceph_cli osd pool create "$pool" 8 8 >/dev/null 2>&1
    ceph_cli osd pool application enable "$pool" rbd >/dev/null 2>&1
  done
  # What libvirt and QEMU need (`profile rbd`), and what storage fencing needs: `profile rbd`
  # lets a client add blocklist entries; removing them takes the explicit command.
  ceph_cli auth get-or-create client.libvirt mon 'profile rbd' \
    osd "profile rbd pool=rbd, profile rbd pool=other" -o "$dir/libvirt.keyring" >/dev/null
  ceph_cli auth get-or-create client.fence mon 'profile rbd, allow command "osd blocklist"' \
    -o "$dir/fence.keyring" >/dev/null
}

# The client.libvirt key as a libvirt secret and the `ceph` rbd pool on lab host $1.
ceph_host_setup() {
  local i=$1 dir key file
  dir=$(ceph_dir)
  key=$(ceph_cli auth get-key client.libvirt)
  file=$(mktemp)
  cat >"$file" <<XML
<secret ephemeral='no' private='no'>
  <uuid>$CEPH_SECRET_UUID</uuid>
  <usage type='ceph'><name>client.libvirt secret</name></usage>
</secret>
XML
  virsh_on "$i" secret-define "$file" >/dev/null
  virsh_on "$i" secret-set-value "$CEPH_SECRET_UUID" --base64 "$key" >/dev/null 2>&1
  cat >"$file" <<XML
<pool type='rbd'>
  <name>$CEPH_LIBVIRT_POOL</name>
  <source>
    <host name='$(ceph_addr)' port='6789'/>
    <name>rbd</name>
    <auth type='ceph' username='libvirt'><secret uuid='$CEPH_SECRET_UUID'/></auth>
  </source>
</pool>
XML
  virsh_on "$i" pool-define "$file" >/dev/null
  rm -f "$file"
  virsh_on "$i" pool-start "$CEPH_LIBVIRT_POOL" >/dev/null
  virsh_on "$i" pool-autostart "$CEPH_LIBVIRT_POOL" >/dev/null
}

# A restarted libvirtd leaves the autostart rbd pool inactive (seen with libvirt 9.0's monolithic
# daemon, as in the lab); started here, so that tests which restart a daemon leave the pool up.
ceph_pool_autostart() {
  virsh_on "$1" pool-start "$CEPH_LIBVIRT_POOL" >/dev/null 2>&1 || true
}

ceph_healthy() {
  pid_alive "$(ceph_dir)/run/ceph-mon.a.pid" && pid_alive "$(ceph_dir)/run/ceph-osd.0.pid"
}

ceph_down() {
  local pids
  if ip netns list 2>/dev/null | grep -q "^$CEPH_NS\b"; then
    mapfile -t pids < <(ip netns pids "$CEPH_NS" 2>/dev/null)
    kill_pids "${pids[@]}"
    ip netns del "$CEPH_NS" 2>/dev/null || true
  fi
  # The kernel frees a namespace (and the veth end it held) asynchronously: wait for it, so that
  # a lab brought up right after finds the name free.
  for _ in $(seq 50); do
    ip link show "$CEPH_NS" >/dev/null 2>&1 || return 0
    ip link del "$CEPH_NS" 2>/dev/null || true
    sleep 0.1
  done
}

ceph_description() {
  local dir
  dir=$(ceph_dir)
  jq -n --arg dir "$dir" --arg addr "$(ceph_addr)" --arg ns "$CEPH_NS" \
    --arg fsid "$(awk '/^fsid/ {print $3}' "$dir/ceph.conf")" \
    --arg secret "$CEPH_SECRET_UUID" --arg pool "$CEPH_LIBVIRT_POOL" \
    '{type: "rbd", shared: true, namespace: $ns, address: $addr, port: 6789, fsid: $fsid,
      monitors: ["\($addr):6789"], cephPool: "rbd", otherCephPool: "other",
      libvirtPool: $pool, secretUuid: $secret, user: "libvirt",
      conf: "\($dir)/ceph.conf", adminKeyring: "\($dir)/admin.keyring",
      libvirtKeyring: "\($dir)/libvirt.keyring", fenceKeyring: "\($dir)/fence.keyring",
      osdPidFile: "\($dir)/run/ceph-osd.0.pid", monPidFile: "\($dir)/run/ceph-mon.a.pid"}'
}
