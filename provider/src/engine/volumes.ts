// Volumes the executor creates on a target, and the leftovers of earlier attempts it removes.
// Every volume it creates gets an ownership marker first: an empty volume beside it whose name
// carries the domain's UUID. A later run (even after this process was killed) can then tell a
// leftover of its own failed attempt from a volume somebody else made, and never touches those.
import path from "node:path";
import { findLibvirtError, isNotFound, type LibvirtConnection, type StoragePool } from "../libvirt";
import type { ConnectionPool } from "./connections";
import { reportPhase, type RunContext } from "./context";
import { describeError } from "./errors";
import { volumeXml } from "./domain-xml";
import {
  afterAllocation,
  ALLOCATING_PATIENCE_MS,
  createVolume,
  refreshPool,
  refreshRbdPools,
} from "./rbd-pool-calls";
import { movingMarkerName, ownerMarkerName } from "./volume-markers";
import type { DiskPlacement, VolumeRef } from "./types";

async function deleteIfPresent(
  conn: LibvirtConnection,
  host: string,
  pool: StoragePool,
  name: string,
  /** How long to wait for an earlier create of it that still runs (0: fail at once). */
  allocatingPatienceMs = 0,
): Promise<boolean> {
  let vol;
  try {
    vol = await conn.storage.volByName(pool, name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    // A daemon that just restarted may not have listed the pool's files yet: "not found" must
    // mean the file is gone, or a volume would outlive the marker that makes it ours. (Only
    // then, and for rbd only when Ceph answers: a refresh that fails makes libvirt stop the pool.)
    await refreshPool(conn, host, pool);
    try {
      vol = await conn.storage.volByName(pool, name);
    } catch (again) {
      if (isNotFound(again)) return false;
      throw again;
    }
  }
  try {
    await afterAllocation(() => conn.storage.deleteVol(vol), allocatingPatienceMs);
  } catch (err) {
    // Listed but gone (removed behind libvirt's back): once refreshed, it is not there. Any
    // other failure (storage out of reach) stands, and the pool is left alone.
    if (!/cannot unlink file .*No such file or directory/.test(describeError(err))) throw err;
    await refreshPool(conn, host, pool);
    if (await exists(conn, pool, name)) throw err;
    return false;
  }
  return true;
}

async function exists(conn: LibvirtConnection, pool: StoragePool, name: string): Promise<boolean> {
  try {
    await conn.storage.volByName(pool, name);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/**
 * The volume at `volumePath`. An RBD image another host (or tool) made is not listed by this
 * host's rbd pool until it is refreshed: on "not found" for a pool/image path, the host's rbd
 * pools are refreshed once and the lookup tried again.
 */
export async function volumeByPath(conn: LibvirtConnection, volumePath: string) {
  try {
    return await conn.storage.volByPath(volumePath);
  } catch (err) {
    if (!isNotFound(err) || path.isAbsolute(volumePath)) throw err;
    await refreshRbdPools(conn);
    return conn.storage.volByPath(volumePath);
  }
}

/** Writes an (empty) marker volume; one left by an earlier attempt is ours already (false). */
async function ensureMarker(
  conn: LibvirtConnection,
  host: string,
  pool: StoragePool,
  name: string,
): Promise<boolean> {
  if (await exists(conn, pool, name)) return false;
  try {
    await createVolume(conn, host, pool, volumeXml(name, 0, "raw"));
  } catch (err) {
    // rbd pools refuse an image without capacity ("volume capacity required"): one byte then.
    if (!findLibvirtError(err, "VIR_ERR_NO_SUPPORT")) throw err;
    await createVolume(conn, host, pool, volumeXml(name, 1, "raw"));
  }
  return true;
}

const describe = (v: VolumeRef) => `${v.pool}/${v.volume} on ${v.host}`;

export class CreatedVolumes {
  private readonly created: VolumeRef[] = [];

  constructor(
    private readonly pool: ConnectionPool,
    private readonly domainUuid: string,
  ) {}

  /** Creates, on `host`, the volume each copied disk lands in, each after its marker. */
  async createFor(host: string, disks: DiskPlacement[]): Promise<void> {
    const conn = await this.pool.get(host);
    for (const d of disks) {
      if (!d.copy || !d.pool || !d.targetPath) continue;
      const pool = await conn.storage.poolByName(d.pool);
      const volume = path.basename(d.targetPath);
      const ref = { host, pool: d.pool, volume };
      const marker = ownerMarkerName(volume, this.domainUuid);
      const marked = await ensureMarker(conn, host, pool, marker);
      this.created.push(ref);
      try {
        await createVolume(
          conn,
          host,
          pool,
          volumeXml(volume, d.capacityBytes, d.format, d.backing),
        );
      } catch (err) {
        // Made by someone else since the plan looked: never ours to remove, nor to mark.
        if (!findLibvirtError(err, "VIR_ERR_STORAGE_VOL_EXIST")) throw err;
        this.created.pop();
        if (marked) await deleteIfPresent(conn, host, pool, marker);
        throw err;
      }
    }
  }

  /**
   * Rolls back: removes the volumes this attempt made, then their markers. What cannot be removed
   * now (host unreachable) keeps its marker, so the next run removes it.
   */
  removeAll(): Promise<{ removed: string[]; left: string[] }> {
    return this.settle(() => false);
  }

  /** After a verified move the volumes are the domain's disks: only their markers go. */
  async keep(): Promise<void> {
    await this.settle(() => true);
  }

  /** Keeps the volumes `kept` names (dropping their markers) and removes the others. */
  async settle(kept: (volume: string) => boolean): Promise<{ removed: string[]; left: string[] }> {
    const removed: string[] = [];
    const left: string[] = [];
    for (const ref of this.created.splice(0)) {
      const keep = kept(ref.volume);
      try {
        const conn = await this.pool.get(ref.host);
        const pool = await conn.storage.poolByName(ref.pool);
        if (!keep) await deleteIfPresent(conn, ref.host, pool, ref.volume);
        await deleteIfPresent(conn, ref.host, pool, ownerMarkerName(ref.volume, this.domainUuid));
        if (!keep) removed.push(describe(ref));
      } catch (err) {
        // A marker left now is removed by the next run's planning, with its volume if unused.
        if (!keep) left.push(`${describe(ref)} (${describeError(err)})`);
      }
    }
    return { removed, left };
  }
}

/**
 * Marks the source volumes of the disks a move copies as "moving", so that if this process dies
 * after the move finished, the next run knows the old copies are to be removed.
 */
export class SourceMarks {
  private readonly refs: VolumeRef[] = [];

  constructor(
    private readonly pool: ConnectionPool,
    private readonly domainUuid: string,
  ) {}

  /** `sameHost`: a pool change within the host, where a disk whose path stays has no old copy. */
  async mark(host: string, disks: DiskPlacement[], sameHost: boolean): Promise<void> {
    const conn = await this.pool.get(host);
    for (const d of disks) {
      if (!d.copy || !d.sourcePath || (sameHost && d.sourcePath === d.targetPath)) continue;
      const vol = await volumeByPath(conn, d.sourcePath);
      const pool = await conn.storage.poolByName(vol.pool);
      const marker = movingMarkerName(vol.name, this.domainUuid);
      await ensureMarker(conn, host, pool, marker);
      this.refs.push({ host, pool: vol.pool, volume: marker });
    }
  }

  /** The old copies could not all be removed: their markers stay, so the next run removes them. */
  keepForNextRun(): void {
    this.refs.splice(0);
  }

  /** The move settled (either way): the markers go; one left now is removed by the next run. */
  async clear(): Promise<void> {
    for (const ref of this.refs.splice(0)) {
      try {
        const conn = await this.pool.get(ref.host);
        await deleteIfPresent(conn, ref.host, await conn.storage.poolByName(ref.pool), ref.volume);
      } catch {
        // Left for the next run's planning.
      }
    }
  }
}

/** Runs a move with source marks that are cleared however it ends. */
export async function withSourceMarks<T>(
  ctx: { pool: ConnectionPool; facts: { uuid: string } },
  move: (sources: SourceMarks) => Promise<T>,
): Promise<T> {
  const sources = new SourceMarks(ctx.pool, ctx.facts.uuid);
  try {
    return await move(sources);
  } finally {
    await sources.clear();
  }
}

/**
 * Removes what the planner found left over by earlier attempts (volumes before markers). An image
 * an earlier create still waits on Ceph for is removed once that create ends.
 */
export async function removeLeftovers(
  pool: ConnectionPool,
  leftovers: VolumeRef[],
): Promise<string[]> {
  const removed: string[] = [];
  for (const ref of leftovers) {
    const conn = await pool.get(ref.host);
    const where = await conn.storage.poolByName(ref.pool);
    if (await deleteIfPresent(conn, ref.host, where, ref.volume, ALLOCATING_PATIENCE_MS))
      removed.push(describe(ref));
  }
  return removed;
}

/**
 * After a verified move, and when the policy says so, deletes the source copies of the moved
 * disks and notes in the record what went. The move has happened whatever this meets: a failure
 * is noted, never thrown, and the copies left keep their "moving" markers so that the next run
 * removes them. `sameHost`: a pool change within the host, where a disk whose path stays has no
 * separate source copy.
 */
export async function removeSourceVolumes(
  ctx: RunContext,
  disks: DiskPlacement[],
  sources: SourceMarks,
  options: {
    sameHost?: boolean;
    /** Reports the cleanup phase before removing. */
    cleanupPhase?: boolean;
    /** The record's note of the removed volumes (by path). */
    removedAs?: (paths: string[]) => string;
  } = {},
): Promise<void> {
  if (!ctx.policy.removeSourceVolumes) return;
  if (options.cleanupPhase) reportPhase(ctx, "cleanup");
  const host = ctx.plan.from;
  const removed: string[] = [];
  let left: string | undefined;
  try {
    const conn = await ctx.pool.get(host);
    for (const d of disks) {
      if (!d.copy || !d.sourcePath || (options.sameHost && d.sourcePath === d.targetPath)) continue;
      const vol = await volumeByPath(conn, d.sourcePath);
      await conn.storage.deleteVol(vol);
      removed.push(d.sourcePath);
    }
  } catch (err) {
    sources.keepForNextRun();
    left = `could not remove the old source volume(s) on ${host} now (${describeError(err)}); the next run removes them`;
  }
  const removedAs = options.removedAs ?? ((p) => `removed source volumes: ${p.join(", ")}`);
  if (removed.length) ctx.record.step(removedAs(removed));
  if (left) ctx.record.step(left);
}
