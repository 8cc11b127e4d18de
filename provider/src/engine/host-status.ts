// A host as the getHosts function reports it: whether it answers, its free memory, CPU model,
// pools and the domains it runs. Reads only.
import { constants as C } from "../libvirt";
import type { ConnectionPool } from "./connections";
import { hostCpuModel } from "./fleet-scan";
import { gatherHostFacts } from "./gather";

export interface HostStatus {
  name: string;
  reachable: boolean;
  unreachableReason?: string;
  freeMemoryBytes: number;
  cpuModel?: string;
  pools: Array<{
    name: string;
    type: string;
    active: boolean;
    shared: boolean;
    capacityBytes: number;
    freeBytes: number;
  }>;
  runningDomains: string[];
}

export async function hostStatus(pool: ConnectionPool, name: string): Promise<HostStatus> {
  const facts = await gatherHostFacts(pool, name);
  const base = { name, reachable: false, freeMemoryBytes: 0, pools: [], runningDomains: [] };
  if (!facts?.reachable)
    return { ...base, unreachableReason: facts?.unreachableReason ?? "not in the inventory" };
  const conn = await pool.get(name);
  const { VIR_CONNECT_LIST_DOMAINS_ACTIVE } = C.virConnectListAllDomainsFlags;
  const [model, running] = await Promise.all([
    hostCpuModel(conn).catch(() => undefined),
    conn.domains.listAll(VIR_CONNECT_LIST_DOMAINS_ACTIVE),
  ]);
  return {
    name,
    reachable: true,
    freeMemoryBytes: facts.freeMemoryBytes,
    ...(model ? { cpuModel: model } : {}),
    pools: Object.values(facts.pools)
      .map((p) => ({
        name: p.name,
        type: p.type,
        active: p.active,
        shared: p.sharedStorageKey !== undefined,
        capacityBytes: p.capacityBytes,
        freeBytes: p.availableBytes,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    runningDomains: running.map((d) => d.name).sort(),
  };
}
