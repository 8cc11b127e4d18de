// Every input field, given a value of the wrong kind, fails with a message that names the
// property (as users write it), shows the value and says what to give: zod's own wording never
// reaches users. The cases the issue tracker reported are checked word for word.
import assert from "node:assert/strict";
import { type CheckFailure, type FieldGuide } from "../../../provider/src/resources/check-failures";
import { checkPolicy, POLICY_GUIDE } from "../../../provider/src/resources/migration-policy/types";
import { checkGroup } from "../../../provider/src/resources/placement-group/controller";
import { GROUP_GUIDE } from "../../../provider/src/resources/placement-group/types";
import {
  checkPlacement,
  PLACEMENT_GUIDE,
} from "../../../provider/src/resources/vm-placement/types";
import { checkConfig, CONFIG_GUIDE, decodeConfigValues } from "../../../provider/src/server/config";

const ZOD_WORDING =
  /Invalid input|Too small|Too big|Invalid option|Unrecognized key|received|expected/;
/** Wrong for every field: not a string, number, boolean, object or list of scalars. */
const WRONG = [[]];

const host = { name: "kvm1", uri: "qemu+ssh://root@10.0.0.5/system", migrationAddress: "10.0.0.5" };
const validConfig = {
  hosts: [
    {
      ...host,
      labels: { rack: "r1" },
      fence: { agent: "fence_ipmilan", options: { ip: "10.0.1.5" } },
      storageFence: { ceph: "ceph1", clientAddresses: ["10.0.2.5"] },
    },
  ],
  sshKnownHosts: "kvm1 ssh-ed25519 AAAA",
  fenceSecrets: { kvm1: { password: "p" } },
  cephClusters: [{ name: "ceph1", monitors: ["10.0.2.1:6789"] }],
  cephKeys: { ceph1: "AQ==" },
  defaultPolicy: {},
};
const validPolicy = { notify: { url: "https://h/x", headers: { a: "b" }, events: ["failed"] } };
const validPlacement = { domain: "web-1", host: "kvm1", disks: { vda: "local" } };
const validGroup = {
  vms: [{ domain: "web-1", hosts: ["kvm1"], hostSelector: { rack: "r1" } }],
  cordon: ["kvm2"],
};

/** The inputs with the value at `guideKey` ([] as index 0, * as an existing or new name) replaced. */
function withValueAt(
  base: unknown,
  guideKey: string,
  value: unknown,
): { data: unknown; path: string } {
  const data = structuredClone(base) as Record<string, unknown>;
  const steps = guideKey.replace(/\[\]/g, ".[]").split(".").filter(Boolean);
  let node: Record<string | number, unknown> = data;
  const path: string[] = [];
  steps.forEach((step, i) => {
    const last = i === steps.length - 1;
    let key: string | number = step;
    if (step === "[]") key = 0;
    if (step === "*") key = Object.keys(node)[0] ?? "x";
    path.push(typeof key === "number" ? `[${key}]` : `.${key}`);
    if (last) node[key] = value;
    else {
      if (typeof node[key] !== "object" || node[key] === null)
        node[key] = steps[i + 1] === "[]" ? [] : {};
      node = node[key] as Record<string | number, unknown>;
    }
  });
  return { data, path: path.join("").replace(/^\./, "") };
}

const tables: Array<{
  what: string;
  guide: FieldGuide;
  base: unknown;
  check: (data: unknown) => CheckFailure[];
  prefix: string;
}> = [
  {
    what: "provider configuration",
    guide: CONFIG_GUIDE,
    base: validConfig,
    check: (d) => checkConfig(d as Record<string, unknown>).failures,
    prefix: "vmplacement:",
  },
  {
    what: "MigrationPolicy",
    guide: POLICY_GUIDE,
    base: validPolicy,
    check: (d) => checkPolicy(d).failures,
    prefix: "",
  },
  {
    what: "VmPlacement",
    guide: PLACEMENT_GUIDE,
    base: validPlacement,
    check: (d) => checkPlacement(d, undefined).failures,
    prefix: "",
  },
  {
    what: "PlacementGroup",
    guide: GROUP_GUIDE,
    base: validGroup,
    check: (d) => checkGroup(d, undefined).failures,
    prefix: "",
  },
];

describe("input messages: every field", () => {
  for (const t of tables) {
    it(`${t.what}: the valid inputs of the table pass`, () =>
      assert.deepEqual(t.check(t.base), []));
    for (const [key, entry] of Object.entries(t.guide)) {
      it(`${t.what}: ${key} of the wrong kind names the property, the value and the fix`, () => {
        const { data, path } = withValueAt(t.base, key, WRONG);
        const failures = t.check(data);
        const failure = failures.find(
          (f) => f.property === path || f.property.startsWith(`${path}[`),
        );
        assert.ok(failure, `no failure at ${path}: ${JSON.stringify(failures)}`);
        assert.ok(failure.reason.startsWith(`${t.prefix}${failure.property} `), failure.reason);
        assert.doesNotMatch(failure.reason, ZOD_WORDING);
        if (failure.property === path) {
          assert.ok(failure.reason.includes("[[]]"), `value not shown: ${failure.reason}`);
          assert.ok(failure.reason.includes(entry.is), `fix not given: ${failure.reason}`);
        }
      });
    }
  }
});

describe("input messages: the reported cases", () => {
  const only = (failures: CheckFailure[]) => {
    assert.equal(failures.length, 1, JSON.stringify(failures));
    return failures[0];
  };

  it("no hosts: names the config key and the commands that set it", () => {
    const f = only(checkConfig({}).failures);
    assert.equal(f.property, "hosts");
    assert.match(f.reason, /^vmplacement:hosts is not set: give the libvirt hosts/);
    assert.match(
      f.reason,
      /Set it with: pulumi config set --path 'vmplacement:hosts\[0\].name' kvm1 && /,
    );
  });

  it("a host without migrationAddress", () => {
    const f = only(
      checkConfig({ hosts: [{ name: "kvm1", uri: host.uri }], sshKnownHosts: "x" }).failures,
    );
    assert.equal(f.property, "hosts[0].migrationAddress");
    assert.match(f.reason, /^vmplacement:hosts\[0\].migrationAddress is not set: give the address/);
    assert.match(
      f.reason,
      /pulumi config set --path 'vmplacement:hosts\[0\].migrationAddress' '10.0.0.5'/,
    );
  });

  it("a limit below 1 shows the value and the least allowed", () => {
    const f = only(
      checkConfig({ hosts: [host], sshKnownHosts: "x", maxMigrationsTotal: 0 }).failures,
    );
    assert.equal(
      f.reason,
      "vmplacement:maxMigrationsTotal is 0, below the least allowed, 1: give how many moves may run at once in all, a whole number of at least 1, e.g. 4",
    );
  });

  it("an unknown strategy lists the ones there are", () => {
    const f = only(checkGroup({ vms: [{ domain: "a" }], strategy: "zigzag" }, undefined).failures);
    assert.match(f.reason, /^strategy is "zigzag", not one of spread, pack: /);
  });

  it("a misspelled default policy property: the path under defaultPolicy and the name meant", () => {
    const f = only(
      checkConfig({ hosts: [host], sshKnownHosts: "x", defaultPolicy: { maxDowntime: 300 } })
        .failures,
    );
    assert.equal(f.property, "defaultPolicy.maxDowntime");
    assert.match(
      f.reason,
      /^vmplacement:defaultPolicy.maxDowntime is not a property here; did you mean maxDowntimeMs\?/,
    );
  });

  it("a misspelled placement policy property is under policy", () => {
    const f = only(
      checkPlacement({ ...validPlacement, policy: { allowLve: true } }, undefined).failures,
    );
    assert.equal(f.property, "policy.allowLve");
    assert.match(f.reason, /did you mean allowLive\?/);
  });

  it("a host URI of another hypervisor is refused", () => {
    const f = only(
      checkConfig({ hosts: [{ ...host, uri: "xen://kvm1/" }], sshKnownHosts: "x" }).failures,
    );
    assert.equal(f.property, "hosts[0].uri");
    assert.match(f.reason, /is "xen:\/\/kvm1\/", a 'xen' URI: vmplacement places QEMU\/KVM guests/);
  });

  it("a value over the maximum carries the field's advice", () => {
    const f = only(checkPolicy({ maxDowntimeMs: 90_000 }).failures);
    assert.match(
      f.reason,
      /^maxDowntimeMs is 90000, above the most allowed, 60000: a pause above 60000 ms is not a live migration/,
    );
  });
});

describe("config values as `pulumi config set` stores them", () => {
  it("a host given whole with --path 'vmplacement:hosts[0]' '{...}' is an object, not a string", () => {
    const raw = decodeConfigValues({
      "vmplacement:hosts": JSON.stringify([
        JSON.stringify(host),
        { ...host, name: "kvm2", fence: JSON.stringify({ agent: "fence_ipmilan" }) },
      ]),
      "vmplacement:sshKnownHosts": "kvm1 ssh-ed25519 AAAA",
      "vmplacement:maxMigrationsTotal": "2",
    });
    const { config, failures } = checkConfig(raw);
    assert.deepEqual(failures, []);
    assert.deepEqual(config?.hosts[0], host);
    assert.deepEqual(config?.hosts[1].fence, { agent: "fence_ipmilan" });
    assert.equal(config?.maxMigrationsTotal, 2);
  });

  it("a string that only looks like JSON stays a string where a string belongs", () => {
    const raw = decodeConfigValues({
      "vmplacement:hosts": JSON.stringify([{ ...host, name: "{kvm1" }]),
    });
    assert.equal((raw.hosts as Array<{ name: string }>)[0].name, "{kvm1");
  });
});
