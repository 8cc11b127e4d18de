// Host key verification as OpenSSH does it: known_hosts entries (plain, [host]:port, wildcard
// and hashed |1|salt|hash patterns, @revoked) and pinned SHA256 fingerprints.
import { createHash, createHmac } from "node:crypto";

export interface KnownHostEntry {
  marker?: "@revoked" | "@cert-authority";
  patterns: string[];
  keyType: string;
  key: Buffer;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry["marker"];
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority")
      marker = fields.shift() as KnownHostEntry["marker"];
    if (fields.length < 3) continue;
    entries.push({
      marker,
      patterns: fields[0].split(","),
      keyType: fields[1],
      key: Buffer.from(fields[2], "base64"),
    });
  }
  return entries;
}

/** The name OpenSSH records for a host: "host", or "[host]:port" off port 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`, "i");
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt, hash] = pattern.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  return globToRegExp(pattern).test(name);
}

function entryMatches(entry: KnownHostEntry, name: string): boolean {
  let matched = false;
  for (const pattern of entry.patterns) {
    const negated = pattern.startsWith("!");
    if (patternMatches(negated ? pattern.slice(1) : pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export function sha256Fingerprint(key: Buffer): string {
  return "SHA256:" + createHash("sha256").update(key).digest("base64").replace(/=+$/, "");
}

export type HostKeyVerdict =
  | { ok: true }
  | { ok: false; reason: "unknown" | "mismatch" | "revoked"; fingerprint: string; known: string[] };

/** Checks a presented host key against known_hosts entries for `name` and pinned fingerprints. */
export function verifyHostKey(
  presented: Buffer,
  name: string,
  entries: KnownHostEntry[],
  pinnedFingerprints: string[] = [],
): HostKeyVerdict {
  const fingerprint = sha256Fingerprint(presented);
  const forHost = entries.filter((e) => e.marker !== "@cert-authority" && entryMatches(e, name));
  if (forHost.some((e) => e.marker === "@revoked" && e.key.equals(presented))) {
    return { ok: false, reason: "revoked", fingerprint, known: [] };
  }
  if (pinnedFingerprints.includes(fingerprint)) return { ok: true };
  const known = forHost.filter((e) => e.marker === undefined);
  if (known.some((e) => e.key.equals(presented))) return { ok: true };
  const knownFingerprints = [
    ...new Set([...known.map((e) => sha256Fingerprint(e.key)), ...pinnedFingerprints]),
  ];
  return {
    ok: false,
    reason: knownFingerprints.length ? "mismatch" : "unknown",
    fingerprint,
    known: knownFingerprints,
  };
}
