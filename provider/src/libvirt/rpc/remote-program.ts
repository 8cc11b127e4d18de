// libvirt's REMOTE program on top of the RPC core: typed calls and events by procedure name,
// encoded and decoded through the generated protocol tables.
import type { CallOptions } from "./connection";
import { RpcConnection } from "./connection";
import type { RpcStream } from "./stream";
import { decode, encode } from "../protocol/xdr-types";
import { LibvirtClientError, type LibvirtWireError } from "../errors";
import {
  PROCEDURE_NAMES,
  PROCEDURES,
  REMOTE_PROGRAM,
  REMOTE_PROTOCOL_VERSION,
  TYPES,
  type ProcedureName,
  type ProcedureTypes,
} from "../protocol/remote-protocol.gen";
import type { Duplex } from "node:stream";

export type Args<P extends ProcedureName> = ProcedureTypes[P]["args"];
export type Ret<P extends ProcedureName> = ProcedureTypes[P]["ret"];
export type Msg<P extends ProcedureName> = ProcedureTypes[P]["msg"];

export function decodeWireError(payload: Buffer): LibvirtWireError {
  return decode<LibvirtWireError>(TYPES, "virNetMessageError", payload);
}

/** Decodes a payload; what does not decode is the client's protocol error, not a bare XdrError. */
function decodeOrThrow(type: string, payload: Buffer, what: string): unknown {
  try {
    return decode(TYPES, type, payload);
  } catch (err) {
    throw new LibvirtClientError(
      "VMP_LIBVIRT_PROTOCOL",
      `${what} does not decode as ${type}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export function procedureName(program: number, procedure: number): string {
  if (program === REMOTE_PROGRAM) return `REMOTE_PROC_${PROCEDURE_NAMES[procedure] ?? procedure}`;
  return `procedure ${procedure} of program 0x${program.toString(16)}`;
}

export class RemoteProgram {
  readonly rpc: RpcConnection;

  constructor(socket: Duplex, description: string, defaultTimeoutMs?: number) {
    this.rpc = new RpcConnection(socket, {
      description,
      decodeError: decodeWireError,
      procedureName,
      defaultTimeoutMs,
    });
  }

  private encodeArgs<P extends ProcedureName>(proc: P, args: Args<P>): Buffer {
    const type = PROCEDURES[proc].args;
    return type ? encode(TYPES, type, args) : Buffer.alloc(0);
  }

  private decodeRet<P extends ProcedureName>(proc: P, payload: Buffer): Ret<P> {
    const type = PROCEDURES[proc].ret;
    return (
      type ? decodeOrThrow(type, payload, `the reply to REMOTE_PROC_${proc}`) : undefined
    ) as Ret<P>;
  }

  async call<P extends ProcedureName>(
    proc: P,
    args: Args<P>,
    options?: CallOptions,
  ): Promise<Ret<P>> {
    const payload = await this.rpc.call(
      REMOTE_PROGRAM,
      REMOTE_PROTOCOL_VERSION,
      PROCEDURES[proc].number,
      this.encodeArgs(proc, args),
      options,
    );
    return this.decodeRet(proc, payload);
  }

  /** For procedures that open a data stream; the stream is usable once `reply` resolves. */
  callWithStream<P extends ProcedureName>(
    proc: P,
    args: Args<P>,
    options?: CallOptions,
  ): { reply: Promise<Ret<P>>; stream: RpcStream } {
    const { reply, stream } = this.rpc.callWithStream(
      REMOTE_PROGRAM,
      REMOTE_PROTOCOL_VERSION,
      PROCEDURES[proc].number,
      this.encodeArgs(proc, args),
      options,
    );
    return { reply: reply.then((p) => this.decodeRet(proc, p)), stream };
  }

  /** Routes one event procedure's messages to `handler`. */
  onEvent<P extends ProcedureName>(proc: P, handler: (msg: Msg<P>) => void): void {
    const type = PROCEDURES[proc].msg;
    if (!type) throw new Error(`${proc} is not an event`);
    this.rpc.onMessage(REMOTE_PROGRAM, PROCEDURES[proc].number, (payload) =>
      handler(decodeOrThrow(type, payload, `the event REMOTE_PROC_${proc}`) as Msg<P>),
    );
  }
}
