// The provider through the real Pulumi CLI on the lab, against plain virsh in the same run:
//   (a) one live migration by `pulumi up` vs `virsh migrate` with the same flags,
//   (b) `pulumi preview` of many placements: wall time and libvirt connections opened,
//   (c) rebalancing 12 VMs: `pulumi up` (concurrent within per-host limits) vs a virsh loop,
//   (d) a fast-churn guest at 40 MiB/s vs `virsh migrate --postcopy --postcopy-after-precopy`,
//   (e) compression and parallel connections at 40 MiB/s: wire bytes, wall, efficiency,
//   (f) one live migration of a guest on Ceph RBD (nothing copied) vs `virsh migrate`,
//   (g) preview and up of [scale] placements over ssh vs as many trivial resources (not by default).
//   node build/bench/provider.js [runs] [parts] [placements] [scale]   e.g. `3 a,c`  (defaults: 5 a,b,c,d,e,f 200 2000)
// The lab must be up and the Pulumi toolchain on PATH (source scripts/pulumi-env.sh).
import { randomBytes } from "node:crypto";
import { loadLab } from "../test/lab/lab";
import { Cleanup } from "./cleanup";
import type { BenchContext, PartResult } from "./provider-context";
import {
  benchNonConvergingMove,
  benchOneMigration,
  benchRbdMigration,
  benchStreamOptions,
} from "./provider-migration";
import { benchPreview } from "./provider-preview";
import { benchRebalance } from "./provider-rebalance";
import { benchScale } from "./provider-scale";
import { printTable, writeResults } from "./report";

/** Per-host limits the rebalance compares; the first runs before the virsh loop. */
const REBALANCE_LIMITS = [2, 1];

function parseArgs(argv: string[]) {
  const runs = Number(argv[0] ?? 5);
  const parts = (argv[1] ?? "a,b,c,d,e,f").split(",");
  const placements = Number(argv[2] ?? 200);
  const scale = Number(argv[3] ?? 2000);
  if (
    !(runs >= 1) ||
    !(placements >= 3) ||
    !(scale >= 3) ||
    parts.some((p) => !"abcdefg".includes(p) || p.length !== 1)
  )
    throw new Error(
      "usage: provider.js [runs >= 1] [parts: a,b,c,d,e,f,g] [placements >= 3] [scale >= 3]",
    );
  return { runs, parts, placements, scale };
}

async function main(): Promise<void> {
  const { runs, parts, placements, scale } = parseArgs(process.argv.slice(2));
  const cleanup = new Cleanup();
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      console.error(`\n${signal}: cleaning up`);
      void cleanup.runAll().finally(() => process.exit(130));
    });
  const ctx: BenchContext = {
    lab: loadLab(),
    // A group id of its own for the measured pulumi process trees.
    gid: 40000 + (process.pid % 20000),
    runId: randomBytes(2).toString("hex"),
    cleanup,
  };
  const parts_: Record<string, () => Promise<PartResult>> = {
    a: () => benchOneMigration(ctx, runs),
    // A 200-placement preview takes tens of seconds on a busy lab: at most 3 of each.
    b: () => benchPreview(ctx, placements, Math.min(runs, 3)),
    c: () => benchRebalance(ctx, REBALANCE_LIMITS),
    // Moves at a cap take tens of seconds each: at most 3 (d) and 2 per option (e).
    d: () => benchNonConvergingMove(ctx, Math.min(runs, 3)),
    e: () => benchStreamOptions(ctx, Math.min(runs, 2)),
    f: () => benchRbdMigration(ctx, runs),
    g: () => benchScale(ctx, scale),
  };
  const started = Date.now();
  const results: PartResult[] = [];
  const failures: string[] = [];
  for (const part of parts) {
    console.log(`part (${part})...`);
    try {
      results.push(await parts_[part]());
    } catch (err) {
      failures.push(`(${part}): ${(err as Error).stack ?? String(err)}`);
      console.error(`part (${part}) failed: ${String(err)}`);
    }
  }
  await cleanup.runAll();

  for (const r of results) {
    console.log(`\n${r.title}`);
    printTable(r.rows);
    for (const note of r.notes) console.log(`  - ${note}`);
  }
  const file = writeResults("provider", {
    date: new Date().toISOString(),
    runs,
    placements,
    totalMs: Date.now() - started,
    parts: results,
    failures,
  });
  console.log(`\ntotal ${Math.round((Date.now() - started) / 1000)} s; written to ${file}`);
  if (failures.length) {
    console.error(failures.join("\n"));
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
