import assert from "node:assert/strict";
import { XdrError, XdrReader, XdrWriter } from "../../../provider/src/libvirt/protocol/xdr";
import {
  decode,
  decodeValue,
  encode,
  encodeValue,
  type XdrType,
} from "../../../provider/src/libvirt/protocol/xdr-types";
import { TYPES } from "../../../provider/src/libvirt/protocol/remote-protocol.gen";

const ref = (name: string): XdrType => ({ kind: "ref", name });

/** Encodes through the table with encodeValue, checks the size, and decodes with decodeValue. */
function roundTrip(typeName: string, value: unknown, expectedBytes?: number): unknown {
  const w = new XdrWriter(8);
  encodeValue(TYPES, ref(typeName), value, w);
  const bytes = w.toBuffer();
  if (expectedBytes !== undefined) assert.equal(bytes.length, expectedBytes);
  assert.equal(bytes.length % 4, 0);
  const r = new XdrReader(bytes);
  const decoded = decodeValue(TYPES, ref(typeName), r);
  assert.equal(r.remaining, 0);
  // The convenience wrappers agree with the walkers.
  assert.deepEqual(encode(TYPES, typeName, value), bytes);
  assert.deepEqual(decode(TYPES, typeName, bytes), decoded);
  return decoded;
}

describe("libvirt XDR primitives", () => {
  it("round-trips int and uint at their bounds", () => {
    const ints = [0, 1, -1, 0x7fffffff, -0x80000000];
    const uints = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff];
    const w = new XdrWriter(4);
    for (const v of ints) w.int(v);
    for (const v of uints) w.uint(v);
    const buf = w.toBuffer();
    assert.equal(buf.length, 4 * (ints.length + uints.length));
    assert.deepEqual(buf.subarray(0, 4), Buffer.from([0, 0, 0, 0]));
    assert.deepEqual(buf.subarray(8, 12), Buffer.from([0xff, 0xff, 0xff, 0xff]));
    const r = new XdrReader(buf);
    assert.deepEqual(
      ints.map(() => r.int()),
      ints,
    );
    assert.deepEqual(
      uints.map(() => r.uint()),
      uints,
    );
    assert.equal(r.remaining, 0);
  });

  it("rejects out-of-range and non-integer int and uint", () => {
    const w = new XdrWriter();
    for (const v of [0x80000000, -0x80000001, 1.5, NaN, Infinity])
      assert.throws(() => w.int(v), XdrError, `int ${v}`);
    for (const v of [-1, 0x100000000, 0.5, NaN])
      assert.throws(() => w.uint(v), XdrError, `uint ${v}`);
    assert.equal(w.length, 0, "nothing is written by a failed write");
  });

  it("round-trips hyper and uhyper as bigint, including negatives and the extremes", () => {
    const hypers = [0n, -1n, 42n, -(2n ** 63n), 2n ** 63n - 1n];
    const uhypers = [0n, 1n, 2n ** 32n, 2n ** 64n - 1n];
    const w = new XdrWriter(2);
    for (const v of hypers) w.hyper(v);
    for (const v of uhypers) w.uhyper(v);
    w.hyper(-5); // plain numbers are accepted too
    const buf = w.toBuffer();
    assert.equal(buf.length, 8 * (hypers.length + uhypers.length + 1));
    assert.deepEqual(buf.subarray(8, 16), Buffer.alloc(8, 0xff), "-1 is all ones");
    const r = new XdrReader(buf);
    assert.deepEqual(
      hypers.map(() => r.hyper()),
      hypers,
    );
    assert.deepEqual(
      uhypers.map(() => r.uhyper()),
      uhypers,
    );
    assert.equal(r.hyper(), -5n);
    assert.throws(() => new XdrWriter().uhyper(-1n), RangeError);
    assert.throws(() => new XdrWriter().hyper(2n ** 63n), RangeError);
  });

  it("round-trips doubles", () => {
    const values = [0, -0, 1.5, -3.25, Math.PI, Number.MAX_VALUE, -Infinity, NaN];
    const w = new XdrWriter();
    for (const v of values) w.double(v);
    assert.deepEqual(w.toBuffer().subarray(16, 24), Buffer.from("3ff8000000000000", "hex"));
    const r = new XdrReader(w.toBuffer());
    for (const v of values) assert.ok(Object.is(r.double(), v), `double ${v}`);
  });

  it("round-trips bools and rejects other values on decode", () => {
    const w = new XdrWriter().bool(true).bool(false);
    assert.deepEqual(w.toBuffer(), Buffer.from("0000000100000000", "hex"));
    const r = new XdrReader(w.toBuffer());
    assert.equal(r.bool(), true);
    assert.equal(r.bool(), false);
    assert.throws(() => new XdrReader(Buffer.from("00000002", "hex")).bool(), /invalid XDR bool/);
  });

  it("pads strings of length 0..5 to a multiple of four with zero bytes", () => {
    const expectedSizes = [4, 8, 8, 8, 8, 12];
    for (let n = 0; n <= 5; n++) {
      const s = "abcde".slice(0, n);
      const buf = new XdrWriter(1).string(s).toBuffer();
      assert.equal(buf.length, expectedSizes[n], `length ${n}`);
      assert.equal(buf.readUInt32BE(0), n);
      assert.equal(buf.subarray(4, 4 + n).toString(), s);
      assert.ok(
        buf.subarray(4 + n).every((b) => b === 0),
        `padding of length ${n} is zero`,
      );
      const r = new XdrReader(buf);
      assert.equal(r.string(), s);
      assert.equal(r.remaining, 0);
    }
  });

  it("encodes strings as UTF-8 byte counts", () => {
    const buf = new XdrWriter().string("é").toBuffer();
    assert.deepEqual(buf, Buffer.from("00000002c3a90000", "hex"));
    assert.equal(new XdrReader(buf).string(), "é");
  });

  it("round-trips fixed and variable opaque", () => {
    const three = Buffer.from([1, 2, 3]);
    const w = new XdrWriter(1).fixedOpaque(three, 3).opaque(three).opaque(Buffer.alloc(0));
    assert.deepEqual(
      w.toBuffer(),
      Buffer.from("01020300" + "00000003" + "01020300" + "00000000", "hex"),
    );
    const r = new XdrReader(w.toBuffer());
    assert.deepEqual(r.fixedOpaque(3), three);
    assert.deepEqual(r.opaque(), three);
    assert.deepEqual(r.opaque(), Buffer.alloc(0));
    assert.equal(r.remaining, 0);
    assert.throws(() => new XdrWriter().fixedOpaque(three, 4), /fixed opaque needs 4 bytes, got 3/);
  });

  it("rejects strings and opaques longer than their maximum, both ways", () => {
    assert.throws(() => new XdrWriter().string("abcde", 4), /exceeds 4/);
    assert.throws(() => new XdrWriter().opaque(Buffer.alloc(5), 4), /exceeds 4/);
    new XdrWriter().string("abcd", 4); // exactly the maximum is fine
    const five = new XdrWriter().string("abcde").toBuffer();
    assert.throws(() => new XdrReader(five).string(4), /exceeds 4/);
    assert.throws(() => new XdrReader(five).opaque(4), /exceeds 4/);
    assert.equal(new XdrReader(five).string(5), "abcde");
  });

  it("only appends pre-encoded XDR that is a multiple of four bytes", () => {
    assert.throws(() => new XdrWriter().bytes(Buffer.alloc(3)), /multiple of four/);
    assert.deepEqual(new XdrWriter().bytes(Buffer.alloc(8, 7)).toBuffer(), Buffer.alloc(8, 7));
  });

  it("throws on underflow", () => {
    assert.throws(() => new XdrReader(Buffer.alloc(3)).int(), /XDR underflow/);
    assert.throws(() => new XdrReader(Buffer.alloc(7)).hyper(), /XDR underflow/);
    // A string whose length says 8 but only 4 bytes follow.
    assert.throws(
      () => new XdrReader(Buffer.from("0000000861626364", "hex")).string(),
      /underflow/,
    );
    // Padding is part of the item: 3 bytes of data without their padding byte.
    assert.throws(() => new XdrReader(Buffer.from("00000003616263", "hex")).string(), /underflow/);
  });
});

describe("libvirt XDR through the protocol tables", () => {
  const uuid = Buffer.from("00112233445566778899aabbccddeeff", "hex");

  it("round-trips every arm of remote_typed_param", () => {
    const arms = [
      { type: 1, i: -7 },
      { type: 2, ui: 0xffffffff },
      { type: 3, l: -(2n ** 63n) },
      { type: 4, ul: 2n ** 64n - 1n },
      { type: 5, d: 0.25 },
      { type: 6, b: 1 },
      { type: 7, s: "tcp://10.0.0.6" },
    ];
    for (const value of arms) {
      const param = { field: "some.field", value };
      // field (4 + 12) + discriminant (4) + the arm
      const armBytes: Record<number, number> = { 1: 4, 2: 4, 3: 8, 4: 8, 5: 8, 6: 4, 7: 4 + 16 };
      const size = 16 + 4 + armBytes[value.type];
      assert.deepEqual(roundTrip("remote_typed_param", param, size), param);
    }
  });

  it("rejects a typed param with no arm for its discriminant", () => {
    assert.throws(
      () => encode(TYPES, "remote_typed_param", { field: "x", value: { type: 9 } }),
      /no arm for discriminant 9/,
    );
    const bad = Buffer.concat([new XdrWriter().string("x").int(9).toBuffer(), Buffer.alloc(4)]);
    assert.throws(() => decode(TYPES, "remote_typed_param", bad), /no arm for discriminant 9/);
  });

  it("encodes the optional name of remote_connect_open_args", () => {
    assert.deepEqual(
      encode(TYPES, "remote_connect_open_args", { name: null, flags: 0 }),
      Buffer.from("00000000" + "00000000", "hex"),
    );
    assert.deepEqual(
      encode(TYPES, "remote_connect_open_args", { name: undefined, flags: 1 }),
      Buffer.from("00000000" + "00000001", "hex"),
      "undefined encodes like null",
    );
    assert.deepEqual(roundTrip("remote_connect_open_args", { name: null, flags: 0 }, 8), {
      name: null,
      flags: 0,
    });
    assert.deepEqual(
      roundTrip("remote_connect_open_args", { name: "qemu:///system", flags: 2 }, 28),
      { name: "qemu:///system", flags: 2 },
    );
  });

  it("round-trips virNetMessageError with and without optional parts", () => {
    const minimal = {
      code: 42,
      domain: 10,
      message: "Domain not found: no domain with matching name 'x'",
      level: 2,
      dom: null,
      str1: "x",
      str2: null,
      str3: null,
      int1: -1,
      int2: -1,
      net: null,
    };
    assert.deepEqual(roundTrip("virNetMessageError", minimal), minimal);
    const full = {
      ...minimal,
      message: null,
      dom: { name: "vm1", uuid, id: 3 },
      str2: "two",
      str3: "three",
      net: { name: "default", uuid },
    };
    assert.deepEqual(roundTrip("virNetMessageError", full), full);
  });

  it("round-trips an array type and enforces its maximum", () => {
    const ret = {
      domains: [
        { name: "a", uuid, id: 1 },
        { name: "bb", uuid: Buffer.alloc(16), id: -1 },
      ],
      ret: 2,
    };
    // count + 2 * (name + uuid 16 + id 4) + ret
    assert.deepEqual(roundTrip("remote_connect_list_all_domains_ret", ret, 4 + 2 * 28 + 4), ret);
    assert.deepEqual(roundTrip("remote_connect_list_all_domains_ret", { domains: [], ret: 0 }, 8), {
      domains: [],
      ret: 0,
    });

    const param = { field: "f", value: { type: 1, i: 0 } };
    const seventeen = Array.from({ length: 17 }, () => param);
    assert.throws(
      () => encode(TYPES, "remote_domain_get_scheduler_parameters_ret", { params: seventeen }),
      /more than 16 elements/,
    );
    const encoded17 = Buffer.concat([
      new XdrWriter().uint(17).toBuffer(),
      ...seventeen.map((p) => encode(TYPES, "remote_typed_param", p)),
    ]);
    assert.throws(
      () => decode(TYPES, "remote_domain_get_scheduler_parameters_ret", encoded17),
      /array of 17 exceeds 16/,
    );
  });

  it("rejects a fixed-size uuid of the wrong length", () => {
    assert.throws(
      () => encode(TYPES, "remote_nonnull_domain", { name: "a", uuid: Buffer.alloc(15), id: 1 }),
      /at remote_nonnull_domain\.uuid: fixed opaque needs 16 bytes/,
    );
  });

  it("names the path of a bad field in encode errors", () => {
    assert.throws(
      () => encode(TYPES, "remote_connect_open_args", { name: 5, flags: 0 }),
      (err: unknown) =>
        err instanceof XdrError &&
        /^at remote_connect_open_args\.name: expected a string/.test(err.message),
    );
    assert.throws(
      () => encode(TYPES, "remote_connect_open_args", { name: null, flags: -1 }),
      /at remote_connect_open_args\.flags: unsigned int out of range/,
    );
    assert.throws(() => encode(TYPES, "no_such_type", {}), /unknown XDR type no_such_type/);
  });

  it("throws on trailing bytes after a decode", () => {
    const bytes = encode(TYPES, "remote_connect_open_args", { name: "qemu:///system", flags: 0 });
    assert.throws(
      () => decode(TYPES, "remote_connect_open_args", Buffer.concat([bytes, Buffer.alloc(4)])),
      /4 trailing bytes after remote_connect_open_args/,
    );
  });

  it("throws on underflow in a table decode", () => {
    const bytes = encode(TYPES, "virNetMessageError", {
      code: 1,
      domain: 0,
      message: "m",
      level: 2,
      dom: null,
      str1: null,
      str2: null,
      str3: null,
      int1: 0,
      int2: 0,
      net: null,
    });
    for (const cut of [0, 4, bytes.length - 4, bytes.length - 1])
      assert.throws(
        () => decode(TYPES, "virNetMessageError", bytes.subarray(0, cut)),
        /XDR underflow/,
        `cut at ${cut}`,
      );
  });
});
