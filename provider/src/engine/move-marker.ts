// The move marker: a note the engine writes into the domain's own definition (libvirt metadata,
// our namespace) before the first step of a move that can stop the VM or give it a second
// definition, and removes once the move settled. It travels with every copy the move makes (the
// offline move's target definition, a live migration's target), so whatever interrupts the
// move (a cancel cut short, the provider killed, a daemon restarted) the next run finds, on the
// hosts themselves, whether the move stopped the VM, where it was going, and which definitions
// the move made. The Pulumi state cannot hold this: a provider gets no say in the state while an
// operation runs, and a killed one none at all.
// Pure: building and reading the note. Writing it is the executor's (interrupted-move.ts).
import { buildXml, element } from "./xml";

/** Our metadata namespace (libvirt keeps one element per namespace). */
export const MOVE_MARKER_NS = "https://github.com/vmplacement/vmplacement/xmlns/move/1";
/** The prefix libvirt writes the element with. */
export const MOVE_MARKER_KEY = "vmplacement";

export interface MoveMarker {
  /** One move: every copy it made carries the same id. */
  id: string;
  from: string;
  to: string;
  mode: string;
  /**
   * The move stops the VM (it ran, and an offline move shuts it down): it must run when the move
   * ends. Set right before the shutdown; a VM that stops by itself during a move (its guest powered
   * off, its QEMU killed) is not the move's to restart.
   */
  stops: boolean;
  /** When the move began (ISO 8601). */
  since: string;
}

/** The marker's attributes, in a fixed order. */
export function moveMarkerAttributes(m: MoveMarker): Record<string, string> {
  return {
    id: m.id,
    from: m.from,
    to: m.to,
    mode: m.mode,
    stops: m.stops ? "yes" : "no",
    since: m.since,
  };
}

/** The element libvirt stores (virDomainSetMetadata takes it without the namespace prefix). */
export function moveMarkerElement(m: MoveMarker): string {
  return buildXml([element("move", moveMarkerAttributes(m))]);
}

/**
 * The marker among a domain's <metadata> children, as the unordered parser gives them (tag ->
 * node, attributes as "@_name"); undefined when there is none or it is not ours.
 */
export function moveMarkerOf(
  metadata: Record<string, unknown> | undefined,
): MoveMarker | undefined {
  if (!metadata) return undefined;
  for (const [tag, value] of Object.entries(metadata)) {
    const node = (Array.isArray(value) ? value[0] : value) as Record<string, unknown> | undefined;
    if (!node || typeof node !== "object" || !tag.endsWith(":move")) continue;
    const prefix = tag.slice(0, -":move".length);
    if (node[`@_xmlns:${prefix}`] !== MOVE_MARKER_NS) continue;
    const get = (name: string) => {
      const v = node[`@_${name}`];
      return typeof v === "string" ? v : "";
    };
    if (!get("id") || !get("from") || !get("to")) continue;
    return {
      id: get("id"),
      from: get("from"),
      to: get("to"),
      mode: get("mode"),
      stops: get("stops") === "yes",
      since: get("since"),
    };
  }
  return undefined;
}
