// Target volumes the executor creates, so a failed move can remove exactly what it made.
import path from "node:path";
import type { LibvirtConnection, StorageVol } from "../libvirt";
import { volumeXml } from "./domain-xml";
import type { DiskPlacement } from "./types";

export class CreatedVolumes {
  private readonly created: Array<{ conn: LibvirtConnection; vol: StorageVol }> = [];

  /** Creates the volume each copied disk lands in. */
  async createFor(conn: LibvirtConnection, disks: DiskPlacement[]): Promise<void> {
    for (const d of disks) {
      if (!d.copy || !d.pool || !d.targetPath) continue;
      const pool = await conn.storage.poolByName(d.pool);
      const vol = await conn.storage.createVol(
        pool,
        volumeXml(path.basename(d.targetPath), d.capacityBytes, d.format, d.backing),
      );
      this.created.push({ conn, vol });
    }
  }

  async removeAll(): Promise<string[]> {
    const removed: string[] = [];
    for (const { conn, vol } of this.created.splice(0)) {
      await conn.storage.deleteVol(vol).then(
        () => removed.push(vol.key),
        () => undefined,
      );
    }
    return removed;
  }
}

/** Deletes the source copies of moved disks (only ever after the move was verified). */
export async function removeSourceVolumes(
  conn: LibvirtConnection,
  disks: DiskPlacement[],
  sameHost: boolean,
): Promise<string[]> {
  const removed: string[] = [];
  for (const d of disks) {
    // On the same host, a disk whose path did not change has no separate source copy.
    if (!d.copy || !d.sourcePath || (sameHost && d.sourcePath === d.targetPath)) continue;
    const vol = await conn.storage.volByPath(d.sourcePath);
    await conn.storage.deleteVol(vol);
    removed.push(d.sourcePath);
  }
  return removed;
}
