// Small statistics for benchmark tables.

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : Math.round((s[mid - 1] + s[mid]) / 2);
}

/** "median (min-max)". */
export function spread(xs: number[]): string {
  return `${median(xs)} (${Math.min(...xs)}-${Math.max(...xs)})`;
}

export function ratio(a: number, b: number): number {
  return Number((a / b).toFixed(2));
}

/** The columns every engine-versus-virsh row has: median wall times, their ratio, downtimes. */
export function versusVirsh(
  engine: Array<{ wallMs: number; downtimeMs: number }>,
  plain: Array<{ wallMs: number; downtimeMs: number }>,
) {
  const ew = median(engine.map((r) => r.wallMs));
  const vw = median(plain.map((r) => r.wallMs));
  return {
    engine_wall_ms: ew,
    virsh_wall_ms: vw,
    wall_ratio: ratio(ew, vw),
    engine_downtime_ms: spread(engine.map((r) => r.downtimeMs)),
    virsh_downtime_ms: spread(plain.map((r) => r.downtimeMs)),
  };
}

/** The largest number of [start, end) intervals that overlap at one moment. */
export function peakOverlap(intervals: Array<{ start: number; end: number }>): number {
  const edges = intervals.flatMap((i) => [
    { t: i.start, d: 1 },
    { t: i.end, d: -1 },
  ]);
  // Ends before starts at the same instant: back-to-back moves do not overlap.
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (now += e.d));
  return peak;
}
