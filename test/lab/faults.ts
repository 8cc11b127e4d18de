// Fault primitives for the lab: kill, freeze and restart a host's libvirtd, kill a guest's QEMU on one
// host, cut a host's link to the bridge and restore it. Every fault is undone by `repairAll`, so
// a failing test never leaves the lab broken for the next one.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { LabHost } from "./lab";
import { run } from "./run";

/** Whether a process still runs: a zombie (killed, not yet reaped) holds nothing open. */
export function processAlive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1][0] !== "Z";
  } catch {
    return false;
  }
}

const LAB_SH = path.resolve(__dirname, "..", "..", "..", "test", "lab", "lab.sh");

function libvirtdPid(host: LabHost): number | undefined {
  try {
    return Number(readFileSync(path.join(host.dir, "libvirtd.pid"), "utf8").trim()) || undefined;
  } catch {
    return undefined;
  }
}

const cut = new Set<LabHost>();
const killed = new Set<LabHost>();
const frozen = new Set<LabHost>();
const silenced = new Set<LabHost>();
const cutFromCeph = new Map<LabHost, string>();
const stoppedPids = new Set<number>();

/** SIGKILLs the host's libvirtd; its guests keep running, as on a real host. */
export function killLibvirtd(host: LabHost): void {
  const pid = libvirtdPid(host);
  if (pid === undefined) throw new Error(`${host.name} has no libvirtd pid file`);
  process.kill(pid, "SIGKILL");
  killed.add(host);
}

/** Stops the host's libvirtd (SIGSTOP): every call and stream to it waits until it is thawed. */
export function freezeLibvirtd(host: LabHost): void {
  const pid = libvirtdPid(host);
  if (pid === undefined) throw new Error(`${host.name} has no libvirtd pid file`);
  process.kill(pid, "SIGSTOP");
  frozen.add(host);
}

export function thawLibvirtd(host: LabHost): void {
  const pid = libvirtdPid(host);
  if (pid !== undefined) process.kill(pid, "SIGCONT");
  frozen.delete(host);
}

/** Starts the host's libvirtd again (it re-attaches the guests that still run). */
export async function restartLibvirtd(host: LabHost): Promise<void> {
  await run("bash", [LAB_SH, "restart-libvirtd", host.name], { timeoutMs: 60_000 });
  killed.delete(host);
}

/**
 * Restarts the host's libvirtd within a second of a crash, as a service manager does
 * (Restart=on-failure), until `stop` is called; `stop` resolves with the number of restarts.
 */
export function superviseLibvirtd(host: LabHost): { stop(): Promise<number> } {
  let restarts = 0;
  let stopped = false;
  const alive = () => {
    const pid = libvirtdPid(host);
    return pid !== undefined && processAlive(pid);
  };
  const loop = (async () => {
    while (!stopped) {
      if (!alive()) {
        restarts++;
        await restartLibvirtd(host);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return restarts;
    },
  };
}

/** Takes the host's link to the bridge down: nothing reaches it, nothing leaves it. */
export async function cutLink(host: LabHost): Promise<void> {
  await run("ip", ["link", "set", host.namespace, "down"]);
  cut.add(host);
}

export async function restoreLink(host: LabHost): Promise<void> {
  await run("ip", ["link", "set", host.namespace, "up"]);
  cut.delete(host);
}

/** The pids of `domain`'s QEMU processes inside the host's namespace. */
async function qemuPids(host: LabHost, domain: string): Promise<number[]> {
  const inNamespace = new Set(
    (await run("ip", ["netns", "pids", host.namespace])).split(/\s+/).filter(Boolean).map(Number),
  );
  const matching = await run("pgrep", ["-f", `guest=${domain},`]).catch(() => "");
  return matching
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => inNamespace.has(pid));
}

/** SIGKILLs the guest's QEMU on this host (the incoming one on a target). Returns how many. */
export async function killQemu(host: LabHost, domain: string): Promise<number> {
  const pids = await qemuPids(host, domain);
  for (const pid of pids) process.kill(pid, "SIGKILL");
  return pids.length;
}

/**
 * The host's management goes silent while its guests run on: libvirtd frozen, sshd gone. To the
 * provider the host is lost; its QEMUs still reach their storage (the case a power fence that
 * lies leaves behind).
 */
export async function silenceManagement(host: LabHost): Promise<void> {
  freezeLibvirtd(host);
  const sshd = Number(readFileSync(path.join(host.dir, "sshd.pid"), "utf8").trim());
  process.kill(sshd, "SIGKILL");
  silenced.add(host);
}

export async function restoreManagement(host: LabHost): Promise<void> {
  thawLibvirtd(host);
  await run("bash", [LAB_SH, "power-on", host.name], { timeoutMs: 60_000 });
  silenced.delete(host);
}

/** The host's packets to the Ceph cluster's address go nowhere (a blackhole route). */
export async function cutFromMonitors(host: LabHost, cephAddress: string): Promise<void> {
  await run("ip", ["-n", host.namespace, "route", "add", "blackhole", `${cephAddress}/32`]);
  cutFromCeph.set(host, cephAddress);
}

export async function reconnectToMonitors(host: LabHost): Promise<void> {
  const address = cutFromCeph.get(host);
  if (address === undefined) return;
  await run("ip", ["-n", host.namespace, "route", "del", "blackhole", `${address}/32`]);
  cutFromCeph.delete(host);
}

/** SIGSTOPs a process (a Ceph daemon) until `resumeProcess` or `repairAll`. */
export function stopProcess(pid: number): void {
  process.kill(pid, "SIGSTOP");
  stoppedPids.add(pid);
}

export function resumeProcess(pid: number): void {
  process.kill(pid, "SIGCONT");
  stoppedPids.delete(pid);
}

/** Undoes every fault still in place: links up, daemons running. */
export async function repairAll(): Promise<void> {
  for (const pid of [...stoppedPids]) resumeProcess(pid);
  for (const host of [...cutFromCeph.keys()]) await reconnectToMonitors(host);
  for (const host of [...silenced]) await restoreManagement(host);
  for (const host of [...frozen]) thawLibvirtd(host);
  for (const host of [...cut]) await restoreLink(host);
  for (const host of [...killed]) await restartLibvirtd(host);
}

const tinyPools = new Map<string, { host: LabHost; name: string }>();

function inHostNs(host: LabHost, command: string, args: string[]): Promise<string> {
  return run("nsenter", ["-t", String(host.anchorPid), "-m", "--", command, ...args]);
}

/** A directory pool on a size-limited filesystem (tmpfs in the host's mount namespace). */
export async function createTinyPool(host: LabHost, name: string, sizeMiB: number): Promise<void> {
  const dir = `/var/lib/libvirt/pools/${name}`;
  await inHostNs(host, "mkdir", ["-p", dir]);
  await inHostNs(host, "mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", dir]);
  tinyPools.set(`${host.name}/${name}`, { host, name });
  const virsh = (...args: string[]) => run("virsh", ["-q", "-c", host.uris.tcp, ...args]);
  await virsh("pool-define-as", name, "dir", "--target", dir);
  await virsh("pool-start", name);
}

/** Fills the pool's filesystem until `leaveMiB` are left (another tenant's data, say). */
export async function fillPool(host: LabHost, name: string, leaveMiB: number): Promise<void> {
  const dir = `/var/lib/libvirt/pools/${name}`;
  // A copy may be writing into the pool meanwhile: what df saw can be gone by the time the
  // filler is allocated, so fill in steps until at most `leaveMiB` is free.
  for (let step = 0; step < 8; step++) {
    const df = await inHostNs(host, "df", ["--output=avail", "-m", dir]);
    const avail = Number(df.trim().split("\n").pop());
    if (avail <= leaveMiB) return;
    await inHostNs(host, "fallocate", [
      "-l",
      `${avail - leaveMiB}M`,
      `${dir}/filler-${step}`,
    ]).catch((err: Error) => {
      if (!/No space left/.test(err.message)) throw err;
    });
  }
}

export async function unfillPool(host: LabHost, name: string): Promise<void> {
  await inHostNs(host, "sh", ["-c", `rm -f /var/lib/libvirt/pools/${name}/filler-*`]);
  await run("virsh", ["-q", "-c", host.uris.tcp, "pool-refresh", name]).catch(() => "");
}

/** Removes every tiny pool (its volumes go with the filesystem). */
export async function removeTinyPools(): Promise<void> {
  for (const [key, { host, name }] of [...tinyPools]) {
    const virsh = (...args: string[]) =>
      run("virsh", ["-q", "-c", host.uris.tcp, ...args]).catch(() => "");
    await virsh("pool-destroy", name);
    await virsh("pool-undefine", name);
    const dir = `/var/lib/libvirt/pools/${name}`;
    await inHostNs(host, "umount", [dir]).catch(() => "");
    await inHostNs(host, "rmdir", [dir]).catch(() => "");
    tinyPools.delete(key);
  }
}
