// Secrets out of printed text, in the forms they take on the way there.
import assert from "node:assert/strict";
import { RedactedTail, Redactor } from "../../../provider/src/fencing/redact";

describe("redaction", () => {
  const secret = "hunter2-Très/secret";
  const r = new Redactor([secret]);

  it("finds the secret in base64 whatever bytes come before it", () => {
    for (const prefix of ["", "a", "ab", "abc", "user:", "user:x"]) {
      const text = Buffer.from(`${prefix}${secret}tail`).toString("base64");
      const out = r.redact(`Authorization: Basic ${text}`);
      assert.match(out, /\[secret\]/, `prefix '${prefix}': ${out}`);
      // At most the characters that mix in a neighbour's bits remain.
      const left = out.replace("Authorization: Basic ", "").replace("[secret]", "");
      assert.ok(
        left.length <= Math.ceil(((prefix.length + 6) * 4) / 3),
        `prefix '${prefix}': ${out}`,
      );
    }
  });

  it("finds it URL-encoded (both ways) and as base64url", () => {
    for (const form of [
      encodeURIComponent(secret),
      new URLSearchParams({ x: secret }).toString().slice(2),
      Buffer.from(secret).toString("base64url"),
    ])
      assert.equal(r.redact(`a ${form} b`), "a [secret] b", form);
  });

  it("replaces a longer secret whole before a shorter one inside it", () => {
    assert.equal(
      new Redactor(["pw", "pw-longer"]).redact("x pw-longer y pw"),
      "x [secret] y [secret]",
    );
  });

  it("keeps the end of a long output and never cuts a secret in two", () => {
    const tail = new RedactedTail(r, 100);
    tail.push("x".repeat(1000));
    tail.push(`${secret.slice(0, 5)}`);
    tail.push(`${secret.slice(5)}${"y".repeat(95)}`);
    const out = tail.toString();
    assert.ok(out.startsWith("[... earlier output dropped]\n"));
    assert.ok(!out.includes(secret.slice(5, 12)), out);
    assert.ok(out.length <= 100 + "[... earlier output dropped]\n".length);
  });
});
