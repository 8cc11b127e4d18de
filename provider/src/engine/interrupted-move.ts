// Writing and removing the move marker (move-marker.ts), and carrying out the recovery
// recovery-plan.ts decided for a move that was interrupted: stale definitions removed, the VM
// started where its disks are complete, the marker cleared.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { constants as C, isNotFound, type Domain, type LibvirtConnection } from "../libvirt";
import type { ConnectionPool } from "./connections";
import { parseDomainXml } from "./domain-xml";
import { parsePoolXml } from "./pool-xml";
import { MOVE_MARKER_KEY, MOVE_MARKER_NS, moveMarkerElement, type MoveMarker } from "./move-marker";
import type { Recovery } from "./recovery-plan";
import { presence, undefineWithNvram } from "./where";

const { VIR_DOMAIN_AFFECT_LIVE, VIR_DOMAIN_AFFECT_CONFIG } = C.virDomainModificationImpact;

/** A new marker for a move that is about to begin. */
export function newMoveMarker(move: Omit<MoveMarker, "id" | "since">): MoveMarker {
  return { ...move, id: randomBytes(6).toString("hex"), since: new Date().toISOString() };
}

/** The parts of the domain the marker is written to: the running domain, its definition, or both. */
function impact(now: { running: boolean; persistent: boolean }): number {
  return (
    (now.running ? VIR_DOMAIN_AFFECT_LIVE : 0) | (now.persistent ? VIR_DOMAIN_AFFECT_CONFIG : 0)
  );
}

/** Writes the marker on the domain as it is now (`now`: whether it runs, whether it is persistent). */
export async function writeMoveMarker(
  conn: LibvirtConnection,
  name: string,
  marker: MoveMarker,
  now: { running: boolean; persistent: boolean },
): Promise<void> {
  const dom = await conn.domains.lookupByName(name);
  await conn.domains.setMetadataElement(
    dom,
    moveMarkerElement(marker),
    MOVE_MARKER_KEY,
    MOVE_MARKER_NS,
    impact(now),
  );
}

/** Removes the marker where the domain is; false (never a throw) when that cannot be done now. */
export async function clearMoveMarker(
  pool: ConnectionPool,
  host: string,
  name: string,
): Promise<boolean> {
  try {
    const conn = await pool.get(host);
    const now = await presence(conn, name);
    if (!now.defined) return true;
    const dom = await conn.domains.lookupByName(name);
    await conn.domains.setMetadataElement(dom, null, MOVE_MARKER_KEY, MOVE_MARKER_NS, impact(now));
    return true;
  } catch {
    return false;
  }
}

/**
 * Carries out a recovery; returns the steps taken, for the record. Throws when the VM could not be
 * started (the marker then stays, so the next run tries again).
 */
export async function recoverInterruptedMove(
  pool: ConnectionPool,
  recovery: Recovery,
): Promise<string[]> {
  const { domain, keep } = recovery;
  const steps: string[] = [];
  const conn = await pool.get(keep);
  for (const host of recovery.undefine) {
    const other = await pool.get(host);
    // Checked again right before: a copy that runs is never removed.
    if ((await presence(other, domain)).running)
      throw new Error(`${domain} runs on ${host} as well; nothing was removed`);
    await undefineWithNvram(other, await other.domains.lookupByName(domain));
    steps.push(`removed the definition of ${domain} on ${host} that an interrupted move left`);
  }
  if (recovery.start && !(await presence(conn, domain)).running) {
    const dom = await conn.domains.lookupByName(domain);
    const missing = await missingDisks(conn, dom);
    if (missing.length)
      throw new Error(
        `${domain} was not started on ${keep}: its disk(s) ${missing.join(", ")} are not there; restore them, then run this again`,
      );
    await conn.domains.start(dom);
    if (!(await presence(conn, domain)).running)
      throw new Error(`${domain} did not start on ${keep}`);
    steps.push(
      `started ${domain} on ${keep} (disks checked): it ran when the interrupted move ${recovery.marker.from} -> ${recovery.marker.to} began`,
    );
  }
  if (await clearMoveMarker(pool, keep, domain))
    steps.push(`cleared the note of the interrupted move on ${keep}`);
  return steps;
}

/**
 * The file-backed disks of the domain's definition whose file is not in the storage pool whose
 * directory holds it (pools refreshed first). A file outside every pool is left to QEMU, which
 * refuses to start without it.
 */
async function missingDisks(conn: LibvirtConnection, dom: Domain): Promise<string[]> {
  const xml = await conn.domains.xml(dom, C.virDomainXMLFlags.VIR_DOMAIN_XML_INACTIVE);
  const disks = parseDomainXml(xml).disks.filter((d) => d.device === "disk" && d.path);
  if (!disks.length) return [];
  const pools = await Promise.all(
    (await conn.storage.listPools()).map(async (pool) => ({
      pool,
      dir: parsePoolXml(await conn.storage.poolXml(pool)).path,
    })),
  );
  const missing: string[] = [];
  for (const d of disks) {
    const holder = pools.find((p) => p.dir && path.dirname(d.path!) === p.dir);
    if (!holder) continue;
    await conn.storage.refreshPool(holder.pool);
    try {
      await conn.storage.volByPath(d.path!);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      missing.push(`${d.target} (${d.path})`);
    }
  }
  return missing;
}
