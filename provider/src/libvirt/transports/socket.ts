// unix, tcp and tls transports: node's own sockets.
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import { LibvirtClientError } from "../errors";
import type { Transport } from "./transport";

export const DEFAULT_TCP_PORT = 16509;
export const DEFAULT_TLS_PORT = 16514;

function waitForConnect(
  socket: net.Socket,
  readyEvent: "connect" | "secureConnect",
  description: string,
  options: { timeoutMs?: number; signal?: AbortSignal },
): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const fail = (err: Error) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      reject(
        err instanceof LibvirtClientError
          ? err
          : new LibvirtClientError(
              "VMP_LIBVIRT_TRANSPORT",
              `cannot connect to ${description}: ${err.message}`,
              { cause: err },
            ),
      );
    };
    const onAbort = () =>
      fail(
        new LibvirtClientError("VMP_LIBVIRT_ABORTED", `connecting to ${description} was cancelled`),
      );
    const timer = setTimeout(
      () =>
        fail(
          new LibvirtClientError(
            "VMP_LIBVIRT_TIMEOUT",
            `connecting to ${description} timed out after ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    options.signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", fail);
    socket.once(readyEvent, () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.off("error", fail);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

export class UnixTransport implements Transport {
  readonly description: string;
  constructor(private readonly path: string) {
    this.description = `unix ${path}`;
  }
  connect(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Duplex> {
    return waitForConnect(net.connect({ path: this.path }), "connect", this.description, options);
  }
}

export class TcpTransport implements Transport {
  readonly description: string;
  constructor(
    private readonly host: string,
    private readonly port = DEFAULT_TCP_PORT,
  ) {
    this.description = `tcp ${host}:${port}`;
  }
  connect(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Duplex> {
    const socket = net.connect({ host: this.host, port: this.port });
    socket.setKeepAlive(true, 10_000);
    return waitForConnect(socket, "connect", this.description, options);
  }
}

export interface TlsMaterial {
  /** PEM: the CA that signed the daemon's certificate. */
  ca: string;
  /** PEM client certificate and key, for daemons that verify clients (libvirt does by default). */
  cert?: string;
  key?: string;
  /** Name to verify the server certificate against; defaults to the host. */
  serverName?: string;
  /** Verify the server certificate; libvirt's `no_verify=1` turns it off. */
  verify?: boolean;
}

export class TlsTransport implements Transport {
  readonly description: string;
  constructor(
    private readonly host: string,
    private readonly material: TlsMaterial,
    private readonly port = DEFAULT_TLS_PORT,
  ) {
    this.description = `tls ${host}:${port}`;
  }
  async connect(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Duplex> {
    const serverName = this.material.serverName ?? this.host;
    const socket = tls.connect({
      host: this.host,
      port: this.port,
      ca: this.material.ca,
      cert: this.material.cert,
      key: this.material.key,
      servername: net.isIP(serverName) ? undefined : serverName,
      rejectUnauthorized: this.material.verify ?? true,
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(serverName, cert),
    });
    const stream = await waitForConnect(socket, "secureConnect", this.description, options);
    await this.readCertificateVerdict(socket, options.timeoutMs ?? 10_000);
    return stream;
  }

  /**
   * After the handshake the daemon checks our certificate and sends one byte, 1 when it
   * accepts us; otherwise it hangs up.
   */
  private readCertificateVerdict(socket: tls.TLSSocket, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const refuse = (why: string) => {
        cleanup();
        socket.destroy();
        reject(
          new LibvirtClientError(
            "VMP_LIBVIRT_AUTH",
            `${this.description} refused our TLS client certificate (${why}); check that the daemon's CA signed it and that its name is allowed`,
          ),
        );
      };
      const onReadable = () => {
        const byte = socket.read(1) as Buffer | null;
        if (byte === null) return;
        cleanup();
        if (byte[0] !== 1) return refuse(`verdict byte ${byte[0]}`);
        resolve();
      };
      const onEnd = () => refuse("connection closed");
      const timer = setTimeout(() => refuse(`no verdict within ${timeoutMs} ms`), timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        socket.off("readable", onReadable);
        socket.off("end", onEnd);
        socket.off("close", onEnd);
        socket.off("error", onEnd);
      };
      socket.on("readable", onReadable);
      socket.once("end", onEnd);
      socket.once("close", onEnd);
      socket.once("error", onEnd);
      onReadable();
    });
  }
}
