// What a refresh records as a placement's inputs: where the VM really is, in the properties
// the program used, so drift shows as a diff and ignoreChanges can hold it.
import assert from "node:assert/strict";
import { refreshedInputs } from "../../../provider/src/resources/vm-placement/drift";

const disk = (target: string, pool: string | null) => ({
  target,
  pool,
  path: pool ? `/${pool}/${target}.qcow2` : `/files/${target}.img`,
  capacityBytes: 1,
});

describe("refreshed placement inputs", () => {
  const inputs = { domain: "web", host: "h1", storagePool: "local" };
  const cases: Array<[string, Record<string, unknown>, ReturnType<typeof disk>[], unknown]> = [
    ["in place: unchanged", inputs, [disk("vda", "local")], inputs],
    ["moved to another host", inputs, [disk("vda", "local")], { ...inputs, host: "h2" }],
    [
      "all its disks in another pool: storagePool says so",
      inputs,
      [disk("vda", "shared"), disk("vdb", "shared")],
      { ...inputs, host: "h2", storagePool: "shared" },
    ],
    [
      "one disk of two left the pool: an entry for it alone",
      inputs,
      [disk("vda", "local"), disk("vdb", "scratch")],
      { ...inputs, host: "h2", disks: { vdb: "scratch" } },
    ],
    [
      "a disk with its own pool entry: the entry follows it",
      { ...inputs, disks: { vdb: "scratch" } },
      [disk("vda", "local"), disk("vdb", "shared")],
      { ...inputs, host: "h2", disks: { vdb: "shared" } },
    ],
    [
      "a plain file outside any pool is left alone",
      inputs,
      [disk("vda", "local"), disk("vdb", null)],
      { ...inputs, host: "h2" },
    ],
    [
      "no pool asked for: none recorded",
      { domain: "web", host: "h1", policy: { maxDowntimeMs: 100 } },
      [disk("vda", "local")],
      { domain: "web", host: "h2", policy: { maxDowntimeMs: 100 } },
    ],
    [
      "an import: the domain and its host",
      {},
      [disk("vda", "local")],
      { domain: "web", host: "h2" },
    ],
  ];
  for (const [name, given, disks, expected] of cases)
    it(name, () => {
      const host = name.startsWith("in place") ? "h1" : "h2";
      assert.deepEqual(
        refreshedInputs("web", given, { currentHost: host, currentDisks: disks }),
        expected,
      );
    });
});
