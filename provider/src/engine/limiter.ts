// The concurrency limiter every migration in the process goes through. A migration holds one
// slot on three counters at once: outbound on its source host, inbound on its target host and
// the global one. Waiters are granted in an order that is fair across source hosts, and a
// waiter whose hosts are busy never holds up one whose hosts are free.

export interface LimiterLimits {
  perHostOutbound: number;
  perHostInbound: number;
  global: number;
}

export interface LimiterSnapshot {
  running: Array<{ from: string; to: string }>;
  queued: number;
  perHost: Record<string, { outbound: number; inbound: number }>;
}

interface Waiter {
  from: string;
  to: string;
  resolve: (release: () => void) => void;
  reject: (error: Error) => void;
  /** Detaches the abort listener; called once the waiter leaves the queue either way. */
  detach: () => void;
}

interface HostCount {
  outbound: number;
  inbound: number;
}

function checkLimits(limits: LimiterLimits): LimiterLimits {
  for (const key of ["perHostOutbound", "perHostInbound", "global"] as const) {
    const value = limits[key];
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`limiter: ${key} must be an integer >= 1, got ${value}`);
    }
  }
  return { ...limits };
}

function abortError(from: string, to: string, reason: unknown): Error {
  // A caller's own reason (e.g. its deadline) says more than "cancelled".
  const error = new Error(
    reason instanceof Error && reason.name !== "AbortError"
      ? `migration ${from} -> ${to} stopped while queued: ${reason.message}`
      : `migration ${from} -> ${to} was cancelled while queued`,
  );
  error.name = "AbortError";
  return error;
}

export class MigrationLimiter {
  private limits: LimiterLimits;
  /** Waiters in arrival order; FIFO within a source host falls out of scanning it in order. */
  private readonly queue: Waiter[] = [];
  private readonly running = new Set<{ from: string; to: string }>();
  /** Only hosts with a running migration; entries go when they drop to zero. */
  private readonly counts = new Map<string, HostCount>();
  /** Source host -> tick of its last grant; the lowest tick is next in the round-robin. */
  private readonly lastServed = new Map<string, number>();
  private tick = 0;

  constructor(limits: LimiterLimits) {
    this.limits = checkLimits(limits);
  }

  /**
   * Waits for a slot on `from`'s outbound, `to`'s inbound and the global counter, and resolves
   * with the function that gives them back (calling it again does nothing).
   */
  acquire(from: string, to: string, options?: { signal?: AbortSignal }): Promise<() => void> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortError(from, to, signal.reason));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { from, to, resolve, reject, detach: () => {} };
      if (signal) {
        const onAbort = () => {
          const index = this.queue.indexOf(waiter);
          if (index < 0) return; // already granted: the holder releases as usual
          this.queue.splice(index, 1);
          waiter.detach();
          // Waiters hold nothing, so leaving the queue cannot let anyone else run.
          reject(abortError(from, to, signal.reason));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiter.detach = () => signal.removeEventListener("abort", onAbort);
      }
      // Always queue, then pump: a newcomer competes under the same fairness rule as the
      // waiters, and since every pump leaves no runnable waiter behind it cannot jump them.
      this.queue.push(waiter);
      this.pump();
    });
  }

  /** Changes the limits; raised limits start waiters at once, lowered ones apply to new grants. */
  setLimits(limits: LimiterLimits): void {
    this.limits = checkLimits(limits);
    this.pump();
  }

  snapshot(): LimiterSnapshot {
    const perHost: LimiterSnapshot["perHost"] = {};
    for (const [host, count] of this.counts) perHost[host] = { ...count };
    return {
      running: [...this.running].map(({ from, to }) => ({ from, to })),
      queued: this.queue.length,
      perHost,
    };
  }

  private count(host: string): HostCount {
    return this.counts.get(host) ?? { outbound: 0, inbound: 0 };
  }

  private canRun(waiter: Waiter): boolean {
    return (
      this.running.size < this.limits.global &&
      this.count(waiter.from).outbound < this.limits.perHostOutbound &&
      this.count(waiter.to).inbound < this.limits.perHostInbound
    );
  }

  /** Grants waiters until none left can run, one at a time so each grant sees the last. */
  private pump(): void {
    for (;;) {
      const next = this.pickNext();
      if (next < 0) return;
      const [waiter] = this.queue.splice(next, 1);
      waiter.detach();
      waiter.resolve(this.grant(waiter.from, waiter.to));
    }
  }

  /**
   * Index of the waiter to grant next, or -1. Among runnable waiters, take the first of each
   * source host (FIFO within a host) and pick the host served least recently; hosts never
   * served count as oldest, and ties go to the earlier arrival.
   */
  private pickNext(): number {
    if (this.running.size >= this.limits.global) return -1;
    let best = -1;
    let bestServed = Infinity;
    const seen = new Set<string>();
    for (let i = 0; i < this.queue.length; i++) {
      const waiter = this.queue[i];
      if (seen.has(waiter.from) || !this.canRun(waiter)) continue;
      seen.add(waiter.from);
      const served = this.lastServed.get(waiter.from) ?? 0;
      if (served < bestServed) {
        best = i;
        bestServed = served;
      }
    }
    return best;
  }

  private grant(from: string, to: string): () => void {
    const entry = { from, to };
    this.running.add(entry);
    this.adjust(from, "outbound", 1);
    this.adjust(to, "inbound", 1);
    this.lastServed.set(from, ++this.tick);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running.delete(entry);
      this.adjust(from, "outbound", -1);
      this.adjust(to, "inbound", -1);
      this.pump();
    };
  }

  private adjust(host: string, direction: keyof HostCount, delta: number): void {
    const count = this.count(host);
    count[direction] += delta;
    if (count.outbound === 0 && count.inbound === 0) this.counts.delete(host);
    else this.counts.set(host, count);
  }
}
