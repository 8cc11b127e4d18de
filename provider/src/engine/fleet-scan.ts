// What a fleet solve asks of the hosts through libvirt, so that fleet/ needs no connection of its
// own: each host's memory, CPU model and running domains, and a running domain's facts.
import { constants as C, type LibvirtConnection } from "../libvirt";
import type { ConnectionPool } from "./connections";
import { gatherDomainFacts, gatherHostFacts } from "./gather";
import type { DomainFacts, HostFacts } from "./types";
import { objectReader } from "./xml";

const readCapabilities = objectReader();

/** The host CPU model libvirt reports in its capabilities (host/cpu/model). */
export async function hostCpuModel(conn: LibvirtConnection): Promise<string | undefined> {
  const caps = readCapabilities(await conn.host.capabilities(), "capabilities XML") as {
    capabilities?: { host?: { cpu?: { model?: unknown } } };
  };
  const model = caps.capabilities?.host?.cpu?.model;
  // A model with attributes is an object holding its text.
  const text =
    model && typeof model === "object" ? (model as Record<string, unknown>)["#text"] : model;
  return typeof text === "string" ? text : undefined;
}

export interface FleetHostScan {
  facts: HostFacts;
  totalMemoryBytes: number;
  /** Memory given to every VM running there, in the group or not. */
  allocatedMemoryBytes: number;
  cpuModel?: string;
  /** Names of the domains running there. */
  running: string[];
}

/** A host's facts for a fleet solve; undefined when it is not in the inventory or does not answer. */
export async function gatherFleetHost(
  pool: ConnectionPool,
  name: string,
): Promise<FleetHostScan | undefined> {
  const facts = await gatherHostFacts(pool, name);
  if (!facts?.reachable) return undefined;
  const conn = await pool.get(name);
  const { VIR_CONNECT_LIST_DOMAINS_ACTIVE } = C.virConnectListAllDomainsFlags;
  const [node, cpuModel, running] = await Promise.all([
    conn.host.nodeInfo(),
    hostCpuModel(conn).catch(() => undefined),
    conn.domains.listAll(VIR_CONNECT_LIST_DOMAINS_ACTIVE),
  ]);
  // A domain that goes away while it is asked counts as nothing.
  const memories = await Promise.all(
    running.map((d) =>
      conn.domains.info(d).then(
        (i) => i.memoryKiB * 1024,
        () => 0,
      ),
    ),
  );
  return {
    facts,
    totalMemoryBytes: node.memoryKiB * 1024,
    allocatedMemoryBytes: memories.reduce((a, b) => a + b, 0),
    ...(cpuModel ? { cpuModel } : {}),
    running: running.map((d) => d.name),
  };
}

/** The facts of domain `name` on `host`. */
export async function gatherFleetDomain(
  pool: ConnectionPool,
  host: string,
  name: string,
): Promise<DomainFacts> {
  const conn = await pool.get(host);
  return gatherDomainFacts(conn, host, await conn.domains.lookupByName(name));
}
