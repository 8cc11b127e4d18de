// The one error base of the provider: every error we raise carries a stable code (callers and
// tests match codes, never wording), and server/grpc-status.ts maps each code to a gRPC status in
// one table. libvirt's own errors keep libvirt's code name (libvirt/errors.ts).

/** How a move, a recovery or a failover ended without reaching its goal (MigrationError). */
export type MoveErrorCode =
  /** A plan with blockers: nothing was started (a refused failover too). */
  | "VMP_PLAN_BLOCKED"
  | "VMP_MIGRATION_FAILED"
  | "VMP_MIGRATION_ABORTED"
  | "VMP_MIGRATION_CANCELLED"
  | "VMP_MIGRATION_TIMED_OUT"
  | "VMP_VERIFICATION_FAILED"
  | "VMP_RECOVERY_FAILED"
  /** A failover's fence agent did not confirm the lost host is off: nothing was started. */
  | "VMP_FENCE_UNCONFIRMED";

export type VmpErrorCode =
  | MoveErrorCode
  /** The provider has no configuration yet (no `vmplacement:hosts`). */
  | "VMP_NOT_CONFIGURED"
  /** Inputs, config or function arguments that fail validation. */
  | "VMP_INVALID_INPUT"
  /** A resource type or function this provider does not have. */
  | "VMP_UNKNOWN_TOKEN"
  | "VMP_UNIMPLEMENTED"
  /** Hosts that did not answer leave open where a domain runs. */
  | "VMP_LOCATION_UNKNOWN"
  /** The domain is on no inventory host. */
  | "VMP_DOMAIN_NOT_FOUND"
  /** The operation's own time limit (customTimeouts) passed. */
  | "VMP_DEADLINE_EXCEEDED"
  /** A fence agent could not be run as configured. */
  | "VMP_FENCE_AGENT";

export class VmpError extends Error {
  constructor(
    /** Ours (VmpErrorCode), or libvirt's code name for errors libvirt returned. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The code of an error, when it is one of ours (or libvirt's). */
export function errorCode(err: unknown): string | undefined {
  return err instanceof VmpError ? err.code : undefined;
}

/** An error as its message, whatever was thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
