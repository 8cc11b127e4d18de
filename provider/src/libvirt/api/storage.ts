// Storage pools and volumes, including volume upload and download through libvirt streams.
import type { Readable, Writable } from "node:stream";
import type { RemoteProgram } from "../rpc/remote-program";
import type { RpcStream } from "../rpc/stream";
import type { StoragePool, StorageVol } from "./handles";

const POOL_STATES = ["inactive", "building", "running", "degraded", "inaccessible"] as const;
const VOL_TYPES = ["file", "block", "dir", "network", "netdir", "ploop"] as const;

export interface PoolInfo {
  state: (typeof POOL_STATES)[number];
  capacity: number;
  allocation: number;
  available: number;
}

export interface VolInfo {
  type: (typeof VOL_TYPES)[number];
  capacity: number;
  allocation: number;
}

/** A transfer in progress: write to (upload) or read from (download) `stream`; `done` settles at the end. */
export interface VolumeTransfer<S> {
  stream: S;
  done: Promise<void>;
}

export class StorageApi {
  constructor(private readonly remote: RemoteProgram) {}

  async listPools(flags = 0): Promise<StoragePool[]> {
    return (await this.remote.call("CONNECT_LIST_ALL_STORAGE_POOLS", { need_results: 1, flags }))
      .pools;
  }

  async poolByName(name: string): Promise<StoragePool> {
    return (await this.remote.call("STORAGE_POOL_LOOKUP_BY_NAME", { name })).pool;
  }

  async poolXml(pool: StoragePool, flags = 0): Promise<string> {
    return (await this.remote.call("STORAGE_POOL_GET_XML_DESC", { pool, flags })).xml;
  }

  async poolInfo(pool: StoragePool): Promise<PoolInfo> {
    const r = await this.remote.call("STORAGE_POOL_GET_INFO", { pool });
    return {
      state: POOL_STATES[r.state] ?? "inaccessible",
      capacity: Number(r.capacity),
      allocation: Number(r.allocation),
      available: Number(r.available),
    };
  }

  /** Starts a transient pool (gone from libvirt once destroyed; its files stay). */
  async createPool(xml: string, flags = 0): Promise<StoragePool> {
    return (await this.remote.call("STORAGE_POOL_CREATE_XML", { xml, flags })).pool;
  }

  async destroyPool(pool: StoragePool): Promise<void> {
    await this.remote.call("STORAGE_POOL_DESTROY", { pool });
  }

  async refreshPool(pool: StoragePool): Promise<void> {
    await this.remote.call("STORAGE_POOL_REFRESH", { pool, flags: 0 });
  }

  async listVolumes(pool: StoragePool): Promise<StorageVol[]> {
    return (
      await this.remote.call("STORAGE_POOL_LIST_ALL_VOLUMES", { pool, need_results: 1, flags: 0 })
    ).vols;
  }

  async volByPath(path: string): Promise<StorageVol> {
    return (await this.remote.call("STORAGE_VOL_LOOKUP_BY_PATH", { path })).vol;
  }

  async volByName(pool: StoragePool, name: string): Promise<StorageVol> {
    return (await this.remote.call("STORAGE_VOL_LOOKUP_BY_NAME", { pool, name })).vol;
  }

  async volXml(vol: StorageVol): Promise<string> {
    return (await this.remote.call("STORAGE_VOL_GET_XML_DESC", { vol, flags: 0 })).xml;
  }

  async volInfo(vol: StorageVol): Promise<VolInfo> {
    const r = await this.remote.call("STORAGE_VOL_GET_INFO", { vol });
    return {
      type: VOL_TYPES[r.type] ?? "file",
      capacity: Number(r.capacity),
      allocation: Number(r.allocation),
    };
  }

  /** flags from virStorageVolCreateFlags. */
  async createVol(pool: StoragePool, xml: string, flags = 0): Promise<StorageVol> {
    return (await this.remote.call("STORAGE_VOL_CREATE_XML", { pool, xml, flags })).vol;
  }

  async deleteVol(vol: StorageVol, flags = 0): Promise<void> {
    await this.remote.call("STORAGE_VOL_DELETE", { vol, flags });
  }

  /** Uploads into a volume: write the bytes to `stream` and end it; `done` resolves when libvirt has them all. */
  upload(vol: StorageVol, options: TransferOptions = {}): Promise<VolumeTransfer<Writable>> {
    return this.transfer("STORAGE_VOL_UPLOAD", vol, options);
  }

  /** Downloads a volume: read the bytes from `stream`; `done` resolves once libvirt confirmed the end. */
  download(vol: StorageVol, options: TransferOptions = {}): Promise<VolumeTransfer<Readable>> {
    return this.transfer("STORAGE_VOL_DOWNLOAD", vol, options);
  }

  private async transfer(
    proc: "STORAGE_VOL_UPLOAD" | "STORAGE_VOL_DOWNLOAD",
    vol: StorageVol,
    options: TransferOptions,
  ): Promise<VolumeTransfer<RpcStream>> {
    const { reply, stream } = this.remote.callWithStream(proc, {
      vol,
      offset: BigInt(options.offset ?? 0),
      length: BigInt(options.length ?? 0),
      flags: options.flags ?? 0,
    });
    // Listened to from the start: a connection lost before the reply destroys the stream with
    // its error, which must reach the caller, not the process as an unhandled 'error' event.
    const done = streamDone(stream);
    try {
      await reply;
    } catch (err) {
      stream.destroy();
      throw err;
    }
    return { stream, done };
  }
}

/** A byte range of the volume (length 0: to the end); flags from virStorageVol{Upload,Download}Flags. */
export interface TransferOptions {
  offset?: number;
  length?: number;
  flags?: number;
}

/**
 * Settles when the stream closes. A transfer torn down early (an abort) rejects it while the
 * caller may be handling the pipeline's error instead: it never counts as an unhandled rejection,
 * and whoever awaits it still sees the error.
 */
function streamDone(stream: Readable | Writable): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    stream.once("error", reject);
    stream.once("close", () => resolve());
  });
  done.catch(() => undefined);
  return done;
}
