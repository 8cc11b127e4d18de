// Pulumi's wire conventions inside protobuf Structs: secrets are wrapped in a signature object,
// unknown values (during preview) are a sentinel string.
import { specialSecretSig, specialSigKey, unknownValue } from "@pulumi/pulumi/runtime/rpc";
import type { Plain, Props } from "../resources/controller";

export type { Plain } from "../resources/controller";

export const SECRET_SIG_KEY = specialSigKey;
const SECRET_SIG = specialSecretSig;
export const UNKNOWN = unknownValue;

function isSecret(v: unknown): v is { value: Plain } {
  return (
    !!v &&
    typeof v === "object" &&
    !Array.isArray(v) &&
    (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG
  );
}

export type Unwrapped = Props;

function strip(v: unknown, found: { secret: boolean; unknown: boolean }): Plain {
  if (isSecret(v)) {
    found.secret = true;
    return strip(v.value, found);
  }
  if (v === UNKNOWN) {
    found.unknown = true;
    return null;
  }
  if (Array.isArray(v)) return v.map((x) => strip(x, found));
  if (v && typeof v === "object") {
    const out: Record<string, Plain> = {};
    for (const [k, x] of Object.entries(v)) out[k] = strip(x, found);
    return out;
  }
  return (v ?? null) as Plain;
}

/** Plain values of a property map, with which top-level properties were secret or unknown. */
export function unwrapProperties(props: Record<string, unknown> | undefined): Unwrapped {
  const value: Record<string, Plain> = {};
  const secrets = new Set<string>();
  const unknowns = new Set<string>();
  for (const [k, v] of Object.entries(props ?? {})) {
    const found = { secret: false, unknown: false };
    value[k] = strip(v, found);
    if (found.secret) secrets.add(k);
    if (found.unknown) unknowns.add(k);
  }
  return { value, secrets, unknowns };
}

export function secret(value: Plain): Record<string, Plain> {
  return { [SECRET_SIG_KEY]: SECRET_SIG, value };
}

/** Wraps the named top-level properties as secrets (a value not known yet stays as it is). */
export function wrapSecrets(
  props: Record<string, Plain>,
  names: Iterable<string>,
): Record<string, Plain> {
  const out = { ...props };
  for (const n of names)
    if (n in out && out[n] !== null && out[n] !== undefined && out[n] !== UNKNOWN)
      out[n] = secret(out[n]);
  return out;
}

/** Removes undefined values, which protobuf Structs cannot carry. */
export function compact<T extends Record<string, unknown>>(o: T): Record<string, Plain> {
  return JSON.parse(JSON.stringify(o)) as Record<string, Plain>;
}

/**
 * Wraps the value at `path` (nested object keys) as a secret, in plain or wire form: left alone
 * where it is absent, null, unknown, or inside something that is a secret already.
 */
export function wrapSecretAt<T>(props: T, path: string[]): T {
  if (
    !path.length ||
    isSecret(props) ||
    !props ||
    typeof props !== "object" ||
    Array.isArray(props)
  )
    return props;
  const [key, ...rest] = path;
  const obj = props as Record<string, unknown>;
  const v = obj[key];
  if (v === undefined || v === null || v === UNKNOWN || isSecret(v)) return props;
  return {
    ...obj,
    [key]: rest.length ? wrapSecretAt(v, rest) : secret(v as Plain),
  } as T;
}
