// What every migration runner (live, offline, block copy, failover) works with.
import { VmpError } from "../errors";
import type { ConnectionPool } from "./connections";
import type { EngineErrorCode } from "./errors";
import type { MoveMarker } from "./move-marker";
import type { RecordBuilder } from "./record";
import type {
  DomainFacts,
  MigrationPlan,
  MigrationPolicy,
  MigrationProgress,
  MigrationRecord,
} from "./types";

export interface RunContext {
  plan: MigrationPlan;
  facts: DomainFacts;
  policy: MigrationPolicy;
  pool: ConnectionPool;
  record: RecordBuilder;
  signal?: AbortSignal;
  onProgress?: (p: MigrationProgress) => void;
  log: (message: string) => void;
  /** Job statistics are read no more often than this (at least 500 ms). */
  pollIntervalMs: number;
  /**
   * How long to wait for a silent host whose answer the outcome needs: a failed move's target (to
   * stop a copy its daemon may resume), or a moved domain's source (to confirm it stopped there).
   */
  silentHostWaitMs: number;
  /** The note the move wrote on the source (interrupted-move.ts); the offline move updates it. */
  moveMarker?: MoveMarker;
}

/** Thrown inside runners to end with a given result; the executor turns it into a record. */
export class RunFailure extends VmpError {
  declare readonly code: EngineErrorCode;

  constructor(
    readonly result: "failed" | "aborted" | "cancelled",
    readonly category: NonNullable<MigrationRecord["errorCategory"]>,
    message: string,
    readonly finalHost: string,
    options?: { cause?: unknown },
  ) {
    super(failureCode(result, category), message, options);
  }
}

/** The stable code of a run that ended with `result` for a reason of `category`. */
function failureCode(
  result: RunFailure["result"],
  category: RunFailure["category"],
): EngineErrorCode {
  if (category === "deadline") return "VMP_MIGRATION_TIMED_OUT";
  if (category === "fence") return "VMP_FENCE_UNCONFIRMED";
  if (result === "cancelled") return "VMP_MIGRATION_CANCELLED";
  if (result === "aborted") return "VMP_MIGRATION_ABORTED";
  return category === "verification" ? "VMP_VERIFICATION_FAILED" : "VMP_MIGRATION_FAILED";
}

/** A progress event; the figures not given are zero. */
export function progressEvent(
  domain: string,
  phase: MigrationProgress["phase"],
  figures: Partial<Omit<MigrationProgress, "domain" | "phase">> = {},
): MigrationProgress {
  return {
    domain,
    phase,
    percent: 0,
    memoryProcessed: 0,
    memoryRemaining: 0,
    diskProcessed: 0,
    diskRemaining: 0,
    bandwidthBps: 0,
    dirtyRateBps: 0,
    iteration: 0,
    ...figures,
  };
}

/** Reports a phase of a move that has no job statistics of its own (the figures are zero). */
export function reportPhase(ctx: RunContext, phase: "verifying" | "cleanup"): void {
  ctx.onProgress?.(progressEvent(ctx.plan.domain, phase, { percent: 100 }));
}

/** The rate a copy really runs at, from how much it has done over time (not a configured limit). */
export class RateMeter {
  private readonly startedAt = Date.now();
  private last?: { at: number; done: number };
  private bps = 0;

  /** Records `done` bytes so far; returns bytes per second over the last interval. */
  sample(done: number): number {
    const now = Date.now();
    if (!this.last) {
      this.bps = now > this.startedAt ? (done * 1000) / (now - this.startedAt) : 0;
      this.last = { at: now, done };
    } else if (now - this.last.at >= 500) {
      this.bps = ((done - this.last.done) * 1000) / (now - this.last.at);
      this.last = { at: now, done };
    }
    return Math.max(0, Math.round(this.bps));
  }
}

/** Seconds left for `remaining` bytes at `bps`, when the rate says anything. */
export function secondsLeft(remaining: number, bps: number): number | undefined {
  return bps > 0 && remaining >= 0 ? Math.ceil(remaining / bps) : undefined;
}
