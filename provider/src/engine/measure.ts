// Measured guest facts for a forecast: how fast the guest dirties memory (QEMU's dirty-rate
// calculation) and how much memory its QEMU really holds (resident set), both read through the
// domain statistics. Bounded: a calculation that does not finish in time gives no figure.
import { constants as C, type Domain, type LibvirtConnection } from "../libvirt";
import { describeError } from "./errors";
import { sleep } from "./where";

const MiB = 1024 * 1024;
const KiB = 1024;
/** QEMU reports the rate right after its window: poll briskly then, not to add to the wait. */
const POLL_MS = 50;

export interface MeasuredMemory {
  /** Bytes per second dirtied over the window; undefined when QEMU could not measure it. */
  dirtyRateBps?: number;
  /** Bytes QEMU holds for the guest (balloon.rss); undefined when not reported. */
  residentBytes?: number;
  /** Why the dirty rate is missing, for the plan to say. */
  dirtyRateProblem?: string;
  /** The guest stopped running while it was measured: its facts are out of date. */
  stopped?: boolean;
}

const { VIR_DOMAIN_STATS_DIRTYRATE, VIR_DOMAIN_STATS_BALLOON, VIR_DOMAIN_STATS_STATE } =
  C.virDomainStatsTypes;
const { VIR_DOMAIN_RUNNING, VIR_DOMAIN_PAUSED } = C.virDomainState;
const { VIR_DOMAIN_DIRTYRATE_MEASURED } = C.virDomainDirtyRateStatus;

/** Starts QEMU's dirty-rate calculation over `seconds`; the result is read with `measuredAfter`. */
export async function startCalc(
  conn: LibvirtConnection,
  dom: Domain,
  seconds: number,
  samplingOnly: boolean,
): Promise<void> {
  // Seen on the lab (QEMU 7.2): a UEFI guest (pflash firmware) stopped while the dirty-bitmap
  // calculation ran; sampling leaves dirty logging alone.
  if (samplingOnly) return conn.domains.startDirtyRateCalc(dom, seconds, "page-sampling");
  // The dirty bitmap counts every dirtied page; sampling (QEMU's default) works where it cannot.
  try {
    await conn.domains.startDirtyRateCalc(dom, seconds, "dirty-bitmap");
  } catch {
    await conn.domains.startDirtyRateCalc(dom, seconds, "page-sampling");
  }
}

/** Measures the running domain's dirty rate over `seconds` and reads its resident memory. */
export async function measureMemory(
  conn: LibvirtConnection,
  dom: Domain,
  seconds: number,
  signal?: AbortSignal,
  samplingOnly = false,
): Promise<MeasuredMemory> {
  try {
    await startCalc(conn, dom, seconds, samplingOnly);
  } catch (err) {
    return { ...(await resident(conn, dom)), dirtyRateProblem: describeError(err) };
  }
  return measuredAfter(conn, dom, seconds, Date.now(), signal);
}

/**
 * The result of a dirty-rate calculation over `seconds` started at `startedAtMs` (by this
 * process's clock), and the resident memory: waits for what is left of the window, then polls.
 */
export async function measuredAfter(
  conn: LibvirtConnection,
  dom: Domain,
  seconds: number,
  startedAtMs: number,
  signal?: AbortSignal,
): Promise<MeasuredMemory> {
  // The result is there after the window; allow as long again (and a little) to report it.
  const waitSeconds = seconds * 2 + 2;
  const deadline = startedAtMs + waitSeconds * 1000;
  await sleep(Math.max(0, startedAtMs + seconds * 1000 - Date.now()), signal);
  while (!signal?.aborted && Date.now() < deadline) {
    const [stats] = await conn.domains.stats(
      [dom],
      VIR_DOMAIN_STATS_DIRTYRATE | VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_STATE,
    );
    const p = stats?.params ?? {};
    const state = Number(p["state.state"]);
    if (state !== VIR_DOMAIN_RUNNING && state !== VIR_DOMAIN_PAUSED) {
      // Killed, crashed or powered off in the window: no rate will come.
      return { stopped: true, dirtyRateProblem: `the guest stopped while it was measured` };
    }
    if (Number(p["dirtyrate.calc_status"]) === VIR_DOMAIN_DIRTYRATE_MEASURED) {
      const rate = Number(p["dirtyrate.megabytes_per_second"]);
      return {
        dirtyRateBps: Number.isFinite(rate) ? rate * MiB : undefined,
        residentBytes: residentFrom(p),
      };
    }
    await sleep(POLL_MS, signal);
  }
  return {
    ...(await resident(conn, dom)),
    dirtyRateProblem: signal?.aborted
      ? "cancelled"
      : `QEMU did not report a dirty rate within ${waitSeconds} s`,
  };
}

function residentFrom(p: Record<string, unknown>): number | undefined {
  const rss = Number(p["balloon.rss"]);
  return Number.isFinite(rss) && rss > 0 ? rss * KiB : undefined;
}

/** The memory QEMU holds for the running domain (balloon.rss), when it says. */
export async function residentMemory(
  conn: LibvirtConnection,
  dom: Domain,
): Promise<number | undefined> {
  return (await resident(conn, dom)).residentBytes;
}

async function resident(conn: LibvirtConnection, dom: Domain): Promise<MeasuredMemory> {
  const [stats] = await conn.domains.stats([dom], VIR_DOMAIN_STATS_BALLOON).catch(() => []);
  return { residentBytes: stats ? residentFrom(stats.params) : undefined };
}

/**
 * Bounds how many guests of one host are measured at once: QEMU computes each dirty rate
 * itself, so a preview of many placements must not start them all on one host together.
 */
export class MeasureGate {
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(private readonly perHost = 4) {}

  async run<T>(host: string, work: () => Promise<T>): Promise<T> {
    // A finishing run hands its slot straight to the next waiter, so no newcomer slips in between.
    if ((this.running.get(host) ?? 0) >= this.perHost)
      await new Promise<void>((resolve) => this.queueFor(host).push(resolve));
    else this.running.set(host, (this.running.get(host) ?? 0) + 1);
    try {
      return await work();
    } finally {
      const next = this.queueFor(host).shift();
      if (next) next();
      else this.running.set(host, (this.running.get(host) ?? 1) - 1);
    }
  }

  private queueFor(host: string): Array<() => void> {
    let queue = this.waiting.get(host);
    if (!queue) this.waiting.set(host, (queue = []));
    return queue;
  }
}
