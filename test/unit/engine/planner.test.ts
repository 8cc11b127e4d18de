import assert from "node:assert/strict";
import {
  checkFeasibility,
  chooseMode,
  choosePlan,
  placeDisk,
  type PlanningFacts,
} from "../../../provider/src/engine/planner";
import type { HeldOnTarget } from "../../../provider/src/engine/ledger";
import { DEFAULT_LINK_MIBPS } from "../../../provider/src/engine/link";
import { completionTimeoutSeconds, DEFAULT_POLICY } from "../../../provider/src/engine/policy";
import type {
  DiskPlacement,
  EscalationStep,
  MigrationMode,
  MigrationPlan,
  MigrationPolicy,
  PlanForecast,
} from "../../../provider/src/engine/types";
import {
  GiB,
  MiB,
  NFS_KEY,
  SOURCE,
  TARGET,
  makeDisk,
  makeDomain,
  makeNetworkDisk,
  makeNfsPool,
  makePool,
  makeScenario,
  type Scenario,
  type ScenarioOptions,
} from "./fixtures";

const F = {
  LIVE: "VIR_MIGRATE_LIVE",
  ABORT_ON_ERROR: "VIR_MIGRATE_ABORT_ON_ERROR",
  PERSIST_DEST: "VIR_MIGRATE_PERSIST_DEST",
  UNDEFINE_SOURCE: "VIR_MIGRATE_UNDEFINE_SOURCE",
  NON_SHARED_DISK: "VIR_MIGRATE_NON_SHARED_DISK",
  NON_SHARED_INC: "VIR_MIGRATE_NON_SHARED_INC",
  POSTCOPY: "VIR_MIGRATE_POSTCOPY",
  AUTO_CONVERGE: "VIR_MIGRATE_AUTO_CONVERGE",
  COMPRESSED: "VIR_MIGRATE_COMPRESSED",
  PARALLEL: "VIR_MIGRATE_PARALLEL",
  TLS: "VIR_MIGRATE_TLS",
} as const;

/** The flags every live move of a persistent domain under the default policy carries. */
const LIVE_BASE = [F.LIVE, F.ABORT_ON_ERROR, F.PERSIST_DEST, F.UNDEFINE_SOURCE, F.POSTCOPY];

const TARGET_URI = "tcp://10.0.0.2";

function planFor(s: Scenario): MigrationPlan {
  return choosePlan(s.req, s.facts, s.policy);
}

function plan(options: ScenarioOptions = {}, tweak?: (s: Scenario) => void): MigrationPlan {
  const s = makeScenario(options);
  tweak?.(s);
  return planFor(s);
}

const sorted = (xs: readonly string[]) => [...xs].sort();
const codes = (p: { blockers: Array<{ code: string }> }) => p.blockers.map((b) => b.code);
const warningCodes = (p: MigrationPlan) => p.warnings.map((w) => w.code);

/** A domain on the shared NFS pool, both hosts mounting it. */
const ON_NFS: ScenarioOptions = {
  domain: { disks: [makeDisk({ pool: "nfs", path: "/pools/nfs/vm.qcow2" })] },
  source: { nfs: true },
  target: { nfs: true },
};

/** vda is an overlay on base.qcow2, which kvm2's local pool already holds. */
const WITH_BASE_ON_TARGET: ScenarioOptions = {
  domain: { disks: [makeDisk({ backingChain: ["/pools/local/base.qcow2"] })] },
  target: { pools: { local: makePool("local", { volumes: ["base.qcow2"] }) } },
};

describe("planner", () => {
  describe("placeDisk", () => {
    interface Case {
      name: string;
      options?: ScenarioOptions;
      tweak?: (s: Scenario) => void;
      disk?: ReturnType<typeof makeDisk>;
      blockers?: string[];
      warnings?: string[];
      incremental?: boolean;
      placement?: Partial<DiskPlacement> | undefined;
    }
    const cases: Case[] = [
      {
        name: "host change, same pool name: copies the allocation to the same path",
        placement: {
          target: "vda",
          pool: "local",
          sourcePath: "/pools/local/vm.qcow2",
          targetPath: "/pools/local/vm.qcow2",
          format: "qcow2",
          capacityBytes: 10 * GiB,
          bytesToCopy: 2 * GiB,
          copy: true,
        },
      },
      {
        name: "host change onto the same shared storage: no copy",
        options: { source: { nfs: true }, target: { nfs: true } },
        disk: makeDisk({ pool: "nfs", path: "/pools/nfs/vm.qcow2" }),
        placement: {
          pool: "nfs",
          sourcePath: "/pools/nfs/vm.qcow2",
          targetPath: "/pools/nfs/vm.qcow2",
          bytesToCopy: 0,
          copy: false,
        },
      },
      {
        name: "netfs pools with the same name but different exports: copy",
        options: {
          source: { nfs: true },
          target: { pools: { nfs: makeNfsPool({ sharedStorageKey: "netfs:other:/export" }) } },
        },
        disk: makeDisk({ pool: "nfs", path: "/pools/nfs/vm.qcow2" }),
        placement: { pool: "nfs", bytesToCopy: 2 * GiB, copy: true },
      },
      {
        name: "same host, same pool: stays",
        options: { sameHost: true },
        placement: { pool: "local", targetPath: "/pools/local/vm.qcow2", copy: false },
      },
      {
        name: "same host, another pool: copied into that pool's directory",
        options: { sameHost: true, req: { storagePool: "scratch" } },
        tweak: (s) => (s.facts.source!.pools.scratch = makePool("scratch")),
        placement: {
          pool: "scratch",
          sourcePath: "/pools/local/vm.qcow2",
          targetPath: "/pools/scratch/vm.qcow2",
          bytesToCopy: 2 * GiB,
          copy: true,
        },
      },
      {
        name: "network disk: never copied, no pool",
        disk: makeNetworkDisk(),
        placement: { target: "vdb", pool: undefined, bytesToCopy: 0, copy: false },
      },
      {
        name: "network disk asked into a pool: blocked",
        disk: makeNetworkDisk(),
        options: { req: { diskPools: { vdb: "local" } } },
        blockers: ["DISK_ON_NETWORK_STORAGE"],
        placement: { copy: false, bytesToCopy: 0 },
      },
      {
        name: "disk outside any pool and no pool asked: blocked",
        disk: makeDisk({ pool: undefined, path: "/var/tmp/vm.qcow2" }),
        blockers: ["DISK_NOT_IN_POOL"],
        placement: undefined,
      },
      {
        name: "disk outside any pool with storagePool: copied there",
        disk: makeDisk({ pool: undefined, path: "/var/tmp/vm.qcow2" }),
        options: { req: { storagePool: "local" } },
        placement: { pool: "local", targetPath: "/pools/local/vm.qcow2", copy: true },
      },
      {
        name: "diskPools wins over storagePool",
        options: {
          req: { storagePool: "nfs", diskPools: { vda: "local" } },
          target: { nfs: true },
        },
        placement: { pool: "local", copy: true },
      },
      {
        name: "pool without a directory: blocked",
        options: {
          req: { storagePool: "ceph" },
          target: { pools: { ceph: makePool("ceph", { type: "rbd", path: undefined }) } },
        },
        blockers: ["POOL_NOT_FILE_BASED"],
        placement: undefined,
      },
      {
        name: "backing chain on the target: incremental",
        options: WITH_BASE_ON_TARGET,
        disk: makeDisk({ backingChain: ["/pools/local/base.qcow2"] }),
        incremental: true,
        placement: {
          copy: true,
          bytesToCopy: 2 * GiB,
          backing: { path: "/pools/local/base.qcow2", format: "qcow2" },
        },
      },
      {
        name: "incremental into a pool with another path: the overlay sits on the target's base",
        options: {
          target: {
            pools: { local: makePool("local", { path: "/srv/images", volumes: ["base.qcow2"] }) },
          },
        },
        disk: makeDisk({ backingChain: ["/pools/local/base.qcow2"] }),
        incremental: true,
        placement: {
          targetPath: "/srv/images/vm.qcow2",
          backing: { path: "/srv/images/base.qcow2", format: "qcow2" },
        },
      },
      {
        name: "full copy: no backing for the target volume",
        placement: { copy: true, backing: undefined },
      },
      {
        name: "cdrom with media, host change: not copied, warned",
        disk: makeDisk({
          target: "sda",
          device: "cdrom",
          path: "/isos/install.iso",
          pool: undefined,
        }),
        warnings: ["REMOVABLE_MEDIA"],
        placement: { target: "sda", pool: undefined, bytesToCopy: 0, copy: false },
      },
      {
        name: "cdrom with media, same host: not copied, no warning",
        options: { sameHost: true, req: { storagePool: "local" } },
        disk: makeDisk({
          target: "sda",
          device: "cdrom",
          path: "/isos/install.iso",
          pool: undefined,
        }),
        placement: { bytesToCopy: 0, copy: false },
      },
      {
        name: "backing chain only partly on the target: full copy",
        options: WITH_BASE_ON_TARGET,
        disk: makeDisk({ backingChain: ["/pools/local/mid.qcow2", "/pools/local/base.qcow2"] }),
        incremental: false,
        placement: { copy: true },
      },
      {
        name: "storageCopy all: full copy even with the chain on the target",
        options: { ...WITH_BASE_ON_TARGET, policy: { storageCopy: "all" } },
        disk: makeDisk({ backingChain: ["/pools/local/base.qcow2"] }),
        incremental: false,
      },
      {
        name: "storageCopy incremental without the chain: full copy and a warning",
        options: { policy: { storageCopy: "incremental" } },
        incremental: false,
        warnings: ["INCREMENTAL_UNAVAILABLE"],
      },
      {
        name: "same host: never incremental",
        options: { ...WITH_BASE_ON_TARGET, sameHost: true, req: { storagePool: "scratch" } },
        tweak: (s) =>
          (s.facts.source!.pools.scratch = makePool("scratch", { volumes: ["base.qcow2"] })),
        disk: makeDisk({ backingChain: ["/pools/local/base.qcow2"] }),
        incremental: false,
        placement: { copy: true },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const s = makeScenario(c.options);
        c.tweak?.(s);
        const d = placeDisk(
          c.disk ?? makeDisk(),
          s.req,
          s.facts.source!,
          s.facts.target!,
          s.policy,
        );
        assert.deepEqual(codes(d), c.blockers ?? []);
        assert.deepEqual(
          d.warnings.map((w) => w.code),
          c.warnings ?? [],
        );
        if (c.incremental !== undefined) assert.equal(d.incremental, c.incremental);
        if ("placement" in c) {
          if (c.placement === undefined) {
            assert.equal(d.placement, undefined);
          } else {
            assert.ok(d.placement, "a placement");
            for (const [k, v] of Object.entries(c.placement)) {
              assert.deepEqual(d.placement[k as keyof DiskPlacement], v, k);
            }
          }
        }
      });
    }
  });

  describe("chooseMode", () => {
    const copied: DiskPlacement = {
      target: "vda",
      pool: "local",
      format: "qcow2",
      capacityBytes: 10 * GiB,
      bytesToCopy: 2 * GiB,
      copy: true,
    };
    const kept: DiskPlacement = { ...copied, bytesToCopy: 0, copy: false };
    interface Case {
      name: string;
      sameHost?: boolean;
      running?: boolean;
      disks: DiskPlacement[];
      incremental?: boolean;
      policy?: Partial<MigrationPolicy>;
      mode: MigrationMode;
    }
    const cases: Case[] = [
      { name: "host change with a copy", disks: [copied], mode: "live-copy-all" },
      {
        name: "host change, incremental",
        disks: [copied],
        incremental: true,
        mode: "live-copy-incremental",
      },
      { name: "host change, nothing copied", disks: [kept], mode: "live-shared" },
      { name: "host change, no disks", disks: [], mode: "live-shared" },
      { name: "host change, shut off", running: false, disks: [copied], mode: "offline" },
      {
        name: "host change, shut off, nothing copied",
        running: false,
        disks: [kept],
        mode: "offline",
      },
      {
        name: "live forbidden, offline fallback allowed",
        disks: [copied],
        policy: { allowLive: false, allowOfflineFallback: true },
        mode: "offline",
      },
      {
        name: "live forbidden, no fallback: stays live (and checkFeasibility blocks it)",
        disks: [kept],
        policy: { allowLive: false, allowOfflineFallback: false },
        mode: "live-shared",
      },
      { name: "same host, copy, running", sameHost: true, disks: [copied], mode: "block-copy" },
      {
        name: "same host, copy, shut off",
        sameHost: true,
        running: false,
        disks: [copied],
        mode: "offline",
      },
      { name: "same host, nothing copied", sameHost: true, disks: [kept], mode: "none" },
      {
        name: "same host, nothing copied, shut off",
        sameHost: true,
        running: false,
        disks: [kept],
        mode: "none",
      },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.mode}`, () => {
        const s = makeScenario({
          sameHost: c.sameHost,
          domain: { running: c.running ?? true },
          policy: c.policy,
        });
        const facts = { domain: s.facts.domain!, source: s.facts.source!, target: s.facts.target! };
        assert.equal(chooseMode(facts, c.disks, c.incremental ?? false, s.policy), c.mode);
      });
    }
  });

  describe("choosePlan: mode, flags and params", () => {
    interface Case {
      name: string;
      options?: ScenarioOptions;
      tweak?: (s: Scenario) => void;
      mode: MigrationMode;
      flags: string[];
      params?: MigrationPlan["params"];
      bytes?: Partial<MigrationPlan["bytes"]>;
      warnings?: string[];
    }
    const cases: Case[] = [
      {
        name: "host change with local storage: copy everything",
        mode: "live-copy-all",
        flags: [...LIVE_BASE, F.NON_SHARED_DISK],
        params: { uri: TARGET_URI, disksUri: TARGET_URI, migrateDisks: ["vda"] },
        bytes: { memory: GiB, disks: 2 * GiB, total: 3 * GiB },
      },
      {
        name: "same shared netfs pool on both hosts: live over shared storage",
        options: ON_NFS,
        mode: "live-shared",
        flags: LIVE_BASE,
        params: { uri: TARGET_URI },
        bytes: { memory: GiB, disks: 0, total: GiB },
      },
      {
        name: "backing chain already on the target pool: incremental copy",
        options: WITH_BASE_ON_TARGET,
        mode: "live-copy-incremental",
        flags: [...LIVE_BASE, F.NON_SHARED_INC],
        params: { uri: TARGET_URI, disksUri: TARGET_URI, migrateDisks: ["vda"] },
        bytes: { disks: 2 * GiB },
      },
      {
        name: "storageCopy all: copies everything even with the chain on the target",
        options: { ...WITH_BASE_ON_TARGET, policy: { storageCopy: "all" } },
        mode: "live-copy-all",
        flags: [...LIVE_BASE, F.NON_SHARED_DISK],
      },
      {
        name: "one disk incremental, one not: the whole move copies everything",
        options: {
          ...WITH_BASE_ON_TARGET,
          domain: {
            disks: [
              makeDisk({ backingChain: ["/pools/local/base.qcow2"] }),
              makeDisk({ target: "vdb", path: "/pools/local/data.qcow2" }),
            ],
          },
        },
        mode: "live-copy-all",
        flags: [...LIVE_BASE, F.NON_SHARED_DISK],
        params: { uri: TARGET_URI, disksUri: TARGET_URI, migrateDisks: ["vda", "vdb"] },
        bytes: { disks: 4 * GiB },
      },
      {
        name: "network disk only: nothing to copy",
        options: { domain: { disks: [makeNetworkDisk({ target: "vda" })] } },
        mode: "live-shared",
        flags: LIVE_BASE,
        params: { uri: TARGET_URI },
        bytes: { disks: 0 },
      },
      {
        name: "file disk and network disk: only the file disk is copied",
        options: { domain: { disks: [makeDisk(), makeNetworkDisk()] } },
        mode: "live-copy-all",
        flags: [...LIVE_BASE, F.NON_SHARED_DISK],
        params: { uri: TARGET_URI, disksUri: TARGET_URI, migrateDisks: ["vda"] },
        bytes: { disks: 2 * GiB },
      },
      {
        name: "empty cdrom is not copied",
        options: {
          domain: {
            disks: [
              makeDisk(),
              makeDisk({
                target: "sda",
                device: "cdrom",
                path: undefined,
                pool: undefined,
                format: "raw",
                readOnly: true,
              }),
            ],
          },
        },
        mode: "live-copy-all",
        flags: [...LIVE_BASE, F.NON_SHARED_DISK],
        params: { uri: TARGET_URI, disksUri: TARGET_URI, migrateDisks: ["vda"] },
      },
      {
        name: "cdrom with media to another host: not copied, warned",
        options: {
          domain: {
            disks: [
              makeDisk(),
              makeDisk({
                target: "sda",
                device: "cdrom",
                path: "/isos/install.iso",
                pool: undefined,
                format: "raw",
                readOnly: true,
              }),
            ],
          },
        },
        mode: "live-copy-all",
        flags: [...LIVE_BASE, F.NON_SHARED_DISK],
        params: { uri: TARGET_URI, disksUri: TARGET_URI, migrateDisks: ["vda"] },
        bytes: { disks: 2 * GiB },
        warnings: ["REMOVABLE_MEDIA"],
      },
      {
        name: "same host, pool change, running: block copy",
        options: { sameHost: true, req: { storagePool: "scratch" } },
        tweak: (s) => (s.facts.source!.pools.scratch = makePool("scratch")),
        mode: "block-copy",
        flags: [],
        bytes: { memory: 0, disks: 2 * GiB },
      },
      {
        name: "same host, pool change, shut off: offline",
        options: { sameHost: true, req: { storagePool: "scratch" }, domain: { running: false } },
        tweak: (s) => (s.facts.source!.pools.scratch = makePool("scratch")),
        mode: "offline",
        flags: [],
        bytes: { memory: 0, disks: 2 * GiB },
      },
      {
        name: "same host, same pool: nothing to do",
        options: { sameHost: true },
        mode: "none",
        flags: [],
        params: {},
        bytes: { memory: 0, disks: 0, total: 0 },
      },
      {
        name: "same host, explicitly the same pool: nothing to do",
        options: { sameHost: true, req: { storagePool: "local", diskPools: { vda: "local" } } },
        mode: "none",
        flags: [],
        params: {},
      },
      {
        name: "shut-off domain to another host: offline",
        options: { domain: { running: false } },
        mode: "offline",
        flags: [],
        params: {},
        bytes: { memory: 0, disks: 2 * GiB, total: 2 * GiB },
      },
      {
        name: "live forbidden, offline fallback allowed: offline",
        options: { policy: { allowLive: false, allowOfflineFallback: true } },
        mode: "offline",
        flags: [],
        params: {},
        bytes: { memory: 0, disks: 2 * GiB },
      },
      {
        name: "transient domain: not persisted on the target nor undefined on the source",
        options: { domain: { persistent: false } },
        mode: "live-copy-all",
        flags: [F.LIVE, F.ABORT_ON_ERROR, F.NON_SHARED_DISK, F.POSTCOPY],
      },
      {
        name: "UEFI domain: persisted on the target, the source left for the executor (NVRAM)",
        options: { domain: { nvram: "/var/lib/libvirt/qemu/nvram/vm_VARS.fd" } },
        mode: "live-copy-all",
        flags: [F.LIVE, F.ABORT_ON_ERROR, F.PERSIST_DEST, F.NON_SHARED_DISK, F.POSTCOPY],
      },
      {
        name: "post-copy forbidden: no POSTCOPY flag",
        options: { policy: { allowPostCopy: false } },
        mode: "live-copy-all",
        flags: [F.LIVE, F.ABORT_ON_ERROR, F.PERSIST_DEST, F.UNDEFINE_SOURCE, F.NON_SHARED_DISK],
      },
      {
        name: "tls",
        options: { ...ON_NFS, policy: { tls: true } },
        mode: "live-shared",
        flags: [...LIVE_BASE, F.TLS],
        params: { uri: TARGET_URI },
      },
      {
        name: "xbzrle compression",
        options: { ...ON_NFS, policy: { compression: "xbzrle" } },
        mode: "live-shared",
        flags: [...LIVE_BASE, F.COMPRESSED],
        params: { uri: TARGET_URI, compression: ["xbzrle"] },
      },
      {
        name: "multithreaded compression",
        options: { ...ON_NFS, policy: { compression: "mt" } },
        mode: "live-shared",
        flags: [...LIVE_BASE, F.COMPRESSED],
        params: { uri: TARGET_URI, compression: ["mt"] },
      },
      {
        name: "parallel connections",
        options: { ...ON_NFS, policy: { parallelConnections: 4 } },
        mode: "live-shared",
        flags: [...LIVE_BASE, F.PARALLEL],
        params: { uri: TARGET_URI, parallelConnections: 4 },
      },
      {
        name: "one connection is not parallel",
        options: { ...ON_NFS, policy: { parallelConnections: 1 } },
        mode: "live-shared",
        flags: LIVE_BASE,
        params: { uri: TARGET_URI },
      },
      {
        name: "auto-converge",
        options: { ...ON_NFS, policy: { autoConverge: true } },
        mode: "live-shared",
        flags: [...LIVE_BASE, F.AUTO_CONVERGE],
        params: { uri: TARGET_URI },
      },
      {
        name: "bandwidth caps",
        options: { ...ON_NFS, policy: { bandwidthMibps: 200, postcopyBandwidthMibps: 100 } },
        mode: "live-shared",
        flags: LIVE_BASE,
        params: { uri: TARGET_URI, bandwidthMibps: 200, postcopyBandwidthMibps: 100 },
      },
      {
        name: "everything at once",
        options: {
          policy: {
            tls: true,
            compression: "mt",
            parallelConnections: 2,
            autoConverge: true,
            bandwidthMibps: 500,
          },
        },
        mode: "live-copy-all",
        flags: [...LIVE_BASE, F.NON_SHARED_DISK, F.TLS, F.COMPRESSED, F.PARALLEL, F.AUTO_CONVERGE],
        params: {
          uri: TARGET_URI,
          disksUri: TARGET_URI,
          migrateDisks: ["vda"],
          bandwidthMibps: 500,
          compression: ["mt"],
          parallelConnections: 2,
        },
      },
      {
        name: "policy flags do not apply to an offline move",
        options: {
          domain: { running: false },
          policy: { tls: true, compression: "mt", parallelConnections: 4, bandwidthMibps: 50 },
        },
        mode: "offline",
        flags: [],
        params: {},
      },
      {
        name: "storageCopy incremental without the chain on the target: full copy, warned",
        options: { policy: { storageCopy: "incremental" } },
        mode: "live-copy-all",
        flags: [...LIVE_BASE, F.NON_SHARED_DISK],
        warnings: ["INCREMENTAL_UNAVAILABLE"],
      },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.mode}`, () => {
        const p = plan(c.options, c.tweak);
        assert.deepEqual(codes(p), []);
        assert.equal(p.mode, c.mode);
        assert.deepEqual(sorted(p.flags), sorted(c.flags));
        if (c.params) assert.deepEqual(p.params, c.params);
        for (const [k, v] of Object.entries(c.bytes ?? {})) {
          assert.equal(p.bytes[k as keyof MigrationPlan["bytes"]], v, `bytes.${k}`);
        }
        assert.deepEqual(warningCodes(p), c.warnings ?? []);
        assert.equal(p.bytes.total, p.bytes.memory + p.bytes.disks);
      });
    }

    it("names the domain, the hosts and the link", () => {
      const p = plan();
      assert.equal(p.domain, "vm");
      assert.equal(p.from, SOURCE);
      assert.equal(p.to, TARGET);
      assert.equal(p.estimate.linkMibps, DEFAULT_LINK_MIBPS);
      const inventory = { inventory: { target: 100 } };
      assert.equal(plan({}, (s) => (s.facts.link = inventory)).estimate.linkMibps, 100);
      assert.equal(
        plan({ policy: { bandwidthMibps: 50 } }, (s) => (s.facts.link = inventory)).estimate
          .linkMibps,
        50,
      );
    });

    it("has no duration for nothing to do, and an offline move's downtime is its duration", () => {
      const none = plan({ sameHost: true });
      assert.equal(none.estimate.durationSeconds, 0);
      assert.equal(none.estimate.downtimeMs, 0);
      const offline = plan({ domain: { running: false } });
      assert.ok(offline.estimate.durationSeconds > 0);
      assert.equal(
        offline.estimate.downtimeMs,
        Math.round(offline.estimate.durationSeconds * 1000),
      );
      const block = plan({ sameHost: true, req: { storagePool: "scratch" } }, (s) => {
        s.facts.source!.pools.scratch = makePool("scratch");
      });
      assert.equal(block.estimate.downtimeMs, 0);
    });
  });

  describe("choosePlan: blockers", () => {
    interface Case {
      name: string;
      options?: ScenarioOptions;
      tweak?: (s: Scenario) => void;
      codes: string[];
      /** Strings the (first) blocker's message must contain: the value, and what to do. */
      mentions?: string[];
    }
    const cases: Case[] = [
      {
        name: "no domain fact",
        tweak: (s) => (s.facts.domain = undefined),
        codes: ["DOMAIN_NOT_FOUND"],
        mentions: ["'vm'", "check the name"],
      },
      {
        name: "no target host",
        options: { req: { host: "kvm9" } },
        tweak: (s) => (s.facts.target = undefined),
        codes: ["HOST_UNKNOWN"],
        mentions: ["'kvm9'", "add it to the provider configuration"],
      },
      {
        name: "target unreachable",
        options: {
          target: { reachable: false, unreachableReason: "ssh: connect to host kvm2: refused" },
        },
        codes: ["HOST_UNREACHABLE"],
        mentions: ["target host kvm2", "ssh: connect to host kvm2: refused"],
      },
      {
        name: "source unreachable",
        options: { source: { reachable: false, unreachableReason: "timed out" } },
        codes: ["HOST_UNREACHABLE"],
        mentions: ["source host kvm1", "timed out"],
      },
      {
        name: "pool missing on the target",
        options: { req: { storagePool: "fast" }, target: { nfs: true } },
        codes: ["POOL_MISSING"],
        mentions: ["'fast'", "kvm2", "local, nfs", "create it or choose another pool", "vda"],
      },
      {
        name: "pool missing on a target without pools",
        options: { target: { pools: {} } },
        codes: ["POOL_MISSING"],
        mentions: ["'local'", "none"],
      },
      {
        name: "pool inactive",
        options: { target: { pools: { local: makePool("local", { active: false }) } } },
        codes: ["POOL_INACTIVE"],
        mentions: ["'local'", "kvm2", "virsh pool-start local"],
      },
      {
        name: "pool too small for the disk's capacity",
        options: {
          target: { pools: { local: makePool("local", { availableBytes: 5 * GiB }) } },
        },
        codes: ["POOL_TOO_SMALL"],
        mentions: ["'local'", "5120 MiB", "10240 MiB", "free space or choose another pool"],
      },
      {
        name: "pool too small for two disks together",
        options: {
          domain: {
            disks: [makeDisk(), makeDisk({ target: "vdb", path: "/pools/local/data.qcow2" })],
          },
          target: { pools: { local: makePool("local", { availableBytes: 15 * GiB }) } },
        },
        codes: ["POOL_TOO_SMALL"],
        mentions: ["15360 MiB", "20480 MiB"],
      },
      {
        name: "volume already on the target",
        options: { target: { pools: { local: makePool("local", { volumes: ["vm.qcow2"] }) } } },
        codes: ["VOLUME_EXISTS"],
        mentions: ["vm.qcow2", "virsh vol-delete --pool local vm.qcow2"],
      },
      {
        name: "not enough memory on the target",
        options: { target: { freeMemoryBytes: GiB + 64 * MiB - 1 } },
        codes: ["INSUFFICIENT_MEMORY"],
        mentions: ["kvm2", "1087 MiB free", "1088 MiB", "free memory there or choose another host"],
      },
      {
        name: "CPU incompatible",
        options: { target: { cpuCompatible: false } },
        codes: ["CPU_INCOMPATIBLE"],
        mentions: ["kvm2", "use a CPU model both hosts support"],
      },
      {
        name: "host devices attached",
        options: { domain: { hostDevices: ["pci 0000:03:00.0", "usb 046d:c52b"] } },
        codes: ["HOST_DEVICES_ATTACHED"],
        mentions: ["pci 0000:03:00.0, usb 046d:c52b", "detach them first"],
      },
      {
        name: "snapshots",
        options: { domain: { snapshotCount: 2 } },
        codes: ["SNAPSHOTS_PRESENT"],
        mentions: ["2 snapshot(s)", "Delete or export the snapshots"],
      },
      {
        name: "snapshots block an offline move to another host too",
        options: { domain: { snapshotCount: 1, running: false } },
        codes: ["SNAPSHOTS_PRESENT"],
      },
      {
        name: "disk not in a pool",
        options: { domain: { disks: [makeDisk({ pool: undefined, path: "/var/tmp/vm.qcow2" })] } },
        codes: ["DISK_NOT_IN_POOL"],
        mentions: ["vda", "/var/tmp/vm.qcow2", "set storagePool or disks.vda"],
      },
      {
        name: "diskPools names a disk that does not exist",
        options: { req: { diskPools: { vdz: "local" } } },
        codes: ["DISK_UNKNOWN"],
        mentions: ["disks.vdz", "disks: vda"],
      },
      {
        name: "network disk asked into a pool",
        options: {
          domain: { disks: [makeDisk(), makeNetworkDisk()] },
          req: { diskPools: { vdb: "local" } },
        },
        codes: ["DISK_ON_NETWORK_STORAGE"],
        mentions: ["vdb", "rbd rbd/vm-data", "'local'", "Remove disks.vdb"],
      },
      {
        name: "pool without a directory",
        options: {
          req: { storagePool: "ceph" },
          target: { pools: { ceph: makePool("ceph", { type: "rbd", path: undefined }) } },
        },
        codes: ["POOL_NOT_FILE_BASED"],
        mentions: ["'ceph'", "rbd", "choose a directory-backed pool"],
      },
      {
        name: "live forbidden without offline fallback",
        options: { policy: { allowLive: false } },
        codes: ["LIVE_NOT_ALLOWED"],
        mentions: ["vm", "allow one of them"],
      },
      {
        name: "several blockers at once, in a stable order",
        options: {
          domain: { snapshotCount: 1, hostDevices: ["pci 0000:03:00.0"] },
          target: {
            freeMemoryBytes: 0,
            cpuCompatible: false,
            pools: { local: makePool("local", { volumes: ["vm.qcow2"], availableBytes: 0 }) },
          },
        },
        codes: [
          "VOLUME_EXISTS",
          "INSUFFICIENT_MEMORY",
          "CPU_INCOMPATIBLE",
          "HOST_DEVICES_ATTACHED",
          "SNAPSHOTS_PRESENT",
          "POOL_TOO_SMALL",
        ],
      },
      // What does not block.
      {
        name: "exactly enough memory",
        options: { target: { freeMemoryBytes: GiB + 64 * MiB } },
        codes: [],
      },
      {
        name: "little memory, shut-off domain",
        options: { domain: { running: false }, target: { freeMemoryBytes: 0 } },
        codes: [],
      },
      {
        name: "little memory, same host",
        options: {
          sameHost: true,
          req: { storagePool: "scratch" },
          source: { freeMemoryBytes: 0 },
        },
        tweak: (s) => (s.facts.source!.pools.scratch = makePool("scratch")),
        codes: [],
      },
      {
        name: "CPU incompatible, offline move",
        options: { domain: { running: false }, target: { cpuCompatible: false } },
        codes: [],
      },
      { name: "CPU not checked", options: { target: { cpuCompatible: undefined } }, codes: [] },
      {
        name: "host devices, offline move",
        options: { domain: { running: false, hostDevices: ["pci 0000:03:00.0"] } },
        codes: [],
      },
      {
        name: "snapshots, same host storage move",
        options: { sameHost: true, req: { storagePool: "scratch" }, domain: { snapshotCount: 3 } },
        tweak: (s) => (s.facts.source!.pools.scratch = makePool("scratch")),
        codes: [],
      },
      {
        name: "volume of the same name on shared storage (it is the disk itself)",
        options: ON_NFS,
        tweak: (s) => (s.facts.target!.pools.nfs.volumes = ["vm.qcow2"]),
        codes: [],
      },
      {
        name: "small pool, shared storage (nothing is copied)",
        options: ON_NFS,
        tweak: (s) => (s.facts.target!.pools.nfs.availableBytes = 0),
        codes: [],
      },
      {
        name: "network disk without a pool setting",
        options: { domain: { disks: [makeDisk(), makeNetworkDisk()] } },
        codes: [],
      },
      {
        name: "per-disk override rescues a missing storagePool",
        options: {
          domain: {
            disks: [makeDisk(), makeDisk({ target: "vdb", path: "/pools/local/data.qcow2" })],
          },
          req: { storagePool: "fast", diskPools: { vda: "local", vdb: "local" } },
        },
        codes: [],
      },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.codes.join(", ") || "no blocker"}`, () => {
        const p = plan(c.options, c.tweak);
        assert.deepEqual(codes(p), c.codes);
        for (const m of c.mentions ?? []) {
          assert.ok(
            p.blockers[0].message.includes(m),
            `message ${JSON.stringify(p.blockers[0].message)} lacks ${JSON.stringify(m)}`,
          );
        }
      });
    }

    it("a blocked plan that fails before placement has no mode, flags or params", () => {
      for (const tweak of [
        (s: Scenario) => (s.facts.domain = undefined),
        (s: Scenario) => (s.facts.target = undefined),
        (s: Scenario) => (s.facts.target!.reachable = false),
        (s: Scenario) => (s.facts.source = undefined),
      ]) {
        const p = plan({}, tweak);
        assert.equal(p.blockers.length, 1);
        assert.equal(p.mode, "none");
        assert.deepEqual(p.flags, []);
        assert.deepEqual(p.params, {});
        assert.deepEqual(p.escalation, []);
      }
    });

    it("per-disk pool override wins over storagePool", () => {
      const p = plan({
        domain: {
          disks: [makeDisk(), makeDisk({ target: "vdb", path: "/pools/local/data.qcow2" })],
        },
        req: { storagePool: "scratch", diskPools: { vda: "local" } },
        target: { pools: { local: makePool("local"), scratch: makePool("scratch") } },
      });
      assert.deepEqual(codes(p), []);
      assert.deepEqual(
        p.disks.map((d) => [d.target, d.pool, d.targetPath]),
        [
          ["vda", "local", "/pools/local/vm.qcow2"],
          ["vdb", "scratch", "/pools/scratch/data.qcow2"],
        ],
      );
    });
  });

  describe("checkFeasibility", () => {
    /** What other placements of the run hold on the target, as one holder "other". */
    const held = (memory: number, pools: Record<string, number>): HeldOnTarget => {
      const one = (bytes: number) => ({
        bytes,
        holders: bytes ? [{ claimant: "other", domain: "other-vm", bytes }] : [],
      });
      return {
        memory: one(memory),
        pools: Object.fromEntries(Object.entries(pools).map(([p, b]) => [p, one(b)])),
      };
    };
    const copied = (pool: string, capacityBytes: number): DiskPlacement => ({
      target: "vda",
      pool,
      format: "qcow2",
      capacityBytes,
      bytesToCopy: 0,
      copy: true,
    });
    interface Case {
      name: string;
      options?: ScenarioOptions;
      tweak?: (s: Scenario) => void;
      mode: MigrationMode;
      disks?: DiskPlacement[];
      codes: string[];
    }
    const cases: Case[] = [
      { name: "nothing wrong", mode: "live-copy-all", disks: [copied("local", GiB)], codes: [] },
      {
        name: "missing facts: nothing to check here",
        options: { domain: { snapshotCount: 1 } },
        tweak: (s) => (s.facts.target = undefined),
        mode: "live-shared",
        codes: [],
      },
      {
        name: "same host, nothing to do: no checks at all",
        options: { sameHost: true, domain: { snapshotCount: 1 }, policy: { allowLive: false } },
        mode: "none",
        codes: [],
      },
      {
        name: "CPU only matters live",
        options: { target: { cpuCompatible: false } },
        mode: "offline",
        codes: [],
      },
      {
        name: "CPU, live",
        options: { target: { cpuCompatible: false } },
        mode: "live-shared",
        codes: ["CPU_INCOMPATIBLE"],
      },
      {
        name: "host devices only matter live",
        options: { domain: { hostDevices: ["pci 0000:03:00.0"] } },
        mode: "offline",
        codes: [],
      },
      {
        name: "pool space is summed per pool, and a pool the target lacks has none",
        mode: "live-copy-all",
        disks: [copied("local", 600 * GiB), copied("local", 400 * GiB), copied("gone", 1)],
        codes: ["POOL_TOO_SMALL", "POOL_TOO_SMALL"],
      },
      {
        name: "disks not copied need no space",
        mode: "live-shared",
        disks: [{ ...copied("local", 2000 * GiB), copy: false }],
        codes: [],
      },
      {
        name: "live mode under a policy that forbids it",
        options: { policy: { allowLive: false } },
        mode: "live-copy-all",
        codes: ["LIVE_NOT_ALLOWED"],
      },
      {
        name: "room after what the run holds: no blocker",
        tweak: (s) => (s.facts.held = held(14 * GiB, { local: 800 * GiB })),
        mode: "live-copy-all",
        disks: [copied("local", 100 * GiB)],
        codes: [],
      },
      {
        name: "memory the run holds would leave too little on the target",
        tweak: (s) => (s.facts.held = held(15.5 * GiB, {})),
        mode: "live-shared",
        codes: ["HOST_OVERCOMMITTED"],
      },
      {
        name: "the host's own figure comes first: too little even alone is INSUFFICIENT_MEMORY",
        tweak: (s) => {
          s.facts.target!.freeMemoryBytes = 512 * MiB;
          s.facts.held = held(GiB, {});
        },
        mode: "live-shared",
        codes: ["INSUFFICIENT_MEMORY"],
      },
      {
        name: "pool space the run holds would leave too little",
        tweak: (s) => (s.facts.held = held(0, { local: 850 * GiB })),
        mode: "live-copy-all",
        disks: [copied("local", 100 * GiB)],
        codes: ["POOL_OVERCOMMITTED"],
      },
      {
        name: "a shut-off guest needs no memory on the target, whatever the run holds",
        options: { domain: { running: false } },
        tweak: (s) => (s.facts.held = held(16 * GiB, {})),
        mode: "offline",
        codes: [],
      },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.codes.join(", ") || "no blocker"}`, () => {
        const s = makeScenario(c.options);
        c.tweak?.(s);
        const got = checkFeasibility(s.req, s.facts, s.policy, c.mode, c.disks ?? []);
        assert.deepEqual(codes({ blockers: got }), c.codes);
      });
    }
  });

  describe("choosePlan: destination XML", () => {
    interface Case {
      name: string;
      options?: ScenarioOptions;
      tweak?: (s: Scenario) => void;
      mode: MigrationMode;
      /** Path the rewritten XML must point vda at; undefined: no destination XML. */
      newPath?: string;
      persistent?: boolean;
    }
    const cases: Case[] = [
      {
        name: "into a pool with another path on the target",
        options: { target: { pools: { local: makePool("local", { path: "/srv/images" }) } } },
        mode: "live-copy-all",
        newPath: "/srv/images/vm.qcow2",
        persistent: true,
      },
      {
        name: "into another pool on the target",
        options: {
          req: { storagePool: "scratch" },
          target: { pools: { scratch: makePool("scratch") } },
        },
        mode: "live-copy-all",
        newPath: "/pools/scratch/vm.qcow2",
        persistent: true,
      },
      {
        name: "transient domain: destination XML only",
        options: {
          domain: { persistent: false },
          target: { pools: { local: makePool("local", { path: "/srv/images" }) } },
        },
        mode: "live-copy-all",
        newPath: "/srv/images/vm.qcow2",
        persistent: false,
      },
      {
        name: "block copy on the same host",
        options: { sameHost: true, req: { storagePool: "scratch" } },
        tweak: (s) => (s.facts.source!.pools.scratch = makePool("scratch")),
        mode: "block-copy",
        newPath: "/pools/scratch/vm.qcow2",
        persistent: false,
      },
      {
        name: "offline to another pool path",
        options: {
          domain: { running: false },
          target: { pools: { local: makePool("local", { path: "/srv/images" }) } },
        },
        mode: "offline",
        newPath: "/srv/images/vm.qcow2",
        persistent: false,
      },
      { name: "same path on the target", mode: "live-copy-all" },
      { name: "shared storage", options: ON_NFS, mode: "live-shared" },
      { name: "shut off, same path", options: { domain: { running: false } }, mode: "offline" },
      { name: "nothing to do", options: { sameHost: true }, mode: "none" },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.newPath ? `vda → ${c.newPath}` : "no destination XML"}`, () => {
        const p = plan(c.options, c.tweak);
        assert.deepEqual(codes(p), []);
        assert.equal(p.mode, c.mode);
        if (!c.newPath) {
          assert.equal(p.params.destinationXml, undefined);
          assert.equal(p.params.persistentXml, undefined);
          return;
        }
        const xml = p.params.destinationXml;
        assert.ok(xml, "destination XML");
        assert.ok(xml.includes(`<source file="${c.newPath}"/>`), xml);
        assert.ok(!xml.includes("/pools/local/vm.qcow2"), xml);
        assert.ok(xml.includes("<name>vm</name>"));
        assert.ok(xml.includes(`<source network="default"/>`), "the rest is untouched");
        assert.equal(p.params.persistentXml, c.persistent ? xml : undefined);
        assert.equal(p.disks[0].targetPath, c.newPath);
      });
    }

    it("rewrites only the disks whose path changes", () => {
      const p = plan({
        domain: {
          disks: [
            makeDisk(),
            makeDisk({ target: "vdb", path: "/pools/local/data.qcow2" }),
            makeNetworkDisk({ target: "vdc" }),
          ],
        },
        req: { diskPools: { vdb: "scratch" } },
        target: { pools: { local: makePool("local"), scratch: makePool("scratch") } },
      });
      assert.deepEqual(codes(p), []);
      const xml = p.params.destinationXml!;
      assert.ok(xml.includes(`<source file="/pools/local/vm.qcow2"/>`), xml);
      assert.ok(xml.includes(`<source file="/pools/scratch/data.qcow2"/>`), xml);
      assert.ok(xml.includes('<source protocol="rbd" name="rbd/vm-data">'), xml);
    });

    it("a disk that was not in a pool lands in the named pool's directory", () => {
      const p = plan({
        domain: { disks: [makeDisk({ pool: undefined, path: "/var/tmp/vm.qcow2" })] },
        req: { storagePool: "local" },
      });
      assert.deepEqual(codes(p), []);
      assert.ok(p.params.destinationXml?.includes(`<source file="/pools/local/vm.qcow2"/>`));
    });

    it("the XML of the fixture is what the facts say", () => {
      const d = makeDomain({ disks: [makeDisk(), makeNetworkDisk()] });
      assert.ok(d.xml.includes("<source file='/pools/local/vm.qcow2'/>"));
      assert.ok(d.xml.includes("<target dev='vdb' bus='virtio'/>"));
      assert.ok(d.xml.includes("<memory unit='KiB'>1048576</memory>"));
    });
  });

  describe("choosePlan: forecast", () => {
    it("an idle guest converges in one pass: memory and disks over the link, a short pause", () => {
      const p = plan({ domain: { dirtyRateBps: 0 } });
      assert.equal(p.forecast.verdict, "converges");
      assert.equal(p.forecast.escalation, "none");
      assert.equal(p.forecast.passes, 1);
      // 1 GiB of memory and 2 GiB of disk allocation at the assumed 1024 MiB/s, plus 0.7 s setup.
      assert.equal(p.forecast.durationSeconds, 3.7);
      assert.ok(p.forecast.downtimeMs < DEFAULT_POLICY.maxDowntimeMs, `${p.forecast.downtimeMs}`);
      assert.equal(p.forecast.memoryBytes, GiB);
      assert.equal(p.forecast.diskBytes, 2 * GiB);
      assert.deepEqual(p.bytes, { memory: GiB, disks: 2 * GiB, total: 3 * GiB });
      assert.equal(p.estimate.durationSeconds, p.forecast.durationSeconds);
    });

    it("moves what QEMU holds (resident, less QEMU's own), not the configured size, and says so", () => {
      const p = plan({ domain: { residentBytes: 256 * MiB, dirtyRateBps: 0 } });
      // 218.25 MiB the guest holds, and a 9-byte header for each of the other 805.75 MiB of pages.
      assert.equal(p.forecast.memoryBytes, Math.round(218.25 * MiB + (805.75 * MiB * 9) / 4096));
      assert.match(
        p.forecast.sources.memory,
        /resident 256 MiB of 1024 MiB configured \(balloon.rss\), less ~38 MiB QEMU holds for itself/,
      );
      const idle = plan({ domain: { residentBytes: 38 * MiB, dirtyRateBps: 0 } });
      assert.ok(idle.forecast.memoryBytes < 3 * MiB, "an idle guest sends next to nothing");
      const over = plan({ domain: { residentBytes: 2 * GiB } });
      assert.equal(over.forecast.memoryBytes, GiB, "never more than the guest has");
      assert.match(plan().forecast.sources.memory, /configured 1024 MiB/);
    });

    it("names how the dirty rate was measured, or why it was not", () => {
      const measured = plan({
        domain: { dirtyRateBps: 8 * MiB, memoryMeasurement: { windowSeconds: 2 } },
      });
      assert.match(measured.forecast.sources.dirtyRate, /measured over 2 s/);
      assert.equal(measured.forecast.dirtyRateMibps, 8);
      const failed = plan({
        domain: { memoryMeasurement: { windowSeconds: 1, problem: "QEMU did not report" } },
      });
      assert.match(
        failed.forecast.sources.dirtyRate,
        /not measured \(QEMU did not report\); assumed 0/,
      );
    });

    it("copies a disk's backing chain in a full copy, only its top layer incrementally", () => {
      const chain = ["/pools/local/base.qcow2"];
      const disk = { backingChain: chain, allocationBytes: GiB, backingAllocationBytes: 3 * GiB };
      const full = plan({ domain: { disks: [makeDisk(disk)] }, policy: { storageCopy: "all" } });
      assert.equal(full.mode, "live-copy-all");
      assert.equal(full.forecast.diskBytes, 4 * GiB);
      assert.match(full.forecast.sources.disks, /backing chains included/);
      const capped = plan({
        domain: { disks: [makeDisk({ ...disk, backingAllocationBytes: 20 * GiB })] },
        policy: { storageCopy: "all" },
      });
      assert.equal(capped.forecast.diskBytes, 10 * GiB, "a flattened copy is at most the capacity");
      const incremental = plan({ domain: { disks: [makeDisk(disk)] } }, (s) => {
        s.facts.target!.pools.local.volumes.push("base.qcow2");
      });
      assert.equal(incremental.mode, "live-copy-incremental");
      assert.equal(incremental.forecast.diskBytes, GiB);
      const offline = plan({ domain: { running: false, disks: [makeDisk(disk)] } }, (s) => {
        s.facts.target!.pools.local.volumes.push("base.qcow2");
      });
      assert.equal(offline.mode, "offline");
      assert.equal(offline.forecast.diskBytes, GiB, "an offline copy moves the top layer");
    });

    it("takes the link from the cap, the inventory, an earlier move, or the stated default", () => {
      const earlier = [{ from: TARGET, to: SOURCE, mibps: 300, at: "2026-12-01T10:00:00Z" }];
      const link = (options: ScenarioOptions, facts: PlanningFacts["link"]) =>
        plan(options, (s) => (s.facts.link = facts)).forecast;
      assert.match(link({}, undefined).sources.link, /assumed 1024 MiB\/s/);
      assert.equal(link({}, { measured: earlier }).linkMibps, 300);
      assert.match(
        link({}, { measured: earlier }).sources.link,
        /measured by the move kvm2 -> kvm1/,
      );
      assert.equal(
        link({}, { inventory: { source: 500, target: 200 }, measured: earlier }).linkMibps,
        200,
      );
      const capped = link({ policy: { bandwidthMibps: 50 } }, { inventory: { target: 200 } });
      assert.deepEqual([capped.linkMibps, capped.sources.link], [50, "policy bandwidthMibps"]);
      // A cap above what the link carries does not make the move faster.
      assert.equal(link({ policy: { bandwidthMibps: 500 } }, { measured: earlier }).linkMibps, 300);
    });

    interface VerdictCase {
      name: string;
      options?: ScenarioOptions;
      link?: PlanningFacts["link"];
      dirty: number;
      verdict: PlanForecast["verdict"];
      warning?: RegExp;
      steps?: EscalationStep["kind"][];
    }
    const cases: VerdictCase[] = [
      {
        name: "a low dirty rate converges",
        dirty: 100 * MiB,
        verdict: "converges",
        steps: ["raise-downtime", "raise-downtime", "post-copy", "abort"],
      },
      {
        name: "dirtying near the link needs post-copy, right after the first pass",
        options: { policy: { bandwidthMibps: 100 } },
        dirty: 95 * MiB,
        verdict: "needs-post-copy",
        warning: /switches to post-copy right after the first pass/,
        steps: ["post-copy", "abort"],
      },
      {
        name: "the cap is the link",
        options: { policy: { bandwidthMibps: 100 } },
        link: { inventory: { source: 10000 } },
        dirty: 95 * MiB,
        verdict: "needs-post-copy",
        warning: /over 100 MiB\/s \(policy bandwidthMibps\)/,
      },
      {
        name: "without post-copy, auto-converge throttles the guest",
        options: { policy: { allowPostCopy: false, autoConverge: true, bandwidthMibps: 100 } },
        dirty: 2 * GiB,
        verdict: "needs-auto-converge",
        warning: /auto-converge throttles its vCPUs/,
      },
      {
        name: "with neither, the move cannot finish live and is aborted",
        options: { policy: { allowPostCopy: false, bandwidthMibps: 100 } },
        dirty: 2 * GiB,
        verdict: "cannot-move-live",
        warning:
          /allows neither post-copy nor auto-converge, so the move is aborted after ~[\d.]+ s and vm stays on its source; allow/,
        steps: ["raise-downtime", "raise-downtime", "abort"],
      },
      {
        name: "with neither but an offline fallback, it says the fallback moves it",
        options: {
          policy: { allowPostCopy: false, allowOfflineFallback: true, bandwidthMibps: 100 },
        },
        dirty: 2 * GiB,
        verdict: "cannot-move-live",
        warning: /then the offline fallback moves it/,
      },
      {
        name: "offline moves do not pre-copy",
        options: { domain: { running: false } },
        dirty: 10 * GiB,
        verdict: "not-live",
      },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.verdict}`, () => {
        const p = plan(
          { ...c.options, domain: { ...c.options?.domain, dirtyRateBps: c.dirty } },
          (s) => (s.facts.link = c.link),
        );
        assert.equal(p.forecast.verdict, c.verdict);
        const warning = p.warnings.find((w) => w.code === "PRECOPY_MAY_NOT_CONVERGE");
        if (c.warning) assert.match(warning?.message ?? "(no warning)", c.warning);
        else assert.equal(warning, undefined);
        if (c.steps)
          assert.deepEqual(
            p.escalation.map((s) => s.kind),
            c.steps,
          );
        if (c.verdict === "needs-post-copy") {
          assert.equal(p.forecast.escalation, "post-copy-after-first-pass");
          assert.deepEqual(p.escalation[0], { kind: "post-copy", afterFirstPass: true });
          assert.equal(
            p.forecast.downtimeMs,
            50,
            "a post-copy switch-over moves device state only",
          );
        }
        if (c.verdict === "cannot-move-live") {
          assert.equal(p.forecast.downtimeMs, 0, "the guest is never paused");
          assert.ok(Number.isFinite(p.forecast.durationSeconds));
        }
      });
    }
  });

  describe("choosePlan: escalation and completion timeout", () => {
    const raise = (downtimeMs: number): EscalationStep => ({ kind: "raise-downtime", downtimeMs });
    const postCopy: EscalationStep = { kind: "post-copy" };
    const abort: EscalationStep = { kind: "abort" };
    const offline: EscalationStep = { kind: "offline-fallback" };
    interface Case {
      name: string;
      options?: ScenarioOptions;
      tweak?: (s: Scenario) => void;
      mode?: MigrationMode;
      steps: EscalationStep[];
    }
    const cases: Case[] = [
      {
        name: "default policy",
        steps: [raise(500), raise(1000), postCopy, abort],
      },
      {
        name: "default policy, shared storage",
        options: ON_NFS,
        mode: "live-shared",
        steps: [raise(500), raise(1000), postCopy, abort],
      },
      {
        name: "no post-copy, offline fallback",
        options: { policy: { allowPostCopy: false, allowOfflineFallback: true } },
        steps: [raise(500), raise(1000), abort, offline],
      },
      {
        name: "post-copy and offline fallback",
        options: { policy: { allowOfflineFallback: true } },
        steps: [raise(500), raise(1000), postCopy, abort, offline],
      },
      {
        name: "no post-copy, no fallback",
        options: { policy: { allowPostCopy: false } },
        steps: [raise(500), raise(1000), abort],
      },
      {
        name: "max downtime already at the top of the ladder",
        options: { policy: { maxDowntimeMs: 1000 } },
        steps: [postCopy, abort],
      },
      {
        name: "ladder unsorted, with duplicates and values below the maximum",
        options: { policy: { downtimeLadderMs: [2000, 100, 500, 300, 500] } },
        steps: [raise(500), raise(2000), postCopy, abort],
      },
      {
        name: "empty ladder",
        options: { policy: { downtimeLadderMs: [] } },
        steps: [postCopy, abort],
      },
      {
        name: "offline move",
        options: { domain: { running: false } },
        mode: "offline",
        steps: [],
      },
      {
        name: "offline through the fallback policy",
        options: { policy: { allowLive: false, allowOfflineFallback: true } },
        mode: "offline",
        steps: [],
      },
      {
        name: "block copy",
        options: { sameHost: true, req: { storagePool: "scratch" } },
        tweak: (s) => (s.facts.source!.pools.scratch = makePool("scratch")),
        mode: "block-copy",
        steps: [],
      },
      { name: "nothing to do", options: { sameHost: true }, mode: "none", steps: [] },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.steps.map((s) => ("downtimeMs" in s ? s.downtimeMs : s.kind)).join(", ") || "no steps"}`, () => {
        const p = plan(c.options, c.tweak);
        assert.equal(p.mode, c.mode ?? "live-copy-all");
        assert.deepEqual(p.escalation, c.steps);
      });
    }

    interface TimeoutCase {
      name: string;
      options?: ScenarioOptions;
      totalBytes: number;
      seconds: number;
    }
    const timeouts: TimeoutCase[] = [
      { name: "1 GiB memory + 2 GiB disk", totalBytes: 3 * GiB, seconds: 180 },
      {
        name: "1 GiB memory on shared storage",
        options: ON_NFS,
        totalBytes: GiB,
        seconds: 60,
      },
      {
        name: "small guest on shared storage: at least 30 s",
        options: { ...ON_NFS, domain: { ...ON_NFS.domain, memoryBytes: 256 * MiB } },
        totalBytes: 256 * MiB,
        seconds: 30,
      },
      {
        name: "big disk",
        options: {
          domain: { disks: [makeDisk({ allocationBytes: 100 * GiB, capacityBytes: 200 * GiB })] },
        },
        totalBytes: 101 * GiB,
        seconds: 6060,
      },
      {
        name: "a slower allowance per GiB",
        options: { policy: { completionTimeoutSecondsPerGib: 120 } },
        totalBytes: 3 * GiB,
        seconds: 360,
      },
      {
        name: "offline: disk bytes only",
        options: { domain: { running: false } },
        totalBytes: 2 * GiB,
        seconds: 120,
      },
      { name: "nothing to do", options: { sameHost: true }, totalBytes: 0, seconds: 30 },
    ];
    for (const c of timeouts) {
      it(`completion timeout, ${c.name} → ${c.seconds} s`, () => {
        const p = plan(c.options);
        assert.equal(p.bytes.total, c.totalBytes);
        assert.equal(p.completionTimeoutSeconds, c.seconds);
        const policy = makeScenario(c.options).policy;
        assert.equal(p.completionTimeoutSeconds, completionTimeoutSeconds(policy, p.bytes.total));
      });
    }

    it("completionTimeoutSeconds is at least 30 and proportional to the bytes", () => {
      const rows: Array<[number, number]> = [
        [0, 30],
        [1, 30],
        [GiB / 2, 30],
        [GiB, 60],
        [GiB + 1, 61],
        [10 * GiB, 600],
        [1024 * GiB, 61440],
      ];
      for (const [bytes, seconds] of rows) {
        assert.equal(completionTimeoutSeconds(DEFAULT_POLICY, bytes), seconds, `${bytes} bytes`);
      }
      const a = completionTimeoutSeconds(DEFAULT_POLICY, 5 * GiB);
      const b = completionTimeoutSeconds(DEFAULT_POLICY, 10 * GiB);
      assert.equal(b, 2 * a);
    });
  });

  it("fixtures: hosts share the NFS export", () => {
    const s = makeScenario(ON_NFS);
    assert.equal(s.facts.source!.pools.nfs.sharedStorageKey, NFS_KEY);
    assert.equal(s.facts.target!.pools.nfs.sharedStorageKey, NFS_KEY);
  });
});

describe("choosePlan: stream options", () => {
  it("checks the target's certificate against its migrationTlsName when the policy wants TLS", () => {
    const named = (s: Scenario) => (s.facts.target!.migrationTlsName = "h2.lab.example");
    const p = plan({ policy: { tls: true } }, named);
    assert.ok(p.flags.includes("VIR_MIGRATE_TLS"));
    assert.equal(p.params.tlsDestination, "h2.lab.example");
    assert.match(p.forecast.sources.stream, /TLS/);
    assert.equal(plan({ policy: { tls: true } }).params.tlsDestination, undefined);
    assert.equal(plan({ policy: { tls: false } }, named).params.tlsDestination, undefined);
  });

  it("counts compression in the bytes, and says xbzrle does nothing over parallel connections", () => {
    const churn = { domain: { dirtyRateBps: 30 * 1024 * 1024 } };
    const bytes = (policy: ScenarioOptions["policy"]) =>
      plan({ ...churn, policy: { bandwidthMibps: 40, ...policy } }).forecast.memoryBytesSent;
    assert.ok(bytes({ compression: "xbzrle" }) < bytes({}));
    assert.ok(bytes({ compression: "mt" }) < bytes({ compression: "xbzrle" }));
    assert.equal(bytes({ compression: "xbzrle", parallelConnections: 4 }), bytes({}));
    const p = plan({ ...churn, policy: { compression: "xbzrle", parallelConnections: 4 } });
    assert.match(
      p.warnings.find((w) => w.code === "COMPRESSION_NOT_APPLIED")?.message ?? "",
      /xbzrle' does not apply with parallelConnections 4/,
    );
    assert.match(p.forecast.sources.stream, /4 parallel connections.*xbzrle not applied/);
    assert.equal(plan(churn).forecast.sources.stream, "one plain connection");
  });
});
