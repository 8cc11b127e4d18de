// One reading of a host's free memory and pools serves the placements planned within a moment
// of it (a preview of thousands of placements lists each host's volumes a few times, not once per
// placement); a move forgets the readings of its hosts, and a failed reading is not kept.
import assert from "node:assert/strict";
import { LibvirtError } from "../../../provider/src/libvirt/errors";
import type { ConnectionPool } from "../../../provider/src/engine/connections";
import {
  forgetHostReadings,
  gatherHostFacts,
  locateDomain,
} from "../../../provider/src/engine/gather";

function fakePool(failFirst = false) {
  const calls = { freeMemory: 0, listPools: 0, compareCpu: 0 };
  const conn = {
    host: {
      compareHypervisorCpu: async () => {
        calls.compareCpu++;
        return "identical";
      },
      freeMemory: async () => {
        calls.freeMemory++;
        if (failFirst && calls.freeMemory === 1) throw new Error("connection reset");
        return 1024;
      },
    },
    storage: {
      listPools: async () => {
        calls.listPools++;
        return [];
      },
    },
  };
  const pool = {
    host: (name: string) => ({ name, uri: `qemu+ssh://${name}/system`, migrationAddress: name }),
    get: async () => conn,
  } as unknown as ConnectionPool;
  return { pool, calls };
}

describe("host readings shared by the placements of a run", () => {
  it("500 placements planned at once read each host once", async () => {
    const { pool, calls } = fakePool();
    const facts = await Promise.all(
      Array.from({ length: 500 }, (_, i) => gatherHostFacts(pool, i % 2 ? "h1" : "h2")),
    );
    assert.ok(facts.every((f) => f?.reachable && f.freeMemoryBytes === 1024));
    assert.deepEqual(calls, { freeMemory: 2, listPools: 2, compareCpu: 0 });
  });

  it("compares a CPU definition the guests share once per host", async () => {
    const { pool, calls } = fakePool();
    const guest = (cpuXml: string) =>
      ({ cpuMode: "custom", cpuXml, arch: "x86_64", virtType: "kvm", disks: [] }) as never;
    const facts = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        gatherHostFacts(pool, i % 2 ? "h1" : "h2", guest(i % 4 < 2 ? "<cpu a/>" : "<cpu b/>")),
      ),
    );
    assert.ok(facts.every((f) => f?.cpuCompatible === true));
    assert.equal(calls.compareCpu, 4);
  });

  it("reads a host afresh once a move there forgot it", async () => {
    const { pool, calls } = fakePool();
    await gatherHostFacts(pool, "h1");
    await gatherHostFacts(pool, "h1");
    forgetHostReadings(pool, "h1");
    await gatherHostFacts(pool, "h1");
    assert.equal(calls.freeMemory, 2);
  });

  it("does not keep a failed reading for the next placement", async () => {
    const { pool, calls } = fakePool(true);
    await assert.rejects(gatherHostFacts(pool, "h1"), /connection reset/);
    const again = await gatherHostFacts(pool, "h1");
    assert.equal(again?.freeMemoryBytes, 1024);
    assert.equal(calls.freeMemory, 2);
  });
});

const noDomain = (name: string) =>
  new LibvirtError(
    { code: 42, domain: 10, message: `Domain not found: ${name}`, level: 2 },
    "DOMAIN_LOOKUP_BY_NAME",
  );

describe("where a domain is, from host listings shared by a run that only looks", () => {
  /** Three hosts; vm-N runs on h(N % 3 + 1); `gone` is listed on h1 but no longer there. */
  function listingPool() {
    const calls = { listAll: 0, lookupByName: 0, state: 0 };
    const hosts = ["h1", "h2", "h3"];
    const connFor = (host: string) => ({
      domains: {
        listAll: async () => {
          calls.listAll++;
          const names = Array.from({ length: 300 }, (_, i) => `vm-${i}`).filter(
            (_, i) => hosts[i % 3] === host,
          );
          return [...names, ...(host === "h1" ? ["gone"] : [])].map((name) => ({ name }));
        },
        lookupByName: async (name: string) => {
          calls.lookupByName++;
          throw noDomain(name);
        },
        state: async (dom: { name: string }) => {
          calls.state++;
          if (dom.name === "gone") throw noDomain(dom.name);
          return { state: "running", reason: 1 };
        },
      },
    });
    const conns = new Map(hosts.map((h) => [h, connFor(h)]));
    const pool = {
      hosts: hosts.map((name) => ({ name })),
      host: (name: string) => ({ name }),
      get: async (name: string) => conns.get(name),
    } as unknown as ConnectionPool;
    return { pool, calls };
  }

  it("300 placements list each host once and ask only the host that has each domain", async () => {
    const { pool, calls } = listingPool();
    const located = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        locateDomain(pool, `vm-${i}`, [], { fromListings: true }),
      ),
    );
    assert.deepEqual(
      located.slice(0, 4).map((l) => l.found?.host),
      ["h1", "h2", "h3", "h1"],
    );
    assert.deepEqual(calls, { listAll: 3, lookupByName: 0, state: 300 });
  });

  it("believes 'on no host' only when every host is asked afresh", async () => {
    const { pool, calls } = listingPool();
    const located = await locateDomain(pool, "gone", [], { fromListings: true });
    assert.equal(located.found, undefined);
    assert.deepEqual(calls, { listAll: 3, lookupByName: 3, state: 1 });
  });
});
