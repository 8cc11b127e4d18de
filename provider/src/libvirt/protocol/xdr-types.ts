// Table-driven XDR: the generated protocol tables describe every libvirt type as data, and
// these two functions encode and decode any value by walking that description.
import { XdrError, XdrReader, XdrWriter } from "./xdr";

export type XdrType =
  | { kind: "int" | "uint" | "hyper" | "uhyper" | "double" | "bool" | "void" }
  | { kind: "string"; max?: number }
  | { kind: "opaque"; fixed?: number; max?: number }
  | { kind: "array"; of: XdrType; fixed?: number; max?: number }
  | { kind: "optional"; of: XdrType }
  | { kind: "struct"; fields: ReadonlyArray<readonly [string, XdrType]> }
  | {
      kind: "union";
      discriminant: string;
      arms: ReadonlyArray<readonly [number, string | null, XdrType]>;
      defaultArm?: readonly [string | null, XdrType];
    }
  | { kind: "ref"; name: string };

export type TypeTable = Readonly<Record<string, XdrType>>;

function resolve(table: TypeTable, type: XdrType): XdrType {
  while (type.kind === "ref") {
    const next = table[type.name];
    if (!next) throw new XdrError(`unknown XDR type ${type.name}`);
    type = next;
  }
  return type;
}

function unionArm(
  type: Extract<XdrType, { kind: "union" }>,
  discriminant: number,
): readonly [string | null, XdrType] {
  const arm = type.arms.find(([value]) => value === discriminant);
  if (arm) return [arm[1], arm[2]];
  if (type.defaultArm) return type.defaultArm;
  throw new XdrError(`union has no arm for discriminant ${discriminant}`);
}

/* eslint-disable @typescript-eslint/no-explicit-any -- values are shaped by the runtime table */
export function encodeValue(
  table: TypeTable,
  type: XdrType,
  value: any,
  w: XdrWriter,
  path = "value",
): void {
  const t = resolve(table, type);
  try {
    switch (t.kind) {
      case "void":
        return;
      case "int":
        w.int(value);
        return;
      case "uint":
        w.uint(value);
        return;
      case "hyper":
        w.hyper(value);
        return;
      case "uhyper":
        w.uhyper(value);
        return;
      case "double":
        w.double(value);
        return;
      case "bool":
        w.bool(Boolean(value));
        return;
      case "string":
        if (typeof value !== "string") throw new XdrError("expected a string");
        w.string(value, t.max);
        return;
      case "opaque":
        if (t.fixed !== undefined) w.fixedOpaque(value, t.fixed);
        else w.opaque(value, t.max);
        return;
      case "array": {
        if (!Array.isArray(value)) throw new XdrError("expected an array");
        if (t.fixed !== undefined) {
          if (value.length !== t.fixed) throw new XdrError(`expected ${t.fixed} elements`);
        } else {
          if (t.max !== undefined && value.length > t.max)
            throw new XdrError(`more than ${t.max} elements`);
          w.uint(value.length);
        }
        value.forEach((item, i) => encodeValue(table, t.of, item, w, `${path}[${i}]`));
        return;
      }
      case "optional":
        if (value === null || value === undefined) {
          w.uint(0);
        } else {
          w.uint(1);
          encodeValue(table, t.of, value, w, path);
        }
        return;
      case "struct":
        if (value === null || typeof value !== "object") throw new XdrError("expected an object");
        for (const [name, fieldType] of t.fields)
          encodeValue(table, fieldType, value[name], w, `${path}.${name}`);
        return;
      case "union": {
        const discriminant = value?.[t.discriminant];
        w.int(discriminant);
        const [armName, armType] = unionArm(t, discriminant);
        if (armName !== null) encodeValue(table, armType, value[armName], w, `${path}.${armName}`);
        return;
      }
    }
  } catch (err) {
    if (err instanceof XdrError && !err.message.startsWith("at "))
      throw new XdrError(`at ${path}: ${err.message}`);
    throw err;
  }
}

export function decodeValue(table: TypeTable, type: XdrType, r: XdrReader): any {
  const t = resolve(table, type);
  switch (t.kind) {
    case "void":
      return undefined;
    case "int":
      return r.int();
    case "uint":
      return r.uint();
    case "hyper":
      return r.hyper();
    case "uhyper":
      return r.uhyper();
    case "double":
      return r.double();
    case "bool":
      return r.bool();
    case "string":
      return r.string(t.max);
    case "opaque":
      return t.fixed !== undefined ? r.fixedOpaque(t.fixed) : r.opaque(t.max);
    case "array": {
      const length = t.fixed ?? r.uint();
      if (t.max !== undefined && length > t.max)
        throw new XdrError(`array of ${length} exceeds ${t.max}`);
      const items = [];
      for (let i = 0; i < length; i++) items.push(decodeValue(table, t.of, r));
      return items;
    }
    case "optional":
      return r.uint() ? decodeValue(table, t.of, r) : null;
    case "struct": {
      const out: Record<string, any> = {};
      for (const [name, fieldType] of t.fields) out[name] = decodeValue(table, fieldType, r);
      return out;
    }
    case "union": {
      const discriminant = r.int();
      const [armName, armType] = unionArm(t, discriminant);
      const out: Record<string, any> = { [t.discriminant]: discriminant };
      if (armName !== null) out[armName] = decodeValue(table, armType, r);
      return out;
    }
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export function encode(table: TypeTable, typeName: string, value: unknown): Buffer {
  const w = new XdrWriter();
  encodeValue(table, { kind: "ref", name: typeName }, value, w, typeName);
  return w.toBuffer();
}

export function decode<T>(table: TypeTable, typeName: string, data: Buffer): T {
  const r = new XdrReader(data);
  const value = decodeValue(table, { kind: "ref", name: typeName }, r) as T;
  if (r.remaining !== 0) throw new XdrError(`${r.remaining} trailing bytes after ${typeName}`);
  return value;
}
