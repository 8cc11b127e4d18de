// Storage pool XML: the pool's type, its directory, and an identity of the storage behind it
// that is equal on every host reaching the same shared storage.
import {
  authFromXml,
  describeStorage,
  hostList,
  normalizePath,
  type RbdPoolSource,
  type SharedStorageIdentity,
} from "./storage-identity";
import { buildXml, element, objectReader, textElement } from "./xml";

const readPoolXml = objectReader();

export type { RbdPoolSource };

export interface ParsedPool {
  name: string;
  type: string;
  path?: string;
  /** Shared storage: what it is (see storage-identity.ts), and that in words. */
  sharedStorage?: SharedStorageIdentity;
  sharedStorageKey?: string;
  /** An rbd pool's monitors, Ceph pool and cephx credentials: what a disk in it is opened with. */
  rbd?: RbdPoolSource;
}

type Node = Record<string, unknown>;
const asArray = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];
const attr = (n: unknown, name: string): string | undefined =>
  n && typeof n === "object" ? ((n as Node)[`@_${name}`] as string | undefined) : undefined;
const text = (n: unknown): string | undefined =>
  typeof n === "string" ? n : typeof n === "number" ? String(n) : undefined;

function sourceHosts(source: Node): Array<{ name: string; port?: number }> {
  return asArray(source.host as Node | Node[] | undefined).map((h) => {
    const port = attr(h, "port");
    return {
      name: attr(h, "name") ?? "",
      ...(port && /^\d+$/.test(port) ? { port: Number(port) } : {}),
    };
  });
}

function rbdSource(source: Node): RbdPoolSource {
  const auth = authFromXml(source.auth);
  return {
    monitors: sourceHosts(source),
    cephPool: text(source.name) ?? "",
    ...(auth ? { auth } : {}),
  };
}

/** The identity of a shared pool's storage, from its <source>; undefined for local pools. */
function identity(type: string, source: Node): SharedStorageIdentity | undefined {
  const hosts = sourceHosts(source);
  switch (type) {
    case "rbd":
      return { kind: "rbd", monitors: hostList(hosts, "rbd"), cephPool: text(source.name) ?? "" };
    case "netfs":
      return {
        kind: "netfs",
        servers: hostList(hosts, "netfs"),
        exportPath: normalizePath(attr(source.dir, "path") ?? ""),
        ...(attr(source.format, "type") ? { format: attr(source.format, "type") } : {}),
      };
    case "iscsi":
    case "iscsi-direct":
      return {
        kind: "iscsi",
        iqn: attr(source.device, "path") ?? "",
        portals: hostList(hosts, "iscsi"),
      };
    case "gluster":
      return {
        kind: "gluster",
        servers: hostList(hosts, "gluster"),
        volume: text(source.name) ?? "",
        dir: attr(source.dir, "path") ?? "/",
      };
    case "sheepdog":
    case "vstorage": {
      const where = text(source.name) ?? "";
      return { kind: "other", type, key: `${type}:${hostList(hosts, type).join(",")}:${where}` };
    }
    default:
      return undefined;
  }
}

export function parsePoolXml(xml: string): ParsedPool {
  const pool = readPoolXml(xml, "pool XML").pool as Node;
  const type = attr(pool, "type") ?? "unknown";
  const target = pool.target as Node | undefined;
  const source = (pool.source as Node | undefined) ?? {};
  const path = typeof target?.path === "string" ? target.path : undefined;
  const shared = identity(type, source);
  return {
    name: String(pool.name),
    type,
    path,
    sharedStorage: shared,
    sharedStorageKey: shared && describeStorage(shared),
    ...(type === "rbd" ? { rbd: rbdSource(source) } : {}),
  };
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
