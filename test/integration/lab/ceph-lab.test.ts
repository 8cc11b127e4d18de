// The lab's Ceph cluster as a KVM host meets it: every host holds the cephx key as a libvirt
// secret and has an rbd pool over the same Ceph pool, and guests boot from RBD network disks and
// from volumes of that pool, with checksums read through librbd.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadLab, labHost } from "../../lab/lab";
import { cephArgs, diskContentSha256, waitForHeartbeat, writeFromQemu } from "../../lab/guests";
import { run } from "../../lab/run";
import { virsh } from "../../lab/virsh";
import { GuestFactory } from "../engine/lab-engine";

describe("lab: Ceph RBD with cephx", function () {
  this.timeout(120_000);
  const lab = loadLab();
  const { ceph } = lab.pools;
  const guests = new GuestFactory(lab);
  after(() => guests.cleanup());

  it("is one healthy cluster: a monitor, a manager and an OSD up, cephx required", async () => {
    const status = JSON.parse(await run("ceph", [...cephArgs(ceph), "status", "-f", "json"]));
    assert.equal(status.fsid, ceph.fsid);
    assert.equal(status.osdmap.num_up_osds, 1);
    assert.equal(status.mgrmap.available, true);
    // cephx is required: a client with a made-up key is refused.
    const wrongKey = path.join(mkdtempSync(path.join(os.tmpdir(), "vmp-key-")), "keyring");
    writeFileSync(
      wrongKey,
      `[client.${ceph.user}]\n\tkey = AQBMpVNnAAAAABAAwrongkeywrongkeywrongk==\n`,
    );
    await assert.rejects(
      run("ceph", [
        "-c",
        ceph.conf,
        "--name",
        `client.${ceph.user}`,
        "--keyring",
        wrongKey,
        "--connect-timeout",
        "5",
        "status",
      ]),
      /Permission denied|authentication|error connecting/i,
    );
  });

  it("gives every host the same secret and an active rbd pool over the Ceph pool", async () => {
    const key = (
      await run("ceph", [...cephArgs(ceph), "auth", "get-key", `client.${ceph.user}`])
    ).trim();
    for (const host of lab.hosts) {
      assert.equal((await virsh(host, "secret-get-value", ceph.secretUuid)).trim(), key, host.name);
      const xml = await virsh(host, "pool-dumpxml", ceph.libvirtPool);
      assert.match(xml, /<pool type='rbd'>/);
      assert.match(xml, new RegExp(`<name>${ceph.cephPool}</name>`));
      assert.match(await virsh(host, "pool-info", ceph.libvirtPool), /State:\s+running/);
    }
  });

  it("boots a guest from an RBD network disk, whose content reads back through librbd", async () => {
    const h1 = labHost(lab, "h1");
    const g = await guests.ceph("rbd-network", h1);
    await waitForHeartbeat(h1, g.name, 3);
    assert.match(await virsh(h1, "dumpxml", g.name), /protocol='rbd'/);
    assert.equal(await diskContentSha256(h1, g.disk, g.image.sizeBytes), g.image.sha256);
  });

  // libvirt 9.0 lists an rbd pool's images as volumes but cannot back a <disk type='volume'>
  // with one: RBD disks are network disks, and the engine relates them to pools by identity.
  it("is refused by libvirt as a volume disk of the rbd pool, with libvirt's own message", async () => {
    await assert.rejects(
      guests.ceph("rbd-volume", labHost(lab, "h1"), { attach: "volume" }),
      /using 'rbd' pools for backing 'volume' disks isn't yet supported/,
    );
  });

  // What storage fencing guards against: RBD's exclusive lock is cooperative. A second QEMU that
  // opens an image a running one holds (here a second domain on h2 over the same image, as a
  // failover after a fence that lied would start) runs, and the first one's writes still land:
  // the lock moves to whoever writes. Nothing in libvirt or librbd stops it.
  it("lets a second QEMU open an image a running one holds; the exclusive lock does not keep the first from writing", async () => {
    const [h1, h2] = lab.hosts;
    const g = await guests.ceph("rbd-twice", h1);
    const twin = guests.name("rbd-twin");
    const xml = (await virsh(h1, "dumpxml", "--inactive", g.name))
      .replace(/<name>[^<]+<\/name>/, `<name>${twin}</name>`)
      .replace(/<uuid>[^<]+<\/uuid>/, "")
      .replace(
        /<source path='[^']*-serial\.log'\/>/,
        `<source path='/var/log/libvirt/qemu/${twin}-serial.log'/>`,
      );
    const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-twin-"));
    writeFileSync(path.join(dir, "twin.xml"), xml);
    await virsh(h2, "define", path.join(dir, "twin.xml"));
    await virsh(h2, "start", twin);
    const image = `${ceph.cephPool}/${g.name}.raw`;
    const watchers = await run("rbd", [...cephArgs(ceph), "status", image]);
    assert.match(watchers, new RegExp(`watcher=${h1.address.replace(/\./g, "\\.")}:`));
    assert.match(watchers, new RegExp(`watcher=${h2.address.replace(/\./g, "\\.")}:`));
    assert.match(await writeFromQemu(h2, twin, 0x11, 4 * 1024 * 1024), /^wrote 4096\/4096 bytes/);
    assert.match(await writeFromQemu(h1, g.name, 0x5a, 4 * 1024 * 1024), /^wrote 4096\/4096 bytes/);
    const locks = await run("rbd", [...cephArgs(ceph), "lock", "ls", image]);
    assert.match(
      locks,
      new RegExp(h1.address.replace(/\./g, "\\.")),
      "the lock moved back to h1's QEMU",
    );
  });
});
