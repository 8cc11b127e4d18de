// What every resource controller implements, and the one list the server dispatches on. The
// server translates protobuf, secrets and unknowns into these plain shapes and back; a controller
// sees plain values, which of them were secret or unknown, and its operation's context.
import { VmpError, errorCode } from "../errors";
import type { CheckFailure } from "./check-failures";
import type { InputDiff } from "./input-diff";
import type { ProviderRuntime } from "./runtime";

/** A property value as Pulumi's wire carries it, once secrets and unknowns are taken out. */
export type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

export type PlainRecord = Record<string, Plain>;

/** Properties as the engine sent them: plain values, and which top-level ones were secret or unknown. */
export interface Props {
  value: PlainRecord;
  /** Top-level property names that held secrets (anywhere inside). */
  secrets: Set<string>;
  /** Top-level property names whose value is not known yet (preview). */
  unknowns: Set<string>;
}

/** Messages for the engine's log, shown next to the resource. */
export interface ResourceLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** A progress line: shown while it runs, not kept. */
  progress(message: string): void;
}

export interface OperationContext {
  /** The resource's URN, and its name (the URN's last part). */
  urn: string;
  name: string;
  preview: boolean;
  /** Fires on Cancel, the plugin's exit, or the operation's customTimeouts. */
  signal: AbortSignal;
  log: ResourceLog;
  /** The configured provider; throws VMP_NOT_CONFIGURED before Configure. */
  runtime(): ProviderRuntime;
}

/** A resource's state as a controller reports it; `unknown` names outputs not known yet (preview). */
export interface State {
  state: Record<string, unknown>;
  unknown?: string[];
}

export interface ResourceController {
  /** The type token, e.g. vmplacement:index:VmPlacement. */
  readonly token: string;
  /** Paths (nested keys) that are secrets wherever they appear, in inputs and in state. */
  readonly secretPaths: string[][];
  /** Whether the engine should refresh the resource (Read) before it updates it. */
  readonly refreshBeforeUpdate: boolean;
  /** Failures of the inputs; properties not known yet are checked again once they are. */
  check(news: Props, runtime: ProviderRuntime | undefined): CheckFailure[];
  diff(oldInputs: PlainRecord, oldState: PlainRecord, news: Props): InputDiff;
  create(news: Props, ctx: OperationContext): Promise<State & { id: string }>;
  update(news: Props, oldState: PlainRecord, ctx: OperationContext): Promise<State>;
  /** Refresh and import; undefined when the resource is gone. */
  read(
    id: string,
    state: Props,
    inputs: Props,
    ctx: OperationContext,
  ): Promise<
    { id: string; state: Record<string, unknown>; inputs: Record<string, unknown> } | undefined
  >;
  /** Deleting a resource changes no host (a placement only stops managing its VM). */
  delete(id: string, state: PlainRecord, ctx: OperationContext): Promise<void>;
}

/**
 * A Create or Update that failed after it had a resource to report: the engine keeps `state`
 * (where the VM is, and the failed attempt's record) and retries on the next run, as Pulumi's
 * partial-failure protocol has it. Its code is the cause's.
 */
export class ResourceFailedError extends VmpError {
  constructor(
    readonly cause: unknown,
    readonly id: string,
    readonly state: Record<string, unknown>,
  ) {
    super(
      errorCode(cause) ?? "VMP_MIGRATION_FAILED",
      cause instanceof Error ? cause.message : String(cause),
      { cause },
    );
  }
}
