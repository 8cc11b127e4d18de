// Shared storage is told apart by what it is, never by a pool's name: the identity each kind of
// pool XML gives (from real pool-dumpxml texts, fixtures/pools), and the table of what counts as
// the same storage: Ceph cluster (fsid, else overlapping monitors), Ceph pool and namespace; NFS
// server and export; iSCSI target IQN.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parsePoolXml } from "../../../provider/src/engine/pool-xml";
import {
  rbdDiskIdentity,
  sameStorage,
  storageDifference,
  type SharedStorageIdentity,
} from "../../../provider/src/engine/storage-identity";

const FIXTURES = path.resolve(__dirname, "../../../../test/unit/engine/fixtures/pools");
const pool = (file: string) => parsePoolXml(readFileSync(path.join(FIXTURES, file), "utf8"));

describe("storage identity", () => {
  it("reads an rbd pool: monitors, Ceph pool, and the cephx user and secret disks in it use", () => {
    const lab = pool("rbd-lab.xml");
    assert.deepEqual(lab.sharedStorage, {
      kind: "rbd",
      monitors: ["10.254.77.2:6789"],
      cephPool: "rbd",
    });
    assert.deepEqual(lab.rbd, {
      monitors: [{ name: "10.254.77.2", port: 6789 }],
      cephPool: "rbd",
      auth: { username: "libvirt", secretUuid: "2c1a5d3e-6f4b-4c1e-9a7d-5b0e8f3c7a21" },
    });
    // libvirt's rbd config_opts (its own timeouts) do not change what the storage is.
    assert.deepEqual(pool("rbd-configopts.xml").sharedStorage, {
      kind: "rbd",
      monitors: ["localhost:6789", "localhost:6790"],
      cephPool: "rbd",
    });
  });

  it("reads netfs as server and export, iSCSI as the target's IQN", () => {
    assert.deepEqual(pool("netfs.xml").sharedStorage, {
      kind: "netfs",
      servers: ["localhost"],
      exportPath: "/var/lib/libvirt/images",
      format: "nfs",
    });
    assert.deepEqual(pool("iscsi.xml").sharedStorage, {
      kind: "iscsi",
      iqn: "demo-target",
      portals: ["iscsi.example.com:3260"],
    });
    assert.deepEqual(pool("iscsi-direct-auth.xml").sharedStorage, {
      kind: "iscsi",
      iqn: "iqn.2013-06.com.example:iscsi-pool",
      portals: ["iscsi.example.com:3260"],
    });
  });

  const rbd = (monitors: string[], cephPool = "rbd", extra = {}): SharedStorageIdentity => ({
    kind: "rbd",
    monitors,
    cephPool,
    ...extra,
  });
  const nfs = (server: string, exportPath: string): SharedStorageIdentity => ({
    kind: "netfs",
    servers: [server],
    exportPath,
  });
  const iscsi = (iqn: string, portal: string): SharedStorageIdentity => ({
    kind: "iscsi",
    iqn,
    portals: [portal],
  });
  const table: Array<[string, SharedStorageIdentity, SharedStorageIdentity, RegExp | undefined]> = [
    [
      "one cluster, hosts listing different monitors of it",
      rbd(["m1:6789", "m2:6789"]),
      rbd(["m2:6789", "m3:6789"]),
      undefined,
    ],
    [
      "disjoint monitors: another cluster",
      rbd(["m1:6789"]),
      rbd(["x1:6789"]),
      /^another Ceph cluster \(monitors m1:6789 vs x1:6789\)$/,
    ],
    [
      "same monitors, another Ceph pool",
      rbd(["m1:6789"]),
      rbd(["m1:6789"], "volumes"),
      /^Ceph pool 'rbd' vs 'volumes'$/,
    ],
    [
      "another RADOS namespace",
      rbd(["m1:6789"], "rbd", { namespace: "a" }),
      rbd(["m1:6789"]),
      /^RADOS namespace 'a' vs ''$/,
    ],
    [
      "the fsid decides when both know it",
      rbd(["m1:6789"], "rbd", { fsid: "f1" }),
      rbd(["x1:6789"], "rbd", { fsid: "f1" }),
      undefined,
    ],
    [
      "fsids differ, monitors shared",
      rbd(["m1:6789"], "rbd", { fsid: "f1" }),
      rbd(["m1:6789"], "rbd", { fsid: "f2" }),
      /^another Ceph cluster \(fsid f1 vs f2\)$/,
    ],
    ["NFS: same server and export", nfs("nfs1", "/export"), nfs("nfs1", "/export"), undefined],
    [
      "NFS: another export",
      nfs("nfs1", "/export"),
      nfs("nfs1", "/other"),
      /^export '\/export' vs '\/other'$/,
    ],
    [
      "NFS: another server",
      nfs("nfs1", "/export"),
      nfs("nfs2", "/export"),
      /^another NFS server \(nfs1 vs nfs2\)$/,
    ],
    [
      "iSCSI: one target through another portal",
      iscsi("iqn.a", "p1:3260"),
      iscsi("iqn.a", "p2:3260"),
      undefined,
    ],
    [
      "iSCSI: another target",
      iscsi("iqn.a", "p1:3260"),
      iscsi("iqn.b", "p1:3260"),
      /^iSCSI target iqn\.a vs iqn\.b$/,
    ],
    [
      "different kinds",
      nfs("nfs1", "/export"),
      iscsi("iqn.a", "p1:3260"),
      /^nfs nfs1:\/export vs iSCSI iqn\.a$/,
    ],
  ];
  for (const [why, a, b, difference] of table)
    it(`${why}: ${difference ? "other storage" : "the same storage"}`, () => {
      const said = storageDifference(a, b);
      if (difference) assert.match(said ?? "", difference);
      else assert.equal(said, undefined);
      assert.equal(sameStorage(a, b), !difference);
      assert.equal(sameStorage(b, a), !difference, "symmetric");
    });

  it("normalizes what the XML may write differently: trailing slashes, host case, default ports", () => {
    const a = parsePoolXml(
      `<pool type='netfs'><name>a</name><source><host name='NFS1'/><dir path='/export/'/></source><target><path>/mnt/a</path></target></pool>`,
    );
    const b = parsePoolXml(
      `<pool type='netfs'><name>b</name><source><host name='nfs1'/><dir path='/export'/></source><target><path>/mnt/b</path></target></pool>`,
    );
    assert.ok(sameStorage(a.sharedStorage, b.sharedStorage));
    const c = parsePoolXml(
      `<pool type='rbd'><name>c</name><source><host name='M1'/><name>rbd</name></source></pool>`,
    );
    assert.deepEqual(c.sharedStorage, { kind: "rbd", monitors: ["m1:6789"], cephPool: "rbd" });
  });

  it("gives an RBD network disk the identity of the pool its image is in", () => {
    const disk = {
      protocol: "rbd",
      name: "rbd/web.raw",
      hosts: [{ name: "10.254.77.2", port: 6789 }],
    };
    assert.ok(sameStorage(rbdDiskIdentity(disk), pool("rbd-lab.xml").sharedStorage));
    assert.deepEqual(rbdDiskIdentity({ ...disk, name: "rbd/tenant-a/web.raw" }), {
      kind: "rbd",
      monitors: ["10.254.77.2:6789"],
      cephPool: "rbd",
      namespace: "tenant-a",
    });
    assert.equal(rbdDiskIdentity({ ...disk, protocol: "nbd" }), undefined);
  });
});
