// What to do about a move that was interrupted (pure): from the definitions of a domain the
// hosts hold and the move markers they carry, which copy is the VM, whether it must be started
// (it ran when the move began), and which definitions the move left behind. Only definitions the
// marker proves this provider's move made are ever touched; anything else stays a blocker for a
// human, as before.
import type { MoveMarker } from "./move-marker";

export interface DefinedCopy {
  host: string;
  running: boolean;
  marker?: MoveMarker;
}

export interface Recovery {
  domain: string;
  /** The copy that is the VM. */
  keep: string;
  /** It is shut off and ran when the move began: started (after its disks are checked). */
  start: boolean;
  /** Shut-off definitions the interrupted move left on other hosts: removed. */
  undefine: string[];
  marker: MoveMarker;
  /** What will be done and why, for the preview and the record. */
  summary: string;
}

export type RecoveryDecision =
  { kind: "none" } | { kind: "recover"; recovery: Recovery } | { kind: "blocked"; reason: string };

/**
 * `copies`: every host defining the domain, half-received incoming copies already left out.
 * `jobActive`: the running copy has a job (a move in progress elsewhere keeps its marker).
 */
export function decideRecovery(
  domain: string,
  copies: DefinedCopy[],
  jobActive = false,
): RecoveryDecision {
  const marked = copies.filter((c) => c.marker);
  if (!marked.length) return { kind: "none" };
  const marker = marked[0].marker!;
  const oneMove =
    marked.length === copies.length && marked.every((c) => c.marker!.id === marker.id);
  if (!oneMove)
    return {
      kind: "blocked",
      reason: `the definitions of ${domain} on ${copies.map((c) => c.host).join(", ")} were not all made by one move of this provider, so none is removed`,
    };
  const running = copies.filter((c) => c.running);
  if (running.length > 1)
    return {
      kind: "blocked",
      reason: `${domain} runs on ${running.map((c) => c.host).join(" and ")}; nothing is touched`,
    };
  if (running.length === 1 && jobActive) return { kind: "none" };
  const began = `a move ${marker.from} -> ${marker.to} (${marker.mode}, begun ${marker.since})`;
  if (running.length === 1) {
    const keep = running[0].host;
    const undefine = copies.filter((c) => c.host !== keep).map((c) => c.host);
    return recover(
      domain,
      keep,
      false,
      undefine,
      marker,
      undefine.length
        ? `${domain} runs on ${keep}; remove the shut-off definition on ${undefine.join(", ")} that ${began} left when it was interrupted`
        : `${domain} runs on ${keep}; clear the note ${began} left when it was interrupted`,
    );
  }
  // Nothing runs. The target holds a definition only once the move's copy was complete (an
  // offline move defines it after the last byte; a live one persists it when it finishes).
  const onTarget = copies.find((c) => c.host === marker.to);
  const keep =
    copies.length > 1 && onTarget
      ? onTarget.host
      : (copies.find((c) => c.host === marker.from) ?? copies[0]).host;
  const undefine = copies.filter((c) => c.host !== keep).map((c) => c.host);
  const where =
    keep === marker.to && marker.to !== marker.from
      ? `on ${keep}, where the move's copy was complete`
      : `on ${keep}, where it was before the move`;
  const what = marker.stops
    ? `start ${domain} ${where} (it ran when ${began} shut it down and was interrupted; its disks are checked first)`
    : `keep ${domain} shut off ${where}: it stopped during ${began}, which did not stop it`;
  return recover(
    domain,
    keep,
    marker.stops,
    undefine,
    marker,
    what + (undefine.length ? `, and remove the definition on ${undefine.join(", ")}` : ""),
  );
}

function recover(
  domain: string,
  keep: string,
  start: boolean,
  undefine: string[],
  marker: MoveMarker,
  summary: string,
): RecoveryDecision {
  return { kind: "recover", recovery: { domain, keep, start, undefine, marker, summary } };
}
