// Check failures: the property path, and a reason that says what to do. zod's issues become
// failures with the path as users write it (a.b[0].c).
import type { z } from "zod";

export interface CheckFailure {
  property: string;
  reason: string;
}

export function zodFailures(err: z.ZodError, prefix = ""): CheckFailure[] {
  return err.issues.map((i) => {
    const property =
      prefix +
      i.path
        .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
        .join("")
        .replace(/^\./, "");
    const reason =
      i.code === "unrecognized_keys"
        ? `unknown propert${i.keys.length > 1 ? "ies" : "y"} ${i.keys.join(", ")}; check its spelling against the schema's documented names`
        : i.message;
    return { property: property || prefix.replace(/\.$/, "") || "(inputs)", reason };
  });
}

/** Failures as one line, for an error where a check failure cannot be returned. */
export function describeFailures(failures: CheckFailure[]): string {
  return failures.map((f) => `${f.property}: ${f.reason}`).join("; ");
}
