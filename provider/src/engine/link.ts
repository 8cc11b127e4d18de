// Which link rate a forecast uses, and where it came from: the policy's bandwidth cap binds the
// move; otherwise what the operator stated for the hosts, otherwise what earlier moves between
// the same hosts reached, otherwise a stated default. Pure.
import type { MigrationPolicy } from "./types";

/** The rate assumed when nothing better is known; the plan says so. */
export const DEFAULT_LINK_MIBPS = 1024;

/** A rate an earlier move between two hosts reached. */
export interface MeasuredLink {
  from: string;
  to: string;
  mibps: number;
  /**
   * The rate QEMU itself measured for its memory passes (MiB/s), when known: higher than the
   * move's overall rate, which includes setup and the guest's competition for the source's CPU.
   * QEMU judges whether what is left fits the downtime by it.
   */
  passMibps?: number;
  /** When it was measured (ISO time), for the plan to say. */
  at: string;
}

/** What a finished move tells later plans of the link between its hosts, if anything. */
export function measuredLinkOf(record: {
  from: string;
  to: string;
  linkMibps?: number;
  passMibps?: number;
  finishedAt: string;
  result?: string;
}): MeasuredLink | undefined {
  if (!record.linkMibps || (record.result !== undefined && record.result !== "succeeded"))
    return undefined;
  return {
    from: record.from,
    to: record.to,
    mibps: record.linkMibps,
    ...(record.passMibps ? { passMibps: record.passMibps } : {}),
    at: record.finishedAt,
  };
}

export interface LinkFacts {
  /** `migrationLinkMibps` of the source and target in the provider's inventory, when set. */
  inventory?: { source?: number; target?: number };
  /** Rates measured by earlier moves (any pair; the matching one is used). */
  measured?: MeasuredLink[];
}

export interface LinkChoice {
  mibps: number;
  source: string;
  /**
   * The rate post-copy runs at: QEMU lifts the pre-copy cap once post-copy starts, so it is the
   * policy's postcopyBandwidthMibps, else what the link itself carries.
   */
  postcopyMibps: number;
  /**
   * The rate QEMU measures during its passes and compares what is left against (when measured
   * and above `mibps`); `mibps` otherwise.
   */
  switchMibps?: number;
  /** Nothing is known of the link: the figure is DEFAULT_LINK_MIBPS. */
  assumed?: true;
}

/** How many of the newest measurements between two hosts the link figure looks at. */
const RECENT_MEASUREMENTS = 3;

/**
 * What the link between these two hosts (either direction) carries, from earlier moves: the
 * highest of the newest few. A move is slowed by its guest as well (a busy vCPU competes with
 * the migration thread on the source), never sped up, so the fastest recent one says most.
 */
export function measuredBetween(
  measured: MeasuredLink[] | undefined,
  a: string,
  b: string,
): MeasuredLink | undefined {
  return (measured ?? [])
    .filter((m) => (m.from === a && m.to === b) || (m.from === b && m.to === a))
    .filter((m) => Number.isFinite(m.mibps) && m.mibps > 0)
    .sort((x, y) => y.at.localeCompare(x.at))
    .slice(0, RECENT_MEASUREMENTS)
    .sort((x, y) => y.mibps - x.mibps)[0];
}

export function chooseLink(
  policy: MigrationPolicy,
  from: string,
  to: string,
  facts: LinkFacts = {},
): LinkChoice {
  const physical = physicalLink(from, to, facts);
  const postcopyCap = policy.postcopyBandwidthMibps;
  const postcopyMibps =
    postcopyCap > 0
      ? Math.min(postcopyCap, physical?.mibps ?? Infinity)
      : (physical?.mibps ?? DEFAULT_LINK_MIBPS);
  // A cap above what the link carries does not make the move faster.
  if (policy.bandwidthMibps > 0 && (!physical || policy.bandwidthMibps <= physical.mibps))
    return { mibps: policy.bandwidthMibps, source: "policy bandwidthMibps", postcopyMibps };
  // QEMU's passes run no faster than a cap the link itself cannot reach.
  const switchMibps =
    physical?.switchMibps && policy.bandwidthMibps > 0
      ? Math.max(physical.mibps, Math.min(policy.bandwidthMibps, physical.switchMibps))
      : physical?.switchMibps;
  return {
    ...(physical ?? {
      mibps: DEFAULT_LINK_MIBPS,
      source: `assumed ${DEFAULT_LINK_MIBPS} MiB/s (set migrationLinkMibps on the hosts, or a move measures it)`,
      assumed: true as const,
    }),
    ...(switchMibps ? { switchMibps } : {}),
    postcopyMibps,
  };
}

/** What the link between the hosts carries, as stated in the inventory or measured before. */
function physicalLink(
  from: string,
  to: string,
  facts: LinkFacts,
): Omit<LinkChoice, "postcopyMibps"> | undefined {
  const stated = [facts.inventory?.source, facts.inventory?.target].filter(
    (v): v is number => v !== undefined && v > 0,
  );
  if (stated.length)
    return {
      mibps: Math.min(...stated),
      source: `inventory migrationLinkMibps${stated.length === 2 ? ` (the lower of ${from} and ${to})` : ""}`,
    };
  const earlier = measuredBetween(facts.measured, from, to);
  if (earlier)
    return {
      mibps: earlier.mibps,
      source: `measured by the move ${earlier.from} -> ${earlier.to} at ${earlier.at}${earlier.passMibps ? ` (QEMU's passes ran at ${earlier.passMibps} MiB/s)` : ""}`,
      ...(earlier.passMibps && earlier.passMibps > earlier.mibps
        ? { switchMibps: earlier.passMibps }
        : {}),
    };
  return undefined;
}
