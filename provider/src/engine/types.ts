import type { MoveMarker } from "./move-marker";
import type { Recovery } from "./recovery-plan";
import type { MigrationParams } from "../libvirt";
import type { Demand } from "./ledger";
import type { FenceDevice } from "../fencing/agent";
import type { CephStorageFence } from "../fencing/ceph-blocklist";
import type { NetworkSource, RbdPoolSource, SharedStorageIdentity } from "./storage-identity";

// The migration engine's vocabulary: facts gathered from hosts, the policy that constrains a
// move, the plan the planner makes of both, and the record of what the executor did.

/** One disk of a domain, as its XML and the storage layer describe it. */
export interface DiskFacts {
  /** Guest-visible target, e.g. "vda". */
  target: string;
  device: "disk" | "cdrom" | "floppy" | "lun";
  /** "file" | "block" | "network" | "volume" | "dir" */
  sourceType: string;
  /** File or block device path on the host (file/block disks). */
  path?: string;
  /** Network disks: protocol and address; they live on storage every host reaches. */
  network?: NetworkSource;
  /** Image format: qcow2, raw, ... */
  format: string;
  readOnly: boolean;
  /** The libvirt pool holding the volume, when the path belongs to one. */
  pool?: string;
  /** Guest-visible size and bytes actually allocated on the host. */
  capacityBytes: number;
  allocationBytes: number;
  /** Backing files, nearest first (qcow2 overlays), and their image formats. */
  backingChain: string[];
  backingFormats: string[];
  /** Identity of each backing file (size and a hash of its head), as on this host. */
  backingIdentities?: string[];
  /** Bytes allocated by the backing files together (what a full copy moves besides the top layer). */
  backingAllocationBytes?: number;
}

export type { NetworkSource } from "./storage-identity";

export interface DomainFacts {
  name: string;
  uuid: string;
  host: string;
  running: boolean;
  persistent: boolean;
  memoryBytes: number;
  vcpus: number;
  /** <cpu mode=...>: custom, host-model, host-passthrough or maximum; unset without one. */
  cpuMode?: string;
  /** A custom <cpu> element, for checking the CPU runs on the target. */
  cpuXml?: string;
  virtType: string;
  arch: string;
  machine?: string;
  /** The UEFI variable store (<os><nvram>), a file on the domain's host. */
  nvram?: string;
  disks: DiskFacts[];
  hostDevices: string[];
  snapshotCount: number;
  /** Measured memory dirty rate, when known (bytes/s). */
  dirtyRateBps?: number;
  /** Memory the guest's QEMU holds (resident set), when measured. */
  residentBytes?: number;
  /** How the memory figures were measured, or why they could not be. */
  /** How the dirty rate was measured; `needless` says why it was not (see needlessToMeasure). */
  memoryMeasurement?: {
    windowSeconds: number;
    problem?: string;
    needless?: string;
    /** Started by the refresh this long before the plan (reused, not measured again). */
    startedEarlierMs?: number;
  };
  /** The domain XML as libvirt gives it for migration (VIR_DOMAIN_XML_MIGRATABLE). */
  xml: string;
  /** Disk files the persistent definition names (what a cold boot would use), when known. */
  persistentDiskPaths?: string[];
  /** The note of a move that is under way or was interrupted (move-marker.ts). */
  moveMarker?: MoveMarker;
}

export interface PoolFacts {
  name: string;
  /** libvirt pool type: dir, fs, netfs, logical, iscsi, iscsi-direct, rbd, ... */
  type: string;
  active: boolean;
  /** Target directory for file-based pools. */
  path?: string;
  /** The backing storage in words when it is shared between hosts (e.g. "nfs 10.0.0.1:/export"), else undefined. */
  sharedStorageKey?: string;
  /** What that shared storage is (storage-identity.ts): compared, never the pool's name. */
  sharedStorage?: SharedStorageIdentity;
  /** An rbd pool's monitors, Ceph pool and credentials (what a disk copied into it is opened with). */
  rbd?: RbdPoolSource;
  capacityBytes: number;
  availableBytes: number;
  /** Volumes present, by name (for incremental copy: does the backing chain exist here?). */
  volumes: string[];
}

export interface HostFacts {
  name: string;
  reachable: boolean;
  /** Why the host could not be reached, when it could not. */
  unreachableReason?: string;
  /** libvirt URI the source daemon uses to reach this host (peer-to-peer). */
  uri: string;
  migrationAddress: string;
  /** Name QEMU checks the target's migration TLS certificate against (tls.destination). */
  migrationTlsName?: string;
  freeMemoryBytes: number;
  /** Whether the domain's CPU runs on this host's hypervisor (undefined: not checked). */
  cpuCompatible?: boolean;
  pools: Record<string, PoolFacts>;
  /** What keeps the domain's network storage from working here (a missing secret, monitors out of reach). */
  storageBlockers?: Blocker[];
  /** Identities of files here that a domain's backing chain names, by path (see DiskFacts). */
  volumeIdentities?: Record<string, string>;
}

export type MigrationMode =
  | "live-shared"
  | "live-copy-all"
  | "live-copy-incremental"
  | "block-copy"
  | "offline"
  | "failover"
  | "none";

export interface MigrationPolicy {
  allowLive: boolean;
  allowPostCopy: boolean;
  allowOfflineFallback: boolean;
  /** Offline fallback may power the guest off hard when it ignores a graceful shutdown. */
  allowForcedShutdown: boolean;
  /**
   * When the VM's host is lost (libvirt and ssh both fail), fence the host and start the VM on
   * the target from shared storage.
   */
  allowFailover: boolean;
  /**
   * A failover of a VM on Ceph RBD also blocklists the lost host's Ceph clients (hosts[].storageFence):
   * "auto" when the host has a storage fence, "required" refuses the failover without one,
   * "off" never does it.
   */
  storageFencing: "auto" | "required" | "off";
  maxDowntimeMs: number;
  /** Downtimes to step through when pre-copy stalls; the last is the most the policy allows. */
  downtimeLadderMs: number[];
  /** MiB/s; 0 = unlimited. */
  bandwidthMibps: number;
  postcopyBandwidthMibps: number;
  compression: "none" | "xbzrle" | "mt";
  parallelConnections: number;
  tls: boolean;
  autoConverge: boolean;
  /** Seconds allowed per GiB of memory + disk to move, before post-copy or abort. */
  completionTimeoutSecondsPerGib: number;
  /** Seconds without progress (remaining bytes not shrinking) before escalating. */
  progressTimeoutSeconds: number;
  storageCopy: "auto" | "all" | "incremental";
  /** Remove source volumes after a verified storage move. */
  removeSourceVolumes: boolean;
  /** Seconds to wait for a guest to shut down gracefully in the offline fallback. */
  shutdownTimeoutSeconds: number;
}

export interface DiskPlacement {
  target: string;
  /** Pool on the destination host; undefined for network disks that stay where they are. */
  pool?: string;
  sourcePath?: string;
  targetPath?: string;
  format: string;
  capacityBytes: number;
  /** Bytes that must cross the wire for this disk (0 on shared storage). */
  bytesToCopy: number;
  /** Of those, the bytes of its backing files (a full copy flattens the chain). */
  backingBytes?: number;
  copy: boolean;
  /** Where a disk that is not copied stays: its network storage, or the shared pool it is in. */
  stays?: string;
  /** A copy into an RBD pool: the network source the disk gets (its targetPath is pool/image). */
  targetNetwork?: NetworkSource;
  /** The image format on the target when it differs from the source's (RBD images are raw). */
  targetFormat?: string;
  /** For an incremental copy: the backing file on the target the copied overlay sits on. */
  backing?: { path: string; format: string };
}

export type EscalationStep =
  | { kind: "raise-downtime"; downtimeMs: number }
  | { kind: "auto-converge" }
  | { kind: "post-copy"; afterFirstPass?: boolean }
  | { kind: "abort" }
  | { kind: "offline-fallback" };

export interface Blocker {
  code: string;
  message: string;
}

export type Warning = Blocker;

/** A volume in a pool on a host. */
export interface VolumeRef {
  host: string;
  pool: string;
  volume: string;
}

/** Where a figure of the forecast came from, in words for the plan ("measured over 1 s", ...). */
export interface ForecastSources {
  link: string;
  dirtyRate: string;
  memory: string;
  disks: string;
  /** How TLS, parallel connections and compression were counted. */
  stream: string;
}

/** What the planner expects a move to take, and what it does up front because of it. */
export interface PlanForecast {
  /** "not-live": offline, block copy or nothing to move; no pre-copy to converge. */
  verdict:
    "converges" | "needs-post-copy" | "needs-auto-converge" | "cannot-move-live" | "not-live";
  /** Escalation from the start: none, post-copy right after the first pass, auto-converge. */
  escalation: "none" | "post-copy-after-first-pass" | "auto-converge";
  passes: number;
  durationSeconds: number;
  downtimeMs: number;
  /** Memory the first pass sends (resident, else configured), and all memory sent with resends. */
  memoryBytes: number;
  memoryBytesSent: number;
  diskBytes: number;
  linkMibps: number;
  dirtyRateMibps: number;
  sources: ForecastSources;
}

export interface MigrationPlan {
  domain: string;
  from: string;
  to: string;
  mode: MigrationMode;
  /** libvirt migration flags by name. */
  flags: string[];
  /** The typed parameters of the libvirt migration call, exactly as the executor passes them. */
  params: MigrationParams;
  disks: DiskPlacement[];
  bytes: { memory: number; disks: number; total: number };
  estimate: { durationSeconds: number; downtimeMs: number; linkMibps: number };
  forecast: PlanForecast;
  escalation: EscalationStep[];
  completionTimeoutSeconds: number;
  /** What the move needs on its target (memory, pool space), which the run's ledger holds for it. */
  demand?: Demand;
  blockers: Blocker[];
  warnings: Warning[];
  /** What earlier attempts of this domain left behind (found by their ownership markers); removed before the move. */
  leftovers: VolumeRef[];
  /** Hosts with a half-received incoming copy of the domain (it never ran there); removed first. */
  staleIncoming: string[];
  /**
   * A move of this domain was interrupted (its marker says so): this is done first, and the
   * placement is planned again once it is (interrupted-move.ts).
   */
  recovery?: Recovery;
  /** For mode "failover": the fence, and the definition started on the target. */
  failover?: FailoverSpec;
}

/** What a failover carries out: the fence, and the definition it starts on the target. */
export interface FailoverSpec {
  device: FenceDevice;
  /** Storage fencing: the lost host's Ceph clients blocklisted before the start elsewhere. */
  storageFence?: CephStorageFence;
  definitionXml: string;
  /** When the source was first found not to answer (ms since the epoch). */
  lostSince: number;
  summary: string;
}

export interface StorageFenceRecord {
  cluster: string;
  host: string;
  entries: string[];
  /** When a refresh found the host back, the VM not running there, and lifted the entries. */
  liftedAt?: string;
}

export interface MigrationTransport {
  tls: boolean;
  /** The name the target's certificate was checked against (else the migration address). */
  tlsDestination?: string;
  parallelConnections: number;
  compression: MigrationPolicy["compression"];
  /** Bytes sent on the migration stream (QEMU's transferred count, compression applied). */
  transferredBytes?: number;
  /** xbzrle: bytes its compressed pages took, pages sent compressed, cache misses, overflows. */
  compressedBytes?: number;
  compressedPages?: number;
  compressionCacheMisses?: number;
  compressionOverflows?: number;
}

export type MigrationResult = "succeeded" | "failed" | "aborted" | "cancelled" | "noop";

export interface MigrationRecord {
  domain: string;
  from: string;
  to: string;
  /** Where the domain runs after the attempt, verified. */
  finalHost: string;
  mode: MigrationMode;
  steps: string[];
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  downtimeMs?: number;
  bytesMoved?: number;
  iterations?: number;
  /** The link rate the move reached (MiB/s), when it moved enough to tell and ran uncapped. */
  linkMibps?: number;
  /** QEMU's own rate of the memory passes of that move (MiB/s, 90th percentile of what polls saw). */
  passMibps?: number;
  /** What the plan forecast, next to what happened. */
  forecast?: PlanForecast;
  /** How a live move's stream went: its options, and what QEMU reported of compression. */
  transport?: MigrationTransport;
  postCopy: boolean;
  fallbackUsed: boolean;
  result: MigrationResult;
  /** A failover's fence: the agent, each call and what it answered. */
  fence?: string;
  /** A failover's storage fence: the lost host's blocklist entries, and when they were lifted. */
  storageFence?: StorageFenceRecord;
  /** Each disk: copied (from where to where, how many bytes) or where it stayed. */
  disks?: string[];
  errorCategory?:
    | "blocked"
    | "connection"
    | "libvirt"
    | "timeout"
    | "verification"
    | "cancelled"
    | "deadline"
    | "fence";
  error?: string;
}

/** Progress reported while a migration runs (no more often than the executor polls). */
export interface MigrationProgress {
  domain: string;
  phase:
    | "queued"
    | "disk-copy"
    | "precopy"
    | "postcopy"
    | "block-copy"
    | "offline-copy"
    | "verifying"
    | "cleanup";
  percent: number;
  /** Seconds left at the current rate, when it can be told. */
  secondsLeft?: number;
  memoryProcessed: number;
  memoryRemaining: number;
  diskProcessed: number;
  diskRemaining: number;
  bandwidthBps: number;
  dirtyRateBps: number;
  iteration: number;
  /** While queued for a migration slot: place in the queue, expected start, what it waits on. */
  queue?: {
    position: number;
    queueLength: number;
    expectedStartSeconds?: number;
    waitingFor: string;
  };
}
