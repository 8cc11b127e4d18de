// Faults injected into real moves on the lab, through the engine, in every mode and in the phase
// where each matters. After each fault: the VM runs on exactly one host, its heartbeat never
// restarted (live modes), its disk is unchanged, and after the repair the same placement
// converges with nothing left over on any host.
import assert from "node:assert/strict";
import {
  DeadlineExceeded,
  MigrationError,
  place,
  type ConnectionPool,
  type MigrationPolicy,
  type MigrationProgress,
  type MigrationRecord,
  type PlacementRequest,
} from "../../provider/src/engine";
import { GuestFactory, labPool, policy, type TestGuest } from "../integration/engine/lab-engine";
import {
  createTinyPool,
  fillPool,
  removeTinyPools,
  unfillPool,
  cutLink,
  killLibvirtd,
  killQemu,
  repairAll,
  restartLibvirtd,
  restoreLink,
} from "../lab/faults";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { virsh } from "../lab/virsh";
import { recordFault } from "./fault-results";
import { before as snapshot, checkInvariants, checkStopped, leftovers } from "./invariants";

type Phase =
  | "before start"
  | "plan-time measurement"
  | "storage copy"
  | "memory pre-copy"
  | "post-copy"
  | "block copy"
  | "shutdown wait"
  | "offline copy"
  | "after switch-over"
  | "cleanup";

interface Ctx {
  lab: LabDescription;
  h1: LabHost;
  h2: LabHost;
  g: TestGuest;
  abort: AbortController;
}

interface FaultCase {
  fault: string;
  mode: string;
  phase: Phase;
  guest(f: GuestFactory, h1: LabHost): Promise<TestGuest>;
  /** Where the placement asks the VM to be: another host, or another pool on the same host. */
  target: "other host" | "scratch pool";
  /** The pool on the other host (default "local"), made first when it is "tiny". */
  pool?: "local" | "tiny";
  policy: Partial<MigrationPolicy>;
  /** Policy of the converging run after the repair (default policy when omitted). */
  converge?: Partial<MigrationPolicy>;
  inject(c: Ctx): Promise<void>;
  /**
   * The attempt's result and whether the VM is back where it started; undefined where either
   * outcome is right (a brief link cut: TCP may carry the move through, or keepalive ends it).
   */
  expect?: { result: MigrationRecord["result"]; category?: string; onSource: boolean };
  /** The guest keeps running through the fault (no restart); false for offline rollbacks. */
  live: boolean;
  /** The fault stops the guest itself: it is then checked shut off with its disk intact. */
  stopsGuest?: true;
  /** Seconds the plan measures the guest's dirty rate over (the engine's default when unset). */
  measureSeconds?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function inPhase(phase: Phase, p: MigrationProgress): boolean {
  switch (phase) {
    case "storage copy":
      return p.phase === "disk-copy" && p.diskProcessed > 0;
    case "memory pre-copy":
      return p.phase === "precopy" && p.memoryProcessed > 0;
    case "post-copy":
      return p.phase === "postcopy";
    case "block copy":
      return p.phase === "block-copy" && p.diskProcessed > 0;
    case "offline copy":
      return p.phase === "offline-copy" && p.diskProcessed > 0;
    case "after switch-over":
      return p.phase === "verifying";
    case "cleanup":
      return p.phase === "cleanup";
    default:
      return false;
  }
}

// Guests: a local disk with 32 MiB of random data copies for seconds at 4 MiB/s; the churn
// guests never converge at that bandwidth, so pre-copy lasts until the fault.
const localDisk = (f: GuestFactory, h: LabHost) =>
  f.local("flt", h, { randomMiB: 32, memoryMiB: 128 });
const localChurn = (f: GuestFactory, h: LabHost) =>
  f.local("flt", h, { kind: "churn-moderate", memoryMiB: 256 });
const sharedChurn = (f: GuestFactory, h: LabHost) => f.shared("flt", h, 3, "churn-fast", 512);
const overlayDisk = (f: GuestFactory, h: LabHost, lab: LabDescription) =>
  f.overlay("flt", h, lab.hosts.slice(0, 2), "churn-moderate");

const slowCopy: Partial<MigrationPolicy> = {
  bandwidthMibps: 4,
  allowPostCopy: false,
  progressTimeoutSeconds: 300,
  completionTimeoutSecondsPerGib: 3000,
};
const neverConverges: Partial<MigrationPolicy> = { ...slowCopy, bandwidthMibps: 8 };
const earlyPostCopy: Partial<MigrationPolicy> = {
  bandwidthMibps: 8,
  // Slow enough that post-copy lasts long enough to be seen (and cancelled).
  postcopyBandwidthMibps: 16,
  allowPostCopy: true,
  progressTimeoutSeconds: 2,
  downtimeLadderMs: [300],
};
/** A brief link cut may leave the job running: it must still end, through post-copy. */
const cutPolicy: Partial<MigrationPolicy> = {
  ...earlyPostCopy,
  postcopyBandwidthMibps: 0,
  progressTimeoutSeconds: 5,
};
/** Pre-copy gives up quickly (no post-copy), so the ladder's last step, the offline move, runs. */
const fallsBackOffline: Partial<MigrationPolicy> = {
  bandwidthMibps: 16,
  allowPostCopy: false,
  progressTimeoutSeconds: 2,
  downtimeLadderMs: [300],
  allowOfflineFallback: true,
  allowForcedShutdown: true,
  shutdownTimeoutSeconds: 1,
};
const offline: Partial<MigrationPolicy> = {
  allowLive: false,
  allowOfflineFallback: true,
  allowForcedShutdown: true,
  shutdownTimeoutSeconds: 1,
};

// Faults, each undone by repairAll() after the attempt unless it repairs itself.
const killTargetDaemon = async (c: Ctx) => killLibvirtd(c.h2);
/** The target's link goes down for 7 s, then comes back (TCP may carry on, or keepalive ends the job). */
const cutTargetBriefly = async (c: Ctx) => {
  await cutLink(c.h2);
  await sleep(7000);
  await restoreLink(c.h2);
};
/** The target's daemon dies and comes back 3 s later (as a service manager restarts it). */
const bounceTargetDaemon = async (c: Ctx) => {
  killLibvirtd(c.h2);
  await sleep(3000);
  await restartLibvirtd(c.h2);
};
const killIncoming = async (c: Ctx) => {
  assert.ok((await killQemu(c.h2, c.g.name)) > 0, "an incoming QEMU to kill");
};
/** The source's daemon dies and stays down (until the repair). */
const killSourceDaemon = async (c: Ctx) => killLibvirtd(c.h1);
/** The outgoing QEMU dies (OOM killer, crash): the guest is gone, nothing may start it twice. */
const killOutgoing = async (c: Ctx) => {
  assert.ok((await killQemu(c.h1, c.g.name)) > 0, "an outgoing QEMU to kill");
};
/** The source's daemon dies and comes back a few seconds later, while the engine waits. */
const bounceSourceDaemon = async (c: Ctx) => {
  killLibvirtd(c.h1);
  await sleep(3000);
  await restartLibvirtd(c.h1);
};
const cutSourceBriefly = async (c: Ctx) => {
  await cutLink(c.h1);
  await sleep(8000);
  await restoreLink(c.h1);
};
const cancel = async (c: Ctx) => c.abort.abort();
const deadline = async (c: Ctx) =>
  c.abort.abort(new DeadlineExceeded("the update timeout of 5 s (customTimeouts.update) passed"));

const briefCut = (inject: (c: Ctx) => Promise<void>) =>
  inject === cutTargetBriefly || inject === cutSourceBriefly;
/** Faults after which both daemons answer when the engine rolls back: it must leave nothing. */
const bothAnswerAtRollback = (inject: (c: Ctx) => Promise<void>) =>
  [cancel, deadline, killIncoming, killOutgoing, bounceTargetDaemon].includes(inject);

const back = (result: MigrationRecord["result"], category?: string) => ({
  result,
  category,
  onSource: true,
});

const CASES: FaultCase[] = [
  {
    // The plan measures a guest that dies in the window: it plans from what the guest is then
    // (shut off) and moves it cold, never starting it.
    fault: "guest QEMU killed",
    mode: "live-copy-all",
    phase: "plan-time measurement",
    guest: localChurn,
    target: "other host",
    policy: {},
    measureSeconds: 5,
    inject: killOutgoing,
    expect: { result: "succeeded", onSource: false },
    live: false,
    stopsGuest: true,
  },
  // live-copy-all
  ...(
    [
      ["incoming QEMU killed", killIncoming, back("failed")],
      // The target's daemon killed here is cli-faults.test.ts's case, and a cancel here, in
      // post-copy, the shutdown wait and the offline copy is cli-interrupt.test.ts's: through the
      // CLI, as users meet them.
    ] as const
  ).map(([fault, inject, expect]): FaultCase => ({
    fault,
    mode: "live-copy-all",
    phase: "storage copy",
    guest: localDisk,
    target: "other host",
    policy: slowCopy,
    inject,
    expect,
    live: true,
  })),
  ...(
    [
      ["source libvirtd killed, restarted after 3 s", bounceSourceDaemon, back("failed")],
      ["source link cut for 8 s", cutSourceBriefly, undefined],
    ] as const
  ).map(([fault, inject, expect]): FaultCase => ({
    fault,
    mode: "live-copy-all",
    phase: "memory pre-copy",
    guest: localChurn,
    target: "other host",
    policy: briefCut(inject) ? cutPolicy : neverConverges,
    inject,
    expect,
    live: true,
  })),
  {
    // Post-copy comes due while the disks still copy (QEMU refuses it then): the ladder defers
    // it, and aborts if the copy is stuck; the job is steered to its end either way.
    fault: "target link cut for 7 s, post-copy due during the disk copy",
    mode: "live-copy-all",
    phase: "storage copy",
    guest: localDisk,
    target: "other host",
    policy: {
      bandwidthMibps: 4,
      allowPostCopy: true,
      progressTimeoutSeconds: 4,
      downtimeLadderMs: [300],
      completionTimeoutSecondsPerGib: 1,
    },
    inject: cutTargetBriefly,
    live: true,
  },
  {
    fault: "outgoing QEMU killed",
    mode: "live-copy-all",
    phase: "storage copy",
    guest: localDisk,
    target: "other host",
    policy: slowCopy,
    inject: killOutgoing,
    expect: back("failed", "libvirt"),
    live: false,
    stopsGuest: true,
  },
  {
    // TCG guest with an NVRAM variable store: a failed incoming move leaves a file libvirt made.
    fault: "UEFI guest: target libvirtd killed, restarted after 3 s",
    mode: "live-copy-all",
    phase: "storage copy",
    guest: (f, h) => f.uefi("flt-uefi", h),
    target: "other host",
    policy: { ...slowCopy, bandwidthMibps: 1 },
    inject: bounceTargetDaemon,
    expect: back("failed"),
    live: true,
  },
  // The job ended; the source's daemon goes before the engine could confirm the guest left it.
  ...(
    [
      ["source libvirtd killed, restarted after 3 s", localDisk],
      [
        "UEFI guest: source libvirtd killed, restarted after 3 s",
        (f: GuestFactory, h: LabHost) => f.uefi("flt-uefi", h),
      ],
    ] as const
  ).map(([fault, guest]): FaultCase => ({
    fault,
    mode: "live-copy-all",
    phase: "after switch-over",
    guest,
    target: "other host",
    policy: { bandwidthMibps: 32 },
    inject: bounceSourceDaemon,
    expect: { result: "succeeded", onSource: false },
    live: true,
  })),
  // The move is verified; the source's daemon dies before the old copies are removed. The
  // copies keep their "moving" markers: the next run removes them.
  ...(
    [
      ["live-copy-all", { bandwidthMibps: 32 }],
      ["offline", offline],
    ] as const
  ).map(([mode, movePolicy]): FaultCase => ({
    fault: "source libvirtd killed before the old copies were removed",
    mode,
    phase: "cleanup",
    guest: localDisk,
    target: "other host",
    policy: movePolicy,
    inject: killSourceDaemon,
    expect: { result: "succeeded", onSource: false },
    live: mode !== "offline",
  })),
  {
    fault: "target pool fills up",
    mode: "live-copy-all",
    phase: "storage copy",
    guest: localDisk,
    target: "other host",
    pool: "tiny",
    policy: slowCopy,
    inject: (c) => fillPool(c.h2, "tiny", 4),
    expect: back("failed"),
    live: true,
  },
  {
    fault: "target libvirtd down",
    mode: "live-copy-all",
    phase: "before start",
    guest: localDisk,
    target: "other host",
    policy: {},
    inject: killTargetDaemon,
    expect: back("failed", "blocked"),
    live: true,
  },

  // live-shared
  ...(
    [
      // (A cancel in pre-copy takes the abort path the storage-copy cancel above takes; the
      // engine's integration tests cancel a pre-copy too.)
      ["target libvirtd killed, restarted after 3 s", bounceTargetDaemon, back("failed")],
    ] as const
  ).map(([fault, inject, expect]): FaultCase => ({
    fault,
    mode: "live-shared",
    phase: "memory pre-copy",
    guest: sharedChurn,
    target: "other host",
    policy: briefCut(inject) ? cutPolicy : neverConverges,
    inject,
    expect,
    live: true,
  })),
  // live-copy-incremental
  ...(
    [
      ["target libvirtd killed, restarted after 3 s", bounceTargetDaemon, back("failed")],
      // The same stop as a cancel, for the provider's customTimeouts.
      ["customTimeouts deadline", deadline, back("cancelled", "deadline")],
    ] as const
  ).map(([fault, inject, expect]): FaultCase => ({
    fault,
    mode: "live-copy-incremental",
    phase: "memory pre-copy",
    guest: (f, h) => overlayDisk(f, h, loadLab()),
    target: "other host",
    policy: { ...(briefCut(inject) ? cutPolicy : neverConverges), storageCopy: "incremental" },
    inject,
    expect,
    live: true,
  })),
  // block-copy (same host, pool change)
  ...(
    [
      ["cancel (SIGINT)", cancel, back("cancelled", "cancelled")],
      ["libvirtd killed, restarted after 3 s", bounceSourceDaemon, back("failed")],
      ["host link cut for 8 s", cutSourceBriefly, back("failed")],
    ] as const
  ).map(([fault, inject, expect]): FaultCase => ({
    fault,
    mode: "block-copy",
    phase: "block copy",
    guest: localDisk,
    target: "scratch pool",
    policy: { bandwidthMibps: 4 },
    inject,
    expect,
    live: true,
  })),
  // the offline fallback, after pre-copy gave up (its offline part meets offline's faults below)
  {
    fault: "cancel (SIGINT)",
    mode: "offline fallback",
    phase: "offline copy",
    guest: (f, h) => f.local("flt", h, { kind: "churn-moderate", memoryMiB: 128, randomMiB: 32 }),
    target: "other host",
    policy: fallsBackOffline,
    inject: cancel,
    expect: back("cancelled", "cancelled"),
    live: false,
  },
  // offline
  {
    fault: "guest ignores ACPI, forced shutdown not allowed",
    mode: "offline",
    phase: "shutdown wait",
    guest: localDisk,
    target: "other host",
    policy: { ...offline, allowForcedShutdown: false, shutdownTimeoutSeconds: 2 },
    converge: offline,
    inject: async () => undefined,
    expect: back("failed", "timeout"),
    live: true,
  },
  ...(
    [
      // (A cancel in the offline copy is the offline fallback's case above: the same copy.)
      ["target libvirtd killed", killTargetDaemon, back("failed")],
      // The rollback waits for the source's daemon and restarts the VM there.
      ["source libvirtd killed, restarted after 3 s", bounceSourceDaemon, back("failed")],
      ["target link cut for 7 s", cutTargetBriefly, undefined],
    ] as const
  ).map(([fault, inject, expect]): FaultCase => ({
    fault,
    mode: "offline",
    phase: "offline copy",
    guest: localDisk,
    target: "other host",
    policy: offline,
    converge: offline,
    inject,
    expect,
    live: false,
  })),
];

describe("fault tier: injected faults through the engine on the lab", function () {
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let pool: ConnectionPool;
  let guests: GuestFactory;

  before(() => {
    lab = loadLab();
    [h1, h2] = lab.hosts;
    guests = new GuestFactory(lab);
  });
  // A fresh pool per case, as each provider run has: one case's faults never reach the next.
  beforeEach(() => (pool = labPool(lab)));
  afterEach(async () => {
    await pool.closeAll();
    await repairAll();
    await guests.cleanup();
    await removeTinyPools();
  });

  async function attempt(
    req: PlacementRequest,
    p: MigrationPolicy,
    options: {
      signal?: AbortSignal;
      onProgress?: (p: MigrationProgress) => void;
      measureSeconds?: number;
    } = {},
  ): Promise<MigrationRecord> {
    // Waits for silent hosts are as bounded as in production, only shorter.
    return place(pool, req, p, { ...options, silentHostWaitMs: 8000 }).then(
      (r) => r.record,
      (err: unknown) => {
        if (err instanceof MigrationError) return err.record;
        throw err;
      },
    );
  }

  for (const c of CASES) {
    it(`${c.mode}, ${c.phase}: ${c.fault}`, async () => {
      const g = await c.guest(guests, h1);
      const was = snapshot(h1, g);
      const req: PlacementRequest =
        c.target === "scratch pool"
          ? { domain: g.name, host: h1.name, storagePool: "scratch" }
          : {
              domain: g.name,
              host: h2.name,
              ...(g.disk.kind === "file" ? { storagePool: c.pool ?? "local" } : {}),
            };
      if (c.pool === "tiny") await createTinyPool(h2, "tiny", 96);
      const ctx: Ctx = { lab, h1, h2, g, abort: new AbortController() };
      let injected: Promise<void> | undefined;
      const inject = () => (injected ??= c.inject(ctx));
      if (c.phase === "before start") await inject();
      // Timed faults: the shutdown wait starts at once, the measurement within a second.
      const timed = c.phase === "shutdown wait" || c.phase === "plan-time measurement";
      const timer = timed ? setTimeout(() => void inject(), 1500) : undefined;
      const record = await attempt(req, policy(c.policy), {
        measureSeconds: c.measureSeconds,
        signal: ctx.abort.signal,
        onProgress: (p) => {
          if (!injected && inPhase(c.phase, p)) void inject();
        },
      });
      clearTimeout(timer);
      assert.ok(injected, `the fault was never injected: ${record.steps.join("\n")}`);
      await injected;
      const steps = record.steps.join("\n");
      // Without an expectation either end is right: moved, or failed/aborted back on the source.
      if (!c.expect) assert.ok(["succeeded", "failed", "aborted"].includes(record.result), steps);
      const expected = c.expect ?? {
        result: record.result,
        onSource: record.result !== "succeeded",
      };
      assert.equal(record.result, expected.result, `${record.error ?? ""}\n${steps}`);
      if (c.expect?.category) assert.equal(record.errorCategory, c.expect.category, steps);
      if (c.mode === "offline fallback") assert.ok(record.fallbackUsed, steps);
      // A guest that stopped before the move began is moved as what it is then: shut off.
      if (c.phase === "plan-time measurement") assert.equal(record.mode, "offline", steps);
      // Both daemons answer throughout: the engine must see the guest stopped, not wait for them.
      if (c.stopsGuest) assert.doesNotMatch(steps, /waiting for|did not answer/);

      await repairAll();
      if (c.pool === "tiny") await unfillPool(h2, "tiny");
      const expectedHost = expected.onSource ? h1.name : req.host;
      const after = c.stopsGuest
        ? await checkStopped(lab, g, expected.onSource ? h1 : h2)
        : await checkInvariants(lab, g, was, c.live);
      assert.equal(after.host, expectedHost, steps);
      if (bothAnswerAtRollback(c.inject))
        assert.deepEqual(await leftovers(lab, g), [], `the rollback left nothing:\n${steps}`);

      const repaired = Date.now();
      const now = snapshot(
        lab.hosts.find((h) => h.name === after.host)!,
        g,
      );
      // As the provider does: the next run also looks where the last move came from.
      const again = await attempt({ ...req, alsoLookOn: [record.from] }, policy(c.converge ?? {}));
      assert.ok(
        again.result === "succeeded" || again.result === "noop",
        `converging run: ${again.result} ${again.error ?? ""}\n${again.steps.join("\n")}`,
      );
      // A stopped guest moves offline and stays stopped: the engine starts only what ran.
      const final = c.stopsGuest
        ? await checkStopped(
            lab,
            g,
            lab.hosts.find((h) => h.name === req.host)!,
          )
        : await checkInvariants(lab, g, now, !c.converge?.allowOfflineFallback);
      assert.equal(final.host, req.host);
      if (c.target === "scratch pool") assert.match(await diskPath(g), /pools\/scratch\//);
      const left = await leftovers(lab, g);
      assert.deepEqual(left, [], "nothing left over on any host");
      recordFault({
        fault: c.fault,
        mode: c.mode,
        phase: c.phase,
        result: `${record.result}${record.errorCategory ? ` (${record.errorCategory})` : ""}`,
        ranOn: c.stopsGuest ? `nowhere (shut off on ${after.host})` : `${after.host} only`,
        heartbeat: after.heartbeat,
        checksum: after.checksum,
        state: "engine record",
        leftovers: "none after converge",
        convergeSeconds: Math.round((Date.now() - repaired) / 100) / 10,
      });
    });
  }

  const diskPath = (g: TestGuest) => virsh(h1, "domblklist", g.name);
});
