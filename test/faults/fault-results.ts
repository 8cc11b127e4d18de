// Collects one row per injected fault and writes the table (and JSON) when the tier ends.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface FaultRow {
  fault: string;
  mode: string;
  phase: string;
  /** What the failed attempt's record said. */
  result: string;
  /** Where the VM ran after the fault, and what the checks found. */
  ranOn: string;
  heartbeat: string;
  checksum: string;
  state: string;
  leftovers: string;
  /** Seconds from repairing the fault to the converged placement. */
  convergeSeconds: number;
}

const rows: FaultRow[] = [];

export function recordFault(row: FaultRow): void {
  rows.push(row);
}

const OUT = path.resolve(__dirname, "..", "..", "..", "build", "fault-results.json");

export function writeFaultTable(): void {
  if (!rows.length) return;
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(rows, null, 2));
  const cols = Object.keys(rows[0]) as Array<keyof FaultRow>;
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(width[i])).join(" | ");
  console.log(`\n${rows.length} injected faults (${OUT})`);
  console.log(line(cols));
  for (const r of rows) console.log(line(cols.map((c) => String(r[c]))));
}

// Once per run, whichever fault files ran (this module is loaded once): a root hook.
after(() => writeFaultTable());
