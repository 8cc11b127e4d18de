// The engine wired to the lab: an inventory of lab hosts and guests placed for a test.
import { randomBytes } from "node:crypto";
import { ConnectionPool, DEFAULT_POLICY, type MigrationPolicy } from "../../../provider/src/engine";
import { loadLab, type GuestKind, type LabDescription, type LabHost } from "../../lab/lab";
import {
  inHost,
  buildGuestImage,
  buildUefiGuestImage,
  cephArgs,
  placeInLocalPool,
  placeInSharedPool,
  placeInCeph,
  removeFromCeph,
  startGuest,
  type RbdDisk,
  type GuestDisk,
  type GuestImage,
} from "../../lab/guests";
import { removeDomainEverywhere, virsh } from "../../lab/virsh";
import { run } from "../../lab/run";

export function labPool(lab: LabDescription): ConnectionPool {
  return new ConnectionPool(
    lab.hosts.map((h) => ({ name: h.name, uri: h.uris.tcp, migrationAddress: h.migrationAddress })),
  );
}

/** What an engine suite on the lab works with: the lab, its first two hosts, a pool, guests. */
export function labEngine(): {
  lab: LabDescription;
  h1: LabHost;
  h2: LabHost;
  pool: ConnectionPool;
  guests: GuestFactory;
} {
  const lab = loadLab();
  const [h1, h2] = lab.hosts;
  return { lab, h1, h2, pool: labPool(lab), guests: new GuestFactory(lab) };
}

export function policy(overrides: Partial<MigrationPolicy> = {}): MigrationPolicy {
  return { ...DEFAULT_POLICY, ...overrides };
}

export interface TestGuest {
  name: string;
  image: GuestImage;
  disk: GuestDisk;
}

/** Creates guests on lab hosts and removes them (and their volumes) afterwards. */
export class GuestFactory {
  private readonly names: string[] = [];
  private readonly images: GuestImage[] = [];

  constructor(private readonly lab: LabDescription) {}

  name(prefix: string): string {
    const name = `${prefix}-${randomBytes(3).toString("hex")}`;
    this.names.push(name);
    return name;
  }

  async local(
    prefix: string,
    host: LabHost,
    options: {
      memoryMiB?: number;
      sizeMiB?: number;
      /** Random (incompressible) data on the disk, after the boot sector. */
      randomMiB?: number;
      pool?: "local" | "scratch";
      kind?: GuestKind;
      secrets?: { vncPassword: string; credential: string };
    } = {},
  ): Promise<TestGuest> {
    const name = this.name(prefix);
    const image = buildGuestImage(
      this.lab,
      options.kind ?? "heartbeat",
      options.sizeMiB ?? 64,
      options.randomMiB ?? 8,
    );
    this.images.push(image);
    const disk = await placeInLocalPool(this.lab, host, image, `${name}.qcow2`, options.pool);
    await startGuest(this.lab, host, {
      name,
      memoryMiB: options.memoryMiB ?? 256,
      disk,
      secrets: options.secrets,
    });
    return { name, image, disk };
  }

  /** The UEFI guest (OVMF, NVRAM with a boot counter) on a local disk of `host`. */
  async uefi(prefix: string, host: LabHost): Promise<TestGuest> {
    const name = this.name(prefix);
    const image = buildUefiGuestImage(this.lab);
    this.images.push(image);
    const disk = await placeInLocalPool(this.lab, host, image, `${name}.qcow2`);
    await startGuest(this.lab, host, { name, memoryMiB: 128, disk, uefi: true });
    return { name, image, disk };
  }

  /**
   * A guest whose disk is a qcow2 overlay on a base image that `hosts` all have already: the
   * case for incremental storage copy.
   */
  async overlay(
    prefix: string,
    source: LabHost,
    hosts: LabHost[],
    kind: GuestKind = "heartbeat",
  ): Promise<TestGuest> {
    const name = this.name(prefix);
    const image = buildGuestImage(this.lab, kind, 32, 4);
    this.images.push(image);
    for (const h of hosts) await placeInLocalPool(this.lab, h, image, `${name}-base.qcow2`);
    const dir = this.lab.pools.local.path;
    await inHost(source, "qemu-img", [
      "create",
      "-q",
      "-f",
      "qcow2",
      "-F",
      "qcow2",
      "-b",
      `${dir}/${name}-base.qcow2`,
      `${dir}/${name}.qcow2`,
    ]);
    await virsh(source, "pool-refresh", "local");
    const disk: GuestDisk = { kind: "file", pathOnHost: `${dir}/${name}.qcow2`, format: "qcow2" };
    await startGuest(this.lab, source, { name, memoryMiB: 256, disk });
    return { name, image, disk };
  }

  async shared(
    prefix: string,
    host: LabHost,
    exportIndex: number,
    kind: GuestKind = "heartbeat",
    memoryMiB = 256,
    secrets?: { vncPassword: string; credential: string },
  ): Promise<TestGuest> {
    const name = this.name(prefix);
    const image = buildGuestImage(this.lab, kind, 16, kind === "heartbeat" ? 2 : 0);
    this.images.push(image);
    const disk = await placeInSharedPool(
      this.lab,
      image,
      this.lab.pools.shared.exports[exportIndex],
    );
    await startGuest(this.lab, host, { name, memoryMiB, disk, secrets });
    return { name, image, disk };
  }

  /**
   * A guest whose disk is an RBD image in the lab's Ceph pool, attached as a network disk or as
   * a volume of the hosts' rbd pool; with `localDisk`, a second disk (vdb) in `local` of `host`.
   */
  async ceph(
    prefix: string,
    host: LabHost,
    options: { attach?: RbdDisk["attach"]; localDisk?: boolean; kind?: GuestKind } = {},
  ): Promise<TestGuest & { extraDisks: GuestDisk[] }> {
    const name = this.name(prefix);
    const image = buildGuestImage(this.lab, options.kind ?? "heartbeat", 16, 2);
    this.images.push(image);
    const disk = await placeInCeph(this.lab, image, `${name}.raw`, options.attach);
    const extraDisks = options.localDisk
      ? [await placeInLocalPool(this.lab, host, image, `${name}.data.qcow2`)]
      : [];
    await startGuest(this.lab, host, { name, memoryMiB: 256, disk, extraDisks });
    return { name, image, disk, extraDisks };
  }

  async cleanup(): Promise<void> {
    for (const name of this.names.splice(0)) {
      await removeDomainEverywhere(this.lab.hosts, name);
      await this.removeCephImages(name);
      // Hosts and pools are independent: cleaned side by side.
      const pools = this.lab.hosts.flatMap((h) =>
        ["local", "scratch"].map((pool) => ({ h, pool })),
      );
      await Promise.all(
        pools.map(async ({ h, pool }) => {
          await virsh(h, "pool-refresh", pool).catch(() => undefined);
          const vols = await virsh(h, "vol-list", "--pool", pool).catch(() => "");
          // The guest's volumes, its base image, and any ownership marker the engine left.
          for (const vol of vols.split("\n").map((v) => v.trim().split(/\s+/)[0])) {
            if (vol.startsWith(`${name}.`) || vol.startsWith(`${name}-base.`))
              await virsh(h, "vol-delete", "--pool", pool, vol).catch(() => undefined);
          }
        }),
      );
    }
    for (const image of this.images.splice(0)) image.cleanup();
  }

  /** The guest's RBD images in every Ceph pool of the lab (moves may have created some). */
  private async removeCephImages(name: string): Promise<void> {
    const { ceph } = this.lab.pools;
    for (const cephPool of [ceph.cephPool, ceph.otherCephPool]) {
      const images = await run("rbd", [...cephArgs(ceph), "ls", cephPool]).catch(() => "");
      for (const image of images.split("\n").map((l) => l.trim()))
        if (image.startsWith(`${name}.`)) await removeFromCeph(ceph, image, cephPool);
    }
    for (const h of this.lab.hosts)
      await virsh(h, "pool-refresh", ceph.libvirtPool).catch(() => undefined);
  }
}
