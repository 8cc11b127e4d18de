// The fleet's facts from hosts that answer as libvirt would (stubbed): each host's memory, load,
// CPU model and pools, each VM's size and CPU tie, and a VM whose host is silent.
import assert from "node:assert/strict";
import type { ConnectionPool } from "../../../provider/src/engine";
import { gatherFleetFacts } from "../../../provider/src/fleet/facts";

const GiB = 1024 ** 3;
const KiB = 1024;

const domainXml = (name: string, mode: string) =>
  `<domain type='kvm'><name>${name}</name><uuid>u-${name}</uuid><memory unit='KiB'>${GiB / KiB}</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><cpu mode='${mode}'/><devices/></domain>`;

function fakeHost(domains: Record<string, { memoryKiB: number; mode: string }>) {
  const dom = (name: string) => ({ name });
  return {
    host: {
      freeMemory: async () => 10 * GiB,
      nodeInfo: async () => ({ memoryKiB: (16 * GiB) / KiB }),
      capabilities: async () =>
        `<capabilities><host><cpu><arch>x86_64</arch><model>Skylake</model></cpu></host></capabilities>`,
    },
    storage: {
      listPools: async () => [{ name: "local" }],
      poolXml: async () =>
        `<pool type='dir'><name>local</name><target><path>/pools/local</path></target></pool>`,
      poolInfo: async () => ({ state: "running", capacity: 100 * GiB, available: 60 * GiB }),
      listVolumes: async () => [],
    },
    domains: {
      listAll: async () => Object.keys(domains).map(dom),
      info: async (d: { name: string }) => ({ memoryKiB: domains[d.name].memoryKiB }),
      lookupByName: async (name: string) => dom(name),
      xml: async (d: { name: string }) => domainXml(d.name, domains[d.name].mode),
      isActive: async () => true,
      isPersistent: async () => false,
      snapshotCount: async () => 0,
    },
  };
}

describe("gatherFleetFacts", () => {
  it("reads the hosts and VMs a solve needs, and places a VM of a silent host there", async () => {
    const conns: Record<string, unknown> = {
      h1: fakeHost({
        web: { memoryKiB: GiB / KiB, mode: "host-passthrough" },
        other: { memoryKiB: (2 * GiB) / KiB, mode: "custom" },
      }),
    };
    const pool = {
      host: (name: string) =>
        ["h1", "h2"].includes(name)
          ? {
              name,
              uri: `qemu+tcp://${name}/system`,
              migrationAddress: name,
              labels: { rack: name },
            }
          : undefined,
      get: async (name: string) => {
        if (!conns[name]) throw new Error(`${name} does not answer`);
        return conns[name];
      },
    } as unknown as ConnectionPool;

    const { hosts, vms } = await gatherFleetFacts(pool, ["h1", "h2"], ["web", "db"], { db: "h2" });
    assert.deepEqual(hosts, [
      {
        name: "h1",
        reachable: true,
        labels: { rack: "h1" },
        freeMemoryBytes: 10 * GiB,
        totalMemoryBytes: 16 * GiB,
        allocatedMemoryBytes: 3 * GiB,
        cpuModel: "Skylake",
        poolFreeBytes: { local: 60 * GiB },
      },
      {
        name: "h2",
        reachable: false,
        labels: { rack: "h2" },
        freeMemoryBytes: 0,
        totalMemoryBytes: 0,
        allocatedMemoryBytes: 0,
        poolFreeBytes: {},
      },
    ]);
    assert.deepEqual(vms, [
      {
        domain: "web",
        currentHost: "h1",
        memoryBytes: GiB,
        copiedDiskBytes: 0,
        localDevices: [],
        requiredCpuModel: "Skylake",
      },
      { domain: "db", currentHost: "h2", memoryBytes: 0, copiedDiskBytes: 0, localDevices: [] },
    ]);
  });
});
