// ssh transport: opens an SSH session with ssh2 and runs `virt-ssh-helper <name>` on the host,
// as libvirt's own qemu+ssh does; the exec channel is the byte stream. Host keys are verified
// against known_hosts or pinned fingerprints; accepting any key must be asked for explicitly.
import { Duplex } from "node:stream";
import { appendFileSync, readFileSync } from "node:fs";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { LibvirtClientError } from "../errors";
import type { Transport } from "./transport";
import {
  knownHostsName,
  parseKnownHosts,
  verifyHostKey,
  type HostKeyVerdict,
  type KnownHostEntry,
} from "./known-hosts";

export interface SshOptions {
  host: string;
  port?: number;
  username: string;
  /** PEM/OpenSSH private key; a secret, never logged. */
  privateKey?: string | Buffer;
  passphrase?: string;
  /** ssh-agent socket; used when no private key is given. */
  agent?: string;
  /** known_hosts content (not a path). */
  knownHosts?: string;
  /** Where to record a new host key when hostKeyPolicy is "accept-new". */
  knownHostsFile?: string;
  /** "SHA256:..." fingerprints accepted in addition to known_hosts. */
  pinnedFingerprints?: string[];
  /** "verify" (default) refuses unknown and changed keys; "accept-new" records unknown ones; "insecure-accept-any" checks nothing. */
  hostKeyPolicy?: "verify" | "accept-new" | "insecure-accept-any";
  /** Command run on the host; its stdin/stdout carry the RPC stream. */
  remoteCommand: string;
}

function hostKeyError(
  host: string,
  port: number,
  verdict: Exclude<HostKeyVerdict, { ok: true }>,
): LibvirtClientError {
  const where = knownHostsName(host, port);
  const messages = {
    unknown: `host key of ${where} is not in known_hosts (presented ${verdict.fingerprint}); add the host's key to known_hosts or pin its fingerprint`,
    mismatch: `HOST KEY MISMATCH for ${where}: presented ${verdict.fingerprint}, expected ${verdict.known.join(" or ")}; someone may be intercepting the connection, or the host was reinstalled — verify and update known_hosts`,
    revoked: `host key ${verdict.fingerprint} of ${where} is marked @revoked in known_hosts; refusing to connect`,
  };
  return new LibvirtClientError("VMP_LIBVIRT_HOST_KEY", messages[verdict.reason]);
}

/** Wraps an exec channel so that closing the stream also ends the SSH session. */
function channelStream(client: Client, channel: ClientChannel): Duplex {
  const stream = new Duplex({
    read() {
      channel.resume();
    },
    write(chunk, _enc, cb) {
      channel.write(chunk, cb);
    },
    final(cb) {
      channel.end();
      cb();
    },
    destroy(err, cb) {
      channel.destroy();
      client.end();
      cb(err);
    },
  });
  channel.on("data", (data: Buffer) => {
    if (!stream.push(data)) channel.pause();
  });
  let stderr = "";
  channel.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  channel.on("close", (code: number | null) => {
    if (code && stderr)
      stream.destroy(
        new LibvirtClientError(
          "VMP_LIBVIRT_TRANSPORT",
          `remote command failed (${code}): ${stderr.trim()}`,
        ),
      );
    else stream.push(null);
    client.end();
  });
  client.on("error", (err) => stream.destroy(err));
  return stream;
}

export class SshTransport implements Transport {
  readonly description: string;
  private readonly port: number;

  constructor(private readonly options: SshOptions) {
    this.port = options.port ?? 22;
    this.description = `ssh ${options.username}@${options.host}:${this.port}`;
  }

  connect(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Duplex> {
    const o = this.options;
    const policy = o.hostKeyPolicy ?? "verify";
    const name = knownHostsName(o.host, this.port);
    // With accept-new, a key once accepted is pinned: what the file has recorded counts next to
    // the configured keys (read at every connection), and so does what this process accepted.
    const recorded =
      policy === "accept-new" && o.knownHostsFile ? (readOptional(o.knownHostsFile) ?? "") : "";
    const entries = [
      ...parseKnownHosts(`${o.knownHosts ?? ""}\n${recorded}`),
      ...(acceptedKeys.get(name) ?? []),
    ];
    let rejection: LibvirtClientError | undefined;

    const config: ConnectConfig = {
      host: o.host,
      port: this.port,
      username: o.username,
      privateKey: o.privateKey,
      passphrase: o.passphrase,
      agent: o.privateKey ? undefined : o.agent,
      readyTimeout: opts.timeoutMs ?? 15_000,
      keepaliveInterval: 5_000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        const verdict = this.checkHostKey(key, policy, name, entries);
        if (verdict !== true) rejection = verdict;
        return verdict === true;
      },
    };

    return new Promise((resolve, reject) => {
      const client = new Client();
      const fail = (err: Error) => {
        opts.signal?.removeEventListener("abort", onAbort);
        client.end();
        if (rejection) return reject(rejection);
        if (err instanceof LibvirtClientError) return reject(err);
        const level = (err as { level?: string }).level;
        const code =
          level === "client-authentication" ? "VMP_LIBVIRT_AUTH" : "VMP_LIBVIRT_TRANSPORT";
        reject(
          new LibvirtClientError(
            code,
            `ssh to ${o.username}@${o.host}:${this.port} failed: ${err.message}`,
            { cause: err },
          ),
        );
      };
      const onAbort = () =>
        fail(
          new LibvirtClientError(
            "VMP_LIBVIRT_ABORTED",
            `connecting to ${this.description} was cancelled`,
          ),
        );
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      client.once("error", fail);
      client.once("ready", () => {
        client.exec(o.remoteCommand, (err, channel) => {
          if (err) return fail(err);
          opts.signal?.removeEventListener("abort", onAbort);
          client.off("error", fail);
          resolve(channelStream(client, channel));
        });
      });
      client.connect(config);
    });
  }

  /**
   * Whether the host's key is one it may have: configured or recorded (verify), else accepted
   * and pinned on first sight (accept-new), or anything (insecure-accept-any); otherwise why not.
   */
  private checkHostKey(
    key: Buffer,
    policy: NonNullable<SshOptions["hostKeyPolicy"]>,
    name: string,
    entries: ReturnType<typeof parseKnownHosts>,
  ): true | LibvirtClientError {
    const o = this.options;
    if (policy === "insecure-accept-any") return true;
    const verdict = verifyHostKey(key, name, entries, o.pinnedFingerprints);
    if (verdict.ok) return true;
    if (verdict.reason === "unknown" && policy === "accept-new") {
      const keyType = parseSshKeyType(key);
      acceptedKeys.set(name, [{ patterns: [name], keyType, key: Buffer.from(key) }]);
      if (o.knownHostsFile) {
        try {
          appendFileSync(o.knownHostsFile, `${name} ${keyType} ${key.toString("base64")}\n`);
        } catch {
          // pinned for this process all the same
        }
      }
      return true;
    }
    return hostKeyError(o.host, this.port, verdict);
  }
}

/** Host keys this process accepted under accept-new, by known_hosts name: pinned from then on. */
const acceptedKeys = new Map<string, KnownHostEntry[]>();

/** A file's text, or undefined when it cannot be read. */
export function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** The key type name at the start of an SSH public key blob (e.g. "ssh-ed25519"). */
function parseSshKeyType(blob: Buffer): string {
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString("ascii");
}

export function readKnownHostsFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new LibvirtClientError(
      "VMP_LIBVIRT_HOST_KEY",
      `cannot read known_hosts file ${path}: ${(err as Error).message}`,
    );
  }
}
