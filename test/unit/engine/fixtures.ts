// Builders of planner facts for unit tests: a running, persistent 1 GiB domain with one qcow2
// disk in the "local" pool of host kvm1, and hosts with a roomy "local" directory pool (and,
// on request, an NFS pool both hosts share). Every builder returns fresh objects, so a test may
// mutate what it gets.
import { DEFAULT_POLICY } from "../../../provider/src/engine/policy";
import type { PlacementRequest, PlanningFacts } from "../../../provider/src/engine/planner";
import type {
  DiskFacts,
  DomainFacts,
  HostFacts,
  MigrationPolicy,
  PoolFacts,
} from "../../../provider/src/engine/types";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export const SOURCE = "kvm1";
export const TARGET = "kvm2";
export const NFS_KEY = "netfs:nas:/export";

const ADDRESSES: Record<string, string> = { kvm1: "10.0.0.1", kvm2: "10.0.0.2" };

export function makeDisk(overrides: Partial<DiskFacts> = {}): DiskFacts {
  // Backing files named *.raw are raw images; the rest qcow2, unless the test says otherwise.
  const chain = overrides.backingChain ?? [];
  return {
    backingFormats: chain.map((b) => (b.endsWith(".raw") ? "raw" : "qcow2")),
    target: "vda",
    device: "disk",
    sourceType: "file",
    path: "/pools/local/vm.qcow2",
    format: "qcow2",
    readOnly: false,
    pool: "local",
    capacityBytes: 10 * GiB,
    allocationBytes: 2 * GiB,
    backingChain: [],
    ...overrides,
  };
}

/** A disk on Ceph RBD: no path, no pool, nothing to copy. */
export function makeNetworkDisk(overrides: Partial<DiskFacts> = {}): DiskFacts {
  return {
    target: "vdb",
    device: "disk",
    sourceType: "network",
    network: { protocol: "rbd", name: "rbd/vm-data", hosts: [{ name: "mon1", port: 6789 }] },
    format: "raw",
    readOnly: false,
    capacityBytes: 20 * GiB,
    allocationBytes: 0,
    backingChain: [],
    backingFormats: [],
    ...overrides,
  };
}

function diskXml(d: DiskFacts): string {
  const lines: string[] = [];
  if (d.network) {
    lines.push(`    <disk type='network' device='${d.device}'>`);
    lines.push(`      <driver name='qemu' type='${d.format}'/>`);
    lines.push(`      <source protocol='${d.network.protocol}' name='${d.network.name}'>`);
    for (const h of d.network.hosts) {
      lines.push(`        <host name='${h.name}'${h.port ? ` port='${h.port}'` : ""}/>`);
    }
    lines.push(`      </source>`);
  } else {
    lines.push(`    <disk type='file' device='${d.device}'>`);
    lines.push(`      <driver name='qemu' type='${d.format}'/>`);
    if (d.path) lines.push(`      <source file='${d.path}'/>`);
    let indent = "      ";
    const closes: string[] = [];
    for (const [i, b] of d.backingChain.entries()) {
      lines.push(`${indent}<backingStore type='file'>`);
      lines.push(`${indent}  <format type='${d.backingFormats[i] ?? "qcow2"}'/>`);
      lines.push(`${indent}  <source file='${b}'/>`);
      closes.unshift(`${indent}</backingStore>`);
      indent += "  ";
    }
    if (d.backingChain.length) lines.push(`${indent}<backingStore/>`);
    lines.push(...closes);
  }
  lines.push(`      <target dev='${d.target}' bus='virtio'/>`);
  if (d.readOnly) lines.push(`      <readonly/>`);
  lines.push(`    </disk>`);
  return lines.join("\n");
}

/** Domain XML as libvirt prints it for migration, with one <disk> per DiskFacts entry. */
export function domainXml(name: string, memoryBytes: number, disks: DiskFacts[]): string {
  return [
    `<domain type='kvm'>`,
    `  <name>${name}</name>`,
    `  <uuid>5c0e3a9e-1f3b-4d6a-9a51-3f2d0c1b2a10</uuid>`,
    `  <memory unit='KiB'>${memoryBytes / KiB}</memory>`,
    `  <currentMemory unit='KiB'>${memoryBytes / KiB}</currentMemory>`,
    `  <vcpu placement='static'>1</vcpu>`,
    `  <os>`,
    `    <type arch='x86_64' machine='pc-q35-8.2'>hvm</type>`,
    `  </os>`,
    `  <devices>`,
    `    <emulator>/usr/bin/qemu-system-x86_64</emulator>`,
    ...disks.map(diskXml),
    `    <interface type='network'>`,
    `      <source network='default'/>`,
    `      <model type='virtio'/>`,
    `    </interface>`,
    `  </devices>`,
    `</domain>`,
    ``,
  ].join("\n");
}

/**
 * A running persistent 1 GiB domain "vm" on kvm1 with disk vda (qcow2, pool "local",
 * /pools/local/vm.qcow2, 2 GiB allocated of 10 GiB). The XML follows `disks` and `memoryBytes`
 * unless `xml` is given.
 */
export function makeDomain(overrides: Partial<DomainFacts> = {}): DomainFacts {
  const name = overrides.name ?? "vm";
  const memoryBytes = overrides.memoryBytes ?? GiB;
  const disks = overrides.disks ?? [makeDisk()];
  return {
    name,
    uuid: "5c0e3a9e-1f3b-4d6a-9a51-3f2d0c1b2a10",
    host: SOURCE,
    running: true,
    persistent: true,
    memoryBytes,
    vcpus: 1,
    virtType: "kvm",
    arch: "x86_64",
    machine: "pc-q35-8.2",
    disks,
    hostDevices: [],
    snapshotCount: 0,
    xml: domainXml(name, memoryBytes, disks),
    ...overrides,
  };
}

export function makePool(name: string, overrides: Partial<PoolFacts> = {}): PoolFacts {
  return {
    name,
    type: "dir",
    active: true,
    path: `/pools/${name}`,
    capacityBytes: 1024 * GiB,
    availableBytes: 900 * GiB,
    volumes: [],
    ...overrides,
  };
}

/** The NFS pool both hosts mount from the same export. */
export function makeNfsPool(overrides: Partial<PoolFacts> = {}): PoolFacts {
  return makePool("nfs", { type: "netfs", sharedStorageKey: NFS_KEY, ...overrides });
}

export interface HostOptions extends Partial<HostFacts> {
  /** Add the shared "nfs" pool. */
  nfs?: boolean;
}

/** A reachable host with 16 GiB free and a "local" directory pool at /pools/local. */
export function makeHost(name: string, options: HostOptions = {}): HostFacts {
  const { nfs, ...overrides } = options;
  const pools: Record<string, PoolFacts> = { local: makePool("local") };
  if (nfs) pools.nfs = makeNfsPool();
  return {
    name,
    reachable: true,
    uri: `qemu+ssh://root@${name}/system`,
    migrationAddress: ADDRESSES[name] ?? `${name}.example`,
    freeMemoryBytes: 16 * GiB,
    pools,
    ...overrides,
  };
}

/** Everything a planner call takes; tests mutate a fresh one. */
export interface Scenario {
  req: PlacementRequest;
  facts: PlanningFacts;
  policy: MigrationPolicy;
}

export interface ScenarioOptions {
  domain?: Partial<DomainFacts>;
  source?: HostOptions;
  target?: HostOptions;
  req?: Partial<PlacementRequest>;
  policy?: Partial<MigrationPolicy>;
  /** Target on the source host itself (a storage move). */
  sameHost?: boolean;
}

/** Moving "vm" from kvm1 to kvm2 (or within kvm1) under the default policy. */
export function makeScenario(options: ScenarioOptions = {}): Scenario {
  const source = makeHost(SOURCE, options.source);
  const target = options.sameHost ? source : makeHost(TARGET, options.target);
  return {
    req: { domain: "vm", host: target.name, ...options.req },
    facts: { domain: makeDomain(options.domain), source, target },
    policy: {
      ...DEFAULT_POLICY,
      downtimeLadderMs: [...DEFAULT_POLICY.downtimeLadderMs],
      ...options.policy,
    },
  };
}
