// Host facts: identity, versions, capabilities, CPU compatibility, memory.
import type { RemoteProgram } from "../rpc/remote-program";

export interface NodeInfo {
  model: string;
  memoryKiB: number;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

/** virConnectCompareCPU results. */
export type CpuComparison = "incompatible" | "identical" | "superset";

function decodeVersion(v: bigint | number): { major: number; minor: number; release: number } {
  const n = Number(v);
  return {
    major: Math.floor(n / 1_000_000),
    minor: Math.floor(n / 1000) % 1000,
    release: n % 1000,
  };
}

export class HostApi {
  constructor(private readonly remote: RemoteProgram) {}

  async hostname(): Promise<string> {
    return (await this.remote.call("CONNECT_GET_HOSTNAME", undefined)).hostname;
  }

  /** The hypervisor (QEMU) version. */
  async hypervisorVersion() {
    return decodeVersion((await this.remote.call("CONNECT_GET_VERSION", undefined)).hv_ver);
  }

  /** The libvirt daemon's version. */
  async libVersion() {
    return decodeVersion((await this.remote.call("CONNECT_GET_LIB_VERSION", undefined)).lib_ver);
  }

  async capabilities(): Promise<string> {
    return (await this.remote.call("CONNECT_GET_CAPABILITIES", undefined)).capabilities;
  }

  async domainCapabilities(
    q: { emulator?: string; arch?: string; machine?: string; virttype?: string } = {},
  ): Promise<string> {
    const ret = await this.remote.call("CONNECT_GET_DOMAIN_CAPABILITIES", {
      emulatorbin: q.emulator ?? null,
      arch: q.arch ?? null,
      machine: q.machine ?? null,
      virttype: q.virttype ?? null,
      flags: 0,
    });
    return ret.capabilities;
  }

  /** Whether a guest CPU definition (<cpu> XML) runs on this host's hypervisor. */
  async compareHypervisorCpu(
    cpuXml: string,
    q: {
      emulator?: string;
      arch?: string;
      machine?: string;
      virttype?: string;
      failIncompatible?: boolean;
    } = {},
  ): Promise<CpuComparison> {
    const ret = await this.remote.call("CONNECT_COMPARE_HYPERVISOR_CPU", {
      emulator: q.emulator ?? null,
      arch: q.arch ?? null,
      machine: q.machine ?? null,
      virttype: q.virttype ?? null,
      xmlCPU: cpuXml,
      flags: q.failIncompatible ? 1 : 0,
    });
    return (["incompatible", "identical", "superset"] as const)[ret.result] ?? "incompatible";
  }

  async nodeInfo(): Promise<NodeInfo> {
    const r = await this.remote.call("NODE_GET_INFO", undefined);
    const model = Buffer.from(r.model.map((c) => c & 0xff));
    return {
      model: model
        .subarray(0, model.indexOf(0) >= 0 ? model.indexOf(0) : model.length)
        .toString("ascii"),
      memoryKiB: Number(r.memory),
      cpus: r.cpus,
      mhz: r.mhz,
      nodes: r.nodes,
      sockets: r.sockets,
      cores: r.cores,
      threads: r.threads,
    };
  }

  /** Free memory of the host in bytes. */
  async freeMemory(): Promise<number> {
    return Number((await this.remote.call("NODE_GET_FREE_MEMORY", undefined)).freeMem);
  }
}
