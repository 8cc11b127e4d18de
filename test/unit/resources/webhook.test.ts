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
