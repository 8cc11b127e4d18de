// The ResourceProvider gRPC service: Pulumi's provider protocol on the proto stubs that
// @pulumi/pulumi ships. Handlers unwrap secrets and unknowns, call the resource controllers,
// and map failures to Check failures or gRPC errors the engine shows to users.
import * as grpc from "@grpc/grpc-js";
import * as anyPb from "google-protobuf/google/protobuf/any_pb";
import * as emptyPb from "google-protobuf/google/protobuf/empty_pb";
import * as structPb from "google-protobuf/google/protobuf/struct_pb";
import * as pluginPb from "@pulumi/pulumi/proto/plugin_pb";
import * as pb from "@pulumi/pulumi/proto/provider_pb";
import * as statusPb from "@pulumi/pulumi/proto/status_pb";
import { LocationUnknownError, MigrationError } from "../engine";
import {
  MIGRATION_POLICY_TOKEN,
  checkPolicy,
  diffPolicy,
  type CheckFailure,
} from "../resources/migration-policy";
import { invokeFunction } from "../resources/functions";
import {
  PLACEMENT_GROUP_TOKEN,
  checkGroup,
  describeSolution,
  diffGroup,
  solveGroup,
  type GroupInputs,
} from "../resources/placement-group";
import type { DiffKind } from "../resources/input-diff";
import {
  VM_PLACEMENT_TOKEN,
  applyPlacement,
  checkPlacement,
  diffPlacement,
  PLACEMENT_COMPUTED_OUTPUTS,
  placementAwaitsInputs,
  readPlacement,
  PlacementBlockedError,
  PlacementFailedError,
  type PlacementInputs,
  type PlacementOutputs,
} from "../resources/vm-placement";
import {
  buildRuntime,
  checkConfig,
  decodeConfigValues,
  insecureSettings,
  type ProviderRuntime,
} from "./config";
import { operationSignal } from "./deadline";
import { EngineLog } from "./engine-log";
import { pluginFile } from "./plugin-files";
import { progressLine } from "../resources/progress-line";
import {
  compact,
  secret,
  UNKNOWN,
  unwrapProperties,
  wrapSecretAt,
  wrapSecrets,
  type Plain,
} from "./values";

type Call<Req> = grpc.ServerUnaryCall<Req, unknown>;
type Callback = grpc.sendUnaryData<unknown>;

export const PROVIDER_VERSION: string = JSON.parse(pluginFile("package.json")).version;

const DIFF_KINDS: Record<DiffKind, pb.PropertyDiff.Kind> = {
  add: pb.PropertyDiff.Kind.ADD,
  "add-replace": pb.PropertyDiff.Kind.ADD_REPLACE,
  delete: pb.PropertyDiff.Kind.DELETE,
  "delete-replace": pb.PropertyDiff.Kind.DELETE_REPLACE,
  update: pb.PropertyDiff.Kind.UPDATE,
  "update-replace": pb.PropertyDiff.Kind.UPDATE_REPLACE,
};

function typeOf(urn: string): string {
  // urn:pulumi:stack::project::type::name (the type may carry parent types joined by '$')
  const parts = urn.split("::");
  return (parts[2] ?? "").split("$").pop() ?? "";
}

function struct(obj: Record<string, unknown>): structPb.Struct {
  return structPb.Struct.fromJavaScript(compact(obj) as Record<string, structPb.JavaScriptValue>);
}

/**
 * A MigrationPolicy's state: its inputs and the normalized spec; webhook settings stay secret.
 * While an input is not known (preview), neither is the spec.
 */
function policyState(
  inputs: Plain,
  raw: Record<string, unknown>,
  unknowns: Set<string>,
): Record<string, Plain> {
  if (unknowns.size) return { ...(raw as Record<string, Plain>), spec: UNKNOWN };
  const spec = checkPolicy(inputs).spec;
  const specState = spec ? compact(spec as unknown as Record<string, unknown>) : null;
  if (specState?.notify) specState.notify = secret(specState.notify);
  const state = { ...(inputs as Record<string, Plain>), spec: specState };
  return wrapSecrets(state, ["notify"]);
}

/** A placement's preview while inputs it is planned from are not known yet. */
function awaitingInputs(raw: Record<string, unknown>): Record<string, Plain> {
  const unknown = Object.fromEntries(PLACEMENT_COMPUTED_OUTPUTS.map((k) => [k, UNKNOWN]));
  return { ...(raw as Record<string, Plain>), ...unknown };
}

/** What a group reports beyond its inputs: unknown while inputs it is solved from are. */
const GROUP_COMPUTED_OUTPUTS = ["assignments", "reasons", "unplaceable", "moves"];

/**
 * Secrets of a placement's state: outputs that echo inputs stay secret where the inputs were;
 * the domain's definition (graphics passwords, SMBIOS credentials, ...) and a webhook written
 * into the policy (URLs and headers carry tokens) always are.
 */
function keepSecrets(outs: PlacementOutputs, secrets: Set<string>): Record<string, Plain> {
  const state = wrapSecrets(compact(outs as unknown as Record<string, unknown>), [
    ...secrets,
    "definitionXml",
  ]);
  return wrapSecretAt(state, ["policy", "notify"]);
}

/**
 * The provider's configuration as the state keeps it: a default policy with a webhook is a secret
 * as a whole (config values arrive as JSON text, which cannot be part secret).
 */
function defaultPolicySecret(news: Record<string, unknown>): Record<string, unknown> {
  const policy = news.defaultPolicy;
  const text = typeof policy === "string" ? policy : JSON.stringify(policy ?? null);
  return text.includes('"notify"') ? wrapSecretAt(news, ["defaultPolicy"]) : news;
}

/** A placement's inputs as the state keeps them: a webhook written into its policy is secret. */
function placementInputsState(inputs: Record<string, Plain>): Record<string, Plain> {
  return wrapSecretAt(inputs, ["policy", "notify"]);
}

function failuresOf(failures: CheckFailure[]): pb.CheckFailure[] {
  return failures.map((f) => {
    const cf = new pb.CheckFailure();
    cf.setProperty(f.property);
    cf.setReason(f.reason);
    return cf;
  });
}

/**
 * A Create or Update that failed after it had a resource to report: the engine keeps `state`
 * (with the failed attempt's record) and retries the update on the next run, as Pulumi's
 * partial-failure protocol asks (ErrorResourceInitFailed in the gRPC status details).
 */
class PartialFailure extends Error {
  constructor(
    readonly cause: unknown,
    readonly id: string,
    readonly state: Record<string, Plain>,
    readonly inputs: Record<string, Plain>,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

function statusDetails(err: PartialFailure, code: grpc.status): grpc.Metadata {
  const detail = new pb.ErrorResourceInitFailed();
  detail.setId(err.id);
  detail.setProperties(struct(err.state));
  detail.setInputs(struct(err.inputs));
  detail.setReasonsList([err.message]);
  detail.setRefreshBeforeUpdate(true);
  const any = new anyPb.Any();
  any.pack(detail.serializeBinary(), "pulumirpc.ErrorResourceInitFailed");
  const status = new statusPb.Status();
  status.setCode(code);
  status.setMessage(err.message);
  status.addDetails(any);
  const metadata = new grpc.Metadata();
  metadata.add("grpc-status-details-bin", Buffer.from(status.serializeBinary()));
  return metadata;
}

function grpcError(failure: unknown): grpc.ServiceError {
  const err = failure instanceof PartialFailure ? failure.cause : failure;
  const message = err instanceof Error ? err.message : String(err);
  const code =
    err instanceof PlacementBlockedError
      ? grpc.status.FAILED_PRECONDITION
      : err instanceof LocationUnknownError
        ? grpc.status.UNAVAILABLE
        : err instanceof MigrationError && err.code === "VMP_MIGRATION_CANCELLED"
          ? grpc.status.CANCELLED
          : err instanceof MigrationError && err.code === "VMP_MIGRATION_TIMED_OUT"
            ? grpc.status.DEADLINE_EXCEEDED
            : grpc.status.UNKNOWN;
  return Object.assign(new Error(message), {
    code,
    details: message,
    metadata:
      failure instanceof PartialFailure ? statusDetails(failure, code) : new grpc.Metadata(),
  }) as grpc.ServiceError;
}

/** Runs a handler, turning thrown errors into gRPC errors. */
function handle<Req>(fn: (call: Call<Req>) => Promise<unknown>) {
  return (call: Call<Req>, callback: Callback) => {
    fn(call).then(
      (resp) => callback(null, resp),
      (err) => callback(grpcError(err)),
    );
  };
}

export class VmPlacementProvider {
  private runtime: ProviderRuntime | undefined;
  private readonly cancel = new AbortController();
  /** Placements in flight, so a shutdown can let them roll back first. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Hosts the groups solved in this run assigned, by domain, so a placement's error names them. */
  private readonly assignedBy = new Map<string, { group: string; host: string; reason: string }>();
  readonly engineLog = new EngineLog();

  constructor(private readonly schema: string) {}

  /** Whether operations are in flight. */
  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  /**
   * For the plugin's exit: cancels what still runs (a migration rolls back to its source), waits
   * for it up to `graceMs`, and closes the libvirt connections.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.cancel.abort();
    const settled = Promise.allSettled([...this.inFlight]);
    await Promise.race([settled, new Promise((r) => setTimeout(r, graceMs).unref())]);
    await this.runtime?.pool.closeAll().catch(() => undefined);
    this.engineLog.close();
  }

  private requireRuntime(): ProviderRuntime {
    if (!this.runtime)
      throw new Error(
        "the vmplacement provider is not configured: set vmplacement:hosts in the stack configuration",
      );
    return this.runtime;
  }

  service(): grpc.UntypedServiceImplementation {
    return {
      handshake: handle<pb.ProviderHandshakeRequest>(async (call) => {
        this.engineLog.connect(call.request.getEngineAddress());
        const resp = new pb.ProviderHandshakeResponse();
        resp.setAcceptSecrets(true);
        resp.setAcceptResources(false);
        resp.setAcceptOutputs(false);
        return resp;
      }),
      getPluginInfo: handle(async () => {
        const info = new pluginPb.PluginInfo();
        info.setVersion(PROVIDER_VERSION);
        return info;
      }),
      getSchema: handle(async () => {
        const resp = new pb.GetSchemaResponse();
        resp.setSchema(this.schema);
        return resp;
      }),
      checkConfig: handle<pb.CheckRequest>(async (call) => {
        const news = call.request.getNews()?.toJavaScript() ?? {};
        const { config, failures } = checkConfig(
          decodeConfigValues(unwrapProperties(news).value as Record<string, unknown>),
        );
        // Checked on every preview and update: an insecure opt-out is said each time.
        for (const warning of config ? insecureSettings(config) : [])
          await this.engineLog.log("warning", warning, call.request.getUrn());
        const resp = new pb.CheckResponse();
        resp.setInputs(struct(defaultPolicySecret(news)));
        resp.setFailuresList(failuresOf(failures));
        return resp;
      }),
      diffConfig: handle<pb.DiffRequest>(async (call) => {
        const olds = JSON.stringify(unwrapProperties(call.request.getOlds()?.toJavaScript()).value);
        const news = JSON.stringify(unwrapProperties(call.request.getNews()?.toJavaScript()).value);
        const resp = new pb.DiffResponse();
        resp.setChanges(
          olds === news
            ? pb.DiffResponse.DiffChanges.DIFF_NONE
            : pb.DiffResponse.DiffChanges.DIFF_SOME,
        );
        return resp;
      }),
      configure: handle<pb.ConfigureRequest>(async (call) => {
        const args = call.request.getArgs()?.toJavaScript();
        const raw: Record<string, unknown> = args
          ? (unwrapProperties(args).value as Record<string, unknown>)
          : Object.fromEntries(call.request.getVariablesMap().entries());
        const { config, policy, failures } = checkConfig(decodeConfigValues(raw));
        if (!config || failures.length)
          throw new Error(
            `invalid provider configuration: ${failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`,
          );
        await this.runtime?.pool.closeAll();
        this.runtime = buildRuntime(config, policy);
        const resp = new pb.ConfigureResponse();
        resp.setAcceptsecrets(true);
        resp.setSupportspreview(true);
        resp.setAcceptresources(false);
        resp.setAcceptoutputs(false);
        return resp;
      }),
      check: handle<pb.CheckRequest>(async (call) => {
        const type = typeOf(call.request.getUrn());
        const news = unwrapProperties(call.request.getNews()?.toJavaScript());
        let failures: CheckFailure[];
        if (type === MIGRATION_POLICY_TOKEN) failures = checkPolicy(news.value).failures;
        else if (type === VM_PLACEMENT_TOKEN)
          failures = checkPlacement(news.value, this.runtime).failures;
        else if (type === PLACEMENT_GROUP_TOKEN)
          failures = news.unknowns.size ? [] : checkGroup(news.value, this.runtime).failures;
        else failures = [{ property: "", reason: `unknown resource type ${type}` }];
        // Values not known yet (preview) are checked again once they are.
        failures = failures.filter((f) => !news.unknowns.has(f.property.split(/[.[]/)[0]));
        const resp = new pb.CheckResponse();
        const raw = call.request.getNews()?.toJavaScript() ?? {};
        resp.setInputs(
          type === VM_PLACEMENT_TOKEN
            ? struct(placementInputsState(raw as Record<string, Plain>))
            : call.request.getNews(),
        );
        resp.setFailuresList(failuresOf(failures));
        return resp;
      }),
      diff: handle<pb.DiffRequest>(async (call) => this.diff(call.request)),
      create: handle<pb.CreateRequest>(async (call) => {
        const type = typeOf(call.request.getUrn());
        const props = unwrapProperties(call.request.getProperties()?.toJavaScript());
        const resp = new pb.CreateResponse();
        const raw = call.request.getProperties()?.toJavaScript() ?? {};
        if (type === MIGRATION_POLICY_TOKEN) {
          resp.setId(call.request.getUrn().split("::").pop() ?? "policy");
          resp.setProperties(struct(policyState(props.value, raw, props.unknowns)));
          return resp;
        }
        if (type === PLACEMENT_GROUP_TOKEN) {
          resp.setId(call.request.getUrn().split("::").pop() ?? "group");
          resp.setProperties(
            struct(await this.group(call.request.getUrn(), props.value, raw, props.unknowns)),
          );
          return resp;
        }
        if (call.request.getPreview() && placementAwaitsInputs(props.unknowns)) {
          // Nothing to plan yet: known inputs as given, everything it would report unknown.
          const domain = (props.value as Record<string, Plain>).domain;
          resp.setId(props.unknowns.has("domain") ? "" : String(domain));
          resp.setProperties(struct(awaitingInputs(raw)));
          resp.setRefreshBeforeUpdate(true);
          return resp;
        }
        const outs = await this.place(call.request.getUrn(), props.value as PlacementInputs, {
          preview: call.request.getPreview(),
          timeoutSeconds: call.request.getTimeout(),
          operation: "create",
          secrets: props.secrets,
        });
        resp.setId(outs.domain);
        resp.setProperties(struct(keepSecrets(outs, props.secrets)));
        resp.setRefreshBeforeUpdate(true);
        return resp;
      }),
      update: handle<pb.UpdateRequest>(async (call) => {
        const type = typeOf(call.request.getUrn());
        const news = unwrapProperties(call.request.getNews()?.toJavaScript());
        const olds = unwrapProperties(call.request.getOlds()?.toJavaScript())
          .value as Partial<PlacementOutputs>;
        const resp = new pb.UpdateResponse();
        const raw = call.request.getNews()?.toJavaScript() ?? {};
        if (type === MIGRATION_POLICY_TOKEN) {
          resp.setProperties(struct(policyState(news.value, raw, news.unknowns)));
          return resp;
        }
        if (type === PLACEMENT_GROUP_TOKEN) {
          const previous = (olds as { assignments?: Record<string, string> }).assignments;
          resp.setProperties(
            struct(
              await this.group(call.request.getUrn(), news.value, raw, news.unknowns, previous),
            ),
          );
          return resp;
        }
        if (call.request.getPreview() && placementAwaitsInputs(news.unknowns)) {
          resp.setProperties(struct(awaitingInputs(raw)));
          resp.setRefreshBeforeUpdate(true);
          return resp;
        }
        const outs = await this.place(call.request.getUrn(), news.value as PlacementInputs, {
          preview: call.request.getPreview(),
          timeoutSeconds: call.request.getTimeout(),
          operation: "update",
          previous: olds,
          secrets: news.secrets,
        });
        resp.setProperties(struct(keepSecrets(outs, news.secrets)));
        resp.setRefreshBeforeUpdate(true);
        return resp;
      }),
      read: handle<pb.ReadRequest>(async (call) => {
        const type = typeOf(call.request.getUrn());
        const state = unwrapProperties(call.request.getProperties()?.toJavaScript());
        const given = unwrapProperties(call.request.getInputs()?.toJavaScript());
        const props = state.value as Partial<PlacementOutputs>;
        const inputs = given.value as Partial<PlacementInputs>;
        const resp = new pb.ReadResponse();
        // A group's state is its last solution: it changes when its rules do, not on refresh.
        if (type === MIGRATION_POLICY_TOKEN || type === PLACEMENT_GROUP_TOKEN) {
          resp.setId(call.request.getId());
          resp.setProperties(call.request.getProperties());
          resp.setInputs(call.request.getInputs());
          return resp;
        }
        const read = await readPlacement(
          this.requireRuntime(),
          call.request.getId(),
          props,
          inputs,
        );
        if (!read) return resp; // gone: an empty id tells the engine so
        const secrets = new Set([...state.secrets, ...given.secrets]);
        resp.setId(read.outputs.domain);
        resp.setProperties(struct(keepSecrets(read.outputs, secrets)));
        resp.setInputs(struct(placementInputsState(wrapSecrets(compact(read.inputs), secrets))));
        resp.setRefreshBeforeUpdate(true);
        return resp;
      }),
      delete: handle(async () => new emptyPb.Empty()),
      cancel: handle(async () => {
        this.cancel.abort();
        return new emptyPb.Empty();
      }),
      getMapping: handle(async () => new pb.GetMappingResponse()),
      getMappings: handle(async () => new pb.GetMappingsResponse()),
      parameterize: handle(async () => {
        throw Object.assign(new Error("vmplacement does not take parameters"), {
          code: grpc.status.UNIMPLEMENTED,
        });
      }),
      invoke: handle<pb.InvokeRequest>(async (call) => {
        const token = call.request.getTok();
        const args = unwrapProperties(call.request.getArgs()?.toJavaScript()).value;
        const { result, failures } = await invokeFunction(token, () => this.requireRuntime(), args);
        const resp = new pb.InvokeResponse();
        if (result) resp.setReturn(struct(result));
        if (failures) resp.setFailuresList(failuresOf(failures));
        return resp;
      }),
      attach: handle(async () => new emptyPb.Empty()),
    };
  }

  private diff(req: pb.DiffRequest): pb.DiffResponse {
    const type = typeOf(req.getUrn());
    // Old inputs as the state has them (refreshed first when the resource asks for it); engines
    // that send none leave the old outputs, which echo the inputs.
    const oldOutputs = unwrapProperties(req.getOlds()?.toJavaScript()).value as Record<
      string,
      Plain
    >;
    const olds = req.hasOldInputs()
      ? (unwrapProperties(req.getOldInputs()?.toJavaScript()).value as Record<string, Plain>)
      : oldOutputs;
    const news = unwrapProperties(req.getNews()?.toJavaScript());
    const n = news.value as Record<string, Plain>;
    const { changes, replaces, fromState } =
      type === VM_PLACEMENT_TOKEN
        ? diffPlacement(olds, oldOutputs, n, news.unknowns)
        : type === PLACEMENT_GROUP_TOKEN
          ? diffGroup(olds, n, news.unknowns)
          : diffPolicy(olds, n, news.unknowns);
    const resp = new pb.DiffResponse();
    resp.setChanges(
      changes.size ? pb.DiffResponse.DiffChanges.DIFF_SOME : pb.DiffResponse.DiffChanges.DIFF_NONE,
    );
    resp.setDiffsList([...changes.keys()]);
    resp.setReplacesList(replaces);
    resp.setHasdetaileddiff(true);
    const detailed = resp.getDetaileddiffMap();
    for (const [key, kind] of changes) {
      const pd = new pb.PropertyDiff();
      pd.setKind(DIFF_KINDS[kind]);
      pd.setInputdiff(!fromState.includes(key));
      detailed.set(key, pd);
    }
    return resp;
  }

  /** Solves a group from the facts now (in preview too) and logs each move and blocker. */
  private async group(
    urn: string,
    inputs: Plain,
    raw: Record<string, unknown>,
    unknowns: Set<string>,
    previousAssignments?: Record<string, string>,
  ): Promise<Record<string, Plain>> {
    if (unknowns.size) {
      const unknown = Object.fromEntries(GROUP_COMPUTED_OUTPUTS.map((k) => [k, UNKNOWN]));
      return { ...(raw as Record<string, Plain>), ...unknown };
    }
    const runtime = this.requireRuntime();
    const { inputs: checked, failures } = checkGroup(inputs, runtime);
    if (!checked || failures.length)
      throw new Error(failures.map((f) => `${f.property}: ${f.reason}`).join("; "));
    const { outputs, solution } = await solveGroup(
      runtime,
      checked as GroupInputs,
      previousAssignments,
    );
    for (const line of describeSolution(solution)) await this.engineLog.log("info", line, urn);
    const group = urn.split("::").pop() ?? "group";
    for (const [domain, a] of Object.entries(solution.assignments))
      this.assignedBy.set(domain, { group, host: a.host, reason: a.reason });
    return compact(outputs as unknown as Record<string, unknown>);
  }

  private async place(
    urn: string,
    inputs: PlacementInputs,
    options: {
      preview: boolean;
      timeoutSeconds: number;
      operation: "create" | "update";
      previous?: Partial<PlacementOutputs>;
      /** Input properties that were secrets, so the failed attempt's state keeps them secret. */
      secrets: Set<string>;
    },
  ): Promise<PlacementOutputs> {
    const { secrets } = options;
    const { preview, previous } = options;
    const runtime = this.requireRuntime();
    const stop = operationSignal(this.cancel.signal, options.timeoutSeconds, options.operation);
    const work = applyPlacement(runtime, inputs, {
      preview,
      claimant: urn.split("::").pop() || inputs.domain,
      previous,
      signal: stop.signal,
      warn: (message) => void this.engineLog.log("warning", message, urn),
      info: (message) => void this.engineLog.log("info", message, urn),
      onProgress: (p) => void this.engineLog.log("info", progressLine(p), urn, true),
    })
      .catch((err: unknown) => {
        // A host a group assigned: the error says so next to the placement's own reason.
        const by = this.assignedBy.get(inputs.domain);
        if (err instanceof Error && by && by.host === inputs.host)
          err.message += ` (host ${by.host} was assigned by PlacementGroup '${by.group}': ${by.reason})`;
        throw err;
      })
      .catch(async (err: unknown) => {
        if (!(err instanceof PlacementFailedError)) throw err;
        const { record } = err.cause;
        await this.engineLog.log(
          "error",
          `${inputs.domain}: ${record.result} (${record.steps.length} steps); ${err.message}`,
          urn,
        );
        // The state keeps the placement, where the VM really is, and the failed attempt.
        throw new PartialFailure(
          err.cause,
          inputs.domain,
          keepSecrets(err.outputs, secrets),
          placementInputsState(
            wrapSecrets(compact(inputs as unknown as Record<string, unknown>), secrets),
          ),
        );
      })
      .finally(stop.done);
    this.inFlight.add(work);
    const outs = await work.finally(() => this.inFlight.delete(work));
    if (preview && outs.plannedMigration) {
      await this.engineLog.log("info", outs.plannedMigration.summary, urn);
      for (const w of outs.plannedMigration.warnings)
        await this.engineLog.log("warning", `${inputs.domain}: ${w}`, urn);
    }
    if (!preview && outs.lastMigration && outs.lastMigration !== previous?.lastMigration) {
      const r = outs.lastMigration;
      await this.engineLog.log(
        "info",
        `${r.domain}: ${r.from} -> ${r.finalHost} ${r.result} (${r.mode}${r.postCopy ? ", post-copy" : ""}${r.fallbackUsed ? ", offline fallback" : ""}) in ${r.durationMs} ms, downtime ${r.downtimeMs ?? "n/a"} ms`,
        urn,
      );
    }
    return outs;
  }
}
