#!/usr/bin/env bash
# The multi-host libvirt/KVM lab: `lab.sh up | down | status`.
#
# Each host is a network namespace plus private mount and UTS namespaces with its own
# libvirtd (distinct host UUID and state directories) and sshd. Hosts share a bridge that
# also has an address in the root namespace; shared storage is NBD from qemu-storage-daemon
# on that address. Nothing is sent anywhere but the lab's own addresses.
# The description of the running lab is written to $VMP_LAB_DIR/lab.json.
set -euo pipefail

LAB_DIR=${VMP_LAB_DIR:-/var/lib/vmplacement-lab}
HOST_COUNT=${VMP_LAB_HOSTS:-3}
NET_PREFIX=${VMP_LAB_NET_PREFIX:-10.254.77}   # /24, .1 is the bridge, hosts are .11, .12, ...
BRIDGE=${VMP_LAB_BRIDGE:-vmplab0}
NS_PREFIX=vmp-h
SHARED_EXPORTS=${VMP_LAB_SHARED_EXPORTS:-8}
SHARED_EXPORT_SIZE=${VMP_LAB_SHARED_EXPORT_SIZE:-256M}
NBD_PORT=10809
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MARKER=.vmplacement-lab
# shellcheck source=ceph.sh
source "$SCRIPT_DIR/ceph.sh"

log() { printf '[lab] %s\n' "$*" >&2; }
host_name() { printf 'h%d' "$1"; }
host_ns() { printf '%s%d' "$NS_PREFIX" "$1"; }
host_addr() { printf '%s.%d' "$NET_PREFIX" $((10 + $1)); }
bridge_addr() { printf '%s.1' "$NET_PREFIX"; }
host_dir() { printf '%s/hosts/%s' "$LAB_DIR" "$(host_name "$1")"; }
virsh_on() { virsh -q -c "qemu+tcp://$(host_addr "$1")/system" "${@:2}"; }

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

lab_healthy() {
  [[ -f $LAB_DIR/lab.json && -f $LAB_DIR/$MARKER ]] || return 1
  ip link show "$BRIDGE" >/dev/null 2>&1 || return 1
  pid_alive "$LAB_DIR/qsd.pid" || return 1
  ceph_healthy || return 1
  local i
  for ((i = 1; i <= HOST_COUNT; i++)); do
    pid_alive "$(host_dir "$i")/anchor.pid" || return 1
    timeout 5 virsh -q -c "qemu+tcp://$(host_addr "$i")/system" version >/dev/null 2>&1 || return 1
  done
}

kill_pids() {
  local pids=("$@") pid
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

lab_down() {
  local ns
  # Every process in a lab namespace (libvirtd, sshd, qemu, anchors), also from crashed runs.
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS_PREFIX" || true); do
    mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
    kill_pids "${pids[@]}"
    ip netns del "$ns" 2>/dev/null || true
  done
  ceph_down
  if [[ -f $LAB_DIR/qsd.pid ]]; then
    kill_pids "$(cat "$LAB_DIR/qsd.pid")"
  fi
  # Anything else that names the lab directory (daemons and anchors whose namespace is gone).
  mapfile -t strays < <(pgrep -f -- "$LAB_DIR/" || true)
  kill_pids "${strays[@]}"
  ip link del "$BRIDGE" 2>/dev/null || true
  if [[ -d $LAB_DIR ]]; then
    [[ -f $LAB_DIR/$MARKER ]] || { log "refusing to remove $LAB_DIR: not a lab directory"; exit 1; }
    rm -rf "$LAB_DIR"
  fi
}

# A lab CA, one server certificate per host (IP and name in subjectAltName) and one client
# certificate, for libvirt's TLS transport with client verification.
make_ca() {
  local dir=$LAB_DIR/tls
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=vmplacement lab CA" \
    -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  issue_cert "$dir/client" "/O=vmplacement/CN=vmplacement-client" "extendedKeyUsage=clientAuth"
}

issue_cert() {
  local out=$1 subject=$2 extra=$3 ext
  ext=$(mktemp)
  printf 'keyUsage=digitalSignature,keyEncipherment\n%s\n' "$extra" >"$ext"
  openssl req -newkey rsa:2048 -nodes -subj "$subject" -keyout "$out-key.pem" -out "$out.csr" 2>/dev/null
  openssl x509 -req -in "$out.csr" -CA "$LAB_DIR/tls/ca.pem" -CAkey "$LAB_DIR/tls/ca-key.pem" \
    -CAcreateserial -days 30 -extfile "$ext" -out "$out.pem" 2>/dev/null
  rm -f "$ext" "$out.csr"
}

write_libvirt_config() {
  local i=$1 dir
  dir=$(host_dir "$i")
  cp -a /etc/libvirt/. "$dir/etc/"
  rm -f "$dir"/etc/qemu/networks/autostart/*.xml
  issue_cert "$dir/tls-server" "/O=vmplacement/CN=$(host_name "$i")" \
    "extendedKeyUsage=serverAuth,clientAuth
subjectAltName=IP:$(host_addr "$i"),DNS:$(host_name "$i")"
  # QEMU's migration TLS: the host's certificate serves both ends (server on the target,
  # client on the source), signed by the lab CA.
  mkdir -p "$dir/qemu-tls"
  cp "$LAB_DIR/tls/ca.pem" "$dir/qemu-tls/ca-cert.pem"
  for role in server client; do
    cp "$dir/tls-server.pem" "$dir/qemu-tls/$role-cert.pem"
    cp "$dir/tls-server-key.pem" "$dir/qemu-tls/$role-key.pem"
  done
  cat >"$dir/etc/libvirtd.conf" <<CONF
listen_tls = 1
tls_port = "16514"
ca_file = "$LAB_DIR/tls/ca.pem"
cert_file = "$dir/tls-server.pem"
key_file = "$dir/tls-server-key.pem"
tls_no_verify_certificate = 0
auth_tls = "none"
listen_tcp = 1
listen_addr = "$(host_addr "$i")"
tcp_port = "16509"
auth_tcp = "none"
auth_unix_ro = "none"
auth_unix_rw = "none"
unix_sock_group = "root"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
keepalive_interval = 5
keepalive_count = 5
max_clients = 256
max_workers = 40
max_client_requests = 64
CONF
  # A fault hook: while hold-start/<domain> exists, starting that domain waits in libvirt's
  # "prepare" step (at most 30 s) after writing hold-start/<domain>.held. Tests use it to land a
  # fault in an offline move's start on the target.
  mkdir -p "$dir/etc/hooks" "$dir/hold-start"
  cat >"$dir/etc/hooks/qemu" <<HOOK
#!/bin/sh
cat >/dev/null
[ "\$2" = prepare ] || exit 0
hold="$dir/hold-start/\$1"
[ -e "\$hold" ] || exit 0
touch "\$hold.held"
i=0
while [ -e "\$hold" ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
exit 0
HOOK
  chmod +x "$dir/etc/hooks/qemu"
  cat >"$dir/etc/qemu.conf" <<CONF
user = "root"
group = "root"
security_driver = "none"
dynamic_ownership = 0
remember_owner = 0
stdio_handler = "file"
cgroup_controllers = [ ]
namespaces = [ ]
migration_address = "$(host_addr "$i")"
migrate_tls_x509_cert_dir = "$dir/qemu-tls"
migrate_tls_x509_verify = 1
CONF
}

write_sshd_config() {
  local i=$1 dir
  dir=$(host_dir "$i")
  ssh-keygen -q -t ed25519 -N '' -C "$(host_name "$i")" -f "$dir/ssh/ssh_host_ed25519_key"
  cat >"$dir/ssh/sshd_config" <<CONF
ListenAddress $(host_addr "$i")
Port 22
HostKey $dir/ssh/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $LAB_DIR/keys/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
CONF
  printf '%s %s\n' "$(host_addr "$i")" "$(cut -d' ' -f1-2 "$dir/ssh/ssh_host_ed25519_key.pub")" >>"$LAB_DIR/keys/known_hosts"
}

start_host() {
  local i=$1 ns dir
  ns=$(host_ns "$i")
  dir=$(host_dir "$i")
  mkdir -p "$dir"/{run,lib,etc,log,cache,ssh} "$dir/lib/pools/local" "$dir/lib/pools/scratch" "$dir/log/qemu"
  write_libvirt_config "$i"
  write_sshd_config "$i"

  ip netns add "$ns"
  ip link add "$ns" type veth peer name eth0 netns "$ns"
  ip link set "$ns" master "$BRIDGE" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$(host_addr "$i")/24" dev eth0
  ip -n "$ns" link set eth0 up

  mkdir -p /run/sshd
  setsid ip netns exec "$ns" unshare --mount --uts --propagation private \
    "$SCRIPT_DIR/host-init.sh" "$(host_name "$i")" "$dir" \
    >"$dir/host-init.log" 2>&1 </dev/null &
}

wait_for_host() {
  local i=$1
  for _ in $(seq 100); do
    virsh_on "$i" version >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log "libvirtd on $(host_name "$i") did not come up:"
  cat "$(host_dir "$i")/host-init.log" >&2
  tail -20 "$(host_dir "$i")/log/libvirtd.log" >&2 || true
  return 1
}

# Two local directory pools per host: `local`, and `scratch` for pool changes within a host.
define_local_pools() {
  local i=$1 pool
  for pool in local scratch; do
    virsh_on "$i" pool-define-as "$pool" dir --target "/var/lib/libvirt/pools/$pool" >/dev/null
    virsh_on "$i" pool-start "$pool" >/dev/null
    virsh_on "$i" pool-autostart "$pool" >/dev/null
  done
}

start_shared_storage() {
  local args=() n
  mkdir -p "$LAB_DIR/shared"
  for ((n = 0; n < SHARED_EXPORTS; n++)); do
    truncate -s "$SHARED_EXPORT_SIZE" "$LAB_DIR/shared/shared-$n.raw"
    args+=(--blockdev "driver=file,node-name=file$n,filename=$LAB_DIR/shared/shared-$n.raw,cache.direct=off"
      --export "type=nbd,id=export$n,node-name=file$n,name=shared-$n,writable=on")
  done
  qemu-storage-daemon \
    --nbd-server "addr.type=inet,addr.host=$(bridge_addr),addr.port=$NBD_PORT,max-connections=0" \
    --chardev "socket,id=qmp,path=$LAB_DIR/qsd.qmp,server=on,wait=off" --monitor chardev=qmp \
    "${args[@]}" --pidfile "$LAB_DIR/qsd.pid" --daemonize
}

build_guests() {
  # Pages dirtied per PIT period (54.9 ms): MiB/s * 256 pages * 0.0549 s.
  mkdir -p "$LAB_DIR/guests"
  local name rate
  for spec in heartbeat:0 churn-moderate:20 churn-fast:200; do
    name=${spec%%:*} rate=${spec##*:}
    nasm -f bin -DPAGES_PER_TICK=$((rate * 1406 / 100)) -DWSET_MIB=256 \
      -o "$LAB_DIR/guests/$name.bin" "$SCRIPT_DIR/guest/guest.asm"
  done
  # Their firmware (guest/boot-rom.asm), in place of SeaBIOS: at the same path on every host.
  nasm -f bin -o "$LAB_DIR/guests/boot-rom.bin" "$SCRIPT_DIR/guest/boot-rom.asm"
  build_uefi_guest
}

# The UEFI guest (guest/uefi-guest.c) as \EFI\BOOT\BOOTX64.EFI on an 8 MiB FAT disk image.
build_uefi_guest() {
  local out="$LAB_DIR/guests/uefi" efi=/usr/include/efi
  mkdir -p "$out"
  gcc -I"$efi" -I"$efi/x86_64" -fpic -ffreestanding -fno-stack-protector -fno-stack-check \
    -fshort-wchar -mno-red-zone -maccumulate-outgoing-args -Wall -O2 \
    -c "$SCRIPT_DIR/guest/uefi-guest.c" -o "$out/guest.o"
  ld -shared -Bsymbolic -nostdlib -znocombreloc -L/usr/lib -T/usr/lib/elf_x86_64_efi.lds \
    /usr/lib/crt0-efi-x86_64.o "$out/guest.o" -o "$out/guest.so" -lgnuefi -lefi
  objcopy -j .text -j .sdata -j .data -j .rodata -j .dynamic -j .dynsym -j .rel -j .rela \
    -j '.rel.*' -j '.rela.*' -j .reloc --target efi-app-x86_64 --subsystem=10 \
    "$out/guest.so" "$out/BOOTX64.EFI"
  rm -f "$out/disk.img"
  truncate -s 8M "$out/disk.img"
  mformat -i "$out/disk.img" -h 1 -t 512 -s 32 ::
  mmd -i "$out/disk.img" ::/EFI ::/EFI/BOOT
  mcopy -i "$out/disk.img" "$out/BOOTX64.EFI" ::/EFI/BOOT/
}

write_description() {
  local i hosts=() accel=kvm exports=()
  [[ -r /dev/kvm && -w /dev/kvm ]] || accel=qemu
  for ((i = 1; i <= HOST_COUNT; i++)); do
    hosts+=("$(jq -n --arg name "$(host_name "$i")" --arg addr "$(host_addr "$i")" \
      --arg ns "$(host_ns "$i")" --arg dir "$(host_dir "$i")" \
      --arg anchor "$(cat "$(host_dir "$i")/anchor.pid")" \
      '{name: $name, address: $addr, migrationAddress: $addr, namespace: $ns, dir: $dir,
        anchorPid: ($anchor | tonumber),
        uris: {tcp: "qemu+tcp://\($addr)/system",
               tls: "qemu+tls://\($addr)/system",
               ssh: "qemu+ssh://root@\($addr)/system"},
        labels: {rack: "lab"}}')")
  done
  for ((i = 0; i < SHARED_EXPORTS; i++)); do exports+=("\"shared-$i\""); done
  jq -n --arg dir "$LAB_DIR" --arg bridge "$BRIDGE" --arg baddr "$(bridge_addr)" \
    --arg accel "$accel" --argjson port "$NBD_PORT" --arg size "$SHARED_EXPORT_SIZE" \
    --argjson ceph "$(ceph_description)" \
    --argjson hosts "[$(IFS=,; echo "${hosts[*]}")]" --argjson exports "[$(IFS=,; echo "${exports[*]}")]" \
    '{dir: $dir, bridge: {name: $bridge, address: $baddr}, accel: $accel, hosts: $hosts,
      pools: {local: {type: "dir", path: "/var/lib/libvirt/pools/local", shared: false},
              scratch: {type: "dir", path: "/var/lib/libvirt/pools/scratch", shared: false},
              shared: {type: "nbd", shared: true, server: $baddr, port: $port,
                       exports: $exports, exportSize: $size, qmpSocket: "\($dir)/qsd.qmp"},
              ceph: $ceph},
      tls: {ca: "\($dir)/tls/ca.pem", clientCert: "\($dir)/tls/client.pem",
            clientKey: "\($dir)/tls/client-key.pem"},
      ssh: {user: "root", privateKey: "\($dir)/keys/id_ed25519",
            publicKey: "\($dir)/keys/id_ed25519.pub", knownHosts: "\($dir)/keys/known_hosts"},
      guests: {heartbeat: "\($dir)/guests/heartbeat.bin",
               "churn-moderate": "\($dir)/guests/churn-moderate.bin",
               "churn-fast": "\($dir)/guests/churn-fast.bin"},
      bootRom: "\($dir)/guests/boot-rom.bin",
      uefi: {image: "\($dir)/guests/uefi/disk.img", loader: "/usr/share/OVMF/OVMF_CODE_4M.fd",
             varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.fd"},
      churnRatesMiBps: {heartbeat: 0, "churn-moderate": 20, "churn-fast": 200}}' \
    >"$LAB_DIR/lab.json.tmp"
  mv "$LAB_DIR/lab.json.tmp" "$LAB_DIR/lab.json"
}

lab_up() {
  if lab_healthy; then
    log "lab already up: $LAB_DIR/lab.json"
    return 0
  fi
  lab_down
  local started=$SECONDS i
  mkdir -p "$LAB_DIR/keys" "$LAB_DIR/hosts"
  touch "$LAB_DIR/$MARKER"
  ssh-keygen -q -t ed25519 -N '' -C vmplacement-lab -f "$LAB_DIR/keys/id_ed25519"
  cp "$LAB_DIR/keys/id_ed25519.pub" "$LAB_DIR/keys/authorized_keys"
  : >"$LAB_DIR/keys/known_hosts"

  make_ca

  ip link add "$BRIDGE" type bridge
  ip addr add "$(bridge_addr)/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up

  start_shared_storage
  # Ceph's monitor and OSD start while the guests build and the hosts come up.
  ceph_up >"$LAB_DIR/ceph-up.log" 2>&1 &
  local ceph_started=$!
  build_guests
  log "guests built at $((SECONDS - started))s"
  for ((i = 1; i <= HOST_COUNT; i++)); do start_host "$i"; done
  wait "$ceph_started" || { log "Ceph did not start:"; cat "$LAB_DIR/ceph-up.log" >&2; return 1; }
  log "Ceph monitor up at $((SECONDS - started))s"
  ceph_wait
  log "Ceph OSD up at $((SECONDS - started))s"
  for ((i = 1; i <= HOST_COUNT; i++)); do
    wait_for_host "$i"
    define_local_pools "$i"
    ceph_host_setup "$i"
  done
  write_description
  log "lab up in $((SECONDS - started))s: $LAB_DIR/lab.json"
}

# Starts a host's libvirtd again (tests kill it); running guests survive, as on a real host.
restart_libvirtd() {
  local name=$1 i
  for ((i = 1; i <= HOST_COUNT; i++)); do
    [[ $(host_name "$i") == "$name" ]] || continue
    local dir
    dir=$(host_dir "$i")
    if pid_alive "$dir/libvirtd.pid"; then
      kill -KILL "$(cat "$dir/libvirtd.pid")"
      sleep 0.2
    fi
    rm -f "$dir/libvirtd.pid"
    nsenter -t "$(cat "$dir/anchor.pid")" -m -n -u -- \
      "$SCRIPT_DIR/reaper.py" libvirtd --daemon --listen -p "$dir/libvirtd.pid" -f /etc/libvirt/libvirtd.conf
    wait_for_host "$i"
    ceph_pool_autostart "$i"
    return 0
  done
  log "no lab host named $name"
  return 1
}

host_index() {
  local name=$1 i
  for ((i = 1; i <= HOST_COUNT; i++)); do
    [[ $(host_name "$i") == "$name" ]] && { echo "$i"; return 0; }
  done
  log "no lab host named $name"
  return 1
}

# Every process of a host but its namespace anchor: its QEMUs, libvirtd, sshd, virtlogd.
host_processes() {
  local i=$1 anchor
  anchor=$(cat "$(host_dir "$i")/anchor.pid")
  ip netns pids "$(host_ns "$i")" | grep -vx "$anchor" || true
}

# Power a lab host off as a fence device would: every process in it dies at once (SIGKILL, no
# shutdown), and its link goes down. The namespaces stay, so it can be powered on again.
power_off() {
  local i
  i=$(host_index "$1") || return 1
  ip link set "$(host_ns "$i")" down
  local pids
  mapfile -t pids < <(host_processes "$i")
  ((${#pids[@]})) && kill -KILL "${pids[@]}" 2>/dev/null
  for _ in $(seq 50); do
    [[ -z $(host_processes "$i") ]] && { rm -f "$(host_dir "$i")"/{libvirtd,sshd}.pid; return 0; }
    sleep 0.1
  done
  log "$1: processes still alive after SIGKILL: $(host_processes "$i" | tr '\n' ' ')"
  return 1
}

# off: nothing runs in the host and its link is down; on: anything runs or the link is up.
power_status() {
  local i
  i=$(host_index "$1") || return 1
  if [[ -z $(host_processes "$i") ]] && ! ip link show "$(host_ns "$i")" | grep -q ',UP'; then
    echo off
  else
    echo on
  fi
}

# Power a lab host on again: link up, libvirtd and sshd started (its guests stay off: a powered
# off host's guests do not come back, and the provider defines them with autostart off).
power_on() {
  local i dir
  i=$(host_index "$1") || return 1
  dir=$(host_dir "$i")
  ip link set "$(host_ns "$i")" up
  if ! pid_alive "$dir/libvirtd.pid"; then
    rm -f "$dir/libvirtd.pid"
    nsenter -t "$(cat "$dir/anchor.pid")" -m -n -u -- \
      "$SCRIPT_DIR/reaper.py" libvirtd --daemon --listen -p "$dir/libvirtd.pid" -f /etc/libvirt/libvirtd.conf
  fi
  if ! pid_alive "$dir/sshd.pid"; then
    nsenter -t "$(cat "$dir/anchor.pid")" -m -n -u -- \
      /usr/sbin/sshd -f "$dir/ssh/sshd_config" -E "$dir/sshd.log"
  fi
  wait_for_host "$i"
  ceph_pool_autostart "$i"
}

# Give a lab host's sshd a new host key (as a reinstalled host, or an impostor, would have), or
# with "restore" its own key back; sshd is restarted either way.
ssh_rekey() {
  local i dir key
  i=$(host_index "$1") || return 1
  dir=$(host_dir "$i")
  key=$dir/ssh/ssh_host_ed25519_key
  if [[ ${2:-} == restore ]]; then
    [[ -f $key.orig ]] || return 0
    mv -f "$key.orig" "$key"
    mv -f "$key.orig.pub" "$key.pub"
  else
    [[ -f $key.orig ]] || { cp "$key" "$key.orig"; cp "$key.pub" "$key.orig.pub"; }
    rm -f "$key" "$key.pub"
    ssh-keygen -q -t ed25519 -N '' -C "$(host_name "$i")-rekeyed" -f "$key"
  fi
  if pid_alive "$dir/sshd.pid"; then
    kill "$(cat "$dir/sshd.pid")"
    for _ in $(seq 50); do pid_alive "$dir/sshd.pid" || break; sleep 0.1; done
  fi
  nsenter -t "$(cat "$dir/anchor.pid")" -m -n -u -- \
    /usr/sbin/sshd -f "$dir/ssh/sshd_config" -E "$dir/sshd.log"
}

case ${1:-} in
  up) lab_up ;;
  restart-libvirtd) restart_libvirtd "${2:?host name}" ;;
  power-off) power_off "${2:?host name}" ;;
  power-on) power_on "${2:?host name}" ;;
  power-status) power_status "${2:?host name}" ;;
  ssh-rekey) ssh_rekey "${2:?host name}" "${3:-}" ;;
  down) lab_down; log "lab down" ;;
  status) if lab_healthy; then echo up; else echo down; exit 1; fi ;;
  *) echo "usage: $0 up|down|status|restart-libvirtd HOST|power-off HOST|power-on HOST|power-status HOST" >&2; exit 2 ;;
esac
