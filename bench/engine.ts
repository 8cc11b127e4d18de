// The same migrations through the engine and through plain `virsh migrate` with the same
// flags, alternating direction and tool, several runs each: wall time ratio and downtime; then
// moves at a bandwidth cap (bench/engine-capped.ts).
//   node build/bench/engine.js [runs per tool] [parts, e.g. abc; default all]   (the lab must be up)
import {
  measuredLinkOf,
  place,
  type MeasuredLink,
  type PlacementRequest,
} from "../provider/src/engine";
import { loadLab, type LabHost } from "../test/lab/lab";
import { GuestFactory, labPool, policy } from "../test/integration/engine/lab-engine";
import type { MigrationPolicy } from "../provider/src/engine";
import { printTable, writeResults, type Row } from "./report";
import { versusVirsh } from "./stats";
import { removeLeftoverVolume, virshMigrate } from "./virsh-migrate";
import { benchNonConverging, benchStreamOptions } from "./engine-capped";
import { benchCeph } from "./engine-ceph";

const NOTES = [
  "medians over runs; engine and virsh take turns going first, in both directions",
  "the engine plans with the link rates its earlier moves reached, as the provider does from its state",
  "d: virsh gets its best flags for a guest that cannot converge: --postcopy --postcopy-after-precopy --bandwidth 40",
  "f: guests on Ceph RBD; virsh gets the RBD image (or file) made first and the rewritten disk XML (--xml, --persistent-xml), as the engine does; efficiency = bytes the stream carried / (wall x cap); engine_record_ms = the migration record alone (no planning: the engine's plan measures the guest's dirty rate for 1 s, which a provider's refresh starts ahead), record_ratio = that / virsh's wall",
  "e: wire MiB = QEMU's data processed (compression applied); efficiency = bytes moved / (wall x cap), bytes moved being what the stream carried",
];

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

/** Link rates earlier moves reached, as the provider keeps them in its state for later plans. */
const measuredLinks: MeasuredLink[] = [];

async function engineRun(
  pool: ReturnType<typeof labPool>,
  req: PlacementRequest,
  p: Partial<MigrationPolicy>,
) {
  const started = Date.now();
  const { record } = await place(pool, req, policy(p), { measuredLinks });
  const measured = measuredLinkOf(record);
  if (measured) measuredLinks.push(measured);
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
  const parts = process.argv[3] ?? "abcdef";
  const lab = loadLab();
  const [h1, h2] = lab.hosts;
  const pool = labPool(lab);
  const guests = new GuestFactory(lab);
  const rows: Row[] = [];
  const raw: unknown[] = [];
  let stream: Awaited<ReturnType<typeof benchStreamOptions>> | undefined;
  try {
    // A first move (not timed) gives later plans a measured link, as a provider's state has.
    const first = await guests.shared("bench-link", h1, 0, "churn-fast", 512);
    await new Promise((r) => setTimeout(r, 3000)); // its working set touched
    await engineRun(pool, { domain: first.name, host: h2.name }, {});
    await guests.cleanup();

    for (const s of SCENARIOS.filter((sc) => parts.includes(sc.name[0]))) {
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
      rows.push({ scenario: s.name, runs, ...versusVirsh(engine, plain) });
      await guests.cleanup();
    }

    // (d) and (e): at a bandwidth cap.
    if (parts.includes("d")) {
      const fast = await benchNonConverging(lab, Math.min(runs, 3));
      rows.push(fast.row);
      raw.push(fast.raw);
    }
    if (parts.includes("f")) {
      const ceph = await benchCeph(lab, Math.min(runs, 3), measuredLinks);
      rows.push(...ceph.rows);
      raw.push(ceph.raw);
    }
    if (parts.includes("e")) {
      stream = await benchStreamOptions(lab, Math.min(runs, 2));
      raw.push(stream.raw);
    }
  } finally {
    await guests.cleanup();
    await pool.closeAll();
  }
  printTable(rows);
  if (stream) {
    console.log(`\n(e) stream options at a cap, moderate-churn 512 MiB guest`);
    printTable(stream.rows);
  }
  for (const note of NOTES) console.log(`  - ${note}`);
  console.log(
    `\nwritten to ${writeResults("engine", { date: new Date().toISOString(), rows, stream: stream?.rows, notes: NOTES, raw })}`,
  );
}

main().catch(async (err) => {
  console.error(err);
  process.exit(1);
});
