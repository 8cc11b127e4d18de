// Forecast against outcome: the engine plans each move (measured dirty rate, resident memory,
// disk allocation, link), runs it, and the same guest moves back with plain `virsh migrate` and
// the best flags virsh has for the job (--postcopy-after-precopy for a guest that will not
// converge). Prints forecast and actual duration, downtime and bytes, and the engine/virsh ratio.
//   node build/bench/forecast.js [runs per tool]          (the lab must be up)
import { place, type MigrationPolicy, type PlacementRequest } from "../provider/src/engine";
import { loadLab, type LabHost } from "../test/lab/lab";
import {
  GuestFactory,
  labPool,
  policy,
  type TestGuest,
} from "../test/integration/engine/lab-engine";
import { printTable, writeResults, type Row } from "./report";
import { median, ratio } from "./stats";
import { removeLeftoverVolume, virshMigrate } from "./virsh-migrate";

const MiB = 1024 * 1024;

interface Scenario {
  name: string;
  guest: (f: GuestFactory, h: LabHost) => Promise<TestGuest>;
  storagePool?: string;
  policy: Partial<MigrationPolicy>;
  /** The flags virsh needs for the same job. */
  virsh: Parameters<typeof virshMigrate>[3];
}

/** Steps that do not stall long: a guest the forecast misjudged still ends in seconds. */
const quickLadder = { progressTimeoutSeconds: 3, downtimeLadderMs: [300, 400] };

const SCENARIOS: Scenario[] = [
  {
    name: "a: 512 MiB churn, 40 MiB/s cap",
    guest: (f, h) => f.shared("fc", h, 0, "churn-fast", 512),
    policy: { bandwidthMiBps: 40, ...quickLadder },
    virsh: { bandwidthMiBps: 40, postcopyAfterPrecopy: true },
  },
  {
    name: "b: 2 GiB churn, 25 MiB/s cap",
    guest: (f, h) => f.shared("fc", h, 1, "churn-fast", 2048),
    policy: { bandwidthMiBps: 25, ...quickLadder },
    virsh: { bandwidthMiBps: 25, postcopyAfterPrecopy: true },
  },
  {
    name: "c: 256 MiB idle, 64 MiB sparse disk",
    guest: (f, h) => f.local("fc", h, { memoryMiB: 256 }),
    storagePool: "local",
    policy: {},
    virsh: { copyDisks: ["vda"] },
  },
];

interface EngineRun {
  verdict: string;
  forecastS: number;
  forecastDowntimeMs: number;
  forecastMiB: number;
  wallS: number;
  downtimeMs: number;
  movedMiB: number;
  postCopy: boolean;
}

async function engineRun(
  pool: ReturnType<typeof labPool>,
  req: PlacementRequest,
  p: Partial<MigrationPolicy>,
): Promise<EngineRun> {
  const started = Date.now();
  const { plan, record } = await place(pool, req, policy(p));
  if (record.result !== "succeeded") throw new Error(`${req.domain}: ${record.error}`);
  const f = plan.forecast;
  return {
    verdict: f.verdict,
    forecastS: f.durationSeconds,
    forecastDowntimeMs: f.downtimeMs,
    forecastMiB: Math.round((f.memoryBytes + f.diskBytes) / MiB),
    // Planning (with its 1 s measurement) counts: it is part of what the user waits for.
    wallS: (Date.now() - started) / 1000,
    downtimeMs: record.downtimeMs ?? NaN,
    movedMiB: Math.round((record.bytesMoved ?? NaN) / MiB),
    postCopy: record.postCopy,
  };
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 2);
  const lab = loadLab();
  const [h1, h2] = lab.hosts;
  const pool = labPool(lab);
  const guests = new GuestFactory(lab);
  const rows: Row[] = [];
  const raw: unknown[] = [];
  try {
    for (const s of SCENARIOS) {
      const g = await s.guest(guests, h1);
      const engine: EngineRun[] = [];
      const plain: Array<{ wallMs: number; downtimeMs: number }> = [];
      for (let i = 0; i < runs; i++) {
        const req = { domain: g.name, host: h2.name, storagePool: s.storagePool };
        engine.push(await engineRun(pool, req, s.policy));
        plain.push(await virshMigrate(h2, h1, g.name, s.virsh));
        if (s.virsh?.copyDisks) await removeLeftoverVolume(h2, g.name);
      }
      raw.push({ scenario: s.name, engine, virsh: plain });
      const engineS = median(engine.map((r) => r.wallS * 1000)) / 1000;
      const virshS = median(plain.map((r) => r.wallMs)) / 1000;
      rows.push({
        scenario: s.name,
        runs,
        verdict: engine[0].verdict,
        forecast_s: median(engine.map((r) => r.forecastS)),
        engine_s: engineS,
        virsh_s: virshS,
        engine_vs_virsh: ratio(engineS, virshS),
        forecast_downtime_ms: median(engine.map((r) => r.forecastDowntimeMs)),
        engine_downtime_ms: median(engine.map((r) => r.downtimeMs)),
        virsh_downtime_ms: median(plain.map((r) => r.downtimeMs)),
        forecast_mib: median(engine.map((r) => r.forecastMiB)),
        moved_mib: median(engine.map((r) => r.movedMiB)),
        post_copy: engine.every((r) => r.postCopy)
          ? "yes"
          : engine.some((r) => r.postCopy)
            ? "some"
            : "no",
      });
      await guests.cleanup();
    }
  } finally {
    await guests.cleanup();
    await pool.closeAll();
  }
  printTable(rows);
  console.log(
    `\nwritten to ${writeResults("forecast", { date: new Date().toISOString(), rows, raw })}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
