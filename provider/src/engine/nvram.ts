// The NVRAM variable store of a UEFI domain, carried by an offline move to another host. libvirt
// has no call that reads or writes that file, so the engine opens a transient directory pool over
// its directory on each host, streams it like a volume, and destroys the pools at once (the
// files stay). The file lands at the same path, where the domain's definition names it.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { constants as C, isNotFound, type LibvirtConnection, type StoragePool } from "../libvirt";
import { volumeXml } from "./domain-xml";
import { dirPoolXml } from "./pool-xml";
import { copyVolume } from "./volume-copy";

async function withDirPool<T>(
  conn: LibvirtConnection,
  dir: string,
  use: (pool: StoragePool) => Promise<T>,
): Promise<T> {
  const name = `vmplacement-nvram-${randomBytes(4).toString("hex")}`;
  const pool = await conn.storage.createPool(
    dirPoolXml(name, dir),
    C.virStoragePoolCreateFlags.VIR_STORAGE_POOL_CREATE_WITH_BUILD,
  );
  try {
    return await use(pool);
  } finally {
    await conn.storage.destroyPool(pool).catch(() => undefined);
  }
}

/** Copies the source's NVRAM file to the same path on the target; returns its size. */
export function copyNvram(
  src: LibvirtConnection,
  dst: LibvirtConnection,
  nvramPath: string,
  signal?: AbortSignal,
): Promise<number> {
  const dir = path.dirname(nvramPath);
  const file = path.basename(nvramPath);
  return withDirPool(src, dir, (fromPool) =>
    withDirPool(dst, dir, async (toPool) => {
      const from = await src.storage.volByName(fromPool, file);
      const { capacity } = await src.storage.volInfo(from);
      // A file of this name with no domain defined here is what a failed attempt left: replaced.
      const to = await dst.storage
        .volByName(toPool, file)
        .catch(async (err: unknown) =>
          isNotFound(err)
            ? dst.storage.createVol(toPool, volumeXml(file, capacity, "raw"))
            : Promise.reject(err),
        );
      await copyVolume(src, from, dst, to, { signal });
      return capacity;
    }),
  );
}

/** Removes an NVRAM file from a host that holds no definition using it; false if it was absent. */
export function removeNvramFile(conn: LibvirtConnection, nvramPath: string): Promise<boolean> {
  return withDirPool(conn, path.dirname(nvramPath), async (pool) => {
    try {
      await conn.storage.deleteVol(await conn.storage.volByName(pool, path.basename(nvramPath)));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  });
}
