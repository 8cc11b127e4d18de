// Ownership markers: an empty volume beside each volume the engine creates, named after it and
// the domain's UUID. Pure naming, shared by the planner (finding leftovers) and the executor.
const MARKER_INFIX = ".vmplacement-";

export function ownerMarkerName(volume: string, domainUuid: string): string {
  return `${volume}${MARKER_INFIX}${domainUuid}`;
}

/** The volume a marker stands for, when `name` is a marker of this domain's. */
export function markedVolume(name: string, domainUuid: string): string | undefined {
  const suffix = `${MARKER_INFIX}${domainUuid}`;
  return name.endsWith(suffix) && name.length > suffix.length
    ? name.slice(0, -suffix.length)
    : undefined;
}
