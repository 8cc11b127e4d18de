import assert from "node:assert/strict";
import { createHash, createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import {
  knownHostsName,
  parseKnownHosts,
  sha256Fingerprint,
  verifyHostKey,
  type HostKeyVerdict,
} from "../../../provider/src/libvirt/transports/known-hosts";

/** uint32 length + bytes, as in the SSH wire format. */
function sshString(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length, 0);
  return Buffer.concat([length, data]);
}

/** A fresh ed25519 host key as its SSH public key blob. */
function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync("ed25519");
  const spki = publicKey.export({ type: "spki", format: "der" });
  const raw = spki.subarray(spki.length - 32);
  return Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(raw)]);
}

function line(patterns: string, blob: Buffer, marker = ""): string {
  return `${marker ? marker + " " : ""}${patterns} ssh-ed25519 ${blob.toString("base64")}`;
}

/** An OpenSSH hashed host pattern: |1|base64(salt)|base64(HMAC-SHA1(salt, name)). */
function hashed(name: string, salt = randomBytes(20)): string {
  const hash = createHmac("sha1", salt).update(name).digest("base64");
  return `|1|${salt.toString("base64")}|${hash}`;
}

function verify(text: string, key: Buffer, name: string, pinned?: string[]): HostKeyVerdict {
  return verifyHostKey(key, name, parseKnownHosts(text), pinned);
}

describe("known_hosts host key verification", () => {
  const keyA = ed25519Blob();
  const keyB = ed25519Blob();

  it("builds a well-formed ed25519 blob", () => {
    assert.equal(keyA.length, 4 + 11 + 4 + 32);
    assert.equal(keyA.readUInt32BE(0), 11);
    assert.equal(keyA.subarray(4, 15).toString(), "ssh-ed25519");
    assert.equal(keyA.readUInt32BE(15), 32);
    assert.notDeepEqual(keyA, keyB);
  });

  it("parses entries, skipping comments, blank and short lines", () => {
    const entries = parseKnownHosts(
      [
        "# a comment",
        "",
        line("h1,10.0.0.5", keyA),
        "   ",
        "broken-line-with-two fields",
        line("h2", keyB, "@revoked"),
        line("*.ca", keyB, "@cert-authority") + " trailing comment",
      ].join("\n"),
    );
    assert.equal(entries.length, 3);
    assert.deepEqual(entries[0], {
      marker: undefined,
      patterns: ["h1", "10.0.0.5"],
      keyType: "ssh-ed25519",
      key: keyA,
    });
    assert.equal(entries[1].marker, "@revoked");
    assert.equal(entries[2].marker, "@cert-authority");
  });

  it("accepts a plain host entry, by any of its names", () => {
    const text = line("h1.example,10.0.0.5", keyA);
    assert.deepEqual(verify(text, keyA, "h1.example"), { ok: true });
    assert.deepEqual(
      verify(text, keyA, "H1.EXAMPLE"),
      { ok: true },
      "host names are case-insensitive",
    );
    assert.deepEqual(verify(text, keyA, "10.0.0.5"), { ok: true });
  });

  it("names hosts off port 22 as [host]:port", () => {
    assert.equal(knownHostsName("h1", 22), "h1");
    assert.equal(knownHostsName("h1", 2222), "[h1]:2222");
    const text = line("[h1]:2222", keyA);
    assert.deepEqual(verify(text, keyA, knownHostsName("h1", 2222)), { ok: true });
    assert.equal(verify(text, keyA, knownHostsName("h1", 22)).ok, false);
    // A port-22 entry does not vouch for another port.
    assert.equal(verify(line("h1", keyA), keyA, knownHostsName("h1", 2222)).ok, false);
  });

  it("matches hashed entries", () => {
    assert.deepEqual(verify(line(hashed("h1.example"), keyA), keyA, "h1.example"), { ok: true });
    assert.deepEqual(verify(line(hashed("[h1]:2222"), keyA), keyA, "[h1]:2222"), { ok: true });
    const other = verify(line(hashed("h1.example"), keyA), keyA, "h2.example");
    assert.equal(other.ok, false);
    assert.equal(!other.ok && other.reason, "unknown");
    // Malformed hashed patterns never match.
    assert.equal(verify(line("|1|onlysalt", keyA), keyA, "h1").ok, false);
  });

  it("matches wildcard patterns and honours negation", () => {
    const text = line("*.lab.example,!bad.lab.example,host?", keyA);
    assert.deepEqual(verify(text, keyA, "good.lab.example"), { ok: true });
    assert.deepEqual(verify(text, keyA, "a.b.lab.example"), { ok: true });
    assert.deepEqual(verify(text, keyA, "host7"), { ok: true });
    assert.equal(verify(text, keyA, "host77").ok, false, "? is exactly one character");
    assert.equal(verify(text, keyA, "lab.example").ok, false);
    assert.equal(verify(text, keyA, "bad.lab.example").ok, false, "negated");
    assert.equal(verify(text, keyA, "goodxlab.example").ok, false, "dots are literal");
    // A negated pattern alone does not match anything.
    assert.equal(verify(line("!h1", keyA), keyA, "h2").ok, false);
  });

  it("reports an unknown host", () => {
    const verdict = verify(line("h1", keyA), keyB, "h2");
    assert.deepEqual(verdict, {
      ok: false,
      reason: "unknown",
      fingerprint: sha256Fingerprint(keyB),
      known: [],
    });
    assert.deepEqual(verify("", keyA, "h1"), {
      ok: false,
      reason: "unknown",
      fingerprint: sha256Fingerprint(keyA),
      known: [],
    });
  });

  it("reports a mismatch with the fingerprints known for the host", () => {
    const verdict = verify([line("h1", keyA), line("h2", keyB)].join("\n"), keyB, "h1");
    assert.deepEqual(verdict, {
      ok: false,
      reason: "mismatch",
      fingerprint: sha256Fingerprint(keyB),
      known: [sha256Fingerprint(keyA)],
    });
  });

  it("accepts a host with several known keys when one matches", () => {
    const text = [line("h1", keyA), line("h1", keyB)].join("\n");
    assert.deepEqual(verify(text, keyB, "h1"), { ok: true });
  });

  it("rejects a revoked key even when it is also listed as known or pinned", () => {
    const text = [line("h1", keyA), line("*", keyA, "@revoked")].join("\n");
    const verdict = verify(text, keyA, "h1", [sha256Fingerprint(keyA)]);
    assert.equal(verdict.ok, false);
    assert.equal(!verdict.ok && verdict.reason, "revoked");
    assert.equal(!verdict.ok && verdict.fingerprint, sha256Fingerprint(keyA));
    // Another key of the same host is unaffected.
    assert.deepEqual(
      verify([line("h1", keyB), line("*", keyA, "@revoked")].join("\n"), keyB, "h1"),
      {
        ok: true,
      },
    );
  });

  it("ignores @cert-authority lines for plain key matching", () => {
    const verdict = verify(line("*", keyA, "@cert-authority"), keyA, "h1");
    assert.equal(verdict.ok, false);
    assert.equal(!verdict.ok && verdict.reason, "unknown");
  });

  it("accepts a pinned fingerprint without any known_hosts entry", () => {
    assert.deepEqual(verify("", keyA, "h1", [sha256Fingerprint(keyA)]), { ok: true });
    assert.deepEqual(verify(line("h1", keyB), keyA, "h1", [sha256Fingerprint(keyA)]), { ok: true });
    const verdict = verify("", keyB, "h1", [sha256Fingerprint(keyA)]);
    assert.deepEqual(verdict, {
      ok: false,
      reason: "mismatch",
      fingerprint: sha256Fingerprint(keyB),
      known: [sha256Fingerprint(keyA)],
    });
  });

  it("formats fingerprints as ssh-keygen -l does", () => {
    const fp = sha256Fingerprint(keyA);
    assert.ok(fp.startsWith("SHA256:"));
    assert.ok(!fp.includes("="));
    // ssh-keygen -lf: SHA256 of the blob, base64, padding stripped (43 characters for 32 bytes).
    const expected = createHash("sha256").update(keyA).digest("base64").replace(/=+$/, "");
    assert.equal(fp, `SHA256:${expected}`);
    assert.equal(fp.length, 7 + 43);
  });

  it("matches a fingerprint that ssh-keygen printed for a fixed key", () => {
    // An ed25519 key blob with raw public key bytes 0x00..0x1f; its fingerprint as printed by
    // `ssh-keygen -lf` for "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f".
    const raw = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    const blob = Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(raw)]);
    assert.equal(
      blob.toString("base64"),
      "AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f",
    );
    assert.equal(sha256Fingerprint(blob), SSH_KEYGEN_FINGERPRINT);
  });
});

/** Printed by OpenSSH 9 `ssh-keygen -lf` for the fixed key above. */
const SSH_KEYGEN_FINGERPRINT = "SHA256:ZkAslGjFiUHdGf/WUL8rQvkib4PTvQatUV0OUQSncCA";
