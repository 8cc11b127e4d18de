// Pool calls that behave differently when the pool is rbd and the host cannot reach Ceph.
// libvirt waits on librados for up to a minute per call there, and a failed refresh makes it
// stop the pool (which the next move then finds inactive). So: an image that is not made within
// a few seconds has the monitors probed, and gives up when they do not answer; an rbd pool is
// refreshed only after a probe says the monitors answer; and a volume libvirt is still
// allocating (an earlier create waiting on Ceph) is waited for before it is removed.
import { findLibvirtError, type LibvirtConnection, type StoragePool } from "../libvirt";
import { VmpError } from "../errors";
import { sleep } from "../util/sleep";
import { describeError } from "./errors";
import { parsePoolXml } from "./pool-xml";
import { describeProbeFailure, probeCluster, type RbdAccess } from "./storage-access";

/** How long an image may take before the monitors are probed (a healthy cluster: well under 1 s). */
export const RBD_CREATE_PATIENCE_MS = 3_000;
/** How long a volume "still being allocated" is waited for: libvirt's own librados limits (30 s each). */
export const ALLOCATING_PATIENCE_MS = 75_000;
const ALLOCATING_POLL_MS = 1_000;

/** The way into Ceph an rbd pool uses; undefined for other pools. */
async function rbdAccessOf(
  conn: LibvirtConnection,
  pool: StoragePool,
): Promise<RbdAccess | undefined> {
  const parsed = parsePoolXml(await conn.storage.poolXml(pool));
  return parsed.rbd ? { ...parsed.rbd, disks: [], pool: parsed.name } : undefined;
}

function unreachable(problem: unknown, need: RbdAccess, host: string): VmpError {
  const blocker = describeProbeFailure(problem, need, host);
  return new VmpError(blocker.code, `${blocker.code}: ${blocker.message}`);
}

/**
 * Creates a volume. In an rbd pool, a create that has not answered within
 * RBD_CREATE_PATIENCE_MS has the monitors probed from the host; when they do not answer, this
 * gives up with CEPH_UNREACHABLE rather than wait out librados. The create may still finish
 * later: the caller's ownership marker, made first, lets the next run remove that image.
 */
export async function createVolume(
  conn: LibvirtConnection,
  host: string,
  pool: StoragePool,
  xml: string,
): Promise<void> {
  const created = conn.storage.createVol(pool, xml).then(() => "created" as const);
  // Handled from the start: the create may fail (an rbd pool refuses a volume without capacity)
  // before the pool's access is read, and an unhandled rejection would end the process.
  created.catch(() => undefined);
  const need = await rbdAccessOf(conn, pool).catch(() => undefined);
  if (!need) {
    await created;
    return;
  }
  const patience = sleep(RBD_CREATE_PATIENCE_MS).then(() => "slow" as const);
  if ((await Promise.race([created, patience])) === "created") return;
  const probed = probeCluster(conn, need).then((problem) => ({ problem }));
  const first = await Promise.race([created, probed]);
  if (first === "created") return;
  if (first.problem === undefined) {
    await created;
    return;
  }
  throw unreachable(first.problem, need, host);
}

/**
 * Refreshes a pool so that it lists what is on its storage now. An rbd pool is probed first:
 * libvirt stops a pool whose refresh fails, so one whose monitors do not answer is left as it
 * is and the caller fails with CEPH_UNREACHABLE.
 */
export async function refreshPool(
  conn: LibvirtConnection,
  host: string,
  pool: StoragePool,
): Promise<void> {
  const need = await rbdAccessOf(conn, pool);
  if (need) {
    const problem = await probeCluster(conn, need);
    if (problem !== undefined) throw unreachable(problem, need, host);
  }
  await conn.storage.refreshPool(pool);
}

/**
 * Refreshes the host's rbd pools whose monitors answer (each probed first, as above); the others
 * are left as they are. Used where an image another host made must become visible here.
 */
export async function refreshRbdPools(conn: LibvirtConnection): Promise<void> {
  for (const pool of await conn.storage.listPools()) {
    const need = await rbdAccessOf(conn, pool);
    if (need && (await probeCluster(conn, need)) === undefined)
      await conn.storage.refreshPool(pool).catch(() => undefined);
  }
}

/** libvirt refuses to delete a volume while an earlier create of it still runs. */
export const isStillAllocating = (err: unknown): boolean =>
  findLibvirtError(err, "VIR_ERR_OPERATION_INVALID") !== undefined &&
  /still being allocated/.test(describeError(err));

/**
 * Runs `remove` (a volume's deletion); while libvirt says the volume is still being allocated,
 * waits for that create to end (librados gives up within its own limits) and tries again.
 */
export async function afterAllocation<T>(
  remove: () => Promise<T>,
  patienceMs = ALLOCATING_PATIENCE_MS,
  pollMs = ALLOCATING_POLL_MS,
): Promise<T> {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    try {
      return await remove();
    } catch (err) {
      if (!isStillAllocating(err) || Date.now() + pollMs > deadline) throw err;
      await sleep(pollMs);
    }
  }
}
