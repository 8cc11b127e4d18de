import assert from "node:assert/strict";
import { MigrationLimiter, type LimiterLimits } from "../../../provider/src/engine/limiter";
import { DeadlineExceeded } from "../../../provider/src/engine/errors";

/** Lets every pending promise callback run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Wraps an acquire so tests can see synchronously whether it has been granted yet. */
function track(promise: Promise<() => void>) {
  let release: (() => void) | undefined;
  let error: Error | undefined;
  promise.then(
    (fn) => (release = fn),
    (err: Error) => (error = err),
  );
  return {
    granted: () => release !== undefined,
    error: () => error,
    release: () => {
      assert.ok(release, "released before it was granted");
      release();
    },
  };
}

const limits = (
  perHostOutbound: number,
  perHostInbound: number,
  global: number,
): LimiterLimits => ({
  perHostOutbound,
  perHostInbound,
  global,
});

describe("MigrationLimiter", () => {
  it("never exceeds any limit under many concurrent acquires, and completes them all", async () => {
    const max = limits(1, 1, 2);
    const limiter = new MigrationLimiter(max);
    const hosts = ["h1", "h2", "h3"];
    const pairs: Array<[string, string]> = [];
    for (const from of hosts) for (const to of hosts) if (from !== to) pairs.push([from, to]);
    const moves = [...pairs, ...pairs]; // 12 migrations

    const outbound = new Map<string, number>();
    const inbound = new Map<string, number>();
    let running = 0;
    let peak = 0;
    const bump = (map: Map<string, number>, host: string, delta: number) =>
      map.set(host, (map.get(host) ?? 0) + delta);

    const done = await Promise.all(
      moves.map(async ([from, to], i) => {
        const release = await limiter.acquire(from, to);
        running++;
        bump(outbound, from, 1);
        bump(inbound, to, 1);
        peak = Math.max(peak, running);
        assert.ok(running <= max.global, `global ${running}`);
        assert.ok(outbound.get(from)! <= max.perHostOutbound, `outbound ${from}`);
        assert.ok(inbound.get(to)! <= max.perHostInbound, `inbound ${to}`);
        // The limiter's own books: grants whose holders have not resumed yet count there too.
        const snap = limiter.snapshot();
        assert.ok(running <= snap.running.length && snap.running.length <= max.global);
        for (const count of Object.values(snap.perHost)) {
          assert.ok(count.outbound <= max.perHostOutbound && count.inbound <= max.perHostInbound);
        }
        for (let t = 0; t <= i % 3; t++) await flush(); // vary how long each one runs
        running--;
        bump(outbound, from, -1);
        bump(inbound, to, -1);
        release();
        return i;
      }),
    );

    assert.equal(done.length, 12);
    assert.equal(peak, 2);
    assert.deepEqual(limiter.snapshot(), { running: [], queued: 0, perHost: {} });
  });

  it("does not let a blocked waiter hold up later ones whose hosts are free", async () => {
    const limiter = new MigrationLimiter(limits(2, 1, 3));
    const first = track(limiter.acquire("h1", "h2"));
    const blocked = track(limiter.acquire("h3", "h2")); // h2 inbound is full
    const sameSource = track(limiter.acquire("h3", "h1"));
    const otherSource = track(limiter.acquire("h4", "h5"));
    await flush();

    assert.ok(first.granted());
    assert.ok(!blocked.granted());
    assert.ok(sameSource.granted());
    assert.ok(otherSource.granted());
    assert.deepEqual(limiter.snapshot().perHost, {
      h1: { outbound: 1, inbound: 1 },
      h2: { outbound: 0, inbound: 1 },
      h3: { outbound: 1, inbound: 0 },
      h4: { outbound: 1, inbound: 0 },
      h5: { outbound: 0, inbound: 1 },
    });
    assert.equal(limiter.snapshot().queued, 1);

    first.release();
    await flush();
    assert.ok(blocked.granted());
  });

  it("serves source hosts round-robin, FIFO within a host", async () => {
    const limiter = new MigrationLimiter(limits(10, 10, 1));
    const blocker = await limiter.acquire("h0", "t0");
    const served: string[] = [];
    const all = [..."111222"].map(async (n, i) => {
      const release = await limiter.acquire(`h${n}`, `t${i}`);
      served.push(`h${n}:t${i}`);
      await flush();
      release();
    });
    await flush();
    assert.equal(limiter.snapshot().queued, 6);

    blocker();
    await Promise.all(all);
    assert.deepEqual(served, ["h1:t0", "h2:t3", "h1:t1", "h2:t4", "h1:t2", "h2:t5"]);
  });

  it("gives a newly arrived source host its turn ahead of another host's backlog", async () => {
    const limiter = new MigrationLimiter(limits(10, 10, 1));
    const served: string[] = [];
    const run = async (from: string) => {
      const release = await limiter.acquire(from, "t");
      served.push(from);
      await flush();
      release();
    };
    const backlog = [run("h1"), run("h1"), run("h1")];
    await flush(); // h1's first is running, two queued
    const late = run("h2");
    await Promise.all([...backlog, late]);
    assert.deepEqual(served, ["h1", "h2", "h1", "h1"]);
  });

  it("says why a queued acquire stopped when the signal carries a reason", async () => {
    const limiter = new MigrationLimiter(limits(1, 1, 1));
    const holder = await limiter.acquire("h1", "h2");
    const controller = new AbortController();
    const queued = track(limiter.acquire("h1", "h3", { signal: controller.signal }));
    await flush();
    controller.abort(new DeadlineExceeded("the update timeout of 5 s passed"));
    await flush();
    assert.match(
      queued.error()!.message,
      /h1 -> h3 stopped while queued: the update timeout of 5 s passed/,
    );
    holder();
  });

  it("rejects a queued acquire when its signal aborts, and frees nothing", async () => {
    const limiter = new MigrationLimiter(limits(1, 1, 1));
    const holder = await limiter.acquire("h1", "h2");
    const controller = new AbortController();
    const aborted = track(limiter.acquire("h3", "h4", { signal: controller.signal }));
    const next = track(limiter.acquire("h5", "h6"));
    await flush();
    assert.equal(limiter.snapshot().queued, 2);

    controller.abort();
    await flush();
    const error = aborted.error();
    assert.ok(error);
    assert.equal(error.name, "AbortError");
    assert.match(error.message, /cancelled while queued/);
    assert.ok(!aborted.granted());
    const snap = limiter.snapshot();
    assert.deepEqual(snap.running, [{ from: "h1", to: "h2" }]);
    assert.equal(snap.queued, 1);
    assert.ok(!next.granted());

    holder();
    await flush();
    assert.ok(next.granted());
    assert.deepEqual(limiter.snapshot().running, [{ from: "h5", to: "h6" }]);
  });

  it("rejects at once when the signal is already aborted", async () => {
    const limiter = new MigrationLimiter(limits(1, 1, 1));
    await assert.rejects(limiter.acquire("h1", "h2", { signal: AbortSignal.abort() }), {
      name: "AbortError",
    });
    assert.deepEqual(limiter.snapshot(), { running: [], queued: 0, perHost: {} });
  });

  it("ignores an abort that comes after the slot was granted", async () => {
    const limiter = new MigrationLimiter(limits(1, 1, 1));
    const controller = new AbortController();
    const release = await limiter.acquire("h1", "h2", { signal: controller.signal });
    controller.abort();
    assert.equal(limiter.snapshot().running.length, 1);
    release();
    assert.equal(limiter.snapshot().running.length, 0);
  });

  it("treats a second release as a no-op", async () => {
    const limiter = new MigrationLimiter(limits(10, 10, 1));
    const release = await limiter.acquire("h1", "h2");
    const a = track(limiter.acquire("h3", "h4"));
    const b = track(limiter.acquire("h5", "h6"));
    release();
    release();
    await flush();
    assert.ok(a.granted());
    assert.ok(!b.granted());
    assert.equal(limiter.snapshot().running.length, 1);
    assert.equal(limiter.snapshot().queued, 1);

    a.release();
    a.release();
    await flush();
    assert.ok(b.granted());
    b.release();
    assert.deepEqual(limiter.snapshot(), { running: [], queued: 0, perHost: {} });
  });

  it("starts waiters when setLimits raises the global limit", async () => {
    const limiter = new MigrationLimiter(limits(1, 1, 1));
    await limiter.acquire("h1", "h2");
    const a = track(limiter.acquire("h3", "h4"));
    const b = track(limiter.acquire("h5", "h6"));
    const c = track(limiter.acquire("h1", "h6")); // h1 outbound stays full
    await flush();
    assert.equal(limiter.snapshot().queued, 3);

    limiter.setLimits(limits(1, 1, 5));
    await flush();
    assert.ok(a.granted());
    assert.ok(b.granted());
    assert.ok(!c.granted());
    assert.equal(limiter.snapshot().running.length, 3);
  });

  it("rejects limits below 1", () => {
    assert.throws(() => new MigrationLimiter(limits(0, 1, 1)), RangeError);
    const limiter = new MigrationLimiter(limits(1, 1, 1));
    assert.throws(() => limiter.setLimits(limits(1, 1, 0)), RangeError);
  });
});

describe("MigrationLimiter queue status", () => {
  it("tells a waiter its place, the limit it waits on and its expected start", async () => {
    let now = 0;
    const limiter = new MigrationLimiter(limits(1, 2, 3), { now: () => now });
    const first = await limiter.acquire("h1", "h2", { label: "web-1", expectedSeconds: 20 });
    const second = limiter.request("h1", "h3", { label: "web-2", expectedSeconds: 10 });
    const third = limiter.request("h1", "h2", { label: "web-3", expectedSeconds: 10 });
    now = 6_000;
    assert.deepEqual(second.status(), {
      position: 1,
      queueLength: 2,
      expectedStartSeconds: 14,
      waitingFor: "h1 outbound busy: web-1 -> h2",
    });
    assert.equal(third.status()?.expectedStartSeconds, 24);

    // The holder's own report replaces the forecast it started with.
    first.report(3);
    now = 7_000;
    assert.equal(second.status()?.expectedStartSeconds, 2);
    assert.equal(third.status()?.position, 2);

    first();
    await flush();
    assert.equal(second.status(), undefined, "granted: no longer queued");
    assert.deepEqual(third.status(), {
      position: 1,
      queueLength: 1,
      expectedStartSeconds: 10,
      waitingFor: "h1 outbound busy: web-2 -> h3",
    });
    (await second.granted)();
    (await third.granted)();
  });

  it("names the inbound and global limits, and every holder of them", async () => {
    const limiter = new MigrationLimiter(limits(2, 1, 2));
    const a = await limiter.acquire("h1", "h2", { label: "web-1" });
    const inbound = limiter.request("h3", "h2", { label: "web-2" });
    assert.equal(inbound.status()?.waitingFor, "h2 inbound busy: web-1 from h1");
    assert.equal(inbound.status()?.expectedStartSeconds, undefined, "web-1 has no estimate");
    const b = await limiter.acquire("h3", "h4");
    const global = limiter.request("h5", "h6", { label: "web-3" });
    assert.equal(
      global.status()?.waitingFor,
      "all 2 migration slots busy: web-1 h1 -> h2, h3 -> h4",
    );
    a();
    b();
    (await inbound.granted)();
    (await global.granted)();
  });

  it("has no status for a request granted at once or stopped", async () => {
    const limiter = new MigrationLimiter(limits(1, 1, 1));
    const now = limiter.request("h1", "h2");
    assert.equal(now.status(), undefined);
    const controller = new AbortController();
    const later = limiter.request("h1", "h3", { signal: controller.signal });
    assert.equal(later.status()?.position, 1);
    controller.abort();
    await assert.rejects(later.granted, { name: "AbortError" });
    assert.equal(later.status(), undefined);
    (await now.granted)();
  });
});
