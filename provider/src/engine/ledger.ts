// What the placements of one run have claimed on their targets. A provider process serves one
// preview or one update, so the placements planned in it share one ledger: a move planned to a
// host holds the memory and pool space it needs there until it is done, and a later placement
// sees what is left. Moves out give nothing back until they are done: the host's own figures
// show that once the guest has gone.
//
// While a move runs, the target's figures already show part of what it uses. So each account
// keeps the figure it saw when its first pending claim was made (the baseline): what the host has
// lost since counts as used by the pending claims, up to what they claimed, and only the rest is
// still held. A claim that lands lowers the baseline by its bytes (they are now the host's own
// use); one that fails leaves it, since the target gave them back.

/** What a move needs on its target: memory and space per pool (keyed by account, see below). */
export interface Demand {
  host: string;
  memoryBytes: number;
  /** Pool name on the target -> bytes the disks copied into it may take. */
  pools: Record<string, number>;
  /** Pool name -> key shared by every host that sees the same storage (shared pools). */
  poolAccounts?: Record<string, string>;
}

export interface Holder {
  claimant: string;
  domain: string;
  bytes: number;
}

/** What other placements of the run still hold of one figure. */
export interface Held {
  bytes: number;
  holders: Holder[];
}

export interface HeldOnTarget {
  memory: Held;
  pools: Record<string, Held>;
}

/** The host's figures as just gathered: free memory and each pool's available bytes. */
export interface Observed {
  freeMemoryBytes: number;
  pools: Record<string, number>;
}

interface Account {
  baseline: number;
  pending: Map<string, { domain: string; bytes: number }>;
}

const NOTHING: Held = { bytes: 0, holders: [] };

export function memoryAccount(host: string): string {
  return `memory:${host}`;
}

export function poolAccount(host: string, pool: string, sharedKey?: string): string {
  return sharedKey ? `storage:${sharedKey}` : `pool:${host}/${pool}`;
}

export class RunLedger {
  private readonly accounts = new Map<string, Account>();

  /** What placements other than `claimant` still hold on the demand's target. */
  held(demand: Demand, claimant: string, observed: Observed): HeldOnTarget {
    const pools: Record<string, Held> = {};
    for (const pool of Object.keys(demand.pools))
      pools[pool] = this.heldIn(this.poolKey(demand, pool), claimant, observed.pools[pool] ?? 0);
    return {
      memory: this.heldIn(memoryAccount(demand.host), claimant, observed.freeMemoryBytes),
      pools,
    };
  }

  /** Records what `claimant` needs; a claim it made before is replaced. */
  reserve(claimant: string, domain: string, demand: Demand, observed: Observed): void {
    this.drop(claimant, false);
    const entries: Array<[string, number, number]> = [
      [memoryAccount(demand.host), demand.memoryBytes, observed.freeMemoryBytes],
      ...Object.entries(demand.pools).map(([pool, bytes]): [string, number, number] => [
        this.poolKey(demand, pool),
        bytes,
        observed.pools[pool] ?? 0,
      ]),
    ];
    for (const [key, bytes, figure] of entries) {
      if (bytes <= 0) continue;
      let account = this.accounts.get(key);
      if (!account) {
        account = { baseline: figure, pending: new Map() };
        this.accounts.set(key, account);
      }
      const before = account.pending.get(claimant)?.bytes ?? 0;
      account.pending.set(claimant, { domain, bytes: before + bytes });
    }
  }

  /** The claimant's move is over: `landed` when the guest (and its disks) are on the target now. */
  settle(claimant: string, landed: boolean): void {
    this.drop(claimant, landed);
  }

  private drop(claimant: string, landed: boolean): void {
    for (const [key, account] of this.accounts) {
      const claim = account.pending.get(claimant);
      if (!claim) continue;
      account.pending.delete(claimant);
      if (landed) account.baseline -= claim.bytes;
      if (!account.pending.size) this.accounts.delete(key);
    }
  }

  private poolKey(demand: Demand, pool: string): string {
    return poolAccount(demand.host, pool, demand.poolAccounts?.[pool]);
  }

  private heldIn(key: string, claimant: string, figure: number): Held {
    const account = this.accounts.get(key);
    if (!account) return NOTHING;
    const holders = [...account.pending]
      .filter(([c]) => c !== claimant)
      .map(([c, claim]) => ({ claimant: c, domain: claim.domain, bytes: claim.bytes }));
    const claimed = holders.reduce((sum, h) => sum + h.bytes, 0);
    const used = Math.min(claimed, Math.max(0, account.baseline - figure));
    return { bytes: claimed - used, holders };
  }
}
