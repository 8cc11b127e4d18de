// Lab smoke tests: plain `virsh migrate` between two real lab hosts, proving the lab is fit
// for live migration both with storage copy (local pools) and on shared storage.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { LabDescription, LabHost } from "../../lab/lab";
import { loadLab } from "../../lab/lab";
import type { GuestDisk, GuestImage } from "../../lab/guests";
import {
  buildGuestImage,
  diskContentSha256,
  placeInLocalPool,
  placeInSharedPool,
  readHeartbeats,
  startGuest,
  waitForHeartbeat,
} from "../../lab/guests";
import {
  completedMigrationStats,
  definedDomains,
  removeDomainEverywhere,
  runningDomains,
  virsh,
} from "../../lab/virsh";

describe("lab: virsh live migration between hosts", function () {
  let lab: LabDescription;
  let source: LabHost;
  let target: LabHost;
  const cleanups: Array<() => Promise<void> | void> = [];

  before(() => {
    lab = loadLab();
    assert.ok(lab.hosts.length >= 2, "the lab needs at least two hosts");
    [source, target] = lab.hosts;
  });

  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function migrateAndVerify(
    name: string,
    image: GuestImage,
    disk: GuestDisk,
    copyStorage: boolean,
  ) {
    cleanups.push(() => removeDomainEverywhere(lab.hosts, name));
    await startGuest(lab, source, { name, memoryMiB: 256, disk });
    const beforeMigration = await waitForHeartbeat(source, name, 5);

    const started = Date.now();
    await virsh(
      source,
      "migrate",
      "--live",
      "--p2p",
      "--persistent",
      "--undefinesource",
      ...(copyStorage
        ? ["--copy-storage-all", "--disks-uri", `tcp://${target.migrationAddress}`]
        : []),
      "--migrateuri",
      `tcp://${target.migrationAddress}`,
      name,
      target.uris.tcp,
    );
    const wallMs = Date.now() - started;
    const stats = await completedMigrationStats(target, name);

    // Continuity: the target's first counter follows the source's last one, and keeps counting.
    const onSource = readHeartbeats(source, name);
    const lastOnSource = onSource[onSource.length - 1];
    assert.ok(lastOnSource >= beforeMigration);
    await waitForHeartbeat(target, name, lastOnSource + 5);
    const firstOnTarget = readHeartbeats(target, name)[0];
    assert.ok(
      firstOnTarget > lastOnSource && firstOnTarget - lastOnSource <= 3,
      `heartbeat must continue: last on source ${lastOnSource}, first on target ${firstOnTarget}`,
    );

    // Exactly one host runs it, and only the target still defines it.
    for (const host of lab.hosts) {
      const running = (await runningDomains(host)).includes(name);
      const defined = (await definedDomains(host)).includes(name);
      assert.equal(running, host === target, `${name} running on ${host.name}`);
      assert.equal(defined, host === target, `${name} defined on ${host.name}`);
    }

    assert.equal(
      await diskContentSha256(target, disk, image.sizeBytes),
      image.sha256,
      "disk content on the target equals the source",
    );
    console.log(
      `      virsh migrate ${copyStorage ? "--copy-storage-all" : "(shared storage)"}: ` +
        `wall ${wallMs} ms, job ${stats.elapsedMs} ms, downtime ${stats.downtimeMs} ms`,
    );
  }

  it("migrates a heartbeat guest with storage copy from the local pool", async function () {
    const name = `smoke-copy-${randomBytes(3).toString("hex")}`;
    const image = buildGuestImage(lab, "heartbeat");
    cleanups.push(() => image.cleanup());
    const disk = await placeInLocalPool(lab, source, image, `${name}.qcow2`);
    cleanups.push(async () => {
      for (const host of lab.hosts)
        await virsh(host, "vol-delete", "--pool", "local", `${name}.qcow2`).catch(() => undefined);
    });
    await migrateAndVerify(name, image, disk, true);
    assert.equal(
      await diskContentSha256(source, disk, image.sizeBytes),
      image.sha256,
      "the source copy is intact",
    );
  });

  it("migrates a heartbeat guest on the shared pool without copying storage", async function () {
    const name = `smoke-shared-${randomBytes(3).toString("hex")}`;
    const image = buildGuestImage(lab, "heartbeat");
    cleanups.push(() => image.cleanup());
    const disk = await placeInSharedPool(lab, image, lab.pools.shared.exports[0]);
    await migrateAndVerify(name, image, disk, false);
  });
});
