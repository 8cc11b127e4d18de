// Pool XML as libvirt prints it: the directory, and one identity for storage every host reaches.
import assert from "node:assert/strict";
import { parsePoolXml } from "../../../provider/src/engine/pool-xml";

describe("pool XML", () => {
  it("reads a directory pool", () => {
    assert.deepEqual(
      parsePoolXml(
        `<pool type='dir'><name>default</name><target><path>/var/lib/libvirt/images</path></target></pool>`,
      ),
      {
        name: "default",
        type: "dir",
        path: "/var/lib/libvirt/images",
        sharedStorage: undefined,
        sharedStorageKey: undefined,
      },
    );
  });

  it("gives shared storage the same key whatever the order of its hosts", () => {
    const rbd = (hosts: string) =>
      parsePoolXml(
        `<pool type='rbd'><name>ceph</name><source><name>rbd</name>${hosts}</source></pool>`,
      );
    const a = rbd(`<host name='m1' port='6789'/><host name='m0' port='6789'/>`);
    const b = rbd(`<host name='m0' port='6789'/><host name='m1' port='6789'/>`);
    assert.equal(a.sharedStorageKey, "Ceph pool 'rbd' at m0:6789, m1:6789");
    assert.deepEqual(b.sharedStorage, a.sharedStorage);
    const nfs = parsePoolXml(
      `<pool type='netfs'><name>nfs</name><source><host name='10.0.0.1'/><dir path='/export'/></source><target><path>/mnt/nfs</path></target></pool>`,
    );
    assert.equal(nfs.sharedStorageKey, "nfs 10.0.0.1:/export");
  });

  it("keeps names and paths as written, even when they look like numbers", () => {
    const pool = parsePoolXml(
      `<pool type='dir'><name>007</name><target><path>1e3</path></target></pool>`,
    );
    assert.equal(pool.name, "007");
    assert.equal(pool.path, "1e3");
  });
});
