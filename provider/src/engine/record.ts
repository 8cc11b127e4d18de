// Builds the migration record as the executor goes.
import type {
  DiskPlacement,
  MigrationMode,
  MigrationPlan,
  MigrationRecord,
  MigrationResult,
  MigrationTransport,
  StorageFenceRecord,
} from "./types";

export class RecordBuilder {
  private started = Date.now();
  readonly steps: string[] = [];
  mode: MigrationMode;
  postCopy = false;
  fallbackUsed = false;
  downtimeMs?: number;
  bytesMoved?: number;
  iterations?: number;
  linkMibps?: number;
  passMibps?: number;
  transport?: MigrationTransport;
  /** A failover's fence: the agent, each call and what it answered. */
  fence?: string;
  storageFence?: StorageFenceRecord;

  constructor(private readonly plan: MigrationPlan) {
    this.mode = plan.mode;
  }

  /** The move itself starts now (after waiting for a migration slot, which is noted). */
  begin(): void {
    const waited = Date.now() - this.started;
    if (waited >= 1000) this.step(`waited ${Math.round(waited / 1000)} s for a migration slot`);
    this.started = Date.now();
  }

  /** Milliseconds since the move began. */
  elapsedMs(): number {
    return Date.now() - this.started;
  }

  step(text: string): void {
    this.steps.push(`${new Date().toISOString()} ${text}`);
  }

  finish(
    result: MigrationResult,
    finalHost: string,
    error?: { category: MigrationRecord["errorCategory"]; message: string },
  ): MigrationRecord {
    const finished = Date.now();
    return {
      domain: this.plan.domain,
      from: this.plan.from,
      to: this.plan.to,
      finalHost,
      mode: this.mode,
      steps: [...this.steps],
      startedAt: new Date(this.started).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      durationMs: finished - this.started,
      downtimeMs: this.downtimeMs,
      bytesMoved: this.bytesMoved,
      iterations: this.iterations,
      ...(this.linkMibps !== undefined ? { linkMibps: this.linkMibps } : {}),
      ...(this.passMibps !== undefined ? { passMibps: this.passMibps } : {}),
      ...(this.plan.forecast ? { forecast: this.plan.forecast } : {}),
      ...(this.transport ? { transport: this.transport } : {}),
      ...(this.fence ? { fence: this.fence } : {}),
      ...(this.storageFence ? { storageFence: this.storageFence } : {}),
      ...(this.plan.disks.length ? { disks: this.plan.disks.map(diskLine) } : {}),
      postCopy: this.postCopy,
      fallbackUsed: this.fallbackUsed,
      result,
      ...(error ? { errorCategory: error.category, error: error.message } : {}),
    };
  }
}

const MiB = 1024 * 1024;

/** One disk of the record: "vda: copied A -> pool:B (N MiB)" or "vda: not copied, on S". */
function diskLine(d: DiskPlacement): string {
  if (d.copy)
    return `${d.target}: copied ${d.sourcePath ?? "?"} -> ${d.pool}:${d.targetPath} (${(d.bytesToCopy / MiB).toFixed(1)} MiB)`;
  return `${d.target}: not copied${d.stays ? `, stays on ${d.stays}` : ""}`;
}
