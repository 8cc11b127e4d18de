// Pure rules of the migration queue: which waiter the limiter grants next, and when each queued
// move can be expected to start if running and queued moves take what their forecasts say. The
// limiter and the forecast share `pickNext`, so the forecast follows the order the limiter keeps.

export interface SlotLimits {
  perHostOutbound: number;
  perHostInbound: number;
  global: number;
}

export interface Move {
  from: string;
  to: string;
}

export interface RunningMove extends Move {
  /** Seconds it is expected to hold its slot from now; undefined when nothing tells. */
  secondsLeft?: number;
}

export interface QueuedMove extends Move {
  /** Seconds it is expected to hold its slot once started; undefined when nothing tells. */
  seconds?: number;
}

/** Slots held per host, and in all. */
export class SlotCounts {
  private readonly hosts = new Map<string, { outbound: number; inbound: number }>();
  size = 0;

  constructor(running: Iterable<Move> = []) {
    for (const move of running) this.add(move, 1);
  }

  outbound(host: string): number {
    return this.hosts.get(host)?.outbound ?? 0;
  }

  inbound(host: string): number {
    return this.hosts.get(host)?.inbound ?? 0;
  }

  add(move: Move, delta: 1 | -1): void {
    this.size += delta;
    this.bump(move.from, "outbound", delta);
    this.bump(move.to, "inbound", delta);
  }

  canRun(move: Move, limits: SlotLimits): boolean {
    return (
      this.size < limits.global &&
      this.outbound(move.from) < limits.perHostOutbound &&
      this.inbound(move.to) < limits.perHostInbound
    );
  }

  /** Hosts with a slot held, zero counts left out. */
  entries(): Array<[string, { outbound: number; inbound: number }]> {
    return [...this.hosts].map(([host, count]) => [host, { ...count }]);
  }

  private bump(host: string, direction: "outbound" | "inbound", delta: number): void {
    const count = this.hosts.get(host) ?? { outbound: 0, inbound: 0 };
    count[direction] += delta;
    if (count.outbound === 0 && count.inbound === 0) this.hosts.delete(host);
    else this.hosts.set(host, count);
  }
}

/**
 * Index of the waiter to grant next, or -1. Among runnable waiters, take the first of each
 * source host (FIFO within a host) and pick the host served least recently; hosts never served
 * count as oldest, and ties go to the earlier arrival.
 */
export function pickNext(
  queue: readonly Move[],
  counts: SlotCounts,
  limits: SlotLimits,
  lastServed: ReadonlyMap<string, number>,
): number {
  if (counts.size >= limits.global) return -1;
  let best = -1;
  let bestServed = Infinity;
  const seen = new Set<string>();
  for (let i = 0; i < queue.length; i++) {
    const move = queue[i];
    if (seen.has(move.from) || !counts.canRun(move, limits)) continue;
    seen.add(move.from);
    const served = lastServed.get(move.from) ?? 0;
    if (served < bestServed) {
      best = i;
      bestServed = served;
    }
  }
  return best;
}

/**
 * Seconds from now until each queued move starts (by queue index), simulating the limiter's
 * grants as running moves end. A start that depends on a move with no estimate is undefined.
 */
export function forecastStarts(
  limits: SlotLimits,
  running: readonly RunningMove[],
  queue: readonly QueuedMove[],
  lastServed: ReadonlyMap<string, number>,
): Array<number | undefined> {
  const starts: Array<number | undefined> = queue.map(() => undefined);
  const counts = new SlotCounts(running);
  const served = new Map(lastServed);
  let tick = Math.max(0, ...served.values());
  // Moves holding a slot, with the time they end (Infinity: unknown).
  const holding = running.map((move) => ({ move, endsAt: move.secondsLeft ?? Infinity }));
  const waiting = queue.map((move, index) => ({ ...move, index }));
  let now = 0;
  for (;;) {
    for (let next = pickNext(waiting, counts, limits, served); next >= 0;) {
      const [move] = waiting.splice(next, 1);
      starts[move.index] = now;
      counts.add(move, 1);
      served.set(move.from, ++tick);
      holding.push({ move, endsAt: now + (move.seconds ?? Infinity) });
      next = pickNext(waiting, counts, limits, served);
    }
    if (!waiting.length) return starts;
    const soonest = Math.min(...holding.map((h) => h.endsAt));
    if (!Number.isFinite(soonest)) return starts;
    now = soonest;
    for (let i = holding.length - 1; i >= 0; i--) {
      if (holding[i].endsAt <= now) {
        counts.add(holding[i].move, -1);
        holding.splice(i, 1);
      }
    }
  }
}
