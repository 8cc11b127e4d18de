// The migration engine on the real lab: every mode, the escalation ladder, rollback,
// cancellation and blockers, with the guest's heartbeat and disk content checked each time.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  MigrationError,
  place,
  planPlacement,
  type ConnectionPool,
  type MigrationProgress,
} from "../../../provider/src/engine";
import type { LabDescription, LabHost } from "../../lab/lab";
import {
  assertHeartbeatContinues,
  diskContentSha256,
  nvramExists,
  readHeartbeats,
  waitForBootCount,
  waitForHeartbeat,
} from "../../lab/guests";
import { definedDomains, runningDomains, virsh, volumeExists } from "../../lab/virsh";
import { labEngine, policy, type GuestFactory } from "./lab-engine";

describe("migration engine on the lab", function () {
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let pool: ConnectionPool;
  let guests: GuestFactory;

  before(() => ({ lab, h1, h2, pool, guests } = labEngine()));
  after(() => pool.closeAll());
  afterEach(() => guests.cleanup());

  async function runsOnlyOn(name: string, host: LabHost): Promise<void> {
    for (const h of lab.hosts) {
      assert.equal(
        (await runningDomains(h)).includes(name),
        h === host,
        `${name} running on ${h.name}`,
      );
    }
  }

  it("moves a guest live with storage copy, verifies it and removes the source volume", async () => {
    const g = await guests.local("eng-copy", h1);
    const progress: MigrationProgress[] = [];
    const { plan, record } = await place(
      pool,
      { domain: g.name, host: h2.name, storagePool: "local" },
      policy(),
      { onProgress: (p) => progress.push(p) },
    );
    assert.equal(plan.mode, "live-copy-all");
    // A running guest counts the memory QEMU holds (balloon.rss), at most what it was given.
    assert.ok(plan.bytes.disks > 0, `disk bytes ${plan.bytes.disks}`);
    assert.ok(
      plan.bytes.memory > 0 && plan.bytes.memory <= 256 * 1024 * 1024,
      `memory bytes ${plan.bytes.memory}`,
    );
    assert.equal(
      plan.forecast?.sources.memory.startsWith("resident"),
      true,
      plan.forecast?.sources.memory,
    );
    assert.equal(record.result, "succeeded");
    assert.equal(record.finalHost, h2.name);
    assert.equal(record.mode, "live-copy-all");
    assert.ok(
      record.downtimeMs !== undefined && record.downtimeMs <= 300,
      `downtime ${record.downtimeMs}`,
    );
    assert.ok((record.bytesMoved ?? 0) > 0);
    await runsOnlyOn(g.name, h2);
    assert.deepEqual((await definedDomains(h1)).includes(g.name), false);
    await waitForHeartbeat(h2, g.name, 1);
    assertHeartbeatContinues(h1, h2, g.name);
    assert.equal(await diskContentSha256(h2, g.disk, g.image.sizeBytes), g.image.sha256);
    assert.equal(
      await volumeExists(h1, "local", `${g.name}.qcow2`),
      false,
      "source volume removed after verification",
    );
  });

  it("copies only the top overlay when the backing chain is already on the target", async () => {
    const g = await guests.overlay("eng-inc", h1, [h1, h2]);
    const { plan, record } = await place(
      pool,
      { domain: g.name, host: h2.name, storagePool: "local" },
      policy(),
    );
    assert.equal(plan.mode, "live-copy-incremental");
    assert.ok(plan.flags.includes("VIR_MIGRATE_NON_SHARED_INC"));
    assert.equal(record.result, "succeeded");
    await runsOnlyOn(g.name, h2);
    await waitForHeartbeat(h2, g.name, 1);
    assertHeartbeatContinues(h1, h2, g.name);
    assert.equal(await diskContentSha256(h2, g.disk, g.image.sizeBytes), g.image.sha256);
  });

  it("moves a guest on shared storage live without copying its disk", async () => {
    const g = await guests.shared("eng-shared", h1, 4);
    const { plan, record } = await place(pool, { domain: g.name, host: h2.name }, policy());
    assert.equal(plan.mode, "live-shared");
    assert.equal(plan.bytes.disks, 0);
    assert.equal(record.result, "succeeded");
    await runsOnlyOn(g.name, h2);
    await waitForHeartbeat(h2, g.name, 1);
    assertHeartbeatContinues(h1, h2, g.name);
    assert.equal(await diskContentSha256(h2, g.disk, g.image.sizeBytes), g.image.sha256);
  });

  it("changes a running guest's pool on the same host with a live block copy", async () => {
    const g = await guests.local("eng-pool", h1, { memoryMiB: 128, sizeMiB: 32 });
    const before = readHeartbeats(h1, g.name).pop()!;
    const { plan, record } = await place(
      pool,
      { domain: g.name, host: h1.name, storagePool: "scratch" },
      policy(),
    );
    assert.equal(plan.mode, "block-copy");
    assert.equal(record.result, "succeeded");
    assert.match(await virsh(h1, "dumpxml", g.name), /pools\/scratch\//);
    assert.match(await virsh(h1, "dumpxml", "--inactive", g.name), /pools\/scratch\//);
    assert.equal(await volumeExists(h1, "local", `${g.name}.qcow2`), false);
    const moved = {
      kind: "file" as const,
      pathOnHost: `${lab.pools.scratch.path}/${g.name}.qcow2`,
      format: "qcow2" as const,
    };
    assert.equal(await diskContentSha256(h1, moved, g.image.sizeBytes), g.image.sha256);
    await waitForHeartbeat(h1, g.name, before + 5);
  });

  it("moves a guest offline when the policy forbids live migration", async () => {
    const g = await guests.local("eng-offline", h1, { memoryMiB: 128, sizeMiB: 32 });
    const { plan, record } = await place(
      pool,
      { domain: g.name, host: h2.name, storagePool: "local" },
      policy({
        allowLive: false,
        allowOfflineFallback: true,
        allowForcedShutdown: true,
        shutdownTimeoutSeconds: 2,
      }),
    );
    assert.equal(plan.mode, "offline");
    assert.equal(record.result, "succeeded");
    assert.equal(record.finalHost, h2.name);
    assert.ok(
      record.steps.some((s) => /forced .* off/.test(s)),
      record.steps.join("\n"),
    );
    await runsOnlyOn(g.name, h2);
    assert.equal((await definedDomains(h1)).includes(g.name), false);
    const moved = {
      kind: "file" as const,
      pathOnHost: `${lab.pools.local.path}/${g.name}.qcow2`,
      format: "qcow2" as const,
    };
    assert.equal(await diskContentSha256(h2, moved, g.image.sizeBytes), g.image.sha256);
    await waitForHeartbeat(h2, g.name, 3);
  });

  const slowLink = {
    bandwidthMibps: 40,
    progressTimeoutSeconds: 3,
    completionTimeoutSecondsPerGib: 10,
    downtimeLadderMs: [300, 400],
  };

  it("forecasts that a churn guest cannot converge at 40 MiB/s and starts post-copy after the first pass", async () => {
    const g = await guests.shared("eng-postcopy", h1, 5, "churn-fast", 512);
    const { plan, record } = await place(pool, { domain: g.name, host: h2.name }, policy(slowLink));
    assert.equal(plan.forecast.verdict, "needs-post-copy", JSON.stringify(plan.forecast));
    assert.match(plan.forecast.sources.dirtyRate, /measured over 1 s/);
    assert.equal(record.result, "succeeded");
    assert.equal(record.postCopy, true, record.steps.join("\n"));
    assert.ok(
      record.steps.some((s) => /switched to post-copy \(the forecast said/.test(s)),
      record.steps.join("\n"),
    );
    // Straight to post-copy: no waiting out the downtime ladder.
    assert.ok(!record.steps.some((s) => /raised max downtime/.test(s)), record.steps.join("\n"));
    assert.deepEqual(record.forecast, plan.forecast);
    await runsOnlyOn(g.name, h2);
    await waitForHeartbeat(h2, g.name, 1);
    assertHeartbeatContinues(h1, h2, g.name);
  });

  it("switches a churn guest the plan did not measure to post-copy from the live statistics", async () => {
    const g = await guests.shared("eng-livestats", h1, 3, "churn-fast", 512);
    const { plan, record } = await place(
      pool,
      { domain: g.name, host: h2.name },
      policy(slowLink),
      {
        measureSeconds: 0,
      },
    );
    assert.equal(plan.forecast.verdict, "converges", "unmeasured, the dirty rate is taken as 0");
    assert.equal(record.result, "succeeded");
    assert.equal(record.postCopy, true, record.steps.join("\n"));
    assert.ok(
      record.steps.some((s) => /switched to post-copy \(live statistics in pass \d+/.test(s)),
      record.steps.join("\n"),
    );
    await runsOnlyOn(g.name, h2);
    await waitForHeartbeat(h2, g.name, 1);
    assertHeartbeatContinues(h1, h2, g.name);
  });

  it("falls back to an offline move when post-copy is forbidden", async () => {
    const g = await guests.shared("eng-fallback", h1, 6, "churn-fast", 512);
    const { record } = await place(
      pool,
      { domain: g.name, host: h2.name },
      policy({
        ...slowLink,
        allowPostCopy: false,
        allowOfflineFallback: true,
        allowForcedShutdown: true,
        shutdownTimeoutSeconds: 2,
      }),
    );
    assert.equal(record.result, "succeeded");
    assert.equal(record.fallbackUsed, true);
    assert.equal(record.mode, "offline");
    await runsOnlyOn(g.name, h2);
    await waitForHeartbeat(h2, g.name, 3);
  });

  it("aborts cleanly, leaving the guest running on the source, when post-copy and fallback are forbidden", async () => {
    const g = await guests.shared("eng-abort", h1, 7, "churn-fast", 512);
    const err = await place(
      pool,
      { domain: g.name, host: h2.name },
      policy({ ...slowLink, allowPostCopy: false }),
    ).catch((e) => e);
    assert.ok(err instanceof MigrationError, String(err));
    assert.equal(err.code, "VMP_MIGRATION_ABORTED");
    assert.match(err.message, /did not converge .* keeps running on h1/);
    assert.equal(err.record.result, "aborted");
    assert.equal(err.record.finalHost, h1.name);
    await runsOnlyOn(g.name, h1);
    assert.equal((await definedDomains(h2)).includes(g.name), false);
    const last = readHeartbeats(h1, g.name).pop()!;
    await waitForHeartbeat(h1, g.name, last + 3);
  });

  it("cancels a migration in pre-copy: the guest stays on the source and target volumes are removed", async () => {
    const g = await guests.local("eng-cancel", h1, { memoryMiB: 512 });
    const controller = new AbortController();
    const err = await place(
      pool,
      { domain: g.name, host: h2.name, storagePool: "local" },
      policy({ bandwidthMibps: 5 }),
      {
        signal: controller.signal,
        onProgress: () => controller.abort(),
      },
    ).catch((e) => e);
    assert.ok(err instanceof MigrationError, String(err));
    assert.equal(err.code, "VMP_MIGRATION_CANCELLED");
    assert.equal(err.record.finalHost, h1.name);
    await runsOnlyOn(g.name, h1);
    assert.equal(
      await volumeExists(h2, "local", `${g.name}.qcow2`),
      false,
      "target volume removed",
    );
    assert.equal(await diskContentSha256(h1, g.disk, g.image.sizeBytes), g.image.sha256);
    const last = readHeartbeats(h1, g.name).pop()!;
    await waitForHeartbeat(h1, g.name, last + 3);
  });

  it("moves a UEFI guest live and back offline, its NVRAM going with it both ways", async () => {
    const g = await guests.uefi("eng-uefi", h1);
    await waitForBootCount(h1, g.name, 1);
    const { record } = await place(
      pool,
      { domain: g.name, host: h2.name, storagePool: "local" },
      policy(),
    );
    assert.equal(record.result, "succeeded");
    await runsOnlyOn(g.name, h2);
    await waitForHeartbeat(h2, g.name, 1);
    assertHeartbeatContinues(h1, h2, g.name);
    assert.equal(nvramExists(h1, g.name), false, "no NVRAM file left on the source");
    // Offline back to h1, which has no NVRAM file of it any more: the copy must bring the boot
    // count the guest kept (a firmware template would start it from zero again).
    const back = await place(
      pool,
      { domain: g.name, host: h1.name, storagePool: "local" },
      policy({
        allowLive: false,
        allowOfflineFallback: true,
        allowForcedShutdown: true,
        shutdownTimeoutSeconds: 1,
      }),
    );
    assert.equal(back.record.result, "succeeded", back.record.steps.join("\n"));
    assert.match(back.record.steps.join("\n"), /copied the NVRAM/);
    await runsOnlyOn(g.name, h1);
    await waitForBootCount(h1, g.name, 2);
    assert.equal(nvramExists(h2, g.name), false, "no NVRAM file left on h2");
  });

  it("rolls a cancelled UEFI move back without leaving an NVRAM file on the target", async () => {
    const g = await guests.uefi("eng-uefi-rb", h1);
    await waitForBootCount(h1, g.name, 1);
    const abort = new AbortController();
    const err = await place(
      pool,
      { domain: g.name, host: h2.name, storagePool: "local" },
      policy({ bandwidthMibps: 1, allowPostCopy: false }),
      {
        signal: abort.signal,
        onProgress: (p) => {
          if (p.diskProcessed > 0 && nvramExists(h2, g.name)) abort.abort();
        },
      },
    ).catch((e: unknown) => e);
    assert.ok(err instanceof MigrationError, String(err));
    assert.equal(err.record.result, "cancelled");
    await runsOnlyOn(g.name, h1);
    assert.ok(nvramExists(h1, g.name), "the source keeps its NVRAM");
    assert.equal(nvramExists(h2, g.name), false, "no NVRAM file left on the target");
    assert.equal(await volumeExists(h2, "local", `${g.name}.qcow2`), false);
    assert.deepEqual(await definedDomains(h2).then((d) => d.includes(g.name)), false);
  });

  it("finds blockers before anything changes", async () => {
    const g = await guests.local("eng-block", h1, { memoryMiB: 128, sizeMiB: 16 });
    const missingPool = await planPlacement(
      pool,
      { domain: g.name, host: h2.name, storagePool: "nope" },
      policy(),
    );
    assert.deepEqual(
      missingPool.plan.blockers.map((b) => b.code),
      ["POOL_MISSING"],
    );
    assert.match(missingPool.plan.blockers[0].message, /pool 'nope' does not exist on host h2/);
    const err = await place(
      pool,
      { domain: g.name, host: h2.name, storagePool: "nope" },
      policy(),
    ).catch((e) => e);
    assert.equal(err.code, "VMP_PLAN_BLOCKED");
    const unknown = await planPlacement(pool, { domain: "no-such-vm", host: h2.name }, policy());
    assert.equal(unknown.plan.blockers[0].code, "DOMAIN_NOT_FOUND");
    const noHost = await planPlacement(pool, { domain: g.name, host: "h99" }, policy());
    assert.equal(noHost.plan.blockers[0].code, "HOST_UNKNOWN");
    await runsOnlyOn(g.name, h1);
    assert.equal(await volumeExists(h2, "local", `${g.name}.qcow2`), false);
  });

  it("refuses a domain defined on two hosts, naming both, and touches neither", async () => {
    const g = await guests.local("eng-twice", h1, { memoryMiB: 128, sizeMiB: 16 });
    // The same definition on h2 as well (shut off there): two copies of one VM.
    const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-twice-"));
    try {
      const file = path.join(dir, "domain.xml");
      writeFileSync(file, await virsh(h1, "dumpxml", "--inactive", g.name));
      await virsh(h2, "define", file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const { plan } = await planPlacement(
      pool,
      { domain: g.name, host: h2.name, storagePool: "local" },
      policy(),
    );
    assert.deepEqual(
      plan.blockers.map((b) => b.code),
      ["DEFINED_ON_SEVERAL_HOSTS"],
    );
    assert.match(plan.blockers[0].message, /h1 \(running\), h2 \(defined, shut off\)/);
    const err = await place(
      pool,
      { domain: g.name, host: h2.name, storagePool: "local" },
      policy(),
    ).catch((e) => e);
    assert.equal(err.code, "VMP_PLAN_BLOCKED");
    await runsOnlyOn(g.name, h1);
    assert.ok((await definedDomains(h2)).includes(g.name), "the copy on h2 is left alone");
  });

  it("refuses to move a guest to a host without enough free memory", async () => {
    const free = await (await pool.get(h2.name)).host.freeMemory();
    const memoryMiB = Math.ceil(free / 1024 / 1024) + 512;
    const g = await guests.local("eng-mem", h1, { memoryMiB, sizeMiB: 16 });
    const { plan } = await planPlacement(
      pool,
      { domain: g.name, host: h2.name, storagePool: "local" },
      policy(),
    );
    assert.deepEqual(
      plan.blockers.map((b) => b.code),
      ["INSUFFICIENT_MEMORY"],
    );
    assert.match(plan.blockers[0].message, /host h2 has \d+ MiB free/);
  });
});
