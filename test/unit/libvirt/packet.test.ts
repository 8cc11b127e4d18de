import assert from "node:assert/strict";
import {
  encodePacket,
  HEADER_BYTES,
  MAX_PACKET_BYTES,
  MessageStatus,
  MessageType,
  PacketDecoder,
  STREAM_CHUNK_BYTES,
  type Packet,
  type PacketHeader,
} from "../../../provider/src/libvirt/protocol/packet";
import { encode } from "../../../provider/src/libvirt/protocol/xdr-types";
import {
  PROCEDURES,
  REMOTE_PROGRAM,
  REMOTE_PROTOCOL_VERSION,
  TYPES,
  VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX,
  VIR_NET_MESSAGE_MAX,
} from "../../../provider/src/libvirt/protocol/remote-protocol.gen";

const openHeader: PacketHeader = {
  program: 0x20008086,
  version: 1,
  procedure: 1,
  type: MessageType.Call,
  serial: 1,
  status: MessageStatus.Ok,
};

const openPayload = () =>
  encode(TYPES, "remote_connect_open_args", { name: "qemu:///system", flags: 0 });

// Worked out by hand: 4 (length) + 24 (header) + 28 (payload) = 56 = 0x38 bytes.
const OPEN_PACKET_HEX = [
  "00000038", // total length, itself included
  "20008086", // program: REMOTE_PROGRAM
  "00000001", // version
  "00000001", // procedure: REMOTE_PROC_CONNECT_OPEN
  "00000000", // type: VIR_NET_CALL
  "00000001", // serial
  "00000000", // status: VIR_NET_OK
  "00000001", // remote_string: present
  "0000000e", // 14 bytes
  "71656d75 3a2f2f2f 73797374 656d", // "qemu:///system"
  "0000", // padding to a multiple of four
  "00000000", // flags
]
  .join("")
  .replace(/ /g, "");

/** A deterministic pseudo-random generator so "random" splits are the same on every run. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 0x100000000;
  };
}

function assertOpenPacket(p: Packet): void {
  assert.deepEqual(p.header, openHeader);
  assert.deepEqual(p.payload, openPayload());
}

describe("libvirt packet framing", () => {
  it("matches the protocol's constants", () => {
    assert.equal(REMOTE_PROGRAM, 0x20008086);
    assert.equal(REMOTE_PROTOCOL_VERSION, 1);
    assert.equal(PROCEDURES.CONNECT_OPEN.number, 1);
    assert.equal(HEADER_BYTES, 24);
    assert.equal(MAX_PACKET_BYTES, VIR_NET_MESSAGE_MAX);
    assert.equal(STREAM_CHUNK_BYTES, VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX);
  });

  it("encodes a CONNECT_OPEN call to the exact bytes", () => {
    const packet = encodePacket(openHeader, openPayload());
    assert.equal(packet.length, 56);
    assert.equal(packet.toString("hex"), OPEN_PACKET_HEX);
  });

  it("encodes a packet without payload as the bare 28-byte header", () => {
    const packet = encodePacket({
      program: 0x6b656570,
      version: 1,
      procedure: 2,
      type: MessageType.Message,
      serial: 0,
      status: MessageStatus.Ok,
    });
    assert.equal(
      packet.toString("hex"),
      "0000001c" + "6b656570" + "00000001" + "00000002" + "00000002" + "00000000" + "00000000",
    );
  });

  it("refuses to encode a packet over 32 MiB", () => {
    assert.throws(
      () => encodePacket(openHeader, Buffer.alloc(MAX_PACKET_BYTES - 28 + 4)),
      /exceeds 33554432/,
    );
    // Exactly the maximum is allowed.
    assert.equal(
      encodePacket(openHeader, Buffer.alloc(MAX_PACKET_BYTES - 28)).length,
      MAX_PACKET_BYTES,
    );
  });

  it("decodes the packet fed one byte at a time", () => {
    const bytes = Buffer.from(OPEN_PACKET_HEX, "hex");
    const decoder = new PacketDecoder();
    const out: Packet[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const got = decoder.push(bytes.subarray(i, i + 1));
      if (i < bytes.length - 1) assert.equal(got.length, 0, `nothing before the last byte (${i})`);
      out.push(...got);
    }
    assert.equal(out.length, 1);
    assertOpenPacket(out[0]);
  });

  it("decodes a stream of packets cut at random places", () => {
    const random = lcg(12345);
    const packets = Array.from({ length: 20 }, (_, i) =>
      encodePacket(
        { ...openHeader, serial: i + 1, type: i % 2 ? MessageType.Reply : MessageType.Call },
        Buffer.alloc((i % 5) * 4, i),
      ),
    );
    const all = Buffer.concat(packets);
    for (let round = 0; round < 50; round++) {
      const decoder = new PacketDecoder();
      const out: Packet[] = [];
      let pos = 0;
      while (pos < all.length) {
        const size = 1 + Math.floor(random() * 70);
        out.push(...decoder.push(all.subarray(pos, pos + size)));
        pos += size;
      }
      assert.equal(out.length, packets.length, `round ${round}`);
      out.forEach((p, i) => {
        assert.equal(p.header.serial, i + 1);
        assert.equal(p.header.type, i % 2 ? MessageType.Reply : MessageType.Call);
        assert.deepEqual(p.payload, Buffer.alloc((i % 5) * 4, i));
      });
    }
  });

  it("decodes two packets in one chunk, and a chunk ending inside a third", () => {
    const first = encodePacket(openHeader, openPayload());
    const second = encodePacket({ ...openHeader, serial: 2, type: MessageType.Reply });
    const third = encodePacket({ ...openHeader, serial: 3 }, openPayload());
    const decoder = new PacketDecoder();
    const out = decoder.push(Buffer.concat([first, second, third.subarray(0, 10)]));
    assert.equal(out.length, 2);
    assertOpenPacket(out[0]);
    assert.equal(out[1].header.serial, 2);
    assert.equal(out[1].header.type, MessageType.Reply);
    assert.equal(out[1].payload.length, 0);
    const rest = decoder.push(third.subarray(10));
    assert.equal(rest.length, 1);
    assert.equal(rest[0].header.serial, 3);
    assert.deepEqual(rest[0].payload, openPayload());
  });

  it("decodes negative procedure and status fields as signed", () => {
    const p = new PacketDecoder().push(
      encodePacket({
        ...openHeader,
        procedure: -1,
        status: MessageStatus.Error,
        serial: 0xffffffff,
      }),
    );
    assert.equal(p[0].header.procedure, -1);
    assert.equal(p[0].header.status, MessageStatus.Error);
    assert.equal(p[0].header.serial, 0xffffffff);
  });

  it("rejects a length below 28 bytes or above 32 MiB", () => {
    for (const length of [0, 4, 27]) {
      const bytes = Buffer.alloc(28);
      bytes.writeUInt32BE(length, 0);
      assert.throws(
        () => new PacketDecoder().push(bytes),
        /invalid packet length/,
        `length ${length}`,
      );
    }
    for (const length of [MAX_PACKET_BYTES + 1, 0xffffffff]) {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(length, 0);
      // Rejected as soon as the length word is in, without waiting for 32 MiB of data.
      assert.throws(
        () => new PacketDecoder().push(bytes),
        /invalid packet length/,
        `length ${length}`,
      );
    }
    const ok = Buffer.alloc(28);
    ok.writeUInt32BE(28, 0);
    assert.equal(
      new PacketDecoder().push(ok).length,
      1,
      "exactly 28 bytes is a valid empty packet",
    );
  });
});
