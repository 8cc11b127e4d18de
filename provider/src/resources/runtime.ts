// What the resource controllers work with once the provider is configured: the pooled host
// connections, the migration limits, the default policy, and what one run of the provider
// shares between its placements (measurements, link rates, reservations).
import type {
  CephStorageFence,
  ConnectionPool,
  FenceDevice,
  MeasureGate,
  MeasuredLink,
  MigrationLimiter,
  PlacementEngine,
  RunLedger,
} from "../engine";
import type { PolicySpec } from "./migration-policy/types";

export interface ProviderRuntime {
  pool: ConnectionPool;
  /** Plans, moves and observes placements over `pool`. */
  engine: PlacementEngine;
  limiter: MigrationLimiter;
  defaultPolicy: PolicySpec;
  hostNames: string[];
  /** Seconds over which a moving guest's dirty rate is measured at plan time (0: not measured; unset: the engine's default). */
  measureSeconds?: number;
  /** Bounds the measurements running at once on each host, across the placements of a run. */
  measureGate: MeasureGate;
  /** Link rates the moves of this process reached, for the forecasts of later placements. */
  measuredLinks: MeasuredLink[];
  /**
   * What the placements planned in this process hold on their targets, previews and updates
   * apart (a process serves one run, but a preview's claims must never weigh on an update).
   */
  ledgers: { preview: RunLedger; update: RunLedger };
  /** Hosts the groups solved in this run assigned, by domain, so a placement's error names them. */
  groupAssignments: Map<string, { group: string; host: string; reason: string }>;
  /** The fence device of an inventory host, with its secrets; undefined when it has none. */
  fenceDevice(host: string): FenceDevice | undefined;
  /** The storage fence of an inventory host (its Ceph clients' blocklist, with the key). */
  storageFence(host: string): CephStorageFence | undefined;
}
