// A transport opens one byte stream to a libvirt daemon; the RPC layer knows nothing else of it.
import type { Duplex } from "node:stream";

export interface Transport {
  /** For messages: e.g. "tcp 10.0.0.5:16509". Never contains secrets. */
  readonly description: string;
  connect(options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<Duplex>;
}
