// The ResourceProvider gRPC service: Pulumi's provider protocol on the proto stubs that
// @pulumi/pulumi ships. It translates protobuf, secrets and unknowns, dispatches by type token to
// the resource controllers (resources/registry.ts), and maps failures to Check failures or gRPC
// errors (grpc-status.ts). It knows no resource by name.
import * as grpc from "@grpc/grpc-js";
import * as emptyPb from "google-protobuf/google/protobuf/empty_pb";
import * as structPb from "google-protobuf/google/protobuf/struct_pb";
import * as pluginPb from "@pulumi/pulumi/proto/plugin_pb";
import * as pb from "@pulumi/pulumi/proto/provider_pb";
import { VmpError } from "../errors";
import type { CheckFailure } from "../resources/check-failures";
import {
  ResourceFailedError,
  type OperationContext,
  type Props,
  type ResourceController,
  type State,
} from "../resources/controller";
import { invokeFunction } from "../resources/functions";
import type { DiffKind } from "../resources/input-diff";
import { controllerFor, RESOURCE_TOKENS } from "../resources/registry";
import {
  buildRuntime,
  checkConfig,
  decodeConfigValues,
  SECRET_CONFIG_KEYS,
  withEnvironmentDefaults,
  insecureSettings,
  type ProviderRuntime,
} from "./config";
import { operationSignal } from "./deadline";
import { EngineLog } from "./engine-log";
import { grpcError, type PartialState } from "./grpc-status";
import { pluginFile } from "./plugin-files";
import {
  compact,
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

const props = (s: structPb.Struct | undefined): Props => unwrapProperties(s?.toJavaScript());

/** Values with the named top-level properties and the controller's secret paths as secrets. */
function withSecrets(
  controller: ResourceController,
  values: Record<string, unknown>,
  secrets: Iterable<string>,
): Record<string, Plain> {
  let out = wrapSecrets(compact(values), secrets);
  for (const path of controller.secretPaths) out = wrapSecretAt(out, path);
  return out;
}

/** A controller's state as the engine keeps it: unknowns marked, secrets where inputs had them. */
function stateOf(controller: ResourceController, result: State, news: Props): structPb.Struct {
  const state = compact(result.state);
  for (const key of [...news.unknowns, ...(result.unknown ?? [])]) state[key] = UNKNOWN;
  return struct(withSecrets(controller, state, news.secrets));
}

/**
 * The inputs of a Check response: as sent (unknowns and secrets in wire form), with the paths
 * the controller always keeps secret made secret.
 */
function checkedInputs(controller: ResourceController, raw: Record<string, unknown>) {
  return struct(controller.secretPaths.reduce((out, path) => wrapSecretAt(out, path), raw));
}

/**
 * Check failures on the wire. The engine looks a named property up among the top-level inputs
 * only, and prints "value {<nil>}" for a nested one, so the property goes in the reason alone,
 * first: a reason that opens with it as a subject (as checkInputs writes them, "policy.maxDowntimeMs
 * is ...", "vmplacement:hosts[0].uri is ...") goes as it is; any other gets "<property>: " first.
 */
export function failureReason(f: CheckFailure): string {
  const opensWithProperty = [f.property, `vmplacement:${f.property}`].some(
    (name) => f.reason.startsWith(name) && /^( is |: |$)/.test(f.reason.slice(name.length)),
  );
  return opensWithProperty ? f.reason : `${f.property}: ${f.reason}`;
}

function failuresOf(failures: CheckFailure[]): pb.CheckFailure[] {
  return failures.map((f) => {
    const cf = new pb.CheckFailure();
    cf.setReason(failureReason(f));
    return cf;
  });
}

/** Runs a handler, turning thrown errors into gRPC errors. */
function handle<Req>(fn: (call: Call<Req>) => Promise<unknown>) {
  return (call: Call<Req>, callback: Callback) => {
    fn(call).then(
      (resp) => callback(null, resp),
      (err: unknown) => callback(err instanceof GrpcFailure ? err.error : grpcError(err)),
    );
  };
}

/** A failure already translated, with the partial state it reports. */
class GrpcFailure extends Error {
  constructor(readonly error: grpc.ServiceError) {
    super(error.message);
  }
}

const unknownType = (type: string) =>
  new VmpError(
    "VMP_UNKNOWN_TOKEN",
    `unknown resource type ${type}; vmplacement has ${RESOURCE_TOKENS.join(", ")}`,
  );

export class VmPlacementProvider {
  private runtime: ProviderRuntime | undefined;
  private readonly stopAll = new AbortController();
  /** Operations in flight, so a shutdown can let them roll back first. */
  private readonly inFlight = new Set<Promise<unknown>>();
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
    this.stopAll.abort();
    const settled = Promise.allSettled([...this.inFlight]);
    await Promise.race([settled, new Promise((r) => setTimeout(r, graceMs).unref())]);
    await this.runtime?.pool.closeAll().catch(() => undefined);
    this.engineLog.close();
  }

  private requireRuntime(): ProviderRuntime {
    if (!this.runtime)
      throw new VmpError(
        "VMP_NOT_CONFIGURED",
        "the vmplacement provider is not configured: set vmplacement:hosts in the stack configuration",
      );
    return this.runtime;
  }

  private controller(urn: string): ResourceController {
    const type = typeOf(urn);
    const controller = controllerFor(type);
    if (!controller) throw unknownType(type);
    return controller;
  }

  /**
   * Runs one operation of a resource with its context: a signal for Cancel, the plugin's exit
   * and (for create and update) its customTimeouts; log lines sent before it answers.
   */
  private async operation<T>(
    urn: string,
    options: { preview?: boolean; timeoutSeconds?: number; kind?: "create" | "update" },
    run: (ctx: OperationContext) => Promise<T>,
  ): Promise<T> {
    const stop = options.kind
      ? operationSignal(this.stopAll.signal, options.timeoutSeconds ?? 0, options.kind)
      : { signal: this.stopAll.signal, done: () => undefined };
    const sent: Promise<void>[] = [];
    const say =
      (severity: "info" | "warning" | "error", ephemeral = false) =>
      (m: string) =>
        void sent.push(this.engineLog.log(severity, m, urn, ephemeral));
    const ctx: OperationContext = {
      urn,
      name: urn.split("::").pop() ?? "",
      preview: options.preview ?? false,
      signal: stop.signal,
      log: {
        info: say("info"),
        warn: say("warning"),
        error: say("error"),
        progress: say("info", true),
      },
      runtime: () => this.requireRuntime(),
    };
    const work = run(ctx).finally(stop.done);
    this.inFlight.add(work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(work);
      await Promise.allSettled(sent);
    }
  }

  /**
   * A Create or Update: the controller's state, or its failure as a gRPC error that carries the
   * state a failed move left (partial failure), so the engine keeps the resource.
   */
  private async write(
    urn: string,
    news: Props,
    options: { preview: boolean; timeoutSeconds: number; kind: "create" | "update" },
    run: (
      controller: ResourceController,
      ctx: OperationContext,
    ) => Promise<State & { id?: string }>,
  ): Promise<{ id?: string; properties: structPb.Struct; controller: ResourceController }> {
    const controller = this.controller(urn);
    try {
      const result = await this.operation(urn, options, (ctx) => run(controller, ctx));
      return { id: result.id, properties: stateOf(controller, result, news), controller };
    } catch (err) {
      if (!(err instanceof ResourceFailedError)) throw err;
      const partial: PartialState = {
        id: err.id,
        state: struct(withSecrets(controller, err.state, news.secrets)),
        inputs: struct(withSecrets(controller, news.value, news.secrets)),
      };
      throw new GrpcFailure(grpcError(err, partial));
    }
  }

  /** The service: one handler per RPC of provider.proto. */
  service(): grpc.UntypedServiceImplementation {
    return {
      handshake: handle(this.handshake),
      getPluginInfo: handle(this.getPluginInfo),
      getSchema: handle(this.getSchema),
      checkConfig: handle(this.checkConfig),
      diffConfig: handle(this.diffConfig),
      configure: handle(this.configure),
      check: handle(this.check),
      diff: handle<pb.DiffRequest>(async (call) => this.diff(call.request)),
      create: handle(this.create),
      update: handle(this.update),
      read: handle(this.read),
      delete: handle(this.delete),
      cancel: handle(this.cancel),
      getMapping: handle(async () => new pb.GetMappingResponse()),
      getMappings: handle(async () => new pb.GetMappingsResponse()),
      parameterize: handle(this.parameterize),
      invoke: handle(this.invoke),
      attach: handle(async () => new emptyPb.Empty()),
    };
  }

  private readonly handshake = async (call: Call<pb.ProviderHandshakeRequest>) => {
    this.engineLog.connect(call.request.getEngineAddress());
    const resp = new pb.ProviderHandshakeResponse();
    resp.setAcceptSecrets(true);
    resp.setAcceptResources(false);
    resp.setAcceptOutputs(false);
    return resp;
  };

  private readonly getPluginInfo = async () => {
    const info = new pluginPb.PluginInfo();
    info.setVersion(PROVIDER_VERSION);
    return info;
  };

  private readonly getSchema = async () => {
    const resp = new pb.GetSchemaResponse();
    resp.setSchema(this.schema);
    return resp;
  };

  private readonly checkConfig = async (call: Call<pb.CheckRequest>) => {
    const news = call.request.getNews()?.toJavaScript() ?? {};
    const { config, failures } = checkConfig(
      decodeConfigValues(
        withEnvironmentDefaults(unwrapProperties(news).value as Record<string, unknown>),
      ),
    );
    // Checked on every preview and update: an insecure opt-out is said each time.
    for (const warning of config ? insecureSettings(config) : [])
      await this.engineLog.log("warning", warning, call.request.getUrn());
    const resp = new pb.CheckResponse();
    resp.setInputs(struct(configSecrets(defaultPolicySecret(news))));
    resp.setFailuresList(failuresOf(failures));
    return resp;
  };

  private readonly diffConfig = async (call: Call<pb.DiffRequest>) => {
    const olds = JSON.stringify(props(call.request.getOlds()).value);
    const news = JSON.stringify(props(call.request.getNews()).value);
    const resp = new pb.DiffResponse();
    resp.setChanges(
      olds === news ? pb.DiffResponse.DiffChanges.DIFF_NONE : pb.DiffResponse.DiffChanges.DIFF_SOME,
    );
    return resp;
  };

  private readonly configure = async (call: Call<pb.ConfigureRequest>) => {
    const args = call.request.getArgs()?.toJavaScript();
    const raw: Record<string, unknown> = args
      ? (unwrapProperties(args).value as Record<string, unknown>)
      : Object.fromEntries(call.request.getVariablesMap().entries());
    const { config, policy, failures } = checkConfig(
      decodeConfigValues(withEnvironmentDefaults(raw)),
    );
    if (!config || failures.length)
      throw new VmpError(
        "VMP_INVALID_INPUT",
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
  };

  private readonly check = async (call: Call<pb.CheckRequest>) => {
    const type = typeOf(call.request.getUrn());
    const controller = controllerFor(type);
    const news = props(call.request.getNews());
    const resp = new pb.CheckResponse();
    if (!controller) {
      resp.setInputs(call.request.getNews());
      resp.setFailuresList(failuresOf([{ property: "", reason: unknownType(type).message }]));
      return resp;
    }
    // Values not known yet (preview) are checked again once they are.
    const failures = controller
      .check(news, this.runtime)
      .filter((f) => !news.unknowns.has(f.property.split(/[.[]/)[0]));
    resp.setInputs(checkedInputs(controller, call.request.getNews()?.toJavaScript() ?? {}));
    resp.setFailuresList(failuresOf(failures));
    return resp;
  };

  private readonly create = async (call: Call<pb.CreateRequest>) => {
    const req = call.request;
    const news = props(req.getProperties());
    const options = { preview: req.getPreview(), timeoutSeconds: req.getTimeout() };
    const { id, properties, controller } = await this.write(
      req.getUrn(),
      news,
      { ...options, kind: "create" },
      (c, ctx) => c.create(news, ctx),
    );
    const resp = new pb.CreateResponse();
    resp.setId(id ?? "");
    resp.setProperties(properties);
    resp.setRefreshBeforeUpdate(controller.refreshBeforeUpdate);
    return resp;
  };

  private readonly update = async (call: Call<pb.UpdateRequest>) => {
    const req = call.request;
    const news = props(req.getNews());
    const olds = props(req.getOlds()).value;
    const options = { preview: req.getPreview(), timeoutSeconds: req.getTimeout() };
    const { properties, controller } = await this.write(
      req.getUrn(),
      news,
      { ...options, kind: "update" },
      (c, ctx) => c.update(news, olds, ctx),
    );
    const resp = new pb.UpdateResponse();
    resp.setProperties(properties);
    resp.setRefreshBeforeUpdate(controller.refreshBeforeUpdate);
    return resp;
  };

  private readonly read = async (call: Call<pb.ReadRequest>) => {
    const req = call.request;
    const controller = this.controller(req.getUrn());
    const state = props(req.getProperties());
    const inputs = props(req.getInputs());
    const read = await this.operation(req.getUrn(), {}, (ctx) =>
      controller.read(req.getId(), state, inputs, ctx),
    );
    const resp = new pb.ReadResponse();
    if (!read) return resp; // gone: an empty id tells the engine so
    const secrets = new Set([...state.secrets, ...inputs.secrets]);
    resp.setId(read.id);
    resp.setProperties(struct(withSecrets(controller, read.state, secrets)));
    resp.setInputs(struct(withSecrets(controller, read.inputs, secrets)));
    resp.setRefreshBeforeUpdate(controller.refreshBeforeUpdate);
    return resp;
  };

  private readonly delete = async (call: Call<pb.DeleteRequest>) => {
    const req = call.request;
    const controller = this.controller(req.getUrn());
    const state = props(req.getProperties()).value;
    await this.operation(req.getUrn(), {}, (ctx) => controller.delete(req.getId(), state, ctx));
    return new emptyPb.Empty();
  };

  private readonly cancel = async () => {
    this.stopAll.abort();
    return new emptyPb.Empty();
  };

  private readonly parameterize = async () => {
    throw new VmpError("VMP_UNIMPLEMENTED", "vmplacement does not take parameters");
  };

  private readonly invoke = async (call: Call<pb.InvokeRequest>) => {
    const token = call.request.getTok();
    const args = props(call.request.getArgs()).value;
    const { result, failures } = await invokeFunction(token, () => this.requireRuntime(), args);
    const resp = new pb.InvokeResponse();
    if (result) resp.setReturn(struct(result));
    if (failures) resp.setFailuresList(failuresOf(failures));
    return resp;
  };
  private diff(req: pb.DiffRequest): pb.DiffResponse {
    const controller = this.controller(req.getUrn());
    // Old inputs as the state has them (refreshed first when the resource asks for it); engines
    // that send none leave the old outputs, which echo the inputs.
    const oldState = props(req.getOlds()).value;
    const oldInputs = req.hasOldInputs() ? props(req.getOldInputs()).value : oldState;
    const { changes, replaces, fromState } = controller.diff(
      oldInputs,
      oldState,
      props(req.getNews()),
    );
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

/**
 * The secret configuration keys as secrets in the inputs the engine keeps, however they arrived:
 * an SDK's provider fills an unset one from its environment variable without marking it secret.
 */
function configSecrets(news: Record<string, unknown>): Record<string, unknown> {
  return SECRET_CONFIG_KEYS.reduce((inputs, key) => wrapSecretAt(inputs, [key]), news);
}
