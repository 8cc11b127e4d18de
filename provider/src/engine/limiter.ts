// The concurrency limiter every migration in the process goes through. A migration holds one
// slot on three counters at once: outbound on its source host, inbound on its target host and
// the global one. Waiters are granted in an order that is fair across source hosts, and a
// waiter whose hosts are busy never holds up one whose hosts are free.
import { forecastStarts, pickNext, SlotCounts, type Move, type QueuedMove } from "./queue-forecast";

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

interface Waiter extends QueuedMove {
  label?: string;
  resolve: (release: SlotRelease) => void;
  reject: (error: Error) => void;
  /** Detaches the abort listener; called once the waiter leaves the queue either way. */
  detach: () => void;
}

interface Holder extends Move {
  label?: string;
  startedAt: number;
  expectedSeconds?: number;
  /** The holder's own latest estimate of the time it has left, and when it was given. */
  reported?: { secondsLeft: number; at: number };
}

/** Gives the slots back (again does nothing); `report` keeps the holder's time left current. */
export type SlotRelease = (() => void) & { report(secondsLeft: number | undefined): void };

export interface SlotRequestOptions {
  signal?: AbortSignal;
  /** What the move is called in queue status lines (the domain). */
  label?: string;
  /** How long the move is expected to hold its slots (its forecast). */
  expectedSeconds?: number;
}

/** Where a queued move stands: its place in arrival order, when it may start, and why it waits. */
export interface QueueStatus {
  position: number;
  queueLength: number;
  /** Seconds until it is expected to start, if every move it waits on has an estimate. */
  expectedStartSeconds?: number;
  waitingFor: string;
}

export interface SlotRequest {
  granted: Promise<SlotRelease>;
  /** Undefined once the request has left the queue (granted or stopped). */
  status(): QueueStatus | undefined;
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

function moveText(move: Holder, side: "from" | "to" | "both"): string {
  const name = move.label ?? `${move.from} -> ${move.to}`;
  if (!move.label) return name;
  if (side === "from") return `${name} -> ${move.to}`;
  if (side === "to") return `${name} from ${move.from}`;
  return `${name} ${move.from} -> ${move.to}`;
}

export class MigrationLimiter {
  private limits: LimiterLimits;
  /** Waiters in arrival order; FIFO within a source host falls out of scanning it in order. */
  private readonly queue: Waiter[] = [];
  private readonly running = new Set<Holder>();
  private readonly counts = new SlotCounts();
  /** Source host -> tick of its last grant; the lowest tick is next in the round-robin. */
  private readonly lastServed = new Map<string, number>();
  private tick = 0;
  private readonly now: () => number;

  constructor(limits: LimiterLimits, options?: { now?: () => number }) {
    this.limits = checkLimits(limits);
    this.now = options?.now ?? Date.now;
  }

  /**
   * Waits for a slot on `from`'s outbound, `to`'s inbound and the global counter, and resolves
   * with the function that gives them back.
   */
  acquire(from: string, to: string, options?: SlotRequestOptions): Promise<SlotRelease> {
    return this.request(from, to, options).granted;
  }

  /** As `acquire`, and tells where the request stands while it waits. */
  request(from: string, to: string, options?: SlotRequestOptions): SlotRequest {
    const signal = options?.signal;
    if (signal?.aborted) {
      return {
        granted: Promise.reject(abortError(from, to, signal.reason)),
        status: () => undefined,
      };
    }
    let waiter!: Waiter;
    const granted = new Promise<SlotRelease>((resolve, reject) => {
      waiter = {
        from,
        to,
        label: options?.label,
        seconds: options?.expectedSeconds,
        resolve,
        reject,
        detach: () => {},
      };
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
    return { granted, status: () => this.statusOf(waiter) };
  }

  /** Changes the limits; raised limits start waiters at once, lowered ones apply to new grants. */
  setLimits(limits: LimiterLimits): void {
    this.limits = checkLimits(limits);
    this.pump();
  }

  snapshot(): LimiterSnapshot {
    return {
      running: [...this.running].map(({ from, to }) => ({ from, to })),
      queued: this.queue.length,
      perHost: Object.fromEntries(this.counts.entries()),
    };
  }

  private statusOf(waiter: Waiter): QueueStatus | undefined {
    const index = this.queue.indexOf(waiter);
    if (index < 0) return undefined;
    const now = this.now();
    const running = [...this.running].map((h) => ({ ...h, secondsLeft: this.secondsLeft(h, now) }));
    const starts = forecastStarts(this.limits, running, this.queue, this.lastServed);
    return {
      position: index + 1,
      queueLength: this.queue.length,
      expectedStartSeconds: starts[index],
      waitingFor: this.blockedBy(waiter),
    };
  }

  private secondsLeft(holder: Holder, now: number): number | undefined {
    if (holder.reported) {
      return Math.max(0, holder.reported.secondsLeft - (now - holder.reported.at) / 1000);
    }
    if (holder.expectedSeconds === undefined) return undefined;
    return Math.max(0, holder.expectedSeconds - (now - holder.startedAt) / 1000);
  }

  /** The limit a queued waiter waits on, naming the moves that hold it. */
  private blockedBy(waiter: Waiter): string {
    const holders = [...this.running];
    const list = (moves: Holder[], side: "from" | "to" | "both") =>
      moves.map((m) => moveText(m, side)).join(", ");
    if (this.counts.size >= this.limits.global) {
      return `all ${this.limits.global} migration slots busy: ${list(holders, "both")}`;
    }
    if (this.counts.outbound(waiter.from) >= this.limits.perHostOutbound) {
      const out = holders.filter((h) => h.from === waiter.from);
      return `${waiter.from} outbound busy: ${list(out, "from")}`;
    }
    const into = holders.filter((h) => h.to === waiter.to);
    return `${waiter.to} inbound busy: ${list(into, "to")}`;
  }

  /** Grants waiters until none left can run, one at a time so each grant sees the last. */
  private pump(): void {
    for (;;) {
      const next = pickNext(this.queue, this.counts, this.limits, this.lastServed);
      if (next < 0) return;
      const [waiter] = this.queue.splice(next, 1);
      waiter.detach();
      waiter.resolve(this.grant(waiter));
    }
  }

  private grant(waiter: Waiter): SlotRelease {
    const holder: Holder = {
      from: waiter.from,
      to: waiter.to,
      label: waiter.label,
      startedAt: this.now(),
      expectedSeconds: waiter.seconds,
    };
    this.running.add(holder);
    this.counts.add(holder, 1);
    this.lastServed.set(holder.from, ++this.tick);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.running.delete(holder);
      this.counts.add(holder, -1);
      this.pump();
    };
    return Object.assign(release, {
      report: (secondsLeft: number | undefined) => {
        if (secondsLeft !== undefined) holder.reported = { secondsLeft, at: this.now() };
      },
    });
  }
}
