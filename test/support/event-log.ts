// Reads the engine events `pulumi up --event-log <file>` writes (one JSON object per line).
import { readFileSync } from "node:fs";

export interface Diagnostic {
  message: string;
  severity: string;
  ephemeral: boolean;
  urn?: string;
}

/** The diagnostic messages of an event log, in order, with the CLI's trailing newline cut. */
export function diagnostics(eventLogPath: string): Diagnostic[] {
  const found: Diagnostic[] = [];
  for (const line of readFileSync(eventLogPath, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const event = JSON.parse(line) as { diagnosticEvent?: Diagnostic };
    const d = event.diagnosticEvent;
    if (d) found.push({ ...d, message: d.message.replace(/\n$/, ""), ephemeral: !!d.ephemeral });
  }
  return found;
}
