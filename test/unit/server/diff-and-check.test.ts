// Diff and Check of the provider, without hosts: what replaces, what updates, drift, and the
// failures bad inputs produce (property path and a reason that says what to do).
import assert from "node:assert/strict";
import * as structPb from "google-protobuf/google/protobuf/struct_pb";
import * as pb from "@pulumi/pulumi/proto/provider_pb";
import { VmPlacementProvider } from "../../../provider/src/server/provider-server";
import { checkConfig } from "../../../provider/src/server/config";
import { checkPlacement } from "../../../provider/src/resources/vm-placement";
import { checkPolicy } from "../../../provider/src/resources/migration-policy";
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
): Promise<pb.DiffResponse> {
  const req = new pb.DiffRequest();
  req.setUrn(URN);
  req.setOlds(toStruct(olds));
  req.setNews(toStruct(news));
  return callService("diff", req);
}

describe("provider diff", () => {
  const state = {
    domain: "web",
    host: "h1",
    storagePool: "local",
    currentHost: "h1",
    currentDisks: [{ target: "vda", pool: "local", path: "/p/web.qcow2", capacityBytes: 1 }],
  };

  it("finds no change when inputs and reality agree", async () => {
    const r = await diff(state, { domain: "web", host: "h1", storagePool: "local" });
    assert.equal(r.getChanges(), pb.DiffResponse.DiffChanges.DIFF_NONE);
  });

  it("updates on a host change and replaces only on a domain change", async () => {
    const moved = await diff(state, { domain: "web", host: "h2", storagePool: "local" });
    assert.deepEqual(moved.getDiffsList(), ["host"]);
    assert.deepEqual(moved.getReplacesList(), []);
    const renamed = await diff(state, { domain: "db", host: "h1", storagePool: "local" });
    assert.deepEqual(renamed.getReplacesList(), ["domain"]);
  });

  it("sees drift: the VM runs elsewhere, or a disk sits in another pool", async () => {
    const elsewhere = await diff(
      { ...state, currentHost: "h3" },
      { domain: "web", host: "h1", storagePool: "local" },
    );
    assert.deepEqual(elsewhere.getDiffsList(), ["host"]);
    const disk = await diff(
      {
        ...state,
        currentDisks: [{ target: "vda", pool: "scratch", path: "/s/web.qcow2", capacityBytes: 1 }],
      },
      { domain: "web", host: "h1", storagePool: "local" },
    );
    assert.deepEqual(disk.getDiffsList(), ["storagePool"]);
  });

  it("honours per-disk pools when looking for drift", async () => {
    const olds = {
      ...state,
      disks: { vda: "scratch" },
      currentDisks: [{ target: "vda", pool: "scratch", path: "/s/web.qcow2", capacityBytes: 1 }],
    };
    const r = await diff(olds, {
      domain: "web",
      host: "h1",
      storagePool: "local",
      disks: { vda: "scratch" },
    });
    assert.equal(r.getChanges(), pb.DiffResponse.DiffChanges.DIFF_NONE);
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
      checkPlacement({ domain: "web", host: "h1", policy: { bandwidthMiBps: -1 } }, runtime)
        .failures[0].property,
      "policy.bandwidthMiBps",
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
    assert.match(badUrl[0].reason, /must be an http:\/\/ or https:\/\/ URL/);
    const badEvent = checkPolicy({ notify: { url: "https://h/x", events: ["moved"] } }).failures;
    assert.equal(badEvent[0].property, "notify.events[0]");
    assert.match(badEvent[0].reason, /one of started, succeeded, failed/);
  });

  it("normalizes to all events and no extra headers", () => {
    assert.deepEqual(checkPolicy({ notify: { url: "https://h/x" } }).spec?.notify, {
      url: "https://h/x",
      headers: {},
      events: ["started", "succeeded", "failed"],
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
      secret({ ...notify, headers: {}, events: ["started", "succeeded", "failed"] }),
    );
    assert.equal(state.spec.maxDowntimeMs, 300);
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
