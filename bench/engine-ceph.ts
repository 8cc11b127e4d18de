// Moves of guests on Ceph RBD through the engine and through plain `virsh migrate` with the same
// flags, in the same run, alternating tool and direction (part f of bench/engine.ts):
//   f1: a shared RBD live move (nothing copied): wall time and downtime;
//   f2/f3: a live move into Ceph (local qcow2 -> RBD image on the other host) and out of it
//          (RBD -> local file), at a bandwidth cap: wall time, bytes the stream carried, and
//          efficiency = bytes moved / (wall x cap), over the bytes the engine's stream carried
//          for both (virsh's completed statistics count memory only, not the disk's NBD stream).
// virsh gets what the engine does for it: the RBD image (or file) made on the target first, and
// a destination XML with the disk rewritten (--xml, --persistent-xml).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { place, type ConnectionPool, type MeasuredLink } from "../provider/src/engine";
import { rewriteDiskSources } from "../provider/src/engine/domain-xml";
import { GuestFactory, labPool, policy } from "../test/integration/engine/lab-engine";
import { cephArgs } from "../test/lab/guests";
import type { LabDescription, LabHost } from "../test/lab/lab";
import { run } from "../test/lab/run";
import { virsh } from "../test/lab/virsh";
import type { Row } from "./report";
import { median, versusVirsh } from "./stats";
import { virshMigrate } from "./virsh-migrate";

const CAP_MIBPS = 32;
/** The copied guests' disk; a target made for virsh must be exactly as large (QEMU's mirror). */
const DISK_MIB = 64;
const MiB = 1024 * 1024;

/** recordMs: the engine's migration record (slot granted -> verified), without its planning. */
type Outcome = { wallMs: number; downtimeMs: number; bytes?: number; recordMs?: number };

/**
 * `measuredLinks`: the link rates the bench's earlier moves reached, which plans use as a
 * provider's do from its state (without them every plan assumes a link and measures the guest's
 * dirty rate for a second first).
 */
export async function benchCeph(
  lab: LabDescription,
  runs: number,
  measuredLinks: MeasuredLink[],
): Promise<{ rows: Row[]; raw: unknown }> {
  const pool = labPool(lab);
  const guests = new GuestFactory(lab);
  try {
    const shared = await sharedMoves(lab, pool, guests, runs, measuredLinks);
    await guests.cleanup();
    const copies = await copiesAtCap(lab, pool, guests, runs, measuredLinks);
    return { rows: [shared.row, ...copies.rows], raw: { shared: shared.raw, copies: copies.raw } };
  } finally {
    await guests.cleanup();
    await pool.closeAll();
  }
}

async function sharedMoves(
  lab: LabDescription,
  pool: ConnectionPool,
  guests: GuestFactory,
  runs: number,
  measuredLinks: MeasuredLink[],
) {
  const [h1, h2] = lab.hosts;
  const g = await guests.ceph("bench-rbd", h1);
  const engine: Outcome[] = [];
  const plain: Outcome[] = [];
  for (let i = 0; i < runs; i++) {
    const started = Date.now();
    const { record } = await place(pool, { domain: g.name, host: h2.name }, policy(), {
      measuredLinks,
    });
    engine.push({
      wallMs: Date.now() - started,
      downtimeMs: record.downtimeMs ?? NaN,
      recordMs: record.durationMs,
    });
    plain.push(await virshMigrate(h2, h1, g.name, {}));
  }
  return {
    row: row("f1: 256 MiB idle on RBD, shared (nothing copied)", runs, engine, plain),
    raw: { engine, plain },
  };
}

async function copiesAtCap(
  lab: LabDescription,
  pool: ConnectionPool,
  guests: GuestFactory,
  runs: number,
  measuredLinks: MeasuredLink[],
) {
  const [h1, h2] = lab.hosts;
  const { ceph } = lab.pools;
  const g = await guests.local("bench-ceph", h1, { sizeMiB: DISK_MIB, randomMiB: 48 });
  const capped = policy({ bandwidthMibps: CAP_MIBPS });
  const into = { engine: [] as Outcome[], virsh: [] as Outcome[] };
  const out = { engine: [] as Outcome[], virsh: [] as Outcome[] };
  const image = `${g.name}.raw`;
  for (let i = 0; i < runs; i++) {
    // engine into Ceph (h1 -> h2), virsh out (h2 -> h1), virsh into, engine out.
    into.engine.push(await engineMove(pool, g.name, h2, { vda: ceph.libvirtPool }));
    out.virsh.push(await virshOut(lab, h2, h1, g.name));
    into.virsh.push(await virshInto(lab, h1, h2, g.name, image));
    out.engine.push(await engineMove(pool, g.name, h1, { vda: "local" }));
  }
  return {
    rows: [
      row(
        `f2: into Ceph, ${DISK_MIB} MiB disk (48 random), cap ${CAP_MIBPS} MiB/s`,
        runs,
        into.engine,
        into.virsh,
        true,
      ),
      row(`f3: out of Ceph, same disk, cap ${CAP_MIBPS} MiB/s`, runs, out.engine, out.virsh, true),
    ],
    raw: { into, out },
  };

  async function engineMove(
    p: ConnectionPool,
    domain: string,
    to: LabHost,
    diskPools: Record<string, string>,
  ): Promise<Outcome> {
    const started = Date.now();
    const { record } = await place(p, { domain, host: to.name, diskPools }, capped, {
      measuredLinks,
    });
    return {
      wallMs: Date.now() - started,
      downtimeMs: record.downtimeMs ?? NaN,
      bytes: record.bytesMoved,
      recordMs: record.durationMs,
    };
  }
}

/** virsh moves the disk into an RBD image made first, as the engine does. */
async function virshInto(
  lab: LabDescription,
  from: LabHost,
  to: LabHost,
  domain: string,
  sourceVolume: string,
): Promise<Outcome> {
  const { ceph } = lab.pools;
  const name = `${ceph.cephPool}/${domain}.raw`;
  await run("rbd", [...cephArgs(ceph), "create", "--size", `${DISK_MIB}M`, name]);
  const network = {
    protocol: "rbd",
    name,
    hosts: [{ name: ceph.address, port: ceph.port }],
    auth: { username: ceph.user, secretUuid: ceph.secretUuid },
  };
  const result = await withXml(
    from,
    domain,
    { vda: { path: name, network, format: "raw" } },
    (file) =>
      virshMigrate(from, to, domain, {
        copyDisks: ["vda"],
        bandwidthMibps: CAP_MIBPS,
        destinationXmlFile: file,
      }),
  );
  await virsh(from, "vol-delete", "--pool", "local", sourceVolume).catch(() => undefined);
  return { ...result, bytes: result.dataBytes };
}

/** virsh moves the RBD disk into a local file (libvirt makes the file on the target). */
async function virshOut(
  lab: LabDescription,
  from: LabHost,
  to: LabHost,
  domain: string,
): Promise<Outcome> {
  const { ceph } = lab.pools;
  const file = `${lab.pools.local.path}/${domain}.raw`;
  await virsh(to, "vol-create-as", "local", `${domain}.raw`, `${DISK_MIB}M`, "--format", "raw");
  const result = await withXml(from, domain, { vda: { path: file, format: "raw" } }, (xmlFile) =>
    virshMigrate(from, to, domain, {
      copyDisks: ["vda"],
      bandwidthMibps: CAP_MIBPS,
      destinationXmlFile: xmlFile,
    }),
  );
  await run("rbd", [...cephArgs(ceph), "rm", "--no-progress", `${ceph.cephPool}/${domain}.raw`]);
  for (const h of [from, to]) await virsh(h, "pool-refresh", ceph.libvirtPool);
  return { ...result, bytes: result.dataBytes };
}

async function withXml<T>(
  host: LabHost,
  domain: string,
  changes: Parameters<typeof rewriteDiskSources>[1],
  use: (file: string) => Promise<T>,
): Promise<T> {
  const xml = rewriteDiskSources(await virsh(host, "dumpxml", "--migratable", domain), changes);
  const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-bench-xml-"));
  try {
    const file = path.join(dir, "dest.xml");
    writeFileSync(file, xml);
    return await use(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function row(
  scenario: string,
  runs: number,
  engine: Outcome[],
  plain: Outcome[],
  capped = false,
): Row {
  // Both tools move the same disk and memory; virsh's completed statistics count the memory
  // stream only, so its efficiency is taken over the bytes the engine's stream carried.
  const moved = median(engine.map((r) => r.bytes ?? 0));
  const efficiency = (o: Outcome[]) =>
    // In hundredths before the median, which rounds to whole numbers.
    (median(o.map((r) => (100 * moved) / ((r.wallMs / 1000) * CAP_MIBPS * MiB))) / 100).toFixed(2);
  return {
    scenario,
    runs,
    ...versusVirsh(engine, plain),
    // The plan's share (above all the dirty-rate sample a provider's refresh starts ahead) apart.
    engine_record_ms: Math.round(median(engine.map((r) => r.recordMs ?? NaN))),
    record_ratio: (
      median(engine.map((r) => r.recordMs ?? NaN)) / median(plain.map((r) => r.wallMs))
    ).toFixed(2),
    // The same columns on every row (the table takes them from the first).
    engine_mib_moved: capped
      ? Number((median(engine.map((r) => r.bytes ?? 0)) / MiB).toFixed(1))
      : "-",
    virsh_stats_mib: capped
      ? Number((median(plain.map((r) => r.bytes ?? 0)) / MiB).toFixed(1))
      : "-",
    engine_efficiency: capped ? efficiency(engine) : "-",
    virsh_efficiency: capped ? efficiency(plain) : "-",
  };
}
