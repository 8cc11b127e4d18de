// Gathers the facts the planner needs, through the libvirt client. Reads only: nothing here
// changes a host.
import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import path from "node:path";
import { constants as C, isNotFound, type Domain, type LibvirtConnection } from "../libvirt";
import { VmpError } from "../errors";
import type { ConnectionPool } from "./connections";
import { parseDomainXml } from "./domain-xml";
import { parsePoolXml } from "./pool-xml";
import type { DefinedCopy } from "./recovery-plan";
import { SharedHostReadings } from "./host-readings";
import { describeState, pausedBeforeRunning } from "./where";
import type { DiskFacts, DomainFacts, HostFacts, PoolFacts } from "./types";

export interface LocatedDomain {
  host: string;
  domain: Domain;
  running: boolean;
  /** libvirt's state, with the reason when paused: "paused (starting up)". For messages. */
  state: string;
  /** Paused before its guest ran here (pausedBeforeRunning): what a migration's target holds. */
  incoming: boolean;
}

export interface Location {
  /** The host running the domain, else the one defining it; undefined: no host has it. */
  found?: LocatedDomain;
  /** Other hosts that define (or run) a domain of the same name. */
  also: LocatedDomain[];
  /** Hosts that did not answer, with why. */
  unreachable: Record<string, string>;
}

/**
 * Finds where a domain is: the host running it, else a host defining it; plus other definitions.
 * Hosts in `skip` are not asked (one already known to be silent would only cost its timeout).
 * `fromListings`: each host's list of domains, shared for a moment by the run's placements, stands
 * in for a lookup per host: for a run that only looks (a preview, a refresh), never for one that
 * acts. A listing may be a moment old, so "on no host" is only believed when asked afresh.
 */
export async function locateDomain(
  pool: ConnectionPool,
  name: string,
  skip: string[] = [],
  options: { fromListings?: boolean } = {},
): Promise<Location> {
  const hits: LocatedDomain[] = [];
  const unreachable: Record<string, string> = {};
  await Promise.all(
    pool.hosts
      .filter((h) => !skip.includes(h.name))
      .map(async (h) => {
        try {
          const conn = await pool.get(h.name);
          const domain = options.fromListings
            ? (await domainListings.get(pool, h.name, () => listedByName(conn))).get(name)
            : await conn.domains.lookupByName(name);
          if (!domain) return;
          const { state, reason } = await conn.domains.state(domain);
          hits.push({
            host: h.name,
            domain,
            running: state !== "shutoff",
            state: describeState(state, reason),
            incoming: pausedBeforeRunning(state, reason),
          });
        } catch (err) {
          if (!isNotFound(err)) unreachable[h.name] = (err as Error).message;
        }
      }),
  );
  if (options.fromListings && !hits.length) return locateDomain(pool, name, skip);
  hits.sort(
    (a, b) =>
      Number(b.running && !b.incoming) - Number(a.running && !a.incoming) ||
      Number(b.running) - Number(a.running) ||
      pool.hosts.findIndex((h) => h.name === a.host) -
        pool.hosts.findIndex((h) => h.name === b.host),
  );
  return { found: hits[0], also: hits.slice(1), unreachable };
}

async function listedByName(conn: LibvirtConnection): Promise<Map<string, Domain>> {
  return new Map((await conn.domains.listAll()).map((d) => [d.name, d]));
}

/** The inventory hosts that did not answer, as "h1 (why); h2 (why)". */
export function describeUnreachable(unreachable: Record<string, string>): string {
  return Object.entries(unreachable)
    .map(([host, why]) => `${host} (${why})`)
    .join("; ");
}

/**
 * Where the domain is, when the hosts that answered can tell. A domain running on a host that
 * answered is there; otherwise a host that did not answer may be running it, so "defined, shut
 * off" or "nowhere" is only an answer once every inventory host has answered.
 */
export function settledLocation(name: string, located: Location): LocatedDomain | undefined {
  if (located.found?.running) return located.found;
  if (Object.keys(located.unreachable).length)
    throw new LocationUnknownError(name, located.unreachable, located.found);
  return located.found;
}

export class LocationUnknownError extends VmpError {
  constructor(
    domain: string,
    readonly unreachable: Record<string, string>,
    definedOn?: LocatedDomain,
  ) {
    super(
      "VMP_LOCATION_UNKNOWN",
      `cannot tell where ${domain} runs: inventory host(s) ${describeUnreachable(unreachable)} did not answer` +
        `${definedOn ? `, and it is only defined (not running) on ${definedOn.host}` : ", and no other host has it"}. ` +
        "Bring those hosts (their libvirtd) back or remove them from the provider's hosts, then run this again; the placement is kept as it was.",
    );
  }
}

/** Bytes of a volume's head hashed for its identity: the qcow2 header and first tables. */
const IDENTITY_HEAD_BYTES = 1024 * 1024;

/**
 * A volume's identity: capacity, allocation and a hash of its head, so a base image of the same
 * name on another host is known to be the same image (not merely the same file name).
 */
export async function volumeIdentity(
  conn: LibvirtConnection,
  filePath: string,
): Promise<string | undefined> {
  return (await identifiedVolume(conn, filePath))?.identity;
}

/** A volume's identity and the bytes it holds on the host; undefined when there is none. */
async function identifiedVolume(
  conn: LibvirtConnection,
  filePath: string,
): Promise<{ identity: string; allocation: number } | undefined> {
  try {
    const vol = await conn.storage.volByPath(filePath);
    const info = await conn.storage.volInfo(vol);
    const { stream, done } = await conn.storage.download(vol, {
      offset: 0,
      length: Math.min(IDENTITY_HEAD_BYTES, info.allocation || IDENTITY_HEAD_BYTES),
    });
    const hash = createHash("sha256");
    await pipeline(
      stream,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          callback();
        },
      }),
    );
    await done;
    return {
      identity: `${info.capacity}:${hash.digest("hex").slice(0, 32)}`,
      allocation: info.allocation,
    };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Identities of a disk's backing files, and the bytes they hold together (a full copy moves them). */
async function backingFacts(
  conn: LibvirtConnection,
  chain: string[],
): Promise<Pick<DiskFacts, "backingIdentities" | "backingAllocationBytes">> {
  // One lookup per file gives both: the identity already reads the volume's allocation.
  const each = await Promise.all(
    chain.map(
      async (b) => (await identifiedVolume(conn, b)) ?? { identity: "unknown", allocation: 0 },
    ),
  );
  return {
    backingIdentities: each.map((e) => e.identity),
    backingAllocationBytes: each.reduce((sum, e) => sum + e.allocation, 0),
  };
}

async function diskFacts(
  conn: LibvirtConnection,
  dom: Domain,
  parsed: ReturnType<typeof parseDomainXml>["disks"][number],
): Promise<DiskFacts> {
  const facts: DiskFacts = {
    target: parsed.target,
    device: parsed.device,
    sourceType: parsed.sourceType,
    path: parsed.path,
    network: parsed.network,
    format: parsed.format,
    readOnly: parsed.readOnly,
    pool: parsed.pool,
    capacityBytes: 0,
    allocationBytes: 0,
    backingChain: parsed.backingChain,
    backingFormats: parsed.backingFormats,
    ...(parsed.backingChain.length ? await backingFacts(conn, parsed.backingChain) : {}),
  };
  // An RBD image is a volume of the host's rbd pool over it, if it has one (path pool/image).
  const volumePath =
    parsed.path ?? (parsed.network?.protocol === "rbd" ? parsed.network.name : undefined);
  if (volumePath) {
    try {
      const vol = await conn.storage.volByPath(volumePath);
      const info = await conn.storage.volInfo(vol);
      return {
        ...facts,
        ...(parsed.path ? { pool: vol.pool } : {}),
        capacityBytes: info.capacity,
        allocationBytes: info.allocation,
      };
    } catch (err) {
      // An RBD image's pool is only a source of sizes: a host whose own Ceph client cannot read
      // it (blocklisted, monitors out of reach) still tells them through the running disk.
      if (!isNotFound(err) && parsed.path) throw err;
    }
  }
  if (parsed.path || parsed.network) {
    const info = await conn.domains.blockInfo(dom, parsed.target).catch(() => undefined);
    if (info)
      return {
        ...facts,
        capacityBytes: info.capacity,
        // An RBD image no pool here lists: a copy of it moves up to its whole size.
        allocationBytes: parsed.network
          ? parsed.network.protocol === "rbd"
            ? info.capacity
            : 0
          : info.allocation,
      };
  }
  return facts;
}

export async function gatherDomainFacts(
  conn: LibvirtConnection,
  host: string,
  dom: Domain,
  /** Whether it runs, when the caller has just read its state (one call fewer). */
  knownRunning?: boolean,
): Promise<DomainFacts> {
  // The migratable XML is what the target receives; only the full XML shows backing chains.
  const [xml, fullXml, running, persistent, snapshotCount] = await Promise.all([
    conn.domains.xml(dom, C.virDomainXMLFlags.VIR_DOMAIN_XML_MIGRATABLE),
    conn.domains.xml(dom),
    knownRunning ?? conn.domains.isActive(dom),
    conn.domains.isPersistent(dom),
    conn.domains.snapshotCount(dom),
  ]);
  // The definition a cold boot uses may name other files than the running domain (a pivot whose
  // definition update was cut short); both count as in use.
  const inactiveXml =
    running && persistent
      ? await conn.domains.xml(dom, C.virDomainXMLFlags.VIR_DOMAIN_XML_INACTIVE)
      : fullXml;
  const parsed = parseDomainXml(fullXml);
  // A domain that is not running (or not persistent) has one definition: parsed once.
  const definition = inactiveXml === fullXml ? parsed : parseDomainXml(inactiveXml);
  const persistentDiskPaths = definition.disks
    .map((d) => d.path)
    .filter((p): p is string => p !== undefined);
  const disks = await Promise.all(parsed.disks.map((d) => diskFacts(conn, dom, d)));
  return {
    name: parsed.name,
    uuid: parsed.uuid,
    host,
    running,
    persistent,
    memoryBytes: parsed.memoryBytes,
    vcpus: parsed.vcpus,
    cpuXml: parsed.cpuXml,
    cpuMode: parsed.cpuMode,
    virtType: parsed.virtType,
    arch: parsed.arch,
    machine: parsed.machine,
    nvram: parsed.nvram,
    disks,
    hostDevices: parsed.hostDevices,
    snapshotCount,
    xml,
    persistentDiskPaths,
    moveMarker: definition.moveMarker ?? parsed.moveMarker,
  };
}

/** The move marker each definition of a domain carries (its persistent one, where it has one). */
export async function markedCopies(
  pool: ConnectionPool,
  copies: LocatedDomain[],
): Promise<DefinedCopy[]> {
  return Promise.all(
    copies.map(async (c) => {
      const conn = await pool.get(c.host);
      const xml = await conn.domains.xml(c.domain, C.virDomainXMLFlags.VIR_DOMAIN_XML_INACTIVE);
      return { host: c.host, running: c.running, marker: parseDomainXml(xml).moveMarker };
    }),
  );
}

async function poolFacts(conn: LibvirtConnection): Promise<Record<string, PoolFacts>> {
  const pools = await conn.storage.listPools();
  const out: Record<string, PoolFacts> = {};
  await Promise.all(
    pools.map(async (p) => {
      const [xml, info] = await Promise.all([conn.storage.poolXml(p), conn.storage.poolInfo(p)]);
      const parsed = parsePoolXml(xml);
      const active = info.state === "running";
      const volumes = active ? (await conn.storage.listVolumes(p)).map((v) => v.name) : [];
      out[p.name] = {
        name: p.name,
        type: parsed.type,
        active,
        path: parsed.path,
        sharedStorageKey: parsed.sharedStorageKey,
        ...(parsed.sharedStorage ? { sharedStorage: parsed.sharedStorage } : {}),
        ...(parsed.rbd ? { rbd: parsed.rbd } : {}),
        capacityBytes: info.capacity,
        availableBytes: info.available,
        volumes,
      };
    }),
  );
  return out;
}

/** Facts of one host; an unreachable host is reported as such rather than failing. */
export async function gatherHostFacts(
  pool: ConnectionPool,
  name: string,
  domain?: DomainFacts,
): Promise<HostFacts | undefined> {
  const inv = pool.host(name);
  if (!inv) return undefined;
  const base: HostFacts = {
    name,
    reachable: false,
    uri: inv.peerUri ?? inv.uri,
    migrationAddress: inv.migrationAddress,
    ...(inv.migrationTlsName ? { migrationTlsName: inv.migrationTlsName } : {}),
    freeMemoryBytes: 0,
    pools: {},
  };
  let conn: LibvirtConnection;
  try {
    conn = await pool.get(name);
  } catch (err) {
    return { ...base, unreachableReason: (err as Error).message };
  }
  const [{ freeMemoryBytes, pools }, cpuCompatible] = await Promise.all([
    sharedHostReading(pool, name, conn),
    cpuRunsOn(pool, name, conn, domain),
  ]);
  const volumeIdentities = await backingIdentitiesOn(conn, pools, domain);
  return { ...base, reachable: true, freeMemoryBytes, pools, cpuCompatible, volumeIdentities };
}

/**
 * Starts reading the hosts' free memory and pools, for the host facts gathered moments later
 * to take: the pools are listed while the domain is still being read. Failures are left to the
 * reading that takes it.
 */
export function readHostsAhead(pool: ConnectionPool, hosts: string[]): void {
  for (const host of new Set(hosts))
    if (pool.host(host))
      pool
        .get(host)
        .then((conn) => sharedHostReading(pool, host, conn))
        .catch(() => undefined);
}

type HostReading = { freeMemoryBytes: number; pools: Record<string, PoolFacts> };
const hostReadings = new SharedHostReadings<HostReading>();
/** Each host's domains by name, for a run that only looks (a preview, a refresh). */
const domainListings = new SharedHostReadings<Map<string, Domain>>();

function sharedHostReading(
  pool: ConnectionPool,
  host: string,
  conn: LibvirtConnection,
): Promise<HostReading> {
  return hostReadings.get(pool, host, () =>
    Promise.all([conn.host.freeMemory(), poolFacts(conn)]).then(([freeMemoryBytes, pools]) => ({
      freeMemoryBytes,
      pools,
    })),
  );
}

/** After a move (or anything that changed memory, volumes or domains there): read the hosts afresh. */
export function forgetHostReadings(pool: ConnectionPool, ...hosts: string[]): void {
  hostReadings.forget(pool, hosts);
  domainListings.forget(pool, hosts);
}

/** Identities of the files on this host that stand where the domain's backing chains would. */
async function backingIdentitiesOn(
  conn: LibvirtConnection,
  pools: Record<string, PoolFacts>,
  domain: DomainFacts | undefined,
): Promise<Record<string, string>> {
  const names = new Set(domain?.disks.flatMap((d) => d.backingChain.map((b) => path.basename(b))));
  const paths = Object.values(pools).flatMap((p) =>
    p.path ? [...names].filter((n) => p.volumes.includes(n)).map((n) => path.join(p.path!, n)) : [],
  );
  const out: Record<string, string> = {};
  for (const p of paths) {
    const id = await volumeIdentity(conn, p);
    if (id) out[p] = id;
  }
  return out;
}

/** Whether the domain's custom CPU model runs on a host's hypervisor (undefined: not checkable). */
export async function cpuRunsOn(
  pool: ConnectionPool,
  host: string,
  conn: LibvirtConnection,
  domain: DomainFacts | undefined,
): Promise<boolean | undefined> {
  if (domain?.cpuMode !== "custom" || !domain.cpuXml) return undefined;
  const { cpuXml, arch, virtType: virttype, machine } = domain;
  // Guests of a fleet share a few CPU definitions: one comparison per host serves them all.
  const key = JSON.stringify([host, cpuXml, arch, virttype, machine]);
  const result = await cpuComparisons
    .get(pool, key, () => conn.host.compareHypervisorCpu(cpuXml, { arch, virttype, machine }))
    .catch(() => undefined);
  return result === undefined ? undefined : result !== "incompatible";
}

const cpuComparisons = new SharedHostReadings<string>();
