// Diff as Pulumi's model has it: the old inputs (refreshed by Read when the resource asks for a
// refresh before update) against the new inputs, which the engine has already given the old
// values of every ignoreChanges path. Pure.

/** Pulumi's PropertyDiff kinds (provider.proto), by name. */
export type DiffKind =
  "add" | "add-replace" | "delete" | "delete-replace" | "update" | "update-replace";

export interface InputDiff {
  /** Changed top-level properties and how each changed. */
  changes: Map<string, DiffKind>;
  /** The properties among them whose change replaces the resource. */
  replaces: string[];
  /** Changed properties that are outputs (the state), not inputs. */
  fromState: string[];
}

const absent = (v: unknown) => v === undefined || v === null;
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Compares `keys` of the old and new inputs. A property whose new value is not known yet
 * (preview) counts as changed; one of `replaceOn` that changes replaces the resource.
 */
export function diffInputs(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  options: { keys: Iterable<string>; unknowns?: Set<string>; replaceOn?: string[] },
): InputDiff {
  const changes = new Map<string, DiffKind>();
  const replaceOn = new Set(options.replaceOn ?? []);
  for (const key of options.keys) {
    const unknown = options.unknowns?.has(key) ?? false;
    if (!unknown && same(olds[key], news[key])) continue;
    const base: "add" | "delete" | "update" =
      unknown || (!absent(olds[key]) && !absent(news[key]))
        ? "update"
        : absent(olds[key])
          ? "add"
          : "delete";
    changes.set(key, replaceOn.has(key) ? `${base}-replace` : base);
  }
  return {
    changes,
    replaces: [...changes.keys()].filter((k) => replaceOn.has(k)),
    fromState: [],
  };
}
