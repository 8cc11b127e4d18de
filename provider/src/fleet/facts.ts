// The facts a fleet solve needs, gathered from the hosts: each host's free and total memory, CPU
// model, pools and labels; each VM's host, memory, the disk bytes a move would copy, host devices
// and whether its CPU ties it to a model. Hosts are asked side by side; an unreachable one is a
// fact too (its VMs are then found nowhere).
import {
  gatherFleetDomain,
  gatherFleetHost,
  type ConnectionPool,
  type DomainFacts,
} from "../engine";
import type { FleetHost, FleetVm } from "./solver";

interface HostScan {
  host: FleetHost;
  running: string[];
  /** Pools on storage every host reaches: disks in them are not copied. */
  sharedPools: Set<string>;
}

async function scanHost(pool: ConnectionPool, name: string): Promise<HostScan> {
  const labels = pool.host(name)?.labels ?? {};
  const scan = await gatherFleetHost(pool, name);
  if (!scan)
    return {
      host: {
        name,
        reachable: false,
        labels,
        freeMemoryBytes: 0,
        totalMemoryBytes: 0,
        allocatedMemoryBytes: 0,
        poolFreeBytes: {},
      },
      running: [],
      sharedPools: new Set(),
    };
  const pools = Object.values(scan.facts.pools);
  return {
    host: {
      name,
      reachable: true,
      labels,
      freeMemoryBytes: scan.facts.freeMemoryBytes,
      totalMemoryBytes: scan.totalMemoryBytes,
      allocatedMemoryBytes: scan.allocatedMemoryBytes,
      ...(scan.cpuModel ? { cpuModel: scan.cpuModel } : {}),
      poolFreeBytes: Object.fromEntries(pools.map((p) => [p.name, p.availableBytes])),
    },
    running: scan.running,
    sharedPools: new Set(pools.filter((p) => p.sharedStorageKey !== undefined).map((p) => p.name)),
  };
}

/** What a move of this VM copies, needs and cannot take along. */
function vmOf(domain: DomainFacts, host: FleetHost, sharedPools: Set<string>): FleetVm {
  // Disks on network storage or in a shared pool stay where they are; the rest are copied.
  const copied = domain.disks.filter(
    (d) => d.device === "disk" && !d.readOnly && !d.network && !(d.pool && sharedPools.has(d.pool)),
  );
  const mode = domain.cpuMode;
  return {
    domain: domain.name,
    currentHost: host.name,
    memoryBytes: domain.memoryBytes,
    copiedDiskBytes: copied.reduce(
      (n, d) => n + d.allocationBytes + (d.backingAllocationBytes ?? 0),
      0,
    ),
    ...(copied[0]?.pool ? { storagePool: copied[0].pool } : {}),
    localDevices: domain.hostDevices,
    // A guest that sees the host's own CPU can only go where that CPU is.
    ...((mode === "host-passthrough" || mode === "host-model") && host.cpuModel
      ? { requiredCpuModel: host.cpuModel }
      : {}),
  };
}

/**
 * `lastKnown` (domain -> host, the group's previous assignments) places a VM found nowhere on the
 * host it was assigned, when that host does not answer: a cordon then assigns it elsewhere, and
 * its VmPlacement fails it over. What it holds is not known then, so it counts as nothing.
 */
export async function gatherFleetFacts(
  pool: ConnectionPool,
  hostNames: string[],
  domains: string[],
  lastKnown: Record<string, string> = {},
): Promise<{ hosts: FleetHost[]; vms: FleetVm[] }> {
  const scans = await Promise.all(hostNames.map((h) => scanHost(pool, h)));
  const wanted = new Set(domains);
  // A domain seen on two hosts (a move's last instant) counts where the inventory lists first.
  const where = new Map<string, HostScan>();
  for (const scan of scans)
    for (const d of scan.running) if (wanted.has(d) && !where.has(d)) where.set(d, scan);
  const vms = await Promise.all(
    [...where].map(async ([name, scan]) =>
      vmOf(await gatherFleetDomain(pool, scan.host.name, name), scan.host, scan.sharedPools),
    ),
  );
  const silent = new Set(scans.filter((s) => !s.host.reachable).map((s) => s.host.name));
  const onLostHosts: FleetVm[] = domains
    .filter((d) => !where.has(d) && silent.has(lastKnown[d]))
    .map((d) => ({
      domain: d,
      currentHost: lastKnown[d],
      memoryBytes: 0,
      copiedDiskBytes: 0,
      localDevices: [],
    }));
  return { hosts: scans.map((s) => s.host), vms: [...vms, ...onLostHosts] };
}
