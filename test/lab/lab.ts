// Reads the description of the running lab (written by test/lab/lab.sh) so that tests,
// examples and benchmarks never hard-code an address or a path.
import { readFileSync } from "node:fs";
import path from "node:path";

export interface LabHost {
  name: string;
  address: string;
  migrationAddress: string;
  namespace: string;
  /** Root-namespace directory holding this host's private libvirt state. */
  dir: string;
  anchorPid: number;
  uris: { tcp: string; tls: string; ssh: string };
  labels: Record<string, string>;
}

export interface LabSharedPool {
  type: "nbd";
  shared: true;
  server: string;
  port: number;
  exports: string[];
  exportSize: string;
  qmpSocket: string;
}

/** The lab's Ceph cluster (test/lab/ceph.sh) and how every host reaches it. */
export interface LabCeph {
  type: "rbd";
  shared: true;
  namespace: string;
  address: string;
  port: number;
  fsid: string;
  monitors: string[];
  /** Ceph pool of the guests' images, and one more that no libvirt pool uses. */
  cephPool: string;
  otherCephPool: string;
  /** The rbd storage pool every host has over `cephPool`. */
  libvirtPool: string;
  /** The libvirt secret (same UUID on every host) holding `user`'s cephx key. */
  secretUuid: string;
  user: string;
  conf: string;
  adminKeyring: string;
  libvirtKeyring: string;
  /** client.fence: may add and remove blocklist entries, nothing else. */
  fenceKeyring: string;
  osdPidFile: string;
  monPidFile: string;
}

export interface LabDescription {
  dir: string;
  bridge: { name: string; address: string };
  accel: "kvm" | "qemu";
  hosts: LabHost[];
  pools: {
    local: { type: "dir"; path: string; shared: false };
    scratch: { type: "dir"; path: string; shared: false };
    shared: LabSharedPool;
    ceph: LabCeph;
  };
  ssh: { user: string; privateKey: string; publicKey: string; knownHosts: string };
  tls: { ca: string; clientCert: string; clientKey: string };
  guests: Record<GuestKind, string>;
  /**
   * The boot-sector guests' firmware (guest/boot-rom.asm) in place of SeaBIOS, at the same path
   * on every host. A lab brought up before it existed has none: its guests boot with SeaBIOS.
   */
  bootRom?: string;
  /** The UEFI guest's disk image and the OVMF firmware and NVRAM template it boots with. */
  uefi: { image: string; loader: string; varsTemplate: string };
  churnRatesMiBps: Record<GuestKind, number>;
}

export type GuestKind = "heartbeat" | "churn-moderate" | "churn-fast";

export function labDir(): string {
  return process.env.VMP_LAB_DIR ?? "/var/lib/vmplacement-lab";
}

export function loadLab(): LabDescription {
  const file = path.join(labDir(), "lab.json");
  try {
    return JSON.parse(readFileSync(file, "utf8")) as LabDescription;
  } catch (err) {
    throw new Error(
      `cannot read the lab description ${file} (${String(err)}); run 'make lab-up' first`,
    );
  }
}

export function labHost(lab: LabDescription, name: string): LabHost {
  const host = lab.hosts.find((h) => h.name === name);
  if (!host)
    throw new Error(
      `lab has no host '${name}' (hosts: ${lab.hosts.map((h) => h.name).join(", ")})`,
    );
  return host;
}

// Directories that lab.sh bind-mounts privately inside each host's mount namespace.
const HOST_MOUNTS: Array<[string, string]> = [
  ["/var/lib/libvirt", "lib"],
  ["/var/log/libvirt", "log"],
  ["/run/libvirt", "run"],
  ["/etc/libvirt", "etc"],
];

/** Maps a path as a lab host sees it to where the same file lives in the root namespace. */
export function hostPathFromRoot(host: LabHost, pathOnHost: string): string {
  for (const [mountPoint, sub] of HOST_MOUNTS) {
    if (pathOnHost === mountPoint || pathOnHost.startsWith(mountPoint + "/")) {
      return path.join(host.dir, sub, pathOnHost.slice(mountPoint.length));
    }
  }
  throw new Error(`${pathOnHost} is not inside a lab host's private directories`);
}
