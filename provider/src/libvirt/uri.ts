// libvirt connection URIs, parsed as libvirt's remote driver does:
//   driver[+transport]://[user@][host][:port]/path[?param=value&...]
// Client-side parameters (keyfile, known_hosts, socket, ...) are consumed here; the remaining
// URI, without the transport, is the name sent to the daemon (e.g. qemu:///system).
import { LibvirtClientError } from "./errors";

export type TransportKind = "unix" | "tcp" | "tls" | "ssh";

export interface LibvirtUri {
  /** The URI as given, with nothing secret in it. */
  uri: string;
  driver: string;
  transport: TransportKind;
  user?: string;
  host?: string;
  port?: number;
  /** e.g. "/system" */
  path: string;
  /** The URI the daemon opens: e.g. qemu:///system. */
  name: string;
  params: {
    socket?: string;
    keyfile?: string;
    knownHosts?: string;
    knownHostsVerify: "normal" | "auto" | "ignore";
    noVerify: boolean;
    pkipath?: string;
    command?: string;
    proxy: "auto" | "netcat" | "native";
    netcat?: string;
  };
}

// Parameters the client consumes; others are passed through to the daemon in the name.
const CLIENT_PARAMS = new Set([
  "name",
  "command",
  "socket",
  "netcat",
  "keyfile",
  "no_verify",
  "no_tty",
  "pkipath",
  "known_hosts",
  "known_hosts_verify",
  "sshauth",
  "tls_priority",
  "mode",
  "proxy",
]);

const TRANSPORTS: Record<string, TransportKind> = {
  unix: "unix",
  tcp: "tcp",
  tls: "tls",
  ssh: "ssh",
  libssh: "ssh",
  libssh2: "ssh",
};

function invalid(uri: string, why: string): LibvirtClientError {
  return new LibvirtClientError(
    "VMP_LIBVIRT_URI",
    `invalid libvirt URI '${uri}': ${why}; expected e.g. qemu:///system, qemu+tcp://host/system, ` +
      `qemu+tls://host/system or qemu+ssh://user@host:22/system?keyfile=...&known_hosts=...`,
  );
}

export function parseLibvirtUri(uri: string): LibvirtUri {
  const m = /^([a-z][a-z0-9-]*)(?:\+([a-z0-9-]+))?:\/\/(.*)$/i.exec(uri);
  if (!m) throw invalid(uri, "it does not start with driver[+transport]://");
  const [, driver, transportName] = m;
  let parsed: URL;
  try {
    parsed = new URL(`placeholder://${m[3]}`);
  } catch {
    throw invalid(uri, "the host, port or path is malformed");
  }
  const host = parsed.hostname
    ? decodeURIComponent(parsed.hostname).replace(/^\[|\]$/g, "")
    : undefined;
  let transport: TransportKind;
  if (transportName) {
    const t = TRANSPORTS[transportName.toLowerCase()];
    if (!t)
      throw invalid(uri, `unsupported transport '${transportName}' (use unix, tcp, tls or ssh)`);
    transport = t;
  } else {
    transport = host ? "tls" : "unix";
  }
  if (transport === "unix" && host) throw invalid(uri, "a unix socket URI has no host");
  if (transport !== "unix" && !host) throw invalid(uri, `the ${transport} transport needs a host`);
  const port = parsed.port ? Number(parsed.port) : undefined;

  const q = parsed.searchParams;
  const verify = q.get("known_hosts_verify") ?? "normal";
  if (verify !== "normal" && verify !== "auto" && verify !== "ignore") {
    throw invalid(uri, `known_hosts_verify must be normal, auto or ignore, not '${verify}'`);
  }
  const proxy = q.get("proxy") ?? "auto";
  if (proxy !== "auto" && proxy !== "netcat" && proxy !== "native") {
    throw invalid(uri, `proxy must be auto, netcat or native, not '${proxy}'`);
  }
  const passThrough = [...q.entries()].filter(([k]) => !CLIENT_PARAMS.has(k));
  const query = passThrough.length ? "?" + new URLSearchParams(passThrough).toString() : "";
  const path = parsed.pathname || "/";

  return {
    uri,
    driver,
    transport,
    user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    host,
    port,
    path,
    name: q.get("name") ?? `${driver}://${path}${query}`,
    params: {
      socket: q.get("socket") ?? undefined,
      keyfile: q.get("keyfile") ?? undefined,
      knownHosts: q.get("known_hosts") ?? undefined,
      knownHostsVerify: verify,
      noVerify: q.get("no_verify") === "1",
      pkipath: q.get("pkipath") ?? undefined,
      command: q.get("command") ?? undefined,
      proxy,
      netcat: q.get("netcat") ?? undefined,
    },
  };
}

/** The daemon's unix socket for a URI's name (system instance of the monolithic daemon). */
export function defaultSocketPath(u: LibvirtUri): string {
  return u.params.socket ?? "/run/libvirt/libvirt-sock";
}
