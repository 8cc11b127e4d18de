// Benchmark output: a plain table on stdout and the same rows as JSON under bench/results/.
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export type Row = Record<string, string | number>;

export function printTable(rows: Row[]): void {
  if (!rows.length) return;
  const columns = Object.keys(rows[0]);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  console.log(line(columns));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(columns.map((c) => String(r[c]))));
}

export function writeResults(name: string, data: unknown): string {
  const dir = path.resolve(__dirname, "..", "..", "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + "\n");
  // The latest run is the file above; every run stays in the history, one line each.
  appendFileSync(path.join(dir, `${name}.history.jsonl`), JSON.stringify(data) + "\n");
  return file;
}
