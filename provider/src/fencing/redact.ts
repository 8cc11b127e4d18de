// Secrets out of text a tool printed: every form a secret commonly takes on its way into output
// (as given, URL-encoded, base64 at any byte alignment, as in an HTTP Basic header), longest
// first, so a secret that contains another is replaced whole.

/** Forms shorter than this are not searched for in encodings (they would match by chance). */
const MIN_ENCODED_FORM = 4;

const REPLACEMENT = "[secret]";

/** The base64 characters that depend on the secret's bytes only, for a secret preceded by `k` bytes. */
function base64Core(secret: Buffer, k: number): string {
  const text = Buffer.concat([Buffer.alloc(k), secret])
    .toString("base64")
    .replace(/=+$/, "");
  const first = Math.ceil((8 * k) / 6);
  const last = Math.floor((8 * (k + secret.length)) / 6); // exclusive
  return text.slice(first, last);
}

/** Every form of `secret` to look for, longest first. */
export function secretForms(secret: string): string[] {
  if (!secret) return [];
  const bytes = Buffer.from(secret, "utf8");
  const forms = new Set<string>([
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    bytes.toString("base64"),
    bytes.toString("base64url"),
  ]);
  for (let k = 0; k < 3; k++) {
    const core = base64Core(bytes, k);
    forms.add(core);
    forms.add(core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return [...forms]
    .filter((f) => f === secret || f.length >= MIN_ENCODED_FORM)
    .sort((a, b) => b.length - a.length);
}

export class Redactor {
  private readonly forms: string[];
  /** The longest form: text this long at an edge may hold part of a secret. */
  readonly margin: number;

  constructor(secrets: Iterable<string>) {
    this.forms = [...new Set([...secrets].flatMap(secretForms))].sort(
      (a, b) => b.length - a.length,
    );
    this.margin = this.forms[0]?.length ?? 0;
  }

  redact(text: string): string {
    let out = text;
    for (const form of this.forms) out = out.split(form).join(REPLACEMENT);
    return out;
  }
}

/**
 * The last `limit` characters of a growing text, redacted. It keeps `limit` plus the longest
 * secret form, so a secret that reaches into the kept tail is replaced whole, never cut in two.
 */
export class RedactedTail {
  private text = "";
  private dropped = false;

  constructor(
    private readonly redactor: Redactor,
    private readonly limit: number,
  ) {}

  push(chunk: string): void {
    this.text += chunk;
    const keep = this.limit + this.redactor.margin;
    if (this.text.length > 2 * keep) {
      this.text = this.text.slice(-keep);
      this.dropped = true;
    }
  }

  toString(): string {
    const redacted = this.redactor.redact(this.text);
    if (!this.dropped && redacted.length <= this.limit) return redacted;
    return `[... earlier output dropped]\n${redacted.slice(-this.limit)}`;
  }
}
