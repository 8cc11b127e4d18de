// Moves at a bandwidth cap, engine against plain virsh with the same options, in both directions:
//   (d) the fast-churn guest at 40 MiB/s, which cannot converge: the engine (its forecast picks
//       post-copy after the first pass) vs `virsh migrate --postcopy --postcopy-after-precopy`;
//   (e) what compression and parallel connections change at a cap: bytes on the wire, wall time,
//       and transfer efficiency = bytes moved / (duration x cap).
import { place, type MigrationPolicy } from "../provider/src/engine";
import type { LabDescription, LabHost } from "../test/lab/lab";
import { GuestFactory, labPool, policy } from "../test/integration/engine/lab-engine";
import type { Row } from "./report";
import { CAP_MIBPS, STREAM_OPTIONS } from "./stream-options";
import { median, ratio } from "./stats";
import { virshMigrate, type VirshMigrateOptions } from "./virsh-migrate";

const MiB = 1024 * 1024;

interface Move {
  wallMs: number;
  downtimeMs: number;
  /** What the stream carried (QEMU's data processed). */
  wireBytes?: number;
  postCopy?: boolean;
}

type Pool = ReturnType<typeof labPool>;

async function engineMove(
  pool: Pool,
  domain: string,
  to: LabHost,
  p: Partial<MigrationPolicy>,
): Promise<Move> {
  const started = Date.now();
  const { record } = await place(pool, { domain, host: to.name }, policy(p));
  if (record.result !== "succeeded") throw new Error(`${domain}: ${record.error}`);
  return {
    wallMs: Date.now() - started,
    downtimeMs: record.downtimeMs ?? NaN,
    wireBytes: record.transport?.transferredBytes ?? record.bytesMoved,
    postCopy: record.postCopy,
  };
}

async function virshMove(
  from: LabHost,
  to: LabHost,
  domain: string,
  v: VirshMigrateOptions,
): Promise<Move> {
  const { wallMs, downtimeMs, dataBytes } = await virshMigrate(from, to, domain, v);
  return { wallMs, downtimeMs, wireBytes: dataBytes };
}

/** Engine and virsh take turns going first, each run one round trip h1 -> h2 -> h1. */
async function alternate(
  pool: Pool,
  [h1, h2]: LabHost[],
  domain: string,
  runs: number,
  p: Partial<MigrationPolicy>,
  v: VirshMigrateOptions,
): Promise<{ engine: Move[]; virsh: Move[] }> {
  const engine: Move[] = [];
  const plain: Move[] = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      engine.push(await engineMove(pool, domain, h2, p));
      plain.push(await virshMove(h2, h1, domain, v));
    } else {
      plain.push(await virshMove(h1, h2, domain, v));
      engine.push(await engineMove(pool, domain, h1, p));
    }
  }
  return { engine, virsh: plain };
}

const wallS = (moves: Move[]) => median(moves.map((m) => m.wallMs)) / 1000;
const wireMiB = (moves: Move[]) => Math.round(median(moves.map((m) => m.wireBytes ?? NaN)) / MiB);
/** Bytes moved / (duration x cap), in hundredths before the median (which rounds). */
const efficiency = (moves: Move[], capMibps: number) =>
  (
    median(moves.map((m) => (100 * (m.wireBytes ?? NaN)) / MiB / ((m.wallMs / 1000) * capMibps))) /
    100
  ).toFixed(2);

export async function benchNonConverging(
  lab: LabDescription,
  runs: number,
): Promise<{ row: Row; raw: unknown }> {
  const pool = labPool(lab);
  const guests = new GuestFactory(lab);
  try {
    const g = await guests.shared("bench-fast", lab.hosts[0], 0, "churn-fast", 512);
    const r = await alternate(
      pool,
      lab.hosts,
      g.name,
      runs,
      { bandwidthMibps: 40 },
      { bandwidthMibps: 40, postcopyAfterPrecopy: true },
    );
    const e = wallS(r.engine);
    const v = wallS(r.virsh);
    return {
      row: {
        scenario: "d: 512 MiB fast churn at 40 MiB/s",
        runs,
        engine_wall_ms: Math.round(e * 1000),
        virsh_wall_ms: Math.round(v * 1000),
        wall_ratio: ratio(e, v),
        engine_downtime_ms: median(r.engine.map((m) => m.downtimeMs)),
        virsh_downtime_ms: median(r.virsh.map((m) => m.downtimeMs)),
      },
      raw: { scenario: "d", ...r },
    };
  } finally {
    await guests.cleanup();
    await pool.closeAll();
  }
}

/** (e): the moderate-churn guest (it converges at the cap, resending pages every pass). */
export async function benchStreamOptions(
  lab: LabDescription,
  runs: number,
): Promise<{ rows: Row[]; raw: unknown }> {
  const pool = labPool(lab);
  const guests = new GuestFactory(lab);
  const rows: Row[] = [];
  const raw: unknown[] = [];
  try {
    const g = await guests.shared("bench-stream", lab.hosts[0], 0, "churn-moderate", 512);
    for (const o of STREAM_OPTIONS) {
      const r = await alternate(
        pool,
        lab.hosts,
        g.name,
        runs,
        { ...o.policy, bandwidthMibps: CAP_MIBPS },
        { ...o.virsh, bandwidthMibps: CAP_MIBPS },
      );
      raw.push({ option: o.name, ...r });
      const e = wallS(r.engine);
      const v = wallS(r.virsh);
      rows.push({
        option: `${o.name} at ${CAP_MIBPS} MiB/s`,
        runs,
        engine_wall_s: e,
        virsh_wall_s: v,
        wall_ratio: ratio(e, v),
        engine_wire_mib: wireMiB(r.engine),
        virsh_wire_mib: wireMiB(r.virsh),
        engine_efficiency: efficiency(r.engine, CAP_MIBPS),
        virsh_efficiency: efficiency(r.virsh, CAP_MIBPS),
        engine_downtime_ms: median(r.engine.map((m) => m.downtimeMs)),
      });
    }
    return { rows, raw };
  } finally {
    await guests.cleanup();
    await pool.closeAll();
  }
}
