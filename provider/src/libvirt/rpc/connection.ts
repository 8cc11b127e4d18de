// The RPC core over one byte stream: many calls in flight matched by serial, per-call timeouts
// and cancellation, keepalive, server messages (events) routed by program and procedure, and
// data streams. It knows packets and payload bytes, not procedures or types.
import type { Duplex } from "node:stream";
import { EventEmitter } from "node:events";
import { LibvirtClientError, LibvirtError, type LibvirtWireError } from "../errors";
import {
  encodePacket,
  MessageStatus,
  MessageType,
  PacketDecoder,
  type Packet,
  type PacketHeader,
} from "../protocol/packet";
import { RpcStream } from "./stream";

export const KEEPALIVE_PROGRAM = 0x6b656570;
const KEEPALIVE_VERSION = 1;
const KEEPALIVE_PING = 1;
const KEEPALIVE_PONG = 2;

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RpcConnectionOptions {
  description: string;
  /** Decodes an error payload (virNetMessageError). */
  decodeError: (payload: Buffer) => LibvirtWireError;
  /** Names a procedure for messages. */
  procedureName?: (program: number, procedure: number) => string;
  defaultTimeoutMs?: number;
}

interface PendingCall {
  name: string;
  /** What the reply must echo, as libvirt's own client checks it. */
  program: number;
  version: number;
  procedure: number;
  resolve(payload: Buffer): void;
  reject(err: Error): void;
  stream?: RpcStream;
}

export type MessageHandler = (payload: Buffer, header: PacketHeader) => void;

export class RpcConnection extends EventEmitter {
  private readonly decoder = new PacketDecoder();
  private readonly pending = new Map<number, PendingCall>();
  private readonly streams = new Map<number, RpcStream>();
  private readonly handlers = new Map<string, MessageHandler>();
  private nextSerial = 1;
  private closedError: LibvirtClientError | undefined;
  private lastReceived = Date.now();
  private keepaliveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Duplex,
    private readonly options: RpcConnectionOptions,
  ) {
    super();
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) =>
      this.fail(
        new LibvirtClientError(
          "VMP_LIBVIRT_CLOSED",
          `connection to ${options.description} failed: ${err.message}`,
          { cause: err },
        ),
      ),
    );
    socket.on("close", () =>
      this.fail(
        new LibvirtClientError("VMP_LIBVIRT_CLOSED", `connection to ${options.description} closed`),
      ),
    );
    socket.on("end", () =>
      this.fail(
        new LibvirtClientError(
          "VMP_LIBVIRT_CLOSED",
          `connection to ${options.description} closed by the daemon`,
        ),
      ),
    );
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  get description(): string {
    return this.options.description;
  }

  /** Sends a call and resolves with the reply payload; a libvirt error rejects with LibvirtError. */
  call(
    program: number,
    version: number,
    procedure: number,
    payload: Buffer,
    options: CallOptions = {},
  ): Promise<Buffer> {
    return this.startCall(program, version, procedure, payload, options).reply;
  }

  /** A call whose procedure carries a data stream (volume upload/download, console). */
  callWithStream(
    program: number,
    version: number,
    procedure: number,
    payload: Buffer,
    options: CallOptions = {},
  ): { reply: Promise<Buffer>; stream: RpcStream } {
    const serial = this.nextSerial;
    const stream = new RpcStream({
      send: (status, data) =>
        this.sendPacket(
          { program, version, procedure, type: MessageType.Stream, serial, status },
          data,
        ),
      onDrain: (cb) => this.socket.once("drain", cb),
      pause: () => this.socket.pause(),
      resume: () => this.socket.resume(),
      description: this.name(program, procedure),
    });
    this.streams.set(serial, stream);
    stream.once("close", () => this.streams.delete(serial));
    const { reply } = this.startCall(program, version, procedure, payload, options, stream);
    return { reply, stream };
  }

  private startCall(
    program: number,
    version: number,
    procedure: number,
    payload: Buffer,
    options: CallOptions,
    stream?: RpcStream,
  ): { reply: Promise<Buffer> } {
    const name = this.name(program, procedure);
    if (this.closedError) return { reply: Promise.reject(this.closedError) };
    const serial = this.nextSerial;
    this.nextSerial = this.nextSerial >= 0xffffffff ? 1 : this.nextSerial + 1;
    const reply = new Promise<Buffer>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.options.defaultTimeoutMs;
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        this.pending.delete(serial);
      };
      const onAbort = () => {
        settle();
        reject(new LibvirtClientError("VMP_LIBVIRT_ABORTED", `${name} was cancelled`));
      };
      if (options.signal?.aborted) return onAbort();
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => {
          settle();
          reject(
            new LibvirtClientError(
              "VMP_LIBVIRT_TIMEOUT",
              `${name} on ${this.options.description} timed out after ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
      }
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(serial, {
        name,
        program,
        version,
        procedure,
        stream,
        resolve: (p) => {
          settle();
          resolve(p);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      });
      this.sendPacket(
        { program, version, procedure, type: MessageType.Call, serial, status: MessageStatus.Ok },
        payload,
      );
    });
    return { reply };
  }

  /** Routes server-initiated messages (events) of one program and procedure to a handler. */
  onMessage(program: number, procedure: number, handler: MessageHandler): void {
    this.handlers.set(`${program}:${procedure}`, handler);
  }

  /**
   * Pings the daemon every `intervalMs` and closes the connection when nothing has been heard
   * for `intervalMs * count`, so a dead or frozen peer fails every pending call within seconds.
   */
  startKeepalive(intervalMs: number, count: number): void {
    this.stopKeepalive();
    this.lastReceived = Date.now();
    this.keepaliveTimer = setInterval(() => {
      // While a slow stream consumer holds the socket paused, silence is ours, not the peer's.
      if (this.socket.isPaused()) this.lastReceived = Date.now();
      const silentMs = Date.now() - this.lastReceived;
      if (silentMs >= intervalMs * count) {
        this.fail(
          new LibvirtClientError(
            "VMP_LIBVIRT_CLOSED",
            `no answer from ${this.options.description} for ${silentMs} ms (keepalive); the daemon or host is unresponsive`,
          ),
        );
        this.socket.destroy();
        return;
      }
      this.sendPacket({
        program: KEEPALIVE_PROGRAM,
        version: KEEPALIVE_VERSION,
        procedure: KEEPALIVE_PING,
        type: MessageType.Message,
        serial: 0,
        status: MessageStatus.Ok,
      });
    }, intervalMs);
    this.keepaliveTimer.unref();
  }

  private stopKeepalive(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  close(): void {
    this.fail(
      new LibvirtClientError(
        "VMP_LIBVIRT_CLOSED",
        `connection to ${this.options.description} was closed by the client`,
      ),
    );
    this.socket.end();
    this.socket.destroy();
  }

  private sendPacket(header: PacketHeader, payload?: Buffer): boolean {
    if (this.closedError) throw this.closedError;
    return this.socket.write(encodePacket(header, payload));
  }

  private name(program: number, procedure: number): string {
    return (
      this.options.procedureName?.(program, procedure) ??
      `procedure ${procedure} of program 0x${program.toString(16)}`
    );
  }

  private onData(chunk: Buffer): void {
    this.lastReceived = Date.now();
    let packets: Packet[];
    try {
      packets = this.decoder.push(chunk);
    } catch (err) {
      this.fail(
        new LibvirtClientError(
          "VMP_LIBVIRT_PROTOCOL",
          `malformed data from ${this.options.description}: ${(err as Error).message}`,
        ),
      );
      this.socket.destroy();
      return;
    }
    for (const packet of packets) this.dispatch(packet);
  }

  private dispatch({ header, payload }: Packet): void {
    if (this.closedError) return; // closed while handling an earlier packet of the same chunk
    if (header.program === KEEPALIVE_PROGRAM) {
      if (header.procedure === KEEPALIVE_PING) {
        this.sendPacket({
          ...header,
          procedure: KEEPALIVE_PONG,
          type: MessageType.Message,
          status: MessageStatus.Ok,
        });
      }
      return;
    }
    switch (header.type) {
      case MessageType.Reply:
      case MessageType.ReplyWithFds: {
        const call = this.pending.get(header.serial);
        if (!call) {
          // A failed stream finish comes back as an error reply on the stream's serial.
          const stream = this.streams.get(header.serial);
          if (stream && header.status === MessageStatus.Error)
            stream.receiveError(
              this.wireError(payload, this.name(header.program, header.procedure)),
            );
          return; // otherwise: timed out or cancelled, the late reply is dropped
        }
        if (
          header.program !== call.program ||
          header.version !== call.version ||
          header.procedure !== call.procedure
        ) {
          // The replies no longer line up with the calls: nothing on this stream can be trusted.
          this.fail(
            new LibvirtClientError(
              "VMP_LIBVIRT_PROTOCOL",
              `${this.options.description} answered ${call.name} (serial ${header.serial}) with a reply to ${this.name(header.program, header.procedure)} (program 0x${header.program.toString(16)} version ${header.version}); the connection is closed`,
            ),
          );
          this.socket.destroy();
          return;
        }
        if (header.status === MessageStatus.Ok) call.resolve(payload);
        else call.reject(this.wireError(payload, call.name));
        return;
      }
      case MessageType.Message: {
        const handler = this.handlers.get(`${header.program}:${header.procedure}`);
        if (handler) {
          try {
            handler(payload, header);
          } catch (err) {
            this.emit("handlerError", err);
          }
        }
        return;
      }
      case MessageType.Stream:
      case MessageType.StreamHole: {
        const stream = this.streams.get(header.serial);
        if (!stream) return;
        if (header.status === MessageStatus.Error)
          stream.receiveError(this.wireError(payload, this.name(header.program, header.procedure)));
        else stream.receive(header.status, payload, header.type === MessageType.StreamHole);
        return;
      }
      default:
        return;
    }
  }

  private wireError(payload: Buffer, name: string): Error {
    try {
      return new LibvirtError(this.options.decodeError(payload), name);
    } catch (err) {
      return new LibvirtClientError(
        "VMP_LIBVIRT_PROTOCOL",
        `${name} failed with an undecodable error: ${(err as Error).message}`,
      );
    }
  }

  private fail(err: LibvirtClientError): void {
    if (this.closedError) return;
    this.closedError = err;
    this.stopKeepalive();
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls)
      call.reject(new LibvirtClientError(err.code, `${call.name}: ${err.message}`, { cause: err }));
    for (const stream of this.streams.values()) stream.receiveError(err);
    this.streams.clear();
    this.emit("close", err);
  }
}
