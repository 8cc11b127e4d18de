// The hosts a rebalancing move could go to, best first, for a VM of a given size: how much taking
// `bytes` changes a host's share of the objective (the sum over hosts of the squared fraction of
// memory used), signed so that higher is better for the strategy. Sorted once per size and round
// of the search, so each candidate walks only the few hosts that could still beat the best move
// found so far, instead of every host it may use.

/** What ranking needs of a host (a FleetHost is one). */
export interface RankedHost {
  name: string;
  totalMemoryBytes: number;
}

export type Strategy = "spread" | "pack";

/** The change in a host's squared fraction of memory used when `bytes` arrive (negative: leave). */
export function squaredShareChange(host: RankedHost, used: number, bytes: number): number {
  if (!host.totalMemoryBytes) return 0;
  return ((used + bytes) / host.totalMemoryBytes) ** 2 - (used / host.totalMemoryBytes) ** 2;
}

export interface RankedTarget<H extends RankedHost> {
  host: H;
  /** The objective's gain from the arrival alone (higher is better). */
  arrival: number;
}

export class TargetOrder<H extends RankedHost> {
  private readonly bySize = new Map<number, RankedTarget<H>[]>();

  constructor(
    private readonly inventory: H[],
    private readonly used: Map<string, number>,
    private readonly strategy: Strategy,
  ) {}

  /** Hosts by arrival gain for a VM of `bytes`, best first; equal gains keep inventory order. */
  for(bytes: number): RankedTarget<H>[] {
    let ranked = this.bySize.get(bytes);
    if (!ranked) {
      const sign = this.strategy === "spread" ? -1 : 1;
      ranked = this.inventory
        .map((host, index) => ({
          host,
          index,
          arrival: sign * squaredShareChange(host, this.used.get(host.name)!, bytes),
        }))
        .sort((a, b) => b.arrival - a.arrival || a.index - b.index)
        .map(({ host, arrival }) => ({ host, arrival }));
      this.bySize.set(bytes, ranked);
    }
    return ranked;
  }
}
