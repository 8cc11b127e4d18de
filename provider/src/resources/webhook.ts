// A MigrationPolicy's notification webhook: a JSON POST when a move starts and when it ends.
// Delivery is bounded and best effort: every delivery ends by its deadline (or the operation's
// cancel) however a server behaves, and a webhook never fails a placement. URLs and headers may carry tokens, so problems are
// reported with the webhook's host only.
import { Agent, request, RetryAgent } from "undici";
import { z } from "zod";
import type { MigrationRecord } from "../engine";
import type { FieldGuide } from "./check-failures";

export const WEBHOOK_EVENTS = ["started", "succeeded", "failed", "failover"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const webhookInputs = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).optional(),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).optional(),
});

/** The webhook's inputs under a policy's `notify`, for the messages of a bad value. */
export const WEBHOOK_GUIDE: FieldGuide = {
  "notify.url": {
    is: "an http:// or https:// URL",
    example: "https://hooks.example.com/migrations",
  },
  "notify.headers": {
    is: "headers sent with each event, names and string values",
    example: `{"Authorization":"Bearer ..."}`,
  },
  "notify.headers.*": { is: "a header's value, a string" },
  "notify.events": {
    is: `the events to send, a non-empty list of ${WEBHOOK_EVENTS.join(", ")}; leave it out for all`,
    example: `["failed"]`,
  },
  "notify.events[]": { is: `one of ${WEBHOOK_EVENTS.join(", ")}`, example: "failed" },
};

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
  /** One attempt's connect and response-headers timeout. */
  timeoutMs?: number;
  /** The first wait between attempts (doubling after), unless the server says Retry-After. */
  backoffMs?: number;
  /** The longest wait between attempts, a server's Retry-After included. */
  maxWaitMs?: number;
  /** Everything (attempts, waits, reading the answer) ends by then: the delivery is given up. */
  totalMs?: number;
  /** The operation's cancel: a delivery under way stops (one begun after it still gets totalMs). */
  signal?: AbortSignal;
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

/** What a delivery waits for at most by default: a hanging webhook costs a move this much. */
export const DELIVERY_DEADLINE_MS = 15_000;

/**
 * POSTs `message` unless the settings leave its event out. undici's RetryAgent retries network
 * errors, 429 and 5xx, honouring Retry-After (capped at maxWaitMs); the whole delivery ends by
 * its deadline or the operation's cancel, however slowly a server answers.
 */
export async function notifyWebhook(
  settings: WebhookSettings | undefined,
  message: Omit<WebhookMessage, "sentAt">,
  options: DeliveryOptions = {},
): Promise<Delivery> {
  if (!settings || !settings.events.includes(message.event))
    return { delivered: false, attempts: 0 };
  const {
    attempts: maxAttempts = 3,
    timeoutMs = 5000,
    backoffMs = 500,
    maxWaitMs = 5000,
    totalMs = DELIVERY_DEADLINE_MS,
  } = options;
  const host = new URL(settings.url).host;
  const body = JSON.stringify({ ...message, sentAt: new Date().toISOString() });
  const deadline = AbortSignal.timeout(totalMs);
  const cancel = options.signal && !options.signal.aborted ? [options.signal] : [];
  const signal = AbortSignal.any([deadline, ...cancel]);
  let attempts = 0;
  const counted = agentFor(timeoutMs).compose((dispatch) => (opts, handler) => {
    attempts++;
    return dispatch(opts, handler);
  });
  const dispatcher = new RetryAgent(counted, {
    maxRetries: maxAttempts - 1,
    minTimeout: backoffMs,
    maxTimeout: maxWaitMs,
    timeoutFactor: 2,
    retryAfter: true,
    methods: ["POST"],
    statusCodes: [429, 500, 502, 503, 504],
  });
  try {
    const res = await request(settings.url, {
      method: "POST",
      headers: {
        ...settings.headers,
        "content-type": "application/json",
        "user-agent": options.userAgent ?? "vmplacement",
      },
      body,
      dispatcher,
      signal,
    });
    // The answer is in the status; a body that trickles in is not waited for past the deadline.
    await res.body.dump({ limit: 64 * 1024, signal }).catch(() => undefined);
    if (res.statusCode < 300) return { delivered: true, attempts };
    return {
      delivered: false,
      attempts,
      problem: `the webhook at ${host} answered HTTP ${res.statusCode}`,
    };
  } catch (err) {
    const e = err as { code?: string; statusCode?: number; name?: string };
    const problem =
      e.code === "UND_ERR_REQ_RETRY" && e.statusCode
        ? `the webhook at ${host} answered HTTP ${e.statusCode}`
        : signal.aborted
          ? `the webhook at ${host} ${deadline.aborted ? `did not take the notification within ${totalMs / 1000} s` : "was not waited for: the operation was cancelled"}`
          : `the webhook at ${host} could not be reached (${e.code ?? e.name})`;
    return { delivered: false, attempts, problem };
  }
}
