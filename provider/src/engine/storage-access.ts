// What a target host must hold before a VM on Ceph RBD may run there: for each cluster, Ceph pool
// and cephx user its disks use, the libvirt secret their <auth> names (with the key the source
// holds) and a working path to the monitors. The last is asked of the target itself: a transient
// rbd pool with the disk's monitors, Ceph pool and secret is started there (libvirt connects the
// way QEMU will) and destroyed at once. Each problem is a blocker naming the host and the fix.
import { randomBytes } from "node:crypto";
import { isNotFound, SECRET_USAGE, type LibvirtConnection, type Secret } from "../libvirt";
import { describeError } from "./errors";
import { buildXml, element, textElement } from "./xml";
import type { Blocker, DiskFacts, HostFacts, NetworkSource } from "./types";

/** How long the probe waits for the monitors (libvirt's own default is 30 s). */
const PROBE_TIMEOUT_SECONDS = 5;

/** One way into a cluster: monitors, Ceph pool and credentials, and the disks that use it. */
export interface RbdAccess {
  monitors: Array<{ name: string; port?: number }>;
  cephPool: string;
  auth?: NetworkSource["auth"];
  disks: string[];
  /** A target pool a disk is copied into (its own <source> and <auth>), rather than disks. */
  pool?: string;
}

/** What uses the way in, for messages: "disk vda", or "pool 'ceph' (a copy into it)". */
const usedBy = (need: RbdAccess) =>
  need.pool ? `pool '${need.pool}' (a copy into it)` : `disk ${need.disks.join(", ")}`;

/** Equal for two ways into Ceph with the same monitors, Ceph pool and credentials. */
const accessKey = (a: Pick<RbdAccess, "monitors" | "cephPool" | "auth">) =>
  JSON.stringify([a.monitors, a.cephPool, a.auth ?? null]);

/** The distinct ways into Ceph the domain's RBD network disks need, in disk order. */
export function rbdAccessNeeds(disks: Array<Pick<DiskFacts, "target" | "network">>): RbdAccess[] {
  const needs = new Map<string, RbdAccess>();
  for (const d of disks) {
    const net = d.network;
    if (net?.protocol !== "rbd") continue;
    const cephPool = net.name.split("/")[0];
    const access = { monitors: net.hosts, cephPool, auth: net.auth };
    const key = accessKey(access);
    const need = needs.get(key) ?? { ...access, disks: [] };
    need.disks.push(d.target);
    needs.set(key, need);
  }
  return [...needs.values()];
}

/**
 * The ways into Ceph a copy into the target's rbd pools needs (the pools the request names for
 * its disks), besides those of the domain's own RBD disks.
 */
export function rbdPoolNeeds(
  req: { diskPools?: Record<string, string>; storagePool?: string },
  target: HostFacts,
  already: RbdAccess[],
): RbdAccess[] {
  const named = new Set([...Object.values(req.diskPools ?? {}), req.storagePool]);
  const needs: RbdAccess[] = [];
  for (const name of named) {
    const rbd = name === undefined ? undefined : target.pools[name]?.rbd;
    if (!rbd) continue;
    const need = { monitors: rbd.monitors, cephPool: rbd.cephPool, auth: rbd.auth };
    const key = accessKey(need);
    if (![...already, ...needs].some((n) => accessKey(n) === key))
      needs.push({ ...need, disks: [], pool: name });
  }
  return needs;
}

const monitorList = (need: RbdAccess) =>
  need.monitors.map((m) => `${m.name}:${m.port ?? 6789}`).join(", ");

const secretName = (auth: NonNullable<RbdAccess["auth"]>) =>
  auth.secretUuid ? `secret ${auth.secretUuid}` : `secret of usage '${auth.secretUsage}'`;

async function lookupSecret(
  conn: LibvirtConnection,
  auth: NonNullable<RbdAccess["auth"]>,
): Promise<Secret | undefined> {
  try {
    return auth.secretUuid
      ? await conn.secrets.byUuid(auth.secretUuid)
      : await conn.secrets.byUsage(SECRET_USAGE.ceph, auth.secretUsage ?? "");
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The secret's value, or undefined where libvirt keeps it (private='yes'). */
const valueOf = (conn: LibvirtConnection, secret: Secret) =>
  conn.secrets.value(secret).catch(() => undefined);

/**
 * The blockers for running the domain's RBD disks on `target` (none: all is there). The source's
 * secret values are compared when it answers (not in a failover from a lost host).
 */
export async function rbdAccessBlockers(
  needs: RbdAccess[],
  source: { name: string; conn?: LibvirtConnection },
  target: { name: string; conn: LibvirtConnection },
): Promise<Blocker[]> {
  const blockers: Blocker[] = [];
  for (const need of needs) {
    const what = usedBy(need);
    const auth = need.auth;
    if (auth) {
      const there = await lookupSecret(target.conn, auth);
      if (!there) {
        blockers.push({
          code: "CEPH_SECRET_MISSING",
          message: `${target.name} has no libvirt ${secretName(auth)}, which ${what}'s <auth> names for client.${auth.username}: define it there with the same UUID and the key of client.${auth.username}, as on ${source.name} (virsh secret-define, then secret-set-value).`,
        });
        continue;
      }
      const here = source.conn && (await lookupSecret(source.conn, auth));
      const [a, b] = await Promise.all([
        here && valueOf(source.conn!, here),
        valueOf(target.conn, there),
      ]);
      if (a && b && !a.equals(b)) {
        blockers.push({
          code: "CEPH_SECRET_DIFFERS",
          message: `${target.name}'s libvirt ${secretName(auth)} (client.${auth.username}, for ${what}) holds another key than ${source.name}'s: set it to the key of client.${auth.username} (virsh secret-set-value on ${target.name}).`,
        });
        continue;
      }
    }
    const problem = await probeCluster(target.conn, need);
    if (problem) blockers.push(describeProbeFailure(problem, need, target.name));
  }
  return blockers;
}

/** Starts (and at once destroys) a transient rbd pool on the host; the error when it fails. */
export async function probeCluster(conn: LibvirtConnection, need: RbdAccess): Promise<unknown> {
  try {
    const pool = await conn.storage.createPool(probePoolXml(need));
    await conn.storage.destroyPool(pool).catch(() => undefined);
    return undefined;
  } catch (err) {
    return err;
  }
}

export function describeProbeFailure(err: unknown, need: RbdAccess, host: string): Blocker {
  const said = describeError(err);
  const what = usedBy(need);
  // librados: EACCES/EPERM for a key the cluster refuses, ETIMEDOUT for monitors out of reach.
  if (/permission denied|operation not permitted|\(13\)|\(1\)\b/i.test(said) && need.auth)
    return {
      code: "CEPH_KEY_REFUSED",
      message: `the Ceph cluster at ${monitorList(need)} refuses ${host}'s key for client.${need.auth.username} (${secretName(need.auth)}, ${what}): set that secret on ${host} to the user's current key. libvirt said: ${said}`,
    };
  return {
    code: "CEPH_UNREACHABLE",
    message: `${host} cannot reach the Ceph monitors ${monitorList(need)} of ${what} (Ceph pool '${need.cephPool}') within ${PROBE_TIMEOUT_SECONDS} s: check its network path to them and its firewall. libvirt said: ${said}`,
  };
}

/** A transient rbd pool over the disk's monitors, Ceph pool and secret, with short timeouts. */
export function probePoolXml(need: RbdAccess): string {
  const auth = need.auth
    ? [
        element("auth", { type: "ceph", username: need.auth.username }, [
          element(
            "secret",
            need.auth.secretUuid
              ? { uuid: need.auth.secretUuid }
              : { usage: need.auth.secretUsage! },
          ),
        ]),
      ]
    : [];
  const timeouts = ["client_mount_timeout", "rados_mon_op_timeout", "rados_osd_op_timeout"];
  return buildXml([
    element(
      "pool",
      { type: "rbd", "xmlns:rbd": "http://libvirt.org/schemas/storagepool/rbd/1.0" },
      [
        textElement("name", `vmp-probe-${randomBytes(4).toString("hex")}`),
        element("source", {}, [
          ...need.monitors.map((m) =>
            element("host", { name: m.name, ...(m.port ? { port: String(m.port) } : {}) }),
          ),
          textElement("name", need.cephPool),
          ...auth,
        ]),
        element(
          "rbd:config_opts",
          {},
          timeouts.map((name) =>
            element("rbd:option", { name, value: String(PROBE_TIMEOUT_SECONDS) }),
          ),
        ),
      ],
    ),
  ]);
}
