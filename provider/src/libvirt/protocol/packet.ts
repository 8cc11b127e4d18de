// libvirt RPC packet framing: a 4-byte total length, a 24-byte header, then the XDR payload.
import { XdrError } from "./xdr";

export enum MessageType {
  Call = 0,
  Reply = 1,
  Message = 2,
  Stream = 3,
  CallWithFds = 4,
  ReplyWithFds = 5,
  StreamHole = 6,
}

export enum MessageStatus {
  Ok = 0,
  Error = 1,
  Continue = 2,
}

export interface PacketHeader {
  program: number;
  version: number;
  procedure: number;
  type: MessageType;
  serial: number;
  status: MessageStatus;
}

export interface Packet {
  header: PacketHeader;
  payload: Buffer;
}

const LENGTH_BYTES = 4;
export const HEADER_BYTES = 24;
/** libvirt's VIR_NET_MESSAGE_MAX: the largest packet either side accepts. */
export const MAX_PACKET_BYTES = 32 * 1024 * 1024;
/** Stream data per packet, as libvirt's own client sends it (VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX). */
export const STREAM_CHUNK_BYTES = 262_120;

export function encodePacket(header: PacketHeader, payload: Buffer = Buffer.alloc(0)): Buffer {
  const total = LENGTH_BYTES + HEADER_BYTES + payload.length;
  if (total > MAX_PACKET_BYTES)
    throw new XdrError(`packet of ${total} bytes exceeds ${MAX_PACKET_BYTES}`);
  const out = Buffer.alloc(LENGTH_BYTES + HEADER_BYTES);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(header.program, 4);
  out.writeUInt32BE(header.version, 8);
  out.writeInt32BE(header.procedure, 12);
  out.writeInt32BE(header.type, 16);
  out.writeUInt32BE(header.serial, 20);
  out.writeInt32BE(header.status, 24);
  return payload.length ? Buffer.concat([out, payload]) : out;
}

function decodeHeader(buf: Buffer): PacketHeader {
  return {
    program: buf.readUInt32BE(0),
    version: buf.readUInt32BE(4),
    procedure: buf.readInt32BE(8),
    type: buf.readInt32BE(12),
    serial: buf.readUInt32BE(16),
    status: buf.readInt32BE(20),
  };
}

/** Reassembles packets from arbitrary chunks of a byte stream. */
export class PacketDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): Packet[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const packets: Packet[] = [];
    for (;;) {
      if (this.buffered < LENGTH_BYTES) break;
      const head = this.peek(LENGTH_BYTES);
      const total = head.readUInt32BE(0);
      if (total < LENGTH_BYTES + HEADER_BYTES || total > MAX_PACKET_BYTES) {
        throw new XdrError(`invalid packet length ${total}`);
      }
      if (this.buffered < total) break;
      const packet = this.take(total);
      packets.push({
        header: decodeHeader(packet.subarray(LENGTH_BYTES, LENGTH_BYTES + HEADER_BYTES)),
        payload: packet.subarray(LENGTH_BYTES + HEADER_BYTES),
      });
    }
    return packets;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0].subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const packet = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return packet;
  }
}
