// Storage pool XML: the pool's type, its directory, and an identity of the storage behind it
// that is equal on every host reaching the same shared storage.
import { buildXml, element, objectReader, textElement } from "./xml";

const readPoolXml = objectReader();

/** Pool types whose storage other hosts can reach too. */
const SHARED_TYPES = new Set([
  "netfs",
  "iscsi",
  "iscsi-direct",
  "rbd",
  "gluster",
  "sheepdog",
  "vstorage",
]);

export interface ParsedPool {
  name: string;
  type: string;
  path?: string;
  sharedStorageKey?: string;
}

type Node = Record<string, unknown>;
const asArray = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];
const attr = (n: unknown, name: string): string | undefined =>
  n && typeof n === "object" ? ((n as Node)[`@_${name}`] as string | undefined) : undefined;

export function parsePoolXml(xml: string): ParsedPool {
  const pool = readPoolXml(xml, "pool XML").pool as Node;
  const type = attr(pool, "type") ?? "unknown";
  const target = pool.target as Node | undefined;
  const source = (pool.source as Node | undefined) ?? {};
  const path = typeof target?.path === "string" ? target.path : undefined;
  let sharedStorageKey: string | undefined;
  if (SHARED_TYPES.has(type)) {
    const hosts = asArray(source.host as Node | Node[] | undefined)
      .map((h) => `${attr(h, "name")}${attr(h, "port") ? ":" + attr(h, "port") : ""}`)
      .sort();
    const where =
      attr(source.dir, "path") ??
      attr(source.device, "path") ??
      (typeof source.name === "string" ? source.name : "");
    sharedStorageKey = `${type}:${hosts.join(",")}:${where}`;
  }
  return { name: String(pool.name), type, path, sharedStorageKey };
}

/** A directory pool over `dir` (the engine's transient window onto files libvirt has no API for). */
export function dirPoolXml(name: string, dir: string): string {
  return buildXml([
    element("pool", { type: "dir" }, [
      textElement("name", name),
      element("target", {}, [textElement("path", dir)]),
    ]),
  ]);
}
