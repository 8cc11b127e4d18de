// A volume libvirt is still allocating (an earlier create waiting on Ceph) is waited for before it
// is removed; any other failure, and one that outlasts the patience, stands.
import assert from "node:assert/strict";
import { LibvirtError } from "../../../provider/src/libvirt/errors";
import {
  afterAllocation,
  createVolume,
  isStillAllocating,
} from "../../../provider/src/engine/rbd-pool-calls";
import type { LibvirtConnection, StoragePool } from "../../../provider/src/libvirt";

const wire = (code: number, message: string) =>
  new LibvirtError({ code, domain: 18, message, level: 2 }, "STORAGE_VOL_DELETE");
const allocating = () =>
  wire(55, "Requested operation is not valid: volume 'vm.raw' is still being allocated.");
const otherInvalid = () => wire(55, "Requested operation is not valid: pool 'ceph' is not active");

describe("rbd pool calls: removing a volume still being allocated", () => {
  it("tells libvirt's 'still being allocated' from other invalid operations", () => {
    assert.equal(isStillAllocating(allocating()), true);
    assert.equal(isStillAllocating(otherInvalid()), false);
    assert.equal(isStillAllocating(new Error("still being allocated")), false);
  });

  const table: Array<{
    name: string;
    failures: Array<() => Error>;
    patienceMs: number;
    /** Exact, or [at least, at most] where timers decide. */
    calls: number | [number, number];
    fails?: RegExp;
  }> = [
    { name: "removes at once when nothing allocates", failures: [], patienceMs: 0, calls: 1 },
    {
      name: "waits for the create to end, then removes",
      failures: [allocating, allocating],
      patienceMs: 1_000,
      calls: 3,
    },
    {
      name: "no patience: fails at once with libvirt's code and message",
      failures: [allocating],
      patienceMs: 0,
      calls: 1,
      fails: /still being allocated/,
    },
    {
      name: "gives up once the create outlasts the patience",
      failures: Array.from({ length: 50 }, () => allocating),
      patienceMs: 30,
      calls: [2, 4],
      fails: /still being allocated/,
    },
    {
      name: "another failure stands without a wait",
      failures: [otherInvalid],
      patienceMs: 1_000,
      calls: 1,
      fails: /not active/,
    },
  ];
  for (const row of table) {
    it(row.name, async () => {
      let calls = 0;
      const remove = async () => {
        const failure = row.failures[calls++];
        if (failure) throw failure();
        return "removed";
      };
      const result = afterAllocation(remove, row.patienceMs, 10);
      if (row.fails) await assert.rejects(result, row.fails);
      else assert.equal(await result, "removed");
      const [least, most] = typeof row.calls === "number" ? [row.calls, row.calls] : row.calls;
      assert.ok(calls >= least && calls <= most, `${calls} calls, expected ${row.calls}`);
    });
  }
});

describe("rbd pool calls: creating a volume", () => {
  const refused = () =>
    new LibvirtError(
      {
        code: 3,
        domain: 18,
        message:
          "this function is not supported by the connection driver: volume capacity required for this storage pool",
        level: 2,
      },
      "STORAGE_VOL_CREATE_XML",
    );

  it("a create refused before the pool's XML is read fails the call, not the process", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      // The create's refusal arrives first; the pool's XML (an rbd pool) a moment later.
      const conn = {
        storage: {
          createVol: () => Promise.reject(refused()),
          poolXml: () =>
            new Promise<string>((resolve) =>
              setTimeout(
                () =>
                  resolve(
                    "<pool type='rbd'><name>ceph</name><source><host name='10.0.0.1' port='6789'/><name>rbd</name></source></pool>",
                  ),
                20,
              ),
            ),
        },
      } as unknown as LibvirtConnection;
      await assert.rejects(
        createVolume(conn, "h2", {} as StoragePool, "<volume/>"),
        /volume capacity required/,
      );
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
