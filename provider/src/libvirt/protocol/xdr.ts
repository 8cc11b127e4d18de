// XDR (RFC 4506) primitives: big-endian, every item padded to a multiple of four bytes.

export class XdrError extends Error {}

export class XdrWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.alloc(Math.max(initialSize, 16));
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff)
      throw new XdrError(`int out of range: ${v}`);
    this.reserve(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  uint(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new XdrError(`unsigned int out of range: ${v}`);
    this.reserve(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  hyper(v: bigint | number): this {
    this.reserve(8);
    this.buf.writeBigInt64BE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }

  uhyper(v: bigint | number): this {
    this.reserve(8);
    this.buf.writeBigUInt64BE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }

  double(v: number): this {
    this.reserve(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
    return this;
  }

  bool(v: boolean): this {
    return this.int(v ? 1 : 0);
  }

  /** Fixed-length opaque: exactly `length` bytes, padded. */
  fixedOpaque(data: Uint8Array, length: number): this {
    if (data.length !== length)
      throw new XdrError(`fixed opaque needs ${length} bytes, got ${data.length}`);
    return this.raw(data);
  }

  /** Variable-length opaque: length, bytes, padding. */
  opaque(data: Uint8Array, max?: number): this {
    if (max !== undefined && data.length > max)
      throw new XdrError(`opaque of ${data.length} bytes exceeds ${max}`);
    this.uint(data.length);
    return this.raw(data);
  }

  string(s: string, max?: number): this {
    return this.opaque(Buffer.from(s, "utf8"), max);
  }

  private raw(data: Uint8Array): this {
    const padded = (data.length + 3) & ~3;
    this.reserve(padded);
    this.buf.set(data, this.pos);
    this.buf.fill(0, this.pos + data.length, this.pos + padded);
    this.pos += padded;
    return this;
  }

  /** Appends already-encoded XDR. */
  bytes(data: Uint8Array): this {
    if (data.length % 4 !== 0) throw new XdrError("encoded XDR must be a multiple of four bytes");
    return this.raw(data);
  }

  get length(): number {
    return this.pos;
  }

  toBuffer(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class XdrReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new XdrError(
        `XDR underflow: need ${n} bytes at ${this.pos}, have ${this.buf.length - this.pos}`,
      );
    }
  }

  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  hyper(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  uhyper(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  bool(): boolean {
    const v = this.int();
    if (v !== 0 && v !== 1) throw new XdrError(`invalid XDR bool ${v}`);
    return v === 1;
  }

  fixedOpaque(length: number): Buffer {
    this.need((length + 3) & ~3);
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + length));
    this.pos += (length + 3) & ~3;
    return v;
  }

  opaque(max?: number): Buffer {
    const length = this.uint();
    if (max !== undefined && length > max)
      throw new XdrError(`opaque of ${length} bytes exceeds ${max}`);
    return this.fixedOpaque(length);
  }

  string(max?: number): string {
    return this.opaque(max).toString("utf8");
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  get offset(): number {
    return this.pos;
  }

  rest(): Buffer {
    const v = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return v;
  }
}
