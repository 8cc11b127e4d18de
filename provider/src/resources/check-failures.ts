// Check failures: the property path as users write it (a.b[0].c), and a reason that names the
// property, the value given and what to do. Inputs are checked against a zod schema; zod's own
// wording never reaches users: each issue is told from its code, the value and the field's entry
// in a field guide (what the field is, an example, advice for a particular problem).
import type { z } from "zod";

export interface CheckFailure {
  property: string;
  reason: string;
}

/** What a field is and how to give it; `advice` replaces the generic fix for one kind of problem. */
export interface FieldEntry {
  /** What the field holds, as the fix says it: "the host's libvirt URI". */
  is: string;
  example?: string;
  advice?: Partial<Record<"too_small" | "too_big" | "invalid_value" | "invalid_type", string>>;
}

/** Field entries by path, array indices written as [] ("hosts[].uri"); "" is the whole input. */
export type FieldGuide = Record<string, FieldEntry>;

export interface CheckOptions {
  /** Where the checked value sits in the inputs ("policy"): put before every property path. */
  at?: string;
  /** Put before every property in messages ("vmplacement:" for provider configuration). */
  prefix?: string;
  /** How a missing value is set, by property path (the config command for a config key). */
  howToSet?: (property: string) => string | undefined;
}

/** Checks `data` against `schema`: the parsed value, or failures told from the field guide. */
export function checkInputs<T>(
  schema: z.ZodType<T>,
  data: unknown,
  guide: FieldGuide,
  options: CheckOptions = {},
): { data?: T; failures: CheckFailure[] } {
  const parsed = schema.safeParse(data, { reportInput: true });
  if (parsed.success) return { data: parsed.data, failures: [] };
  return { failures: parsed.error.issues.flatMap((i) => failuresOf(i, guide, options)) };
}

type Issue = z.core.$ZodIssue & { input?: unknown };

function failuresOf(issue: Issue, guide: FieldGuide, options: CheckOptions): CheckFailure[] {
  const at = options.at ? [options.at] : [];
  if (issue.code === "unrecognized_keys") {
    const known = [
      ...new Set(
        Object.keys(guide)
          .filter((p) => parentOf(p) === guidePath(issue.path))
          .map((p) => p.slice(p.lastIndexOf(".") + 1).replace(/\[\]$/, "")),
      ),
    ];
    return issue.keys.map((key) => {
      const property = pathText([...at, ...issue.path, key]);
      const near = nearest(key, known);
      return {
        property,
        reason: `${shownProperty(property, options)} is not a property here${near ? `; did you mean ${near}?` : ""} Known properties: ${known.join(", ")}`,
      };
    });
  }
  const property = pathText([...at, ...issue.path]);
  const entry = entryFor(guide, issue.path);
  const { problem, code } = problemOf(issue);
  const missing = issue.code === "invalid_type" && issue.input === undefined;
  const fix =
    (code && entry?.advice?.[code]) ??
    (entry
      ? `give ${entry.is}${entry.example ? `, e.g. ${entry.example}` : ""}`
      : "see the schema's description of it");
  const setIt = missing ? options.howToSet?.(property) : undefined;
  return [
    {
      property: property || "(inputs)",
      reason: `${shownProperty(property, options)} ${problem}: ${fix}${setIt ? `. Set it with: ${setIt}` : ""}`,
    },
  ];
}

/** The problem in words, with the value given; the issue code the guide's advice is keyed by. */
function problemOf(issue: Issue): {
  problem: string;
  code?: keyof NonNullable<FieldEntry["advice"]>;
} {
  const value = shownValue(issue.input);
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return { problem: "is not set", code: "invalid_type" };
      if (issue.expected === "int")
        return { problem: `is ${value}, not a whole number`, code: "invalid_type" };
      return { problem: `is ${value}, not ${kindOf(issue.expected)}`, code: "invalid_type" };
    case "too_small":
      return { problem: tooSmall(issue, value), code: "too_small" };
    case "too_big":
      return { problem: tooBig(issue, value), code: "too_big" };
    case "invalid_value":
      return {
        problem: `is ${value}, not one of ${issue.values.map((v) => String(v)).join(", ")}`,
        code: "invalid_value",
      };
    case "invalid_format":
      return {
        problem: `is ${value}, not a valid ${issue.format === "url" ? "URL" : issue.format}`,
      };
    default:
      return { problem: `is ${value}: ${issue.message}` };
  }
}

function tooSmall(issue: Extract<Issue, { code: "too_small" }>, value: string): string {
  const min = Number(issue.minimum);
  if (issue.origin === "string")
    return min <= 1 ? "is empty" : `is ${value}, shorter than ${min} characters`;
  if (issue.origin === "array" || issue.origin === "set")
    return min <= 1 ? "is an empty list" : `lists ${countOf(issue.input)}, fewer than ${min}`;
  return `is ${value}, below the least allowed, ${min}`;
}

function tooBig(issue: Extract<Issue, { code: "too_big" }>, value: string): string {
  const max = Number(issue.maximum);
  if (issue.origin === "string") return `is ${value}, longer than ${max} characters`;
  if (issue.origin === "array" || issue.origin === "set")
    return `lists ${countOf(issue.input)}, more than ${max}`;
  return `is ${value}, above the most allowed, ${max}`;
}

function countOf(input: unknown): string {
  const n = Array.isArray(input) ? input.length : 0;
  return `${n} entr${n === 1 ? "y" : "ies"}`;
}

const KINDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  boolean: "true or false",
  array: "a list",
  object: "an object",
  record: "an object (a map of names to values)",
};

function kindOf(expected: string): string {
  return KINDS[expected] ?? expected;
}

/** The value as the user wrote it, short: strings quoted, objects as JSON, long ones cut. */
export function shownValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string")
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value !== "object") return String(value);
  const json = JSON.stringify(value);
  const kind = Array.isArray(value) ? "the list" : "the object";
  return json.length > 80 ? `${kind} ${json.slice(0, 77)}...` : `${kind} ${json}`;
}

function shownProperty(property: string, options: CheckOptions): string {
  return `${options.prefix ?? ""}${property || "the inputs"}`;
}

function pathText(path: PropertyKey[]): string {
  return path
    .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
    .join("")
    .replace(/^\./, "");
}

/** The path with array indices as [], the way the guide names fields. */
function guidePath(path: PropertyKey[]): string {
  return pathText(path).replace(/\[\d+\]/g, "[]");
}

/** The guide's entry for a path: exact, or through "*" standing for any name (a map's keys). */
export function entryFor(guide: FieldGuide, path: PropertyKey[]): FieldEntry | undefined {
  const key = guidePath(path);
  if (guide[key]) return guide[key];
  for (const [pattern, entry] of Object.entries(guide)) {
    if (!pattern.includes("*")) continue;
    const re = new RegExp(
      `^${pattern.replace(/[.[\]]/g, (c) => `\\${c}`).replace(/\*/g, "[^.\\[]+")}$`,
    );
    if (re.test(key)) return entry;
  }
  return undefined;
}

function parentOf(guideKey: string): string {
  const dot = guideKey.lastIndexOf(".");
  return dot < 0 ? "" : guideKey.slice(0, dot);
}

/** The known name closest to a misspelled one, when it is close enough to be meant. */
function nearest(name: string, known: string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const k of known) {
    const d =
      k.toLowerCase().startsWith(lower) || lower.startsWith(k.toLowerCase())
        ? 1
        : distance(lower, k.toLowerCase());
    if (!best || d < best.distance) best = { name: k, distance: d };
  }
  return best && best.distance <= Math.max(2, Math.floor(name.length / 3)) ? best.name : undefined;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** Failures as one line, for an error where a check failure cannot be returned. */
export function describeFailures(failures: CheckFailure[]): string {
  return failures.map((f) => f.reason).join("; ");
}
