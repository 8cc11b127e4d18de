// What every migration runner (live, offline, block copy) works with.
import type { ConnectionPool } from "./connections";
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
}

/** Thrown inside runners to end with a given result; the executor turns it into a record. */
export class RunFailure extends Error {
  constructor(
    readonly result: "failed" | "aborted" | "cancelled",
    readonly category: NonNullable<MigrationRecord["errorCategory"]>,
    message: string,
    readonly finalHost: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Reports a phase of a move that has no job statistics of its own (the figures are zero). */
export function reportPhase(ctx: RunContext, phase: "verifying" | "cleanup"): void {
  ctx.onProgress?.({
    domain: ctx.plan.domain,
    phase,
    percent: 100,
    memoryProcessed: 0,
    memoryRemaining: 0,
    diskProcessed: 0,
    diskRemaining: 0,
    bandwidthBps: 0,
    dirtyRateBps: 0,
    iteration: 0,
  });
}
