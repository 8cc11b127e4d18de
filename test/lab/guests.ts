// Lab guests: disk images that carry a boot-sector guest (test/lab/guest/guest.asm) plus
// random data, domain XML for them, and the serial heartbeat that proves continuity.
import { createHash, randomBytes } from "node:crypto";
import {
  copyFileSync,
  statSync,
  mkdtempSync,
  openSync,
  readFileSync,
  writeSync,
  closeSync,
  ftruncateSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { GuestKind, LabCeph, LabDescription, LabHost, LabSharedPool } from "./lab";
import { hostPathFromRoot } from "./lab";
import { run } from "./run";
import { virsh } from "./virsh";

const MiB = 1024 * 1024;

export interface GuestImage {
  /** Raw image in the root namespace; the reference for checksums. */
  rawPath: string;
  sha256: string;
  sizeBytes: number;
  cleanup(): void;
}

/** A raw disk: the guest's boot sector, then `randomMiB` of random data, sparse after that. */
export function buildGuestImage(
  lab: LabDescription,
  kind: GuestKind,
  sizeMiB = 64,
  randomMiB = 8,
): GuestImage {
  const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-guest-"));
  const rawPath = path.join(dir, `${kind}.raw`);
  const fd = openSync(rawPath, "w");
  try {
    ftruncateSync(fd, sizeMiB * MiB);
    writeSync(fd, readFileSync(lab.guests[kind]), 0, 512, 0);
    for (let i = 0; i < randomMiB; i++) writeSync(fd, randomBytes(MiB), 0, MiB, (i + 1) * MiB);
  } finally {
    closeSync(fd);
  }
  return {
    rawPath,
    sha256: sha256File(rawPath),
    sizeBytes: sizeMiB * MiB,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function sha256File(file: string, lengthBytes?: number): string {
  const content = readFileSync(file);
  return createHash("sha256")
    .update(lengthBytes === undefined ? content : content.subarray(0, lengthBytes))
    .digest("hex");
}

export type GuestDisk =
  | { kind: "file"; pathOnHost: string; format: "qcow2" | "raw" }
  | { kind: "nbd"; pool: LabSharedPool; exportName: string }
  | RbdDisk;

/**
 * An RBD image in the lab's Ceph pool, attached as a network disk (monitors and the cephx secret
 * in the disk XML) or as a volume of each host's rbd storage pool.
 */
export interface RbdDisk {
  kind: "rbd";
  ceph: LabCeph;
  image: string;
  attach: "network" | "volume";
  cephPool?: string;
}

/** Puts the image into a host's directory pool (default `local`) as qcow2 and refreshes the pool. */
export async function placeInLocalPool(
  lab: LabDescription,
  host: LabHost,
  image: GuestImage,
  volume: string,
  pool: "local" | "scratch" = "local",
): Promise<GuestDisk> {
  const pathOnHost = path.join(lab.pools[pool].path, volume);
  await run("qemu-img", [
    "convert",
    "-f",
    "raw",
    "-O",
    "qcow2",
    image.rawPath,
    hostPathFromRoot(host, pathOnHost),
  ]);
  await virsh(host, "pool-refresh", pool);
  return { kind: "file", pathOnHost, format: "qcow2" };
}

/** Writes the image into one export of the shared NBD storage. */
export async function placeInSharedPool(
  lab: LabDescription,
  image: GuestImage,
  exportName: string,
): Promise<GuestDisk> {
  const pool = lab.pools.shared;
  await run("qemu-img", [
    "convert",
    "-n",
    "-f",
    "raw",
    "-O",
    "raw",
    image.rawPath,
    nbdUrl(pool, exportName),
  ]);
  return { kind: "nbd", pool, exportName };
}

/** Writes the image into a new RBD image `name` of the lab's Ceph pool. */
export async function placeInCeph(
  lab: LabDescription,
  image: GuestImage,
  name: string,
  attach: RbdDisk["attach"] = "network",
): Promise<RbdDisk> {
  const disk: RbdDisk = { kind: "rbd", ceph: lab.pools.ceph, image: name, attach };
  await run("qemu-img", ["convert", "-f", "raw", "-O", "raw", image.rawPath, rbdSpec(disk)]);
  // Each host's rbd pool lists the image once refreshed (a volume disk is looked up there).
  for (const host of lab.hosts) await virsh(host, "pool-refresh", disk.ceph.libvirtPool);
  return disk;
}

/** Removes an RBD image of the lab's Ceph pool, if it is there. */
export async function removeFromCeph(ceph: LabCeph, image: string, cephPool = ceph.cephPool) {
  await run("rbd", [...cephArgs(ceph), "rm", "--no-progress", `${cephPool}/${image}`]).catch(
    () => undefined,
  );
}

/** Arguments that make the `ceph` and `rbd` tools speak to the lab's cluster as its admin. */
export function cephArgs(ceph: LabCeph): string[] {
  return ["-c", ceph.conf, "--name", "client.admin", "--keyring", ceph.adminKeyring];
}

/** The image as QEMU's rbd protocol names it from the root namespace (admin key). */
function rbdSpec(disk: RbdDisk): string {
  const { ceph } = disk;
  return `rbd:${disk.cephPool ?? ceph.cephPool}/${disk.image}:conf=${ceph.conf}:id=admin:keyring=${ceph.adminKeyring}`;
}

/** Runs a command in a lab host's mount namespace (its private libvirt directories). */
export function inHost(host: LabHost, command: string, args: string[]): Promise<string> {
  return run("nsenter", ["-t", String(host.anchorPid), "-m", "--", command, ...args]);
}

function nbdUrl(pool: LabSharedPool, exportName: string): string {
  return `nbd://${pool.server}:${pool.port}/${exportName}`;
}

export interface GuestDomain {
  name: string;
  memoryMiB: number;
  disk: GuestDisk;
  /** More disks, as vdb, vdc, ... */
  extraDisks?: GuestDisk[];
  /** Boots the UEFI guest with OVMF and an NVRAM file made from the firmware's template. */
  uefi?: boolean;
  /**
   * What real domains carry that must stay secret: a VNC password, and a systemd credential in
   * the SMBIOS OEM strings (io.systemd.credential:<name>=<value>).
   */
  secrets?: { vncPassword: string; credential: string };
}

/** The UEFI guest's FAT disk (guest/uefi-guest.c as its boot loader), copied for one guest. */
export function buildUefiGuestImage(lab: LabDescription): GuestImage {
  const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-uefi-"));
  const rawPath = path.join(dir, "uefi.raw");
  copyFileSync(lab.uefi.image, rawPath);
  return {
    rawPath,
    sha256: sha256File(rawPath),
    sizeBytes: statSync(rawPath).size,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Where libvirt keeps a domain's NVRAM by default, as the host sees it. */
export function nvramPathOnHost(name: string): string {
  return `/var/lib/libvirt/qemu/nvram/${name}_VARS.fd`;
}

/** Whether `host` holds the domain's NVRAM file at libvirt's default place. */
export function nvramExists(host: LabHost, name: string): boolean {
  return existsSync(hostPathFromRoot(host, nvramPathOnHost(name)));
}

/** Waits until the UEFI guest on `host` has printed boot count `count`. */
export async function waitForBootCount(
  host: LabHost,
  domain: string,
  count: number,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!readBootCounts(host, domain).includes(count)) {
    if (Date.now() > deadline)
      throw new Error(
        `${domain} on ${host.name} printed boot counts [${readBootCounts(host, domain).join(", ")}], not ${count}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The boot counters the UEFI guest printed from its NVRAM ("BOOT xxxxxxxx"), in order. */
export function readBootCounts(host: LabHost, domain: string): number[] {
  return serialCounters(host, domain, "BOOT");
}

export function serialLogOnHost(name: string): string {
  return `/var/log/libvirt/qemu/${name}-serial.log`;
}

/** The `<disk>` element of a lab disk as guest device `dev`. */
export function diskXml(disk: GuestDisk, dev: string): string {
  const target = `<target dev='${dev}' bus='virtio'/>`;
  switch (disk.kind) {
    case "file":
      return `<disk type='file' device='disk'>
      <driver name='qemu' type='${disk.format}'/>
      <source file='${disk.pathOnHost}'/>
      ${target}
    </disk>`;
    case "nbd":
      return `<disk type='network' device='disk'>
      <driver name='qemu' type='raw' cache='none'/>
      <source protocol='nbd' name='${disk.exportName}'>
        <host name='${disk.pool.server}' port='${disk.pool.port}'/>
      </source>
      ${target}
    </disk>`;
    case "rbd":
      return disk.attach === "volume"
        ? `<disk type='volume' device='disk'>
      <driver name='qemu' type='raw' cache='none'/>
      <source pool='${disk.ceph.libvirtPool}' volume='${disk.image}'/>
      ${target}
    </disk>`
        : `<disk type='network' device='disk'>
      <driver name='qemu' type='raw' cache='none'/>
      <auth username='${disk.ceph.user}'><secret type='ceph' uuid='${disk.ceph.secretUuid}'/></auth>
      <source protocol='rbd' name='${disk.cephPool ?? disk.ceph.cephPool}/${disk.image}'>
        <host name='${disk.ceph.address}' port='${disk.ceph.port}'/>
      </source>
      ${target}
    </disk>`;
  }
}

export function domainXml(lab: LabDescription, guest: GuestDomain): string {
  const disks = [guest.disk, ...(guest.extraDisks ?? [])]
    .map((d, i) => diskXml(d, `vd${String.fromCharCode(97 + i)}`))
    .join("\n    ");
  // OVMF runs its first code from flash, which KVM can only execute with read-only memory
  // slots; some nested hypervisors (this lab's among them) lack those, so UEFI guests use TCG.
  const type = lab.accel === "kvm" && !guest.uefi ? "kvm" : "qemu";
  // The boot-sector guests start from the lab's own ROM (test/lab/guest/boot-rom.asm) rather
  // than SeaBIOS: that hypervisor runs 16- and 32-bit code slowly, SeaBIOS's millions of
  // instructions for ~2.7 s per start, the ROM's few hundred for milliseconds.
  const bootRom = lab.bootRom ? `<loader type='rom'>${lab.bootRom}</loader>` : "";
  const os = guest.uefi
    ? `<os><type arch='x86_64' machine='q35'>hvm</type>
    <loader readonly='yes' type='pflash'>${lab.uefi.loader}</loader>
    <nvram template='${lab.uefi.varsTemplate}'>${nvramPathOnHost(guest.name)}</nvram>
    <boot dev='hd'/></os>
  <features><acpi/></features>`
    : `<os><type arch='x86_64' machine='pc'>hvm</type>${bootRom}<boot dev='hd'/>${guest.secrets ? "<smbios mode='sysinfo'/>" : ""}</os>`;
  const sysinfo = guest.secrets
    ? `<sysinfo type='smbios'><oemStrings><entry>io.systemd.credential:token=${guest.secrets.credential}</entry></oemStrings></sysinfo>`
    : "";
  const graphics = guest.secrets
    ? `<graphics type='vnc' autoport='yes' listen='127.0.0.1' passwd='${guest.secrets.vncPassword}'/>`
    : "";
  return `<domain type='${type}'>
  <name>${guest.name}</name>
  <memory unit='MiB'>${guest.memoryMiB}</memory>
  <vcpu>1</vcpu>
  ${sysinfo}
  ${os}
  <on_poweroff>destroy</on_poweroff>
  <devices>
    ${disks}
    <serial type='file'>
      <source path='${serialLogOnHost(guest.name)}'/>
      <target port='0'/>
    </serial>
    ${graphics}
  </devices>
</domain>
`;
}

/**
 * Defines and starts the guest on `host` and waits for its first heartbeat: from then on it
 * runs its heartbeat loop, and a move's continuity check has a counter to continue from.
 */
export async function startGuest(
  lab: LabDescription,
  host: LabHost,
  guest: GuestDomain,
): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-xml-"));
  try {
    const file = path.join(dir, `${guest.name}.xml`);
    const fd = openSync(file, "w");
    writeSync(fd, domainXml(lab, guest));
    closeSync(fd);
    await virsh(host, "define", file);
    await virsh(host, "start", guest.name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await waitForHeartbeat(host, guest.name, 1);
}

/** Heartbeat counters from complete serial lines ("HB xxxxxxxx"), in order. */
export function readHeartbeats(host: LabHost, domain: string): number[] {
  return serialCounters(host, domain, "HB");
}

/** The hex counters of the guest's complete serial lines "<label> xxxxxxxx", in order. */
function serialCounters(host: LabHost, domain: string, label: string): number[] {
  const file = hostPathFromRoot(host, serialLogOnHost(domain));
  if (!existsSync(file)) return [];
  const line = new RegExp(`^${label} ([0-9A-F]{8})$`);
  const counters: number[] = [];
  for (const text of readFileSync(file, "latin1").split("\n")) {
    const m = line.exec(text);
    if (m) counters.push(parseInt(m[1], 16));
  }
  return counters;
}

/** Waits until the guest's serial log on `host` shows a counter of at least `atLeast`. */
export async function waitForHeartbeat(
  host: LabHost,
  domain: string,
  atLeast: number,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const beats = readHeartbeats(host, domain);
    const last = beats.length ? beats[beats.length - 1] : -1;
    if (last >= atLeast) return last;
    if (Date.now() > deadline) {
      throw new Error(
        `${domain} on ${host.name}: heartbeat reached ${last}, wanted ${atLeast} within ${timeoutMs} ms`,
      );
    }
    // Well under the 110 ms between beats: a guest start waits for little more than its boot.
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * sha256 of the guest-visible content of a disk (qcow2 or raw file, an NBD export or an RBD image), over
 * its first `lengthBytes` (an NBD export is larger than the image written into it).
 */
export async function diskContentSha256(
  host: LabHost,
  disk: GuestDisk,
  lengthBytes: number,
): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-sum-"));
  try {
    const raw = path.join(dir, "disk.raw");
    const source =
      disk.kind === "file"
        ? disk.pathOnHost
        : disk.kind === "nbd"
          ? nbdUrl(disk.pool, disk.exportName)
          : rbdSpec(disk);
    const format = disk.kind === "file" ? disk.format : "raw";
    // Inside the host's mount namespace, so backing files resolve as the host sees them;
    // -U reads while a running guest holds the image lock (the guests never write their disk).
    await inHost(host, "qemu-img", ["convert", "-U", "-f", format, "-O", "raw", source, raw]);
    return sha256File(raw, lengthBytes);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Asserts the guest was not restarted by a move from `source` to `target`: the first counter
 * on the target follows the last one on the source.
 */
export function assertHeartbeatContinues(source: LabHost, target: LabHost, domain: string): void {
  const onSource = readHeartbeats(source, domain);
  const onTarget = readHeartbeats(target, domain);
  const last = onSource[onSource.length - 1];
  if (!onTarget.length) throw new Error(`${domain} shows no heartbeat on ${target.name}`);
  if (!(onTarget[0] > last && onTarget[0] - last <= 3)) {
    throw new Error(
      `${domain}'s heartbeat did not continue: ${source.name} ended at ${last}, ${target.name} began at ${onTarget[0]}`,
    );
  }
}

/**
 * Writes `pattern` (a byte) at `offsetBytes` of the guest's vda from inside its QEMU on `host`
 * (HMP qemu-io through the virtio device's own block backend), as the guest would. Returns what
 * QEMU said: "wrote ..." or "write failed: ...".
 */
export async function writeFromQemu(
  host: LabHost,
  domain: string,
  pattern: number,
  offsetBytes: number,
): Promise<string> {
  const log = hostPathFromRoot(host, `/var/log/libvirt/qemu/${domain}.log`);
  const before = statSync(log).size;
  const command = `qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P 0x${pattern.toString(16)} ${offsetBytes} 4k"`;
  await virsh(host, "qemu-monitor-command", "--hmp", domain, command);
  // qemu-io prints to QEMU's standard output, which libvirt keeps in the domain's log.
  for (let i = 0; i < 50; i++) {
    const added = readFileSync(log, "latin1").slice(before);
    const outcome = added.split("\n").find((l) => /^(wrote |write failed)/.test(l));
    if (outcome) return outcome;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${domain} on ${host.name}: qemu-io said nothing within 5 s`);
}

/**
 * Gives a lab host the client.libvirt secret as the lab makes it (same UUID, usage ceph), with
 * `key` as its value (default: the user's key): to restore it after a test took it away.
 */
export async function defineCephSecret(
  lab: LabDescription,
  host: LabHost,
  key?: string,
): Promise<void> {
  const { ceph } = lab.pools;
  const value =
    key ??
    (await run("ceph", [...cephArgs(ceph), "auth", "get-key", `client.${ceph.user}`])).trim();
  const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-secret-"));
  try {
    const file = path.join(dir, "secret.xml");
    writeFileSync(
      file,
      `<secret ephemeral='no' private='no'><uuid>${ceph.secretUuid}</uuid><usage type='ceph'><name>client.${ceph.user} secret</name></usage></secret>`,
    );
    await virsh(host, "secret-define", file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await virsh(host, "secret-set-value", ceph.secretUuid, "--base64", value);
}
