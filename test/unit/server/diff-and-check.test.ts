// Diff and Check of the provider, without hosts: what replaces, what updates, drift, and the
// failures bad inputs produce (property path and a reason that says what to do).
import assert from "node:assert/strict";
import * as structPb from "google-protobuf/google/protobuf/struct_pb";
import * as pb from "@pulumi/pulumi/proto/provider_pb";
import { failureReason, VmPlacementProvider } from "../../../provider/src/server/provider-server";
import { checkConfig } from "../../../provider/src/server/config";
import { checkPlacement } from "../../../provider/src/resources/vm-placement/types";
import { checkPolicy } from "../../../provider/src/resources/migration-policy/types";
import { secret, UNKNOWN, unwrapProperties } from "../../../provider/src/server/values";

const URN = "urn:pulumi:s::p::vmplacement:index:VmPlacement::vm";

/** Calls one handler of the provider's gRPC service directly. */
function callService<Resp>(method: string, request: unknown): Promise<Resp> {
  const handler = new VmPlacementProvider("{}").service()[method] as (
    call: unknown,
    cb: (err: unknown, r: Resp) => void,
  ) => void;
  return new Promise((resolve, reject) =>
    handler({ request }, (err, r) => (err ? reject(err) : resolve(r))),
  );
}

const toStruct = (o: Record<string, unknown>) =>
  structPb.Struct.fromJavaScript(o as Record<string, structPb.JavaScriptValue>);

function diff(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  oldInputs?: Record<string, unknown>,
): Promise<pb.DiffResponse> {
  const req = new pb.DiffRequest();
  req.setUrn(URN);
  req.setOlds(toStruct(olds));
  if (oldInputs) req.setOldInputs(toStruct(oldInputs));
  req.setNews(toStruct(news));
  return callService("diff", req);
}

const kinds = (r: pb.DiffResponse) =>
  Object.fromEntries([...r.getDetaileddiffMap().entries()].map(([k, d]) => [k, d.getKind()]));
const K = pb.PropertyDiff.Kind;

describe("provider diff", () => {
  const inputs = { domain: "web", host: "h1", storagePool: "local" };
  const state = {
    ...inputs,
    currentHost: "h1",
    currentDisks: [{ target: "vda", pool: "local", path: "/p/web.qcow2", capacityBytes: 1 }],
  };

  it("finds no change when the inputs are the same", async () => {
    const r = await diff(state, inputs, inputs);
    assert.equal(r.getChanges(), pb.DiffResponse.DiffChanges.DIFF_NONE);
  });

  it("updates on a host change and replaces only on a domain change", async () => {
    const moved = await diff(state, { ...inputs, host: "h2" }, inputs);
    assert.deepEqual(moved.getDiffsList(), ["host"]);
    assert.deepEqual(moved.getReplacesList(), []);
    assert.deepEqual(kinds(moved), { host: K.UPDATE });
    const renamed = await diff(state, { ...inputs, domain: "db" }, inputs);
    assert.deepEqual(renamed.getReplacesList(), ["domain"]);
    assert.deepEqual(kinds(renamed), { domain: K.UPDATE_REPLACE });
  });

  it("reports added and removed properties as such", async () => {
    const added = await diff(state, { ...inputs, disks: { vda: "scratch" } }, inputs);
    assert.deepEqual(kinds(added), { disks: K.ADD });
    const removed = await diff(state, { domain: "web", host: "h1" }, inputs);
    assert.deepEqual(kinds(removed), { storagePool: K.DELETE });
  });

  it("compares old inputs, not outputs: drift comes from what a refresh recorded", async () => {
    // A refresh found the VM on h3 (Read reports its inputs as placed).
    const refreshed = { ...inputs, host: "h3" };
    const r = await diff({ ...state, ...refreshed, currentHost: "h3" }, inputs, refreshed);
    assert.deepEqual(kinds(r), { host: K.UPDATE });
    // ignoreChanges: ["host"] gives the new inputs the refreshed host: nothing to do.
    const ignored = await diff({ ...state, ...refreshed, currentHost: "h3" }, refreshed, refreshed);
    assert.equal(ignored.getChanges(), pb.DiffResponse.DiffChanges.DIFF_NONE);
    // A disk a refresh found in another pool is a change of the property that names its pool.
    const pool = await diff(state, inputs, { ...inputs, storagePool: "scratch" });
    assert.deepEqual(kinds(pool), { storagePool: K.UPDATE });
  });

  it("moves a VM whose state says it runs elsewhere than its inputs (a failed move)", async () => {
    const failed = { ...state, host: "h2", currentHost: "h1" };
    const r = await diff(failed, { ...inputs, host: "h2" }, { ...inputs, host: "h2" });
    assert.deepEqual(kinds(r), { host: K.UPDATE });
  });

  it("an update removes what a refresh found left behind, moving nothing", async () => {
    const left = { ...state, pendingCleanup: [{ host: "h2", item: "local/web.qcow2" }] };
    const r = await diff(left, inputs, inputs);
    assert.deepEqual(kinds(r), { pendingCleanup: K.UPDATE });
    assert.equal(r.getDetaileddiffMap().get("pendingCleanup")!.getInputdiff(), false);
  });

  it("takes the old outputs when the engine sends no old inputs", async () => {
    const r = await diff(state, { ...inputs, host: "h2" });
    assert.deepEqual(r.getDiffsList(), ["host"]);
  });

  it("counts a value not known yet as a change, never as null", async () => {
    const r = await diff(state, { ...inputs, host: UNKNOWN }, inputs);
    assert.deepEqual(kinds(r), { host: K.UPDATE });
  });
});

describe("provider check", () => {
  const runtime = { hostNames: ["h1", "h2"] } as Parameters<typeof checkPlacement>[1];

  it("names the property, the value and the fix", () => {
    assert.deepEqual(checkPlacement({ domain: "web", host: "h9" }, runtime).failures, [
      {
        property: "host",
        reason:
          "host 'h9' is not in the provider's inventory (hosts: h1, h2); add it to the provider's hosts or use one of them",
      },
    ]);
    assert.equal(checkPlacement({ host: "h1" }, runtime).failures[0].property, "domain");
    assert.equal(
      checkPlacement({ domain: "web", host: "h1", policy: { bandwidthMibps: -1 } }, runtime)
        .failures[0].property,
      "policy.bandwidthMibps",
    );
  });

  it("rejects a policy that leaves no way to move", () => {
    assert.match(
      checkPolicy({ allowLive: false }).failures[0].reason,
      /no way to move a VM is left/,
    );
    assert.equal(
      checkPolicy({ downtimeLadderMs: [500, 300] }).failures[0].property,
      "downtimeLadderMs",
    );
  });

  it("checks the provider configuration", () => {
    const ok = checkConfig({
      hosts: [{ name: "h1", uri: "qemu+tcp://10.0.0.1/system", migrationAddress: "10.0.0.1" }],
    });
    assert.deepEqual(ok.failures, []);
    const twice = checkConfig({
      hosts: [
        { name: "h1", uri: "qemu+tcp://a/system", migrationAddress: "a" },
        { name: "h1", uri: "qemu+tcp://b/system", migrationAddress: "b" },
      ],
    });
    assert.equal(twice.failures[0].property, "hosts[1].name");
    assert.equal(checkConfig({}).failures[0].property, "hosts");
  });
});

describe("MigrationPolicy webhook settings", () => {
  it("checks the URL and the events, naming the property", () => {
    const badUrl = checkPolicy({ notify: { url: "ftp://hooks.example.com/x" } }).failures;
    assert.equal(badUrl[0].property, "notify.url");
    assert.match(
      badUrl[0].reason,
      /"ftp:\/\/hooks.example.com\/x", not a valid URL: give an http:\/\/ or https:\/\/ URL/,
    );
    const badEvent = checkPolicy({ notify: { url: "https://h/x", events: ["moved"] } }).failures;
    assert.equal(badEvent[0].property, "notify.events[0]");
    assert.match(badEvent[0].reason, /one of started, succeeded, failed/);
  });

  it("normalizes to all events and no extra headers", () => {
    assert.deepEqual(checkPolicy({ notify: { url: "https://h/x" } }).spec?.notify, {
      url: "https://h/x",
      headers: {},
      events: ["started", "succeeded", "failed", "failover"],
    });
    assert.equal(checkPolicy({}).spec?.notify, undefined);
  });

  it("keeps the webhook secret in the policy's state, even when given in plain text", async () => {
    const req = new pb.CreateRequest();
    req.setUrn("urn:pulumi:s::p::vmplacement:index:MigrationPolicy::standard");
    req.setProperties(toStruct({ maxDowntimeMs: 300, notify: { url: "https://h/x?token=abc" } }));
    const resp = await callService<pb.CreateResponse>("create", req);
    const state = resp.getProperties()!.toJavaScript() as Record<string, Record<string, unknown>>;
    const notify = { url: "https://h/x?token=abc" };
    assert.deepEqual(state.notify, secret(notify));
    assert.deepEqual(
      state.spec.notify,
      secret({ ...notify, headers: {}, events: ["started", "succeeded", "failed", "failover"] }),
    );
    assert.equal(state.spec.maxDowntimeMs, 300);
  });
});

describe("secrets in a placement's state", () => {
  const notify = { url: "https://h/x?token=abc", headers: { authorization: "Bearer t" } };

  it("a webhook written into a placement's policy comes back from Check as a secret", async () => {
    const req = new pb.CheckRequest();
    req.setUrn(URN);
    req.setNews(toStruct({ domain: "web", host: "h1", policy: { maxDowntimeMs: 300, notify } }));
    const resp = await callService<pb.CheckResponse>("check", req);
    const inputs = resp.getInputs()!.toJavaScript() as Record<string, Record<string, unknown>>;
    assert.deepEqual(inputs.policy.notify, secret(notify));
    assert.equal(inputs.policy.maxDowntimeMs, 300);
  });

  it("a policy spec that is a secret already stays as it is", async () => {
    const req = new pb.CheckRequest();
    req.setUrn(URN);
    const news = { domain: "web", host: "h1", policy: secret({ notify }) };
    req.setNews(toStruct(news));
    const resp = await callService<pb.CheckResponse>("check", req);
    assert.deepEqual(resp.getInputs()!.toJavaScript(), news);
  });

  it("a default policy with a webhook is kept secret in the provider's configuration", async () => {
    const req = new pb.CheckRequest();
    req.setUrn("urn:pulumi:s::p::pulumi:providers:vmplacement::default");
    const hosts = JSON.stringify([
      { name: "h1", uri: "qemu+tcp://h1/system", migrationAddress: "h1" },
    ]);
    const defaultPolicy = JSON.stringify({ notify });
    req.setNews(toStruct({ hosts, defaultPolicy }));
    const resp = await callService<pb.CheckResponse>("checkConfig", req);
    const inputs = resp.getInputs()!.toJavaScript() as Record<string, unknown>;
    assert.deepEqual(inputs.defaultPolicy, secret(defaultPolicy));
    assert.equal(inputs.hosts, hosts);
    // Without a webhook nothing is wrapped.
    req.setNews(toStruct({ hosts, defaultPolicy: JSON.stringify({ maxDowntimeMs: 200 }) }));
    const plain = await callService<pb.CheckResponse>("checkConfig", req);
    assert.equal(
      typeof (plain.getInputs()!.toJavaScript() as Record<string, unknown>).defaultPolicy,
      "string",
    );
  });
});

describe("wire values", () => {
  it("unwraps secrets and unknowns, remembering which properties held them", () => {
    const u = unwrapProperties({ key: secret("s3cret"), host: UNKNOWN, domain: "web" });
    assert.deepEqual(u.value, { key: "s3cret", host: null, domain: "web" });
    assert.deepEqual([...u.secrets], ["key"]);
    assert.deepEqual([...u.unknowns], ["host"]);
  });
});

describe("preview with inputs not known yet", () => {
  const computed = [
    "currentHost",
    "currentDisks",
    "plannedMigration",
    "lastMigration",
    "migrationCount",
  ];

  it("a new placement whose host is unknown previews with unknown outputs, unplanned", async () => {
    const req = new pb.CreateRequest();
    req.setUrn(URN);
    req.setPreview(true);
    req.setProperties(toStruct({ domain: "web", host: UNKNOWN }));
    const r = await callService<pb.CreateResponse>("create", req);
    assert.equal(r.getId(), "web");
    const props = r.getProperties()!.toJavaScript();
    assert.equal(props.host, UNKNOWN);
    for (const key of computed) assert.equal(props[key], UNKNOWN, key);
    assert.equal(r.getRefreshBeforeUpdate(), true);
  });

  it("an unknown domain gives no id yet", async () => {
    const req = new pb.CreateRequest();
    req.setUrn(URN);
    req.setPreview(true);
    req.setProperties(toStruct({ domain: UNKNOWN, host: "h1" }));
    assert.equal((await callService<pb.CreateResponse>("create", req)).getId(), "");
  });

  it("an update to an unknown host is not planned either", async () => {
    const req = new pb.UpdateRequest();
    req.setUrn(URN);
    req.setPreview(true);
    req.setOlds(toStruct({ domain: "web", host: "h1", currentHost: "h1" }));
    req.setNews(toStruct({ domain: "web", host: UNKNOWN, storagePool: "local" }));
    const props = (await callService<pb.UpdateResponse>("update", req))
      .getProperties()!
      .toJavaScript();
    assert.equal(props.storagePool, "local");
    assert.equal(props.plannedMigration, UNKNOWN);
  });

  it("a policy with an unknown input has an unknown spec", async () => {
    const req = new pb.CreateRequest();
    req.setUrn("urn:pulumi:s::p::vmplacement:index:MigrationPolicy::p");
    req.setPreview(true);
    req.setProperties(toStruct({ maxDowntimeMs: UNKNOWN }));
    const props = (await callService<pb.CreateResponse>("create", req))
      .getProperties()!
      .toJavaScript();
    assert.equal(props.spec, UNKNOWN);
  });
});

describe("check failures on the wire", () => {
  const table: Array<[property: string, reason: string, wire: string]> = [
    ["policy.maxDowntimeMs", "policy.maxDowntimeMs is -1, ...", "policy.maxDowntimeMs is -1, ..."],
    [
      "hosts[0].uri",
      'vmplacement:hosts[0].uri is "xen://"',
      'vmplacement:hosts[0].uri is "xen://"',
    ],
    ["vms[7].pinned", "web-7 is pinned to 'h3'", "vms[7].pinned: web-7 is pinned to 'h3'"],
    // Naming the property somewhere inside is not enough: the CLI shows no property of its own.
    ["host", "host 'h99' is not an inventory host", "host: host 'h99' is not an inventory host"],
    [
      "sshKnownHosts",
      "host h1 is reached over ssh: give sshKnownHosts",
      "sshKnownHosts: host h1 is reached over ssh: give sshKnownHosts",
    ],
    // A longer name that starts with the property's is another property.
    [
      "sshPrivateKey",
      "sshPrivateKeyPassphrase is set",
      "sshPrivateKey: sshPrivateKeyPassphrase is set",
    ],
  ];
  for (const [property, reason, wire] of table)
    it(`${property}: ${reason}`, () => assert.equal(failureReason({ property, reason }), wire));
});
