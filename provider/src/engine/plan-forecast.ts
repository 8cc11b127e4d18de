// The forecast a plan carries: the convergence model fed with the measured facts (resident
// memory, dirty rate, what the disks really hold, the chosen link), with each figure's source
// named. Pure.
import { forecastLiveMove } from "./forecast";
import type { LinkChoice } from "./link";
import { downtimeSteps } from "./policy";
import type {
  DiskPlacement,
  DomainFacts,
  ForecastSources,
  MigrationMode,
  MigrationPolicy,
  PlanForecast,
} from "./types";

const MiB = 1024 * 1024;
/**
 * A live move's fixed cost: connecting, starting the target QEMU, scanning memory for zero
 * pages, the handshake and verifying. About 0.7 s for a guest that holds next to nothing, through
 * the engine (0.70 s) and through plain virsh (0.73 s) alike (bench/forecast.ts, QEMU 7.2).
 */
export const SETUP_SECONDS = 0.7;
/** An offline move's: defining on the target and opening the volume streams. */
export const OFFLINE_SETUP_SECONDS = 0.2;
/**
 * What QEMU holds for itself within its resident size (code, libraries, firmware and ROM
 * copies): a lab guest on QEMU 7.2 that touched under 1 MiB is 38.2 MiB resident at 256 MiB
 * and 38.4 MiB at 2 GiB. It is not guest memory and never crosses the link.
 */
export const QEMU_OWN_BYTES = 37.75 * MiB;
/** QEMU sends every page it does not hold as a zero-page header (8 bytes and a flag byte). */
const ZERO_PAGE_BYTES = 9;
const PAGE_BYTES = 4096;
/** Device state and the final handshake at the switch-over, on top of the memory left. */
export const SWITCHOVER_MS = 20;

/** Seconds to a tenth: a short move's forecast is not rounded up by a whole second. */
const tenths = (seconds: number) => Math.round(seconds * 10) / 10;

/** QEMU's default xbzrle cache (libvirt leaves it unless told): resent pages beyond it go whole. */
export const XBZRLE_CACHE_BYTES = 64 * MiB;
/** Assumed: an xbzrle delta of a rewritten page takes half the page. */
export const XBZRLE_DELTA_RATIO = 0.5;
/** Assumed: zlib at QEMU's level 1 halves guest memory. */
export const MT_WIRE_RATIO = 0.5;

/** How the stream options change the bytes the forecast puts on the wire, and in words. */
export function streamEffect(policy: MigrationPolicy): {
  wireRatio?: number;
  xbzrle?: { cacheBytes: number; deltaRatio: number };
  source: string;
} {
  const parallel = policy.parallelConnections > 1;
  const parts: string[] = [];
  if (parallel)
    parts.push(
      `${policy.parallelConnections} parallel connections${policy.bandwidthMibps > 0 ? " share the bandwidth cap" : " (the link figure is for all of them)"}`,
    );
  if (policy.tls) parts.push("TLS");
  let effect: { wireRatio?: number; xbzrle?: { cacheBytes: number; deltaRatio: number } } = {};
  if (policy.compression === "xbzrle" && parallel) {
    parts.push("xbzrle not applied (QEMU sends pages over parallel connections whole)");
  } else if (policy.compression === "xbzrle") {
    effect = { xbzrle: { cacheBytes: XBZRLE_CACHE_BYTES, deltaRatio: XBZRLE_DELTA_RATIO } };
    parts.push(
      `xbzrle: resent pages within its ${XBZRLE_CACHE_BYTES / MiB} MiB cache assumed to take ${XBZRLE_DELTA_RATIO * 100}% (encoded on the source's migration thread)`,
    );
  } else if (policy.compression === "mt") {
    effect = { wireRatio: MT_WIRE_RATIO };
    parts.push(
      `mt compression assumed to take memory to ${MT_WIRE_RATIO * 100}% on the wire (zlib on the source's CPUs, which can bound the rate)`,
    );
  }
  return { ...effect, source: parts.length ? parts.join("; ") : "one plain connection" };
}

/** The forecast of a plan that moves nothing. */
export const NOTHING_TO_MOVE: PlanForecast = Object.freeze({
  verdict: "not-live",
  escalation: "none",
  passes: 0,
  durationSeconds: 0,
  downtimeMs: 0,
  memoryBytes: 0,
  memoryBytesSent: 0,
  diskBytes: 0,
  linkMibps: 0,
  dirtyRateMibps: 0,
  sources: Object.freeze({
    link: "not needed",
    dirtyRate: "not needed",
    memory: "not moved",
    disks: "not moved",
    stream: "not needed",
  }),
});

/** The memory a live move sends in its first pass, and where that figure came from. */
export function memoryToMove(domain: DomainFacts): { bytes: number; source: string } {
  const configured = domain.memoryBytes;
  // Pages the guest never touched are sent as zero pages, almost free: what QEMU holds is what moves.
  if (domain.residentBytes !== undefined && domain.residentBytes > 0) {
    const resident = domain.residentBytes;
    const held = Math.min(Math.max(0, resident - QEMU_OWN_BYTES), configured);
    const headers = ((configured - held) / PAGE_BYTES) * ZERO_PAGE_BYTES;
    return {
      bytes: Math.round(held + headers),
      source: `resident ${Math.round(resident / MiB)} MiB of ${Math.round(configured / MiB)} MiB configured (balloon.rss), less ~${Math.round(QEMU_OWN_BYTES / MiB)} MiB QEMU holds for itself; untouched pages go as zero-page headers`,
    };
  }
  return {
    bytes: configured,
    source: `configured ${Math.round(configured / MiB)} MiB (resident memory not reported)`,
  };
}

/** The least a guest is taken to be able to dirty during a move, however little it holds. */
const LEAST_DIRTY_BOUND_BYTES = 32 * MiB;

/**
 * Why measuring the dirty rate would tell nothing, if it would not: when everything the guest
 * could dirty (twice the guest memory it holds, to allow for growth, at least 32 MiB, at most its
 * configured size) goes over the link within one downtime, pre-copy converges in one pass
 * whatever the guest dirties.
 */
export function needlessToMeasure(
  configuredBytes: number,
  residentBytes: number | undefined,
  link: LinkChoice,
  policy: MigrationPolicy,
): string | undefined {
  // Against an assumed link the rule could skip a guest that matters: measure it.
  if (!(residentBytes && residentBytes > 0) || link.assumed) return undefined;
  const held = Math.max(0, residentBytes - QEMU_OWN_BYTES);
  const bound = Math.min(configuredBytes, Math.max(2 * held, LEAST_DIRTY_BOUND_BYTES));
  const ms = (bound / (link.mibps * MiB)) * 1000;
  if (ms > policy.maxDowntimeMs) return undefined;
  return `not measured: all ${Math.round(bound / MiB)} MiB it could dirty goes in ${Math.ceil(ms)} ms at ${link.mibps} MiB/s, within maxDowntimeMs ${policy.maxDowntimeMs}, so pre-copy converges at any rate`;
}

function dirtyRateSource(domain: DomainFacts): { bps: number; source: string } {
  const m = domain.memoryMeasurement;
  if (m?.needless) return { bps: 0, source: m.needless };
  if (domain.dirtyRateBps !== undefined)
    return {
      bps: domain.dirtyRateBps,
      source: !m
        ? "measured"
        : `measured over ${m.windowSeconds} s (QEMU dirty-rate calculation${m.startedEarlierMs === undefined ? "" : `, started by the refresh ${(m.startedEarlierMs / 1000).toFixed(1)} s before the plan`})`,
    };
  return {
    bps: 0,
    source: m?.problem ? `not measured (${m.problem}); assumed 0` : "not measured; assumed 0",
  };
}

function diskSource(mode: MigrationMode, disks: DiskPlacement[]): string {
  const copied = disks.filter((d) => d.copy);
  if (!copied.length) return "nothing copied (shared storage or no disks)";
  if (mode === "live-copy-incremental")
    return "allocation of the top layers (backing chain on the target)";
  if (mode === "offline")
    return "allocation of the top layers (an offline copy moves no backing files)";
  return "allocation of the copied disks, backing chains included";
}

/** Seconds until the ladder gives up on a pre-copy that does not converge. */
function secondsUntilAbort(policy: MigrationPolicy, completionTimeoutSeconds: number): number {
  const ladder = (downtimeSteps(policy).length + 1) * policy.progressTimeoutSeconds;
  return Math.min(ladder, completionTimeoutSeconds);
}

export function forecastPlan(
  mode: MigrationMode,
  domain: DomainFacts,
  disks: DiskPlacement[],
  link: LinkChoice,
  policy: MigrationPolicy,
  completionTimeoutSeconds: number,
): PlanForecast {
  const diskBytes = disks.reduce((sum, d) => sum + d.bytesToCopy, 0);
  const linkBps = link.mibps * MiB;
  const memory = memoryToMove(domain);
  const dirty = dirtyRateSource(domain);
  const stream = streamEffect(policy);
  const sources: ForecastSources = {
    link: link.source,
    dirtyRate: dirty.source,
    memory: memory.source,
    disks: diskSource(mode, disks),
    stream: stream.source,
  };
  const common = { diskBytes, linkMibps: link.mibps, dirtyRateMibps: dirty.bps / MiB, sources };
  if (mode === "none") return NOTHING_TO_MOVE;
  if (!mode.startsWith("live")) {
    const seconds = tenths(diskBytes / linkBps + OFFLINE_SETUP_SECONDS);
    return {
      ...common,
      verdict: "not-live",
      escalation: "none",
      passes: 0,
      durationSeconds: seconds,
      // Offline, the guest is down for the whole copy; a block copy pivots without a pause.
      downtimeMs: mode === "offline" ? Math.round(seconds * 1000) : 0,
      memoryBytes: 0,
      memoryBytesSent: 0,
      sources: { ...sources, dirtyRate: "not needed", memory: "not moved", stream: "not needed" },
    };
  }
  const f = forecastLiveMove(
    {
      memoryBytes: memory.bytes,
      dirtyRateBps: dirty.bps,
      diskBytes,
      linkBps,
      ...(link.switchMibps ? { switchLinkBps: link.switchMibps * MiB } : {}),
      ...(stream.wireRatio ? { wireRatio: stream.wireRatio } : {}),
      ...(stream.xbzrle ? { xbzrle: stream.xbzrle } : {}),
      postcopyLinkBps: link.postcopyMibps * MiB,
    },
    policy,
  );
  if (f.verdict === "cannot-move-live") {
    // The ladder aborts it: the guest never pauses, and the link is busy until then.
    const seconds = diskBytes / linkBps + secondsUntilAbort(policy, completionTimeoutSeconds);
    return {
      ...common,
      verdict: f.verdict,
      escalation: f.escalation,
      passes: f.passes,
      durationSeconds: tenths(seconds + SETUP_SECONDS),
      downtimeMs: 0,
      memoryBytes: memory.bytes,
      memoryBytesSent: Math.round(linkBps * (seconds - diskBytes / linkBps)),
    };
  }
  return {
    ...common,
    verdict: f.verdict,
    escalation: f.escalation,
    passes: f.passes,
    durationSeconds: tenths(f.durationSeconds + SETUP_SECONDS),
    // A post-copy switch-over is device state only; the model's pause already is that.
    downtimeMs: f.downtimeMs + (f.verdict === "needs-post-copy" ? 0 : SWITCHOVER_MS),
    memoryBytes: memory.bytes,
    memoryBytesSent: Math.round(f.memoryBytesSent),
  };
}
