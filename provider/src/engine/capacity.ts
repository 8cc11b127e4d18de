// Does the target have room: memory for a running guest that changes host, space in each pool
// the disks are copied into, on its own figures and after what other placements of the same run
// hold there (see ledger.ts). Pure.
import type { Demand, Held, HeldOnTarget } from "./ledger";
import type { Blocker, DiskPlacement, DomainFacts, HostFacts } from "./types";

const MiB = 1024 * 1024;
/** Memory a target needs beyond the guest's own (QEMU and page tables). */
export const MEMORY_OVERHEAD_BYTES = 64 * MiB;

/** What the move needs on the target; undefined when it needs nothing there. */
export function placementDemand(
  domain: DomainFacts,
  source: HostFacts,
  target: HostFacts,
  disks: DiskPlacement[],
): Demand | undefined {
  const memoryBytes =
    target.name !== source.name && domain.running ? domain.memoryBytes + MEMORY_OVERHEAD_BYTES : 0;
  const pools: Record<string, number> = {};
  const poolAccounts: Record<string, string> = {};
  for (const d of disks) {
    if (!d.copy || !d.pool) continue;
    // "Up to" the capacity: a copy may fill the whole disk.
    pools[d.pool] = (pools[d.pool] ?? 0) + d.capacityBytes;
    const shared = target.pools[d.pool]?.sharedStorageKey;
    if (shared) poolAccounts[d.pool] = shared;
  }
  if (!memoryBytes && !Object.keys(pools).length) return undefined;
  return { host: target.name, memoryBytes, pools, poolAccounts };
}

function mib(bytes: number): string {
  return `${Math.round(bytes / MiB)} MiB`;
}

function holdersText(held: Held): string {
  return held.holders
    .map(
      (h) =>
        `${h.claimant === h.domain ? h.claimant : `${h.claimant} (${h.domain})`} ${mib(h.bytes)}`,
    )
    .join(", ");
}

const LATER =
  "place it elsewhere, keep one of those where it is for now, or move it in a later update once those moves are done";

/** INSUFFICIENT_MEMORY on the host's own figure, else HOST_OVERCOMMITTED after what the run holds. */
export function memoryBlockers(
  domain: DomainFacts,
  target: HostFacts,
  demand: Demand | undefined,
  held: HeldOnTarget | undefined,
): Blocker[] {
  if (!demand?.memoryBytes) return [];
  const free = target.freeMemoryBytes;
  if (free < demand.memoryBytes)
    return [
      {
        code: "INSUFFICIENT_MEMORY",
        message: `host ${target.name} has ${Math.floor(free / MiB)} MiB free, but ${domain.name} needs ${Math.ceil(demand.memoryBytes / MiB)} MiB (${domain.memoryBytes / MiB} MiB of guest memory plus overhead); free memory there or choose another host.`,
      },
    ];
  if (held && free - held.memory.bytes < demand.memoryBytes)
    return [
      {
        code: "HOST_OVERCOMMITTED",
        message: `host ${target.name} has ${mib(free)} free, but moves planned in this run hold ${mib(held.memory.bytes)} of it (${holdersText(held.memory)}), leaving ${mib(Math.max(0, free - held.memory.bytes))}; ${domain.name} needs ${mib(demand.memoryBytes)}. Together they would overcommit ${target.name}: ${LATER}.`,
      },
    ];
  return [];
}

/** POOL_TOO_SMALL on the pool's own figure, else POOL_OVERCOMMITTED after what the run holds. */
export function poolBlockers(
  domain: DomainFacts,
  target: HostFacts,
  demand: Demand | undefined,
  held: HeldOnTarget | undefined,
): Blocker[] {
  const out: Blocker[] = [];
  for (const [pool, bytes] of Object.entries(demand?.pools ?? {})) {
    const available = target.pools[pool]?.availableBytes ?? 0;
    const poolHeld = held?.pools[pool];
    if (bytes > available) {
      out.push({
        code: "POOL_TOO_SMALL",
        message: `pool '${pool}' on ${target.name} has ${Math.floor(available / MiB)} MiB available, but the disks moving there need up to ${Math.ceil(bytes / MiB)} MiB; free space or choose another pool.`,
      });
    } else if (poolHeld && bytes > available - poolHeld.bytes) {
      out.push({
        code: "POOL_OVERCOMMITTED",
        message: `pool '${pool}' on ${target.name} has ${mib(available)} available, but disks of moves planned in this run may take ${mib(poolHeld.bytes)} of it (${holdersText(poolHeld)}), leaving ${mib(Math.max(0, available - poolHeld.bytes))}; the disks of ${domain.name} need up to ${mib(bytes)}. Together they could fill the pool: ${LATER}.`,
      });
    }
  }
  return out;
}
