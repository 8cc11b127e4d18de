// Chooses and configures the transport for a parsed libvirt URI.
import os from "node:os";
import path from "node:path";
import { readFileSync } from "node:fs";
import { LibvirtClientError } from "../errors";
import { defaultSocketPath, type LibvirtUri } from "../uri";
import {
  TcpTransport,
  TlsTransport,
  UnixTransport,
  DEFAULT_TCP_PORT,
  DEFAULT_TLS_PORT,
  type TlsMaterial,
} from "./socket";
import { readKnownHostsFile, readOptional, SshTransport } from "./ssh";
import type { Transport } from "./transport";

export interface TransportCredentials {
  /** SSH private key content (a secret); takes precedence over the URI's keyfile. */
  sshPrivateKey?: string | Buffer;
  sshPassphrase?: string;
  /** known_hosts content; takes precedence over the URI's known_hosts path. */
  sshKnownHosts?: string;
  sshPinnedFingerprints?: string[];
  /** Accept any host key: only for throwaway labs, and only when asked for explicitly. */
  sshInsecureIgnoreHostKeys?: boolean;
  /** TLS material; takes precedence over files in the URI's pkipath. */
  tls?: TlsMaterial;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function remoteCommand(u: LibvirtUri): string {
  if (u.params.command) return u.params.command;
  const netcat = `${u.params.netcat ?? "nc"} -U ${shellQuote(defaultSocketPath(u))}`;
  const helper = `virt-ssh-helper ${shellQuote(u.name)}`;
  if (u.params.proxy === "native") return helper;
  if (u.params.proxy === "netcat") return netcat;
  return `sh -c ${shellQuote(`if command -v virt-ssh-helper >/dev/null 2>&1; then exec ${helper}; else exec ${netcat}; fi`)}`;
}

function tlsMaterial(u: LibvirtUri, creds: TransportCredentials): TlsMaterial {
  if (creds.tls) return { ...creds.tls, verify: creds.tls.verify ?? !u.params.noVerify };
  const dir = u.params.pkipath ?? path.join(os.homedir(), ".pki", "libvirt");
  const ca = readOptional(path.join(dir, "cacert.pem")) ?? readOptional("/etc/pki/CA/cacert.pem");
  if (!ca) {
    throw new LibvirtClientError(
      "VMP_LIBVIRT_URI",
      `${u.uri}: no CA certificate (cacert.pem) in ${dir} or /etc/pki/CA; pass TLS material or set pkipath`,
    );
  }
  return {
    ca,
    cert: readOptional(path.join(dir, "clientcert.pem")),
    key: readOptional(path.join(dir, "clientkey.pem")),
    verify: !u.params.noVerify,
  };
}

export function openTransport(u: LibvirtUri, creds: TransportCredentials = {}): Transport {
  switch (u.transport) {
    case "unix":
      return new UnixTransport(defaultSocketPath(u));
    case "tcp":
      return new TcpTransport(u.host!, u.port ?? DEFAULT_TCP_PORT);
    case "tls":
      return new TlsTransport(u.host!, tlsMaterial(u, creds), u.port ?? DEFAULT_TLS_PORT);
    case "ssh": {
      const privateKey =
        creds.sshPrivateKey ?? (u.params.keyfile ? readFileSync(u.params.keyfile) : undefined);
      const knownHostsFile = u.params.knownHosts ?? path.join(os.homedir(), ".ssh", "known_hosts");
      const verify = creds.sshInsecureIgnoreHostKeys ? "ignore" : u.params.knownHostsVerify;
      // accept-new reads the file itself at every connection (what it recorded counts).
      const knownHosts =
        creds.sshKnownHosts ?? (verify === "normal" ? readKnownHostsFile(knownHostsFile) : "");
      return new SshTransport({
        host: u.host!,
        port: u.port,
        username: u.user ?? os.userInfo().username,
        privateKey,
        passphrase: creds.sshPassphrase,
        agent: process.env.SSH_AUTH_SOCK,
        knownHosts,
        knownHostsFile,
        pinnedFingerprints: creds.sshPinnedFingerprints,
        hostKeyPolicy:
          verify === "ignore" ? "insecure-accept-any" : verify === "auto" ? "accept-new" : "verify",
        remoteCommand: remoteCommand(u),
      });
    }
  }
}
