// The same migrations through the engine and through plain `virsh migrate` with the same
// flags, alternating direction and tool, several runs each: wall time ratio and downtime.
//   node build/bench/engine.js [runs per tool]          (the lab must be up)
import { place, type PlacementRequest } from "../provider/src/engine";
import { loadLab, type LabHost } from "../test/lab/lab";
import { virsh } from "../test/lab/virsh";
import { GuestFactory, labPool, policy } from "../test/integration/engine/lab-engine";
import type { MigrationPolicy } from "../provider/src/engine";
import { printTable, writeResults, type Row } from "./report";
import { median, spread } from "./stats";
import { removeLeftoverVolume, virshMigrate, virshMigrateArgs } from "./virsh-migrate";

interface Scenario {
  name: string;
  memoryMiB: number;
  storage: "local" | "shared";
  kind: "heartbeat" | "churn-fast";
  policy: Partial<MigrationPolicy>;
}

const SCENARIOS: Scenario[] = [
  {
    name: "a: 256 MiB idle, 64 MiB disk, storage copy",
    memoryMiB: 256,
    storage: "local",
    kind: "heartbeat",
    policy: {},
  },
  {
    name: "b: 1 GiB idle, 64 MiB disk, storage copy",
    memoryMiB: 1024,
    storage: "local",
    kind: "heartbeat",
    policy: {},
  },
  {
    name: "c: 512 MiB churn, shared storage",
    memoryMiB: 512,
    storage: "shared",
    kind: "churn-fast",
    policy: {},
  },
];

async function engineRun(
  pool: ReturnType<typeof labPool>,
  req: PlacementRequest,
  p: Partial<MigrationPolicy>,
) {
  const started = Date.now();
  const { record } = await place(pool, req, policy(p));
  return {
    wallMs: Date.now() - started,
    downtimeMs: record.downtimeMs ?? NaN,
    postCopy: record.postCopy,
  };
}

async function virshRun(source: LabHost, target: LabHost, name: string, copy: boolean) {
  const result = await virshMigrate(source, target, name, copy ? { copyDisks: ["vda"] } : {});
  if (copy) await removeLeftoverVolume(source, name);
  return result;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const lab = loadLab();
  const [h1, h2] = lab.hosts;
  const pool = labPool(lab);
  const guests = new GuestFactory(lab);
  const rows: Row[] = [];
  const raw: unknown[] = [];
  try {
    for (const s of SCENARIOS) {
      const g =
        s.storage === "local"
          ? await guests.local("bench", h1, { memoryMiB: s.memoryMiB })
          : await guests.shared("bench", h1, 0, s.kind, s.memoryMiB);
      const engine: Array<{ wallMs: number; downtimeMs: number }> = [];
      const plain: Array<{ wallMs: number; downtimeMs: number }> = [];
      for (let i = 0; i < runs; i++) {
        engine.push(
          await engineRun(
            pool,
            {
              domain: g.name,
              host: h2.name,
              ...(s.storage === "local" ? { storagePool: "local" } : {}),
            },
            s.policy,
          ),
        );
        plain.push(await virshRun(h2, h1, g.name, s.storage === "local"));
      }
      raw.push({ scenario: s.name, engine, virsh: plain });
      const ew = median(engine.map((r) => r.wallMs));
      const vw = median(plain.map((r) => r.wallMs));
      rows.push({
        scenario: s.name,
        runs,
        engine_wall_ms: ew,
        virsh_wall_ms: vw,
        wall_ratio: Number((ew / vw).toFixed(2)),
        engine_downtime_ms: spread(engine.map((r) => r.downtimeMs)),
        virsh_downtime_ms: spread(plain.map((r) => r.downtimeMs)),
      });
      await guests.cleanup();
    }

    // (d) churn at 40 MiB/s: plain pre-copy is given a deadline; the engine climbs its ladder.
    const deadlineS = 30;
    const g = await guests.shared("bench-slow", h1, 0, "churn-fast", 512);
    const started = Date.now();
    const migrating = virsh(
      h1,
      ...virshMigrateArgs(g.name, h2, { bandwidthMiBps: 40 }).filter((a) => a !== "--postcopy"),
    ).then(
      () => "completed",
      () => `did not finish within ${deadlineS} s (aborted)`,
    );
    const deadline = setTimeout(
      () => void virsh(h1, "domjobabort", g.name).catch(() => undefined),
      deadlineS * 1000,
    );
    const virshOutcome = await migrating;
    clearTimeout(deadline);
    const virshMs = Date.now() - started;
    if ((await virsh(h2, "list", "--name")).includes(g.name))
      await virsh(h2, ...virshMigrateArgs(g.name, h1));
    const engine = await engineRun(
      pool,
      { domain: g.name, host: h2.name },
      {
        bandwidthMiBps: 40,
        progressTimeoutSeconds: 3,
        completionTimeoutSecondsPerGiB: 10,
        downtimeLadderMs: [300, 400],
      },
    );
    rows.push({
      scenario: "d: 512 MiB churn at 40 MiB/s",
      runs: 1,
      engine_wall_ms: engine.wallMs,
      virsh_wall_ms: virshMs,
      wall_ratio: "-",
      engine_downtime_ms: engine.downtimeMs,
      virsh_downtime_ms: virshOutcome,
    });
    raw.push({
      scenario: "d",
      virsh: { outcome: virshOutcome, wallMs: virshMs, deadlineS },
      engine,
    });
  } finally {
    await guests.cleanup();
    await pool.closeAll();
  }
  printTable(rows);
  console.log(
    `\nwritten to ${writeResults("engine", { date: new Date().toISOString(), rows, raw })}`,
  );
}

main().catch(async (err) => {
  console.error(err);
  process.exit(1);
});
