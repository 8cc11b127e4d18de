// Errors the resource controllers raise for what cannot be done as asked (the server maps them to
// FAILED_PRECONDITION): kept apart so every controller can raise them without importing another.
export class PlacementBlockedError extends Error {}
