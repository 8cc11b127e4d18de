import assert from "node:assert/strict";
import { once } from "node:events";
import { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import {
  encodePacket,
  MessageStatus,
  MessageType,
  PacketDecoder,
  STREAM_CHUNK_BYTES,
  type Packet,
  type PacketHeader,
} from "../../../provider/src/libvirt/protocol/packet";
import { decode, encode } from "../../../provider/src/libvirt/protocol/xdr-types";
import {
  PROCEDURES,
  REMOTE_PROGRAM,
  REMOTE_PROTOCOL_VERSION,
  TYPES,
} from "../../../provider/src/libvirt/protocol/remote-protocol.gen";
import { RemoteProgram } from "../../../provider/src/libvirt/rpc/remote-program";
import { StorageApi } from "../../../provider/src/libvirt/api/storage";
import { KEEPALIVE_PROGRAM, RpcConnection } from "../../../provider/src/libvirt/rpc/connection";
import { LibvirtClientError, LibvirtError } from "../../../provider/src/libvirt/errors";

/** Two Duplex ends of an in-memory byte pipe: what one writes, the other reads. */
function socketPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const make = (peer: number) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        if (!ends[peer].destroyed) ends[peer].push(chunk);
        callback();
      },
      final(callback) {
        if (!ends[peer].destroyed) ends[peer].push(null);
        callback();
      },
      destroy(err, callback) {
        if (!ends[peer].destroyed) ends[peer].destroy();
        callback(err);
      },
    });
  ends.push(make(1), make(0));
  return [ends[0], ends[1]];
}

/** The daemon's end: decodes what the client sends and lets a test answer with packets. */
class MockDaemon {
  private readonly decoder = new PacketDecoder();
  private readonly received: Packet[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(readonly socket: Duplex) {
    socket.on("data", (chunk: Buffer) => {
      this.received.push(...this.decoder.push(chunk));
      for (const wake of this.waiters) wake();
    });
  }

  /** The next packet from the client that matches, in arrival order; others stay queued. */
  async next(match: (p: Packet) => boolean = () => true, timeoutMs = 1000): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.received.findIndex(match);
      if (i >= 0) return this.received.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("the client sent no matching packet");
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  nextCall(): Promise<Packet> {
    return this.next((p) => p.header.type === MessageType.Call);
  }

  nextStream(): Promise<Packet> {
    return this.next((p) => p.header.type === MessageType.Stream);
  }

  /** Takes every queued packet that matches. */
  takeAll(match: (p: Packet) => boolean): Packet[] {
    const taken = this.received.filter(match);
    for (const p of taken) this.received.splice(this.received.indexOf(p), 1);
    return taken;
  }

  /** Packets received and not yet taken by next(). */
  get pending(): readonly Packet[] {
    return this.received;
  }

  send(header: PacketHeader, payload?: Buffer): void {
    this.socket.write(encodePacket(header, payload));
  }

  reply(call: Packet, payload?: Buffer, status = MessageStatus.Ok): void {
    this.send({ ...call.header, type: MessageType.Reply, status }, payload);
  }

  stream(call: Packet, status: MessageStatus, data?: Buffer): void {
    this.send({ ...call.header, type: MessageType.Stream, status }, data);
  }
}

const uuid = (n: number) => Buffer.alloc(16, n);

function lookupRet(name: string, id: number): Buffer {
  return encode(TYPES, "remote_domain_lookup_by_name_ret", { dom: { name, uuid: uuid(id), id } });
}

function wireError(code: number, domain: number, message: string | null): Buffer {
  return encode(TYPES, "virNetMessageError", {
    code,
    domain,
    message,
    level: 2,
    dom: null,
    str1: message,
    str2: null,
    str3: null,
    int1: -1,
    int2: -1,
    net: null,
  });
}

/** Asserts that `promise` rejects with a LibvirtClientError of `code`, and returns the error. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<LibvirtClientError> {
  let caught: unknown;
  await promise.then(
    () => assert.fail(`expected a rejection with ${code}`),
    (err: unknown) => {
      caught = err;
    },
  );
  assert.ok(caught instanceof LibvirtClientError, `a LibvirtClientError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

const volume = { pool: "default", name: "disk.qcow2", key: "/var/lib/libvirt/images/disk.qcow2" };

describe("libvirt RPC connection", () => {
  let client: Duplex;
  let daemon: MockDaemon;
  let remote: RemoteProgram;

  beforeEach(() => {
    const [clientEnd, daemonEnd] = socketPair();
    client = clientEnd;
    daemon = new MockDaemon(daemonEnd);
    remote = new RemoteProgram(client, "mock", 1000);
  });

  afterEach(() => {
    if (!remote.rpc.closed) remote.rpc.close();
  });

  it("sends calls with the REMOTE program header and encoded arguments", async () => {
    const reply = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "vm1" });
    const call = await daemon.nextCall();
    assert.deepEqual(call.header, {
      program: REMOTE_PROGRAM,
      version: REMOTE_PROTOCOL_VERSION,
      procedure: PROCEDURES.DOMAIN_LOOKUP_BY_NAME.number,
      type: MessageType.Call,
      serial: 1,
      status: MessageStatus.Ok,
    });
    assert.deepEqual(decode(TYPES, "remote_domain_lookup_by_name_args", call.payload), {
      name: "vm1",
    });
    daemon.reply(call, lookupRet("vm1", 7));
    assert.deepEqual(await reply, { dom: { name: "vm1", uuid: uuid(7), id: 7 } });
  });

  it("refuses a reply whose program, version or procedure is not the call's, closing the connection", async () => {
    for (const wrong of [
      { program: REMOTE_PROGRAM + 1 },
      { version: REMOTE_PROTOCOL_VERSION + 1 },
      { procedure: PROCEDURES.DOMAIN_GET_XML_DESC.number },
    ]) {
      const [clientEnd, daemonEnd] = socketPair();
      const d = new MockDaemon(daemonEnd);
      const r = new RemoteProgram(clientEnd, "mock", 1000);
      const reply = r.call("DOMAIN_LOOKUP_BY_NAME", { name: "vm1" });
      const other = r.call("DOMAIN_LOOKUP_BY_NAME", { name: "vm2" });
      const call = await d.nextCall();
      d.send({ ...call.header, ...wrong, type: MessageType.Reply }, lookupRet("vm1", 7));
      const err = await rejectsWith(reply, "VMP_LIBVIRT_PROTOCOL");
      assert.match(
        err.message,
        /answered REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME \(serial 1\) with a reply to/,
      );
      // Every other call on the connection fails too: the stream cannot be trusted any more.
      await rejectsWith(other, "VMP_LIBVIRT_PROTOCOL");
      assert.ok(r.rpc.closed);
    }
  });

  it("turns a reply that does not decode into the client's protocol error", async () => {
    const reply = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "vm1" });
    const call = await daemon.nextCall();
    daemon.reply(call, Buffer.from([0, 0, 0, 200, 1, 2])); // a string of 200 bytes, 2 sent
    const err = await rejectsWith(reply, "VMP_LIBVIRT_PROTOCOL");
    assert.match(
      err.message,
      /the reply to REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME does not decode as remote_domain_lookup_by_name_ret/,
    );
    assert.ok(!remote.rpc.closed, "a reply that does not decode fails its call only");
  });

  it("matches replies to concurrent calls by serial, whatever their order", async () => {
    const a = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "a" });
    const b = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "b" });
    const first = await daemon.nextCall();
    const second = await daemon.nextCall();
    assert.notEqual(first.header.serial, second.header.serial);
    const nameOf = (p: Packet) =>
      decode<{ name: string }>(TYPES, "remote_domain_lookup_by_name_args", p.payload).name;
    assert.deepEqual([nameOf(first), nameOf(second)], ["a", "b"]);
    // Both answers in one chunk, newest first.
    daemon.socket.write(
      Buffer.concat([
        encodePacket({ ...second.header, type: MessageType.Reply }, lookupRet("b", 2)),
        encodePacket({ ...first.header, type: MessageType.Reply }, lookupRet("a", 1)),
      ]),
    );
    assert.deepEqual(await a, { dom: { name: "a", uuid: uuid(1), id: 1 } });
    assert.deepEqual(await b, { dom: { name: "b", uuid: uuid(2), id: 2 } });
  });

  it("rejects with LibvirtError carrying libvirt's code, domain and message", async () => {
    const reply = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "ghost" });
    const call = await daemon.nextCall();
    daemon.reply(call, wireError(42, 10, "Domain not found"), MessageStatus.Error);
    const err = await rejectsWith(reply, "VIR_ERR_NO_DOMAIN");
    assert.ok(err instanceof LibvirtError);
    assert.equal(err.libvirtCode, 42);
    assert.equal(err.codeName, "VIR_ERR_NO_DOMAIN");
    assert.equal(err.libvirtDomain, 10);
    assert.equal(err.domainName, "VIR_FROM_QEMU");
    assert.equal(err.level, 2);
    assert.equal(err.message, "Domain not found");
    assert.equal(err.procedure, "REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME");
    assert.equal(remote.rpc.closed, false, "an error reply leaves the connection usable");
  });

  it("names an error without a message after its code", async () => {
    const reply = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "ghost" });
    daemon.reply(await daemon.nextCall(), wireError(42, 10, null), MessageStatus.Error);
    const err = await rejectsWith(reply, "VIR_ERR_NO_DOMAIN");
    assert.equal(err.message, "VIR_ERR_NO_DOMAIN (no message)");
  });

  it("rejects with VMP_LIBVIRT_PROTOCOL when the error payload is undecodable", async () => {
    const reply = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "ghost" });
    daemon.reply(await daemon.nextCall(), Buffer.alloc(4), MessageStatus.Error);
    const err = await rejectsWith(reply, "VMP_LIBVIRT_PROTOCOL");
    assert.match(err.message, /REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME failed with an undecodable error/);
  });

  it("times a call out and ignores its late reply", async () => {
    const started = Date.now();
    const reply = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "slow" }, { timeoutMs: 20 });
    const call = await daemon.nextCall();
    const err = await rejectsWith(reply, "VMP_LIBVIRT_TIMEOUT");
    assert.ok(Date.now() - started < 500);
    assert.match(err.message, /REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME on mock timed out after 20 ms/);

    daemon.reply(call, lookupRet("slow", 1)); // too late: dropped
    const next = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "fast" });
    const nextCall = await daemon.nextCall();
    assert.notEqual(nextCall.header.serial, call.header.serial);
    daemon.reply(nextCall, lookupRet("fast", 2));
    assert.deepEqual(await next, { dom: { name: "fast", uuid: uuid(2), id: 2 } });
    assert.equal(remote.rpc.closed, false);
  });

  it("applies the connection's default timeout", async () => {
    const [clientEnd] = socketPair();
    const quick = new RemoteProgram(clientEnd, "quick", 15);
    try {
      await rejectsWith(quick.call("DOMAIN_LOOKUP_BY_NAME", { name: "x" }), "VMP_LIBVIRT_TIMEOUT");
    } finally {
      quick.rpc.close();
    }
  });

  it("cancels a call with an AbortSignal", async () => {
    const controller = new AbortController();
    const reply = remote.call(
      "DOMAIN_LOOKUP_BY_NAME",
      { name: "x" },
      { signal: controller.signal },
    );
    const call = await daemon.nextCall();
    controller.abort();
    const err = await rejectsWith(reply, "VMP_LIBVIRT_ABORTED");
    assert.match(err.message, /REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME was cancelled/);
    daemon.reply(call, lookupRet("x", 1)); // dropped
    await sleep(10);
    assert.equal(remote.rpc.closed, false);
  });

  it("does not send a call whose signal is already aborted", async () => {
    const reply = remote.call(
      "DOMAIN_LOOKUP_BY_NAME",
      { name: "x" },
      { signal: AbortSignal.abort() },
    );
    await rejectsWith(reply, "VMP_LIBVIRT_ABORTED");
    await sleep(10);
    assert.equal(daemon.pending.length, 0);
  });

  it("rejects every pending call when the daemon closes the connection, and later calls at once", async () => {
    const closeEvents: Error[] = [];
    remote.rpc.on("close", (err: Error) => closeEvents.push(err));
    const calls = [
      remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "a" }),
      remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "b" }, { timeoutMs: 0 }),
    ];
    await daemon.nextCall();
    await daemon.nextCall();
    const settled: number[] = [];
    for (const c of calls) void c.catch(() => settled.push(Date.now()));
    daemon.socket.end();
    for (const c of calls) {
      const err = await rejectsWith(c, "VMP_LIBVIRT_CLOSED");
      assert.match(err.message, /^REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME: connection to mock closed/);
      assert.ok(err.cause instanceof LibvirtClientError);
    }
    assert.ok(Math.max(...settled) - Math.min(...settled) < 20, "rejected together");
    assert.equal(remote.rpc.closed, true);
    assert.equal(closeEvents.length, 1);

    const started = Date.now();
    await rejectsWith(remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "c" }), "VMP_LIBVIRT_CLOSED");
    assert.ok(Date.now() - started < 20, "a call on a closed connection fails at once");
  });

  it("rejects pending calls when the daemon's socket is destroyed", async () => {
    const reply = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "a" });
    await daemon.nextCall();
    daemon.socket.destroy();
    await rejectsWith(reply, "VMP_LIBVIRT_CLOSED");
  });

  it("rejects pending calls when the client closes the connection", async () => {
    const reply = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "a" });
    await daemon.nextCall();
    remote.rpc.close();
    const err = await rejectsWith(reply, "VMP_LIBVIRT_CLOSED");
    assert.match(err.message, /closed by the client/);
  });

  it("fails the connection on malformed data", async () => {
    const reply = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "a" });
    await daemon.nextCall();
    daemon.socket.write(Buffer.from("0000000400000000", "hex")); // a length below 28
    const err = await rejectsWith(reply, "VMP_LIBVIRT_PROTOCOL");
    assert.match(err.message, /malformed data from mock: invalid packet length 4/);
    assert.equal(remote.rpc.closed, true);
  });

  describe("keepalive", () => {
    const ping = {
      program: KEEPALIVE_PROGRAM,
      version: 1,
      procedure: 1,
      type: MessageType.Message,
      serial: 0,
      status: MessageStatus.Ok,
    };

    it("answers the daemon's PING with a PONG", async () => {
      assert.equal(KEEPALIVE_PROGRAM, 0x6b656570);
      daemon.send(ping);
      const pong = await daemon.next();
      assert.deepEqual(pong.header, { ...ping, procedure: 2 });
      assert.equal(pong.payload.length, 0);
    });

    it("closes the connection when a silent daemon misses its keepalives", async () => {
      const reply = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "a" });
      await daemon.nextCall();
      const started = Date.now();
      remote.rpc.startKeepalive(30, 2);
      const err = await rejectsWith(reply, "VMP_LIBVIRT_CLOSED");
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 55 && elapsed < 200, `failed after ${elapsed} ms`);
      assert.match(err.message, /keepalive/);
      // The client pinged before giving up.
      const sent = await daemon.next((p) => p.header.program === KEEPALIVE_PROGRAM);
      assert.deepEqual(sent.header, ping);
      assert.equal(remote.rpc.closed, true);
    });

    it("keeps a connection whose daemon answers the pings", async () => {
      daemon.socket.on("data", () => {
        for (const p of daemon.takeAll((q) => q.header.program === KEEPALIVE_PROGRAM))
          daemon.send({ ...p.header, procedure: 2 });
      });
      remote.rpc.startKeepalive(20, 2);
      await sleep(120);
      assert.equal(remote.rpc.closed, false);
      const reply = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "a" });
      daemon.reply(await daemon.nextCall(), lookupRet("a", 1));
      assert.equal((await reply).dom.name, "a");
    });
  });

  describe("events", () => {
    const lifecycle = {
      callbackID: 3,
      msg: { dom: { name: "vm1", uuid: uuid(9), id: 4 }, event: 5, detail: 1 },
    };
    const eventHeader = {
      program: REMOTE_PROGRAM,
      version: REMOTE_PROTOCOL_VERSION,
      procedure: PROCEDURES.DOMAIN_EVENT_CALLBACK_LIFECYCLE.number,
      type: MessageType.Message,
      serial: 0,
      status: MessageStatus.Ok,
    };

    it("routes a lifecycle event to its handler, decoded", async () => {
      const events: unknown[] = [];
      remote.onEvent("DOMAIN_EVENT_CALLBACK_LIFECYCLE", (msg) => events.push(msg));
      daemon.send(
        eventHeader,
        encode(TYPES, "remote_domain_event_callback_lifecycle_msg", lifecycle),
      );
      // An event nobody listens to is dropped.
      daemon.send(
        { ...eventHeader, procedure: PROCEDURES.DOMAIN_EVENT_LIFECYCLE.number },
        encode(TYPES, "remote_domain_event_lifecycle_msg", lifecycle.msg),
      );
      await sleep(10);
      assert.deepEqual(events, [lifecycle]);
    });

    it("reports a handler that throws as handlerError and keeps going", async () => {
      const errors: unknown[] = [];
      remote.rpc.on("handlerError", (err) => errors.push(err));
      remote.onEvent("DOMAIN_EVENT_CALLBACK_LIFECYCLE", () => {
        throw new Error("boom");
      });
      daemon.send(eventHeader, Buffer.alloc(4)); // undecodable, too
      daemon.send(
        eventHeader,
        encode(TYPES, "remote_domain_event_callback_lifecycle_msg", lifecycle),
      );
      await sleep(10);
      assert.equal(errors.length, 2);
      assert.equal(remote.rpc.closed, false);
    });

    it("refuses to route a procedure that is not an event", () => {
      assert.throws(() => remote.onEvent("DOMAIN_LOOKUP_BY_NAME", () => undefined), /not an event/);
    });
  });

  describe("streams", () => {
    /** Starts a volume upload or download, and has the daemon accept the call. */
    async function openStream(
      procedure: "STORAGE_VOL_UPLOAD" | "STORAGE_VOL_DOWNLOAD",
      length = 0n,
    ) {
      const { reply, stream } = remote.callWithStream(procedure, {
        vol: volume,
        offset: 0n,
        length,
        flags: 0,
      });
      const call = await daemon.nextCall();
      daemon.reply(call);
      await reply;
      return { stream, call };
    }

    it("a connection lost before a transfer's reply rejects the call and raises no stray error", async () => {
      // An unhandled 'error' event of the stream would surface as an uncaught exception, which
      // fails this test through mocha.
      const transfer = new StorageApi(remote).download(volume);
      await daemon.nextCall();
      client.destroy(new Error("write EPIPE"));
      await rejectsWith(transfer, "VMP_LIBVIRT_CLOSED");
      await sleep(10);
    });

    it("uploads in STREAM packets and finishes only when the daemon confirms", async () => {
      const data = Buffer.alloc(600 * 1024);
      for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
      const { reply, stream } = remote.callWithStream("STORAGE_VOL_UPLOAD", {
        vol: volume,
        offset: 0n,
        length: BigInt(data.length),
        flags: 0,
      });
      const call = await daemon.nextCall();
      assert.equal(call.header.procedure, PROCEDURES.STORAGE_VOL_UPLOAD.number);
      assert.deepEqual(decode(TYPES, "remote_storage_vol_upload_args", call.payload), {
        vol: volume,
        offset: 0n,
        length: BigInt(data.length),
        flags: 0,
      });
      daemon.reply(call);
      assert.equal(await reply, undefined);

      let finished = false;
      stream.on("finish", () => (finished = true));
      stream.write(data.subarray(0, 100 * 1024));
      stream.write(data.subarray(100 * 1024));
      stream.end();

      const chunks: Buffer[] = [];
      for (;;) {
        const p = await daemon.nextStream();
        assert.equal(p.header.program, REMOTE_PROGRAM);
        assert.equal(p.header.version, REMOTE_PROTOCOL_VERSION);
        assert.equal(p.header.procedure, call.header.procedure);
        assert.equal(p.header.serial, call.header.serial);
        if (p.header.status === MessageStatus.Ok) {
          assert.equal(p.payload.length, 0, "the finish is empty");
          break;
        }
        assert.equal(p.header.status, MessageStatus.Continue);
        assert.ok(p.payload.length > 0 && p.payload.length <= STREAM_CHUNK_BYTES);
        assert.ok(p.payload.length <= 262120);
        chunks.push(p.payload);
      }
      assert.ok(chunks.length >= 3);
      assert.deepEqual(Buffer.concat(chunks), data);

      await sleep(20);
      assert.equal(finished, false, "not finished before the daemon confirms");
      daemon.stream(call, MessageStatus.Ok);
      await once(stream, "finish");
      assert.equal(finished, true);
      assert.equal(daemon.pending.length, 0, "nothing else was sent");
    });

    it("closes an upload stream once the daemon confirmed its finish", async () => {
      // StorageApi.upload's `done` waits for the stream's "close".
      const { stream, call } = await openStream("STORAGE_VOL_UPLOAD", 4n);
      const closed = once(stream, "close");
      stream.end(Buffer.from("data"));
      await daemon.next(
        (p) => p.header.type === MessageType.Stream && p.header.status === MessageStatus.Ok,
      );
      daemon.stream(call, MessageStatus.Ok);
      await Promise.race([
        closed,
        sleep(200).then(() => assert.fail("the upload stream never emitted close")),
      ]);
    });

    it("fails an upload whose finish the daemon rejects", async () => {
      const { stream, call } = await openStream("STORAGE_VOL_UPLOAD", 4n);
      const failed = once(stream, "error");
      stream.end(Buffer.from("data"));
      await daemon.next(
        (p) => p.header.type === MessageType.Stream && p.header.status === MessageStatus.Ok,
      );
      // libvirt reports a failed finish as an error reply on the stream's serial.
      daemon.reply(call, wireError(38, 18, "cannot write volume"), MessageStatus.Error);
      const [err] = (await failed) as [LibvirtError];
      assert.ok(err instanceof LibvirtError);
      assert.equal(err.libvirtCode, 38);
      assert.equal(err.message, "cannot write volume");
    });

    // libvirtd marks the end of its data with an empty CONTINUE (virNetServerProgramSendStreamData
    // with data "" and length 0); an empty OK there is accepted too.
    for (const [eofName, eofStatus] of [
      ["an empty STREAM CONTINUE", MessageStatus.Continue],
      ["an empty STREAM OK", MessageStatus.Ok],
    ] as const) {
      it(`downloads until ${eofName}, then finishes and closes on the daemon's confirmation`, async () => {
        const { stream, call } = await openStream("STORAGE_VOL_DOWNLOAD");
        assert.equal(call.header.procedure, PROCEDURES.STORAGE_VOL_DOWNLOAD.number);

        const received: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => received.push(chunk));
        let closed = false;
        stream.on("close", () => (closed = true));
        const ended = once(stream, "end");

        const parts = [Buffer.alloc(1000, 1), Buffer.alloc(70000, 2), Buffer.alloc(3, 3)];
        for (const part of parts) daemon.stream(call, MessageStatus.Continue, part);
        daemon.stream(call, eofStatus);
        await ended;
        assert.deepEqual(Buffer.concat(received), Buffer.concat(parts));

        const finish = await daemon.nextStream();
        assert.deepEqual(finish.header, {
          ...call.header,
          type: MessageType.Stream,
          status: MessageStatus.Ok,
        });
        assert.equal(finish.payload.length, 0);
        await sleep(20);
        assert.equal(closed, false, "open until the daemon confirms the finish");

        daemon.stream(call, MessageStatus.Ok);
        await once(stream, "close");
        assert.equal(stream.errored, null);
        assert.equal(daemon.pending.length, 0);
      });
    }

    it("pauses the socket while a download's reader lags, and resumes when it reads", async () => {
      const { stream, call } = await openStream("STORAGE_VOL_DOWNLOAD");
      daemon.stream(call, MessageStatus.Continue, Buffer.alloc(64 * 1024, 1));
      await sleep(10);
      assert.equal(client.isPaused(), true, "the socket is paused while nobody reads");
      daemon.stream(call, MessageStatus.Continue, Buffer.alloc(64 * 1024, 2));
      daemon.stream(call, MessageStatus.Continue); // end of data
      const received: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => received.push(chunk));
      await once(stream, "end");
      assert.equal(Buffer.concat(received).length, 128 * 1024);
      await daemon.nextStream();
      daemon.stream(call, MessageStatus.Ok);
      await once(stream, "close");
    });

    it("does not count a socket paused by a slow reader as a silent daemon", async () => {
      const { stream, call } = await openStream("STORAGE_VOL_DOWNLOAD");
      daemon.stream(call, MessageStatus.Continue, Buffer.alloc(64 * 1024, 1));
      await sleep(10);
      assert.equal(client.isPaused(), true);
      remote.rpc.startKeepalive(15, 2);
      await sleep(90); // three keepalive windows with nothing read from the socket
      assert.equal(remote.rpc.closed, false);
      daemon.stream(call, MessageStatus.Continue);
      stream.resume();
      await once(stream, "end");
      await daemon.nextStream();
      daemon.stream(call, MessageStatus.Ok);
      await once(stream, "close");
    });

    it("fails a download when the daemon aborts it with a STREAM error", async () => {
      const { stream, call } = await openStream("STORAGE_VOL_DOWNLOAD");
      stream.resume();
      const failed = once(stream, "error");
      daemon.stream(call, MessageStatus.Continue, Buffer.alloc(10));
      daemon.stream(call, MessageStatus.Error, wireError(1, 18, "I/O error"));
      const [err] = (await failed) as [LibvirtError];
      assert.ok(err instanceof LibvirtError);
      assert.equal(err.message, "I/O error");
      await sleep(10);
      assert.equal(daemon.pending.length, 0, "the client does not answer a daemon's abort");
    });

    it("aborts with an empty STREAM error when the client destroys the stream", async () => {
      const { stream, call } = await openStream("STORAGE_VOL_UPLOAD");
      stream.destroy();
      const abort = await daemon.nextStream();
      assert.equal(abort.header.status, MessageStatus.Error);
      assert.equal(abort.header.serial, call.header.serial);
      assert.equal(abort.payload.length, 0);
    });

    it("keeps the socket flowing for other calls when data arrives for a destroyed download", async () => {
      // A cancelled copy destroys its download while the daemon still has data in flight; those
      // packets must not pause the shared socket, or every later call on it (the rollback's) hangs.
      const { stream, call } = await openStream("STORAGE_VOL_DOWNLOAD");
      stream.destroy();
      await daemon.nextStream(); // the abort
      for (let i = 0; i < 4; i++)
        daemon.stream(call, MessageStatus.Continue, Buffer.alloc(64 * 1024, i));
      await sleep(20);
      assert.equal(client.isPaused(), false, "the socket is not paused for a destroyed stream");
      const later = remote.call("DOMAIN_LOOKUP_BY_NAME", { name: "vm1" });
      daemon.reply(await daemon.nextCall(), lookupRet("vm1", 7));
      await later;
    });

    it("fails open streams when the connection closes", async () => {
      const { stream } = await openStream("STORAGE_VOL_DOWNLOAD");
      const failed = once(stream, "error");
      daemon.socket.end();
      const [err] = (await failed) as [LibvirtClientError];
      assert.equal(err.code, "VMP_LIBVIRT_CLOSED");
    });
  });

  it("can be used as a bare RpcConnection with any program", async () => {
    const [clientEnd, daemonEnd] = socketPair();
    const other = new MockDaemon(daemonEnd);
    const rpc = new RpcConnection(clientEnd, {
      description: "bare",
      decodeError: () => ({ code: 1, domain: 0, message: "nope", level: 2 }),
    });
    try {
      const reply = rpc.call(0x1234, 3, 7, Buffer.from("abcd"));
      const call = await other.nextCall();
      assert.deepEqual(call.header, {
        program: 0x1234,
        version: 3,
        procedure: 7,
        type: MessageType.Call,
        serial: 1,
        status: MessageStatus.Ok,
      });
      other.reply(call, Buffer.from("wxyz"));
      assert.deepEqual(await reply, Buffer.from("wxyz"));

      const failing = rpc.call(0x1234, 3, 8, Buffer.alloc(0));
      other.reply(await other.nextCall(), Buffer.alloc(0), MessageStatus.Error);
      const err = await rejectsWith(failing, "VIR_ERR_INTERNAL_ERROR");
      assert.equal((err as LibvirtError).procedure, "procedure 8 of program 0x1234");
    } finally {
      rpc.close();
    }
  });
});
