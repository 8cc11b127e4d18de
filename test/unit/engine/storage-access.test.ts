// What the target is asked before a VM on Ceph runs there (pure parts): one check per cluster,
// Ceph pool and user the disks (or a pool a disk is copied into) use; the probe pool's XML with
// short librados timeouts; a refused key told apart from monitors out of reach.
import assert from "node:assert/strict";
import {
  describeProbeFailure,
  probePoolXml,
  rbdAccessNeeds,
  rbdPoolNeeds,
} from "../../../provider/src/engine/storage-access";
import { makeDisk, makeHost, makeNetworkDisk, makePool } from "./fixtures";

const auth = { username: "libvirt", secretUuid: "2c1a5d3e-6f4b-4c1e-9a7d-5b0e8f3c7a21" };
const mon = [{ name: "10.0.0.2", port: 6789 }];
const rbd = (name: string, target: string) =>
  makeNetworkDisk({ target, network: { protocol: "rbd", name, hosts: mon, auth } });

describe("storage access (pure parts)", () => {
  it("checks each cluster, Ceph pool and user once, for every disk that uses it", () => {
    const needs = rbdAccessNeeds([
      rbd("rbd/a.raw", "vda"),
      makeDisk({ target: "vdb" }),
      rbd("rbd/b.raw", "vdc"),
      rbd("volumes/c.raw", "vdd"),
    ]);
    assert.deepEqual(
      needs.map((n) => [n.cephPool, n.disks]),
      [
        ["rbd", ["vda", "vdc"]],
        ["volumes", ["vdd"]],
      ],
    );
  });

  it("adds the rbd pool a disk is copied into, unless a disk already needs the same", () => {
    const target = makeHost("h2", {
      pools: {
        local: makePool("local"),
        ceph: makePool("ceph", {
          type: "rbd",
          path: undefined,
          rbd: { monitors: mon, cephPool: "rbd", auth },
        }),
      },
    });
    const fresh = rbdPoolNeeds({ diskPools: { vda: "ceph" } }, target, []);
    assert.deepEqual(fresh, [{ monitors: mon, cephPool: "rbd", auth, disks: [], pool: "ceph" }]);
    const already = rbdAccessNeeds([rbd("rbd/a.raw", "vdb")]);
    assert.deepEqual(rbdPoolNeeds({ storagePool: "ceph" }, target, already), []);
    assert.deepEqual(rbdPoolNeeds({ storagePool: "local" }, target, []), []);
  });

  it("probes with a transient rbd pool over the disk's monitors, Ceph pool and secret, 5 s timeouts", () => {
    const xml = probePoolXml(rbdAccessNeeds([rbd("rbd/a.raw", "vda")])[0]);
    assert.match(
      xml,
      /^<pool type="rbd" xmlns:rbd="http:\/\/libvirt\.org\/schemas\/storagepool\/rbd\/1\.0">/,
    );
    assert.match(xml, /<name>vmp-probe-[0-9a-f]{8}<\/name>/);
    assert.match(
      xml,
      /<source><host name="10\.0\.0\.2" port="6789"\/><name>rbd<\/name><auth type="ceph" username="libvirt"><secret uuid="2c1a5d3e-6f4b-4c1e-9a7d-5b0e8f3c7a21"\/><\/auth><\/source>/,
    );
    for (const option of ["client_mount_timeout", "rados_mon_op_timeout", "rados_osd_op_timeout"])
      assert.match(xml, new RegExp(`<rbd:option name="${option}" value="5"/>`));
  });

  it("tells a refused key from monitors out of reach, keeping libvirt's words", () => {
    const need = rbdAccessNeeds([rbd("rbd/a.raw", "vda")])[0];
    const refused = describeProbeFailure(
      new Error("failed to connect to the RADOS server: Permission denied"),
      need,
      "h3",
    );
    assert.equal(refused.code, "CEPH_KEY_REFUSED");
    assert.match(
      refused.message,
      /refuses h3's key for client\.libvirt .*libvirt said: failed to connect to the RADOS server: Permission denied$/,
    );
    const unreachable = describeProbeFailure(
      new Error(
        "failed to connect to the RADOS monitor on: 10.0.0.2:6789,: No such file or directory",
      ),
      need,
      "h3",
    );
    assert.equal(unreachable.code, "CEPH_UNREACHABLE");
    assert.match(
      unreachable.message,
      /^h3 cannot reach the Ceph monitors 10\.0\.0\.2:6789 of disk vda \(Ceph pool 'rbd'\) within 5 s/,
    );
  });
});
