// A MigrationPolicy's notification webhook: a JSON POST when a move starts and when it ends.
// Delivery is bounded and best effort: a webhook that is down delays nothing by more than a few
// seconds and never fails a placement. URLs and headers may carry tokens, so problems are
// reported with the webhook's host only.
import { Agent, request } from "undici";
import { z } from "zod";
import type { MigrationRecord } from "../engine";

export const WEBHOOK_EVENTS = ["started", "succeeded", "failed", "failover"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const webhookInputs = z
  .object({
    url: z.url({
      protocol: /^https?$/,
      error: "url must be an http:// or https:// URL, e.g. https://hooks.example.com/migrations",
    }),
    headers: z.record(z.string(), z.string()).optional(),
    events: z
      .array(
        z.enum(WEBHOOK_EVENTS, {
          error: `events entries must be one of ${WEBHOOK_EVENTS.join(", ")}`,
        }),
      )
      .min(1, "events must name at least one event; leave it out for all of them")
      .optional(),
  })
  .strict();

export interface WebhookSettings {
  url: string;
  headers: Record<string, string>;
  events: WebhookEvent[];
}

export function normalizeWebhook(inputs: z.infer<typeof webhookInputs>): WebhookSettings {
  return {
    url: inputs.url,
    headers: inputs.headers ?? {},
    events: inputs.events ?? [...WEBHOOK_EVENTS],
  };
}

/** The JSON body of a notification. */
export interface WebhookMessage {
  event: WebhookEvent;
  domain: string;
  from: string;
  to: string;
  mode: string;
  /** The plan in one line, as preview shows it. */
  summary: string;
  /** The migration record, once the move has ended. */
  record?: MigrationRecord;
  error?: string;
  sentAt: string;
}

export interface Delivery {
  delivered: boolean;
  attempts: number;
  /** Why it was not delivered, naming only the webhook's host. */
  problem?: string;
}

export interface DeliveryOptions {
  attempts?: number;
  timeoutMs?: number;
  backoffMs?: number;
  userAgent?: string;
}

const agents = new Map<number, Agent>();
function agentFor(timeoutMs: number): Agent {
  let agent = agents.get(timeoutMs);
  if (!agent) {
    agent = new Agent({
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    agents.set(timeoutMs, agent);
  }
  return agent;
}

const retryable = (status: number) => status === 429 || status >= 500;

/** POSTs `message` unless the settings leave its event out; retries network errors, 429 and 5xx. */
export async function notifyWebhook(
  settings: WebhookSettings | undefined,
  message: Omit<WebhookMessage, "sentAt">,
  options: DeliveryOptions = {},
): Promise<Delivery> {
  if (!settings || !settings.events.includes(message.event))
    return { delivered: false, attempts: 0 };
  const { attempts = 3, timeoutMs = 5000, backoffMs = 500 } = options;
  const host = new URL(settings.url).host;
  const body = JSON.stringify({ ...message, sentAt: new Date().toISOString() });
  let problem = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 2)));
    try {
      const res = await request(settings.url, {
        method: "POST",
        headers: {
          ...settings.headers,
          "content-type": "application/json",
          "user-agent": options.userAgent ?? "vmplacement",
        },
        body,
        dispatcher: agentFor(timeoutMs),
      });
      await res.body.dump();
      if (res.statusCode < 300) return { delivered: true, attempts: attempt };
      problem = `the webhook at ${host} answered HTTP ${res.statusCode}`;
      if (!retryable(res.statusCode)) return { delivered: false, attempts: attempt, problem };
    } catch (err) {
      const code = (err as { code?: string }).code;
      problem = `the webhook at ${host} could not be reached (${code ?? (err as Error).name})`;
    }
  }
  return { delivered: false, attempts, problem };
}
