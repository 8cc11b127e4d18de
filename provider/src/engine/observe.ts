// Where a domain is and what it looks like there, as a placement's state records it: its host,
// UUID, disks and (for a placement that may fail over) its definition. Reads only.
import { constants as C } from "../libvirt";
import type { ConnectionPool } from "./connections";
import { withoutMoveMarker } from "./domain-xml";
import { gatherDomainFacts, locateDomain, settledLocation, type LocatedDomain } from "./gather";
import type { EarlyMeasurements } from "./early-measure";
import { describeState } from "./where";

const { VIR_DOMAIN_XML_INACTIVE: XML_INACTIVE, VIR_DOMAIN_XML_MIGRATABLE: XML_MIGRATABLE } =
  C.virDomainXMLFlags;

export interface ObservedDisk {
  target: string;
  pool: string | null;
  path: string | null;
  capacityBytes: number;
}

export interface ObservedDomain {
  currentHost: string;
  currentDisks: ObservedDisk[];
  domainUuid: string;
  /** The persistent definition in the form another host takes, without a move's note. */
  definitionXml?: string;
}

/** The domain as it is, and whether an interrupted move may have left something of it. */
export interface Observation {
  domain: ObservedDomain;
  /** A move's note or a second definition. */
  interrupted: boolean;
}

export interface ObserveOptions {
  /** Where the domain is may come from host listings shared for a moment (locateDomain). */
  fromListings?: boolean;
  /** Keep the definition too (it carries the domain's secrets: only for a failover). */
  definition?: boolean;
  /**
   * Start the running guest's dirty-rate calculation over this many seconds in the background,
   * for an update that may follow (0 or unset: none).
   */
  measureAheadSeconds?: number;
  /** Where calculations started ahead are kept for the plan (the engine's own). */
  earlyMeasurements?: EarlyMeasurements;
}

/**
 * Where the domain is now, asking every inventory host; undefined only when every host answered
 * that it has no such domain. Throws LocationUnknownError when silent hosts leave it open.
 */
export async function observeDomain(
  pool: ConnectionPool,
  domain: string,
  options: ObserveOptions = {},
): Promise<Observation | undefined> {
  const located = await locateDomain(pool, domain, [], { fromListings: options.fromListings });
  const found = settledLocation(domain, located);
  if (!found) return undefined;
  return describe(pool, found, located.also.length > 0, options);
}

/**
 * The domain as it is on `host`, where a move just verified it runs: no other host is asked.
 * Undefined when the host does not have it.
 */
export async function observeDomainOn(
  pool: ConnectionPool,
  host: string,
  domain: string,
  options: ObserveOptions = {},
): Promise<ObservedDomain | undefined> {
  const conn = await pool.get(host);
  const dom = await conn.domains.lookupByName(domain).catch(() => undefined);
  if (!dom) return undefined;
  const { state, reason } = await conn.domains.state(dom);
  const found = {
    host,
    domain: dom,
    running: state !== "shutoff",
    state: describeState(state, reason),
    incoming: false,
  };
  return (await describe(pool, found, false, options)).domain;
}

async function describe(
  pool: ConnectionPool,
  found: LocatedDomain,
  elsewhere: boolean,
  options: ObserveOptions,
): Promise<Observation> {
  const conn = await pool.get(found.host);
  const facts = await gatherDomainFacts(conn, found.host, found.domain, found.running);
  if (options.measureAheadSeconds && options.earlyMeasurements && facts.running)
    await options.earlyMeasurements.start(
      conn,
      found.host,
      found.domain,
      options.measureAheadSeconds,
      facts.nvram !== undefined,
    );
  // The persistent definition (what a cold boot uses), in the form another host takes: what a
  // failover defines when this host is lost. The note of a move in progress is not part of it.
  const definitionXml = !options.definition
    ? undefined
    : withoutMoveMarker(
        facts.persistent
          ? await conn.domains.xml(found.domain, XML_INACTIVE | XML_MIGRATABLE)
          : facts.xml,
      );
  const observed: ObservedDomain = {
    currentHost: found.host,
    domainUuid: facts.uuid,
    ...(definitionXml ? { definitionXml } : {}),
    currentDisks: facts.disks
      .filter((d) => d.device === "disk" || d.device === "lun")
      .map((d) => ({
        target: d.target,
        pool: d.pool ?? null,
        path: d.path ?? null,
        capacityBytes: d.capacityBytes,
      })),
  };
  return { domain: observed, interrupted: !!facts.moveMarker || elsewhere };
}
