// Engine errors: a stable code, a message that says what to do, and the migration record.
import type { MigrationRecord } from "./types";

export type EngineErrorCode =
  | "VMP_PLAN_BLOCKED"
  | "VMP_MIGRATION_FAILED"
  | "VMP_MIGRATION_ABORTED"
  | "VMP_MIGRATION_CANCELLED"
  | "VMP_VERIFICATION_FAILED";

export class MigrationError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly record: MigrationRecord,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "MigrationError";
  }
}
