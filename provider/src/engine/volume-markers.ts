// Ownership markers: empty volumes beside the volumes a move touches, named after the volume and
// the domain's UUID, so a later run (even after this process was killed) knows what is whose.
// - "created": the engine created this volume on a target; unused, it is a leftover to remove.
// - "moving": this source volume is being moved away; once the domain runs elsewhere (the move
//   finished without us), it is the old copy the policy says to remove.
// Pure naming, shared by the planner (finding leftovers) and the executor (writing markers).
const PREFIX = ".vmplacement-";
const MOVING = "moving-";

export type MarkerKind = "created" | "moving";

export function ownerMarkerName(volume: string, domainUuid: string): string {
  return `${volume}${PREFIX}${domainUuid}`;
}

export function movingMarkerName(volume: string, domainUuid: string): string {
  return `${volume}${PREFIX}${MOVING}${domainUuid}`;
}

/** The volume a marker stands for and its kind, when `name` is a marker of this domain's. */
export function parseMarker(
  name: string,
  domainUuid: string,
): { volume: string; kind: MarkerKind } | undefined {
  for (const [kind, suffix] of [
    ["moving", `${PREFIX}${MOVING}${domainUuid}`],
    ["created", `${PREFIX}${domainUuid}`],
  ] as const) {
    if (name.endsWith(suffix) && name.length > suffix.length)
      return { volume: name.slice(0, -suffix.length), kind };
  }
  return undefined;
}
