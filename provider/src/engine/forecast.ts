// The convergence model: from the guest's memory, how fast it dirties memory, what its disks hold
// and the link, predict how a live move goes (passes, duration, downtime, bytes) and which
// escalation the policy needs for it. Pure: the planner calls it with the facts it measured; the
// same model can be fed live job statistics during a move.
import { downtimeSteps } from "./policy";
import type { MigrationPolicy } from "./types";

export type ConvergenceVerdict =
  "converges" | "needs-post-copy" | "needs-auto-converge" | "cannot-move-live";

export interface ForecastInput {
  /** Memory the guest's QEMU holds (resident), or its configured size when not measured. */
  memoryBytes: number;
  /** Bytes per second the guest dirties. */
  dirtyRateBps: number;
  /** Memory the guest keeps rewriting, when known; at most this much is resent per pass. */
  workingSetBytes?: number;
  /** Bytes the storage copy moves before memory (the disks' allocation; 0 on shared storage). */
  diskBytes: number;
  /** Bytes per second the move may use. */
  linkBps: number;
  /**
   * Bytes per second QEMU measures during a pass, which it compares what is left against (the
   * link when unset): a move's overall rate also counts setup and the guest's competition for
   * the source's CPU, so a pass can run faster than that.
   */
  switchLinkBps?: number;
  /** Bytes per second during post-copy (the link when unset). */
  postcopyLinkBps?: number;
  /** Share of memory bytes that reaches the wire (mt compression; 1 when unset). */
  wireRatio?: number;
  /**
   * xbzrle: resent pages held in its cache go as deltas of this share of their size; pages
   * beyond the cache are sent whole.
   */
  xbzrle?: { cacheBytes: number; deltaRatio: number };
}

/** Wire bytes of a pass that resends `bytes` of dirtied memory. */
function resendOnWire(input: ForecastInput, bytes: number): number {
  const ratio = input.wireRatio ?? 1;
  if (!input.xbzrle) return bytes * ratio;
  const cached = Math.min(bytes, input.xbzrle.cacheBytes);
  return cached * input.xbzrle.deltaRatio + (bytes - cached) * ratio;
}

export interface Forecast {
  verdict: ConvergenceVerdict;
  /** What the engine does from the start: nothing, post-copy after the first pass, auto-converge. */
  escalation: "none" | "post-copy-after-first-pass" | "auto-converge";
  /** Memory passes until the switch-over (1: everything was sent once, nothing to resend). */
  passes: number;
  durationSeconds: number;
  /** The pause at the switch-over. */
  downtimeMs: number;
  memoryBytesSent: number;
  diskBytes: number;
}

/** Passes a pre-copy may take before the model calls it not converging. */
const MAX_PASSES = 30;
/** QEMU's auto-converge throttling: 20 % at first, 10 % more each pass, at most 99 %. */
const THROTTLE = { initial: 0.2, increment: 0.1, max: 0.99 };
/** The pause of a post-copy switch-over: device state only, memory follows on demand. */
const POSTCOPY_SWITCH_MS = 50;

interface PrecopyRun {
  passes: number;
  seconds: number;
  sent: number;
  /** Bytes left when the guest stopped for the final copy. */
  lastBytes: number;
}

/**
 * Pre-copy as QEMU runs it: the first pass sends all memory; each later pass resends what the
 * guest dirtied meanwhile; the guest stops once what is left fits into the downtime. Undefined
 * when that does not happen within MAX_PASSES.
 */
function simulatePrecopy(
  input: ForecastInput,
  downtimeMs: number,
  throttled: boolean,
): PrecopyRun | undefined {
  const { memoryBytes: memory, linkBps: link } = input;
  const resendCap = Math.min(memory, input.workingSetBytes ?? memory);
  const fitsDowntime = ((input.switchLinkBps ?? link) * downtimeMs) / 1000;
  // Bytes on the wire: the first pass sends every page once; later passes resend dirtied ones.
  let toSend = memory * (input.wireRatio ?? 1);
  let run: PrecopyRun = { passes: 0, seconds: 0, sent: 0, lastBytes: toSend };
  for (let pass = 1; pass <= MAX_PASSES; pass++) {
    if (toSend <= fitsDowntime) return { ...run, lastBytes: toSend };
    const seconds = toSend / link;
    run = { passes: pass, seconds: run.seconds + seconds, sent: run.sent + toSend, lastBytes: 0 };
    // Throttling starts once a pass did not converge, and tightens every pass after.
    const throttle = throttled
      ? Math.min(THROTTLE.max, THROTTLE.initial + THROTTLE.increment * (pass - 1))
      : 0;
    toSend = resendOnWire(
      input,
      Math.min(resendCap, input.dirtyRateBps * (1 - throttle) * seconds),
    );
  }
  return toSend <= fitsDowntime ? { ...run, lastBytes: toSend } : undefined;
}

function fromPrecopy(
  input: ForecastInput,
  verdict: ConvergenceVerdict,
  escalation: Forecast["escalation"],
  run: PrecopyRun,
  extraSeconds: number,
): Forecast {
  const diskSeconds = input.diskBytes / input.linkBps;
  const lastSeconds = run.lastBytes / (input.switchLinkBps ?? input.linkBps);
  return {
    verdict,
    escalation,
    // Nothing left to resend after the first pass is still one pass.
    passes: Math.max(1, run.passes),
    durationSeconds: diskSeconds + run.seconds + lastSeconds + extraSeconds,
    downtimeMs: Math.max(1, Math.round(lastSeconds * 1000)),
    memoryBytesSent: run.sent + run.lastBytes,
    diskBytes: input.diskBytes,
  };
}

/** The forecast of a live move under `policy`, and the escalation it needs up front. */
export function forecastLiveMove(input: ForecastInput, policy: MigrationPolicy): Forecast {
  if (!(input.linkBps > 0)) throw new Error(`link rate must be positive, not ${input.linkBps}`);
  // The ladder raises the downtime step by step, each after progressTimeoutSeconds of stall.
  const downtimes = [policy.maxDowntimeMs, ...downtimeSteps(policy)];
  for (const [step, downtimeMs] of downtimes.entries()) {
    const run = simulatePrecopy(input, downtimeMs, false);
    if (run)
      return fromPrecopy(input, "converges", "none", run, step * policy.progressTimeoutSeconds);
  }
  if (policy.allowPostCopy) {
    // One full pass, then the switch; what the guest dirtied meanwhile follows on demand, whole
    // (post-copy pages are never compressed).
    const firstPass = (input.memoryBytes * (input.wireRatio ?? 1)) / input.linkBps;
    const resend = Math.min(
      input.memoryBytes,
      input.workingSetBytes ?? input.memoryBytes,
      input.dirtyRateBps * firstPass,
    );
    return {
      verdict: "needs-post-copy",
      escalation: "post-copy-after-first-pass",
      passes: 1,
      durationSeconds:
        input.diskBytes / input.linkBps +
        firstPass +
        resend / (input.postcopyLinkBps ?? input.linkBps),
      downtimeMs: POSTCOPY_SWITCH_MS,
      memoryBytesSent: input.memoryBytes * (input.wireRatio ?? 1) + resend,
      diskBytes: input.diskBytes,
    };
  }
  if (policy.autoConverge) {
    const highest = downtimes[downtimes.length - 1];
    const run = simulatePrecopy(input, highest, true);
    if (run) return fromPrecopy(input, "needs-auto-converge", "auto-converge", run, 0);
  }
  // Pre-copy never gets what is left within the highest downtime: the ladder would abort it.
  return {
    verdict: "cannot-move-live",
    escalation: "none",
    passes: MAX_PASSES,
    durationSeconds: Number.POSITIVE_INFINITY,
    downtimeMs: Number.POSITIVE_INFINITY,
    memoryBytesSent: Number.POSITIVE_INFINITY,
    diskBytes: input.diskBytes,
  };
}

/** What the job statistics of a running pre-copy show, for judging it again mid-move. */
export interface RunningPrecopy {
  /** Memory pass under way (QEMU counts from 1: the first pass). */
  iteration: number;
  memoryRemainingBytes: number;
  dirtyRateBps: number;
  bandwidthBps: number;
}

/**
 * Whether a running pre-copy will still converge, judged from its live statistics with the same
 * model as the plan: what remains, at the rate the guest dirties now and the link carries now,
 * within the downtimes the ladder still has. Unknown during the first pass (no resend rate yet).
 */
export function judgeRunningPrecopy(
  run: RunningPrecopy,
  policy: MigrationPolicy,
  currentDowntimeMs: number,
): "converging" | "not-converging" | "unknown" {
  if (run.iteration < 2 || !(run.bandwidthBps > 0)) return "unknown";
  const verdict = forecastLiveMove(
    {
      memoryBytes: Math.max(1, run.memoryRemainingBytes),
      dirtyRateBps: run.dirtyRateBps,
      diskBytes: 0,
      linkBps: run.bandwidthBps,
    },
    { ...policy, maxDowntimeMs: currentDowntimeMs, allowPostCopy: false, autoConverge: false },
  ).verdict;
  return verdict === "converges" ? "converging" : "not-converging";
}
