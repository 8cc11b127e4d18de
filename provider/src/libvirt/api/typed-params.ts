// virTypedParameter lists: libvirt's name → typed value pairs (migration parameters, job stats).
import type { remote_typed_param } from "../protocol/remote-protocol.gen";
import { virTypedParameterType as T } from "./constants.gen";

export type TypedParamValue = number | bigint | boolean | string;

export type TypedParamSpec =
  | { name: string; type: "int" | "uint" | "double"; value: number }
  | { name: string; type: "llong" | "ullong"; value: number | bigint }
  | { name: string; type: "boolean"; value: boolean }
  | { name: string; type: "string"; value: string };

export function encodeTypedParams(specs: TypedParamSpec[]): remote_typed_param[] {
  return specs.map((p): remote_typed_param => {
    switch (p.type) {
      case "int":
        return { field: p.name, value: { type: T.VIR_TYPED_PARAM_INT, i: p.value } };
      case "uint":
        return { field: p.name, value: { type: T.VIR_TYPED_PARAM_UINT, ui: p.value } };
      case "double":
        return { field: p.name, value: { type: T.VIR_TYPED_PARAM_DOUBLE, d: p.value } };
      case "llong":
        return { field: p.name, value: { type: T.VIR_TYPED_PARAM_LLONG, l: BigInt(p.value) } };
      case "ullong":
        return { field: p.name, value: { type: T.VIR_TYPED_PARAM_ULLONG, ul: BigInt(p.value) } };
      case "boolean":
        return { field: p.name, value: { type: T.VIR_TYPED_PARAM_BOOLEAN, b: p.value ? 1 : 0 } };
      case "string":
        return { field: p.name, value: { type: T.VIR_TYPED_PARAM_STRING, s: p.value } };
    }
  });
}

function valueOf(p: remote_typed_param): TypedParamValue {
  const v = p.value;
  switch (v.type) {
    case 1:
      return v.i;
    case 2:
      return v.ui;
    case 3:
      return v.l;
    case 4:
      return v.ul;
    case 5:
      return v.d;
    case 6:
      return v.b !== 0;
    case 7:
      return v.s;
  }
}

/** Decodes to name → value; a name that repeats (e.g. migrate_disks) keeps its last value. */
export function decodeTypedParams(params: remote_typed_param[]): Record<string, TypedParamValue> {
  const out: Record<string, TypedParamValue> = {};
  for (const p of params) out[p.field] = valueOf(p);
  return out;
}

/** Byte counts and durations arrive as 64-bit integers; they fit a JS number for any real VM. */
export function toNumber(v: TypedParamValue | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number") return v;
  return undefined;
}
