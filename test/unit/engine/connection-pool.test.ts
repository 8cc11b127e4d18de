// ConnectionPool.get: concurrent callers share one open; a failed open fails its waiters and is
// retried by the next caller; a closed connection is replaced once.
import assert from "node:assert/strict";
import { ConnectionPool } from "../../../provider/src/engine/connections";
import { LibvirtConnection } from "../../../provider/src/libvirt";

describe("ConnectionPool", () => {
  const realOpen = LibvirtConnection.open.bind(LibvirtConnection);
  let opens = 0;
  let behave: () => Promise<LibvirtConnection>;
  before(() => {
    (LibvirtConnection as unknown as { open: () => Promise<LibvirtConnection> }).open = () => {
      opens++;
      return behave();
    };
  });
  after(() => {
    (LibvirtConnection as unknown as { open: typeof realOpen }).open = realOpen;
  });
  beforeEach(() => (opens = 0));

  const fake = () => ({ closed: false }) as unknown as LibvirtConnection;
  const pool = () =>
    new ConnectionPool([{ name: "h1", uri: "qemu+tcp://h1/system", migrationAddress: "h1" }]);

  it("opens one connection for concurrent callers", async () => {
    behave = () => new Promise((r) => setTimeout(() => r(fake()), 20));
    const p = pool();
    const conns = await Promise.all([p.get("h1"), p.get("h1"), p.get("h1")]);
    assert.equal(opens, 1);
    assert.ok(conns.every((c) => c === conns[0]));
  });

  it("fails every waiter of a failed open, and opens again on the next call", async () => {
    behave = () => new Promise((_, reject) => setTimeout(() => reject(new Error("refused")), 20));
    const p = pool();
    const results = await Promise.allSettled([p.get("h1"), p.get("h1")]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["rejected", "rejected"],
    );
    assert.equal(opens, 1);
    behave = async () => fake();
    await p.get("h1");
    assert.equal(opens, 2);
  });

  it("replaces a closed connection once, however many callers find it closed", async () => {
    let first: LibvirtConnection | undefined;
    behave = async () => (first ? fake() : (first = fake()));
    const p = pool();
    await p.get("h1");
    (first as unknown as { closed: boolean }).closed = true;
    const again = await Promise.all([p.get("h1"), p.get("h1")]);
    assert.equal(opens, 2);
    assert.equal(again[0], again[1]);
    assert.notEqual(again[0], first);
  });
});
