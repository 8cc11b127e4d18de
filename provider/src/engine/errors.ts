// Engine errors: a stable code, a message that says what to do, and the migration record.
import { VmpError, type MoveErrorCode } from "../errors";
import { findLibvirtError } from "../libvirt";
import type { MigrationRecord } from "./types";

export type EngineErrorCode = MoveErrorCode;

/** A move (or recovery, or failover) that ended without reaching its goal; `record` says how. */
export class MigrationError extends VmpError {
  declare readonly code: EngineErrorCode;

  constructor(
    code: EngineErrorCode,
    message: string,
    readonly record: MigrationRecord,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * The abort reason a caller gives when its own time limit for the operation passed (for the
 * provider: the resource's customTimeouts). The engine stops the way it does on a cancel, and
 * says which limit it was.
 */
export class DeadlineExceeded extends VmpError {
  constructor(message: string) {
    super("VMP_DEADLINE_EXCEEDED", message);
  }
}

/** Why a run was told to stop, as the engine words it in steps and messages. */
export function stopCause(signal: AbortSignal | undefined): {
  category: "cancelled" | "deadline";
  /** Completes "migration of vm ..." */
  phrase: string;
} {
  const reason: unknown = signal?.reason;
  return reason instanceof DeadlineExceeded
    ? { category: "deadline", phrase: `was stopped because ${reason.message}` }
    : { category: "cancelled", phrase: "was cancelled" };
}

/** An error as one line; libvirt errors keep libvirt's code name and message. */
export function describeError(err: unknown): string {
  const libvirt = findLibvirtError(err);
  if (libvirt) return `${libvirt.codeName}: ${libvirt.message}`;
  return err instanceof Error ? err.message : String(err);
}
