// Live migration driven by our client between real lab hosts: peer-to-peer with storage copy,
// the steering knobs, post-copy, aborting, block copy with pivot, and the events around them.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  LibvirtConnection,
  constants as C,
  findLibvirtError,
  type Domain,
  type JobStats,
  type LifecycleEvent,
} from "../../../provider/src/libvirt";
import { loadLab, type LabDescription, type LabHost } from "../../lab/lab";
import {
  buildGuestImage,
  diskContentSha256,
  placeInLocalPool,
  placeInSharedPool,
  readHeartbeats,
  startGuest,
  waitForHeartbeat,
  assertHeartbeatContinues,
  type GuestImage,
} from "../../lab/guests";
import { removeDomainEverywhere, runningDomains, virsh } from "../../lab/virsh";
import { connectTo, type LabTransport } from "./lab-connections";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

for (const transport of ["tcp", "ssh"] as LabTransport[]) {
  describe(`libvirt client over ${transport}: migration`, function () {
    let lab: LabDescription;
    let source: LabHost;
    let target: LabHost;
    let src: LibvirtConnection;
    let dst: LibvirtConnection;
    const cleanups: Array<() => Promise<unknown> | unknown> = [];

    before(async () => {
      lab = loadLab();
      [source, target] = lab.hosts;
      src = await connectTo(lab, source, transport);
      dst = await connectTo(lab, target, transport);
    });
    after(async () => {
      await src?.close();
      await dst?.close();
    });
    afterEach(async () => {
      while (cleanups.length) await cleanups.pop()!();
    });

    function guestName(prefix: string): string {
      const name = `${prefix}-${randomBytes(3).toString("hex")}`;
      cleanups.push(() => removeDomainEverywhere(lab.hosts, name));
      return name;
    }

    function image(kind: "heartbeat" | "churn-fast", sizeMiB = 64, randomMiB = 8): GuestImage {
      const img = buildGuestImage(lab, kind, sizeMiB, randomMiB);
      cleanups.push(() => img.cleanup());
      return img;
    }

    async function localGuest(name: string, img: GuestImage, memoryMiB = 256) {
      const disk = await placeInLocalPool(lab, source, img, `${name}.qcow2`);
      cleanups.push(async () => {
        for (const h of lab.hosts)
          await virsh(h, "vol-delete", "--pool", "local", `${name}.qcow2`).catch(() => undefined);
      });
      await startGuest(lab, source, { name, memoryMiB, disk });
      return disk;
    }

    // Over ssh the calls are the same RPC through another pipe: the storage-copy move (events,
    // long calls) and the abort show that pipe works; the rest runs over tcp only.
    const tcpOnly = (title: string, fn: () => Promise<void>) => {
      if (transport === "tcp") it(title, fn);
    };

    function assertContinues(name: string) {
      assertHeartbeatContinues(source, target, name);
    }

    it("migrates peer-to-peer with storage copy, reports completed job stats and emits events", async () => {
      const name = guestName("mig-copy");
      const img = image("heartbeat");
      const disk = await localGuest(name, img);
      const dom = await src.domains.lookupByName(name);

      const iterations: number[] = [];
      const completed: Array<{ success?: boolean; downtimeMs?: number }> = [];
      const sourceLifecycle: LifecycleEvent[] = [];
      const targetLifecycle: LifecycleEvent[] = [];
      const unsubscribe = [
        await src.events.onMigrationIteration(dom, (e) => iterations.push(e.iteration)),
        await src.events.onJobCompleted(dom, (e) => completed.push(e.stats)),
        await src.events.onLifecycle(dom, (e) => sourceLifecycle.push(e)),
        await dst.events.onLifecycle(
          null,
          (e) => e.domain.name === name && targetLifecycle.push(e),
        ),
      ];
      cleanups.push(() => Promise.all(unsubscribe.map((u) => u().catch(() => undefined))));

      let sawRunningJob = false;
      const migration = src.migration.migrateToUri3(
        dom,
        target.uris.tcp,
        {
          uri: `tcp://${target.migrationAddress}`,
          disksUri: `tcp://${target.migrationAddress}`,
          migrateDisks: ["vda"],
        },
        [
          "VIR_MIGRATE_LIVE",
          "VIR_MIGRATE_PERSIST_DEST",
          "VIR_MIGRATE_UNDEFINE_SOURCE",
          "VIR_MIGRATE_NON_SHARED_DISK",
        ],
      );
      const watching = (async () => {
        for (let i = 0; i < 100 && !sawRunningJob; i++) {
          const stats = await src.domains.jobStats(dom).catch(() => undefined);
          if (stats && (stats.type === "unbounded" || stats.type === "bounded"))
            sawRunningJob = true;
          else await sleep(20);
        }
      })();
      await migration;
      await watching;

      const onTarget = await dst.domains.lookupByName(name);
      const stats = await dst.domains.jobStats(onTarget, { completed: true });
      assert.equal(stats.type, "completed");
      assert.equal(stats.success, true);
      assert.ok(
        stats.downtimeMs !== undefined && stats.downtimeMs >= 0,
        JSON.stringify(stats.raw, (_k, v) => (typeof v === "bigint" ? Number(v) : v)),
      );
      assert.ok((stats.timeElapsedMs ?? 0) > 0);
      assert.ok((stats.memoryTotal ?? 0) >= 256 * 1024 * 1024);
      assert.ok(sawRunningJob, "job statistics were visible while migrating");

      await waitFor("job completed and lifecycle events", async () =>
        completed.length &&
        sourceLifecycle.some((e) => e.event === C.virDomainEventType.VIR_DOMAIN_EVENT_STOPPED) &&
        targetLifecycle.some(
          (e) =>
            e.event === C.virDomainEventType.VIR_DOMAIN_EVENT_RESUMED ||
            e.event === C.virDomainEventType.VIR_DOMAIN_EVENT_STARTED,
        )
          ? true
          : undefined,
      );
      assert.equal(completed[0].success, true);
      const stopped = sourceLifecycle.find(
        (e) => e.event === C.virDomainEventType.VIR_DOMAIN_EVENT_STOPPED,
      )!;
      assert.equal(
        stopped.detail,
        C.virDomainEventStoppedDetailType.VIR_DOMAIN_EVENT_STOPPED_MIGRATED,
      );

      assert.ok(await dst.domains.isPersistent(onTarget));
      assert.equal(
        findLibvirtError(await src.domains.lookupByName(name).catch((e) => e), "VIR_ERR_NO_DOMAIN")
          ?.codeName,
        "VIR_ERR_NO_DOMAIN",
      );
      await waitForHeartbeat(target, name, 1);
      assertContinues(name);
      assert.equal(await diskContentSha256(target, disk, img.sizeBytes), img.sha256);
    });

    tcpOnly(
      "migrates over TLS with parallel compressed streams, auto-converge and rewritten XML",
      async () => {
        const name = guestName("mig-tls");
        const img = image("heartbeat", 16, 2);
        const disk = await placeInSharedPool(lab, img, lab.pools.shared.exports[3]);
        await startGuest(lab, source, { name, memoryMiB: 256, disk });
        const dom = await src.domains.lookupByName(name);
        const xml = await src.domains.xml(dom, C.virDomainXMLFlags.VIR_DOMAIN_XML_MIGRATABLE);
        const described = (text: string) =>
          xml.replace("</name>", `</name>\n  <description>${text}</description>`);

        await src.migration.migrateToUri3(
          dom,
          target.uris.tcp,
          {
            uri: `tcp://${target.migrationAddress}`,
            tlsDestination: target.name,
            parallelConnections: 2,
            compression: ["xbzrle"],
            autoConvergeInitial: 20,
            autoConvergeIncrement: 10,
            bandwidthMibps: 500,
            postcopyBandwidthMibps: 500,
            destinationXml: described("running copy"),
            persistentXml: described("persistent copy"),
          },
          [
            "VIR_MIGRATE_LIVE",
            "VIR_MIGRATE_PERSIST_DEST",
            "VIR_MIGRATE_UNDEFINE_SOURCE",
            "VIR_MIGRATE_TLS",
            "VIR_MIGRATE_PARALLEL",
            "VIR_MIGRATE_COMPRESSED",
            "VIR_MIGRATE_AUTO_CONVERGE",
          ],
        );
        const moved = await dst.domains.lookupByName(name);
        assert.match(await dst.domains.xml(moved), /<description>running copy<\/description>/);
        assert.match(
          await dst.domains.xml(moved, C.virDomainXMLFlags.VIR_DOMAIN_XML_INACTIVE),
          /<description>persistent copy<\/description>/,
        );
        assert.equal((await dst.domains.jobStats(moved, { completed: true })).success, true);
        await waitForHeartbeat(target, name, 1);
        assertContinues(name);
      },
    );

    tcpOnly("sets and reads max downtime and speed", async () => {
      const name = guestName("mig-knobs");
      await localGuest(name, image("heartbeat", 8, 1), 128);
      const dom = await src.domains.lookupByName(name);
      await src.migration.setMaxDowntime(dom, 250);
      assert.equal(await src.migration.getMaxDowntime(dom), 250);
      await src.migration.setMaxSpeed(dom, 40);
      assert.equal(await src.migration.getMaxSpeed(dom), 40);
      await src.migration.setMaxSpeed(dom, 80, { postcopy: true });
      assert.equal(await src.migration.getMaxSpeed(dom, { postcopy: true }), 80);
    });

    async function sharedChurnGuest(name: string, exportIndex: number): Promise<Domain> {
      const img = image("churn-fast", 16, 0);
      const disk = await placeInSharedPool(lab, img, lab.pools.shared.exports[exportIndex]);
      await startGuest(lab, source, { name, memoryMiB: 512, disk });
      return src.domains.lookupByName(name);
    }

    tcpOnly(
      "switches a migration that cannot converge to post-copy, and it completes",
      async () => {
        const name = guestName("mig-postcopy");
        const dom = await sharedChurnGuest(name, 1);
        const iterations: number[] = [];
        const completed: JobStats[] = [];
        const unsubscribe = [
          await src.events.onMigrationIteration(dom, (e) => iterations.push(e.iteration)),
          // After post-copy the target keeps no completed job; the source reports it in this event.
          await src.events.onJobCompleted(dom, (e) => completed.push(e.stats)),
        ];
        cleanups.push(() => Promise.all(unsubscribe.map((u) => u().catch(() => undefined))));

        const migration = src.migration.migrateToUri3(
          dom,
          target.uris.tcp,
          { uri: `tcp://${target.migrationAddress}`, bandwidthMibps: 40 },
          [
            "VIR_MIGRATE_LIVE",
            "VIR_MIGRATE_PERSIST_DEST",
            "VIR_MIGRATE_UNDEFINE_SOURCE",
            "VIR_MIGRATE_POSTCOPY",
          ],
        );
        await waitFor("a second pre-copy iteration", async () =>
          iterations.some((i) => i >= 2) ? true : undefined,
        );
        await src.migration.startPostCopy(dom);
        await migration;

        const stats = await waitFor("the job completed event", async () => completed[0]);
        assert.equal(stats.success, true);
        assert.ok((stats.downtimeMs ?? -1) >= 0);
        assert.deepEqual(await runningDomains(source).then((d) => d.includes(name)), false);
        await waitForHeartbeat(target, name, 1);
        assertContinues(name);
      },
    );

    it("aborts a migration in pre-copy and leaves the domain running on the source", async () => {
      const name = guestName("mig-abort");
      const dom = await sharedChurnGuest(name, 2);
      const migration = src.migration
        .migrateToUri3(
          dom,
          target.uris.tcp,
          { uri: `tcp://${target.migrationAddress}`, bandwidthMibps: 5 },
          ["VIR_MIGRATE_LIVE", "VIR_MIGRATE_PERSIST_DEST"],
        )
        .then(
          () => undefined,
          (e) => e,
        );
      await waitFor("the migration job", async () =>
        (await src.domains.jobStats(dom)).type === "unbounded" ? true : undefined,
      );
      await src.domains.abortJob(dom);
      const err = await migration;
      assert.ok(
        findLibvirtError(err, "VIR_ERR_OPERATION_ABORTED"),
        `migration should fail as aborted: ${String(err)}`,
      );
      assert.equal((await src.domains.state(dom)).state, "running");
      assert.equal((await runningDomains(target)).includes(name), false);
      const before = readHeartbeats(source, name).pop()!;
      await waitForHeartbeat(source, name, before + 3);
    });

    tcpOnly("block-copies a disk within the host and pivots to the copy", async () => {
      const name = guestName("blockcopy");
      const img = image("heartbeat", 16, 4);
      await localGuest(name, img, 128);
      const dom = await src.domains.lookupByName(name);
      const copyPath = `${lab.pools.local.path}/${name}-copy.qcow2`;
      cleanups.push(() => virsh(source, "vol-delete", copyPath).catch(() => undefined));

      await src.domains.blockCopy(
        dom,
        "vda",
        `<disk type='file'><driver type='qcow2'/><source file='${copyPath}'/></disk>`,
        [],
        C.virDomainBlockCopyFlags.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB,
      );
      await waitFor("the copy to reach the mirror phase", async () => {
        const job = await src.domains.blockJobInfo(dom, "vda");
        assert.ok(job, "a block job is running");
        return job.end > 0 && job.cur === job.end ? job : undefined;
      });
      await src.domains.blockJobAbort(
        dom,
        "vda",
        C.virDomainBlockJobAbortFlags.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT,
      );
      await waitFor("the pivot", async () =>
        (await src.domains.blockJobInfo(dom, "vda")) === null ? true : undefined,
      );
      assert.match(await src.domains.xml(dom), new RegExp(`<source file='${copyPath}'`));
      await virsh(source, "pool-refresh", "local");
      assert.equal(
        await diskContentSha256(
          source,
          { kind: "file", pathOnHost: copyPath, format: "qcow2" },
          img.sizeBytes,
        ),
        img.sha256,
      );
      const before = readHeartbeats(source, name).pop()!;
      await waitForHeartbeat(source, name, before + 3);
    });
  });
}
