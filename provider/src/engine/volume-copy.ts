// Copies a volume's bytes between hosts through libvirt streams: the offline move's disks and a
// UEFI domain's NVRAM. A cancel or a failure tears both streams down and waits until libvirt has
// the abort, so nothing of the transfer outlives the call, and no stream error escapes it.
import { pipeline } from "node:stream/promises";
import type { Writable } from "node:stream";
import type { LibvirtConnection, StorageVol, VolumeTransfer } from "../libvirt";

export interface CopyOptions {
  signal?: AbortSignal;
  /** Called with the bytes copied so far, at every chunk. */
  onBytes?: (copied: number) => void;
}

/** Returns the bytes copied; throws the pipeline's error (an AbortError on cancel). */
export async function copyVolume(
  src: LibvirtConnection,
  from: StorageVol,
  dst: LibvirtConnection,
  to: StorageVol,
  options: CopyOptions = {},
): Promise<number> {
  const download = await src.storage.download(from);
  let upload: VolumeTransfer<Writable>;
  try {
    upload = await dst.storage.upload(to);
  } catch (err) {
    await tearDown([download]);
    throw err;
  }
  let copied = 0;
  download.stream.on("data", (chunk: Buffer) => {
    copied += chunk.length;
    options.onBytes?.(copied);
  });
  try {
    await pipeline(download.stream, upload.stream, { signal: options.signal });
    await Promise.all([download.done, upload.done]);
  } catch (err) {
    await tearDown([download, upload]);
    throw err;
  }
  return copied;
}

/** Destroys the streams (libvirt is told to drop the transfer) and waits until they closed. */
async function tearDown(transfers: Array<{ stream: { destroy(): unknown }; done: Promise<void> }>) {
  for (const t of transfers) t.stream.destroy();
  await Promise.allSettled(transfers.map((t) => t.done));
}
