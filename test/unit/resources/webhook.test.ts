// Webhook delivery against a real HTTP server on loopback: the body and headers arrive, 5xx is
// retried, 4xx is not, an unreachable webhook is reported by host only, and events can be left out.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { notifyWebhook, type WebhookSettings } from "../../../provider/src/resources/webhook";

interface Received {
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

const MESSAGE = {
  event: "succeeded" as const,
  domain: "web",
  from: "h1",
  to: "h2",
  mode: "live-shared",
  summary: "web: h1 -> h2, live-shared",
};
const FAST = { backoffMs: 10, timeoutMs: 1000 };

describe("notification webhook", () => {
  let server: Server;
  let received: Received[];
  let statuses: number[];
  let url: string;

  beforeEach(async () => {
    received = [];
    statuses = [];
    server = createServer((req, res) => {
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => {
        received.push({ headers: req.headers, body: JSON.parse(data) });
        res.statusCode = statuses.shift() ?? 204;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/migrations?token=t0ken`;
  });
  afterEach(() => new Promise<void>((r) => server.close(() => r())));

  const settings = (over: Partial<WebhookSettings> = {}): WebhookSettings => ({
    url,
    headers: { authorization: "Bearer s3cret" },
    events: ["started", "succeeded", "failed"],
    ...over,
  });

  it("POSTs the message as JSON with the configured headers", async () => {
    const d = await notifyWebhook(settings(), MESSAGE, FAST);
    assert.deepEqual(d, { delivered: true, attempts: 1 });
    assert.equal(received.length, 1);
    assert.equal(received[0].headers.authorization, "Bearer s3cret");
    assert.equal(received[0].headers["content-type"], "application/json");
    assert.deepEqual({ ...received[0].body, sentAt: undefined }, { ...MESSAGE, sentAt: undefined });
    assert.ok(!Number.isNaN(Date.parse(received[0].body.sentAt as string)));
  });

  it("retries a 5xx and succeeds", async () => {
    statuses = [503, 500];
    const d = await notifyWebhook(settings(), MESSAGE, FAST);
    assert.deepEqual(d, { delivered: true, attempts: 3 });
    assert.equal(received.length, 3);
  });

  it("does not retry a 4xx, and reports it by host only", async () => {
    statuses = [404];
    const d = await notifyWebhook(settings(), MESSAGE, FAST);
    assert.equal(d.delivered, false);
    assert.equal(d.attempts, 1);
    assert.match(d.problem!, /^the webhook at 127\.0\.0\.1:\d+ answered HTTP 404$/);
  });

  it("gives up on an unreachable webhook after its attempts, without the URL's token", async () => {
    const closed = new URL(url);
    await new Promise<void>((r) => server.close(() => r()));
    server = createServer().listen(0, "127.0.0.1");
    const d = await notifyWebhook(settings({ url: closed.toString() }), MESSAGE, FAST);
    assert.equal(d.delivered, false);
    assert.equal(d.attempts, 3);
    assert.match(d.problem!, /could not be reached \(ECONNREFUSED\)/);
    assert.doesNotMatch(d.problem!, /t0ken|hooks/);
  });

  /** A server of its own for one test: `answer` handles each request once its body is in. */
  async function withServer(
    answer: (res: import("node:http").ServerResponse, n: number) => void,
    test: (url: string, seen: number[]) => Promise<void>,
  ): Promise<void> {
    const seen: number[] = [];
    const s = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        seen.push(Date.now());
        answer(res, seen.length);
      });
    });
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    try {
      await test(`http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`, seen);
    } finally {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }

  it("ends by its deadline when a server answers 200 and trickles its body", async () => {
    const timers: NodeJS.Timeout[] = [];
    await withServer(
      (res) => {
        res.writeHead(200, { "content-type": "text/plain" });
        timers.push(setInterval(() => res.write("."), 300));
      },
      async (hook) => {
        const started = Date.now();
        const d = await notifyWebhook(settings({ url: hook }), MESSAGE, { ...FAST, totalMs: 1500 });
        assert.equal(d.delivered, true, "a 200 is a delivery");
        assert.ok(Date.now() - started < 3000, `bounded: ${Date.now() - started} ms`);
      },
    );
    for (const t of timers) clearInterval(t);
  });

  it("honours Retry-After on 503 and 429", async () => {
    for (const status of [503, 429]) {
      await withServer(
        (res, n) => {
          if (n === 1) res.writeHead(status, { "retry-after": "1" }).end();
          else res.writeHead(204).end();
        },
        async (hook, seen) => {
          const d = await notifyWebhook(settings({ url: hook }), MESSAGE, FAST);
          assert.deepEqual(d, { delivered: true, attempts: 2 });
          const waited = seen[1] - seen[0];
          assert.ok(
            waited >= 900,
            `waited ${waited} ms as the server asked, not the 10 ms backoff`,
          );
        },
      );
    }
  });

  it("caps a long Retry-After and gives up within its total time", async () => {
    await withServer(
      (res) => res.writeHead(503, { "retry-after": "3600" }).end(),
      async (hook, seen) => {
        const started = Date.now();
        const d = await notifyWebhook(settings({ url: hook }), MESSAGE, {
          ...FAST,
          attempts: 10,
          maxWaitMs: 300,
          totalMs: 2000,
        });
        assert.equal(d.delivered, false);
        assert.ok(Date.now() - started < 3000, `bounded: ${Date.now() - started} ms`);
        assert.ok(seen.length >= 2, "retried after the capped wait");
        assert.match(d.problem!, /127\.0\.0\.1:\d+/);
      },
    );
  });

  it("stops waiting when the operation is cancelled", async () => {
    await withServer(
      () => undefined, // never answers
      async (hook) => {
        const cancel = new AbortController();
        setTimeout(() => cancel.abort(), 200);
        const started = Date.now();
        const d = await notifyWebhook(settings({ url: hook }), MESSAGE, {
          ...FAST,
          timeoutMs: 10_000,
          signal: cancel.signal,
        });
        assert.equal(d.delivered, false);
        assert.ok(Date.now() - started < 1500, `stopped at the cancel: ${Date.now() - started} ms`);
        assert.match(d.problem!, /was not waited for: the operation was cancelled/);
      },
    );
  });

  it("sends nothing for an event the settings leave out, or without settings", async () => {
    assert.deepEqual(await notifyWebhook(settings({ events: ["failed"] }), MESSAGE, FAST), {
      delivered: false,
      attempts: 0,
    });
    assert.deepEqual(await notifyWebhook(undefined, MESSAGE, FAST), {
      delivered: false,
      attempts: 0,
    });
    assert.equal(received.length, 0);
  });
});
