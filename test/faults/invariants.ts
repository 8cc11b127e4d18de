// The invariants every fault test checks, over the lab as it really is: the VM runs on exactly
// one host, its heartbeat never restarted (live moves), every disk's guest-visible content equals
// its checksum from before the move, and nothing of it is left over on any host.
import assert from "node:assert/strict";
import type { TestGuest } from "../integration/engine/lab-engine";
import { loadLab as lab, type LabDescription, type LabHost } from "../lab/lab";
import {
  diskContentSha256,
  nvramExists,
  nvramPathOnHost,
  readHeartbeats,
  waitForHeartbeat,
  type GuestDisk,
} from "../lab/guests";
import { definedDomains, hostsRunning, virsh } from "../lab/virsh";

export interface Before {
  host: LabHost;
  lastBeat: number;
}

export function before(host: LabHost, g: TestGuest): Before {
  const beats = readHeartbeats(host, g.name);
  return { host, lastBeat: beats.length ? beats[beats.length - 1] : -1 };
}

/** The disk the domain uses on `host`, as the checksum helper reads it. */
async function diskOn(host: LabHost, g: TestGuest): Promise<GuestDisk> {
  if (g.disk.kind === "nbd") return g.disk;
  const list = await virsh(host, "domblklist", "--details", g.name);
  const line = list
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => cols[2] === "vda");
  assert.ok(line?.[3], `${g.name} on ${host.name} has no vda: ${list}`);
  // An RBD disk (network, "pool/image"), where it was placed or where a move copied it.
  if (line[0] === "network") {
    const ceph = lab().pools.ceph;
    return { kind: "rbd", ceph, image: line[3].split("/").pop()!, attach: "network" };
  }
  return { kind: "file", pathOnHost: line[3], format: line[3].endsWith(".raw") ? "raw" : "qcow2" };
}

export interface Observed {
  host: string;
  heartbeat: string;
  checksum: string;
}

/**
 * Checks where the VM runs, its heartbeat and its disk. `live`: the guest must never have
 * restarted (a live move, or a failed attempt that left it where it ran).
 */
export async function checkInvariants(
  lab: LabDescription,
  g: TestGuest,
  was: Before,
  live: boolean,
): Promise<Observed> {
  const running = await hostsRunning(lab.hosts, g.name);
  assert.equal(
    running.length,
    1,
    `${g.name} runs on exactly one host, not [${running.join(", ")}]`,
  );
  const host = lab.hosts.find((h) => h.name === running[0])!;
  let heartbeat = "restarted (offline)";
  if (live) {
    if (host === was.host) {
      await waitForHeartbeat(host, g.name, was.lastBeat + 2);
      const beats = readHeartbeats(host, g.name);
      for (let i = 1; i < beats.length; i++)
        assert.ok(
          beats[i] > beats[i - 1],
          `${g.name}'s heartbeat went back on ${host.name}: ${beats[i - 1]} -> ${beats[i]}`,
        );
    } else {
      const onSource = readHeartbeats(was.host, g.name);
      await waitForHeartbeat(host, g.name, onSource[onSource.length - 1] + 2);
      const onTarget = readHeartbeats(host, g.name);
      assert.ok(
        onTarget[0] > onSource[onSource.length - 1] &&
          onTarget[0] - onSource[onSource.length - 1] <= 3,
        `${g.name}'s heartbeat did not continue: ${was.host.name} ended at ${onSource.at(-1)}, ${host.name} began at ${onTarget[0]}`,
      );
    }
    heartbeat = "continued";
  } else {
    await waitForHeartbeat(host, g.name, 1);
  }
  const sum = await diskContentSha256(host, await diskOn(host, g), g.image.sizeBytes);
  assert.equal(sum, g.image.sha256, `${g.name}'s disk content changed`);
  return { host: host.name, heartbeat, checksum: "equal" };
}

/** The names of the hosts where `domain` is defined (running or not). */
async function hostsDefining(hosts: LabHost[], domain: string): Promise<string[]> {
  const on = await Promise.all(hosts.map(async (h) => (await definedDomains(h)).includes(domain)));
  return hosts.filter((_, i) => on[i]).map((h) => h.name);
}

/**
 * For a fault that stops the guest itself (its QEMU killed): it runs nowhere, is defined on
 * `host` only, and its disk there is unchanged.
 */
export async function checkStopped(
  lab: LabDescription,
  g: TestGuest,
  host: LabHost,
): Promise<Observed> {
  assert.deepEqual(await hostsRunning(lab.hosts, g.name), [], `${g.name} runs nowhere`);
  assert.deepEqual(
    await hostsDefining(lab.hosts, g.name),
    [host.name],
    `defined on ${host.name} only`,
  );
  const sum = await diskContentSha256(host, await diskOn(host, g), g.image.sizeBytes);
  assert.equal(sum, g.image.sha256, `${g.name}'s disk content changed`);
  return { host: host.name, heartbeat: "stopped by the fault", checksum: "equal" };
}

/**
 * Volumes of the guest that should not be there: ownership markers anywhere, and any volume of
 * the guest other than the disk it uses (and its base image, which the test placed itself); and
 * an NVRAM file on a host that does not define the guest.
 */
export async function leftovers(lab: LabDescription, g: TestGuest): Promise<string[]> {
  // The host whose definition uses the disk: where it runs, else where it is defined.
  const running = await hostsRunning(lab.hosts, g.name);
  const defined = running.length ? running : await hostsDefining(lab.hosts, g.name);
  const host = lab.hosts.find((h) => h.name === defined[0]);
  const disk = host ? await diskOn(host, g) : undefined;
  const inUse =
    disk?.kind === "file"
      ? disk.pathOnHost
      : disk?.kind === "rbd"
        ? `${disk.ceph.cephPool}/${disk.image}`
        : undefined;
  const out: string[] = [];
  const definedOn = await hostsDefining(lab.hosts, g.name);
  for (const h of lab.hosts) {
    // A UEFI guest's variable store belongs beside its definition only.
    if (!definedOn.includes(h.name) && nvramExists(h, g.name))
      out.push(`${h.name}:${nvramPathOnHost(g.name)}`);
    const pools = (await virsh(h, "pool-list", "--name")).split("\n").map((p) => p.trim());
    for (const pool of pools.filter(Boolean)) {
      await virsh(h, "pool-refresh", pool);
      const lines = await virsh(h, "vol-list", "--pool", pool);
      for (const [name, volPath] of lines.split("\n").map((l) => l.trim().split(/\s+/))) {
        if (!name) continue;
        const ours = name.startsWith(`${g.name}.`);
        // An RBD image is in use from every host whose pool lists it.
        const shared = disk?.kind === "rbd";
        if (name.includes(".vmplacement-") && ours) out.push(`${h.name}:${pool}/${name}`);
        else if (ours && !((shared || h === host) && volPath === inUse))
          out.push(`${h.name}:${pool}/${name}`);
      }
    }
  }
  return out;
}
