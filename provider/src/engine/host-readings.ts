// Readings of a host that the placements planned within a moment of each other share: a preview
// of thousands of placements would otherwise ask every host the same question once per placement
// (quadratic in the fleet). What placements of one run take from each other is the run ledger's
// to count, and a move forgets the readings of its hosts when it ends.
import type { ConnectionPool } from "./connections";

/** How long one reading of a host serves the placements planned after it. */
export const HOST_READING_REUSE_MS = 2_000;

/** One kind of reading, per connection pool and host; a failed reading is not kept. */
export class SharedHostReadings<T> {
  private readonly byPool = new WeakMap<
    ConnectionPool,
    Map<string, { at: number; reading: Promise<T> }>
  >();

  get(pool: ConnectionPool, host: string, read: () => Promise<T>): Promise<T> {
    let byHost = this.byPool.get(pool);
    if (!byHost) this.byPool.set(pool, (byHost = new Map()));
    const kept = byHost.get(host);
    if (kept && Date.now() - kept.at < HOST_READING_REUSE_MS) return kept.reading;
    const reading = read();
    const entry = { at: Date.now(), reading };
    byHost.set(host, entry);
    reading.catch(() => byHost.get(host) === entry && byHost.delete(host));
    return reading;
  }

  forget(pool: ConnectionPool, hosts: string[]): void {
    const byHost = this.byPool.get(pool);
    for (const h of hosts) byHost?.delete(h);
  }
}
