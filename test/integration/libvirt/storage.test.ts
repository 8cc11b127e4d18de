// Storage pools and volumes through our client, with data moved by libvirt streams.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Readable, Writable } from "node:stream";
import { LibvirtConnection, findLibvirtError } from "../../../provider/src/libvirt";
import { loadLab, type LabDescription } from "../../lab/lab";
import { connectTo, type LabTransport } from "./lab-connections";

for (const transport of ["tcp", "ssh"] as LabTransport[]) {
  describe(`libvirt client over ${transport}: storage`, function () {
    let lab: LabDescription;
    let conn: LibvirtConnection;

    before(async () => {
      lab = loadLab();
      conn = await connectTo(lab, lab.hosts[1], transport);
    });
    after(() => conn?.close());

    it("lists, looks up, describes and refreshes pools", async () => {
      const pools = await conn.storage.listPools();
      assert.ok(pools.some((p) => p.name === "local"));
      const pool = await conn.storage.poolByName("local");
      await conn.storage.refreshPool(pool);
      const info = await conn.storage.poolInfo(pool);
      assert.equal(info.state, "running");
      assert.ok(info.capacity > 0 && info.available > 0);
      assert.match(
        await conn.storage.poolXml(pool),
        new RegExp(`<path>${lab.pools.local.path}</path>`),
      );
      const missing = await conn.storage.poolByName("no-such-pool").catch((e) => e);
      assert.ok(findLibvirtError(missing, "VIR_ERR_NO_STORAGE_POOL"), String(missing));
    });

    it("creates a volume, uploads into it, downloads it back unchanged, and deletes it", async function () {
      const pool = await conn.storage.poolByName("local");
      const name = `vol-${transport}-${randomBytes(3).toString("hex")}.raw`;
      const size = 3 * 1024 * 1024 + 4096; // not a multiple of the stream chunk size
      const vol = await conn.storage.createVol(
        pool,
        `<volume><name>${name}</name><capacity unit='bytes'>${size}</capacity><target><format type='raw'/></target></volume>`,
      );
      try {
        const path = `${lab.pools.local.path}/${name}`;
        assert.equal((await conn.storage.volByPath(path)).name, name);
        assert.equal((await conn.storage.volByName(pool, name)).key, vol.key);
        assert.ok((await conn.storage.listVolumes(pool)).some((v) => v.name === name));
        assert.match(await conn.storage.volXml(vol), new RegExp(`<name>${name}</name>`));
        const info = await conn.storage.volInfo(vol);
        assert.equal(info.type, "file");
        assert.equal(info.capacity, size);

        const data = randomBytes(size);
        const upload = await conn.storage.upload(vol, { length: size });
        await pipeline(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), upload.stream);
        await upload.done;

        const download = await conn.storage.download(vol);
        const hash = createHash("sha256");
        let received = 0;
        await pipeline(
          download.stream,
          new Writable({
            write(chunk: Buffer, _enc, cb) {
              received += chunk.length;
              hash.update(chunk);
              // A slow consumer: backpressure must hold the daemon's data, not drop it.
              setImmediate(cb);
            },
          }),
        );
        await download.done;
        assert.equal(received, size);
        assert.equal(hash.digest("hex"), createHash("sha256").update(data).digest("hex"));
      } finally {
        await conn.storage.deleteVol(vol);
      }
      const gone = await conn.storage.volByName(pool, name).catch((e) => e);
      assert.ok(findLibvirtError(gone, "VIR_ERR_NO_STORAGE_VOL"), String(gone));
    });
  });
}
