// Dirty-rate calculations a refresh starts, so that the update right after it (Pulumi refreshes
// each placement before updating it, in the same provider process) finds the guest measured
// instead of waiting a whole window on the move path. QEMU computes the rate in the background;
// nothing here waits. A calculation counts only for the same QEMU (host, UUID and domain id: a
// restarted guest gets a new id), the same window, and for a short while.
import type { Domain, LibvirtConnection } from "../libvirt";
import { startCalc } from "./measure";

/** How long a calculation a refresh started stands in for one on the move path. */
export const EARLY_MEASUREMENT_MAX_AGE_MS = 30_000;

export interface EarlyMeasurement {
  /** When the calculation was started, by this process's clock. */
  startedAtMs: number;
  seconds: number;
}

const keyOf = (host: string, dom: Domain) => `${host}/${dom.uuid}/${dom.id}`;

export class EarlyMeasurements {
  private readonly started = new Map<string, EarlyMeasurement & { host: string }>();

  constructor(
    /** Calculations whose window is still open, at most, per host (QEMU computes each). */
    private readonly perHost = 4,
    private readonly maxAgeMs = EARLY_MEASUREMENT_MAX_AGE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Starts a calculation over `seconds` for the running domain, unless the host already has
   * `perHost` windows open or this domain was measured moments ago. Never throws, never waits
   * for the window.
   */
  async start(
    conn: LibvirtConnection,
    host: string,
    dom: Domain,
    seconds: number,
    samplingOnly: boolean,
  ): Promise<void> {
    this.forgetOld();
    const key = keyOf(host, dom);
    if (this.started.has(key) || this.openOn(host) >= this.perHost) return;
    const entry = { host, seconds, startedAtMs: this.now() };
    this.started.set(key, entry);
    try {
      await startCalc(conn, dom, seconds, samplingOnly);
    } catch {
      // The move path measures (and reports why it cannot) itself.
      this.started.delete(key);
    }
  }

  /** The calculation started for this domain and window within the last moments, taken once. */
  take(host: string, dom: Domain, seconds: number): EarlyMeasurement | undefined {
    this.forgetOld();
    const key = keyOf(host, dom);
    const entry = this.started.get(key);
    if (!entry || entry.seconds !== seconds) return undefined;
    this.started.delete(key);
    return { startedAtMs: entry.startedAtMs, seconds: entry.seconds };
  }

  private openOn(host: string): number {
    const now = this.now();
    let open = 0;
    for (const e of this.started.values())
      if (e.host === host && e.startedAtMs + e.seconds * 1000 > now) open++;
    return open;
  }

  private forgetOld(): void {
    const oldest = this.now() - this.maxAgeMs;
    for (const [key, e] of this.started) if (e.startedAtMs < oldest) this.started.delete(key);
  }
}
