// What shared storage is, whatever a host calls its pool: for Ceph RBD the cluster (its fsid when
// known, else its monitors), Ceph pool and RADOS namespace; for NFS the server and export; for
// iSCSI the target's IQN; for Gluster the servers and volume. Two pools (or a pool and an RBD
// disk) are the same storage only when these agree; a pool's name never decides it. Pure.
/** Where a network disk's data lives, as its <source> and <auth> say. */
export interface NetworkSource {
  protocol: string;
  /** For rbd: "pool/image" or "pool/namespace/image". */
  name: string;
  hosts: Array<{ name: string; port?: number }>;
  /** The credentials QEMU opens it with: a user, and the libvirt secret holding the key. */
  auth?: { username: string; secretUuid?: string; secretUsage?: string };
}

/**
 * The credentials an <auth> element names (of a disk or of a pool's source, as objectReader in
 * ./xml gives it); undefined without a username.
 */
export function authFromXml(auth: unknown): NetworkSource["auth"] {
  if (!auth || typeof auth !== "object" || Array.isArray(auth)) return undefined;
  const node = auth as Record<string, unknown>;
  const username = node["@_username"];
  if (typeof username !== "string") return undefined;
  const secret = node.secret as Record<string, unknown> | undefined;
  const uuid = secret?.["@_uuid"];
  const usage = secret?.["@_usage"];
  return {
    username,
    ...(typeof uuid === "string" && uuid ? { secretUuid: uuid } : {}),
    ...(typeof usage === "string" && usage ? { secretUsage: usage } : {}),
  };
}

/** An rbd pool's monitors, Ceph pool and cephx credentials. */
export interface RbdPoolSource {
  monitors: Array<{ name: string; port?: number }>;
  cephPool: string;
  auth?: NetworkSource["auth"];
}

export type SharedStorageIdentity =
  | {
      kind: "rbd";
      /** host:port, lowercased, sorted (port 6789 when the XML gives none). */
      monitors: string[];
      cephPool: string;
      namespace?: string;
      fsid?: string;
    }
  | { kind: "netfs"; servers: string[]; exportPath: string; format?: string }
  | { kind: "iscsi"; iqn: string; portals: string[] }
  | { kind: "gluster"; servers: string[]; volume: string; dir: string }
  | { kind: "other"; type: string; key: string };

type Host = { name: string; port?: number };

const DEFAULT_PORTS: Record<string, number | undefined> = { rbd: 6789, iscsi: 3260 };

export function hostList(hosts: Host[], kind: string): string[] {
  const port = DEFAULT_PORTS[kind];
  return [
    ...new Set(
      hosts
        .filter((h) => h.name)
        .map((h) => {
          const p = h.port ?? port;
          return p === undefined ? h.name.toLowerCase() : `${h.name.toLowerCase()}:${p}`;
        }),
    ),
  ].sort();
}

/** An export path as written, without trailing slashes ("/" stays "/"). */
export const normalizePath = (p: string) => p.replace(/\/+$/, "") || "/";

/** An RBD network disk's storage: its monitors, and the Ceph pool and namespace of its name. */
export function rbdDiskIdentity(net: NetworkSource): SharedStorageIdentity | undefined {
  if (net.protocol !== "rbd") return undefined;
  const parts = net.name.split("/");
  return {
    kind: "rbd",
    monitors: hostList(net.hosts, "rbd"),
    cephPool: parts[0],
    ...(parts.length > 2 ? { namespace: parts.slice(1, -1).join("/") } : {}),
  };
}

/** The RBD image a network disk names (without Ceph pool and namespace). */
export const rbdImageName = (net: NetworkSource) => net.name.split("/").pop() ?? net.name;

const overlap = (a: string[], b: string[]) => a.some((x) => b.includes(x));

/** Why `a` and `b` are not the same storage, in words; undefined when they are. */
export function storageDifference(
  a: SharedStorageIdentity,
  b: SharedStorageIdentity,
): string | undefined {
  if (a.kind !== b.kind) return `${describeStorage(a)} vs ${describeStorage(b)}`;
  switch (a.kind) {
    case "rbd": {
      const o = b as typeof a;
      // A monitor address serves one cluster; hosts may list different monitors of it.
      const sameCluster = a.fsid && o.fsid ? a.fsid === o.fsid : overlap(a.monitors, o.monitors);
      if (!sameCluster)
        return a.fsid && o.fsid
          ? `another Ceph cluster (fsid ${a.fsid} vs ${o.fsid})`
          : `another Ceph cluster (monitors ${a.monitors.join(", ")} vs ${o.monitors.join(", ")})`;
      if (a.cephPool !== o.cephPool) return `Ceph pool '${a.cephPool}' vs '${o.cephPool}'`;
      if ((a.namespace ?? "") !== (o.namespace ?? ""))
        return `RADOS namespace '${a.namespace ?? ""}' vs '${o.namespace ?? ""}'`;
      return undefined;
    }
    case "netfs": {
      const o = b as typeof a;
      if (!overlap(a.servers, o.servers))
        return `another NFS server (${a.servers.join(", ")} vs ${o.servers.join(", ")})`;
      if (a.exportPath !== o.exportPath) return `export '${a.exportPath}' vs '${o.exportPath}'`;
      return undefined;
    }
    case "iscsi": {
      const o = b as typeof a;
      return a.iqn === o.iqn ? undefined : `iSCSI target ${a.iqn} vs ${o.iqn}`;
    }
    case "gluster": {
      const o = b as typeof a;
      if (!overlap(a.servers, o.servers))
        return `another Gluster cluster (${a.servers.join(", ")} vs ${o.servers.join(", ")})`;
      if (a.volume !== o.volume || normalizePath(a.dir) !== normalizePath(o.dir))
        return `Gluster volume '${a.volume}${a.dir}' vs '${o.volume}${o.dir}'`;
      return undefined;
    }
    case "other": {
      const o = b as typeof a;
      return a.key === o.key ? undefined : `${a.key} vs ${o.key}`;
    }
  }
}

export const sameStorage = (a?: SharedStorageIdentity, b?: SharedStorageIdentity) =>
  !!a && !!b && storageDifference(a, b) === undefined;

export function describeStorage(id: SharedStorageIdentity): string {
  switch (id.kind) {
    case "rbd":
      return `Ceph pool '${id.cephPool}'${id.namespace ? ` namespace '${id.namespace}'` : ""} at ${id.monitors.join(", ")}${id.fsid ? ` (fsid ${id.fsid})` : ""}`;
    case "netfs":
      return `${id.format ?? "nfs"} ${id.servers.join(",")}:${id.exportPath}`;
    case "iscsi":
      return `iSCSI ${id.iqn}`;
    case "gluster":
      return `gluster ${id.servers.join(",")}:${id.volume}${id.dir}`;
    case "other":
      return id.key;
  }
}
