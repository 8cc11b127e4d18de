// Moves of guests on Ceph RBD through the engine: shared live moves that copy nothing, and
// pool changes into and out of Ceph, with and without a host change.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { place, planPlacement, type ConnectionPool } from "../../../provider/src/engine";
import type { LabDescription, LabHost } from "../../lab/lab";
import {
  assertHeartbeatContinues,
  cephArgs,
  defineCephSecret,
  diskContentSha256,
  type GuestDisk,
} from "../../lab/guests";
import { cutFromMonitors, repairAll } from "../../lab/faults";
import { run } from "../../lab/run";
import { definedDomains, runningDomains, virsh } from "../../lab/virsh";
import { labEngine, policy, type GuestFactory } from "../engine/lab-engine";

describe("engine: guests on Ceph RBD", function () {
  this.timeout(180_000);
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let pool: ConnectionPool;
  let guests: GuestFactory;

  before(() => ({ lab, h1, h2, pool, guests } = labEngine()));
  after(() => pool.closeAll());
  afterEach(async () => {
    await repairAll();
    await restoreSecret(lab.hosts[2]);
    await definePoolOnH3(lab.pools.ceph.cephPool);
    await guests.cleanup();
  });

  /** h3's copy of the client.libvirt secret as the lab made it, or holding `key`. */
  const restoreSecret = (host: LabHost, key?: string) => defineCephSecret(lab, host, key);

  /** h3's rbd pool `ceph` over the Ceph pool `cephPool` (the lab's own is over `rbd`). */
  async function definePoolOnH3(cephPool: string): Promise<void> {
    const { ceph } = lab.pools;
    const h3 = lab.hosts[2];
    const current = await virsh(h3, "pool-dumpxml", ceph.libvirtPool).catch(() => "");
    if (current.includes(`<name>${cephPool}</name>`)) return;
    await virsh(h3, "pool-destroy", ceph.libvirtPool).catch(() => undefined);
    await virsh(h3, "pool-undefine", ceph.libvirtPool).catch(() => undefined);
    const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-pool-"));
    const file = path.join(dir, "pool.xml");
    writeFileSync(
      file,
      `<pool type='rbd'><name>${ceph.libvirtPool}</name><source><host name='${ceph.address}' port='${ceph.port}'/><name>${cephPool}</name><auth type='ceph' username='${ceph.user}'><secret uuid='${ceph.secretUuid}'/></auth></source></pool>`,
    );
    await virsh(h3, "pool-define", file);
    rmSync(dir, { recursive: true, force: true });
    await virsh(h3, "pool-start", ceph.libvirtPool);
    await virsh(h3, "pool-autostart", ceph.libvirtPool);
  }

  /** Plans a move of `g` from h1 to h3; asserts one blocker with `code` and nothing changed. */
  async function blockedOnH3(
    name: string,
    code: string,
    message: RegExp,
    diskPools?: Record<string, string>,
  ): Promise<void> {
    const h3 = lab.hosts[2];
    const req = { domain: name, host: h3.name, ...(diskPools ? { diskPools } : {}) };
    const { plan } = await planPlacement(pool, req, policy());
    assert.deepEqual(
      plan.blockers.map((b) => b.code),
      [code],
      JSON.stringify(plan.blockers),
    );
    assert.match(plan.blockers[0].message, message);
    await assert.rejects(place(pool, req, policy()), new RegExp(code));
    assert.deepEqual(await runningDomains(h1).then((d) => d.includes(name)), true);
    assert.equal((await definedDomains(h3)).includes(name), false);
  }

  it("moves a guest on RBD live to another host without copying its disk", async () => {
    const g = await guests.ceph("rbd-shared", h1);
    const { plan, record } = await place(pool, { domain: g.name, host: h2.name }, policy());
    assert.equal(plan.mode, "live-shared");
    assert.equal(plan.bytes.disks, 0);
    assert.equal(record.result, "succeeded");
    assert.deepEqual(record.disks, [
      `vda: not copied, stays on shared pool 'ceph': rbd/${g.name}.raw on Ceph pool 'rbd' at ${lab.pools.ceph.address}:6789`,
    ]);
    assertHeartbeatContinues(h1, h2, g.name);
    assert.equal(await diskContentSha256(h2, g.disk, g.image.sizeBytes), g.image.sha256);
  });

  const rbdImages = async () =>
    (await run("rbd", [...cephArgs(lab.pools.ceph), "ls", lab.pools.ceph.cephPool])).split("\n");
  const localFile = (name: string, ext = "raw"): GuestDisk => ({
    kind: "file",
    pathOnHost: `${lab.pools.local.path}/${name}.${ext}`,
    format: ext === "raw" ? "raw" : "qcow2",
  });
  const rbdImage = (image: string): GuestDisk => ({
    kind: "rbd",
    ceph: lab.pools.ceph,
    image,
    attach: "network",
  });

  for (const hostChange of [true, false])
    it(`moves a disk out of Ceph into a directory pool${hostChange ? " on another host (live storage copy)" : " on the same host (block copy)"}`, async () => {
      const g = await guests.ceph("rbd-out", h1);
      const to = hostChange ? h2 : h1;
      const { plan, record } = await place(
        pool,
        { domain: g.name, host: to.name, diskPools: { vda: "local" } },
        policy(),
      );
      assert.equal(plan.mode, hostChange ? "live-copy-all" : "block-copy");
      assert.equal(record.result, "succeeded", record.error);
      assert.deepEqual(record.disks, [
        `vda: copied rbd/${g.name}.raw -> local:${lab.pools.local.path}/${g.name}.raw (16.0 MiB)`,
      ]);
      const xml = await virsh(to, "dumpxml", g.name);
      assert.match(xml, /<disk type='file' device='disk'>/);
      assert.doesNotMatch(xml, /<auth /, "a file disk keeps no Ceph credentials");
      assert.equal(
        await diskContentSha256(to, localFile(g.name), g.image.sizeBytes),
        g.image.sha256,
      );
      if (hostChange) assertHeartbeatContinues(h1, h2, g.name);
      assert.ok(!(await rbdImages()).includes(`${g.name}.raw`), "the RBD image is removed");
    });

  for (const hostChange of [true, false])
    it(`moves a disk from a directory pool into Ceph${hostChange ? " on another host (live storage copy)" : " on the same host (block copy)"}`, async () => {
      const g = await guests.local("rbd-in", h1, { sizeMiB: 16, randomMiB: 2 });
      const to = hostChange ? h2 : h1;
      const { plan, record } = await place(
        pool,
        { domain: g.name, host: to.name, diskPools: { vda: lab.pools.ceph.libvirtPool } },
        policy(),
      );
      assert.equal(plan.mode, hostChange ? "live-copy-all" : "block-copy");
      assert.equal(record.result, "succeeded", record.error);
      assert.match(
        record.disks?.[0] ?? "",
        new RegExp(`^vda: copied \\S+/${g.name}\\.qcow2 -> ceph:rbd/${g.name}\\.raw`),
      );
      const xml = await virsh(to, "dumpxml", g.name);
      assert.match(xml, new RegExp(`<source protocol='rbd' name='rbd/${g.name}\\.raw'`));
      assert.match(xml, new RegExp(`<secret type='ceph' uuid='${lab.pools.ceph.secretUuid}'/>`));
      assert.match(xml, /<driver name='qemu' type='raw'/);
      assert.equal(
        await diskContentSha256(to, rbdImage(`${g.name}.raw`), g.image.sizeBytes),
        g.image.sha256,
      );
      if (hostChange) assertHeartbeatContinues(h1, h2, g.name);
    });

  it("moves a VM with one RBD and one local disk: the RBD disk stays, the local one is copied", async () => {
    const g = await guests.ceph("rbd-mixed", h1, { localDisk: true });
    const { plan, record } = await place(
      pool,
      { domain: g.name, host: h2.name, storagePool: "local" },
      policy(),
    );
    assert.equal(plan.mode, "live-copy-all");
    assert.equal(record.result, "succeeded", record.error);
    assert.equal(
      record.disks?.[0],
      `vda: not copied, stays on shared pool 'ceph': rbd/${g.name}.raw on Ceph pool 'rbd' at ${lab.pools.ceph.address}:6789`,
    );
    assert.match(record.disks?.[1] ?? "", /^vdb: copied /);
    assert.equal(plan.disks.find((d) => d.target === "vda")?.bytesToCopy, 0);
    assert.equal(await diskContentSha256(h2, g.disk, g.image.sizeBytes), g.image.sha256);
    assert.equal(
      await diskContentSha256(h2, localFile(`${g.name}.data`, "qcow2"), g.image.sizeBytes),
      g.image.sha256,
    );
    assertHeartbeatContinues(h1, h2, g.name);
  });

  describe("pre-flight blockers on the target, before anything starts", () => {
    it("h3 lacks the secret the disk's <auth> names", async () => {
      const g = await guests.ceph("rbd-nosecret", h1);
      await virsh(lab.hosts[2], "secret-undefine", lab.pools.ceph.secretUuid);
      await blockedOnH3(
        g.name,
        "CEPH_SECRET_MISSING",
        /^h3 has no libvirt secret 2c1a5d3e-6f4b-4c1e-9a7d-5b0e8f3c7a21, which disk vda's <auth> names for client\.libvirt: define it there with the same UUID and the key of client\.libvirt, as on h1/,
      );
    });

    it("h3's secret holds another key", async () => {
      const g = await guests.ceph("rbd-wrongkey", h1);
      await restoreSecret(lab.hosts[2], "AQBMpVNnAAAAABAAd3JvbmdrZXl3cm9uZ2tleXdyb25n");
      await blockedOnH3(
        g.name,
        "CEPH_SECRET_DIFFERS",
        /^h3's libvirt secret 2c1a5d3e-6f4b-4c1e-9a7d-5b0e8f3c7a21 \(client\.libvirt, for disk vda\) holds another key than h1's/,
      );
    });

    it("h3's pool of that name is over another Ceph pool", async () => {
      const g = await guests.ceph("rbd-otherpool", h1);
      await definePoolOnH3(lab.pools.ceph.otherCephPool);
      await blockedOnH3(
        g.name,
        "POOL_IS_OTHER_STORAGE",
        /^pool 'ceph' on h3 is not the storage disk vda is on \(Ceph pool 'rbd' vs 'other'\): define 'ceph' on h3 over Ceph pool 'rbd' at 10\.254\.77\.2:6789, or set disks\.vda to choose where it is copied\.$/,
      );
    });

    it("h3 cannot reach the monitors of the pool a disk is to be copied into", async () => {
      const g = await guests.local("into-nomon", h1, { sizeMiB: 16, randomMiB: 2 });
      await cutFromMonitors(lab.hosts[2], lab.pools.ceph.address);
      await blockedOnH3(
        g.name,
        "CEPH_UNREACHABLE",
        /^h3 cannot reach the Ceph monitors 10\.254\.77\.2:6789 of pool 'ceph' \(a copy into it\) \(Ceph pool 'rbd'\) within 5 s/,
        { vda: lab.pools.ceph.libvirtPool },
      );
    });

    it("h3 cannot reach the monitors", async () => {
      const g = await guests.ceph("rbd-nomon", h1);
      await cutFromMonitors(lab.hosts[2], lab.pools.ceph.address);
      await blockedOnH3(
        g.name,
        "CEPH_UNREACHABLE",
        /^h3 cannot reach the Ceph monitors 10\.254\.77\.2:6789 of disk vda \(Ceph pool 'rbd'\) within 5 s: check its network path to them and its firewall\. libvirt said: /,
      );
    });
  });
});
