// Storage fencing in the provider's configuration: a host's storageFence names a cluster of
// cephClusters, each cluster has its fence user's key in cephKeys (a secret), and a runtime
// built from it hands the engine the fence with the key and the host's client addresses.
import assert from "node:assert/strict";
import { checkConfig, buildRuntime } from "../../../provider/src/server/config";

const hosts = [
  {
    name: "h1",
    uri: "qemu+tcp://10.0.0.11/system",
    migrationAddress: "10.0.0.11",
    storageFence: { ceph: "ceph1" },
  },
  {
    name: "h2",
    uri: "qemu+tcp://10.0.0.12/system",
    migrationAddress: "10.0.0.12",
    storageFence: { ceph: "ceph1", clientAddresses: ["192.168.7.12"] },
  },
  { name: "h3", uri: "qemu+tcp://10.0.0.13/system", migrationAddress: "10.0.0.13" },
];
const cephClusters = [{ name: "ceph1", monitors: ["10.0.0.2:6789"] }];
const cephKeys = { ceph1: "AQfencekey==" };

describe("storage fencing configuration", () => {
  const failures: Array<[string, Record<string, unknown>, string, RegExp]> = [
    [
      "a storageFence naming no configured cluster",
      {
        hosts,
        cephClusters: [{ name: "other", monitors: ["10.9.9.9:6789"] }],
        cephKeys: { other: "k" },
      },
      "hosts[0].storageFence.ceph",
      /'ceph1' is not a cluster of cephClusters \(other\); add it there with its monitors/,
    ],
    [
      "a cluster without its key",
      { hosts, cephClusters },
      "cephClusters[0]",
      /no key for Ceph cluster 'ceph1': set the cephx key of client\.vmplacement-fence as a secret, pulumi config set --secret vmplacement:cephKeys/,
    ],
    [
      "a key for no cluster",
      { hosts, cephClusters, cephKeys: { ...cephKeys, ceph9: "k" } },
      "cephKeys.ceph9",
      /a key for 'ceph9', which is not a cluster of cephClusters/,
    ],
    [
      "a cluster without monitors",
      { hosts, cephClusters: [{ name: "ceph1", monitors: [] }], cephKeys },
      "cephClusters[0].monitors",
      /cephClusters\[0\].monitors is an empty list: give the monitors' addresses/,
    ],
  ];
  for (const [why, raw, property, reason] of failures)
    it(`refuses ${why}, naming ${property}`, () => {
      const found = checkConfig(raw).failures.find((f) => f.property === property);
      assert.ok(found, JSON.stringify(checkConfig(raw).failures));
      assert.match(found.reason, reason);
    });

  it("gives the engine each host's fence: its key, and its client addresses (default: its uri's host)", () => {
    const { config, policy, failures: none } = checkConfig({ hosts, cephClusters, cephKeys });
    assert.deepEqual(none, []);
    const runtime = buildRuntime(config!, policy);
    assert.deepEqual(runtime.storageFence("h1"), {
      cluster: "ceph1",
      monitors: ["10.0.0.2:6789"],
      user: "vmplacement-fence",
      key: "AQfencekey==",
      clientAddresses: ["10.0.0.11"],
      expireSeconds: 365 * 24 * 3600,
      timeoutSeconds: 10,
    });
    assert.deepEqual(runtime.storageFence("h2")?.clientAddresses, ["192.168.7.12"]);
    assert.equal(runtime.storageFence("h3"), undefined);
    void runtime.pool.closeAll();
  });
});
