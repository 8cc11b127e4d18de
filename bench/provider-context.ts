// What every provider benchmark part gets, and what it returns.
import type { LabDescription, LabHost } from "../test/lab/lab";
import type { Cleanup } from "./cleanup";
import type { Row } from "./report";

export interface BenchContext {
  lab: LabDescription;
  /** Group id the measured Pulumi commands run under (see connection-counter). */
  gid: number;
  /** Short id that keeps names of this run apart from other runs and tests. */
  runId: string;
  cleanup: Cleanup;
}

export interface PartResult {
  title: string;
  rows: Row[];
  notes: string[];
  raw: unknown;
}

/** The host after `host` in the lab's order, wrapping around. */
export function nextHost(lab: LabDescription, host: string, steps = 1): LabHost {
  const i = lab.hosts.findIndex((h) => h.name === host);
  return lab.hosts[(i + steps) % lab.hosts.length];
}
