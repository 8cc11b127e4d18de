// The migration engine's public surface: the only module the layers above import. Resources and
// the fleet solver reach hosts through these functions; no libvirt connection leaves the engine.
export { ConnectionPool, type InventoryHost } from "./connections";
// How hosts are reached: the inventory's URIs and credentials, checked where config is.
export { parseLibvirtUri, sshKeyProblem, type ConnectOptions } from "../libvirt";
export {
  MigrationLimiter,
  type LimiterLimits,
  type QueueStatus,
  type SlotRelease,
} from "./limiter";
export { DeadlineExceeded, MigrationError } from "./errors";
export { LocationUnknownError } from "./gather";
export { gatherFleetDomain, gatherFleetHost, type FleetHostScan } from "./fleet-scan";
export { executePlan, type ExecuteOptions } from "./executor";
export type { Recovery } from "./recovery-plan";
export { withoutMoveMarker } from "./domain-xml";
export { DEFAULT_POLICY } from "./policy";
export { choosePlan, type PlacementRequest } from "./planner";
export { MeasureGate } from "./measure";
export { RunLedger, type Demand, type Observed } from "./ledger";
export { measuredLinkOf, type MeasuredLink } from "./link";
export type * from "./types";
export type { FenceDevice } from "../fencing/agent";
export type { CephStorageFence } from "../fencing/ceph-blocklist";

export {
  DEFAULT_MEASURE_SECONDS,
  planPlacement,
  place,
  type PlannedMove,
  type PlanOptions,
} from "./placement";
export {
  observeDomain,
  observeDomainOn,
  type Observation,
  type ObservedDisk,
  type ObservedDomain,
} from "./observe";
export { reconcileAfterFailover, type AfterFailover } from "./failover";
export { probeHost, type Reachability } from "./reachability";
export { hostStatus, type HostStatus } from "./host-status";
export { placementEngine, type PlacementEngine } from "./engine";
export type { ObserveOptions } from "./observe";
