// Object handles as libvirt sends them; UUIDs are 16 raw bytes on the wire.
import type {
  remote_nonnull_domain,
  remote_nonnull_storage_pool,
  remote_nonnull_storage_vol,
} from "../protocol/remote-protocol.gen";

export type Domain = remote_nonnull_domain;
export type StoragePool = remote_nonnull_storage_pool;
export type StorageVol = remote_nonnull_storage_vol;

export function uuidToString(uuid: Buffer): string {
  const h = uuid.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function uuidFromString(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`invalid UUID '${uuid}'`);
  return Buffer.from(hex, "hex");
}
