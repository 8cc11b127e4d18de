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

function diff(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
): Promise<pb.DiffResponse> {
  const req = new pb.DiffRequest();
  req.setUrn(URN);
  req.setOlds(structPb.Struct.fromJavaScript(olds as Record<string, structPb.JavaScriptValue>));
  req.setNews(structPb.Struct.fromJavaScript(news as Record<string, structPb.JavaScriptValue>));
  const handler = new VmPlacementProvider("{}").service().diff as (
    call: unknown,
    cb: (err: unknown, r: pb.DiffResponse) => void,
  ) => void;
  return new Promise((resolve, reject) =>
    handler({ request: req }, (err, r) => (err ? reject(err) : resolve(r))),
  );
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

describe("wire values", () => {
  it("unwraps secrets and unknowns, remembering which properties held them", () => {
    const u = unwrapProperties({ key: secret("s3cret"), host: UNKNOWN, domain: "web" });
    assert.deepEqual(u.value, { key: "s3cret", host: null, domain: "web" });
    assert.deepEqual([...u.secrets], ["key"]);
    assert.deepEqual([...u.unknowns], ["host"]);
  });
});
