// Domains: lookup, XML, state, lifecycle, jobs and block jobs.
import type { CallOptions } from "../rpc/connection";
import type { RemoteProgram } from "../rpc/remote-program";
import { uuidFromString, type Domain } from "./handles";
import {
  decodeTypedParams,
  encodeTypedParams,
  toNumber,
  type TypedParamSpec,
  type TypedParamValue,
} from "./typed-params";
import * as C from "./constants.gen";

const STATE_NAMES: Record<number, DomainStateName> = {
  [C.virDomainState.VIR_DOMAIN_NOSTATE]: "nostate",
  [C.virDomainState.VIR_DOMAIN_RUNNING]: "running",
  [C.virDomainState.VIR_DOMAIN_BLOCKED]: "blocked",
  [C.virDomainState.VIR_DOMAIN_PAUSED]: "paused",
  [C.virDomainState.VIR_DOMAIN_SHUTDOWN]: "shutdown",
  [C.virDomainState.VIR_DOMAIN_SHUTOFF]: "shutoff",
  [C.virDomainState.VIR_DOMAIN_CRASHED]: "crashed",
  [C.virDomainState.VIR_DOMAIN_PMSUSPENDED]: "pmsuspended",
};

export type DomainStateName =
  "nostate" | "running" | "blocked" | "paused" | "shutdown" | "shutoff" | "crashed" | "pmsuspended";

export interface DomainInfo {
  state: DomainStateName;
  maxMemoryKiB: number;
  memoryKiB: number;
  vcpus: number;
  cpuTimeNs: bigint;
}

const JOB_TYPES: Record<number, JobType> = {
  [C.virDomainJobType.VIR_DOMAIN_JOB_NONE]: "none",
  [C.virDomainJobType.VIR_DOMAIN_JOB_BOUNDED]: "bounded",
  [C.virDomainJobType.VIR_DOMAIN_JOB_UNBOUNDED]: "unbounded",
  [C.virDomainJobType.VIR_DOMAIN_JOB_COMPLETED]: "completed",
  [C.virDomainJobType.VIR_DOMAIN_JOB_FAILED]: "failed",
  [C.virDomainJobType.VIR_DOMAIN_JOB_CANCELLED]: "cancelled",
};

export type JobType = "none" | "bounded" | "unbounded" | "completed" | "failed" | "cancelled";

/** virDomainGetJobStats, with the fields the migration engine watches named and typed. */
export interface JobStats {
  type: JobType;
  operation?: number;
  /** Set once the job has finished: true when it completed. */
  success?: boolean;
  errorMessage?: string;
  timeElapsedMs?: number;
  timeRemainingMs?: number;
  downtimeMs?: number;
  setupTimeMs?: number;
  dataTotal?: number;
  dataProcessed?: number;
  dataRemaining?: number;
  memoryTotal?: number;
  memoryProcessed?: number;
  memoryRemaining?: number;
  memoryBps?: number;
  /** Pages per second, as libvirt reports it (see memoryDirtyRateBps). */
  memoryDirtyRate?: number;
  memoryPageSize?: number;
  /** The dirty rate in bytes per second (pages times the page size). */
  memoryDirtyRateBps?: number;
  memoryIteration?: number;
  memoryPostcopyRequests?: number;
  diskTotal?: number;
  diskProcessed?: number;
  diskRemaining?: number;
  diskBps?: number;
  autoConvergeThrottle?: number;
  /** Everything libvirt reported, by libvirt's field name. */
  raw: Record<string, TypedParamValue>;
}

/** Whether a finished job succeeded: libvirt says so explicitly only for some jobs (backup). */
function jobSucceeded(type: JobType, raw: Record<string, TypedParamValue>): boolean | undefined {
  if (raw[C.VIR_DOMAIN_JOB_SUCCESS] !== undefined) return Boolean(raw[C.VIR_DOMAIN_JOB_SUCCESS]);
  if (type === "completed") return true;
  if (type === "failed" || type === "cancelled") return false;
  return undefined;
}

function dirtyBytesPerSecond(pages?: number, pageSize?: number): number | undefined {
  return pages === undefined ? undefined : pages * (pageSize ?? 4096);
}

export function jobStatsFrom(type: number, raw: Record<string, TypedParamValue>): JobStats {
  const n = (k: string) => toNumber(raw[k]);
  const jobType = JOB_TYPES[type] ?? "none";
  return {
    type: jobType,
    operation: n(C.VIR_DOMAIN_JOB_OPERATION),
    success: jobSucceeded(jobType, raw),
    errorMessage:
      typeof raw[C.VIR_DOMAIN_JOB_ERRMSG] === "string"
        ? (raw[C.VIR_DOMAIN_JOB_ERRMSG] as string)
        : undefined,
    timeElapsedMs: n(C.VIR_DOMAIN_JOB_TIME_ELAPSED),
    timeRemainingMs: n(C.VIR_DOMAIN_JOB_TIME_REMAINING),
    downtimeMs: n(C.VIR_DOMAIN_JOB_DOWNTIME),
    setupTimeMs: n(C.VIR_DOMAIN_JOB_SETUP_TIME),
    dataTotal: n(C.VIR_DOMAIN_JOB_DATA_TOTAL),
    dataProcessed: n(C.VIR_DOMAIN_JOB_DATA_PROCESSED),
    dataRemaining: n(C.VIR_DOMAIN_JOB_DATA_REMAINING),
    memoryTotal: n(C.VIR_DOMAIN_JOB_MEMORY_TOTAL),
    memoryProcessed: n(C.VIR_DOMAIN_JOB_MEMORY_PROCESSED),
    memoryRemaining: n(C.VIR_DOMAIN_JOB_MEMORY_REMAINING),
    memoryBps: n(C.VIR_DOMAIN_JOB_MEMORY_BPS),
    memoryDirtyRate: n(C.VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE),
    memoryPageSize: n(C.VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE),
    memoryDirtyRateBps: dirtyBytesPerSecond(
      n(C.VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE),
      n(C.VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE),
    ),
    memoryIteration: n(C.VIR_DOMAIN_JOB_MEMORY_ITERATION),
    memoryPostcopyRequests: n(C.VIR_DOMAIN_JOB_MEMORY_POSTCOPY_REQS),
    diskTotal: n(C.VIR_DOMAIN_JOB_DISK_TOTAL),
    diskProcessed: n(C.VIR_DOMAIN_JOB_DISK_PROCESSED),
    diskRemaining: n(C.VIR_DOMAIN_JOB_DISK_REMAINING),
    diskBps: n(C.VIR_DOMAIN_JOB_DISK_BPS),
    autoConvergeThrottle: n(C.VIR_DOMAIN_JOB_AUTO_CONVERGE_THROTTLE),
    raw,
  };
}

export interface BlockJobInfo {
  type: number;
  bandwidth: number;
  cur: number;
  end: number;
}

export class DomainApi {
  constructor(private readonly remote: RemoteProgram) {}

  /** virConnectListAllDomains; flags from virConnectListAllDomainsFlags (0: all). */
  async listAll(flags = 0): Promise<Domain[]> {
    return (await this.remote.call("CONNECT_LIST_ALL_DOMAINS", { need_results: 1, flags })).domains;
  }

  async lookupByName(name: string): Promise<Domain> {
    return (await this.remote.call("DOMAIN_LOOKUP_BY_NAME", { name })).dom;
  }

  async lookupByUuid(uuid: string | Buffer): Promise<Domain> {
    return (
      await this.remote.call("DOMAIN_LOOKUP_BY_UUID", {
        uuid: typeof uuid === "string" ? uuidFromString(uuid) : uuid,
      })
    ).dom;
  }

  /** flags from virDomainXMLFlags, e.g. VIR_DOMAIN_XML_INACTIVE, VIR_DOMAIN_XML_MIGRATABLE. */
  async xml(dom: Domain, flags = 0): Promise<string> {
    return (await this.remote.call("DOMAIN_GET_XML_DESC", { dom, flags })).xml;
  }

  async info(dom: Domain): Promise<DomainInfo> {
    const r = await this.remote.call("DOMAIN_GET_INFO", { dom });
    return {
      state: STATE_NAMES[r.state] ?? "nostate",
      maxMemoryKiB: Number(r.maxMem),
      memoryKiB: Number(r.memory),
      vcpus: r.nrVirtCpu,
      cpuTimeNs: r.cpuTime,
    };
  }

  async state(dom: Domain): Promise<{ state: DomainStateName; reason: number }> {
    const r = await this.remote.call("DOMAIN_GET_STATE", { dom, flags: 0 });
    return { state: STATE_NAMES[r.state] ?? "nostate", reason: r.reason };
  }

  async isActive(dom: Domain): Promise<boolean> {
    return (await this.remote.call("DOMAIN_IS_ACTIVE", { dom })).active !== 0;
  }

  async isPersistent(dom: Domain): Promise<boolean> {
    return (await this.remote.call("DOMAIN_IS_PERSISTENT", { dom })).persistent !== 0;
  }

  /** flags from virDomainDefineFlags. */
  async define(xml: string, flags = 0): Promise<Domain> {
    return (await this.remote.call("DOMAIN_DEFINE_XML_FLAGS", { xml, flags })).dom;
  }

  async autostart(dom: Domain): Promise<boolean> {
    return (await this.remote.call("DOMAIN_GET_AUTOSTART", { dom })).autostart !== 0;
  }

  /**
   * Sets (or with `metadata` null removes) the domain's metadata element in namespace `uri`;
   * flags from virDomainModificationImpact (the live domain, its persistent config, or both).
   */
  async setMetadataElement(
    dom: Domain,
    metadata: string | null,
    key: string,
    uri: string,
    flags = 0,
  ): Promise<void> {
    await this.remote.call("DOMAIN_SET_METADATA", {
      dom,
      type: C.virDomainMetadataType.VIR_DOMAIN_METADATA_ELEMENT,
      metadata,
      key: metadata === null ? null : key,
      uri,
      flags,
    });
  }

  async setAutostart(dom: Domain, on: boolean): Promise<void> {
    await this.remote.call("DOMAIN_SET_AUTOSTART", { dom, autostart: on ? 1 : 0 });
  }

  /** flags from virDomainUndefineFlagsValues. */
  async undefine(dom: Domain, flags = 0): Promise<void> {
    await this.remote.call("DOMAIN_UNDEFINE_FLAGS", { dom, flags });
  }

  /** Starts a defined domain (virDomainCreateWithFlags). */
  async start(dom: Domain, flags = 0): Promise<Domain> {
    return (await this.remote.call("DOMAIN_CREATE_WITH_FLAGS", { dom, flags })).dom;
  }

  /** Asks the guest to shut down (flags from virDomainShutdownFlagValues). */
  async shutdown(dom: Domain, flags = 0): Promise<void> {
    await this.remote.call("DOMAIN_SHUTDOWN_FLAGS", { dom, flags });
  }

  /** Powers the domain off at once (flags from virDomainDestroyFlagsValues). */
  async destroy(dom: Domain, flags = 0): Promise<void> {
    await this.remote.call("DOMAIN_DESTROY_FLAGS", { dom, flags });
  }

  async jobInfo(dom: Domain) {
    const r = await this.remote.call("DOMAIN_GET_JOB_INFO", { dom });
    return {
      type: JOB_TYPES[r.type] ?? "none",
      timeElapsedMs: Number(r.timeElapsed),
      dataTotal: Number(r.dataTotal),
      dataProcessed: Number(r.dataProcessed),
      dataRemaining: Number(r.dataRemaining),
      memoryTotal: Number(r.memTotal),
      memoryProcessed: Number(r.memProcessed),
      memoryRemaining: Number(r.memRemaining),
    };
  }

  /** The running job's statistics, or with `completed` those of the last finished job. */
  async jobStats(
    dom: Domain,
    options: { completed?: boolean; keepCompleted?: boolean } & CallOptions = {},
  ): Promise<JobStats> {
    let flags = 0;
    if (options.completed) flags |= C.virDomainGetJobStatsFlags.VIR_DOMAIN_JOB_STATS_COMPLETED;
    if (options.keepCompleted)
      flags |= C.virDomainGetJobStatsFlags.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED;
    const r = await this.remote.call("DOMAIN_GET_JOB_STATS", { dom, flags }, options);
    return jobStatsFrom(r.type, decodeTypedParams(r.params));
  }

  /**
   * Starts QEMU's dirty-rate calculation over `seconds` (virDomainStartDirtyRateCalc); the result
   * arrives in the domain's `dirtyrate.*` statistics once measured.
   */
  async startDirtyRateCalc(
    dom: Domain,
    seconds: number,
    mode: "page-sampling" | "dirty-bitmap" | "dirty-ring" = "page-sampling",
  ): Promise<void> {
    const modes = C.virDomainDirtyRateCalcFlags;
    const flags = {
      "page-sampling": modes.VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING,
      "dirty-bitmap": modes.VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_BITMAP,
      "dirty-ring": modes.VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_RING,
    }[mode];
    await this.remote.call("DOMAIN_START_DIRTY_RATE_CALC", { dom, seconds, flags });
  }

  /**
   * Statistics of the given groups (virDomainStatsTypes bits) for `doms`, one flat record of
   * typed parameters per domain (virConnectGetAllDomainStats with a domain list).
   */
  async stats(
    doms: Domain[],
    groups: number,
    options: CallOptions = {},
  ): Promise<Array<{ dom: Domain; params: Record<string, TypedParamValue> }>> {
    const r = await this.remote.call(
      "CONNECT_GET_ALL_DOMAIN_STATS",
      { doms, stats: groups, flags: 0 },
      options,
    );
    return r.retStats.map((rec) => ({ dom: rec.dom, params: decodeTypedParams(rec.params) }));
  }

  /** Aborts the running job (a migration in pre-copy leaves the domain on the source). */
  async abortJob(dom: Domain, flags = 0): Promise<void> {
    if (flags) await this.remote.call("DOMAIN_ABORT_JOB_FLAGS", { dom, flags });
    else await this.remote.call("DOMAIN_ABORT_JOB", { dom });
  }

  /** Copies a disk to `destinationXml` (a <disk>), live; flags from virDomainBlockCopyFlags. */
  async blockCopy(
    dom: Domain,
    disk: string,
    destinationXml: string,
    params: TypedParamSpec[] = [],
    flags = 0,
  ): Promise<void> {
    await this.remote.call("DOMAIN_BLOCK_COPY", {
      dom,
      path: disk,
      destxml: destinationXml,
      params: encodeTypedParams(params),
      flags,
    });
  }

  /** The block job on `disk`, or null when there is none. */
  async blockJobInfo(dom: Domain, disk: string, flags = 0): Promise<BlockJobInfo | null> {
    const r = await this.remote.call("DOMAIN_GET_BLOCK_JOB_INFO", { dom, path: disk, flags });
    if (!r.found) return null;
    return { type: r.type, bandwidth: Number(r.bandwidth), cur: Number(r.cur), end: Number(r.end) };
  }

  /** Ends the block job on `disk`; VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT switches to the copy. */
  async blockJobAbort(dom: Domain, disk: string, flags = 0): Promise<void> {
    await this.remote.call("DOMAIN_BLOCK_JOB_ABORT", { dom, path: disk, flags });
  }

  /** Number of snapshots libvirt knows for the domain. */
  async snapshotCount(dom: Domain): Promise<number> {
    return (await this.remote.call("DOMAIN_SNAPSHOT_NUM", { dom, flags: 0 })).num;
  }

  async blockInfo(
    dom: Domain,
    disk: string,
  ): Promise<{ capacity: number; allocation: number; physical: number }> {
    const r = await this.remote.call("DOMAIN_GET_BLOCK_INFO", { dom, path: disk, flags: 0 });
    return {
      capacity: Number(r.capacity),
      allocation: Number(r.allocation),
      physical: Number(r.physical),
    };
  }
}
