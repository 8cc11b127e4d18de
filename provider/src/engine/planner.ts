// The planner: pure functions from gathered facts and a policy to a migration plan. Preview
// uses only this; nothing here talks to a host.
import path from "node:path";
import { completionTimeoutSeconds, downtimeSteps } from "./policy";
import { withTargetDiskPaths } from "./domain-xml";
import { memoryBlockers, placementDemand, poolBlockers } from "./capacity";
import type { HeldOnTarget } from "./ledger";
import { chooseLink, type LinkFacts } from "./link";
import { forecastPlan, NOTHING_TO_MOVE } from "./plan-forecast";
import type {
  Blocker,
  DiskFacts,
  DiskPlacement,
  DomainFacts,
  EscalationStep,
  HostFacts,
  MigrationMode,
  MigrationPlan,
  MigrationPolicy,
  PlanForecast,
  PoolFacts,
  VolumeRef,
  Warning,
} from "./types";
import { parseMarker } from "./volume-markers";
import {
  describeStorage,
  rbdDiskIdentity,
  sameStorage,
  storageDifference,
} from "./storage-identity";

export interface PlacementRequest {
  domain: string;
  /** Inventory name of the host the domain should run on. */
  host: string;
  /** Pool for every disk, unless `diskPools` names one for a disk. */
  storagePool?: string;
  diskPools?: Record<string, string>;
  /** Hosts besides the source and the target to look for leftovers of earlier attempts on. */
  alsoLookOn?: string[];
  /**
   * Where the state last saw the domain, with its definition and UUID as then (kept only when
   * its policy allows failover): when that host is lost and the domain runs nowhere else, the
   * placement is a failover from it.
   */
  lastSeen?: { host: string; definitionXml?: string; domainUuid?: string };
}

export interface PlanningFacts {
  domain?: DomainFacts;
  source?: HostFacts;
  target?: HostFacts;
  /** What is known of the link between the hosts: stated in the inventory, measured before. */
  link?: LinkFacts;
  /** Other hosts to look for leftovers on (where the state last saw the domain). */
  others?: HostFacts[];
  /** What other placements of this run hold on the target (memory, pool space). */
  held?: HeldOnTarget;
}

function blocker(code: string, message: string): Blocker {
  return { code, message };
}

/** Disks whose content the plan must place: removable media without a file are skipped. */
function placedDisks(domain: DomainFacts): DiskFacts[] {
  return domain.disks.filter(
    (d) =>
      d.device === "disk" || d.device === "lun" || d.path !== undefined || d.network !== undefined,
  );
}

function sameSharedStorage(a: PoolFacts | undefined, b: PoolFacts | undefined): boolean {
  if (a?.sharedStorage && b?.sharedStorage) return sameStorage(a.sharedStorage, b.sharedStorage);
  return !!a?.sharedStorageKey && a.sharedStorageKey === b?.sharedStorageKey;
}

/** A pool's volume as a disk's source names it: a file path, or pool/image for RBD. */
export function volumePath(pool: PoolFacts, volume: string): string | undefined {
  if (pool.path) return path.join(pool.path, volume);
  return pool.rbd ? `${pool.rbd.cephPool}/${volume}` : undefined;
}

/** The target's pool on the same shared storage as `pool`, by identity: the name it has there. */
function samePoolOn(target: HostFacts, pool: PoolFacts | undefined): string | undefined {
  if (pool?.sharedStorage && sameSharedStorage(pool, target.pools[pool.name])) return pool.name;
  return Object.values(target.pools).find((p) => sameSharedStorage(pool, p))?.name;
}

/**
 * An RBD network disk as a volume of the host's pool on the same storage (by identity, whatever
 * the pool's name): its pool and its volume path (Ceph pool/image). Undefined when no pool there
 * is on that storage; the disk then stays as it is, like any network disk.
 */
export function rbdDiskInPool(disk: DiskFacts, host: HostFacts): DiskFacts | undefined {
  const id = disk.network && rbdDiskIdentity(disk.network);
  // A pool has no namespace of its own: an image in one is not a volume of any pool.
  if (!id || (id.kind === "rbd" && id.namespace)) return undefined;
  const pool = Object.values(host.pools).find((p) => sameStorage(p.sharedStorage, id));
  return pool && { ...disk, pool: pool.name, path: disk.network!.name };
}

interface DiskDecision {
  placement?: DiskPlacement;
  blockers: Blocker[];
  warnings: Warning[];
  incremental: boolean;
}

/**
 * Whether the file at `targetPath` on `target` is the image whose identity the source reported.
 * Without identities on either side (facts built by hand) the name is all there is to go by.
 */
function sameImage(
  sourceIdentity: string | undefined,
  target: HostFacts,
  targetPath: string,
): boolean {
  const there = target.volumeIdentities?.[targetPath];
  if (sourceIdentity === undefined && there === undefined) return true;
  return sourceIdentity !== undefined && sourceIdentity !== "unknown" && sourceIdentity === there;
}

/** A disk that is not copied and keeps its source (removable media, network storage). */
function stays(disk: DiskFacts): DiskPlacement {
  const net = disk.network;
  const where = net
    ? `${net.protocol} ${net.name} at ${net.hosts.map((h) => (h.port ? `${h.name}:${h.port}` : h.name)).join(", ")}`
    : disk.path;
  return {
    ...(where ? { stays: where } : {}),
    target: disk.target,
    format: disk.format,
    capacityBytes: disk.capacityBytes,
    bytesToCopy: 0,
    copy: false,
  };
}

/**
 * Bytes a storage copy of the disk moves: its allocation, plus its backing files' when the whole
 * chain is copied (flattened into one image, so never more than the guest sees).
 */
function copiedBytes(disk: DiskFacts, topLayerOnly: boolean): number {
  const top = Math.max(disk.allocationBytes, 0);
  if (topLayerOnly || !disk.backingAllocationBytes) return top;
  return Math.min(top + disk.backingAllocationBytes, Math.max(disk.capacityBytes, top));
}

/** Where one disk goes and what must be copied for it. */
export function placeDisk(
  disk: DiskFacts,
  req: PlacementRequest,
  source: HostFacts,
  target: HostFacts,
  policy: MigrationPolicy,
  leftovers: VolumeRef[] = [],
): DiskDecision {
  if (disk.device === "cdrom" || disk.device === "floppy")
    return removableMedia(disk, source.name !== target.name, target);
  if (disk.network) {
    const inPool = rbdDiskInPool(disk, source);
    if (!inPool) return networkDisk(disk, req);
    disk = inPool;
  }
  // A disk on RBD changes pools only when its own setting says so: the domain-wide storagePool
  // is for the disks a move must copy anyway.
  const wanted = disk.network
    ? (req.diskPools?.[disk.target] ?? samePoolOn(target, source.pools[disk.pool!]) ?? disk.pool)
    : (req.diskPools?.[disk.target] ?? req.storagePool ?? disk.pool);
  const poolProblem = targetPoolProblem(disk, wanted, target);
  if (poolProblem) return decision([poolProblem]);
  const targetPool = target.pools[wanted!];
  const hostChange = source.name !== target.name;
  const sourcePool = disk.pool ? source.pools[disk.pool] : undefined;
  // The same shared storage under another pool name on the target needs no copy either.
  const shared = sameSharedStorage(sourcePool, targetPool);
  const otherStorage = sharedPoolMismatch(disk, wanted!, sourcePool, targetPool, target);
  if (otherStorage) return decision([otherStorage]);
  if (shared || (!hostChange && wanted === disk.pool)) {
    const placement = {
      ...stays(disk),
      ...(shared
        ? { stays: `shared pool '${wanted}': ${disk.path} on ${targetPool.sharedStorageKey}` }
        : {}),
      pool: wanted,
      sourcePath: disk.path,
      targetPath: disk.path,
    };
    return { ...decision([]), placement };
  }
  if (targetPool.rbd)
    return copiedIntoRbd(disk, req, { target, pool: wanted!, targetPool }, leftovers);
  if (!targetPool.path)
    return decision([
      blocker(
        "POOL_NOT_FILE_BASED",
        `pool '${wanted}' on ${target.name} is of type ${targetPool.type}, which has no directory to copy disk ${disk.target} into; choose a directory-backed pool.`,
      ),
    ]);
  const into = { source, target, pool: wanted!, targetPool: targetPool as FilePool };
  return copiedDisk(disk, req, into, policy, leftovers);
}

/**
 * A disk on shared storage that keeps its pool's name across a host change, where the target's
 * pool of that name is other storage: copying it there would move it between clusters (or Ceph
 * pools) unasked, so the definitions must agree first, or the pool be named for the disk.
 */
function sharedPoolMismatch(
  disk: DiskFacts,
  wanted: string,
  sourcePool: PoolFacts | undefined,
  targetPool: PoolFacts,
  target: HostFacts,
): Blocker | undefined {
  const [a, b] = [sourcePool?.sharedStorage, targetPool.sharedStorage];
  if (wanted !== disk.pool || !a || !b) return undefined;
  const difference = storageDifference(a, b);
  if (!difference) return undefined;
  return blocker(
    "POOL_IS_OTHER_STORAGE",
    `pool '${wanted}' on ${target.name} is not the storage disk ${disk.target} is on (${difference}): define '${wanted}' on ${target.name} over ${describeStorage(a)}, or set disks.${disk.target} to choose where it is copied.`,
  );
}

/** A disk copied into an RBD pool: a raw image there, opened with the pool's monitors and key. */
function copiedIntoRbd(
  disk: DiskFacts,
  req: PlacementRequest,
  into: { target: HostFacts; pool: string; targetPool: PoolFacts },
  leftovers: VolumeRef[],
): DiskDecision {
  const { target, pool, targetPool } = into;
  const rbd = targetPool.rbd!;
  const stem = path.basename(disk.path ?? `${req.domain}-${disk.target}`).replace(/\.[^.]*$/, "");
  const volumeName = `${stem}.raw`;
  const out = decision([]);
  const leftover = leftovers.some(
    (l) => l.host === target.name && l.pool === pool && l.volume === volumeName,
  );
  if (!leftover && targetPool.volumes.includes(volumeName))
    out.blockers.push(
      blocker(
        "VOLUME_EXISTS",
        `pool '${pool}' on ${target.name} already has an image named ${volumeName}; remove it (virsh vol-delete --pool ${pool} ${volumeName}) or rename disk ${disk.target}'s volume.`,
      ),
    );
  const name = `${rbd.cephPool}/${volumeName}`;
  out.placement = {
    target: disk.target,
    pool,
    sourcePath: disk.path,
    targetPath: name,
    format: "raw",
    ...(disk.format !== "raw" ? { targetFormat: "raw" } : {}),
    capacityBytes: disk.capacityBytes,
    bytesToCopy: copiedBytes(disk, false),
    copy: true,
    targetNetwork: {
      protocol: "rbd",
      name,
      hosts: rbd.monitors,
      ...(rbd.auth ? { auth: rbd.auth } : {}),
    },
  };
  return out;
}

function decision(blockers: Blocker[], warnings: Warning[] = []): DiskDecision {
  return { blockers, warnings, incremental: false };
}

/** Removable media stay as they are; media inserted from a file must exist on the target too. */
function removableMedia(disk: DiskFacts, hostChange: boolean, target: HostFacts): DiskDecision {
  const warnings =
    hostChange && disk.path
      ? [
          blocker(
            "REMOVABLE_MEDIA",
            `${disk.target} has ${disk.path} inserted; media is not copied, so the same path must exist on ${target.name} (or eject it first).`,
          ),
        ]
      : [];
  return { ...decision([], warnings), placement: stays(disk) };
}

/** A network disk stays where it is, which every host reaches; it cannot be moved into a pool. */
function networkDisk(disk: DiskFacts, req: PlacementRequest): DiskDecision {
  // The domain-wide storagePool is for disks in pools; only a per-disk setting names this one.
  const explicit = req.diskPools?.[disk.target];
  const blockers =
    explicit !== undefined && explicit !== disk.pool
      ? [
          blocker(
            "DISK_ON_NETWORK_STORAGE",
            `disk ${disk.target} is on network storage (${disk.network!.protocol} ${disk.network!.name}), which every host reaches; it cannot be moved into pool '${explicit}'. Remove disks.${disk.target}.`,
          ),
        ]
      : [];
  return { ...decision(blockers), placement: stays(disk) };
}

/** Why the disk cannot go into pool `wanted` on the target, if it cannot. */
function targetPoolProblem(
  disk: DiskFacts,
  wanted: string | undefined,
  target: HostFacts,
): Blocker | undefined {
  if (wanted === undefined)
    return blocker(
      "DISK_NOT_IN_POOL",
      `disk ${disk.target} (${disk.path ?? "no source"}) is not in a libvirt storage pool; set storagePool or disks.${disk.target} to a pool on ${target.name}.`,
    );
  const pool = target.pools[wanted];
  if (!pool)
    return blocker(
      "POOL_MISSING",
      `pool '${wanted}' does not exist on host ${target.name} (pools there: ${Object.keys(target.pools).join(", ") || "none"}); create it or choose another pool for disk ${disk.target}.`,
    );
  if (!pool.active)
    return blocker(
      "POOL_INACTIVE",
      `pool '${wanted}' on host ${target.name} is not active; start it (virsh pool-start ${wanted}) before moving disk ${disk.target} there.`,
    );
  return undefined;
}

type FilePool = PoolFacts & { path: string };

/** Which backing files an incremental copy needs on the target, and which of them differ there. */
function backingChainOnTarget(
  disk: DiskFacts,
  target: HostFacts,
  targetPool: FilePool,
): { onTarget: boolean; differing: string[] } {
  // Incremental copy needs the whole backing chain on the target already: the same images, not
  // only files of the same names.
  const namesOnTarget =
    disk.backingChain.length > 0 &&
    disk.backingChain.every((b) => targetPool.volumes.includes(path.basename(b)));
  const differing = namesOnTarget
    ? disk.backingChain.filter(
        (b, i) =>
          !sameImage(
            disk.backingIdentities?.[i],
            target,
            path.join(targetPool.path, path.basename(b)),
          ),
      )
    : [];
  return { onTarget: namesOnTarget && differing.length === 0, differing };
}

/** A disk copied into a file-based pool: its target volume, and whether the copy is incremental. */
function copiedDisk(
  disk: DiskFacts,
  req: PlacementRequest,
  into: { source: HostFacts; target: HostFacts; pool: string; targetPool: FilePool },
  policy: MigrationPolicy,
  leftovers: VolumeRef[],
): DiskDecision {
  const { source, target, pool, targetPool } = into;
  const out = decision([]);
  const hostChange = source.name !== target.name;
  const volumeName = path.basename(disk.path ?? `${req.domain}-${disk.target}.${disk.format}`);
  const targetPath = path.join(targetPool.path, volumeName);
  const samePlace = !hostChange && targetPath === disk.path;
  const leftover = leftovers.some(
    (l) => l.host === target.name && l.pool === pool && l.volume === volumeName,
  );
  if (!samePlace && !leftover && targetPool.volumes.includes(volumeName)) {
    out.blockers.push(
      blocker(
        "VOLUME_EXISTS",
        `pool '${pool}' on ${target.name} already has a volume named ${volumeName}; remove it (virsh vol-delete --pool ${pool} ${volumeName}) or rename disk ${disk.target}'s file.`,
      ),
    );
  }
  const chain = backingChainOnTarget(disk, target, targetPool);
  out.incremental = hostChange && policy.storageCopy !== "all" && chain.onTarget;
  if (hostChange && policy.storageCopy !== "all" && chain.differing.length) {
    out.warnings.push(
      blocker(
        "BACKING_FILE_DIFFERS",
        `disk ${disk.target}: ${chain.differing.map((b) => path.basename(b)).join(", ")} on ${target.name} is not the same image as on ${source.name} (size or content differ); its whole content is copied.`,
      ),
    );
  } else if (hostChange && policy.storageCopy === "incremental" && !chain.onTarget) {
    out.warnings.push(
      blocker(
        "INCREMENTAL_UNAVAILABLE",
        `disk ${disk.target} has no backing chain on ${target.name}; its whole content is copied.`,
      ),
    );
  }
  out.placement = {
    target: disk.target,
    pool,
    sourcePath: disk.path,
    targetPath,
    format: disk.format,
    capacityBytes: disk.capacityBytes,
    bytesToCopy: copiedBytes(disk, out.incremental),
    ...(!out.incremental && disk.backingAllocationBytes
      ? { backingBytes: copiedBytes(disk, false) - copiedBytes(disk, true) }
      : {}),
    copy: true,
    // Incremental: the target overlay sits on the backing file the target already has.
    ...(out.incremental
      ? {
          backing: {
            path: path.join(targetPool.path, path.basename(disk.backingChain[0])),
            format: disk.backingFormats[0] ?? "raw",
          },
        }
      : {}),
  };
  return out;
}

/**
 * What earlier attempts of this domain left on these hosts, found by their markers: volumes it
 * created that the domain does not use, old source copies of a move that finished without
 * cleaning up (when the policy removes source volumes), then every marker (a new attempt makes
 * its own). A volume without this domain's marker is never listed.
 */
export function findLeftovers(
  domain: DomainFacts,
  hosts: HostFacts[],
  policy: MigrationPolicy,
): VolumeRef[] {
  const inUse = new Set([
    ...domain.disks.map((d) => d.path ?? d.network?.name).filter((p) => p !== undefined),
    ...(domain.persistentDiskPaths ?? []),
  ]);
  const volumes: VolumeRef[] = [];
  const markers: VolumeRef[] = [];
  const seen = new Set<string>();
  for (const host of hosts) {
    if (seen.has(host.name)) continue;
    seen.add(host.name);
    for (const pool of Object.values(host.pools)) {
      for (const name of pool.volumes) {
        const marker = parseMarker(name, domain.uuid);
        if (!marker) continue;
        // A volume on shared storage is in use from every host that sees it.
        const where = volumePath(pool, marker.volume);
        const used =
          (host.name === domain.host || pool.sharedStorage !== undefined) &&
          where !== undefined &&
          inUse.has(where);
        const remove = marker.kind === "created" || policy.removeSourceVolumes;
        if (!used && remove && pool.volumes.includes(marker.volume))
          volumes.push({ host: host.name, pool: pool.name, volume: marker.volume });
        markers.push({ host: host.name, pool: pool.name, volume: name });
      }
    }
  }
  return [...volumes, ...markers];
}

/** Blockers that stop the move before anything changes. */
export function checkFeasibility(
  req: PlacementRequest,
  facts: PlanningFacts,
  policy: MigrationPolicy,
  mode: MigrationMode,
  disks: DiskPlacement[],
): Blocker[] {
  const { domain, target, source } = facts;
  const out: Blocker[] = [];
  if (!domain || !source || !target) return out;
  if (source.name === target.name && mode === "none") return out;
  const live = mode.startsWith("live") || mode === "block-copy";
  const demand = placementDemand(domain, source, target, disks);
  out.push(...memoryBlockers(domain, target, demand, facts.held));
  if (live && target.name !== source.name && target.cpuCompatible === false) {
    out.push(
      blocker(
        "CPU_INCOMPATIBLE",
        `the CPU of ${req.domain} does not run on host ${target.name}; use a CPU model both hosts support (e.g. a named model with fallback) or choose another host.`,
      ),
    );
  }
  if (live && domain.hostDevices.length > 0 && target.name !== source.name) {
    out.push(
      blocker(
        "HOST_DEVICES_ATTACHED",
        `${req.domain} has host devices attached (${domain.hostDevices.join(", ")}), which cannot move with it; detach them first.`,
      ),
    );
  }
  if (domain.snapshotCount > 0 && target.name !== source.name) {
    out.push(
      blocker(
        "SNAPSHOTS_PRESENT",
        `${req.domain} has ${domain.snapshotCount} snapshot(s); libvirt cannot migrate snapshot metadata. Delete or export the snapshots first.`,
      ),
    );
  }
  out.push(...poolBlockers(domain, target, demand, facts.held));
  if ((mode.startsWith("live") || mode === "block-copy") && !policy.allowLive) {
    out.push(
      blocker(
        "LIVE_NOT_ALLOWED",
        `the policy forbids live migration and offline fallback; allow one of them to move ${req.domain}.`,
      ),
    );
  }
  return out;
}

/** Chooses how the domain moves. */
export function chooseMode(
  facts: { domain: DomainFacts; source: HostFacts; target: HostFacts },
  disks: DiskPlacement[],
  incremental: boolean,
  policy: MigrationPolicy,
): MigrationMode {
  const hostChange = facts.source.name !== facts.target.name;
  const anyCopy = disks.some((d) => d.copy);
  if (!hostChange) {
    if (!anyCopy) return "none";
    if (!facts.domain.running) return "offline";
    // A block copy is a live operation too; without it, only an offline move is left.
    return policy.allowLive || !policy.allowOfflineFallback ? "block-copy" : "offline";
  }
  if (!facts.domain.running) return "offline";
  if (!policy.allowLive) return policy.allowOfflineFallback ? "offline" : "live-shared";
  if (!anyCopy) return "live-shared";
  return incremental ? "live-copy-incremental" : "live-copy-all";
}

/**
 * Why an offline move of this domain cannot work, if it cannot: a transient domain loses its
 * definition when shut down; an offline copy is the top layer only, so a qcow2 overlay needs its
 * whole backing chain on the target at the path its header names.
 */
export function offlineObstacle(
  domain: DomainFacts,
  disks: DiskPlacement[],
  target: HostFacts,
): string | undefined {
  if (!domain.persistent)
    return `${domain.name} is transient (not defined persistently): shutting it down would delete it. Define it persistently (virsh define) first.`;
  // libvirt streams no RBD image (its rbd pools have no volume upload or download).
  const rbdCopy = disks.find(
    (d) => d.copy && (d.targetNetwork || domain.disks.find((f) => f.target === d.target)?.network),
  );
  if (rbdCopy)
    return `disk ${rbdCopy.target} is copied into or out of Ceph RBD, which an offline move cannot do (libvirt's rbd pools stream no volume); move ${domain.name} while it runs (a live storage copy or block copy), or keep the disk where it is.`;
  // UEFI variables move either way: with memory (live), or copied as a file (offline).
  for (const d of disks) {
    const facts = domain.disks.find((f) => f.target === d.target);
    if (!d.copy || !facts?.backingChain.length) continue;
    const missing = facts.backingChain.filter(
      (b, i) =>
        !Object.values(target.pools).some(
          (p) =>
            p.path !== undefined &&
            path.join(p.path, path.basename(b)) === b &&
            p.volumes.includes(path.basename(b)) &&
            (target.name === domain.host || sameImage(facts.backingIdentities?.[i], target, b)),
        ),
    );
    if (missing.length || d.targetPath === undefined)
      return `disk ${d.target} is a qcow2 overlay whose backing file(s) ${missing.join(", ")} are not on ${target.name} at the same path (the same image); an offline copy moves the top layer only. Put the backing chain on ${target.name} first, or move it live with storageCopy "all".`;
  }
  return undefined;
}

function escalationSteps(
  mode: MigrationMode,
  policy: MigrationPolicy,
  offlinePossible: boolean,
  forecast: PlanForecast,
): EscalationStep[] {
  if (!mode.startsWith("live")) return [];
  // A guest the forecast says cannot converge goes to post-copy after one pass, not up the ladder.
  const steps: EscalationStep[] =
    forecast.escalation === "post-copy-after-first-pass"
      ? [{ kind: "post-copy", afterFirstPass: true }]
      : downtimeSteps(policy).map((d) => ({ kind: "raise-downtime", downtimeMs: d }));
  if (policy.allowPostCopy && forecast.escalation !== "post-copy-after-first-pass")
    steps.push({ kind: "post-copy" });
  steps.push({ kind: "abort" });
  if (policy.allowOfflineFallback && offlinePossible) steps.push({ kind: "offline-fallback" });
  return steps;
}

function migrationFlags(
  mode: MigrationMode,
  domain: DomainFacts,
  policy: MigrationPolicy,
): string[] {
  if (!mode.startsWith("live")) return [];
  const flags = ["VIR_MIGRATE_LIVE", "VIR_MIGRATE_ABORT_ON_ERROR"];
  if (domain.persistent) flags.push("VIR_MIGRATE_PERSIST_DEST");
  // libvirt's undefine-source keeps the NVRAM file; the executor undefines a UEFI source itself,
  // NVRAM included, once the target is verified.
  if (domain.persistent && !domain.nvram) flags.push("VIR_MIGRATE_UNDEFINE_SOURCE");
  if (mode === "live-copy-all") flags.push("VIR_MIGRATE_NON_SHARED_DISK");
  if (mode === "live-copy-incremental") flags.push("VIR_MIGRATE_NON_SHARED_INC");
  if (policy.allowPostCopy) flags.push("VIR_MIGRATE_POSTCOPY");
  if (policy.autoConverge) flags.push("VIR_MIGRATE_AUTO_CONVERGE");
  if (policy.compression !== "none") flags.push("VIR_MIGRATE_COMPRESSED");
  if (policy.parallelConnections > 1) flags.push("VIR_MIGRATE_PARALLEL");
  if (policy.tls) flags.push("VIR_MIGRATE_TLS");
  return flags;
}

function emptyPlan(req: PlacementRequest, from: string): MigrationPlan {
  return {
    domain: req.domain,
    from,
    to: req.host,
    mode: "none",
    flags: [],
    params: {},
    disks: [],
    bytes: { memory: 0, disks: 0, total: 0 },
    estimate: { durationSeconds: 0, downtimeMs: 0, linkMibps: 0 },
    forecast: NOTHING_TO_MOVE,
    escalation: [],
    completionTimeoutSeconds: 0,
    blockers: [],
    warnings: [],
    leftovers: [],
    staleIncoming: [],
  };
}

/** A plan that moves nothing, for a placement that cannot even be planned. */
export function blockedPlan(
  req: PlacementRequest,
  from: string,
  blockers: Blocker[],
): MigrationPlan {
  return { ...emptyPlan(req, from), blockers };
}

/** The plan of a placement whose domain or hosts cannot be planned with, if it is one. */
function unplannable(
  req: PlacementRequest,
  facts: PlanningFacts,
  base: MigrationPlan,
): MigrationPlan | undefined {
  const { domain, source, target } = facts;
  const blocked = (code: string, message: string) => ({
    ...base,
    blockers: [blocker(code, message)],
  });
  if (!domain)
    return blocked(
      "DOMAIN_NOT_FOUND",
      `domain '${req.domain}' was not found on any host of the inventory; check the name, or define it first.`,
    );
  if (!source?.reachable)
    return blocked(
      "HOST_UNREACHABLE",
      `source host ${base.from} is unreachable: ${source?.unreachableReason ?? "no connection"}.`,
    );
  if (!target)
    return blocked(
      "HOST_UNKNOWN",
      `host '${req.host}' is not in the provider's host inventory; add it to the provider configuration or choose one of the inventory's hosts.`,
    );
  if (!target.reachable)
    return blocked(
      "HOST_UNREACHABLE",
      `target host ${target.name} is unreachable: ${target.unreachableReason ?? "no connection"}.`,
    );
  return undefined;
}

interface DisksPlaced {
  disks: DiskPlacement[];
  blockers: Blocker[];
  warnings: Warning[];
  /** Some disk is copied, and every copied disk can be copied incrementally. */
  incrementalCopy: boolean;
}

/** Where each disk goes, and the disks the request names that the domain does not have. */
function placeDisks(
  req: PlacementRequest,
  domain: DomainFacts,
  source: HostFacts,
  target: HostFacts,
  policy: MigrationPolicy,
  leftovers: VolumeRef[],
): DisksPlaced {
  const out: DisksPlaced = { disks: [], blockers: [], warnings: [], incrementalCopy: false };
  let incremental = true;
  let anyCopy = false;
  for (const disk of placedDisks(domain)) {
    const d = placeDisk(disk, req, source, target, policy, leftovers);
    out.blockers.push(...d.blockers);
    out.warnings.push(...d.warnings);
    if (!d.placement) continue;
    out.disks.push(d.placement);
    if (d.placement.copy) {
      anyCopy = true;
      incremental &&= d.incremental;
    }
  }
  for (const t of Object.keys(req.diskPools ?? {})) {
    if (!domain.disks.some((d) => d.target === t))
      out.blockers.push(
        blocker(
          "DISK_UNKNOWN",
          `disks.${t}: ${req.domain} has no disk '${t}' (disks: ${domain.disks.map((d) => d.target).join(", ")}).`,
        ),
      );
  }
  out.incrementalCopy = anyCopy && incremental;
  return out;
}

/** The typed parameters of the migration call (live) or the target's definition (offline). */
function migrationParams(
  mode: MigrationMode,
  domain: DomainFacts,
  target: HostFacts,
  disks: DiskPlacement[],
  policy: MigrationPolicy,
): MigrationPlan["params"] {
  const rewritten = withTargetDiskPaths(domain.xml, disks);
  if (!mode.startsWith("live")) return rewritten ? { destinationXml: rewritten } : {};
  const copied = disks.filter((d) => d.copy).map((d) => d.target);
  return {
    uri: `tcp://${target.migrationAddress}`,
    ...(copied.length
      ? { disksUri: `tcp://${target.migrationAddress}`, migrateDisks: copied }
      : {}),
    ...(policy.bandwidthMibps ? { bandwidthMibps: policy.bandwidthMibps } : {}),
    ...(policy.postcopyBandwidthMibps
      ? { postcopyBandwidthMibps: policy.postcopyBandwidthMibps }
      : {}),
    ...(policy.compression !== "none" ? { compression: [policy.compression] } : {}),
    ...(policy.parallelConnections > 1 ? { parallelConnections: policy.parallelConnections } : {}),
    // Without it QEMU checks the certificate against the address in the migration URI.
    ...(policy.tls && target.migrationTlsName ? { tlsDestination: target.migrationTlsName } : {}),
    ...(rewritten
      ? { destinationXml: rewritten, ...(domain.persistent ? { persistentXml: rewritten } : {}) }
      : {}),
  };
}

/** Why the offline move (or the live move's offline fallback) cannot work, as a blocker or warning. */
function offlineProblems(
  mode: MigrationMode,
  domain: DomainFacts,
  disks: DiskPlacement[],
  target: HostFacts,
  policy: MigrationPolicy,
): { whyNot?: string; blockers: Blocker[]; warnings: Warning[] } {
  const whyNot =
    mode === "offline" || (mode.startsWith("live") && policy.allowOfflineFallback)
      ? offlineObstacle(domain, disks, target)
      : undefined;
  if (!whyNot) return { blockers: [], warnings: [] };
  if (mode === "offline")
    return { whyNot, blockers: [blocker("OFFLINE_MOVE_IMPOSSIBLE", whyNot)], warnings: [] };
  return {
    whyNot,
    blockers: [],
    warnings: [
      blocker("OFFLINE_FALLBACK_UNAVAILABLE", `the offline fallback is left out: ${whyNot}`),
    ],
  };
}

/** The whole plan: what moves where, how, with which libvirt flags, and what may follow. */
export function choosePlan(
  req: PlacementRequest,
  facts: PlanningFacts,
  policy: MigrationPolicy,
): MigrationPlan {
  const base = emptyPlan(req, facts.domain?.host ?? facts.source?.name ?? "unknown");
  const early = unplannable(req, facts, base);
  if (early) return early;
  const domain = facts.domain!;
  const source = facts.source!;
  const target = facts.target!;
  const leftovers = findLeftovers(domain, [source, target, ...(facts.others ?? [])], policy);
  const placed = placeDisks(req, domain, source, target, policy, leftovers);
  const { disks, blockers, warnings } = placed;
  const mode = chooseMode({ domain, source, target }, disks, placed.incrementalCopy, policy);
  blockers.push(...checkFeasibility(req, facts, policy, mode, disks));
  blockers.push(...(target.storageBlockers ?? []));
  const offline = offlineProblems(mode, domain, disks, target, policy);
  blockers.push(...offline.blockers);
  warnings.push(...offline.warnings);

  // An offline move copies the top layer onto the backing files the target already has.
  const copies =
    mode === "offline"
      ? disks.map((d) =>
          d.backingBytes ? { ...d, bytesToCopy: d.bytesToCopy - d.backingBytes } : d,
        )
      : disks;
  const link = chooseLink(policy, source.name, target.name, facts.link);
  const diskBytes = copies.reduce((sum, d) => sum + d.bytesToCopy, 0);
  const memory = mode.startsWith("live") ? domain.memoryBytes : 0;
  const timeout = completionTimeoutSeconds(policy, memory + diskBytes);
  const forecast = forecastPlan(mode, domain, copies, link, policy, timeout);
  const notConverging = convergenceWarning(req.domain, forecast, policy, !offline.whyNot);
  if (notConverging) warnings.push(notConverging);
  if (mode.startsWith("live") && policy.compression === "xbzrle" && policy.parallelConnections > 1)
    warnings.push(
      blocker(
        "COMPRESSION_NOT_APPLIED",
        `compression 'xbzrle' does not apply with parallelConnections ${policy.parallelConnections}: QEMU sends pages over parallel connections whole; set parallelConnections to 1 to compress resent pages, or compression to 'none'.`,
      ),
    );
  return {
    ...base,
    from: source.name,
    mode,
    flags: migrationFlags(mode, domain, policy),
    params: migrationParams(mode, domain, target, disks, policy),
    disks: copies,
    bytes: {
      memory: forecast.memoryBytes,
      disks: diskBytes,
      total: forecast.memoryBytes + diskBytes,
    },
    estimate: {
      durationSeconds: forecast.durationSeconds,
      downtimeMs: forecast.downtimeMs,
      linkMibps: link.mibps,
    },
    forecast,
    escalation: escalationSteps(mode, policy, !offline.whyNot, forecast),
    completionTimeoutSeconds: timeout,
    demand: mode === "none" ? undefined : placementDemand(domain, source, target, disks),
    blockers,
    warnings,
    leftovers,
  };
}

/** The warning for a live move the forecast says pre-copy alone cannot finish, with what follows. */
function convergenceWarning(
  domain: string,
  f: PlanForecast,
  policy: MigrationPolicy,
  offlinePossible: boolean,
): Warning | undefined {
  if (f.verdict === "converges" || f.verdict === "not-live") return undefined;
  const why = `${domain} dirties memory at ~${Math.round(f.dirtyRateMibps)} MiB/s (${f.sources.dirtyRate}), faster than pre-copy can resend it over ${f.linkMibps} MiB/s (${f.sources.link}) within a ${Math.max(policy.maxDowntimeMs, ...policy.downtimeLadderMs)} ms downtime`;
  const then =
    f.verdict === "needs-post-copy"
      ? "it switches to post-copy right after the first pass"
      : f.verdict === "needs-auto-converge"
        ? `auto-converge throttles its vCPUs until pre-copy converges (~${f.passes} passes)`
        : `the policy allows neither post-copy nor auto-converge, so the move is aborted after ~${f.durationSeconds} s and ${domain} stays on its source${policy.allowOfflineFallback && offlinePossible ? ", then the offline fallback moves it" : ""}; allow post-copy or auto-converge, or raise bandwidthMibps or the downtime ladder`;
  return blocker("PRECOPY_MAY_NOT_CONVERGE", `${why}: ${then}.`);
}
